//! The port: what the engine needs from a storage backend, and the guarantees a backend gives.
//!
//! A backend is storage plus locking, nothing else: it reads and writes rows, keeps the
//! free-block index, appends audit events and mints ids. Every rule (what may be allocated,
//! provisioned, changed or deleted, and what an error says) is the engine's.
//!
//! # The transaction contract
//! - [`Backend::write`] runs the closure in one transaction and commits it when the closure
//!   returns `Ok`; on `Err` nothing it wrote remains. Write transactions are serialisable with
//!   respect to each other: the closure sees one state and its changes commit against that
//!   same state, or not at all (the checks the engine makes stay true until the commit).
//!   SQLite gets this from `BEGIN IMMEDIATE` (one writer at a time, the lock taken before
//!   anything is read). A server database gets it from `SERIALIZABLE` isolation, or from
//!   explicit locks: the engine calls [`Transaction::lock_pool`] on every pool whose free space
//!   or allocations it may change, before it reads them (after reading the row that names the
//!   pool, e.g. the allocation to release), so a row lock on the pool serialises the writers of
//!   one pool and leaves other pools alone; such a backend must re-read under the lock or rely
//!   on serialisable isolation to see rows changed before the lock was granted.
//! - [`Backend::read`] runs the closure in a transaction that sees one consistent state and
//!   writes nothing (previews, reads, the consistency check).
//! - A backend may run the closure again, from the start, in a fresh transaction, when the
//!   transaction failed for a transient reason (busy database, serialisation failure,
//!   deadlock), a bounded number of times. So a closure must only touch the transaction it is
//!   given: no side effects outside it, no state carried from one run to the next. A transient
//!   failure inside a port method is reported as `Error::Storage`; the backend remembers it
//!   and retries when the closure then fails, so such errors never reach callers while retries
//!   remain.
//! - Every mutation writes its audit event(s) in its own transaction ([`Transaction::append_audit`],
//!   [`Transaction::insert_allocation`]): an event exists exactly when its change committed.
//!   Events are read back in sequence order.
//!
//! # Rows
//! Row access is per object: look-ups by id return `None` when there is no such row (the engine
//! makes the `NotFound` error), lists come in the order each method documents. Pools have a
//! compact key ([`PoolKey`]) used by the per-pool tables (pool CIDRs, allocations, free blocks).
//! Addresses are `u128` (IPv4 in the low 32 bits), blocks are [`Block`]s; the family comes from
//! the pool.

use ipnet::IpNet;

use crate::ipam::allocator::FreeBlockIndex;
use crate::ipam::{
    AddressFamily, Allocation, AuditEvent, AuditFilter, Block, Ipam, Pool, PoolCidr, Result, Scope,
    Tags,
};

/// The compact key of a pool in the per-pool tables.
pub type PoolKey = i64;

/// A storage backend: transactions over its rows.
pub trait Backend: Send + Sync {
    /// One transaction.
    type Tx<'t>: Transaction
    where
        Self: 't;

