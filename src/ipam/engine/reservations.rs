//! Reservations: the exact CIDR a plan shows for a named allocation (or for a child pool's
//! CIDR carved by length), held in the database from the plan to the apply.
//!
//! Lifecycle, keyed by `(pool, name)`:
//! - a plan creates the reservation (the best fit, taken out of the free space like an
//!   allocation) or reuses the one it finds and pushes its expiry forward;
//! - the apply-time plan finds it again (the same CIDR, so Terraform's final plan matches);
//! - the apply turns it into the allocation, in one transaction, without touching the free
//!   space again;
//! - once expired, the next plan or allocation in its pool returns its space to the free space
//!   and keeps a *lost* record: a later plan of the same name takes the same block again when
//!   it is still free, or fails once, naming the CIDR and who holds it now ("run terraform plan
//!   again"), and drops the record.

use std::time::Duration;

use ipnet::IpNet;
use serde_json::json;

use super::allocations::{AllocationFields, AllocationSpec, Placement, PoolReads};
use super::port::{PoolKey, StoredPool, StoredReservation, Transaction};
use super::{Backend, Engine, Tx};
use crate::ipam::allocator::find_containing_free;
use crate::ipam::{Allocation, AllocationRequest, Block, Error, Reservation, Result};
use crate::store::format_millis;

/// How long a reservation holds its space when the provider sets nothing: a day, so that a
/// plan can wait for review overnight; an abandoned plan frees its space after that.
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How messages name a reservation that holds space.
pub(super) fn holder_name(name: &str) -> String {
    format!("the reservation of {name:?} by a plan not yet applied")
}

/// The reservation name of a child pool's CIDR carved by length: it names itself by its pool.
pub(super) fn pool_cidr_name(pool_id: &str) -> String {
    format!("pool {pool_id}")
}

