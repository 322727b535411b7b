//! Pool CIDRs: planning and provisioning (top-level, or carved from the source pool as an
//! allocation there, in the same transaction), deprovisioning (returning the space to the
//! source pool), usage, free space, and the inventory of every pool's usage.

use ipnet::IpNet;
use serde_json::json;

use super::allocations::{AllocationFields, AllocationSpec, Placement, PoolReads};
use super::port::{Now, StoredPool, StoredPoolCidr, Transaction};
use super::reservations::pool_cidr_name;
use super::rules::{check_family, found, refuse_unless_empty};
use super::{Backend, Engine, Tx};
use crate::ipam::cidr::private_use_range_overlapping;
use crate::ipam::{
    ula, AddressFamily, Block, Error, FreeBlockIndex, Inventory, ObjectKind, PoolCidr,
    PoolCidrInventory, PoolCidrRequest, PoolCidrUsage, PoolInventory, Result, ScopeKind, Tags,
};

/// Where a planned pool CIDR comes from.
enum CidrSource {
    /// A top-level pool's CIDR: its own space.
    TopLevel,
    /// A child pool's CIDR: an allocation in the source pool.
    Parent {
        parent: Box<StoredPool>,
        /// The free block to split, or `None` when a reservation already holds the target.
        free: Option<Block>,
    },
}

struct PoolCidrPlan {
    target: Block,
    source: CidrSource,
}

