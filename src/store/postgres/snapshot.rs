//! The whole schema as a [`Snapshot`]: exported in one `REPEATABLE READ READ ONLY` transaction
//! (one consistent view while writers go on), imported into an empty schema in one
//! transaction with every id, time and sequence number unchanged, then the schema's own
//! sequences moved past the copied numbers.

use postgres::Row;

use super::client::PgClientTransaction;

use super::connection::{storage_error, PgFailure, PostgresBackend};
use super::rows::bytes;
use crate::ipam::{Block, Error, Result};
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
/// Waits for the writers of the schema to end and keeps new ones out until the import ends:
/// every write transaction holds this lock (the audit lock, `{lock}`) in shared mode.
const IMPORT_LOCK: &str = "SELECT pg_advisory_xact_lock({lock})";
const HOLDINGS: &str = "SELECT (SELECT count(*) FROM ipams), (SELECT count(*) FROM pools), \
     (SELECT count(*) FROM allocations), (SELECT count(*) FROM audit_events)";
const META_KEY_PUT: &str = "UPDATE meta SET value = $1 WHERE name = 'allocation_id_key'";
const IPAM_PUT: &str = "INSERT INTO ipams (id, description, operating_regions, tags, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
const SCOPE_PUT: &str = "INSERT INTO scopes (id, ipam_id, kind, description, tags, is_default, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const POOL_PUT: &str = "INSERT INTO pools (num, id, scope_id, source_pool_id, family, locale, \
     description, min_netmask_length, max_netmask_length, default_netmask_length, \
     allocation_resource_tags, auto_import, publicly_advertisable, tags, depth, created_at, \
     updated_at, utilization_warning_threshold, release_cooldown_seconds, release_cooldown_mode) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19, $20)";
const POOL_CIDR_PUT: &str = "INSERT INTO pool_cidrs (id, pool_num, scope_id, family, \
     is_top_level, start, prefix_len, cidr, parent_allocation_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::cidr, $9, $10)";
const ALLOCATION_PUT: &str = "INSERT INTO allocations (pool_num, start, prefix_len, cidr, \
     sequence, legacy_id, description, tags, child_pool_cidr_id, disallowed_cidrs, created_at, \
     updated_at, name) \
     VALUES ($1, $2, $3, $4::text::cidr, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
const RESERVATION_PUT: &str = "INSERT INTO reservations (pool_num, name, start, prefix_len, \
     expires_at, lost) VALUES ($1, $2, $3, $4, $5, $6)";
const COOLING_BLOCK_PUT: &str = "INSERT INTO cooling_blocks (pool_num, start, prefix_len, \
     until) VALUES ($1, $2, $3, $4)";
const FREE_BLOCK_PUT: &str =
    "INSERT INTO free_blocks (pool_num, prefix_len, start) VALUES ($1, $2, $3)";
const AUDIT_EVENT_PUT: &str = "INSERT INTO audit_events (sequence, at, actor, action, \
     object_id, cidr, pool_num, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// The next pool key and audit sequence number come after the copied ones (pool keys after
/// those of deleted pools too, which old audit events still name).
const SEQUENCES_PAST_COPY: &str = "SELECT \
     setval('pools_num_seq', greatest((SELECT max(num) FROM pools), \
     (SELECT max(pool_num) FROM audit_events), 0) + 1, false), \
     setval('audit_sequence', coalesce((SELECT max(sequence) FROM audit_events), 0) + 1, false)";

type Fail<'a> = &'a dyn Fn(postgres::Error) -> Error;

fn all<T>(
    client: &mut PgClientTransaction<'_>,
    sql: &str,
    fail: Fail<'_>,
    map: impl Fn(&Row) -> std::result::Result<T, postgres::Error>,
) -> Result<Vec<T>> {
    client
        .query(sql, &[])
        .map_err(fail)?
        .iter()
        .map(|row| map(row).map_err(fail))
        .collect()
}

fn block(row: &Row, start: usize, len: usize) -> std::result::Result<Block, postgres::Error> {
    let start: Vec<u8> = row.try_get(start)?;
    let prefix_len: i32 = row.try_get(len)?;
    Ok(Block {
        start: <[u8; 16]>::try_from(start.as_slice()).map_or(0, u128::from_be_bytes),
        prefix_len: u8::try_from(prefix_len).unwrap_or(0),
    })
}

