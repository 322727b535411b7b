//! Storage: the [`Store`] trait the provider uses, the backends of the rules engine and the
//! [`conformance`] suite every backend must pass.
//!
//! # Organization
//! - [`Store`]: everything the Terraform resources and data sources need. Every
//!   [`Engine`] is one, whatever its [`Backend`]: the rules live once, in
//!   [`crate::ipam::engine`]; a backend is SQL plus locking behind the engine's port.
//! - [`sqlite`]: the SQLite backend ([`SqliteStore`] = the engine on a [`SqliteBackend`]).
//! - [`Maintenance`]: what a backend does with its storage itself (integrity check, online
//!   backup), for the operator's `ipam` command.
//! - [`snapshot`]: a whole address space as backend-neutral rows, which every backend exports
//!   and imports (`ipam copy` moves one between backends, every id unchanged).
//! - [`conformance`]: the cases every backend must pass, through the `Store` trait only.
//!
//! Every mutation is one transaction that includes its audit event. Every rule is checked
//! inside that transaction (plans go stale); the `preview_*` operations run the same checks in
//! a read transaction and write nothing.

pub mod conformance;
mod maintenance;
pub mod postgres;
pub mod snapshot;
pub mod sqlite;
mod util;

use std::path::Path;

use ipnet::IpNet;

use crate::ipam::{
    Allocation, AllocationRequest, AllocationUpdate, AuditEvent, CoolingBlock, Ipam, IpamUpdate,
    NewIpam, NewPool, NewScope, Pool, PoolCidr, PoolCidrRequest, PoolCidrUsage, PoolFilter,
    PoolUpdate, Reservation, Result, Scope, ScopeUpdate, UtilizationWarning,
};

pub use crate::ipam::{AuditFilter, Inventory, ObjectHistory, PoolCidrInventory, PoolInventory};
pub use maintenance::{BackupProgress, Maintenance};
pub use postgres::{PostgresBackend, PostgresStore};
pub use snapshot::{Snapshot, SnapshotCounts};
pub use sqlite::{SqliteBackend, SqliteOptions, SqliteStore, SCHEMA_VERSION};
pub use util::{
    account_name, current_account, days_from_civil, format_millis, new_id, now_millis, now_rfc3339,
    rfc3339_millis,
};

use crate::ipam::engine::{Backend, Engine};

/// Opens the database at `location`: a `postgres://` or `postgresql://` URL selects
/// PostgreSQL, anything else is the path of a SQLite file.
pub fn open(location: &str, actor: &str) -> Result<Box<dyn Store>> {
    if postgres::is_postgres_url(location) {
        Ok(Box::new(PostgresStore::connect(location, actor)?))
    } else {
        Ok(Box::new(SqliteStore::open(
            location,
            SqliteOptions::new(actor),
        )?))
    }
}

/// Everything the Terraform resources and data sources need from a backend.
///
/// Object safe (`Box<dyn Store>`), callable from many threads. Deletes return
/// [`crate::ipam::Error::NotFound`] for an unknown id; callers that want idempotent deletes
/// treat that as success.
pub trait Store: Send + Sync {
    /// Creates an IPAM with its two default scopes (private, public).
    fn create_ipam(&self, new: &NewIpam) -> Result<Ipam>;
    /// Reads an IPAM.
    fn get_ipam(&self, id: &str) -> Result<Ipam>;
    /// Changes description, operating regions or tags.
    fn update_ipam(&self, id: &str, update: &IpamUpdate) -> Result<Ipam>;
    /// Checks an IPAM update as `update_ipam` would (operating regions still used by pool
    /// locales are refused); writes nothing.
    fn preview_update_ipam(&self, id: &str, update: &IpamUpdate) -> Result<()>;
    /// Deletes an IPAM; refused while it has pools or custom scopes, unless `cascade`.
    fn delete_ipam(&self, id: &str, cascade: bool) -> Result<()>;
    /// All IPAMs.
    fn list_ipams(&self) -> Result<Vec<Ipam>>;

    /// Creates a custom (private) scope.
    fn create_scope(&self, new: &NewScope) -> Result<Scope>;
    /// Reads a scope.
    fn get_scope(&self, id: &str) -> Result<Scope>;
    /// Changes description or tags.
    fn update_scope(&self, id: &str, update: &ScopeUpdate) -> Result<Scope>;
    /// Deletes a custom scope; refused while it has pools, unless `cascade`.
    fn delete_scope(&self, id: &str, cascade: bool) -> Result<()>;
    /// The scopes of an IPAM.
    fn list_scopes(&self, ipam_id: &str) -> Result<Vec<Scope>>;

