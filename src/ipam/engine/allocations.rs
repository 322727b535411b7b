//! Allocations: planning (every check, then best fit or the explicit CIDR), explaining what
//! holds a block, committing, releasing, reading (also those overlapping a CIDR) and updating.

use ipnet::IpNet;
use serde_json::json;

use super::port::{
    ExpectedRead, NewAllocation, Now, PoolKey, StoredAllocation, StoredPool, Transaction,
};
use super::rules::{check_family, found};
use super::{Backend, Engine, Tx};
use crate::ipam::allocator::{claim, find_best_fit, find_containing_free, release};
use crate::ipam::{
    check_pool_serves_locale, missing_required_tags, AddressFamily, Allocation, AllocationRequest,
    AllocationUpdate, Block, CooldownMode, CoolingBlock, Error, FreeBlockIndex, ObjectKind, Result,
    Tags, UtilizationWarning,
};

/// The inputs of one allocation, as an allocation and a pool-CIDR carve share them.
pub(super) struct AllocationSpec<'a> {
    pub(super) netmask_length: Option<u8>,
    pub(super) cidr: Option<IpNet>,
    pub(super) disallowed: &'a [IpNet],
    /// The allocation's tags, checked against the pool's required tags; `None` for a child
    /// pool's CIDR, which carries no resource tags.
    pub(super) tags: Option<&'a Tags>,
    /// The locale the allocation is for, if it names one.
    pub(super) locale: Option<&'a str>,
}

impl<'a> AllocationSpec<'a> {
    pub(super) fn of(request: &'a AllocationRequest) -> AllocationSpec<'a> {
        AllocationSpec {
            netmask_length: request.netmask_length,
            cidr: request.cidr,
            disallowed: &request.disallowed_cidrs,
            tags: Some(&request.tags),
            locale: request.locale.as_deref(),
        }
    }
}

/// Where an allocation goes: the free block to split and the block taken from it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placement {
    pub(super) free: Block,
    pub(super) target: Block,
}

/// What a change of a pool's space reads under the pool's lock, announced before the pool is
/// read ([`Tx::expect_pool_reads`]): the best fit only when its prefix length is known before
/// the pool is read (given in the request, not the pool's default; no explicit CIDR).
#[derive(Default)]
pub(super) struct PoolReads<'a> {
    /// The live allocation of this name.
    pub(super) allocation_named: Option<&'a str>,
    /// The expired reservations (`sweep_expired`).
    pub(super) sweep: bool,
    /// The reservation of this name.
    pub(super) reservation: Option<&'a str>,
    /// The first best-fit look-up of this prefix length.
    pub(super) best_fit_len: Option<u8>,
}

impl<'a> PoolReads<'a> {
    /// What a named allocation or its plan's reservation reads: the live allocation and the
    /// reservation of `name`, the expired reservations, and the best fit of `best_fit_len`.
    pub(super) fn named(name: &'a str, best_fit_len: Option<u8>) -> PoolReads<'a> {
        PoolReads {
            allocation_named: Some(name),
            sweep: true,
            reservation: Some(name),
            best_fit_len,
        }
    }
}

/// What a new allocation carries besides its place.
pub(super) struct AllocationFields<'a> {
    pub(super) name: Option<&'a str>,
    pub(super) description: &'a str,
    pub(super) tags: &'a Tags,
    pub(super) child_pool_cidr_id: Option<&'a str>,
    pub(super) disallowed_cidrs: &'a [IpNet],
}