    /// Runs `op` in a read transaction that writes nothing (see the module's contract).
    fn read<T>(&self, op: impl Fn(&Self::Tx<'_>) -> Result<T>) -> Result<T>;

    /// Runs `op` in one serialisable write transaction, committed when `op` returns `Ok`; may
    /// run `op` again from the start after a transient failure (see the module's contract).
    fn write<T>(&self, op: impl Fn(&Self::Tx<'_>) -> Result<T>) -> Result<T>;

    /// Like [`Backend::write`] (one serialisable, atomic transaction, same retries), for
    /// changes whose loss in a power failure or OS crash is harmless: a plan's reservation (its
    /// loss makes the apply-time plan reserve again, or report the plan stale). A backend may
    /// commit it without waiting for the disk, provided a later durable commit also makes
    /// this one durable (it never survives while an earlier one is lost). Defaults to `write`.
    fn write_volatile<T>(&self, op: impl Fn(&Self::Tx<'_>) -> Result<T>) -> Result<T> {
        self.write(op)
    }
}

/// A transaction's time: Unix milliseconds, and the same as RFC 3339 text (what objects show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    /// Unix milliseconds.
    pub millis: i64,
    /// RFC 3339 UTC with milliseconds (`2026-11-23T21:21:38.123Z`).
    pub text: String,
}

/// A pool with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPool {
    /// The key of the pool's rows in the per-pool tables.
    pub key: PoolKey,
    /// The pool.
    pub pool: Pool,
}

impl StoredPool {
    /// The pool's address family.
    pub fn family(&self) -> AddressFamily {
        self.pool.address_family
    }
}

/// A pool CIDR with its pool's key and its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPoolCidr {
    /// The pool's key.
    pub pool_key: PoolKey,
    /// The CIDR as a block.
    pub block: Block,
    /// The pool CIDR.
    pub pool_cidr: PoolCidr,
}

impl StoredPoolCidr {
    /// The CIDR's address family.
    pub fn family(&self) -> AddressFamily {
        AddressFamily::of(&self.pool_cidr.cidr)
    }
}

/// An allocation with its pool's key and its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAllocation {
    /// The pool's key.
    pub pool_key: PoolKey,
    /// The CIDR as a block.
    pub block: Block,
    /// The allocation.
    pub allocation: Allocation,
}

impl StoredAllocation {
    /// The CIDR's address family.
    pub fn family(&self) -> AddressFamily {
        AddressFamily::of(&self.allocation.cidr)
    }
}

/// Where an allocation lies and what it backs: enough to say who holds a block or to empty a
/// pool CIDR, without reading the whole row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationSpan {
    /// The allocation's id.
    pub id: String,
    /// Its block.
    pub block: Block,
    /// The child pool CIDR it backs, if any.
    pub child_pool_cidr_id: Option<String>,
}

/// A reservation row: space held in a pool for the allocation a plan showed, keyed by
/// `(pool_key, name)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReservation {
    /// The pool's key.
    pub pool_key: PoolKey,
    /// The name it is for; unique per pool.
    pub name: String,
    /// The block. While `lost` is false it is out of the pool's free-block index (held); once
    /// lost it is only a record of what the plan showed.
    pub block: Block,
    /// Unix milliseconds after which the space may go to others.
    pub expires_at_millis: i64,
    /// True once it expired and its block went back to the free space (a tombstone, kept so
    /// that the stale plan's apply can say what happened).
    pub lost: bool,
}

/// One audit event to append.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    /// Who (the engine's actor).
    pub actor: &'a str,
    /// When, Unix milliseconds.
    pub at_millis: i64,
    /// What: `allocate`, `release`, `provision`, …
    pub action: &'a str,
    /// The object changed.
    pub object_id: &'a str,
    /// Its CIDR, when it has one.
    pub cidr: Option<IpNet>,
    /// The pool, for events about allocations (a backend may use it to find an allocation by
    /// its id through its `allocate` event).
    pub pool: Option<PoolKey>,
    /// Further details.
    pub details: serde_json::Value,
}

/// A new allocation row and its `allocate` event, written together.
#[derive(Debug, Clone)]
pub struct NewAllocation<'a> {
    /// The pool's key.
    pub pool_key: PoolKey,
    /// The block taken.
    pub block: Block,
    /// The name that identifies it within its pool, if any (unique among the pool's live
    /// allocations: a backend may enforce this with a unique index too).
    pub name: Option<&'a str>,
    /// Free text.
    pub description: &'a str,
    /// Tags.
    pub tags: &'a Tags,
    /// The child pool CIDR it backs, if any.
    pub child_pool_cidr_id: Option<&'a str>,
    /// The ranges the request asked to skip.
    pub disallowed_cidrs: &'a [IpNet],
    /// The `allocate` event: its `object_id` is ignored, the backend writes the new id.
    pub event: AuditRecord<'a>,
}