fn export(client: &mut PgClientTransaction<'_>, fail: Fail<'_>) -> Result<Snapshot> {
    Ok(Snapshot {
        allocation_id_key: client
            .query_one(META_KEY, &[])
            .and_then(|row| row.try_get(0))
            .map_err(fail)?,
        ipams: all(client, IPAMS, fail, |row| {
            Ok(IpamRow {
                id: row.try_get(0)?,
                description: row.try_get(1)?,
                operating_regions: row.try_get(2)?,
                tags: row.try_get(3)?,
                created_at: row.try_get(4)?,
                updated_at: row.try_get(5)?,
            })
        })?,
        scopes: all(client, SCOPES, fail, |row| {
            Ok(ScopeRow {
                id: row.try_get(0)?,
                ipam_id: row.try_get(1)?,
                kind: row.try_get(2)?,
                description: row.try_get(3)?,
                tags: row.try_get(4)?,
                is_default: row.try_get(5)?,
                created_at: row.try_get(6)?,
                updated_at: row.try_get(7)?,
            })
        })?,
        pools: all(client, POOLS, fail, |row| {
            Ok(PoolRow {
                num: row.try_get(0)?,
                id: row.try_get(1)?,
                scope_id: row.try_get(2)?,
                source_pool_id: row.try_get(3)?,
                family: row.try_get(4)?,
                locale: row.try_get(5)?,
                description: row.try_get(6)?,
                min_netmask_length: row.try_get(7)?,
                max_netmask_length: row.try_get(8)?,
                default_netmask_length: row.try_get(9)?,
                allocation_resource_tags: row.try_get(10)?,
                auto_import: row.try_get(11)?,
                publicly_advertisable: row.try_get(12)?,
                tags: row.try_get(13)?,
                depth: row.try_get(14)?,
                created_at: row.try_get(15)?,
                updated_at: row.try_get(16)?,
                utilization_warning_threshold: row.try_get(17)?,
                release_cooldown_seconds: row.try_get(18)?,
                release_cooldown_mode: row.try_get(19)?,
            })
        })?,
        pool_cidrs: all(client, POOL_CIDRS, fail, |row| {
            Ok(PoolCidrRow {
                id: row.try_get(0)?,
                pool_num: row.try_get(1)?,
                scope_id: row.try_get(2)?,
                family: row.try_get(3)?,
                is_top_level: row.try_get(4)?,
                block: block(row, 5, 6)?,
                parent_allocation_id: row.try_get(7)?,
                created_at: row.try_get(8)?,
            })
        })?,
        allocations: all(client, ALLOCATIONS, fail, |row| {
            Ok(AllocationRow {
                pool_num: row.try_get(0)?,
                block: block(row, 1, 2)?,
                sequence: row.try_get(3)?,
                legacy_id: row.try_get(4)?,
                description: row.try_get(5)?,
                tags: row.try_get(6)?,
                child_pool_cidr_id: row.try_get(7)?,
                disallowed_cidrs: row.try_get(8)?,
                created_at: row.try_get(9)?,
                updated_at: row.try_get(10)?,
                name: row.try_get(11)?,
            })
        })?,
        reservations: all(client, RESERVATIONS, fail, |row| {
            Ok(ReservationRow {
                pool_num: row.try_get(0)?,
                name: row.try_get(1)?,
                block: block(row, 2, 3)?,
                expires_at: row.try_get(4)?,
                lost: row.try_get(5)?,
            })
        })?,
        cooling_blocks: all(client, COOLING_BLOCKS, fail, |row| {
            Ok(CoolingBlockRow {
                pool_num: row.try_get(0)?,
                block: block(row, 1, 2)?,
                until: row.try_get(3)?,
            })
        })?,
        free_blocks: all(client, FREE_BLOCKS, fail, |row| {
            Ok(FreeBlockRow {
                pool_num: row.try_get(0)?,
                block: block(row, 1, 2)?,
            })
        })?,
        audit_events: all(client, AUDIT_EVENTS, fail, |row| {
            Ok(AuditRow {
                sequence: row.try_get(0)?,
                at: row.try_get(1)?,
                actor: row.try_get(2)?,
                action: row.try_get(3)?,
                object_id: row.try_get(4)?,
                cidr: row.try_get(5)?,
                pool_num: row.try_get(6)?,
                details: row.try_get(7)?,
            })
        })?,
    })
}