impl<T: Transaction> Tx<'_, T> {
    pub(super) fn pool_cidr(&self, id: &str) -> Result<StoredPoolCidr> {
        found(self.port.pool_cidr(id)?, ObjectKind::PoolCidr, id)
    }

    /// Runs every check of a pool CIDR and finds it. Writes nothing.
    fn plan_pool_cidr(
        &self,
        pool: &StoredPool,
        request: PoolCidrRequest,
        for_update: bool,
    ) -> Result<PoolCidrPlan> {
        let family = pool.family();
        if let PoolCidrRequest::Cidr(cidr) = request {
            check_family(&cidr, "cidr", family, &pool.pool.id)?;
            let scope = found(
                self.port.scope(&pool.pool.scope_id)?,
                ObjectKind::Scope,
                &pool.pool.scope_id,
            )?;
            if scope.kind == ScopeKind::Public {
                if let Some(range) = private_use_range_overlapping(&cidr) {
                    return Err(Error::PrivateSpaceInPublicScope { cidr, range });
                }
            }
        }
        match &pool.pool.source_pool_id {
            Some(source_id) => {
                let (netmask_length, cidr) = match request {
                    PoolCidrRequest::Cidr(cidr) => (None, Some(cidr)),
                    PoolCidrRequest::NetmaskLength(len) => (Some(len), None),
                };
                let name = pool_cidr_name(&pool.pool.id);
                let parent = if for_update {
                    self.expect_pool_reads(
                        source_id,
                        PoolReads {
                            reservation: netmask_length.map(|_| name.as_str()),
                            best_fit_len: netmask_length,
                            ..PoolReads::default()
                        },
                    );
                    self.pool_for_update(source_id)?
                } else {
                    self.pool(source_id)?
                };
                let spec = AllocationSpec {
                    netmask_length,
                    cidr,
                    disallowed: &[],
                    tags: None,
                    locale: None,
                };
                // a carve by length takes the space its plan reserved, when it is still held
                let reserved = match netmask_length {
                    Some(len) if for_update => self
                        .take_reservation(&parent, &name, None)?
                        .filter(|block| block.prefix_len == len),
                    _ => None,
                };
                let (free, target) = match reserved {
                    Some(block) => {
                        self.check_allocation(&parent, &spec)?;
                        (None, block)
                    }
                    None => {
                        let Placement { free, target } = self.plan_allocation(&parent, &spec)?;
                        (Some(free), target)
                    }
                };
                Ok(PoolCidrPlan {
                    target,
                    source: CidrSource::Parent {
                        parent: Box::new(parent),
                        free,
                    },
                })
            }
            None => {
                let cidr = match request {
                    PoolCidrRequest::Cidr(cidr) => cidr,
                    PoolCidrRequest::NetmaskLength(len) if family == AddressFamily::Ipv6 => {
                        self.generate_ula(pool, len)?
                    }
                    PoolCidrRequest::NetmaskLength(_) => {
                        return Err(Error::NoSourcePool {
                            pool_id: pool.pool.id.clone(),
                        })
                    }
                };
                // top-level CIDRs of one scope and family never overlap
                let target = Block::of(&cidr);
                let neighbour = self.port.top_level_cidr_at_or_before(
                    &pool.pool.scope_id,
                    family,
                    target.last(family),
                )?;
                if let Some((block, pool_id)) = neighbour {
                    if block.overlaps(&target, family) {
                        return Err(Error::Overlap {
                            cidr,
                            with_id: pool_id,
                            with_cidr: block.to_net(family),
                        });
                    }
                }
                Ok(PoolCidrPlan {
                    target,
                    source: CidrSource::TopLevel,
                })
            }
        }
    }

    /// A fresh RFC 4193 unique local prefix for a top-level IPv6 pool of a private scope: a
    /// random 40-bit global id in `fd00::/8` (a new /48), or the first block of `len` inside
    /// one; never overlapping a top-level CIDR of the scope.
    fn generate_ula(&self, pool: &StoredPool, len: u8) -> Result<IpNet> {
        let scope = self.scope(&pool.pool.scope_id)?;
        if scope.kind == ScopeKind::Public {
            return Err(Error::InvalidArgument {
                input: "netmask_length",
                message: format!(
                    "pool {} is in public scope {}, whose addresses are assigned to you, not generated; give the cidr you were assigned, or use a pool of a private scope for a generated unique local (ULA) prefix",
                    pool.pool.id, scope.id
                ),
            });
        }
        if !(48..=128).contains(&len) {
            return Err(Error::InvalidArgument {
                input: "netmask_length",
                message: format!(
                    "a generated unique local (ULA) prefix is a /48 or a block inside one, so netmask_length must be 48 to 128 (it is {len}); give an explicit cidr for a larger block"
                ),
            });
        }
        let family = AddressFamily::Ipv6;
        for _ in 0..16 {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| Error::Storage {
                message: format!("no randomness for a unique local prefix: {e}"),
            })?;
            let global_id = u64::from_be_bytes(bytes) & ((1 << 40) - 1);
            let target = Block {
                start: u128::from(ula::prefix(global_id).network()),
                prefix_len: len,
            };
            let neighbour = self.port.top_level_cidr_at_or_before(
                &pool.pool.scope_id,
                family,
                target.last(family),
            )?;
            if !neighbour.is_some_and(|(block, _)| block.overlaps(&target, family)) {
                return Ok(target.to_net(family));
            }
        }
        Err(Error::InvalidArgument {
            input: "netmask_length",
            message: format!(
                "scope {} has no room for a new unique local prefix: its provisioned cidrs cover the generated ones; give an explicit cidr",
                scope.id
            ),
        })
    }

    fn provision(&self, pool: &StoredPool, request: PoolCidrRequest) -> Result<PoolCidr> {
        let plan = self.plan_pool_cidr(pool, request, true)?;
        let family = pool.family();
        let cidr = plan.target.to_net(family);
        let id = self.port.mint_id("ipam-pool-cidr");
        let parent_allocation_id = match &plan.source {
            CidrSource::TopLevel => None,
            CidrSource::Parent { parent, free } => {
                let description = format!("cidr {cidr} of pool {}", pool.pool.id);
                let fields = AllocationFields {
                    name: None,
                    description: &description,
                    tags: &Tags::new(),
                    child_pool_cidr_id: Some(&id),
                    disallowed_cidrs: &[],
                };
                let allocation = match free {
                    Some(free) => self.commit_allocation(
                        parent,
                        Placement {
                            free: *free,
                            target: plan.target,
                        },
                        &fields,
                    )?,
                    None => self.write_allocation(parent, plan.target, &fields)?,
                };
                Some(allocation.id)
            }
        };
        let pool_cidr = PoolCidr {
            id,
            pool_id: pool.pool.id.clone(),
            cidr,
            parent_allocation_id,
            created_at: self.now.text.clone(),
        };
        self.port.insert_pool_cidr(pool, &pool_cidr)?;
        self.port.free_index(pool.key).insert(plan.target)?;
        self.audit(
            "provision",
            &pool_cidr.id,
            Some(cidr),
            json!({ "pool_id": pool.pool.id, "parent_allocation_id": pool_cidr.parent_allocation_id }),
        )?;
        Ok(pool_cidr)
    }

    /// Deprovisions a pool CIDR: refused while allocations or child-pool CIDRs lie in it,
    /// unless `cascade` (which releases and deprovisions those first); its space returns to
    /// the source pool.
    pub(super) fn deprovision(&self, id: &str, cascade: bool) -> Result<()> {
        let row = self.pool_cidr(id)?;
        self.port.lock_pool(row.pool_key)?;
        let family = row.family();
        let (first, last) = (row.block.start, row.block.last(family));
        let inside = self.port.allocations_between(row.pool_key, first, last)?;
        let (children, plain): (Vec<_>, Vec<_>) =
            inside.iter().partition(|a| a.child_pool_cidr_id.is_some());
        let describe = |id: &str, block: Block| format!("{id} {}", block.to_net(family));
        refuse_unless_empty(
            ObjectKind::PoolCidr,
            id,
            cascade,
            &[
                (
                    "allocation(s)",
                    plain.iter().map(|a| describe(&a.id, a.block)).collect(),
                ),
                (
                    "child-pool cidr(s)",
                    children
                        .iter()
                        .map(|a| {
                            describe(a.child_pool_cidr_id.as_deref().unwrap_or_default(), a.block)
                        })
                        .collect(),
                ),
            ],
        )?;
        for allocation in inside {
            match allocation.child_pool_cidr_id {
                // deprovisioning the child's CIDR releases this allocation
                Some(child_id) => self.deprovision(&child_id, true)?,
                None => {
                    self.port
                        .delete_allocation(row.pool_key, allocation.block)?;
                    self.port.append_audit(&self.record(
                        "release",
                        &allocation.id,
                        Some(allocation.block.to_net(family)),
                        Some(row.pool_key),
                        json!({ "pool_id": row.pool_cidr.pool_id, "reason": format!("cascade deprovision of {id}") }),
                    ))?;
                }
            }
        }
        self.drop_reservations_between(row.pool_key, first, last)?;
        self.port
            .delete_free_blocks_between(row.pool_key, first, last)?;
        self.port
            .delete_cooling_blocks_between(row.pool_key, first, last)?;
        self.port.delete_pool_cidr(id)?;
        if let Some(parent_allocation_id) = &row.pool_cidr.parent_allocation_id {
            let parent = self.allocation(parent_allocation_id)?;
            self.port.lock_pool(parent.pool_key)?;
            self.release_row(&parent, &format!("deprovision of {id}"))?;
        }
        self.audit(
            "deprovision",
            id,
            Some(row.pool_cidr.cidr),
            json!({ "pool_id": row.pool_cidr.pool_id }),
        )
    }

    /// A pool CIDR with its used and free space (blocks cooling down and held reservations
    /// count as used; `reserved` are the pool's held reservations' blocks).
    fn usage(
        &self,
        row: StoredPoolCidr,
        cooling: &[(Block, Now)],
        reserved: &[Block],
    ) -> Result<PoolCidrUsage> {
        let family = row.family();
        let reserved: u128 = reserved
            .iter()
            .filter(|block| row.block.contains(block, family))
            .map(|block| block.size(family))
            .fold(0, u128::saturating_add);
        let cooling: u128 = cooling
            .iter()
            .filter(|(block, _)| row.block.contains(block, family))
            .map(|(block, _)| block.size(family))
            .sum();
        let free: u128 = self
            .port
            .free_blocks_between(row.pool_key, row.block.start, row.block.last(family))?
            .iter()
            .map(|b| b.size(family))
            .sum::<u128>()
            .saturating_sub(cooling);
        let total = row.block.size(family);
        let used = total.saturating_sub(free);
        Ok(PoolCidrUsage {
            pool_cidr: row.pool_cidr,
            total_addresses: total,
            used_addresses: used,
            reserved_addresses: reserved,
            free_addresses: free,
            utilization_percent: used as f64 / total as f64 * 100.0,
        })
    }
}