/// A read the engine is about to make, announced by [`Transaction::expect`] before it makes it.
/// Pools are named by id: the engine announces before it has read the pool row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedRead<'a> {
    /// [`Transaction::pool`] of `id`.
    Pool {
        /// The pool's id.
        id: &'a str,
    },
    /// [`Transaction::lock_pool`] of the pool `pool_id` names.
    PoolLock {
        /// The pool's id.
        pool_id: &'a str,
    },
    /// [`Transaction::allocation_named`] of the pool `pool_id` names.
    AllocationNamed {
        /// The pool's id.
        pool_id: &'a str,
        /// The allocation's name.
        name: &'a str,
    },
    /// [`Transaction::reservation`] of the pool `pool_id` names.
    Reservation {
        /// The pool's id.
        pool_id: &'a str,
        /// The reservation's name.
        name: &'a str,
    },
    /// [`Transaction::expired_reservations`] of the pool `pool_id` names, at `now_millis`.
    ExpiredReservations {
        /// The pool's id.
        pool_id: &'a str,
        /// The transaction's time, Unix milliseconds.
        now_millis: i64,
    },
    /// The first best-fit look-up in the pool's free-block index:
    /// [`FreeBlockIndex::next_best_fit`] with `max_len` and no block to start after.
    BestFit {
        /// The pool's id.
        pool_id: &'a str,
        /// The longest prefix that fits.
        max_len: u8,
    },
}

/// Row access inside one transaction. Every method may fail with [`Error::Storage`]
/// (see the module's contract for transient failures).
///
/// [`Error::Storage`]: crate::ipam::Error::Storage
pub trait Transaction {
    /// The free-block index of one pool, inside this transaction.
    type Index<'a>: FreeBlockIndex
    where
        Self: 'a;

    /// The time of this transaction (one value per run of the closure).
    fn now(&self) -> Now;

