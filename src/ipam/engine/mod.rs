//! The rules engine: every IPAM operation, written once against the storage [`port`].
//!
//! [`Engine`] runs each operation in one transaction of its [`Backend`]: reads and previews in
//! a read transaction, every mutation in one write transaction that includes its audit
//! event(s). Every check happens inside that transaction (plans go stale), with the allocator
//! of [`crate::ipam::allocator`]; the `preview_*` operations run the same checks in a read
//! transaction and write nothing. The store layer makes `Engine<B>` a `Store` for any backend.
//!
//! # Organization
//! - [`port`]: the [`Backend`] and [`Transaction`] traits a storage backend implements, and
//!   their contract (serialisable write transactions, whole-closure retries).
//! - `allocations`: planning an allocation, explaining what holds a block, committing and
//!   releasing allocations, allocation reads (also those overlapping a CIDR) and updates.
//! - `pool_cidrs`: planning, provisioning and deprovisioning pool CIDRs (a child pool's CIDR
//!   is an allocation in its source pool), usage, free blocks, the inventory of all usage.
//! - `pools`: creating, updating and finding pools.
//! - `ipams`: IPAMs and scopes.
//! - `reservations`: the exact CIDR a plan shows for a named allocation or a child pool's
//!   CIDR carved by length, held from plan to apply, expiring, and turned into the allocation.
//! - `deletion`: deleting pools, scopes and IPAMs, refused while not empty unless cascading.
//! - `consistency`: the invariant check.
//! - `rules`: the checks and messages more than one operation shares.
//!
//! The audit log's reads (events, queries, an object's history) are in this file.

mod allocations;
mod consistency;
mod deletion;
mod ipams;
mod pool_cidrs;
mod pools;
pub mod port;
mod reservations;
mod rules;

pub use port::{Backend, PoolKey, Transaction};
pub use reservations::DEFAULT_RESERVATION_TTL;

use port::{AuditRecord, Now};

use crate::ipam::{AuditEvent, AuditFilter, ObjectHistory, Result};

/// The IPAM operations on a storage backend.
pub struct Engine<B> {
    backend: B,
    actor: String,
    reservation_ttl: std::time::Duration,
}

impl<B: Backend> Engine<B> {
    /// An engine on `backend`, recording `actor` in every audit event.
    pub fn new(backend: B, actor: impl Into<String>) -> Engine<B> {
        Engine {
            backend,
            actor: actor.into(),
            reservation_ttl: DEFAULT_RESERVATION_TTL,
        }
    }

    /// The same engine, with reservations holding their space for `ttl` after each plan
    /// (default [`DEFAULT_RESERVATION_TTL`]).
    pub fn with_reservation_ttl(mut self, ttl: std::time::Duration) -> Engine<B> {
        self.reservation_ttl = ttl;
        self
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The name recorded in audit events.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Runs `op` in a read transaction.
    fn read<T>(&self, op: impl Fn(&Tx<'_, B::Tx<'_>>) -> Result<T>) -> Result<T> {
        self.backend.read(|port| op(&Tx::new(port, &self.actor)))
    }

    /// Runs `op` in one write transaction.
    fn write<T>(&self, op: impl Fn(&Tx<'_, B::Tx<'_>>) -> Result<T>) -> Result<T> {
        self.backend.write(|port| op(&Tx::new(port, &self.actor)))
    }

    /// Runs `op` in one write transaction whose loss in a crash is harmless (reservations).
    fn write_volatile<T>(&self, op: impl Fn(&Tx<'_, B::Tx<'_>>) -> Result<T>) -> Result<T> {
        self.backend
            .write_volatile(|port| op(&Tx::new(port, &self.actor)))
    }
}

/// One run of an operation: the backend's transaction, the actor and the transaction's time.
/// The rules are methods of this type, spread over the engine's files by concern.
struct Tx<'a, T> {
    port: &'a T,
    actor: &'a str,
    now: Now,
}

impl<'a, T: Transaction> Tx<'a, T> {
    fn new(port: &'a T, actor: &'a str) -> Tx<'a, T> {
        Tx {
            port,
            actor,
            now: port.now(),
        }
    }

    /// An audit record of this transaction.
    fn record<'r>(
        &'r self,
        action: &'r str,
        object_id: &'r str,
        cidr: Option<ipnet::IpNet>,
        pool: Option<PoolKey>,
        details: serde_json::Value,
    ) -> AuditRecord<'r> {
        AuditRecord {
            actor: self.actor,
            at_millis: self.now.millis,
            action,
            object_id,
            cidr,
            pool,
            details,
        }
    }

    /// Appends an audit event about an object that is not an allocation.
    fn audit(
        &self,
        action: &str,
        object_id: &str,
        cidr: Option<ipnet::IpNet>,
        details: serde_json::Value,
    ) -> Result<()> {
        self.port
            .append_audit(&self.record(action, object_id, cidr, None, details))
    }
}

impl<B: Backend> Engine<B> {
    /// Audit events with a sequence greater than `after_sequence`, oldest first, at most
    /// `limit`.
    pub(crate) fn audit_events(
        &self,
        after_sequence: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        self.read(|tx| tx.port.audit_events(after_sequence, limit))
    }

    /// The newest `filter.limit` audit events matching `filter`, oldest first.
    pub(crate) fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        self.read(|tx| {
            let pool = match &filter.pool_id {
                Some(id) => tx.port.pool(id)?.map(|stored| stored.key),
                None => None,
            };
            tx.port.audit_query(filter, pool)
        })
    }

    /// What the audit log says of `id`, an object this database does not hold: whether it was
    /// ever made here (the database's identity: a copy carries its audit log).
    pub(crate) fn history(&self, id: &str) -> Result<ObjectHistory> {
        self.read(|tx| {
            Ok(if tx.port.audit_names(id)? {
                ObjectHistory::Recorded
            } else {
                ObjectHistory::Unrecorded {
                    empty: tx.port.audit_is_empty()?,
                }
            })
        })
    }
}
