//! The whole database as a [`Snapshot`]: exported in one read transaction (a WAL snapshot:
//! writers go on), imported into an empty database in one write transaction with every id,
//! time and sequence number unchanged.

use rusqlite::{params, Connection, Row, TransactionBehavior};

use super::connection::SqliteBackend;
use super::rows::{blob, block_cols};
use crate::ipam::{Error, Result};
use crate::store::snapshot::{
    AllocationRow, AuditRow, CoolingBlockRow, FreeBlockRow, Holdings, IpamRow, PoolCidrRow,
    PoolRow, ReservationRow, ScopeRow, Snapshot,
};

// --- export: the shared statements (crate::store::snapshot::export_sql)
use crate::store::snapshot::export_sql::{
    ALLOCATIONS, AUDIT_EVENTS, COOLING_BLOCKS, FREE_BLOCKS, IPAMS, META_KEY, POOLS, POOL_CIDRS,
    RESERVATIONS, SCOPES,
};

// --- import
const HOLDINGS: &str = "SELECT (SELECT count(*) FROM ipams), (SELECT count(*) FROM pools), \
     (SELECT count(*) FROM allocations), (SELECT count(*) FROM audit_events)";
const META_KEY_PUT: &str = "UPDATE meta SET value = ?1 WHERE name = 'allocation_id_key'";
const IPAM_PUT: &str = "INSERT INTO ipams (id, description, operating_regions, tags, \
     created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const SCOPE_PUT: &str = "INSERT INTO scopes (id, ipam_id, kind, description, tags, is_default, \
     created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const POOL_PUT: &str = "INSERT INTO pools (num, id, scope_id, source_pool_id, family, locale, \
     description, min_netmask_length, max_netmask_length, default_netmask_length, \
     allocation_resource_tags, auto_import, publicly_advertisable, tags, depth, created_at, \
     updated_at, utilization_warning_threshold, release_cooldown_seconds, release_cooldown_mode) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20)";
const POOL_CIDR_PUT: &str = "INSERT INTO pool_cidrs (id, pool_num, scope_id, family, \
     is_top_level, start, prefix_len, parent_allocation_id, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const ALLOCATION_PUT: &str = "INSERT INTO allocations (pool_num, start, prefix_len, sequence, \
     legacy_id, description, tags, child_pool_cidr_id, disallowed_cidrs, created_at, \
     updated_at, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
const RESERVATION_PUT: &str = "INSERT INTO reservations (pool_num, name, start, prefix_len, \
     expires_at, lost) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const COOLING_BLOCK_PUT: &str = "INSERT INTO cooling_blocks (pool_num, start, prefix_len, \
     until) VALUES (?1, ?2, ?3, ?4)";
const FREE_BLOCK_PUT: &str =
    "INSERT INTO free_blocks (pool_num, prefix_len, start) VALUES (?1, ?2, ?3)";
const AUDIT_EVENT_PUT: &str = "INSERT INTO audit_events (sequence, at, actor, action, \
     object_id, cidr, pool_num, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

fn all<T>(
    conn: &Connection,
    sql: &str,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], map)?;
    rows.collect()
}

