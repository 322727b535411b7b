//! The types of the reads an operator needs beyond what Terraform does: the whole hierarchy
//! with its usage in one consistent state, audit queries, backups (used by the `ipam` command).

use crate::ipam::{Ipam, Pool, PoolCidrUsage, Scope};

/// Every IPAM, scope and pool with its usage, read in one transaction (one consistent state,
/// even while allocations are being written).
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// All IPAMs, ordered by id.
    pub ipams: Vec<Ipam>,
    /// All scopes, ordered by IPAM, then id.
    pub scopes: Vec<Scope>,
    /// All pools, ordered by id, each with its CIDRs.
    pub pools: Vec<PoolInventory>,
}

/// A pool with its CIDRs, their usage and allocation counts.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolInventory {
    /// The pool.
    pub pool: Pool,
    /// Its CIDRs in address order.
    pub cidrs: Vec<PoolCidrInventory>,
}

/// A pool CIDR's usage and the number of allocations (child-pool CIDRs included) inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolCidrInventory {
    /// The CIDR with its address counts.
    pub usage: PoolCidrUsage,
    /// Allocations lying in the CIDR.
    pub allocation_count: u64,
}

/// Which audit events [`super::Store::audit_query`] returns; every given filter must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events with a greater sequence number.
    pub after_sequence: i64,
    /// Only events at or after this Unix time in milliseconds.
    pub since_millis: Option<i64>,
    /// Only events about this pool: the pool itself, its CIDRs and its allocations.
    pub pool_id: Option<String>,
    /// Only events about this object.
    pub object_id: Option<String>,
    /// Only events by this actor.
    pub actor: Option<String>,
    /// Only events of this action (`allocate`, `release`, `provision`, …).
    pub action: Option<String>,
    /// At most this many events: the newest ones.
    pub limit: usize,
}

impl Default for AuditFilter {
    fn default() -> AuditFilter {
        AuditFilter {
            after_sequence: 0,
            since_millis: None,
            pool_id: None,
            object_id: None,
            actor: None,
            action: None,
            limit: usize::MAX,
        }
    }
}

/// How far a backup has got, in the backend's own units (pages for SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupProgress {
    /// Units copied.
    pub done: u64,
    /// Units in all.
    pub total: u64,
}
