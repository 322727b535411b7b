//! Moving a team from SQLite to PostgreSQL: one operation copies a whole SQLite address space
//! into an empty PostgreSQL schema, in one transaction, with every id unchanged (object ids
//! are copied; allocation ids derive from the allocate events' sequence numbers and the
//! database's key, both copied), so Terraform state made on SQLite plans no changes on
//! PostgreSQL.

use std::path::Path;

use postgres::types::ToSql;
use rusqlite::OpenFlags;

use super::connection::{storage_error, PgFailure, PostgresBackend};
use super::rows::family_num;
use crate::ipam::{AddressFamily, Block, Error, Result};
use crate::store::{SqliteOptions, SqliteStore};

/// What was copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySummary {
    /// IPAMs.
    pub ipams: usize,
    /// Pools.
    pub pools: usize,
    /// Pool CIDRs.
    pub pool_cidrs: usize,
    /// Allocations.
    pub allocations: usize,
    /// Audit events.
    pub audit_events: usize,
}

// --- read from the SQLite file (schema version 2)
const SQLITE_META: &str = "SELECT value FROM meta WHERE name = 'allocation_id_key'";
const SQLITE_LEGACY_IDS: &str = "SELECT count(*) FROM allocations WHERE legacy_id IS NOT NULL";
const SQLITE_IPAMS: &str =
    "SELECT id, description, operating_regions, tags, created_at, updated_at FROM ipams";
const SQLITE_SCOPES: &str = "SELECT id, ipam_id, kind, description, tags, is_default, created_at, \
     updated_at FROM scopes";
const SQLITE_POOLS: &str =
    "SELECT num, id, scope_id, source_pool_id, family, locale, description, \
     min_netmask_length, max_netmask_length, default_netmask_length, allocation_resource_tags, \
     auto_import, publicly_advertisable, tags, depth, created_at, updated_at FROM pools \
     ORDER BY depth, num";
const SQLITE_POOL_CIDRS: &str = "SELECT id, pool_num, scope_id, family, is_top_level, start, \
     prefix_len, parent_allocation_id, created_at FROM pool_cidrs";
const SQLITE_ALLOCATIONS: &str = "SELECT a.pool_num, a.start, a.prefix_len, a.sequence, \
     a.description, a.tags, a.child_pool_cidr_id, a.disallowed_cidrs, a.created_at, \
     a.updated_at, a.name, p.family FROM allocations a JOIN pools p ON p.num = a.pool_num";
const SQLITE_RESERVATIONS: &str =
    "SELECT pool_num, name, start, prefix_len, expires_at, lost FROM reservations";
const SQLITE_FREE_BLOCKS: &str = "SELECT pool_num, prefix_len, start FROM free_blocks";
const SQLITE_AUDIT: &str = "SELECT sequence, at, actor, action, object_id, cidr, pool_num, \
     details FROM audit_events ORDER BY sequence";

// --- write into the PostgreSQL schema
const PG_IS_EMPTY: &str = "SELECT NOT EXISTS (SELECT 1 FROM ipams) AND NOT EXISTS \
     (SELECT 1 FROM audit_events)";