impl<B: Backend> Engine<B> {
    /// Provisions a CIDR into a pool: explicit, or carved by netmask length from the source
    /// pool (the carve is an allocation in the source pool, in the same transaction).
    pub(crate) fn provision_pool_cidr(
        &self,
        pool_id: &str,
        request: PoolCidrRequest,
    ) -> Result<PoolCidr> {
        self.write(|tx| {
            let pool = tx.pool_for_update(pool_id)?;
            tx.provision(&pool, request)
        })
    }

    /// The CIDR `provision_pool_cidr` would provision now, or its exact error; writes nothing.
    pub(crate) fn preview_pool_cidr(
        &self,
        pool_id: &str,
        request: PoolCidrRequest,
    ) -> Result<IpNet> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            let plan = tx.plan_pool_cidr(&pool, request, false)?;
            Ok(plan.target.to_net(pool.family()))
        })
    }

    /// Reads a pool CIDR.
    pub(crate) fn get_pool_cidr(&self, id: &str) -> Result<PoolCidr> {
        self.read(|tx| Ok(tx.pool_cidr(id)?.pool_cidr))
    }

    /// Deprovisions a pool CIDR (see the `Store` trait).
    pub(crate) fn deprovision_pool_cidr(&self, id: &str, cascade: bool) -> Result<()> {
        self.write(|tx| tx.deprovision(id, cascade))
    }

    /// A pool's CIDRs in address order, with usage.
    pub(crate) fn list_pool_cidrs(&self, pool_id: &str) -> Result<Vec<PoolCidrUsage>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            let cooling = tx.cooling(&pool)?;
            let reserved = tx.reserved_blocks(&pool)?;
            tx.port
                .pool_cidrs_of(pool.key)?
                .into_iter()
                .map(|row| tx.usage(row, &cooling, &reserved))
                .collect()
        })
    }
    /// A pool's free space as aligned blocks (each a CIDR), in address order.
    pub(crate) fn free_blocks(&self, pool_id: &str) -> Result<Vec<IpNet>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            let family = pool.family();
            Ok(tx
                .port
                .free_blocks_between(pool.key, 0, u128::MAX)?
                .iter()
                .map(|block| block.to_net(family))
                .collect())
        })
    }

    /// Every IPAM, scope and pool with its CIDRs' usage and allocation counts, read in one
    /// transaction so that the figures agree with each other while writers go on.
    pub(crate) fn inventory(&self) -> Result<Inventory> {
        self.read(|tx| {
            let ipams = tx.port.ipams()?;
            let mut scopes = Vec::new();
            for ipam in &ipams {
                scopes.extend(tx.port.scopes_of(&ipam.id)?);
            }
            let mut pools = Vec::new();
            for stored in tx.port.pools()? {
                let cooling = tx.cooling(&stored)?;
                let reserved = tx.reserved_blocks(&stored)?;
                let mut cidrs = Vec::new();
                for row in tx.port.pool_cidrs_of(stored.key)? {
                    let allocation_count = tx.port.count_allocations_between(
                        row.pool_key,
                        row.block.start,
                        row.block.last(row.family()),
                    )?;
                    cidrs.push(PoolCidrInventory {
                        usage: tx.usage(row, &cooling, &reserved)?,
                        allocation_count,
                    });
                }
                pools.push(PoolInventory {
                    pool: stored.pool,
                    cidrs,
                });
            }
            Ok(Inventory {
                ipams,
                scopes,
                pools,
            })
        })
    }
}