    /// Creates a pool (top-level, or nested in a source pool of the same scope and family).
    fn create_pool(&self, new: &NewPool) -> Result<Pool>;
    /// Checks a new pool as `create_pool` would (scope, source pool, guardrails, locale);
    /// writes nothing.
    fn preview_pool(&self, new: &NewPool) -> Result<()>;
    /// Reads a pool.
    fn get_pool(&self, id: &str) -> Result<Pool>;
    /// Changes the updatable fields of a pool.
    fn update_pool(&self, id: &str, update: &PoolUpdate) -> Result<Pool>;
    /// Deletes a pool and deprovisions its CIDRs; refused while it holds allocations or child
    /// pools, unless `cascade` (which deletes those too).
    fn delete_pool(&self, id: &str, cascade: bool) -> Result<()>;
    /// Pools matching every given filter, ordered by id.
    fn find_pools(&self, filter: &PoolFilter) -> Result<Vec<Pool>>;

    /// Provisions a CIDR into a pool: explicit, or carved by netmask length from the source
    /// pool (the carve is an allocation in the source pool, in the same transaction).
    fn provision_pool_cidr(&self, pool_id: &str, request: PoolCidrRequest) -> Result<PoolCidr>;
    /// The CIDR `provision_pool_cidr` would provision now, or its exact error; writes nothing.
    fn preview_pool_cidr(&self, pool_id: &str, request: PoolCidrRequest) -> Result<IpNet>;
    /// Reads a pool CIDR.
    fn get_pool_cidr(&self, id: &str) -> Result<PoolCidr>;
    /// Deprovisions a pool CIDR, returning its space to the source pool; refused while
    /// allocations or child-pool CIDRs lie in it, unless `cascade`.
    fn deprovision_pool_cidr(&self, id: &str, cascade: bool) -> Result<()>;
    /// A pool's CIDRs in address order, with usage.
    fn list_pool_cidrs(&self, pool_id: &str) -> Result<Vec<PoolCidrUsage>>;

    /// Allocates a CIDR (explicit, or best fit of a netmask length).
    fn allocate(&self, request: &AllocationRequest) -> Result<Allocation>;
    /// Allocates several CIDRs in one transaction: all or nothing (imports, seeding).
    fn allocate_many(&self, requests: &[AllocationRequest]) -> Result<Vec<Allocation>>;
    /// The CIDR `allocate` would return now, or its exact error; reserves and writes nothing.
    fn preview_allocation(&self, request: &AllocationRequest) -> Result<IpNet>;
    /// The blocks of a pool cooling down after their release (its `release_cooldown`), with
    /// the time each becomes free, in address order.
    fn list_cooling_blocks(&self, pool_id: &str) -> Result<Vec<CoolingBlock>>;
    /// Checks an allocation as `allocate` would (the same errors) and returns the warning when
    /// it would push its pool past the pool's `utilization_warning_threshold`; writes nothing.
    fn preview_allocation_warning(
        &self,
        request: &AllocationRequest,
    ) -> Result<Option<UtilizationWarning>>;
    /// Reads an allocation.
    fn get_allocation(&self, id: &str) -> Result<Allocation>;
    /// Changes description or tags (still carrying the pool's required tags).
    fn update_allocation(&self, id: &str, update: &AllocationUpdate) -> Result<Allocation>;
    /// Releases an allocation; its space is free at once.
    fn release_allocation(&self, id: &str) -> Result<()>;
    /// A pool's allocations (child-pool CIDRs included) in address order.
    fn list_allocations(&self, pool_id: &str) -> Result<Vec<Allocation>>;

    /// Creates or reuses the reservation `(pool, name)` for the allocation by length `request`
    /// asks for, pushing its expiry forward, and returns its CIDR: what `allocate_named` will
    /// give. Fails as `allocate` would, or once with `Error::StalePlan` when an expired
    /// reservation's space was taken meanwhile.
    /// Fails with `Error::NameTaken` when a live allocation of the pool has the name.
    fn reserve_allocation(&self, request: &AllocationRequest, name: &str) -> Result<IpNet>;
    /// `reserve_allocation` for a plan that replaces allocation `replaced_id` (released before
    /// the new one is made): that allocation may still have the name.
    fn reserve_replacement(
        &self,
        request: &AllocationRequest,
        name: &str,
        replaced_id: &str,
    ) -> Result<IpNet>;
    /// Makes the allocation named `name` (unique among the pool's live allocations): from its
    /// reservation when that holds `planned` (the CIDR the plan showed), else `planned` if
    /// free (`Error::StalePlan` naming its holder if not), else the best fit.
    fn allocate_named(
        &self,
        request: &AllocationRequest,
        name: &str,
        planned: Option<IpNet>,
    ) -> Result<Allocation>;
    /// Creates or reuses the reservation of the CIDR of `netmask_length` that `pool_id` would
    /// carve from its source pool; provisioning that length takes it.
    fn reserve_pool_cidr(&self, pool_id: &str, netmask_length: u8) -> Result<IpNet>;
    /// The reservations holding space in a pool, in address order.
    fn list_reservations(&self, pool_id: &str) -> Result<Vec<Reservation>>;