const PG_META: &str = "UPDATE meta SET value = $1 WHERE name = 'allocation_id_key'";
const PG_IPAM: &str = "INSERT INTO ipams (id, description, operating_regions, tags, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
const PG_SCOPE: &str = "INSERT INTO scopes (id, ipam_id, kind, description, tags, is_default, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const PG_POOL: &str = "INSERT INTO pools (num, id, scope_id, source_pool_id, family, locale, \
     description, min_netmask_length, max_netmask_length, default_netmask_length, \
     allocation_resource_tags, auto_import, publicly_advertisable, tags, depth, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";
const PG_POOL_CIDR: &str = "INSERT INTO pool_cidrs (id, pool_num, scope_id, family, is_top_level, \
     start, prefix_len, cidr, parent_allocation_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::cidr, $9, $10)";
const PG_ALLOCATION: &str =
    "INSERT INTO allocations (pool_num, start, prefix_len, cidr, sequence, \
     description, tags, child_pool_cidr_id, disallowed_cidrs, created_at, updated_at, name) \
     VALUES ($1, $2, $3, $4::text::cidr, $5, $6, $7, $8, $9, $10, $11, $12)";
const PG_RESERVATION: &str = "INSERT INTO reservations (pool_num, name, start, prefix_len, \
     expires_at, lost) VALUES ($1, $2, $3, $4, $5, $6)";
const PG_FREE_BLOCK: &str =
    "INSERT INTO free_blocks (pool_num, prefix_len, start) VALUES ($1, $2, $3)";
const PG_AUDIT: &str = "INSERT INTO audit_events (sequence, at, actor, action, object_id, cidr, \
     pool_num, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const PG_SEQUENCES: &str =
    "SELECT setval('pools_num_seq', greatest((SELECT max(num) FROM pools), 1)), \
     setval('audit_sequence', greatest((SELECT max(sequence) FROM audit_events), 1))";

/// A SQLite value as a PostgreSQL parameter of the column's type.
enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Int4(Option<i32>),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl Value {
    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Text(v) => v,
            Value::Int(v) => v,
            Value::Int4(v) => v,
            Value::Bool(v) => v,
            Value::Bytes(v) => v,
        }
    }
}

/// How each SQLite column becomes a parameter.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Int4,
    Bool,
    Bytes,
}

use Kind::*;

fn sqlite_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Storage {
        message: format!("cannot read the SQLite database {}: {e}", path.display()),
    }
}

