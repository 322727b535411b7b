//! A whole address space as rows, backend-neutral: what one backend exports in one consistent
//! read transaction and another imports into an empty database in one transaction, every id,
//! time and sequence number unchanged (`ipam copy`, and `ipam backup` of a PostgreSQL
//! database). Each backend reads and writes it with its own SQL, in its own folder.
//!
//! The rows are the tables both schemas share, column for column, with addresses as numbers:
//! allocation ids are not stored but derive from the `allocate` event's sequence number and
//! the database's key (both copied), except the random ids of allocations made by the oldest
//! provider, kept in `legacy_id`. Free blocks are copied too (they are the allocator's index of
//! the rest of the space, so the copy needs no rebuild).

use crate::ipam::{AddressFamily, Block};

/// The export reads: the same tables and columns in both schemas (version 4 of each), in
/// standard SQL, so both backends read their snapshot with these statements, in the order the
/// import writes (parents first).
pub(super) mod export_sql {
    pub(in crate::store) const META_KEY: &str =
        "SELECT value FROM meta WHERE name = 'allocation_id_key'";
    pub(in crate::store) const IPAMS: &str =
        "SELECT id, description, operating_regions, tags, created_at, updated_at \
         FROM ipams ORDER BY id";
    pub(in crate::store) const SCOPES: &str =
        "SELECT id, ipam_id, kind, description, tags, is_default, created_at, \
         updated_at FROM scopes ORDER BY id";
    pub(in crate::store) const POOLS: &str =
        "SELECT num, id, scope_id, source_pool_id, family, locale, description, \
         min_netmask_length, max_netmask_length, default_netmask_length, allocation_resource_tags, \
         auto_import, publicly_advertisable, tags, depth, created_at, updated_at, \
         utilization_warning_threshold, release_cooldown_seconds, release_cooldown_mode \
         FROM pools ORDER BY depth, num";
    pub(in crate::store) const POOL_CIDRS: &str =
        "SELECT id, pool_num, scope_id, family, is_top_level, start, \
         prefix_len, parent_allocation_id, created_at FROM pool_cidrs ORDER BY pool_num, start";
    pub(in crate::store) const ALLOCATIONS: &str =
        "SELECT pool_num, start, prefix_len, sequence, legacy_id, \
         description, tags, child_pool_cidr_id, disallowed_cidrs, created_at, updated_at, name \
         FROM allocations ORDER BY pool_num, start";
    pub(in crate::store) const RESERVATIONS: &str =
        "SELECT pool_num, name, start, prefix_len, expires_at, lost \
         FROM reservations ORDER BY pool_num, name";
    pub(in crate::store) const COOLING_BLOCKS: &str =
        "SELECT pool_num, start, prefix_len, until FROM cooling_blocks \
         ORDER BY pool_num, start";
    pub(in crate::store) const FREE_BLOCKS: &str =
        "SELECT pool_num, start, prefix_len FROM free_blocks \
         ORDER BY pool_num, start";
    pub(in crate::store) const AUDIT_EVENTS: &str =
        "SELECT sequence, at, actor, action, object_id, cidr, pool_num, \
         details FROM audit_events ORDER BY sequence";
}

/// An IPAM row (times as RFC 3339 text, lists and tags as JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamRow {
    pub id: String,
    pub description: String,
    pub operating_regions: String,
    pub tags: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A scope row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRow {
    pub id: String,
    pub ipam_id: String,
    pub kind: String,
    pub description: String,
    pub tags: String,
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A pool row; `num` is the compact key the per-pool rows below refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRow {
    pub num: i64,
    pub id: String,
    pub scope_id: String,
    pub source_pool_id: Option<String>,
    /// 4 or 6.
    pub family: i32,
    pub locale: Option<String>,
    pub description: String,
    pub min_netmask_length: Option<i32>,
    pub max_netmask_length: Option<i32>,
    pub default_netmask_length: Option<i32>,
    pub allocation_resource_tags: String,
    pub auto_import: bool,
    pub publicly_advertisable: bool,
    pub tags: String,
    /// 0 for a top-level pool; a source pool is always shallower than its children.
    pub depth: i32,
    pub created_at: String,
    pub updated_at: String,
    pub utilization_warning_threshold: Option<i32>,
    pub release_cooldown_seconds: Option<i64>,
    pub release_cooldown_mode: Option<String>,
}

/// A pool CIDR row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCidrRow {
    pub id: String,
    pub pool_num: i64,
    pub scope_id: String,
    pub family: i32,
    pub is_top_level: bool,
    pub block: Block,
    pub parent_allocation_id: Option<String>,
    pub created_at: String,
}