    /// Audit events with a sequence greater than `after_sequence`, oldest first, at most `limit`.
    fn audit_events(&self, after_sequence: i64, limit: usize) -> Result<Vec<AuditEvent>>;
    /// What the audit log says of `id`, an object this database does not hold: whether it was
    /// ever made here. This is the database's identity: a copy or a backup of the database
    /// carries its audit log, another database does not know the id.
    fn history(&self, id: &str) -> Result<ObjectHistory>;
    /// Checks every invariant (containment, no overlap, free + used = provisioned, an audit
    /// event per allocation, pool CIDRs and parent allocations matched); returns the problems
    /// found, empty when consistent.
    fn check_consistency(&self) -> Result<Vec<String>>;

    // Reads for operators (the `ipam` command).

    /// Every IPAM, scope and pool with its CIDRs' usage and allocation counts, read in one
    /// transaction so that the figures agree with each other while writers go on.
    fn inventory(&self) -> Result<Inventory>;
    /// A pool's free space as aligned blocks (each a CIDR), in address order.
    fn free_blocks(&self, pool_id: &str) -> Result<Vec<IpNet>>;
    /// A pool's allocations (child-pool CIDRs included) that overlap `cidr`, in address order,
    /// at most `limit`: the one holding it, or those lying inside it.
    fn allocations_overlapping(
        &self,
        pool_id: &str,
        cidr: IpNet,
        limit: usize,
    ) -> Result<Vec<Allocation>>;
    /// The newest `filter.limit` audit events matching `filter`, oldest first.
    fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>>;
    /// The backend's own integrity check of its storage ([`Maintenance::check_storage`]).
    fn check_storage(&self) -> Result<Vec<String>>;
    /// A consistent copy of the whole database to the new file `destination` while writers
    /// go on ([`Maintenance::backup`]).
    fn backup(
        &self,
        destination: &Path,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<BackupProgress>;
    /// The whole database as rows from one consistent read ([`Maintenance::export_snapshot`]).
    fn export_snapshot(&self) -> Result<Snapshot>;
    /// Writes a snapshot into this empty database ([`Maintenance::import_snapshot`]); open the
    /// store again afterwards.
    fn import_snapshot(&self, snapshot: &Snapshot) -> Result<()>;
}

/// Every engine is a store: each method is the engine's operation of the same name, except
/// the storage check and the backup, which are the backend's own.
impl<B: Backend + Maintenance> Store for Engine<B> {
    fn create_ipam(&self, new: &NewIpam) -> Result<Ipam> {
        Engine::create_ipam(self, new)
    }

    fn get_ipam(&self, id: &str) -> Result<Ipam> {
        Engine::get_ipam(self, id)
    }

    fn update_ipam(&self, id: &str, update: &IpamUpdate) -> Result<Ipam> {
        Engine::update_ipam(self, id, update)
    }

    fn preview_update_ipam(&self, id: &str, update: &IpamUpdate) -> Result<()> {
        Engine::preview_update_ipam(self, id, update)
    }

    fn delete_ipam(&self, id: &str, cascade: bool) -> Result<()> {
        Engine::delete_ipam(self, id, cascade)
    }

    fn list_ipams(&self) -> Result<Vec<Ipam>> {
        Engine::list_ipams(self)
    }

    fn create_scope(&self, new: &NewScope) -> Result<Scope> {
        Engine::create_scope(self, new)
    }

    fn get_scope(&self, id: &str) -> Result<Scope> {
        Engine::get_scope(self, id)
    }

    fn update_scope(&self, id: &str, update: &ScopeUpdate) -> Result<Scope> {
        Engine::update_scope(self, id, update)
    }

    fn delete_scope(&self, id: &str, cascade: bool) -> Result<()> {
        Engine::delete_scope(self, id, cascade)
    }

    fn list_scopes(&self, ipam_id: &str) -> Result<Vec<Scope>> {
        Engine::list_scopes(self, ipam_id)
    }

    fn create_pool(&self, new: &NewPool) -> Result<Pool> {
        Engine::create_pool(self, new)
    }

    fn preview_pool(&self, new: &NewPool) -> Result<()> {
        Engine::preview_pool(self, new)
    }

    fn get_pool(&self, id: &str) -> Result<Pool> {
        Engine::get_pool(self, id)
    }

    fn update_pool(&self, id: &str, update: &PoolUpdate) -> Result<Pool> {
        Engine::update_pool(self, id, update)
    }

