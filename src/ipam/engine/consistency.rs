//! The consistency check: every invariant the rules keep, verified from the rows.

use super::port::{StoredPool, Transaction};
use super::{Backend, Engine, Tx};
use crate::ipam::{AddressFamily, Block, Result};

impl<T: Transaction> Tx<'_, T> {
    fn check_consistency(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let pools = self.port.pools()?;
        for pool in &pools {
            self.check_pool(pool, &mut problems)?;
        }
        for id in self.port.allocations_without_allocate_event()? {
            problems.push(format!("allocation {id} has no audit event"));
        }
        let pool_cidrs = self.port.all_pool_cidrs()?;
        for row in &pool_cidrs {
            let source = pools
                .iter()
                .find(|p| p.key == row.pool_key)
                .and_then(|p| p.pool.source_pool_id.clone());
            match (&row.pool_cidr.parent_allocation_id, source) {
                (None, None) => {}
                (Some(parent_id), Some(_)) => match self.port.allocation(parent_id)? {
                    Some(parent)
                        if parent.block == row.block
                            && parent.allocation.child_pool_cidr_id.as_deref()
                                == Some(&row.pool_cidr.id) => {}
                    _ => problems.push(format!(
                        "pool cidr {} has no matching parent allocation {parent_id}",
                        row.pool_cidr.id
                    )),
                },
                _ => problems.push(format!(
                    "pool cidr {} is half provisioned: parent allocation and source pool disagree",
                    row.pool_cidr.id
                )),
            }
        }
        // top-level pool cidrs of one scope and family never overlap
        let mut top: Vec<(String, AddressFamily, Block, String)> = pool_cidrs
            .iter()
            .filter(|r| r.pool_cidr.parent_allocation_id.is_none())
            .filter_map(|r| {
                pools.iter().find(|p| p.key == r.pool_key).map(|p| {
                    (
                        p.pool.scope_id.clone(),
                        r.family(),
                        r.block,
                        r.pool_cidr.id.clone(),
                    )
                })
            })
            .collect();
        top.sort();
        for pair in top.windows(2) {
            if pair[0].0 == pair[1].0
                && pair[0].1 == pair[1].1
                && pair[0].2.overlaps(&pair[1].2, pair[0].1)
            {
                problems.push(format!(
                    "top-level pool cidrs {} and {} overlap",
                    pair[0].3, pair[1].3
                ));
            }
        }
        Ok(problems)
    }

    /// One pool: allocations found by their ids, child-pool allocations backing existing pool
    /// CIDRs, allocations and free blocks inside the pool's CIDRs, disjoint, and together
    /// exactly the provisioned space.
    fn check_pool(&self, pool: &StoredPool, problems: &mut Vec<String>) -> Result<()> {
        let family = pool.family();
        let id = &pool.pool.id;
        let cidrs: Vec<Block> = self
            .port
            .pool_cidrs_of(pool.key)?
            .iter()
            .map(|c| c.block)
            .collect();
        let allocations = self.port.allocations_of(pool.key)?;
        let mut pieces: Vec<(Block, String)> = Vec::with_capacity(allocations.len());
        for row in allocations {
            let allocation_id = &row.allocation.id;
            match self.port.allocation(allocation_id)? {
                Some(found) if found.pool_key == pool.key && found.block == row.block => {}
                _ => problems.push(format!(
                    "pool {id}: allocation {allocation_id} ({}) is not found by its id",
                    row.allocation.cidr
                )),
            }
            if let Some(child) = &row.allocation.child_pool_cidr_id {
                if self.port.pool_cidr(child)?.is_none() {
                    problems.push(format!(
                        "allocation {allocation_id} backs pool cidr {child}, which does not exist"
                    ));
                }
            }
            pieces.push((row.block, row.allocation.id));
        }
        for held in self.port.reservations_of(pool.key)? {
            if !held.lost {
                pieces.push((held.block, format!("reservation {:?}", held.name)));
            }
        }
        let free = self.port.free_blocks_between(pool.key, 0, u128::MAX)?;
        pieces.extend(free.into_iter().map(|b| (b, "free block".to_string())));
        pieces.sort();
        let mut covered: u128 = 0;
        for (i, (block, what)) in pieces.iter().enumerate() {
            covered = covered.saturating_add(block.size(family));
            if !cidrs.iter().any(|c| c.contains(block, family)) {
                problems.push(format!(
                    "pool {id}: {what} {} lies outside its cidrs",
                    block.to_net(family)
                ));
            }
            if let Some((next, next_what)) = pieces.get(i + 1) {
                if block.overlaps(next, family) {
                    problems.push(format!(
                        "pool {id}: {what} {} overlaps {next_what} {}",
                        block.to_net(family),
                        next.to_net(family)
                    ));
                }
            }
        }
        let provisioned = cidrs
            .iter()
            .fold(0u128, |sum, c| sum.saturating_add(c.size(family)));
        if covered != provisioned {
            problems.push(format!(
                "pool {id}: free + used = {covered} addresses but {provisioned} are provisioned"
            ));
        }
        Ok(())
    }
}

impl<B: Backend> Engine<B> {
    /// Checks every invariant (containment, no overlap, free + used = provisioned, an audit
    /// event per allocation, every allocation found by its id, pool CIDRs and parent
    /// allocations matched, top-level CIDRs of a scope disjoint); returns the problems found,
    /// empty when consistent.
    pub(crate) fn check_consistency(&self) -> Result<Vec<String>> {
        self.read(|tx| tx.check_consistency())
    }
}