/// An allocation row (times in Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationRow {
    pub pool_num: i64,
    pub block: Block,
    /// The `allocate` audit event; the id derives from it unless `legacy_id` is set.
    pub sequence: Option<i64>,
    /// The random id of an allocation made by the oldest provider (before 0.1).
    pub legacy_id: Option<String>,
    pub description: String,
    pub tags: String,
    pub child_pool_cidr_id: Option<String>,
    pub disallowed_cidrs: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub name: Option<String>,
}

/// A reservation row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRow {
    pub pool_num: i64,
    pub name: String,
    pub block: Block,
    pub expires_at: i64,
    pub lost: bool,
}

/// A released block cooling down until `until` (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoolingBlockRow {
    pub pool_num: i64,
    pub block: Block,
    pub until: i64,
}

/// A free block of the allocator's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBlockRow {
    pub pool_num: i64,
    pub block: Block,
}

/// An audit event row (`at` in Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub sequence: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object_id: String,
    pub cidr: Option<String>,
    pub pool_num: Option<i64>,
    pub details: String,
}

/// A whole address space, rows in the order an import inserts them (pools by depth, so that a
/// source pool comes before its children).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The key of the allocation-id permutation: with the sequences it gives every id.
    pub allocation_id_key: Vec<u8>,
    pub ipams: Vec<IpamRow>,
    pub scopes: Vec<ScopeRow>,
    pub pools: Vec<PoolRow>,
    pub pool_cidrs: Vec<PoolCidrRow>,
    pub allocations: Vec<AllocationRow>,
    pub reservations: Vec<ReservationRow>,
    pub cooling_blocks: Vec<CoolingBlockRow>,
    pub free_blocks: Vec<FreeBlockRow>,
    pub audit_events: Vec<AuditRow>,
}

/// How many objects of each kind a snapshot holds (what `ipam copy` reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotCounts {
    pub ipams: usize,
    pub scopes: usize,
    pub pools: usize,
    pub pool_cidrs: usize,
    pub allocations: usize,
    /// Allocations keeping a random id of the oldest provider.
    pub legacy_ids: usize,
    pub reservations: usize,
    pub cooling_blocks: usize,
    pub audit_events: usize,
}

impl Snapshot {
    /// The counts of each kind of object.
    pub fn counts(&self) -> SnapshotCounts {
        SnapshotCounts {
            ipams: self.ipams.len(),
            scopes: self.scopes.len(),
            pools: self.pools.len(),
            pool_cidrs: self.pool_cidrs.len(),
            allocations: self.allocations.len(),
            legacy_ids: self
                .allocations
                .iter()
                .filter(|a| a.legacy_id.is_some())
                .count(),
            reservations: self.reservations.len(),
            cooling_blocks: self.cooling_blocks.len(),
            audit_events: self.audit_events.len(),
        }
    }

    /// The address family of a pool by its key (IPv4 for an unknown key).
    pub fn family_of(&self, pool_num: i64) -> AddressFamily {
        match self.pools.iter().find(|p| p.num == pool_num) {
            Some(pool) if pool.family == 6 => AddressFamily::Ipv6,
            _ => AddressFamily::Ipv4,
        }
    }
}

/// What a database already holds, when an import refuses it (an import needs an empty one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holdings {
    pub ipams: i64,
    pub pools: i64,
    pub allocations: i64,
    pub audit_events: i64,
}

impl Holdings {
    /// True when the database holds nothing an import could clash with.
    pub fn is_empty(&self) -> bool {
        self.ipams == 0 && self.audit_events == 0
    }

    /// The refusal of an import into `database` (as errors name it), saying what it holds and
    /// what to do instead.
    pub fn refusal(&self, database: &str) -> crate::ipam::Error {
        crate::ipam::Error::Storage {
            message: format!(
                "{database} is not empty: it holds {} IPAM(s), {} pool(s), {} allocation(s) and {} audit event(s); nothing was copied. Copy into an empty database: a new SQLite file, or a new PostgreSQL schema (add ?schema=NEW_NAME to the URL) or database",
                self.ipams, self.pools, self.allocations, self.audit_events
            ),
        }
    }
}