fn import(
    client: &mut PgClientTransaction<'_>,
    s: &Snapshot,
) -> std::result::Result<(), postgres::Error> {
    client.execute(META_KEY_PUT, &[&s.allocation_id_key])?;
    let put = client.prepare(IPAM_PUT)?;
    for r in &s.ipams {
        client.execute(
            &put,
            &[
                &r.id,
                &r.description,
                &r.operating_regions,
                &r.tags,
                &r.created_at,
                &r.updated_at,
            ],
        )?;
    }
    let put = client.prepare(SCOPE_PUT)?;
    for r in &s.scopes {
        client.execute(
            &put,
            &[
                &r.id,
                &r.ipam_id,
                &r.kind,
                &r.description,
                &r.tags,
                &r.is_default,
                &r.created_at,
                &r.updated_at,
            ],
        )?;
    }
    let put = client.prepare(POOL_PUT)?;
    for r in &s.pools {
        client.execute(
            &put,
            &[
                &r.num,
                &r.id,
                &r.scope_id,
                &r.source_pool_id,
                &r.family,
                &r.locale,
                &r.description,
                &r.min_netmask_length,
                &r.max_netmask_length,
                &r.default_netmask_length,
                &r.allocation_resource_tags,
                &r.auto_import,
                &r.publicly_advertisable,
                &r.tags,
                &r.depth,
                &r.created_at,
                &r.updated_at,
                &r.utilization_warning_threshold,
                &r.release_cooldown_seconds,
                &r.release_cooldown_mode,
            ],
        )?;
    }
    let put = client.prepare(POOL_CIDR_PUT)?;
    for r in &s.pool_cidrs {
        let family = s.family_of(r.pool_num);
        client.execute(
            &put,
            &[
                &r.id,
                &r.pool_num,
                &r.scope_id,
                &r.family,
                &r.is_top_level,
                &bytes(r.block.start),
                &i32::from(r.block.prefix_len),
                &r.block.to_net(family).to_string(),
                &r.parent_allocation_id,
                &r.created_at,
            ],
        )?;
    }
    let put = client.prepare(ALLOCATION_PUT)?;
    for r in &s.allocations {
        let family = s.family_of(r.pool_num);
        client.execute(
            &put,
            &[
                &r.pool_num,
                &bytes(r.block.start),
                &i32::from(r.block.prefix_len),
                &r.block.to_net(family).to_string(),
                &r.sequence,
                &r.legacy_id,
                &r.description,
                &r.tags,
                &r.child_pool_cidr_id,
                &r.disallowed_cidrs,
                &r.created_at,
                &r.updated_at,
                &r.name,
            ],
        )?;
    }
    let put = client.prepare(RESERVATION_PUT)?;
    for r in &s.reservations {
        client.execute(
            &put,
            &[
                &r.pool_num,
                &r.name,
                &bytes(r.block.start),
                &i32::from(r.block.prefix_len),
                &r.expires_at,
                &r.lost,
            ],
        )?;
    }
    let put = client.prepare(COOLING_BLOCK_PUT)?;
    for r in &s.cooling_blocks {
        client.execute(
            &put,
            &[
                &r.pool_num,
                &bytes(r.block.start),
                &i32::from(r.block.prefix_len),
                &r.until,
            ],
        )?;
    }
    let put = client.prepare(FREE_BLOCK_PUT)?;
    for r in &s.free_blocks {
        client.execute(
            &put,
            &[
                &r.pool_num,
                &i32::from(r.block.prefix_len),
                &bytes(r.block.start),
            ],
        )?;
    }
    let put = client.prepare(AUDIT_EVENT_PUT)?;
    for r in &s.audit_events {
        client.execute(
            &put,
            &[
                &r.sequence,
                &r.at,
                &r.actor,
                &r.action,
                &r.object_id,
                &r.cidr,
                &r.pool_num,
                &r.details,
            ],
        )?;
    }
    client.query_one(SEQUENCES_PAST_COPY, &[])?;
    Ok(())
}

impl PostgresBackend {
    /// The whole schema, read in one `REPEATABLE READ READ ONLY` transaction: the state at its
    /// first statement, while writers go on.
    pub fn export_snapshot(&self) -> Result<Snapshot> {
        let describe = self.describe();
        let fail = |e: postgres::Error| storage_error(&PgFailure::of(&e), &e, &describe);
        let mut conn = self.connect()?;
        let mut tx = conn
            .client
            .transaction_as("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(fail)?;
        let snapshot = export(&mut tx, &fail)?;
        tx.rollback().map_err(fail)?;
        Ok(snapshot)
    }

    /// Writes `snapshot` into this schema, which must hold no IPAM and no audit event, in one
    /// transaction, every id, time and sequence number unchanged. Stores opened on the schema
    /// before must be opened again (the allocation-id key changed).
    pub fn import_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let describe = self.describe();
        let fail = |e: postgres::Error| storage_error(&PgFailure::of(&e), &e, &describe);
        let mut conn = self.connect()?;
        let mut tx = conn.client.transaction().map_err(fail)?;
        tx.execute(
            &IMPORT_LOCK.replace("{lock}", &self.audit_lock.to_string()),
            &[],
        )
        .map_err(fail)?;
        let held = tx
            .query_one(HOLDINGS, &[])
            .and_then(|row| {
                Ok(Holdings {
                    ipams: row.try_get(0)?,
                    pools: row.try_get(1)?,
                    allocations: row.try_get(2)?,
                    audit_events: row.try_get(3)?,
                })
            })
            .map_err(fail)?;
        if !held.is_empty() {
            let database = format!("schema \"{}\" of {describe}", self.location.schema);
            return Err(held.refusal(&database));
        }
        import(&mut tx, snapshot).map_err(fail)?;
        tx.commit().map_err(fail)
    }
}