/// Reads every row of `sql` as values of `kinds`.
fn read(
    conn: &rusqlite::Connection,
    path: &Path,
    sql: &str,
    kinds: &[Kind],
) -> Result<Vec<Vec<Value>>> {
    let mut statement = conn.prepare(sql).map_err(|e| sqlite_error(path, e))?;
    let rows = statement
        .query_map([], |row| {
            kinds
                .iter()
                .enumerate()
                .map(|(i, kind)| {
                    Ok(match kind {
                        Text => Value::Text(row.get(i)?),
                        Int => Value::Int(row.get(i)?),
                        Int4 => Value::Int4(row.get::<_, Option<i64>>(i)?.map(|v| v as i32)),
                        Bool => Value::Bool(row.get(i)?),
                        Bytes => Value::Bytes(row.get(i)?),
                    })
                })
                .collect::<rusqlite::Result<Vec<Value>>>()
        })
        .map_err(|e| sqlite_error(path, e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| sqlite_error(path, e))
}

/// The CIDR text of a block stored as (start bytes, prefix length, family number).
fn cidr_text(start: &Value, prefix_len: &Value, family: &Value) -> String {
    let (Value::Bytes(start), Value::Int4(Some(len)), Value::Int4(Some(family))) =
        (start, prefix_len, family)
    else {
        return String::new();
    };
    let start = <[u8; 16]>::try_from(start.as_slice()).map_or(0, u128::from_be_bytes);
    let family = if *family == family_num(AddressFamily::Ipv6) {
        AddressFamily::Ipv6
    } else {
        AddressFamily::Ipv4
    };
    Block {
        start,
        prefix_len: *len as u8,
    }
    .to_net(family)
    .to_string()
}

/// Copies the SQLite database at `path` (upgraded to the current schema first) into the schema
/// of the PostgreSQL database at `url` (created when missing), which must be empty, in one
/// transaction. Stores opened on `url` before the copy must be opened again.
pub fn copy_sqlite_to_postgres(path: &Path, url: &str) -> Result<CopySummary> {
    PostgresBackend::open(super::PostgresLocation::parse(url)?)?.copy_from_sqlite(path)
}

impl PostgresBackend {
    fn copy_from_sqlite(&self, path: &Path) -> Result<CopySummary> {
        drop(SqliteStore::open(path, SqliteOptions::new("copy"))?);
        let source = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| sqlite_error(path, e))?;
        let legacy: i64 = source
            .query_row(SQLITE_LEGACY_IDS, [], |row| row.get(0))
            .map_err(|e| sqlite_error(path, e))?;
        if legacy > 0 {
            return Err(Error::Storage {
                message: format!(
                    "{} holds {legacy} allocation(s) made by a provider before 0.1 (random ids), which the PostgreSQL schema cannot keep yet; nothing was copied",
                    path.display()
                ),
            });
        }
        let key: Vec<u8> = source
            .query_row(SQLITE_META, [], |row| row.get(0))
            .map_err(|e| sqlite_error(path, e))?;
        let ipams = read(&source, path, SQLITE_IPAMS, &[Text; 6])?;
        let scopes = read(
            &source,
            path,
            SQLITE_SCOPES,
            &[Text, Text, Text, Text, Text, Bool, Text, Text],
        )?;
        let pools = read(
            &source,
            path,
            SQLITE_POOLS,
            &[
                Int, Text, Text, Text, Int4, Text, Text, Int4, Int4, Int4, Text, Bool, Bool, Text,
                Int4, Text, Text,
            ],
        )?;
        let pool_cidrs = read(
            &source,
            path,
            SQLITE_POOL_CIDRS,
            &[Text, Int, Text, Int4, Bool, Bytes, Int4, Text, Text],
        )?;
        let allocations = read(
            &source,
            path,
            SQLITE_ALLOCATIONS,
            &[
                Int, Bytes, Int4, Int, Text, Text, Text, Text, Int, Int, Text, Int4,
            ],
        )?;
        let reservations = read(
            &source,
            path,
            SQLITE_RESERVATIONS,
            &[Int, Text, Bytes, Int4, Int, Bool],
        )?;
        let free_blocks = read(&source, path, SQLITE_FREE_BLOCKS, &[Int, Int4, Bytes])?;
        let audit = read(
            &source,
            path,
            SQLITE_AUDIT,
            &[Int, Int, Text, Text, Text, Text, Int, Text],
        )?;

        let describe = self.describe();
        let fail = |e: postgres::Error| storage_error(&PgFailure::of(&e), &e, &describe);
        let mut conn = self.connect()?;
        let mut tx = conn.client.transaction().map_err(fail)?;
        let empty: bool = tx.query_one(PG_IS_EMPTY, &[]).map_err(fail)?.get(0);
        if !empty {
            return Err(Error::Storage {
                message: format!(
                    "schema \"{}\" of {describe} already holds IPAMs or audit events; copy into an empty schema (e.g. add schema=new_name to the connection string)",
                    self.location.schema
                ),
            });
        }
        tx.execute(PG_META, &[&key]).map_err(fail)?;
        let mut insert = |sql: &str, rows: &[Vec<Value>]| {
            let statement = tx.prepare(sql).map_err(fail)?;
            for row in rows {
                let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Value::param).collect();
                tx.execute(&statement, &params).map_err(fail)?;
            }
            Ok::<_, Error>(())
        };
        insert(PG_IPAM, &ipams)?;
        insert(PG_SCOPE, &scopes)?;
        insert(PG_POOL, &pools)?;
        // parameter order of the PostgreSQL statements: the computed cidr goes last there
        let pool_cidrs: Vec<Vec<Value>> = pool_cidrs
            .into_iter()
            .map(|mut row| {
                let cidr = cidr_text(&row[5], &row[6], &row[3]);
                let tail = row.split_off(7);
                row.push(Value::Text(Some(cidr)));
                row.extend(tail);
                row
            })
            .collect();
        insert(PG_POOL_CIDR, &pool_cidrs)?;
        let allocations: Vec<Vec<Value>> = allocations
            .into_iter()
            .map(|mut row| {
                let family = row.pop().unwrap_or(Value::Int4(Some(4)));
                let cidr = cidr_text(&row[1], &row[2], &family);
                let tail = row.split_off(3);
                row.push(Value::Text(Some(cidr)));
                row.extend(tail);
                row
            })
            .collect();
        insert(PG_ALLOCATION, &allocations)?;
        insert(PG_RESERVATION, &reservations)?;
        insert(PG_FREE_BLOCK, &free_blocks)?;
        insert(PG_AUDIT, &audit)?;
        tx.query_one(PG_SEQUENCES, &[]).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(CopySummary {
            ipams: ipams.len(),
            pools: pools.len(),
            pool_cidrs: pool_cidrs.len(),
            allocations: allocations.len(),
            audit_events: audit.len(),
        })
    }
}