fn export(conn: &Connection) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        allocation_id_key: conn.query_row(META_KEY, [], |row| row.get(0))?,
        ipams: all(conn, IPAMS, |row| {
            Ok(IpamRow {
                id: row.get(0)?,
                description: row.get(1)?,
                operating_regions: row.get(2)?,
                tags: row.get(3)?,
                created_at: row.get(4)?,
                updated_at: row.get(5)?,
            })
        })?,
        scopes: all(conn, SCOPES, |row| {
            Ok(ScopeRow {
                id: row.get(0)?,
                ipam_id: row.get(1)?,
                kind: row.get(2)?,
                description: row.get(3)?,
                tags: row.get(4)?,
                is_default: row.get(5)?,
                created_at: row.get(6)?,
                updated_at: row.get(7)?,
            })
        })?,
        pools: all(conn, POOLS, |row| {
            Ok(PoolRow {
                num: row.get(0)?,
                id: row.get(1)?,
                scope_id: row.get(2)?,
                source_pool_id: row.get(3)?,
                family: row.get(4)?,
                locale: row.get(5)?,
                description: row.get(6)?,
                min_netmask_length: row.get(7)?,
                max_netmask_length: row.get(8)?,
                default_netmask_length: row.get(9)?,
                allocation_resource_tags: row.get(10)?,
                auto_import: row.get(11)?,
                publicly_advertisable: row.get(12)?,
                tags: row.get(13)?,
                depth: row.get(14)?,
                created_at: row.get(15)?,
                updated_at: row.get(16)?,
                utilization_warning_threshold: row.get(17)?,
                release_cooldown_seconds: row.get(18)?,
                release_cooldown_mode: row.get(19)?,
            })
        })?,
        pool_cidrs: all(conn, POOL_CIDRS, |row| {
            Ok(PoolCidrRow {
                id: row.get(0)?,
                pool_num: row.get(1)?,
                scope_id: row.get(2)?,
                family: row.get(3)?,
                is_top_level: row.get(4)?,
                block: block_cols(row, 5, 6)?,
                parent_allocation_id: row.get(7)?,
                created_at: row.get(8)?,
            })
        })?,
        allocations: all(conn, ALLOCATIONS, |row| {
            Ok(AllocationRow {
                pool_num: row.get(0)?,
                block: block_cols(row, 1, 2)?,
                sequence: row.get(3)?,
                legacy_id: row.get(4)?,
                description: row.get(5)?,
                tags: row.get(6)?,
                child_pool_cidr_id: row.get(7)?,
                disallowed_cidrs: row.get(8)?,
                created_at: row.get(9)?,
                updated_at: row.get(10)?,
                name: row.get(11)?,
            })
        })?,
        reservations: all(conn, RESERVATIONS, |row| {
            Ok(ReservationRow {
                pool_num: row.get(0)?,
                name: row.get(1)?,
                block: block_cols(row, 2, 3)?,
                expires_at: row.get(4)?,
                lost: row.get(5)?,
            })
        })?,
        cooling_blocks: all(conn, COOLING_BLOCKS, |row| {
            Ok(CoolingBlockRow {
                pool_num: row.get(0)?,
                block: block_cols(row, 1, 2)?,
                until: row.get(3)?,
            })
        })?,
        free_blocks: all(conn, FREE_BLOCKS, |row| {
            Ok(FreeBlockRow {
                pool_num: row.get(0)?,
                block: block_cols(row, 1, 2)?,
            })
        })?,
        audit_events: all(conn, AUDIT_EVENTS, |row| {
            Ok(AuditRow {
                sequence: row.get(0)?,
                at: row.get(1)?,
                actor: row.get(2)?,
                action: row.get(3)?,
                object_id: row.get(4)?,
                cidr: row.get(5)?,
                pool_num: row.get(6)?,
                details: row.get(7)?,
            })
        })?,
    })
}

fn holdings(conn: &Connection) -> rusqlite::Result<Holdings> {
    conn.query_row(HOLDINGS, [], |row| {
        Ok(Holdings {
            ipams: row.get(0)?,
            pools: row.get(1)?,
            allocations: row.get(2)?,
            audit_events: row.get(3)?,
        })
    })
}