    /// A hint: the engine is about to make `reads`, in this order (each after the ones
    /// before it, the reads after a [`ExpectedRead::PoolLock`] under that lock), unless a
    /// check fails first. It still makes every one of them through the ordinary calls
    /// afterwards, and a backend must answer each call exactly as it would have without the
    /// hint: a backend whose round trips are dear (a server) may send the reads ahead, all
    /// together, and answer the calls from what came back as long as nothing the transaction
    /// wrote since could have changed the answer; the errors of a read sent ahead are reported
    /// at its call. Backends for which a read is cheap ignore it (the default).
    fn expect(&self, _reads: &[ExpectedRead<'_>]) {}
    /// A new random id for an IPAM, scope, pool or pool CIDR: `prefix-` and 16 hex digits.
    fn mint_id(&self, prefix: &str) -> String;

    /// An IPAM, with its default scope ids and scope count.
    fn ipam(&self, id: &str) -> Result<Option<Ipam>>;
    /// Every IPAM, ordered by id.
    fn ipams(&self) -> Result<Vec<Ipam>>;
    /// Writes a new IPAM (its own fields; the derived ones are ignored).
    fn insert_ipam(&self, ipam: &Ipam) -> Result<()>;
    /// Writes an IPAM's description, operating regions, tags and `updated_at`.
    fn update_ipam(&self, ipam: &Ipam) -> Result<()>;
    /// Deletes an IPAM row (its scopes are gone already).
    fn delete_ipam(&self, id: &str) -> Result<()>;

    /// A scope, with its pool count.
    fn scope(&self, id: &str) -> Result<Option<Scope>>;
    /// The scopes of an IPAM: default scopes first, then by kind, then by id.
    fn scopes_of(&self, ipam_id: &str) -> Result<Vec<Scope>>;
    /// Writes a new scope (its own fields; `pool_count` is ignored).
    fn insert_scope(&self, scope: &Scope) -> Result<()>;
    /// Writes a scope's description, tags and `updated_at`.
    fn update_scope(&self, scope: &Scope) -> Result<()>;
    /// Deletes a scope row (its pools are gone already).
    fn delete_scope(&self, id: &str) -> Result<()>;

    /// A pool.
    fn pool(&self, id: &str) -> Result<Option<StoredPool>>;
    /// Every pool, ordered by id.
    fn pools(&self) -> Result<Vec<StoredPool>>;
    /// The pools of a scope, ordered by id.
    fn pools_in_scope(&self, scope_id: &str) -> Result<Vec<Pool>>;
    /// The ids of the pools whose source pool is `pool_id`, ordered.
    fn child_pool_ids(&self, pool_id: &str) -> Result<Vec<String>>;
    /// Writes a new pool.
    fn insert_pool(&self, pool: &Pool) -> Result<()>;
    /// Writes a pool's updatable fields and `updated_at`.
    fn update_pool(&self, pool: &Pool) -> Result<()>;
    /// Deletes a pool row (its CIDRs and allocations are gone already).
    fn delete_pool(&self, id: &str) -> Result<()>;
    /// In a write transaction: serialises this transaction with every other one that changes
    /// the free space or the allocations of this pool, until it ends (a row lock on the pool).
    /// Backends whose write transactions are exclusive anyway do nothing.
    fn lock_pool(&self, _pool: PoolKey) -> Result<()> {
        Ok(())
    }

    /// A pool CIDR.
    fn pool_cidr(&self, id: &str) -> Result<Option<StoredPoolCidr>>;
    /// The CIDRs of a pool, in address order.
    fn pool_cidrs_of(&self, pool: PoolKey) -> Result<Vec<StoredPoolCidr>>;
    /// Every pool CIDR, ordered by id.
    fn all_pool_cidrs(&self) -> Result<Vec<StoredPoolCidr>>;
    /// The CIDR of `pool` with the greatest start ≤ `address`: `(pool CIDR id, block)`.
    fn pool_cidr_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<(String, Block)>>;
    /// Among the top-level pool CIDRs (those of pools without a source pool) of a scope and
    /// family, the one with the greatest start ≤ `address`: `(block, its pool's id)`.
    fn top_level_cidr_at_or_before(
        &self,
        scope_id: &str,
        family: AddressFamily,
        address: u128,
    ) -> Result<Option<(Block, String)>>;
    /// Writes a new pool CIDR of `pool` (top-level when it has no parent allocation).
    fn insert_pool_cidr(&self, pool: &StoredPool, pool_cidr: &PoolCidr) -> Result<()>;
    /// Deletes a pool CIDR row.
    fn delete_pool_cidr(&self, id: &str) -> Result<()>;

    /// An allocation by id; `None` for an id never issued or already released (a released id
    /// must never lead to a later allocation of the same CIDR).
    fn allocation(&self, id: &str) -> Result<Option<StoredAllocation>>;
    /// The allocations of a pool (child-pool CIDRs included), in address order.
    fn allocations_of(&self, pool: PoolKey) -> Result<Vec<StoredAllocation>>;
    /// The allocation of `pool` with the greatest start ≤ `address`.
    fn allocation_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<AllocationSpan>>;
    /// The allocations of `pool` starting in `first ..= last`, in address order.
    fn allocations_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
    ) -> Result<Vec<AllocationSpan>>;
    /// How many allocations of `pool` start in `first ..= last`.
    fn count_allocations_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<u64>;
    /// The whole rows of the allocations of `pool` starting in `first ..= last`, in address
    /// order, at most `limit` of them.
    fn allocation_rows_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
        limit: usize,
    ) -> Result<Vec<StoredAllocation>>;
    /// Writes a new allocation and its `allocate` audit event (whose object id is the new
    /// allocation's id); returns the id. How ids are minted is the backend's choice, but an
    /// id is never issued twice.
    fn insert_allocation(&self, new: &NewAllocation<'_>) -> Result<String>;
    /// The live allocation of `pool` named `name`, if any (`Allocation::name`).
    fn allocation_named(&self, pool: PoolKey, name: &str) -> Result<Option<AllocationSpan>>;
    /// Writes an allocation's name, description and tags, and `updated_at` (Unix milliseconds).
    fn update_allocation(&self, row: &StoredAllocation, updated_at_millis: i64) -> Result<()>;
    /// Deletes the allocation of `pool` at `block`.
    fn delete_allocation(&self, pool: PoolKey, block: Block) -> Result<()>;
    /// Consistency: the ids of allocations that have no `allocate` audit event.
    fn allocations_without_allocate_event(&self) -> Result<Vec<String>>;

    /// The free-block index of `pool`.
    fn free_index(&self, pool: PoolKey) -> Self::Index<'_>;
    /// The free blocks of `pool` starting in `first ..= last`, in address order.
    fn free_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<Vec<Block>>;
    /// Deletes the free blocks of `pool` starting in `first ..= last`.
    fn delete_free_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<()>;

    /// The reservation of `pool` named `name`, held or lost; `None` when there is none.
    fn reservation(&self, pool: PoolKey, name: &str) -> Result<Option<StoredReservation>>;
    /// The reservations of `pool`, held and lost, in address order of their blocks.
    fn reservations_of(&self, pool: PoolKey) -> Result<Vec<StoredReservation>>;
    /// Among the held (not lost) reservations of `pool`, the one whose block has the greatest
    /// start ≤ `address` (held blocks never overlap each other or allocations).
    fn held_reservation_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<StoredReservation>>;
    /// The held (not lost) reservations of `pool` with `expires_at_millis < now_millis`, in
    /// any order. Called on every plan of a named allocation: should be an index search.
    fn expired_reservations(
        &self,
        pool: PoolKey,
        now_millis: i64,
    ) -> Result<Vec<StoredReservation>>;
    /// Writes a reservation: inserts it, or replaces the row with the same `(pool_key, name)`
    /// (block, expiry and `lost` all change). The engine has already taken the block out of
    /// the free-block index when `lost` is false; the backend keeps no other index in step.
    fn put_reservation(&self, reservation: &StoredReservation) -> Result<()>;
    /// Deletes the reservation of `pool` named `name` (no error when there is none). The
    /// engine has already returned or reused its block.
    fn delete_reservation(&self, pool: PoolKey, name: &str) -> Result<()>;

    /// Records that `block` of `pool`, just released, cools down until `until_millis` (Unix
    /// milliseconds). One row per `(pool, block.start)`: the engine first deletes the rows in
    /// the block's range, so an insert never meets an existing row. The block itself is in
    /// the free-block index as usual; the engine keeps allocations off it while it cools.
    fn insert_cooling_block(&self, pool: PoolKey, block: Block, until_millis: i64) -> Result<()>;
    /// The cooling rows of `pool` whose block starts in `first ..= last`, in address order,
    /// expired ones included: `(block, until)` with `until` as Unix milliseconds and RFC 3339.
    fn cooling_blocks_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
    ) -> Result<Vec<(Block, Now)>>;
    /// Deletes the cooling rows of `pool` whose block starts in `first ..= last`.
    fn delete_cooling_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<()>;

    /// Appends an audit event.
    fn append_audit(&self, record: &AuditRecord<'_>) -> Result<()>;
    /// Audit events with a sequence greater than `after_sequence`, oldest first, at most
    /// `limit`.
    fn audit_events(&self, after_sequence: i64, limit: usize) -> Result<Vec<AuditEvent>>;
    /// The newest `filter.limit` audit events matching every filter `filter` sets, oldest
    /// first. Events about `filter.pool_id` are those appended with the pool's key (`pool`, the
    /// key while the pool exists, else `None`), those whose object is the pool, and those whose
    /// details name it as `"pool_id"`: a deleted pool's events are still found by its id.
    fn audit_query(&self, filter: &AuditFilter, pool: Option<PoolKey>) -> Result<Vec<AuditEvent>>;
    /// Whether the audit log names `id`: an event about it (for an allocation id, the
    /// `allocate` event it was made by). Asked only about objects that are missing.
    fn audit_names(&self, id: &str) -> Result<bool>;
    /// Whether the audit log holds no event at all.
    fn audit_is_empty(&self) -> Result<bool>;
}