    fn delete_pool(&self, id: &str, cascade: bool) -> Result<()> {
        Engine::delete_pool(self, id, cascade)
    }

    fn find_pools(&self, filter: &PoolFilter) -> Result<Vec<Pool>> {
        Engine::find_pools(self, filter)
    }

    fn provision_pool_cidr(&self, pool_id: &str, request: PoolCidrRequest) -> Result<PoolCidr> {
        Engine::provision_pool_cidr(self, pool_id, request)
    }

    fn preview_pool_cidr(&self, pool_id: &str, request: PoolCidrRequest) -> Result<IpNet> {
        Engine::preview_pool_cidr(self, pool_id, request)
    }

    fn get_pool_cidr(&self, id: &str) -> Result<PoolCidr> {
        Engine::get_pool_cidr(self, id)
    }

    fn deprovision_pool_cidr(&self, id: &str, cascade: bool) -> Result<()> {
        Engine::deprovision_pool_cidr(self, id, cascade)
    }

    fn list_pool_cidrs(&self, pool_id: &str) -> Result<Vec<PoolCidrUsage>> {
        Engine::list_pool_cidrs(self, pool_id)
    }

    fn allocate(&self, request: &AllocationRequest) -> Result<Allocation> {
        Engine::allocate(self, request)
    }

    fn allocate_many(&self, requests: &[AllocationRequest]) -> Result<Vec<Allocation>> {
        Engine::allocate_many(self, requests)
    }

    fn preview_allocation(&self, request: &AllocationRequest) -> Result<IpNet> {
        Engine::preview_allocation(self, request)
    }

    fn preview_allocation_warning(
        &self,
        request: &AllocationRequest,
    ) -> Result<Option<UtilizationWarning>> {
        Engine::preview_allocation_warning(self, request)
    }

    fn list_cooling_blocks(&self, pool_id: &str) -> Result<Vec<CoolingBlock>> {
        Engine::list_cooling_blocks(self, pool_id)
    }

    fn get_allocation(&self, id: &str) -> Result<Allocation> {
        Engine::get_allocation(self, id)
    }

    fn update_allocation(&self, id: &str, update: &AllocationUpdate) -> Result<Allocation> {
        Engine::update_allocation(self, id, update)
    }

    fn release_allocation(&self, id: &str) -> Result<()> {
        Engine::release_allocation(self, id)
    }

    fn list_allocations(&self, pool_id: &str) -> Result<Vec<Allocation>> {
        Engine::list_allocations(self, pool_id)
    }

    fn reserve_allocation(&self, request: &AllocationRequest, name: &str) -> Result<IpNet> {
        Engine::reserve_named_allocation(self, request, name, None)
    }

    fn reserve_replacement(
        &self,
        request: &AllocationRequest,
        name: &str,
        replaced_id: &str,
    ) -> Result<IpNet> {
        Engine::reserve_named_allocation(self, request, name, Some(replaced_id))
    }

    fn allocate_named(
        &self,
        request: &AllocationRequest,
        name: &str,
        planned: Option<IpNet>,
    ) -> Result<Allocation> {
        Engine::allocate_named(self, request, name, planned)
    }

    fn reserve_pool_cidr(&self, pool_id: &str, netmask_length: u8) -> Result<IpNet> {
        Engine::reserve_pool_cidr(self, pool_id, netmask_length)
    }

    fn list_reservations(&self, pool_id: &str) -> Result<Vec<Reservation>> {
        Engine::list_reservations(self, pool_id)
    }

    fn audit_events(&self, after_sequence: i64, limit: usize) -> Result<Vec<AuditEvent>> {
        Engine::audit_events(self, after_sequence, limit)
    }

    fn history(&self, id: &str) -> Result<ObjectHistory> {
        Engine::history(self, id)
    }

    fn check_consistency(&self) -> Result<Vec<String>> {
        Engine::check_consistency(self)
    }

    fn inventory(&self) -> Result<Inventory> {
        Engine::inventory(self)
    }

    fn free_blocks(&self, pool_id: &str) -> Result<Vec<IpNet>> {
        Engine::free_blocks(self, pool_id)
    }

    fn allocations_overlapping(
        &self,
        pool_id: &str,
        cidr: IpNet,
        limit: usize,
    ) -> Result<Vec<Allocation>> {
        Engine::allocations_overlapping(self, pool_id, cidr, limit)
    }

    fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        Engine::audit_query(self, filter)
    }

    fn check_storage(&self) -> Result<Vec<String>> {
        self.backend().check_storage()
    }

    fn backup(
        &self,
        destination: &Path,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<BackupProgress> {
        self.backend().backup(destination, progress)
    }

    fn export_snapshot(&self) -> Result<Snapshot> {
        self.backend().export_snapshot()
    }

    fn import_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.backend().import_snapshot(snapshot)
    }
}