impl<T: Transaction> Tx<'_, T> {
    /// A pool by id.
    pub(super) fn pool(&self, id: &str) -> Result<StoredPool> {
        found(self.port.pool(id)?, ObjectKind::Pool, id)
    }

    /// A pool by id, locked for a change of its free space or allocations.
    pub(super) fn pool_for_update(&self, id: &str) -> Result<StoredPool> {
        let pool = self.pool(id)?;
        self.port.lock_pool(pool.key)?;
        Ok(pool)
    }

    /// An allocation by id.
    pub(super) fn allocation(&self, id: &str) -> Result<StoredAllocation> {
        found(self.port.allocation(id)?, ObjectKind::Allocation, id)
    }

    /// The CIDRs of a pool, for messages.
    pub(super) fn pool_cidr_nets(&self, pool: &StoredPool) -> Result<Vec<IpNet>> {
        Ok(self
            .port
            .pool_cidrs_of(pool.key)?
            .into_iter()
            .map(|c| c.pool_cidr.cidr)
            .collect())
    }

    /// The CIDR of a pool that contains `block`: `(pool CIDR id, its block)`.
    pub(super) fn containing_pool_cidr(
        &self,
        pool: PoolKey,
        family: AddressFamily,
        block: Block,
    ) -> Result<Option<(String, Block)>> {
        let hit = self.port.pool_cidr_at_or_before(pool, block.start)?;
        Ok(hit.filter(|(_, cidr)| cidr.contains(&block, family)))
    }

    /// The blocks of `pool` cooling down now, with the time each frees (none when the pool
    /// has no release cooldown).
    pub(super) fn cooling(&self, pool: &StoredPool) -> Result<Vec<(Block, Now)>> {
        if pool.pool.release_cooldown.is_none() {
            return Ok(Vec::new());
        }
        let family = pool.family();
        let mut cooling = Vec::new();
        for cidr in self.port.pool_cidrs_of(pool.key)? {
            let (first, last) = (cidr.block.start, cidr.block.last(family));
            cooling.extend(
                self.port
                    .cooling_blocks_between(pool.key, first, last)?
                    .into_iter()
                    .filter(|(_, until)| until.millis > self.now.millis),
            );
        }
        Ok(cooling)
    }

    /// Runs every check of an allocation and finds its place. Writes nothing.
    pub(super) fn plan_allocation(
        &self,
        pool: &StoredPool,
        spec: &AllocationSpec<'_>,
    ) -> Result<Placement> {
        let (len, disallowed) = self.check_allocation(pool, spec)?;
        self.place(pool, spec, len, &disallowed)
    }

    /// Runs every check of an allocation: its prefix length and the disallowed blocks.
    pub(super) fn check_allocation(
        &self,
        pool: &StoredPool,
        spec: &AllocationSpec<'_>,
    ) -> Result<(u8, Vec<Block>)> {
        let family = pool.family();
        let pool_id = &pool.pool.id;
        let (len, len_input) = match (spec.cidr, spec.netmask_length) {
            (Some(cidr), given) => {
                check_family(&cidr, "cidr", family, pool_id)?;
                if let Some(given) = given.filter(|&g| g != cidr.prefix_len()) {
                    return Err(Error::CidrLengthMismatch {
                        cidr,
                        netmask_length: given,
                    });
                }
                (cidr.prefix_len(), "cidr")
            }
            (None, Some(len)) => (len, "netmask_length"),
            (None, None) => match pool.pool.netmask.default {
                Some(len) => (len, "netmask_length"),
                None => {
                    return Err(Error::NoNetmaskLength {
                        pool_id: pool_id.clone(),
                    })
                }
            },
        };
        check_pool_serves_locale(&pool.pool, spec.locale)?;
        pool.pool.netmask.check(len, family, pool_id, len_input)?;
        if let Some(tags) = spec.tags {
            let missing = missing_required_tags(&pool.pool.allocation_resource_tags, tags);
            if !missing.is_empty() {
                return Err(Error::MissingRequiredTags {
                    pool_id: pool_id.clone(),
                    missing,
                });
            }
        }
        let mut disallowed = Vec::with_capacity(spec.disallowed.len());
        for net in spec.disallowed {
            check_family(net, "disallowed_cidrs", family, pool_id)?;
            disallowed.push(Block::of(net));
        }
        Ok((len, disallowed))
    }

    /// Finds the place of a checked allocation: the explicit CIDR, or the best fit.
    pub(super) fn place(
        &self,
        pool: &StoredPool,
        spec: &AllocationSpec<'_>,
        len: u8,
        disallowed: &[Block],
    ) -> Result<Placement> {
        let family = pool.family();
        let pool_id = &pool.pool.id;
        let cooling = self.cooling(pool)?;
        let strict = pool
            .pool
            .release_cooldown
            .is_some_and(|c| c.mode == CooldownMode::Strict);
        let mut index = self.port.free_index(pool.key);
        match spec.cidr {
            Some(cidr) => {
                let target = Block::of(&cidr);
                match find_containing_free(&mut index, family, target)? {
                    Some(free) => {
                        let cools = cooling.iter().find(|(b, _)| b.overlaps(&target, family));
                        match cools {
                            Some((block, until)) if strict => Err(Error::CoolingDown {
                                cidr,
                                cooling: block.to_net(family),
                                pool_id: pool_id.clone(),
                                frees_at: until.text.clone(),
                            }),
                            _ => Ok(Placement { free, target }),
                        }
                    }
                    None => Err(self.explain_taken(pool, cidr)?),
                }
            }
            None => match self.best_fit(&mut index, family, len, disallowed, &cooling, strict)? {
                Some((free, target)) => Ok(Placement { free, target }),
                None => Err(Error::Exhausted {
                    requested_len: len,
                    pool_id: pool_id.clone(),
                    pool_cidrs: self.pool_cidr_nets(pool)?,
                    largest_free: index.largest()?.map(|b| b.to_net(family)),
                    disallowed: spec.disallowed.to_vec(),
                }),
            },
        }
    }

    /// Best fit avoiding the disallowed blocks and the cooling ones; a soft cooldown takes a
    /// cooling block only when nothing else fits.
    fn best_fit(
        &self,
        index: &mut impl FreeBlockIndex,
        family: AddressFamily,
        len: u8,
        disallowed: &[Block],
        cooling: &[(Block, Now)],
        strict: bool,
    ) -> Result<Option<(Block, Block)>> {
        if cooling.is_empty() {
            return find_best_fit(index, family, len, disallowed);
        }
        let mut avoid = disallowed.to_vec();
        avoid.extend(cooling.iter().map(|(block, _)| *block));
        match find_best_fit(index, family, len, &avoid)? {
            None if !strict => find_best_fit(index, family, len, disallowed),
            found => Ok(found),
        }
    }

    /// Why an explicit CIDR is not free: outside the pool, or who holds it.
    pub(super) fn explain_taken(&self, pool: &StoredPool, cidr: IpNet) -> Result<Error> {
        let family = pool.family();
        let target = Block::of(&cidr);
        if self
            .containing_pool_cidr(pool.key, family, target)?
            .is_none()
        {
            return Ok(Error::OutsidePool {
                cidr,
                pool_id: pool.pool.id.clone(),
                pool_cidrs: self.pool_cidr_nets(pool)?,
            });
        }
        match self
            .port
            .allocation_at_or_before(pool.key, target.last(family))?
        {
            Some(holder) if holder.block.overlaps(&target, family) => {
                // a child pool's CIDR is named by its pool, the object users know
                let with_id = match holder.child_pool_cidr_id {
                    Some(pool_cidr_id) => {
                        found(
                            self.port.pool_cidr(&pool_cidr_id)?,
                            ObjectKind::PoolCidr,
                            &pool_cidr_id,
                        )?
                        .pool_cidr
                        .pool_id
                    }
                    None => holder.id,
                };
                Ok(Error::Overlap {
                    cidr,
                    with_id,
                    with_cidr: holder.block.to_net(family),
                })
            }
            _ => self.explain_reserved(pool, cidr),
        }
    }

    /// Why an explicit CIDR that no allocation holds is not free: another plan's reservation.
    fn explain_reserved(&self, pool: &StoredPool, cidr: IpNet) -> Result<Error> {
        let family = pool.family();
        let target = Block::of(&cidr);
        match self
            .port
            .held_reservation_at_or_before(pool.key, target.last(family))?
        {
            Some(held) if held.block.overlaps(&target, family) => Ok(Error::Overlap {
                cidr,
                with_id: super::reservations::holder_name(&held.name),
                with_cidr: held.block.to_net(family),
            }),
            _ => Ok(Error::Storage {
                message: format!(
                    "the free-space index of pool {} disagrees with its allocations at {cidr}; run a consistency check",
                    pool.pool.id
                ),
            }),
        }
    }

    /// The plan's warning when `placement` pushes `pool` past its utilization warning
    /// threshold: utilization before and after, and the largest free block left after it.
    fn utilization_warning(
        &self,
        pool: &StoredPool,
        placement: Placement,
    ) -> Result<Option<UtilizationWarning>> {
        if pool.pool.utilization_warning_threshold.is_none() {
            return Ok(None);
        }
        let family = pool.family();
        let cidrs = self.port.pool_cidrs_of(pool.key)?;
        let mut free_after = Vec::new();
        for cidr in &cidrs {
            let (first, last) = (cidr.block.start, cidr.block.last(family));
            free_after.extend(self.port.free_blocks_between(pool.key, first, last)?);
        }
        let total: u128 = cidrs.iter().map(|c| c.block.size(family)).sum();
        let cooling: u128 = self
            .cooling(pool)?
            .iter()
            .map(|(b, _)| b.size(family))
            .sum();
        let free: u128 = free_after
            .iter()
            .map(|b| b.size(family))
            .sum::<u128>()
            .saturating_sub(cooling);
        let used = total.saturating_sub(free);
        let added = placement.target.size(family);
        let Some((threshold, before_percent, after_percent)) =
            UtilizationWarning::crossing(&pool.pool, total, used, added)
        else {
            return Ok(None);
        };
        // the split leaves one half of each level between the free block and the target
        free_after.retain(|b| *b != placement.free);
        let mut block = placement.target;
        while block.prefix_len > placement.free.prefix_len {
            free_after.extend(block.buddy(family));
            match block.parent(family) {
                Some(parent) => block = parent,
                None => break,
            }
        }
        let largest_free = free_after
            .iter()
            .min_by_key(|b| (b.prefix_len, b.start))
            .map(|b| b.to_net(family));
        Ok(Some(UtilizationWarning {
            pool_id: pool.pool.id.clone(),
            pool_cidrs: cidrs.iter().map(|c| c.pool_cidr.cidr).collect(),
            threshold,
            before_percent,
            after_percent,
            largest_free,
        }))
    }

    /// Takes the planned block out of the free space and writes the allocation with its
    /// `allocate` event.
    pub(super) fn commit_allocation(
        &self,
        pool: &StoredPool,
        placement: Placement,
        fields: &AllocationFields<'_>,
    ) -> Result<Allocation> {
        let Placement { free, target } = placement;
        self.take_block(pool, free, target)?;
        self.write_allocation(pool, target, fields)
    }

    /// Takes `target` (inside the free block `free`) out of the free space; a cooling block
    /// handed out again (soft mode) stops cooling.
    pub(super) fn take_block(&self, pool: &StoredPool, free: Block, target: Block) -> Result<()> {
        let family = pool.family();
        claim(&mut self.port.free_index(pool.key), family, free, target)?;
        if pool.pool.release_cooldown.is_some() {
            for (block, _) in self.cooling(pool)? {
                if block.overlaps(&target, family) {
                    self.port
                        .delete_cooling_blocks_between(pool.key, block.start, block.start)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the allocation of a block already out of the free space, with its `allocate`
    /// event.
    pub(super) fn write_allocation(
        &self,
        pool: &StoredPool,
        target: Block,
        fields: &AllocationFields<'_>,
    ) -> Result<Allocation> {
        let family = pool.family();
        let cidr = target.to_net(family);
        let details = match fields.child_pool_cidr_id {
            Some(child) => json!({ "pool_id": pool.pool.id, "child_pool_cidr_id": child }),
            None => json!({ "pool_id": pool.pool.id }),
        };
        let id = self.port.insert_allocation(&NewAllocation {
            pool_key: pool.key,
            block: target,
            name: fields.name,
            description: fields.description,
            tags: fields.tags,
            child_pool_cidr_id: fields.child_pool_cidr_id,
            disallowed_cidrs: fields.disallowed_cidrs,
            event: self.record("allocate", "", Some(cidr), Some(pool.key), details),
        })?;
        Ok(Allocation {
            id,
            pool_id: pool.pool.id.clone(),
            cidr,
            name: fields.name.map(str::to_string),
            description: fields.description.to_string(),
            tags: fields.tags.clone(),
            child_pool_cidr_id: fields.child_pool_cidr_id.map(str::to_string),
            disallowed_cidrs: fields.disallowed_cidrs.to_vec(),
            created_at: self.now.text.clone(),
            updated_at: self.now.text.clone(),
        })
    }

    /// Announces the reads a change of `pool_id`'s space starts with (see
    /// [`Transaction::expect`]): the pool, its lock, then under the lock what `reads` says, in
    /// this order.
    pub(super) fn expect_pool_reads(&self, pool_id: &str, reads: PoolReads<'_>) {
        let mut expected = vec![
            ExpectedRead::Pool { id: pool_id },
            ExpectedRead::PoolLock { pool_id },
        ];
        if let Some(name) = reads.allocation_named {
            expected.push(ExpectedRead::AllocationNamed { pool_id, name });
        }
        if reads.sweep {
            expected.push(ExpectedRead::ExpiredReservations {
                pool_id,
                now_millis: self.now.millis,
            });
        }
        if let Some(name) = reads.reservation {
            expected.push(ExpectedRead::Reservation { pool_id, name });
        }
        if let Some(max_len) = reads.best_fit_len {
            expected.push(ExpectedRead::BestFit { pool_id, max_len });
        }
        self.port.expect(&expected);
    }

    pub(super) fn allocate(&self, request: &AllocationRequest) -> Result<Allocation> {
        self.expect_pool_reads(
            &request.pool_id,
            PoolReads {
                sweep: true,
                best_fit_len: request.netmask_length.filter(|_| request.cidr.is_none()),
                ..PoolReads::default()
            },
        );
        let pool = self.pool_for_update(&request.pool_id)?;
        self.sweep_expired(&pool)?;
        let placement = self.plan_allocation(&pool, &AllocationSpec::of(request))?;
        self.commit_allocation(
            &pool,
            placement,
            &AllocationFields {
                name: None,
                description: &request.description,
                tags: &request.tags,
                child_pool_cidr_id: None,
                disallowed_cidrs: &request.disallowed_cidrs,
            },
        )
    }

    /// Deletes an allocation and returns its space to its pool (merging with free buddies up
    /// to the pool CIDR it lies in). The caller holds the pool's lock.
    pub(super) fn release_row(&self, row: &StoredAllocation, reason: &str) -> Result<()> {
        self.port.delete_allocation(row.pool_key, row.block)?;
        self.return_space(
            row.pool_key,
            row.family(),
            row.block,
            &format!("allocation {}", row.allocation.id),
        )?;
        self.port.append_audit(&self.record(
            "release",
            &row.allocation.id,
            Some(row.allocation.cidr),
            Some(row.pool_key),
            json!({ "pool_id": row.allocation.pool_id, "reason": reason }),
        ))
    }

    /// Returns a block to its pool's free space, merging with free buddies up to the pool
    /// CIDR it lies in. `what` names the holder for the message when it lies in none.
    pub(super) fn return_space(
        &self,
        pool: PoolKey,
        family: AddressFamily,
        block: Block,
        what: &str,
    ) -> Result<()> {
        let Some((_, pool_cidr)) = self.containing_pool_cidr(pool, family, block)? else {
            return Err(Error::Storage {
                message: format!(
                    "{what} ({}) lies in no cidr of its pool; run a consistency check",
                    block.to_net(family)
                ),
            });
        };
        release(
            &mut self.port.free_index(pool),
            family,
            block,
            pool_cidr.prefix_len,
        )
    }

    fn release_allocation(&self, id: &str) -> Result<()> {
        let row = self.allocation(id)?;
        if let Some(pool_cidr_id) = &row.allocation.child_pool_cidr_id {
            return Err(Error::BacksPoolCidr {
                allocation_id: id.to_string(),
                pool_cidr_id: pool_cidr_id.clone(),
            });
        }
        self.port.lock_pool(row.pool_key)?;
        self.release_row(&row, "released")?;
        let pool = self.pool(&row.allocation.pool_id)?;
        if let Some(cooldown) = pool.pool.release_cooldown {
            let family = row.family();
            let millis = i64::try_from(cooldown.seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
            self.port.delete_cooling_blocks_between(
                row.pool_key,
                row.block.start,
                row.block.last(family),
            )?;
            self.port.insert_cooling_block(
                row.pool_key,
                row.block,
                self.now.millis.saturating_add(millis),
            )?;
        }
        Ok(())
    }

    fn update_allocation(&self, id: &str, update: &AllocationUpdate) -> Result<Allocation> {
        let mut row = self.allocation(id)?;
        self.port.lock_pool(row.pool_key)?;
        if let Some(name) = &update.name {
            let renamed = name
                .as_deref()
                .filter(|&n| row.allocation.name.as_deref() != Some(n));
            if let Some(name) = renamed {
                let pool = self.pool(&row.allocation.pool_id)?;
                self.check_name_free(&pool, name)?;
            }
            row.allocation.name = name.clone();
        }
        if let Some(description) = &update.description {
            row.allocation.description = description.clone();
        }
        if let Some(tags) = &update.tags {
            let pool = self.pool(&row.allocation.pool_id)?;
            let missing = missing_required_tags(&pool.pool.allocation_resource_tags, tags);
            if !missing.is_empty() && row.allocation.child_pool_cidr_id.is_none() {
                return Err(Error::MissingRequiredTags {
                    pool_id: pool.pool.id,
                    missing,
                });
            }
            row.allocation.tags = tags.clone();
        }
        self.port.update_allocation(&row, self.now.millis)?;
        self.port.append_audit(&self.record(
            "update_allocation",
            id,
            Some(row.allocation.cidr),
            Some(row.pool_key),
            json!({ "name": row.allocation.name, "description": row.allocation.description, "tags": row.allocation.tags }),
        ))?;
        Ok(self.allocation(id)?.allocation)
    }
}

impl<B: Backend> Engine<B> {
    /// Allocates a CIDR (explicit, or best fit of a netmask length).
    pub(crate) fn allocate(&self, request: &AllocationRequest) -> Result<Allocation> {
        self.write(|tx| tx.allocate(request))
    }

    /// Allocates several CIDRs in one transaction: all or nothing.
    pub(crate) fn allocate_many(&self, requests: &[AllocationRequest]) -> Result<Vec<Allocation>> {
        self.write(|tx| {
            requests
                .iter()
                .map(|request| tx.allocate(request))
                .collect()
        })
    }

    /// The CIDR `allocate` would return now, or its exact error; writes nothing.
    /// When the space is taken and expired reservations hold some of it, their space is
    /// returned first (a write, skipped when the database cannot be written) and the preview
    /// runs again.
    pub(crate) fn preview_allocation(&self, request: &AllocationRequest) -> Result<IpNet> {
        let preview = || {
            self.read(|tx| {
                let pool = tx.pool(&request.pool_id)?;
                match tx.plan_allocation(&pool, &AllocationSpec::of(request)) {
                    Ok(placement) => Ok(Ok(placement.target.to_net(pool.family()))),
                    Err(error @ (Error::Exhausted { .. } | Error::Overlap { .. })) => {
                        let expired = tx.port.expired_reservations(pool.key, tx.now.millis)?;
                        Ok(Err((error, !expired.is_empty())))
                    }
                    Err(error) => Err(error),
                }
            })
        };
        match preview()? {
            Ok(cidr) => Ok(cidr),
            Err((_, true))
                if self
                    .write(|tx| tx.sweep_expired(&tx.pool_for_update(&request.pool_id)?))
                    .is_ok() =>
            {
                preview()?.map_err(|(error, _)| error)
            }
            Err((error, _)) => Err(error),
        }
    }

    /// Runs every check of `allocate` (its exact error) and returns the plan's warning when the
    /// allocation would push its pool past its utilization warning threshold; writes nothing.
    pub(crate) fn preview_allocation_warning(
        &self,
        request: &AllocationRequest,
    ) -> Result<Option<UtilizationWarning>> {
        self.read(|tx| {
            let pool = tx.pool(&request.pool_id)?;
            let placement = tx.plan_allocation(&pool, &AllocationSpec::of(request))?;
            tx.utilization_warning(&pool, placement)
        })
    }

    /// The blocks of a pool cooling down after their release, with the time each frees, in
    /// address order.
    pub(crate) fn list_cooling_blocks(&self, pool_id: &str) -> Result<Vec<CoolingBlock>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            Ok(tx
                .cooling(&pool)?
                .into_iter()
                .map(|(block, until)| CoolingBlock {
                    cidr: block.to_net(pool.family()),
                    frees_at: until.text,
                })
                .collect())
        })
    }

    /// Reads an allocation.
    pub(crate) fn get_allocation(&self, id: &str) -> Result<Allocation> {
        self.read(|tx| Ok(tx.allocation(id)?.allocation))
    }

    /// Changes description or tags (still carrying the pool's required tags).
    pub(crate) fn update_allocation(
        &self,
        id: &str,
        update: &AllocationUpdate,
    ) -> Result<Allocation> {
        self.write(|tx| tx.update_allocation(id, update))
    }

    /// Releases an allocation; refused for one that backs a child pool's CIDR.
    pub(crate) fn release_allocation(&self, id: &str) -> Result<()> {
        self.write(|tx| tx.release_allocation(id))
    }

    /// A pool's allocations (child-pool CIDRs included) in address order.
    pub(crate) fn list_allocations(&self, pool_id: &str) -> Result<Vec<Allocation>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            Ok(tx
                .port
                .allocations_of(pool.key)?
                .into_iter()
                .map(|row| row.allocation)
                .collect())
        })
    }
    /// A pool's allocations (child-pool CIDRs included) that overlap `cidr`, in address order,
    /// at most `limit`: the one holding it, or those lying inside it. None for a CIDR of the
    /// other family.
    pub(crate) fn allocations_overlapping(
        &self,
        pool_id: &str,
        cidr: IpNet,
        limit: usize,
    ) -> Result<Vec<Allocation>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            let family = pool.family();
            if AddressFamily::of(&cidr) != family || limit == 0 {
                return Ok(Vec::new());
            }
            let query = Block::of(&cidr);
            let last = query.last(family);
            let mut found = Vec::new();
            // allocations of a pool are disjoint: only the last one starting at or before the
            // query can reach into it from below
            if let Some(span) = tx.port.allocation_at_or_before(pool.key, query.start)? {
                if span.block.last(family) >= query.start {
                    if let Some(row) = tx.port.allocation(&span.id)? {
                        found.push(row.allocation);
                    }
                }
            }
            if let Some(first) = query.start.checked_add(1).filter(|f| *f <= last) {
                let rest = limit - found.len();
                let inside = tx
                    .port
                    .allocation_rows_between(pool.key, first, last, rest)?;
                found.extend(inside.into_iter().map(|row| row.allocation));
            }
            found.truncate(limit);
            Ok(found)
        })
    }
}