fn import(conn: &Connection, s: &Snapshot) -> rusqlite::Result<()> {
    conn.execute(META_KEY_PUT, [&s.allocation_id_key])?;
    let mut put = conn.prepare(IPAM_PUT)?;
    for r in &s.ipams {
        put.execute(params![
            r.id,
            r.description,
            r.operating_regions,
            r.tags,
            r.created_at,
            r.updated_at
        ])?;
    }
    let mut put = conn.prepare(SCOPE_PUT)?;
    for r in &s.scopes {
        put.execute(params![
            r.id,
            r.ipam_id,
            r.kind,
            r.description,
            r.tags,
            r.is_default,
            r.created_at,
            r.updated_at
        ])?;
    }
    let mut put = conn.prepare(POOL_PUT)?;
    for r in &s.pools {
        put.execute(params![
            r.num,
            r.id,
            r.scope_id,
            r.source_pool_id,
            r.family,
            r.locale,
            r.description,
            r.min_netmask_length,
            r.max_netmask_length,
            r.default_netmask_length,
            r.allocation_resource_tags,
            r.auto_import,
            r.publicly_advertisable,
            r.tags,
            r.depth,
            r.created_at,
            r.updated_at,
            r.utilization_warning_threshold,
            r.release_cooldown_seconds,
            r.release_cooldown_mode
        ])?;
    }
    let mut put = conn.prepare(POOL_CIDR_PUT)?;
    for r in &s.pool_cidrs {
        put.execute(params![
            r.id,
            r.pool_num,
            r.scope_id,
            r.family,
            r.is_top_level,
            &blob(r.block.start)[..],
            r.block.prefix_len,
            r.parent_allocation_id,
            r.created_at
        ])?;
    }
    let mut put = conn.prepare(ALLOCATION_PUT)?;
    for r in &s.allocations {
        put.execute(params![
            r.pool_num,
            &blob(r.block.start)[..],
            r.block.prefix_len,
            r.sequence,
            r.legacy_id,
            r.description,
            r.tags,
            r.child_pool_cidr_id,
            r.disallowed_cidrs,
            r.created_at,
            r.updated_at,
            r.name
        ])?;
    }
    let mut put = conn.prepare(RESERVATION_PUT)?;
    for r in &s.reservations {
        put.execute(params![
            r.pool_num,
            r.name,
            &blob(r.block.start)[..],
            r.block.prefix_len,
            r.expires_at,
            r.lost
        ])?;
    }
    let mut put = conn.prepare(COOLING_BLOCK_PUT)?;
    for r in &s.cooling_blocks {
        put.execute(params![
            r.pool_num,
            &blob(r.block.start)[..],
            r.block.prefix_len,
            r.until
        ])?;
    }
    let mut put = conn.prepare(FREE_BLOCK_PUT)?;
    for r in &s.free_blocks {
        put.execute(params![
            r.pool_num,
            r.block.prefix_len,
            &blob(r.block.start)[..]
        ])?;
    }
    let mut put = conn.prepare(AUDIT_EVENT_PUT)?;
    for r in &s.audit_events {
        put.execute(params![
            r.sequence,
            r.at,
            r.actor,
            r.action,
            r.object_id,
            r.cidr,
            r.pool_num,
            r.details
        ])?;
    }
    Ok(())
}

impl SqliteBackend {
    /// The whole database, read in one read transaction: the state when it began, while
    /// writers go on.
    pub fn export_snapshot(&self) -> Result<Snapshot> {
        let conn = self.lock();
        let fail = |e: rusqlite::Error| Error::Storage {
            message: format!("cannot read {}: {e}", self.path().display()),
        };
        let tx = conn.unchecked_transaction().map_err(fail)?;
        let snapshot = export(&tx).map_err(fail)?;
        tx.rollback().map_err(fail)?;
        Ok(snapshot)
    }

    /// Writes `snapshot` into this database, which must hold no IPAM and no audit event, in one
    /// transaction, every id, time and sequence number unchanged. Stores opened on the file
    /// before must be opened again (the allocation-id key changed).
    pub fn import_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        if let Some(reason) = &self.read_only {
            return Err(Error::Storage {
                message: format!("cannot copy into {}: {reason}", self.path().display()),
            });
        }
        let database = self.path().display().to_string();
        let fail = |e: rusqlite::Error| Error::Storage {
            message: format!("cannot copy into {database}: {e}"),
        };
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let held = holdings(&tx).map_err(fail)?;
        if !held.is_empty() {
            return Err(held.refusal(&database));
        }
        import(&tx, snapshot).map_err(fail)?;
        tx.commit().map_err(fail)
    }
}