impl<T: Transaction> Tx<'_, T> {
    /// Refuses `name` when a live allocation of the pool has it.
    pub(super) fn check_name_free(&self, pool: &StoredPool, name: &str) -> Result<()> {
        match self.port.allocation_named(pool.key, name)? {
            Some(holder) => Err(Error::NameTaken {
                name: name.to_string(),
                pool_id: pool.pool.id.clone(),
                allocation_id: holder.id,
                cidr: holder.block.to_net(pool.family()),
            }),
            None => Ok(()),
        }
    }

    /// The blocks of the pool's held reservations (expired ones not yet swept included: they
    /// hold their space until then).
    pub(super) fn reserved_blocks(&self, pool: &StoredPool) -> Result<Vec<Block>> {
        Ok(self
            .port
            .reservations_of(pool.key)?
            .into_iter()
            .filter(|r| !r.lost)
            .map(|r| r.block)
            .collect())
    }

    /// Returns the space of the pool's expired reservations to its free space; each stays as
    /// a lost record. The caller holds the pool's lock.
    pub(super) fn sweep_expired(&self, pool: &StoredPool) -> Result<()> {
        for mut expired in self.port.expired_reservations(pool.key, self.now.millis)? {
            let what = format!("reservation {:?}", expired.name);
            self.return_space(pool.key, pool.family(), expired.block, &what)?;
            expired.lost = true;
            self.port.put_reservation(&expired)?;
            self.port.append_audit(&self.record(
                "reservation_expired",
                &expired.name,
                Some(expired.block.to_net(pool.family())),
                Some(pool.key),
                json!({ "pool_id": pool.pool.id }),
            ))?;
        }
        Ok(())
    }

    /// Creates, reuses or renews the reservation `(pool, name)` for an allocation by length.
    /// The outer error rolls back; the inner one (a lost reservation whose space is taken) is
    /// reported after the commit that drops the lost record, so the next plan starts afresh.
    fn reserve(
        &self,
        pool: &StoredPool,
        name: &str,
        spec: &AllocationSpec<'_>,
        ttl: Duration,
    ) -> Result<Result<IpNet>> {
        let family = pool.family();
        self.port.lock_pool(pool.key)?;
        self.sweep_expired(pool)?;
        let (len, disallowed) = self.check_allocation(pool, spec)?;
        let fits = |block: &Block| {
            block.prefix_len == len && !disallowed.iter().any(|d| d.overlaps(block, family))
        };
        let block = match self.port.reservation(pool.key, name)? {
            Some(held) if !held.lost && fits(&held.block) => held.block,
            Some(lost) if lost.lost && fits(&lost.block) => {
                let free =
                    find_containing_free(&mut self.port.free_index(pool.key), family, lost.block)?;
                match free {
                    Some(free) => {
                        self.take_block(pool, free, lost.block)?;
                        lost.block
                    }
                    None => {
                        let cidr = lost.block.to_net(family);
                        let error = match self.explain_taken(pool, cidr)? {
                            Error::Overlap {
                                with_id, with_cidr, ..
                            } => Error::StalePlan {
                                name: name.to_string(),
                                pool_id: pool.pool.id.clone(),
                                cidr,
                                holder: with_id,
                                holder_cidr: with_cidr,
                            },
                            other => other,
                        };
                        self.port.delete_reservation(pool.key, name)?;
                        return Ok(Err(error));
                    }
                }
            }
            other => {
                if let Some(old) = other.filter(|r| !r.lost) {
                    let what = format!("reservation {name:?}");
                    self.return_space(pool.key, family, old.block, &what)?;
                }
                let Placement { free, target } = self.place(pool, spec, len, &disallowed)?;
                self.take_block(pool, free, target)?;
                self.port.append_audit(&self.record(
                    "reserve",
                    name,
                    Some(target.to_net(family)),
                    Some(pool.key),
                    json!({ "pool_id": pool.pool.id }),
                ))?;
                target
            }
        };
        self.port.put_reservation(&StoredReservation {
            pool_key: pool.key,
            name: name.to_string(),
            block,
            expires_at_millis: self.now.millis.saturating_add(ttl_millis(ttl)),
            lost: false,
        })?;
        Ok(Ok(block.to_net(family)))
    }

    /// Takes the reservation `(pool, name)` when it holds `block` (or any block, when `block`
    /// is `None`): deletes the record and returns the block, still out of the free space. A
    /// reservation holding another block gives its space back.
    pub(super) fn take_reservation(
        &self,
        pool: &StoredPool,
        name: &str,
        block: Option<Block>,
    ) -> Result<Option<Block>> {
        let Some(found) = self.port.reservation(pool.key, name)? else {
            return Ok(None);
        };
        self.port.delete_reservation(pool.key, name)?;
        if found.lost {
            return Ok(None);
        }
        if block.is_none_or(|b| b == found.block) {
            return Ok(Some(found.block));
        }
        let what = format!("reservation {name:?}");
        self.return_space(pool.key, pool.family(), found.block, &what)?;
        Ok(None)
    }

    /// Makes a named allocation: from its reservation when that holds the planned CIDR,
    /// otherwise as a new allocation of the planned CIDR (best fit when no plan showed one).
    fn allocate_named(
        &self,
        request: &AllocationRequest,
        name: &str,
        planned: Option<IpNet>,
    ) -> Result<Allocation> {
        let wanted = request.cidr.or(planned);
        self.expect_pool_reads(
            &request.pool_id,
            PoolReads::named(name, request.netmask_length.filter(|_| wanted.is_none())),
        );
        let pool = self.pool_for_update(&request.pool_id)?;
        let family = pool.family();
        self.check_name_free(&pool, name)?;
        self.sweep_expired(&pool)?;
        let fields = AllocationFields {
            name: Some(name),
            description: &request.description,
            tags: &request.tags,
            child_pool_cidr_id: None,
            disallowed_cidrs: &request.disallowed_cidrs,
        };
        let spec = AllocationSpec::of(request);
        if let Some(block) = self.take_reservation(&pool, name, wanted.as_ref().map(Block::of))? {
            // every check again, on the held block
            self.check_allocation(
                &pool,
                &AllocationSpec {
                    cidr: Some(block.to_net(family)),
                    ..spec
                },
            )?;
            return self.write_allocation(&pool, block, &fields);
        }
        match self.plan_allocation(
            &pool,
            &AllocationSpec {
                cidr: wanted,
                ..spec
            },
        ) {
            Ok(placement) => self.commit_allocation(&pool, placement, &fields),
            Err(Error::Overlap {
                cidr,
                with_id,
                with_cidr,
            }) if request.cidr.is_none() => Err(Error::StalePlan {
                name: name.to_string(),
                pool_id: pool.pool.id.clone(),
                cidr,
                holder: with_id,
                holder_cidr: with_cidr,
            }),
            Err(error) => Err(error),
        }
    }

    /// Deletes the reservations of `pool` inside `first ..= last` (their space is going away
    /// with the pool CIDR that holds it).
    pub(super) fn drop_reservations_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
    ) -> Result<()> {
        for reservation in self.port.reservations_of(pool)? {
            if (first..=last).contains(&reservation.block.start) {
                self.port.delete_reservation(pool, &reservation.name)?;
            }
        }
        Ok(())
    }
}

fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

impl<B: Backend> Engine<B> {
    /// Creates or reuses the reservation of the named allocation `request` asks for (by length,
    /// not an explicit CIDR) and returns its CIDR: what `allocate_named` will give. Fails as
    /// `allocate` would (exhausted pool with its largest free block, guardrails, tags), or
    /// with [`Error::StalePlan`] once when an expired reservation's space was taken.
    ///
    /// The name must be free among the pool's live allocations (else [`Error::NameTaken`],
    /// naming its holder: another configuration's allocation, or this one's old allocation
    /// when it is replaced with `create_before_destroy`), except that `replaced`, the
    /// allocation the plan replaces (released before this one is made), may still have it.
    pub(crate) fn reserve_named_allocation(
        &self,
        request: &AllocationRequest,
        name: &str,
        replaced: Option<&str>,
    ) -> Result<IpNet> {
        self.write_volatile(|tx| {
            tx.expect_pool_reads(
                &request.pool_id,
                PoolReads::named(
                    name,
                    request.netmask_length.filter(|_| request.cidr.is_none()),
                ),
            );
            let pool = tx.pool(&request.pool_id)?;
            tx.port.lock_pool(pool.key)?;
            match tx.port.allocation_named(pool.key, name)? {
                Some(holder) if Some(holder.id.as_str()) != replaced => {
                    return Ok(Err(Error::NameTaken {
                        name: name.to_string(),
                        pool_id: pool.pool.id.clone(),
                        allocation_id: holder.id,
                        cidr: holder.block.to_net(pool.family()),
                    }))
                }
                _ => {}
            }
            tx.reserve(
                &pool,
                name,
                &AllocationSpec::of(request),
                self.reservation_ttl,
            )
        })?
    }

    /// Makes the allocation `name` of the pool: the reservation's block when it holds
    /// `planned` (or any block when `planned` is `None`); else `planned`, or the best fit.
    /// Fails with [`Error::NameTaken`] when a live allocation of the pool has the name, and
    /// with [`Error::StalePlan`] when another holder has the planned CIDR.
    pub(crate) fn allocate_named(
        &self,
        request: &AllocationRequest,
        name: &str,
        planned: Option<IpNet>,
    ) -> Result<Allocation> {
        self.write(|tx| tx.allocate_named(request, name, planned))
    }

    /// Creates or reuses the reservation of the CIDR of length `netmask_length` that pool
    /// `pool_id` would carve from its source pool; `provision_pool_cidr` by that length takes it.
    pub(crate) fn reserve_pool_cidr(&self, pool_id: &str, netmask_length: u8) -> Result<IpNet> {
        self.write_volatile(|tx| {
            let pool = tx.pool(pool_id)?;
            let Some(source_id) = &pool.pool.source_pool_id else {
                return Err(Error::NoSourcePool {
                    pool_id: pool_id.to_string(),
                });
            };
            let name = pool_cidr_name(pool_id);
            tx.expect_pool_reads(
                source_id,
                PoolReads {
                    sweep: true,
                    reservation: Some(&name),
                    best_fit_len: Some(netmask_length),
                    ..PoolReads::default()
                },
            );
            let parent = tx.pool(source_id)?;
            let spec = AllocationSpec {
                netmask_length: Some(netmask_length),
                cidr: None,
                disallowed: &[],
                tags: None,
                locale: None,
            };
            tx.reserve(&parent, &name, &spec, self.reservation_ttl)
        })?
    }

    /// The reservations holding space in a pool (not the lost ones), in address order; an
    /// expired one not yet swept is marked `expired` (its space is still held).
    pub(crate) fn list_reservations(&self, pool_id: &str) -> Result<Vec<Reservation>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            Ok(tx
                .port
                .reservations_of(pool.key)?
                .into_iter()
                .filter(|r| !r.lost)
                .map(|r| Reservation {
                    pool_id: pool.pool.id.clone(),
                    name: r.name,
                    cidr: r.block.to_net(pool.family()),
                    expires_at_millis: r.expires_at_millis,
                    expires_at: format_millis(r.expires_at_millis),
                    expired: r.expires_at_millis < tx.now.millis,
                })
                .collect())
        })
    }
}
