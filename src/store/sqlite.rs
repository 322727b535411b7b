//! The SQLite backend.
//!
//! Durability and concurrency choices:
//! - WAL journal, so readers never block the writer; `synchronous = FULL`, so a committed
//!   allocation survives power loss: an allocation Terraform has recorded in its state and the
//!   database then forgets would later be handed out twice. It costs one extra fsync per commit.
//! - Every mutation is one `BEGIN IMMEDIATE` transaction, including its audit event: the write
//!   lock is taken before anything is read, so checks and writes see the same database, across
//!   processes too. A busy database is waited for (`busy_timeout`, 30 s by default) and the
//!   whole transaction retried a few times, so no busy/locked error reaches a caller.
//! - One connection behind a mutex per store. SQLite lets one writer in at a time anyway, and
//!   every operation is a few indexed look-ups (well under a millisecond without the fsync), so
//!   a pool of connections would buy little for the provider's ~10 concurrent calls and would
//!   multiply the statement caches.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ipnet::IpNet;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Type;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};
use serde_json::json;

use super::schema::*;
use super::util::{format_millis, new_id, now_millis, SequenceIds};
use super::{AuditFilter, BackupProgress, Inventory, PoolCidrInventory, PoolInventory, Store};
use crate::ipam::allocator::{claim, find_best_fit, find_containing_free, release, FreeBlockIndex};
use crate::ipam::cidr::{check_network, private_use_range_overlapping};
use crate::ipam::{
    missing_required_tags, AddressFamily, Allocation, AllocationRequest, AllocationUpdate,
    AuditEvent, Block, Error, Ipam, IpamUpdate, NetmaskRule, NewIpam, NewPool, NewScope,
    ObjectKind, Pool, PoolCidr, PoolCidrRequest, PoolCidrUsage, PoolFilter, PoolUpdate, Result,
    Scope, ScopeKind, ScopeUpdate, Tags,
};

/// How many times a whole transaction is retried when SQLite still reports busy/locked after
/// its busy timeout (e.g. WAL recovery after a crash).
const BUSY_RETRIES: u32 = 8;

/// Page size of new databases. Every commit writes each page it changed to the WAL and syncs it;
/// an allocation changes one page in each of four b-trees (allocations, their id index, free
/// blocks, audit events), so smaller pages mean fewer bytes to sync per allocation. Measured on
/// the benchmark machine: median allocate-next 270 µs with 1 KiB pages, 330 µs with 2 KiB,
/// 320–470 µs with 4 KiB (docs/performance.md).
const PAGE_SIZE: u32 = 1024;

/// Options for [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The name recorded in audit events.
    pub actor: String,
    /// How long to wait for another process's write transaction before retrying.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// Options with this actor and a 30 s busy timeout.
    pub fn new(actor: impl Into<String>) -> SqliteOptions {
        SqliteOptions {
            actor: actor.into(),
            busy_timeout: Duration::from_secs(30),
        }
    }
}

/// The SQLite [`Store`]: one database file, shareable by many processes.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    actor: String,
    path: PathBuf,
    ids: SequenceIds,
}

/// Errors inside the store: domain errors pass through, SQLite errors are kept for the retry
/// decision and mapped to [`Error::Storage`] at the boundary.
enum Internal {
    Domain(Error),
    Sql(rusqlite::Error),
}

impl From<Error> for Internal {
    fn from(e: Error) -> Internal {
        Internal::Domain(e)
    }
}

impl From<rusqlite::Error> for Internal {
    fn from(e: rusqlite::Error) -> Internal {
        Internal::Sql(e)
    }
}

type R<T> = std::result::Result<T, Internal>;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn to_public(e: Internal) -> Error {
    match e {
        Internal::Domain(e) => e,
        Internal::Sql(e) if is_busy(&e) => Error::Storage {
            message: format!("the database stayed busy through every retry ({e}); another process holds a write transaction for too long"),
        },
        Internal::Sql(e) => Error::Storage { message: e.to_string() },
    }
}

fn sql_to_domain(e: rusqlite::Error) -> Error {
    to_public(Internal::Sql(e))
}

fn storage(message: String) -> Internal {
    Internal::Domain(Error::Storage { message })
}

/// 16-byte big-endian form of an address: BLOB order is address order.
fn blob(value: u128) -> [u8; 16] {
    value.to_be_bytes()
}

fn u128_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u128> {
    let bytes = row.get_ref(idx)?.as_blob()?;
    let array: [u8; 16] = bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Blob,
            "address blob is not 16 bytes".into(),
        )
    })?;
    Ok(u128::from_be_bytes(array))
}

fn block_cols(row: &Row<'_>, start: usize, len: usize) -> rusqlite::Result<Block> {
    Ok(Block {
        start: u128_col(row, start)?,
        prefix_len: row.get(len)?,
    })
}

fn family_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<AddressFamily> {
    match row.get::<_, i64>(idx)? {
        4 => Ok(AddressFamily::Ipv4),
        6 => Ok(AddressFamily::Ipv6),
        other => Err(rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Integer,
            format!("unknown address family {other}").into(),
        )),
    }
}

fn family_num(family: AddressFamily) -> i64 {
    match family {
        AddressFamily::Ipv4 => 4,
        AddressFamily::Ipv6 => 6,
    }
}

fn tags_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Tags> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn strings_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn cidrs_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<IpNet>> {
    strings_col(row, idx)?
        .iter()
        .map(|text| {
            text.parse::<IpNet>().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
            })
        })
        .collect()
}

fn cidrs_json(cidrs: &[IpNet]) -> String {
    let texts: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
    strings_json(&texts)
}

fn tags_json(tags: &Tags) -> String {
    serde_json::to_string(tags).expect("string maps serialize")
}

fn strings_json(values: &[String]) -> String {
    serde_json::to_string(values).expect("string lists serialize")
}

fn normalize_regions(regions: &[String]) -> Vec<String> {
    let mut regions: Vec<String> = regions.to_vec();
    regions.sort();
    regions.dedup();
    regions
}

/// A pool with its integer key.
#[derive(Debug, Clone)]
struct PoolRow {
    num: i64,
    pool: Pool,
}

impl PoolRow {
    fn family(&self) -> AddressFamily {
        self.pool.address_family
    }
}

fn pool_row(row: &Row<'_>) -> rusqlite::Result<PoolRow> {
    Ok(PoolRow {
        num: row.get(0)?,
        pool: Pool {
            id: row.get(1)?,
            scope_id: row.get(2)?,
            source_pool_id: row.get(3)?,
            address_family: family_col(row, 4)?,
            locale: row.get(5)?,
            description: row.get(6)?,
            netmask: NetmaskRule {
                min: row.get(7)?,
                max: row.get(8)?,
                default: row.get(9)?,
            },
            allocation_resource_tags: tags_col(row, 10)?,
            auto_import: row.get(11)?,
            publicly_advertisable: row.get(12)?,
            tags: tags_col(row, 13)?,
            depth: row.get(14)?,
            created_at: row.get(15)?,
            updated_at: row.get(16)?,
        },
    })
}

#[derive(Debug, Clone)]
struct PoolCidrRow {
    pool_num: i64,
    family: AddressFamily,
    block: Block,
    pool_cidr: PoolCidr,
}

fn pool_cidr_row(row: &Row<'_>) -> rusqlite::Result<PoolCidrRow> {
    let family = family_col(row, 2)?;
    let block = block_cols(row, 3, 4)?;
    Ok(PoolCidrRow {
        pool_num: row.get(7)?,
        family,
        block,
        pool_cidr: PoolCidr {
            id: row.get(0)?,
            pool_id: row.get(1)?,
            cidr: block.to_net(family),
            parent_allocation_id: row.get(5)?,
            created_at: row.get(6)?,
        },
    })
}

#[derive(Debug, Clone)]
struct AllocationRow {
    pool_num: i64,
    family: AddressFamily,
    block: Block,
    allocation: Allocation,
}

/// An allocation by its key and the sequence its id names (`SequenceIds`).
fn allocation_by_key_sql() -> String {
    format!(
        "{ALLOCATION_SELECT} WHERE a.pool_num = ?1 AND a.start = ?2 AND a.sequence = ?3 \
         AND a.legacy_id IS NULL"
    )
}

fn allocation_row(row: &Row<'_>) -> rusqlite::Result<AllocationRow> {
    let family = family_col(row, 2)?;
    let block = block_cols(row, 3, 4)?;
    Ok(AllocationRow {
        pool_num: row.get(10)?,
        family,
        block,
        allocation: Allocation {
            id: row.get(0)?,
            pool_id: row.get(1)?,
            cidr: block.to_net(family),
            description: row.get(5)?,
            tags: tags_col(row, 6)?,
            child_pool_cidr_id: row.get(7)?,
            disallowed_cidrs: cidrs_col(row, 11)?,
            created_at: format_millis(row.get(8)?),
            updated_at: format_millis(row.get(9)?),
        },
    })
}

fn ipam_row(row: &Row<'_>) -> rusqlite::Result<Ipam> {
    Ok(Ipam {
        id: row.get(0)?,
        description: row.get(1)?,
        operating_regions: strings_col(row, 2)?,
        tags: tags_col(row, 3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        private_default_scope_id: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
        public_default_scope_id: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
        scope_count: row.get::<_, i64>(8)? as u64,
    })
}

fn scope_row(row: &Row<'_>) -> rusqlite::Result<Scope> {
    let kind: String = row.get(2)?;
    Ok(Scope {
        id: row.get(0)?,
        ipam_id: row.get(1)?,
        kind: if kind == "public" {
            ScopeKind::Public
        } else {
            ScopeKind::Private
        },
        description: row.get(3)?,
        tags: tags_col(row, 4)?,
        is_default: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        pool_count: row.get::<_, i64>(8)? as u64,
    })
}

fn audit_row(row: &Row<'_>) -> rusqlite::Result<AuditEvent> {
    let cidr: Option<String> = row.get(5)?;
    Ok(AuditEvent {
        sequence: row.get(0)?,
        at: format_millis(row.get(1)?),
        actor: row.get(2)?,
        action: row.get(3)?,
        object_id: row.get(4)?,
        cidr: cidr.and_then(|c| c.parse().ok()),
        details: row.get(6)?,
    })
}

/// The free-space index of one pool, as the `free_blocks` table.
struct SqlFreeIndex<'c> {
    conn: &'c Connection,
    pool_num: i64,
}

impl SqlFreeIndex<'_> {
    fn one(&self, sql: &str, params: impl rusqlite::Params) -> Result<Option<Block>> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_row(params, |row| block_cols(row, 0, 1))
                    .optional()
            })
            .map_err(sql_to_domain)
    }
}

impl FreeBlockIndex for SqlFreeIndex<'_> {
    fn insert(&mut self, block: Block) -> Result<()> {
        self.conn
            .prepare_cached(FREE_INSERT)
            .and_then(|mut stmt| {
                stmt.execute(params![
                    self.pool_num,
                    &blob(block.start)[..],
                    block.prefix_len
                ])
            })
            .map(|_| ())
            .map_err(sql_to_domain)
    }

    fn remove(&mut self, block: Block) -> Result<()> {
        self.conn
            .prepare_cached(FREE_DELETE)
            .and_then(|mut stmt| {
                stmt.execute(params![
                    self.pool_num,
                    block.prefix_len,
                    &blob(block.start)[..]
                ])
            })
            .map(|_| ())
            .map_err(sql_to_domain)
    }

    fn contains(&mut self, block: Block) -> Result<bool> {
        self.conn
            .prepare_cached(FREE_EXISTS)
            .and_then(|mut stmt| {
                stmt.exists(params![
                    self.pool_num,
                    block.prefix_len,
                    &blob(block.start)[..]
                ])
            })
            .map_err(sql_to_domain)
    }

    fn next_best_fit(&mut self, max_len: u8, after: Option<Block>) -> Result<Option<Block>> {
        match after {
            None => self.one(FREE_BEST_FIT, params![self.pool_num, max_len]),
            Some(after) => {
                let same = self.one(
                    FREE_BEST_FIT_SAME_LEN_AFTER,
                    params![self.pool_num, after.prefix_len, &blob(after.start)[..]],
                )?;
                match same {
                    Some(block) => Ok(Some(block)),
                    None => self.one(
                        FREE_BEST_FIT_SHORTER,
                        params![self.pool_num, after.prefix_len],
                    ),
                }
            }
        }
    }

    fn next_first_fit(&mut self, max_len: u8, after: Option<u128>) -> Result<Option<Block>> {
        // the empty blob sorts before every address
        let after = after.map(|a| blob(a).to_vec()).unwrap_or_default();
        self.one(FREE_FIRST_FIT, params![self.pool_num, max_len, after])
    }

    fn largest(&mut self) -> Result<Option<Block>> {
        let len: Option<u8> = self
            .conn
            .prepare_cached(FREE_SHORTEST_LEN)
            .and_then(|mut stmt| stmt.query_row(params![self.pool_num], |row| row.get(0)))
            .map_err(sql_to_domain)?;
        match len {
            None => Ok(None),
            Some(len) => self.one(FREE_LOWEST_OF_LEN, params![self.pool_num, len]),
        }
    }
}

/// The inputs of one allocation, as the allocation and the pool-CIDR carve share them.
struct AllocationSpec<'a> {
    netmask_length: Option<u8>,
    cidr: Option<IpNet>,
    disallowed: &'a [IpNet],
    /// The allocation's tags, checked against the pool's required tags; `None` for a child
    /// pool's CIDR, which carries no resource tags.
    tags: Option<&'a Tags>,
}

enum CidrSource {
    TopLevel,
    Parent { parent: Box<PoolRow>, free: Block },
}

struct PoolCidrPlan {
    target: Block,
    source: CidrSource,
}

/// An allocation found inside a pool CIDR.
struct InsideAllocation {
    id: String,
    block: Block,
    child_pool_cidr_id: Option<String>,
}

/// One transaction's view: the connection (inside the transaction), the actor, the time (Unix
/// milliseconds and as text) and the allocation ids of this database.
struct Tx<'c> {
    conn: &'c Connection,
    actor: &'c str,
    now_ms: i64,
    now: String,
    ids: SequenceIds,
}

impl<'c> Tx<'c> {
    fn index(&self, pool_num: i64) -> SqlFreeIndex<'c> {
        SqlFreeIndex {
            conn: self.conn,
            pool_num,
        }
    }

    fn audit(
        &self,
        action: &str,
        object_id: &str,
        cidr: Option<IpNet>,
        details: serde_json::Value,
    ) -> R<()> {
        self.audit_event(None, action, object_id, cidr, None, details)
    }

    /// Appends an audit event; `sequence` is given only for allocate events (see `SequenceIds`),
    /// `pool_num` for events about allocations.
    fn audit_event(
        &self,
        sequence: Option<i64>,
        action: &str,
        object_id: &str,
        cidr: Option<IpNet>,
        pool_num: Option<i64>,
        details: serde_json::Value,
    ) -> R<()> {
        self.conn.prepare_cached(AUDIT_INSERT)?.execute(params![
            sequence,
            self.now_ms,
            self.actor,
            action,
            object_id,
            cidr.map(|c| c.to_string()),
            pool_num,
            details.to_string()
        ])?;
        Ok(())
    }

    /// The one row of `select` whose `column` is `id`, or `NotFound` for a `kind`.
    fn by_id<T>(
        &self,
        select: &str,
        column: &str,
        kind: ObjectKind,
        id: &str,
        row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> R<T> {
        let sql = format!("{select} WHERE {column} = ?1");
        self.conn
            .prepare_cached(&sql)?
            .query_row([id], row)
            .optional()?
            .ok_or_else(|| Error::not_found(kind, id).into())
    }

    fn ipam(&self, id: &str) -> R<Ipam> {
        self.by_id(IPAM_SELECT, "i.id", ObjectKind::Ipam, id, ipam_row)
    }

    fn scope(&self, id: &str) -> R<Scope> {
        self.by_id(SCOPE_SELECT, "s.id", ObjectKind::Scope, id, scope_row)
    }

    fn pool(&self, id: &str) -> R<PoolRow> {
        self.by_id(POOL_SELECT, "id", ObjectKind::Pool, id, pool_row)
    }

    fn pool_cidr(&self, id: &str) -> R<PoolCidrRow> {
        self.by_id(
            POOL_CIDR_SELECT,
            "c.id",
            ObjectKind::PoolCidr,
            id,
            pool_cidr_row,
        )
    }

    fn pool_cidrs_of(&self, pool_num: i64) -> R<Vec<PoolCidrRow>> {
        let sql = format!("{POOL_CIDR_SELECT} WHERE c.pool_num = ?1 ORDER BY c.start");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map([pool_num], pool_cidr_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn pool_cidr_nets(&self, pool: &PoolRow) -> R<Vec<IpNet>> {
        Ok(self
            .pool_cidrs_of(pool.num)?
            .into_iter()
            .map(|c| c.pool_cidr.cidr)
            .collect())
    }

    /// An allocation by id: its allocate event (named by the id) gives the pool and the CIDR,
    /// which are the allocation's key. Allocations made by schema version 1 have random ids,
    /// looked up in their own index.
    fn allocation(&self, id: &str) -> R<AllocationRow> {
        if let Some(sequence) = self.ids.sequence(id) {
            let event = self
                .conn
                .prepare_cached(ALLOCATION_EVENT)?
                .query_row(params![sequence, id], |row| {
                    Ok((
                        row.get::<_, Option<i64>>(0)?,
                        row.get::<_, Option<String>>(1)?,
                    ))
                })
                .optional()?;
            let key =
                event.and_then(|(pool_num, cidr)| Some((pool_num?, cidr?.parse::<IpNet>().ok()?)));
            if let Some((pool_num, cidr)) = key {
                let sql = allocation_by_key_sql();
                let start = blob(Block::of(&cidr).start);
                if let Some(row) = self
                    .conn
                    .prepare_cached(&sql)?
                    .query_row(params![pool_num, &start[..], sequence], allocation_row)
                    .optional()?
                {
                    return Ok(row);
                }
            }
        }
        self.by_id(
            ALLOCATION_SELECT,
            "a.legacy_id",
            ObjectKind::Allocation,
            id,
            allocation_row,
        )
    }

    /// The pool CIDR of `pool_num` that contains `block`.
    fn containing_pool_cidr(
        &self,
        pool_num: i64,
        family: AddressFamily,
        block: Block,
    ) -> R<Option<(String, Block)>> {
        let hit = self
            .conn
            .prepare_cached(POOL_CIDR_AT_OR_BEFORE)?
            .query_row(params![pool_num, &blob(block.start)[..]], |row| {
                Ok((row.get::<_, String>(0)?, block_cols(row, 1, 2)?))
            })
            .optional()?;
        Ok(hit.filter(|(_, cidr)| cidr.contains(&block, family)))
    }

    /// Runs every check of an allocation and finds its place: `(free block, target)`.
    fn plan_allocation(&self, pool: &PoolRow, spec: &AllocationSpec<'_>) -> R<(Block, Block)> {
        let family = pool.family();
        let pool_id = &pool.pool.id;
        let check_family = |net: &IpNet, input: &'static str| -> Result<()> {
            check_network(net, input)?;
            if AddressFamily::of(net) != family {
                return Err(Error::WrongFamily {
                    input,
                    cidr: *net,
                    found: AddressFamily::of(net),
                    expected: family,
                    pool_id: pool_id.clone(),
                });
            }
            Ok(())
        };
        let (len, len_input) = match (spec.cidr, spec.netmask_length) {
            (Some(cidr), given) => {
                check_family(&cidr, "cidr")?;
                if let Some(given) = given.filter(|&g| g != cidr.prefix_len()) {
                    return Err(Error::CidrLengthMismatch {
                        cidr,
                        netmask_length: given,
                    }
                    .into());
                }
                (cidr.prefix_len(), "cidr")
            }
            (None, Some(len)) => (len, "netmask_length"),
            (None, None) => match pool.pool.netmask.default {
                Some(len) => (len, "netmask_length"),
                None => {
                    return Err(Error::NoNetmaskLength {
                        pool_id: pool_id.clone(),
                    }
                    .into())
                }
            },
        };
        pool.pool.netmask.check(len, family, pool_id, len_input)?;
        if let Some(tags) = spec.tags {
            let missing = missing_required_tags(&pool.pool.allocation_resource_tags, tags);
            if !missing.is_empty() {
                return Err(Error::MissingRequiredTags {
                    pool_id: pool_id.clone(),
                    missing,
                }
                .into());
            }
        }
        let mut disallowed = Vec::with_capacity(spec.disallowed.len());
        for net in spec.disallowed {
            check_family(net, "disallowed_cidrs")?;
            disallowed.push(Block::of(net));
        }
        let mut index = self.index(pool.num);
        match spec.cidr {
            Some(cidr) => {
                let target = Block::of(&cidr);
                if let Some(free) = find_containing_free(&mut index, family, target)? {
                    return Ok((free, target));
                }
                Err(self.explain_taken(pool, cidr)?)
            }
            None => match find_best_fit(&mut index, family, len, &disallowed)? {
                Some(found) => Ok(found),
                None => Err(Error::Exhausted {
                    requested_len: len,
                    pool_id: pool_id.clone(),
                    pool_cidrs: self.pool_cidr_nets(pool)?,
                    largest_free: index.largest()?.map(|b| b.to_net(family)),
                    disallowed: spec.disallowed.to_vec(),
                }
                .into()),
            },
        }
    }

    /// Why an explicit CIDR is not free: outside the pool, or who holds it.
    fn explain_taken(&self, pool: &PoolRow, cidr: IpNet) -> R<Internal> {
        let family = pool.family();
        let target = Block::of(&cidr);
        if self
            .containing_pool_cidr(pool.num, family, target)?
            .is_none()
        {
            return Ok(Error::OutsidePool {
                cidr,
                pool_id: pool.pool.id.clone(),
                pool_cidrs: self.pool_cidr_nets(pool)?,
            }
            .into());
        }
        let holder = self
            .conn
            .prepare_cached(ALLOCATION_AT_OR_BEFORE)?
            .query_row(params![pool.num, &blob(target.last(family))[..]], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    block_cols(row, 1, 2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            })
            .optional()?;
        match holder {
            Some((id, block, child)) if block.overlaps(&target, family) => {
                // a child pool's CIDR is named by its pool, the object users know
                let with_id = match child {
                    Some(pool_cidr_id) => self.pool_cidr(&pool_cidr_id)?.pool_cidr.pool_id,
                    None => id,
                };
                Ok(Error::Overlap { cidr, with_id, with_cidr: block.to_net(family) }.into())
            }
            _ => Ok(storage(format!(
                "the free-space index of pool {} disagrees with its allocations at {cidr}; run a consistency check",
                pool.pool.id
            ))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn commit_allocation(
        &self,
        pool: &PoolRow,
        free: Block,
        target: Block,
        description: &str,
        tags: &Tags,
        child_pool_cidr_id: Option<&str>,
        disallowed_cidrs: &[IpNet],
    ) -> R<Allocation> {
        let family = pool.family();
        claim(&mut self.index(pool.num), family, free, target)?;
        // the allocate event's sequence makes the id; this transaction holds the write lock
        let sequence: i64 = self
            .conn
            .prepare_cached(AUDIT_NEXT_SEQUENCE)?
            .query_row([], |row| row.get(0))?;
        let id = self.ids.id(sequence);
        self.conn
            .prepare_cached(ALLOCATION_INSERT)?
            .execute(params![
                sequence,
                pool.num,
                &blob(target.start)[..],
                target.prefix_len,
                description,
                tags_json(tags),
                child_pool_cidr_id,
                self.now_ms,
                cidrs_json(disallowed_cidrs)
            ])?;
        let cidr = target.to_net(family);
        let details = match child_pool_cidr_id {
            Some(child) => json!({ "pool_id": pool.pool.id, "child_pool_cidr_id": child }),
            None => json!({ "pool_id": pool.pool.id }),
        };
        self.audit_event(
            Some(sequence),
            "allocate",
            &id,
            Some(cidr),
            Some(pool.num),
            details,
        )?;
        Ok(Allocation {
            id,
            pool_id: pool.pool.id.clone(),
            cidr,
            description: description.to_string(),
            tags: tags.clone(),
            child_pool_cidr_id: child_pool_cidr_id.map(str::to_string),
            disallowed_cidrs: disallowed_cidrs.to_vec(),
            created_at: self.now.clone(),
            updated_at: self.now.clone(),
        })
    }

    fn allocate(&self, request: &AllocationRequest) -> R<Allocation> {
        let pool = self.pool(&request.pool_id)?;
        let spec = AllocationSpec {
            netmask_length: request.netmask_length,
            cidr: request.cidr,
            disallowed: &request.disallowed_cidrs,
            tags: Some(&request.tags),
        };
        let (free, target) = self.plan_allocation(&pool, &spec)?;
        self.commit_allocation(
            &pool,
            free,
            target,
            &request.description,
            &request.tags,
            None,
            &request.disallowed_cidrs,
        )
    }

    /// Deletes an allocation row and returns its space to the pool.
    fn release_row(&self, row: &AllocationRow, reason: &str) -> R<()> {
        self.conn
            .prepare_cached(ALLOCATION_DELETE)?
            .execute(params![row.pool_num, &blob(row.block.start)[..]])?;
        let Some((_, pool_cidr)) =
            self.containing_pool_cidr(row.pool_num, row.family, row.block)?
        else {
            return Err(storage(format!(
                "allocation {} ({}) lies in no cidr of its pool; run a consistency check",
                row.allocation.id, row.allocation.cidr
            )));
        };
        release(
            &mut self.index(row.pool_num),
            row.family,
            row.block,
            pool_cidr.prefix_len,
        )?;
        self.audit_event(
            None,
            "release",
            &row.allocation.id,
            Some(row.allocation.cidr),
            Some(row.pool_num),
            json!({ "pool_id": row.allocation.pool_id, "reason": reason }),
        )
    }

    fn plan_pool_cidr(&self, pool: &PoolRow, request: PoolCidrRequest) -> R<PoolCidrPlan> {
        let family = pool.family();
        let scope = self.scope(&pool.pool.scope_id)?;
        if let PoolCidrRequest::Cidr(cidr) = request {
            check_network(&cidr, "cidr")?;
            if AddressFamily::of(&cidr) != family {
                return Err(Error::WrongFamily {
                    input: "cidr",
                    cidr,
                    found: AddressFamily::of(&cidr),
                    expected: family,
                    pool_id: pool.pool.id.clone(),
                }
                .into());
            }
            if scope.kind == ScopeKind::Public {
                if let Some(range) = private_use_range_overlapping(&cidr) {
                    return Err(Error::PrivateSpaceInPublicScope { cidr, range }.into());
                }
            }
        }
        match &pool.pool.source_pool_id {
            Some(source_id) => {
                let parent = self.pool(source_id)?;
                let (netmask_length, cidr) = match request {
                    PoolCidrRequest::Cidr(cidr) => (None, Some(cidr)),
                    PoolCidrRequest::NetmaskLength(len) => (Some(len), None),
                };
                let spec = AllocationSpec {
                    netmask_length,
                    cidr,
                    disallowed: &[],
                    tags: None,
                };
                let (free, target) = self.plan_allocation(&parent, &spec)?;
                Ok(PoolCidrPlan {
                    target,
                    source: CidrSource::Parent {
                        parent: Box::new(parent),
                        free,
                    },
                })
            }
            None => {
                let cidr = match request {
                    PoolCidrRequest::Cidr(cidr) => cidr,
                    PoolCidrRequest::NetmaskLength(_) => {
                        return Err(Error::NoSourcePool {
                            pool_id: pool.pool.id.clone(),
                        }
                        .into())
                    }
                };
                let target = Block::of(&cidr);
                let neighbour = self
                    .conn
                    .prepare_cached(POOL_CIDR_TOP_LEVEL_AT_OR_BEFORE)?
                    .query_row(
                        params![
                            pool.pool.scope_id,
                            family_num(family),
                            &blob(target.last(family))[..]
                        ],
                        |row| Ok((block_cols(row, 1, 2)?, row.get::<_, String>(3)?)),
                    )
                    .optional()?;
                if let Some((block, pool_id)) = neighbour {
                    if block.overlaps(&target, family) {
                        return Err(Error::Overlap {
                            cidr,
                            with_id: pool_id,
                            with_cidr: block.to_net(family),
                        }
                        .into());
                    }
                }
                Ok(PoolCidrPlan {
                    target,
                    source: CidrSource::TopLevel,
                })
            }
        }
    }

    fn provision(&self, pool: &PoolRow, request: PoolCidrRequest) -> R<PoolCidr> {
        let plan = self.plan_pool_cidr(pool, request)?;
        let family = pool.family();
        let cidr = plan.target.to_net(family);
        let id = new_id("ipam-pool-cidr");
        let parent_allocation_id = match &plan.source {
            CidrSource::TopLevel => None,
            CidrSource::Parent { parent, free } => {
                let description = format!("cidr {cidr} of pool {}", pool.pool.id);
                let allocation = self.commit_allocation(
                    parent,
                    *free,
                    plan.target,
                    &description,
                    &Tags::new(),
                    Some(&id),
                    &[],
                )?;
                Some(allocation.id)
            }
        };
        self.conn
            .prepare_cached(POOL_CIDR_INSERT)?
            .execute(params![
                id,
                pool.num,
                pool.pool.scope_id,
                family_num(family),
                matches!(plan.source, CidrSource::TopLevel),
                &blob(plan.target.start)[..],
                plan.target.prefix_len,
                parent_allocation_id,
                self.now
            ])?;
        self.index(pool.num).insert(plan.target)?;
        self.audit(
            "provision",
            &id,
            Some(cidr),
            json!({ "pool_id": pool.pool.id, "parent_allocation_id": parent_allocation_id }),
        )?;
        Ok(PoolCidr {
            id,
            pool_id: pool.pool.id.clone(),
            cidr,
            parent_allocation_id,
            created_at: self.now.clone(),
        })
    }

    /// Allocations whose start lies in `block` (so, all inside it).
    fn allocations_in(
        &self,
        pool_num: i64,
        family: AddressFamily,
        block: Block,
    ) -> R<Vec<InsideAllocation>> {
        let mut stmt = self.conn.prepare_cached(ALLOCATION_IN_RANGE)?;
        let rows = stmt
            .query_map(
                params![
                    pool_num,
                    &blob(block.start)[..],
                    &blob(block.last(family))[..]
                ],
                |row| {
                    Ok(InsideAllocation {
                        id: row.get(0)?,
                        block: block_cols(row, 1, 2)?,
                        child_pool_cidr_id: row.get(3)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn deprovision(&self, id: &str, cascade: bool) -> R<()> {
        let row = self.pool_cidr(id)?;
        let family = row.family;
        let inside = self.allocations_in(row.pool_num, family, row.block)?;
        if !inside.is_empty() && !cascade {
            let children = inside
                .iter()
                .filter(|a| a.child_pool_cidr_id.is_some())
                .count();
            let plain: Vec<String> = inside
                .iter()
                .filter(|a| a.child_pool_cidr_id.is_none())
                .map(|a| format!("{} {}", a.id, a.block.to_net(family)))
                .collect();
            let child_list: Vec<String> = inside
                .iter()
                .filter(|a| a.child_pool_cidr_id.is_some())
                .map(|a| {
                    format!(
                        "{} {}",
                        a.child_pool_cidr_id.as_deref().unwrap_or_default(),
                        a.block.to_net(family)
                    )
                })
                .collect();
            let mut parts = Vec::new();
            if !plain.is_empty() {
                parts.push(format!(
                    "{} allocation(s) ({})",
                    plain.len(),
                    summarize(&plain)
                ));
            }
            if children > 0 {
                parts.push(format!(
                    "{children} child-pool cidr(s) ({})",
                    summarize(&child_list)
                ));
            }
            return Err(Error::NotEmpty {
                kind: ObjectKind::PoolCidr,
                id: id.to_string(),
                contents: parts.join(" and "),
            }
            .into());
        }
        for InsideAllocation {
            id: allocation_id,
            block,
            child_pool_cidr_id,
        } in inside
        {
            match child_pool_cidr_id {
                // deprovisioning the child's CIDR releases this allocation
                Some(child_id) => self.deprovision(&child_id, true)?,
                None => {
                    self.conn
                        .prepare_cached(ALLOCATION_DELETE)?
                        .execute(params![row.pool_num, &blob(block.start)[..]])?;
                    self.audit_event(
                        None,
                        "release",
                        &allocation_id,
                        Some(block.to_net(family)),
                        Some(row.pool_num),
                        json!({ "pool_id": row.pool_cidr.pool_id, "reason": format!("cascade deprovision of {id}") }),
                    )?;
                }
            }
        }
        self.conn
            .prepare_cached(FREE_DELETE_RANGE)?
            .execute(params![
                row.pool_num,
                &blob(row.block.start)[..],
                &blob(row.block.last(family))[..]
            ])?;
        self.conn.prepare_cached(POOL_CIDR_DELETE)?.execute([id])?;
        if let Some(parent_allocation_id) = &row.pool_cidr.parent_allocation_id {
            let parent = self.allocation(parent_allocation_id)?;
            self.release_row(&parent, &format!("deprovision of {id}"))?;
        }
        self.audit(
            "deprovision",
            id,
            Some(row.pool_cidr.cidr),
            json!({ "pool_id": row.pool_cidr.pool_id }),
        )
    }

    fn ids(&self, sql: &str, param: &str) -> R<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let ids = stmt
            .query_map([param], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }

    fn delete_pool(&self, id: &str, cascade: bool) -> R<()> {
        let pool = self.pool(id)?;
        let children = self.ids(
            "SELECT id FROM pools WHERE source_pool_id = ?1 ORDER BY id",
            id,
        )?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT ipam_allocation_id(legacy_id, sequence) FROM allocations \
             WHERE pool_num = ?1 AND child_pool_cidr_id IS NULL ORDER BY start",
        )?;
        let allocations = stmt
            .query_map([pool.num], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        if (!children.is_empty() || !allocations.is_empty()) && !cascade {
            let mut parts = Vec::new();
            if !children.is_empty() {
                parts.push(format!(
                    "{} child pool(s) ({})",
                    children.len(),
                    summarize(&children)
                ));
            }
            if !allocations.is_empty() {
                parts.push(format!(
                    "{} allocation(s) ({})",
                    allocations.len(),
                    summarize(&allocations)
                ));
            }
            return Err(Error::NotEmpty {
                kind: ObjectKind::Pool,
                id: id.to_string(),
                contents: parts.join(" and "),
            }
            .into());
        }
        for child in children {
            self.delete_pool(&child, true)?;
        }
        for pool_cidr in self.pool_cidrs_of(pool.num)? {
            self.deprovision(&pool_cidr.pool_cidr.id, true)?;
        }
        self.conn.prepare_cached(POOL_DELETE)?.execute([id])?;
        self.audit(
            "delete_pool",
            id,
            None,
            json!({ "scope_id": pool.pool.scope_id }),
        )
    }

    fn delete_scope(&self, id: &str, cascade: bool, with_ipam: bool) -> R<()> {
        let scope = self.scope(id)?;
        if scope.is_default && !with_ipam {
            return Err(Error::DefaultScope {
                id: id.to_string(),
                ipam_id: scope.ipam_id,
            }
            .into());
        }
        let pools = self.ids("SELECT id FROM pools WHERE scope_id = ?1 ORDER BY id", id)?;
        if !pools.is_empty() && !cascade {
            return Err(Error::NotEmpty {
                kind: ObjectKind::Scope,
                id: id.to_string(),
                contents: format!("{} pool(s) ({})", pools.len(), summarize(&pools)),
            }
            .into());
        }
        for top in self.ids(
            "SELECT id FROM pools WHERE scope_id = ?1 AND source_pool_id IS NULL ORDER BY id",
            id,
        )? {
            self.delete_pool(&top, true)?;
        }
        self.conn.prepare_cached(SCOPE_DELETE)?.execute([id])?;
        self.audit(
            "delete_scope",
            id,
            None,
            json!({ "ipam_id": scope.ipam_id }),
        )
    }

    fn delete_ipam(&self, id: &str, cascade: bool) -> R<()> {
        self.ipam(id)?;
        let custom = self.ids(
            "SELECT id FROM scopes WHERE ipam_id = ?1 AND is_default = 0 ORDER BY id",
            id,
        )?;
        let pools = self.ids(
            "SELECT p.id FROM pools p JOIN scopes s ON s.id = p.scope_id WHERE s.ipam_id = ?1 ORDER BY p.id",
            id,
        )?;
        if (!custom.is_empty() || !pools.is_empty()) && !cascade {
            let mut parts = Vec::new();
            if !custom.is_empty() {
                parts.push(format!(
                    "{} custom scope(s) ({})",
                    custom.len(),
                    summarize(&custom)
                ));
            }
            if !pools.is_empty() {
                parts.push(format!("{} pool(s) ({})", pools.len(), summarize(&pools)));
            }
            return Err(Error::NotEmpty {
                kind: ObjectKind::Ipam,
                id: id.to_string(),
                contents: parts.join(" and "),
            }
            .into());
        }
        for scope in self.ids(
            "SELECT id FROM scopes WHERE ipam_id = ?1 ORDER BY is_default, id",
            id,
        )? {
            self.delete_scope(&scope, true, true)?;
        }
        self.conn.prepare_cached(IPAM_DELETE)?.execute([id])?;
        self.audit("delete_ipam", id, None, json!({}))
    }

    fn insert_scope(
        &self,
        ipam_id: &str,
        kind: ScopeKind,
        description: &str,
        tags: &Tags,
        is_default: bool,
    ) -> R<String> {
        let id = new_id("ipam-scope");
        self.conn.prepare_cached(SCOPE_INSERT)?.execute(params![
            id,
            ipam_id,
            kind.as_str(),
            description,
            tags_json(tags),
            is_default,
            self.now
        ])?;
        self.audit(
            "create_scope",
            &id,
            None,
            json!({ "ipam_id": ipam_id, "kind": kind.as_str(), "is_default": is_default }),
        )?;
        Ok(id)
    }

    fn create_pool(&self, new: &NewPool) -> R<Pool> {
        let scope = self.scope(&new.scope_id)?;
        new.netmask.validate(new.address_family)?;
        if new.publicly_advertisable && new.address_family == AddressFamily::Ipv4 {
            return Err(Error::InvalidArgument {
                input: "publicly_advertisable",
                message:
                    "only ipv6 pools can be publicly advertisable; remove it or use an ipv6 pool"
                        .to_string(),
            }
            .into());
        }
        let depth = match &new.source_pool_id {
            None => 0,
            Some(source_id) => {
                let source = self.pool(source_id).map_err(|e| match e {
                    Internal::Domain(Error::NotFound { .. }) => Error::InvalidArgument {
                        input: "source_pool_id",
                        message: format!("source pool {source_id} does not exist"),
                    }
                    .into(),
                    other => other,
                })?;
                if source.pool.scope_id != scope.id {
                    return Err(Error::SourcePoolScope {
                        source_pool_id: source_id.clone(),
                        source_scope_id: source.pool.scope_id,
                        scope_id: scope.id,
                    }
                    .into());
                }
                if source.family() != new.address_family {
                    return Err(Error::SourcePoolFamily {
                        family: new.address_family,
                        source_pool_id: source_id.clone(),
                        source_family: source.family(),
                    }
                    .into());
                }
                source.pool.depth + 1
            }
        };
        let id = new_id("ipam-pool");
        self.conn.prepare_cached(POOL_INSERT)?.execute(params![
            id,
            new.scope_id,
            new.source_pool_id,
            family_num(new.address_family),
            new.locale,
            new.description,
            new.netmask.min,
            new.netmask.max,
            new.netmask.default,
            tags_json(&new.allocation_resource_tags),
            new.auto_import,
            new.publicly_advertisable,
            tags_json(&new.tags),
            depth,
            self.now
        ])?;
        self.audit(
            "create_pool",
            &id,
            None,
            json!({ "scope_id": new.scope_id, "source_pool_id": new.source_pool_id, "address_family": new.address_family.as_str() }),
        )?;
        Ok(self.pool(&id)?.pool)
    }

    fn usage(&self, row: PoolCidrRow) -> R<PoolCidrUsage> {
        let mut stmt = self.conn.prepare_cached(FREE_IN_RANGE)?;
        let free: u128 = stmt
            .query_map(
                params![
                    row.pool_num,
                    &blob(row.block.start)[..],
                    &blob(row.block.last(row.family))[..]
                ],
                |r| block_cols(r, 0, 1),
            )?
            .map(|b| b.map(|b| b.size(row.family)))
            .sum::<rusqlite::Result<u128>>()?;
        let total = row.block.size(row.family);
        let used = total.saturating_sub(free);
        Ok(PoolCidrUsage {
            pool_cidr: row.pool_cidr,
            total_addresses: total,
            used_addresses: used,
            free_addresses: free,
            utilization_percent: used as f64 / total as f64 * 100.0,
        })
    }

    fn check_consistency(&self) -> R<Vec<String>> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare(POOL_SELECT)?;
        let pools = stmt
            .query_map([], pool_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for pool in &pools {
            let family = pool.family();
            let cidrs: Vec<Block> = self
                .pool_cidrs_of(pool.num)?
                .iter()
                .map(|c| c.block)
                .collect();
            let mut stmt = self.conn.prepare_cached(
                "SELECT start, prefix_len, ipam_allocation_id(legacy_id, sequence) FROM allocations \
                 WHERE pool_num = ?1 ORDER BY start",
            )?;
            let mut pieces: Vec<(Block, String)> = stmt
                .query_map([pool.num], |row| Ok((block_cols(row, 0, 1)?, row.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // every allocation is found by its id (through its allocate event)
            for (block, id) in &pieces {
                match self.allocation(id) {
                    Ok(found) if found.pool_num == pool.num && found.block == *block => {}
                    _ => problems.push(format!(
                        "pool {}: allocation {id} ({}) is not found by its id",
                        pool.pool.id,
                        block.to_net(family)
                    )),
                }
            }
            let mut stmt = self.conn.prepare_cached(
                "SELECT start, prefix_len FROM free_blocks WHERE pool_num = ?1 ORDER BY start",
            )?;
            let free = stmt
                .query_map([pool.num], |row| block_cols(row, 0, 1))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            pieces.extend(free.into_iter().map(|b| (b, "free block".to_string())));
            pieces.sort();
            let mut covered: u128 = 0;
            for (i, (block, what)) in pieces.iter().enumerate() {
                covered = covered.saturating_add(block.size(family));
                if !cidrs.iter().any(|c| c.contains(block, family)) {
                    problems.push(format!(
                        "pool {}: {what} {} lies outside its cidrs",
                        pool.pool.id,
                        block.to_net(family)
                    ));
                }
                if let Some((next, next_what)) = pieces.get(i + 1) {
                    if block.overlaps(next, family) {
                        problems.push(format!(
                            "pool {}: {what} {} overlaps {next_what} {}",
                            pool.pool.id,
                            block.to_net(family),
                            next.to_net(family)
                        ));
                    }
                }
            }
            let provisioned = cidrs
                .iter()
                .fold(0u128, |sum, c| sum.saturating_add(c.size(family)));
            if covered != provisioned {
                problems.push(format!(
                    "pool {}: free + used = {covered} addresses but {provisioned} are provisioned",
                    pool.pool.id
                ));
            }
        }
        let mut stmt = self.conn.prepare(ALLOCATIONS_WITHOUT_AUDIT)?;
        for id in stmt.query_map([], |row| row.get::<_, String>(0))? {
            problems.push(format!("allocation {} has no audit event", id?));
        }
        let sql = format!("{POOL_CIDR_SELECT} ORDER BY c.id");
        let mut stmt = self.conn.prepare(&sql)?;
        let pool_cidrs = stmt
            .query_map([], pool_cidr_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for row in &pool_cidrs {
            let pool = pools.iter().find(|p| p.num == row.pool_num);
            let source = pool.and_then(|p| p.pool.source_pool_id.clone());
            match (&row.pool_cidr.parent_allocation_id, source) {
                (None, None) => {}
                (Some(parent_id), Some(_)) => match self.allocation(parent_id) {
                    Ok(parent)
                        if parent.block == row.block
                            && parent.allocation.child_pool_cidr_id.as_deref()
                                == Some(&row.pool_cidr.id) => {}
                    _ => problems.push(format!(
                        "pool cidr {} has no matching parent allocation {parent_id}",
                        row.pool_cidr.id
                    )),
                },
                _ => problems.push(format!(
                    "pool cidr {} is half provisioned: parent allocation and source pool disagree",
                    row.pool_cidr.id
                )),
            }
        }
        let mut stmt = self.conn.prepare("SELECT ipam_allocation_id(a.legacy_id, a.sequence), a.child_pool_cidr_id FROM allocations a WHERE a.child_pool_cidr_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pool_cidrs c WHERE c.id = a.child_pool_cidr_id)")?;
        for row in stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })? {
            let (id, child) = row?;
            problems.push(format!(
                "allocation {id} backs pool cidr {child}, which does not exist"
            ));
        }
        // top-level pool cidrs of one scope and family never overlap
        let mut top: Vec<(String, AddressFamily, Block, String)> = pool_cidrs
            .iter()
            .filter(|r| r.pool_cidr.parent_allocation_id.is_none())
            .filter_map(|r| {
                pools.iter().find(|p| p.num == r.pool_num).map(|p| {
                    (
                        p.pool.scope_id.clone(),
                        r.family,
                        r.block,
                        r.pool_cidr.id.clone(),
                    )
                })
            })
            .collect();
        top.sort();
        for pair in top.windows(2) {
            if pair[0].0 == pair[1].0
                && pair[0].1 == pair[1].1
                && pair[0].2.overlaps(&pair[1].2, pair[0].1)
            {
                problems.push(format!(
                    "top-level pool cidrs {} and {} overlap",
                    pair[0].3, pair[1].3
                ));
            }
        }
        Ok(problems)
    }
}

/// Up to three items and how many more.
fn summarize(items: &[String]) -> String {
    let shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 3 {
        format!("{shown}, … {} more", items.len() - 3)
    } else {
        shown
    }
}

impl SqliteStore {
    /// Opens (creating it with mode 0600 when missing) and migrates a database file.
    ///
    /// Refuses a database whose schema is newer than this build ([`Error::NewerDatabase`]).
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore> {
        let path = path.as_ref();
        // create the file ourselves so that it is private before SQLite writes anything to it;
        // SQLite gives the -wal and -shm files the same mode
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::Storage {
                message: format!("cannot create database file {}: {e}", path.display()),
            })?;
        let mut attempt = 0;
        let (conn, ids) = loop {
            match Self::connect(path, &options) {
                Ok(opened) => break opened,
                Err(Internal::Sql(e)) if is_busy(&e) && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(20 * u64::from(attempt)));
                }
                Err(e) => {
                    return Err(match to_public(e) {
                        Error::Storage { message } => Error::Storage {
                            message: format!("cannot open database {}: {message}", path.display()),
                        },
                        other => other,
                    })
                }
            }
        };
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            actor: options.actor,
            path: path.to_path_buf(),
            ids,
        })
    }

    fn connect(path: &Path, options: &SqliteOptions) -> R<(Connection, SequenceIds)> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(options.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(64);
        // Plans must not depend on bound values: without this, SQLite (built with STAT4)
        // re-parses and re-plans the range queries of the allocator on every call.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // only takes effect on a new, empty file (before WAL is on); see PAGE_SIZE
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(storage(format!(
                "{} cannot use the WAL journal (got {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn, path)?;
        let key: Vec<u8> = conn.query_row(
            "SELECT value FROM meta WHERE name = 'allocation_id_key'",
            [],
            |row| row.get(0),
        )?;
        let ids = SequenceIds::new(&key);
        conn.create_scalar_function(
            ALLOCATION_ID_FUNCTION,
            2,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let legacy: Option<String> = ctx.get(0)?;
                let sequence: Option<i64> = ctx.get(1)?;
                Ok(legacy.or_else(|| sequence.map(|s| ids.id(s))))
            },
        )?;
        Ok((conn, ids))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA integrity_check`: `"ok"` for a sound file.
    pub fn integrity_check(&self) -> Result<String> {
        let conn = self.lock();
        let rows: Vec<String> = conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .map_err(sql_to_domain)?;
        Ok(rows.join("\n"))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // a panic inside an operation dropped its transaction (rolled back): the connection is fine
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `op` in one `BEGIN IMMEDIATE` transaction, retrying the whole of it when busy.
    fn write<T>(&self, op: impl Fn(&Tx<'_>) -> R<T>) -> Result<T> {
        self.retrying(TransactionBehavior::Immediate, true, op)
    }

    /// Runs `op` in a read transaction that is rolled back: previews and reads write nothing.
    fn read<T>(&self, op: impl Fn(&Tx<'_>) -> R<T>) -> Result<T> {
        self.retrying(TransactionBehavior::Deferred, false, op)
    }

    /// Runs `op` in one transaction, retrying the whole of it while SQLite reports busy.
    fn retrying<T>(
        &self,
        behavior: TransactionBehavior,
        commit: bool,
        op: impl Fn(&Tx<'_>) -> R<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        let mut attempt = 0;
        loop {
            match Self::run(&mut conn, &self.actor, self.ids, behavior, commit, &op) {
                Err(Internal::Sql(e)) if is_busy(&e) && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10 * u64::from(attempt)));
                }
                other => return other.map_err(to_public),
            }
        }
    }

    fn run<T>(
        conn: &mut Connection,
        actor: &str,
        ids: SequenceIds,
        behavior: TransactionBehavior,
        commit: bool,
        op: &impl Fn(&Tx<'_>) -> R<T>,
    ) -> R<T> {
        let tx = conn.transaction_with_behavior(behavior)?;
        let now_ms = now_millis();
        let value = op(&Tx {
            conn: &tx,
            actor,
            now_ms,
            now: format_millis(now_ms),
            ids,
        })?;
        if commit {
            tx.commit()?;
        }
        Ok(value)
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> R<()> {
    // up to date: take no write lock, so that opening the file (e.g. by the read-only `ipam`
    // commands) never waits for a writer nor holds one up
    let current: u32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::NewerDatabase {
            path: path.display().to_string(),
            found,
            supported: SCHEMA_VERSION,
        }
        .into());
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.execute_batch(migration)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}

impl Store for SqliteStore {
    fn create_ipam(&self, new: &NewIpam) -> Result<Ipam> {
        self.write(|tx| {
            let id = new_id("ipam");
            let regions = normalize_regions(&new.operating_regions);
            tx.conn.prepare_cached(IPAM_INSERT)?.execute(params![
                id,
                new.description,
                strings_json(&regions),
                tags_json(&new.tags),
                tx.now
            ])?;
            tx.audit(
                "create_ipam",
                &id,
                None,
                json!({ "description": new.description }),
            )?;
            tx.insert_scope(
                &id,
                ScopeKind::Private,
                "default private scope",
                &Tags::new(),
                true,
            )?;
            tx.insert_scope(
                &id,
                ScopeKind::Public,
                "default public scope",
                &Tags::new(),
                true,
            )?;
            tx.ipam(&id)
        })
    }

    fn get_ipam(&self, id: &str) -> Result<Ipam> {
        self.read(|tx| tx.ipam(id))
    }

    fn update_ipam(&self, id: &str, update: &IpamUpdate) -> Result<Ipam> {
        self.write(|tx| {
            let mut ipam = tx.ipam(id)?;
            if let Some(description) = &update.description {
                ipam.description = description.clone();
            }
            if let Some(regions) = &update.operating_regions {
                ipam.operating_regions = normalize_regions(regions);
            }
            if let Some(tags) = &update.tags {
                ipam.tags = tags.clone();
            }
            tx.conn.prepare_cached(IPAM_UPDATE)?.execute(params![
                id,
                ipam.description,
                strings_json(&ipam.operating_regions),
                tags_json(&ipam.tags),
                tx.now
            ])?;
            tx.audit("update_ipam", id, None, json!({ "description": ipam.description, "operating_regions": ipam.operating_regions, "tags": ipam.tags }))?;
            tx.ipam(id)
        })
    }

    fn delete_ipam(&self, id: &str, cascade: bool) -> Result<()> {
        self.write(|tx| tx.delete_ipam(id, cascade))
    }

    fn list_ipams(&self) -> Result<Vec<Ipam>> {
        self.read(|tx| {
            let sql = format!("{IPAM_SELECT} ORDER BY i.id");
            let mut stmt = tx.conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map([], ipam_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn create_scope(&self, new: &NewScope) -> Result<Scope> {
        self.write(|tx| {
            tx.ipam(&new.ipam_id)?;
            let id = tx.insert_scope(
                &new.ipam_id,
                ScopeKind::Private,
                &new.description,
                &new.tags,
                false,
            )?;
            tx.scope(&id)
        })
    }

    fn get_scope(&self, id: &str) -> Result<Scope> {
        self.read(|tx| tx.scope(id))
    }

    fn update_scope(&self, id: &str, update: &ScopeUpdate) -> Result<Scope> {
        self.write(|tx| {
            let mut scope = tx.scope(id)?;
            if let Some(description) = &update.description {
                scope.description = description.clone();
            }
            if let Some(tags) = &update.tags {
                scope.tags = tags.clone();
            }
            tx.conn.prepare_cached(SCOPE_UPDATE)?.execute(params![
                id,
                scope.description,
                tags_json(&scope.tags),
                tx.now
            ])?;
            tx.audit(
                "update_scope",
                id,
                None,
                json!({ "description": scope.description, "tags": scope.tags }),
            )?;
            tx.scope(id)
        })
    }

    fn delete_scope(&self, id: &str, cascade: bool) -> Result<()> {
        self.write(|tx| tx.delete_scope(id, cascade, false))
    }

    fn list_scopes(&self, ipam_id: &str) -> Result<Vec<Scope>> {
        self.read(|tx| {
            tx.ipam(ipam_id)?;
            let sql = format!(
                "{SCOPE_SELECT} WHERE s.ipam_id = ?1 ORDER BY s.is_default DESC, s.kind, s.id"
            );
            let mut stmt = tx.conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map([ipam_id], scope_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn create_pool(&self, new: &NewPool) -> Result<Pool> {
        self.write(|tx| tx.create_pool(new))
    }

    fn get_pool(&self, id: &str) -> Result<Pool> {
        self.read(|tx| Ok(tx.pool(id)?.pool))
    }

    fn update_pool(&self, id: &str, update: &PoolUpdate) -> Result<Pool> {
        self.write(|tx| {
            let mut pool = tx.pool(id)?.pool;
            if let Some(description) = &update.description {
                pool.description = description.clone();
            }
            if let Some(netmask) = update.netmask {
                netmask.validate(pool.address_family)?;
                pool.netmask = netmask;
            }
            if let Some(tags) = &update.allocation_resource_tags {
                pool.allocation_resource_tags = tags.clone();
            }
            if let Some(auto_import) = update.auto_import {
                pool.auto_import = auto_import;
            }
            if let Some(advertisable) = update.publicly_advertisable {
                if advertisable && pool.address_family == AddressFamily::Ipv4 {
                    return Err(Error::InvalidArgument {
                        input: "publicly_advertisable",
                        message: "only ipv6 pools can be publicly advertisable".to_string(),
                    }
                    .into());
                }
                pool.publicly_advertisable = advertisable;
            }
            if let Some(tags) = &update.tags {
                pool.tags = tags.clone();
            }
            tx.conn.prepare_cached(POOL_UPDATE)?.execute(params![
                id,
                pool.description,
                pool.netmask.min,
                pool.netmask.max,
                pool.netmask.default,
                tags_json(&pool.allocation_resource_tags),
                pool.auto_import,
                pool.publicly_advertisable,
                tags_json(&pool.tags),
                tx.now
            ])?;
            tx.audit(
                "update_pool",
                id,
                None,
                json!({ "description": pool.description, "tags": pool.tags }),
            )?;
            Ok(tx.pool(id)?.pool)
        })
    }

    fn delete_pool(&self, id: &str, cascade: bool) -> Result<()> {
        self.write(|tx| tx.delete_pool(id, cascade))
    }

    fn find_pools(&self, filter: &PoolFilter) -> Result<Vec<Pool>> {
        self.read(|tx| {
            let sql = format!("{POOL_SELECT} ORDER BY id");
            let mut stmt = tx.conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map([], pool_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .map(|r| r.pool)
                .filter(|p| filter.matches(p))
                .collect())
        })
    }

    fn provision_pool_cidr(&self, pool_id: &str, request: PoolCidrRequest) -> Result<PoolCidr> {
        self.write(|tx| {
            let pool = tx.pool(pool_id)?;
            tx.provision(&pool, request)
        })
    }

    fn preview_pool_cidr(&self, pool_id: &str, request: PoolCidrRequest) -> Result<IpNet> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            Ok(tx
                .plan_pool_cidr(&pool, request)?
                .target
                .to_net(pool.family()))
        })
    }

    fn get_pool_cidr(&self, id: &str) -> Result<PoolCidr> {
        self.read(|tx| Ok(tx.pool_cidr(id)?.pool_cidr))
    }

    fn deprovision_pool_cidr(&self, id: &str, cascade: bool) -> Result<()> {
        self.write(|tx| tx.deprovision(id, cascade))
    }

    fn list_pool_cidrs(&self, pool_id: &str) -> Result<Vec<PoolCidrUsage>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            tx.pool_cidrs_of(pool.num)?
                .into_iter()
                .map(|row| tx.usage(row))
                .collect()
        })
    }

    fn allocate(&self, request: &AllocationRequest) -> Result<Allocation> {
        self.write(|tx| tx.allocate(request))
    }

    fn allocate_many(&self, requests: &[AllocationRequest]) -> Result<Vec<Allocation>> {
        self.write(|tx| {
            requests
                .iter()
                .map(|request| tx.allocate(request))
                .collect()
        })
    }

    fn preview_allocation(&self, request: &AllocationRequest) -> Result<IpNet> {
        self.read(|tx| {
            let pool = tx.pool(&request.pool_id)?;
            let spec = AllocationSpec {
                netmask_length: request.netmask_length,
                cidr: request.cidr,
                disallowed: &request.disallowed_cidrs,
                tags: Some(&request.tags),
            };
            Ok(tx.plan_allocation(&pool, &spec)?.1.to_net(pool.family()))
        })
    }

    fn get_allocation(&self, id: &str) -> Result<Allocation> {
        self.read(|tx| Ok(tx.allocation(id)?.allocation))
    }

    fn update_allocation(&self, id: &str, update: &AllocationUpdate) -> Result<Allocation> {
        self.write(|tx| {
            let row = tx.allocation(id)?;
            let mut allocation = row.allocation;
            if let Some(description) = &update.description {
                allocation.description = description.clone();
            }
            if let Some(tags) = &update.tags {
                let pool = tx.pool(&allocation.pool_id)?;
                let missing = missing_required_tags(&pool.pool.allocation_resource_tags, tags);
                if !missing.is_empty() && allocation.child_pool_cidr_id.is_none() {
                    return Err(Error::MissingRequiredTags {
                        pool_id: pool.pool.id,
                        missing,
                    }
                    .into());
                }
                allocation.tags = tags.clone();
            }
            tx.conn.prepare_cached(ALLOCATION_UPDATE)?.execute(params![
                row.pool_num,
                &blob(row.block.start)[..],
                allocation.description,
                tags_json(&allocation.tags),
                tx.now_ms
            ])?;
            tx.audit_event(
                None,
                "update_allocation",
                id,
                Some(allocation.cidr),
                Some(row.pool_num),
                json!({ "description": allocation.description, "tags": allocation.tags }),
            )?;
            Ok(tx.allocation(id)?.allocation)
        })
    }

    fn release_allocation(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            let row = tx.allocation(id)?;
            if let Some(pool_cidr_id) = &row.allocation.child_pool_cidr_id {
                return Err(Error::BacksPoolCidr {
                    allocation_id: id.to_string(),
                    pool_cidr_id: pool_cidr_id.clone(),
                }
                .into());
            }
            tx.release_row(&row, "released")
        })
    }

    fn list_allocations(&self, pool_id: &str) -> Result<Vec<Allocation>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            let sql = format!("{ALLOCATION_SELECT} WHERE a.pool_num = ?1 ORDER BY a.start");
            let mut stmt = tx.conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map([pool.num], allocation_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows.into_iter().map(|r| r.allocation).collect())
        })
    }

    fn audit_events(&self, after_sequence: i64, limit: usize) -> Result<Vec<AuditEvent>> {
        self.read(|tx| {
            let mut stmt = tx.conn.prepare_cached(AUDIT_SELECT)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(params![after_sequence, limit], audit_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn check_consistency(&self) -> Result<Vec<String>> {
        self.read(|tx| tx.check_consistency())
    }

    fn inventory(&self) -> Result<Inventory> {
        self.read(|tx| {
            let ipams = tx
                .conn
                .prepare(&format!("{IPAM_SELECT} ORDER BY i.id"))?
                .query_map([], ipam_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let scopes = tx
                .conn
                .prepare(&format!("{SCOPE_SELECT} ORDER BY s.ipam_id, s.id"))?
                .query_map([], scope_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let pool_rows = tx
                .conn
                .prepare(&format!("{POOL_SELECT} ORDER BY id"))?
                .query_map([], pool_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut count = tx.conn.prepare(ALLOCATION_COUNT_IN_RANGE)?;
            let mut pools = Vec::with_capacity(pool_rows.len());
            for row in pool_rows {
                let mut cidrs = Vec::new();
                for cidr in tx.pool_cidrs_of(row.num)? {
                    let (start, last) = (cidr.block.start, cidr.block.last(cidr.family));
                    let allocation_count: i64 = count
                        .query_row(params![row.num, &blob(start)[..], &blob(last)[..]], |r| {
                            r.get(0)
                        })?;
                    cidrs.push(PoolCidrInventory {
                        usage: tx.usage(cidr)?,
                        allocation_count: allocation_count as u64,
                    });
                }
                pools.push(PoolInventory {
                    pool: row.pool,
                    cidrs,
                });
            }
            Ok(Inventory {
                ipams,
                scopes,
                pools,
            })
        })
    }

    fn free_blocks(&self, pool_id: &str) -> Result<Vec<IpNet>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            let family = pool.family();
            let blocks = tx
                .conn
                .prepare(FREE_OF_POOL)?
                .query_map([pool.num], |row| block_cols(row, 0, 1))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(blocks.into_iter().map(|b| b.to_net(family)).collect())
        })
    }

    fn allocations_overlapping(
        &self,
        pool_id: &str,
        cidr: IpNet,
        limit: usize,
    ) -> Result<Vec<Allocation>> {
        self.read(|tx| {
            let pool = tx.pool(pool_id)?;
            let family = pool.family();
            if AddressFamily::of(&cidr) != family {
                return Ok(Vec::new());
            }
            let query = Block::of(&cidr);
            let (start, last) = (blob(query.start), blob(query.last(family)));
            let mut found = Vec::new();
            // allocations of a pool are disjoint: only the last one starting at or before the
            // query can reach into it from below
            let before = format!("{ALLOCATION_SELECT} WHERE a.pool_num = ?1 AND a.start <= ?2 ORDER BY a.start DESC LIMIT 1");
            if let Some(row) = tx
                .conn
                .prepare(&before)?
                .query_row(params![pool.num, &start[..]], allocation_row)
                .optional()?
            {
                if row.block.last(family) >= query.start {
                    found.push(row.allocation);
                }
            }
            let inside = format!("{ALLOCATION_SELECT} WHERE a.pool_num = ?1 AND a.start > ?2 AND a.start <= ?3 ORDER BY a.start LIMIT ?4");
            let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = tx
                .conn
                .prepare(&inside)?
                .query_map(
                    params![pool.num, &start[..], &last[..], limit_sql],
                    allocation_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            found.extend(rows.into_iter().map(|r| r.allocation));
            found.truncate(limit);
            Ok(found)
        })
    }

    fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        self.read(|tx| {
            let pool_num = match &filter.pool_id {
                // a deleted pool is still found by its id in the events about it
                Some(id) => tx
                    .conn
                    .query_row("SELECT num FROM pools WHERE id = ?1", [id], |r| {
                        r.get::<_, i64>(0)
                    })
                    .optional()?,
                None => None,
            };
            let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
            let mut events = tx
                .conn
                .prepare(AUDIT_QUERY)?
                .query_map(
                    params![
                        filter.after_sequence,
                        filter.since_millis,
                        pool_num,
                        filter.pool_id,
                        filter.object_id,
                        filter.actor,
                        filter.action,
                        limit
                    ],
                    audit_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            events.reverse();
            Ok(events)
        })
    }

    fn check_storage(&self) -> Result<Vec<String>> {
        let report = self.integrity_check()?;
        Ok(report
            .lines()
            .filter(|line| *line != "ok")
            .map(|line| format!("sqlite integrity check: {line}"))
            .collect())
    }

    fn backup(
        &self,
        destination: &Path,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<BackupProgress> {
        let fail = |e: String| Error::Storage {
            message: format!("backup to {} failed: {e}", destination.display()),
        };
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(destination)
            .map_err(|e| fail(e.to_string()))?;
        let mut target = Connection::open(destination).map_err(|e| fail(e.to_string()))?;
        let source = self.lock();
        // one read transaction across every step: the copy is the state at its start, and
        // writers (which append to the WAL) neither wait for it nor make it start over
        source
            .execute_batch("BEGIN DEFERRED")
            .and_then(|()| {
                source.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map_err(|e| fail(e.to_string()))?;
        let copied = copy_pages(&source, &mut target, progress).map_err(|e| fail(e.to_string()));
        let _ = source.execute_batch("ROLLBACK");
        copied
    }
}

/// Copies every page of `source` into `target` with SQLite's online backup API, 256 pages
/// at a time.
fn copy_pages(
    source: &Connection,
    target: &mut Connection,
    progress: &mut dyn FnMut(BackupProgress),
) -> rusqlite::Result<BackupProgress> {
    use rusqlite::backup::{Backup, StepResult};
    let backup = Backup::new(source, target)?;
    loop {
        let step = backup.step(256)?;
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or(0);
        let now = BackupProgress {
            done: total.saturating_sub(u64::try_from(p.remaining).unwrap_or(0)),
            total,
        };
        progress(now);
        match step {
            StepResult::Done => return Ok(now),
            StepResult::More => {}
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// A store at `path` with one IPv4 pool holding `cidr`, and a request for a /28 from it.
#[cfg(test)]
fn store_with_pool(path: impl AsRef<Path>, cidr: &str) -> (SqliteStore, AllocationRequest) {
    let store = SqliteStore::open(path, SqliteOptions::new("t")).unwrap();
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let pool = store
        .create_pool(&NewPool::new(
            &ipam.private_default_scope_id,
            AddressFamily::Ipv4,
        ))
        .unwrap();
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(cidr.parse().unwrap()))
        .unwrap();
    let request = AllocationRequest {
        pool_id: pool.id,
        netmask_length: Some(28),
        ..Default::default()
    };
    (store, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The allocator's per-request queries must be index look-ups (cost log N), never scans
    /// or sorts of a pool's rows.
    #[test]
    fn hot_queries_use_indexes_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(dir.path().join("plan.db"), SqliteOptions::new("test")).unwrap();
        let conn = store.lock();
        let blob = blob(1).to_vec();
        let by_key = allocation_by_key_sql();
        let by_legacy_id = format!("{ALLOCATION_SELECT} WHERE a.legacy_id = ?1");
        let queries: &[(&str, &[&dyn rusqlite::ToSql])] = &[
            (FREE_BEST_FIT, &[&1, &28]),
            (FREE_BEST_FIT_SAME_LEN_AFTER, &[&1, &28, &blob]),
            (FREE_BEST_FIT_SHORTER, &[&1, &28]),
            (FREE_EXISTS, &[&1, &28, &blob]),
            (FREE_DELETE, &[&1, &28, &blob]),
            (POOL_CIDR_AT_OR_BEFORE, &[&1, &blob]),
            (POOL_CIDR_TOP_LEVEL_AT_OR_BEFORE, &[&"s", &4, &blob]),
            (ALLOCATION_AT_OR_BEFORE, &[&1, &blob]),
            (ALLOCATION_DELETE, &[&1, &blob]),
            (ALLOCATION_EVENT, &[&1, &"ipam-alloc-0"]),
            (AUDIT_NEXT_SEQUENCE, &[]),
            (&by_key, &[&1, &blob, &1]),
            (&by_legacy_id, &[&"ipam-alloc-0"]),
        ];
        for (sql, params) in queries {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(*params, |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: sorts: {plan}");
            assert!(
                !plan.starts_with("SCAN") || plan.contains("INDEX"),
                "{sql}: scans: {plan}"
            );
        }
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {FREE_BEST_FIT}"))
            .unwrap();
        let plan: String = stmt.query_row(params![1, 28], |row| row.get(3)).unwrap();
        assert!(plan.contains("PRIMARY KEY"), "{plan}");
    }
}
#[cfg(test)]
mod reprepare_tests {
    use super::*;

    /// Every allocate and release reuses its prepared statements: no statement of the hot path
    /// is parsed and planned again (which SQLite does per call for range queries unless the
    /// query planner stability guarantee is on).
    #[test]
    fn hot_statements_are_never_reprepared() {
        let dir = tempfile::tempdir().unwrap();
        let (store, request) = store_with_pool(dir.path().join("p.db"), "10.0.0.0/8");
        for _ in 0..50 {
            let allocation = store.allocate(&request).unwrap();
            store.release_allocation(&allocation.id).unwrap();
        }
        let conn = store.lock();
        let pool_by_id = format!("{POOL_SELECT} WHERE id = ?1");
        let allocation_by_key = allocation_by_key_sql();
        for sql in [
            FREE_BEST_FIT,
            FREE_EXISTS,
            FREE_DELETE,
            FREE_INSERT,
            ALLOCATION_INSERT,
            ALLOCATION_DELETE,
            AUDIT_INSERT,
            POOL_CIDR_AT_OR_BEFORE,
            AUDIT_NEXT_SEQUENCE,
            ALLOCATION_EVENT,
            &pool_by_id,
            &allocation_by_key,
        ] {
            let stmt = conn.prepare_cached(sql).unwrap();
            assert!(
                stmt.get_status(rusqlite::StatementStatus::Run) >= 50,
                "{sql} was not cached"
            );
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "{sql}"
            );
        }
    }
}

#[cfg(test)]
mod migration_tests {
    use super::*;

    const V1_TIME: &str = "2026-11-20T08:30:15.250Z";

    /// A database as schema version 1 wrote it: a /8 pool holding two allocations (random ids,
    /// text times), its free blocks and its audit events.
    fn version_1_database(path: &Path) -> (String, String) {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "page_size", PAGE_SIZE).unwrap();
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO ipams VALUES ('ipam-1', '', '[]', '{{}}', '{V1_TIME}', '{V1_TIME}');
             INSERT INTO scopes VALUES ('ipam-scope-1', 'ipam-1', 'private', '', '{{}}', 1, '{V1_TIME}', '{V1_TIME}');
             INSERT INTO pools (num, id, scope_id, family, description, allocation_resource_tags,
                 auto_import, publicly_advertisable, tags, depth, created_at, updated_at)
                 VALUES (1, 'ipam-pool-1', 'ipam-scope-1', 4, '', '{{}}', 0, 0, '{{}}', 0, '{V1_TIME}', '{V1_TIME}');"
        ))
        .unwrap();
        let top: IpNet = "10.0.0.0/8".parse().unwrap();
        conn.execute(
            "INSERT INTO pool_cidrs VALUES ('ipam-pool-cidr-1', 1, 'ipam-scope-1', 4, 1, ?1, 8, NULL, ?2)",
            params![&blob(Block::of(&top).start)[..], V1_TIME],
        )
        .unwrap();
        // 10.0.0.0/24 and 10.0.1.0/24 taken; the rest of the /8 free in aligned blocks
        let ids = ("ipam-alloc-00000000000000a1", "ipam-alloc-00000000000000a2");
        for (id, cidr, sequence) in [(ids.0, "10.0.0.0/24", 1), (ids.1, "10.0.1.0/24", 2)] {
            let net: IpNet = cidr.parse().unwrap();
            conn.execute(
                "INSERT INTO allocations VALUES (1, ?1, 24, ?2, 'old', '{\"team\":\"a\"}', NULL, '[]', ?3, ?3)",
                params![&blob(Block::of(&net).start)[..], id, V1_TIME],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO audit_events VALUES (?1, ?2, 'v1', 'allocate', ?3, ?4, '{}')",
                params![sequence, V1_TIME, id, cidr],
            )
            .unwrap();
        }
        for len in 9..=23u8 {
            let start = 0x0a00_0000u128 + (1u128 << (32 - len));
            conn.execute(
                "INSERT INTO free_blocks VALUES (1, ?1, ?2)",
                params![len, &blob(start)[..]],
            )
            .unwrap();
        }
        (ids.0.to_string(), ids.1.to_string())
    }

    #[test]
    fn version_1_databases_are_migrated_keeping_ids_times_and_audit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let (first, second) = version_1_database(&path);
        let store = SqliteStore::open(&path, SqliteOptions::new("t")).unwrap();
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        let old = store.get_allocation(&first).unwrap();
        assert_eq!(old.cidr.to_string(), "10.0.0.0/24");
        assert_eq!(
            (old.created_at.as_str(), old.updated_at.as_str()),
            (V1_TIME, V1_TIME)
        );
        assert_eq!(old.tags.get("team").map(String::as_str), Some("a"));
        let events = store.audit_events(0, 10).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].at, V1_TIME);
        assert_eq!(events[1].object_id, second);

        // old and new allocations live side by side
        let request = AllocationRequest {
            pool_id: "ipam-pool-1".into(),
            netmask_length: Some(24),
            ..Default::default()
        };
        let new = store.allocate(&request).unwrap();
        assert_eq!(new.cidr.to_string(), "10.0.2.0/24");
        assert_eq!(store.get_allocation(&new.id).unwrap(), new);
        let listed: Vec<String> = store
            .list_allocations("ipam-pool-1")
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(listed, [first.clone(), second.clone(), new.id.clone()]);
        let updated = store
            .update_allocation(
                &second,
                &AllocationUpdate {
                    description: Some("renamed".into()),
                    tags: None,
                },
            )
            .unwrap();
        assert_eq!(updated.description, "renamed");
        store.release_allocation(&first).unwrap();
        assert!(matches!(
            store.get_allocation(&first),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    /// The consistency check notices an allocation whose allocate event no longer leads to it.
    #[test]
    fn consistency_check_reports_allocations_their_ids_do_not_reach() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let (store, request) = store_with_pool(&path, "10.0.0.0/24");
        let (first, second) = (
            store.allocate(&request).unwrap(),
            store.allocate(&request).unwrap(),
        );
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        {
            let conn = store.lock();
            conn.execute(
                "UPDATE audit_events SET cidr = '10.0.0.128/28' WHERE object_id = ?1",
                [&first.id],
            )
            .unwrap();
            conn.execute(
                "DELETE FROM audit_events WHERE object_id = ?1",
                [&second.id],
            )
            .unwrap();
        }
        let problems = store.check_consistency().unwrap().join("\n");
        assert!(
            problems.contains(&format!(
                "allocation {} (10.0.0.0/28) is not found by its id",
                first.id
            )),
            "{problems}"
        );
        assert!(
            problems.contains(&format!("allocation {} has no audit event", second.id)),
            "{problems}"
        );
    }

    /// An id names one allocation for good: once released, its id is not found even when the
    /// same CIDR is handed out again, and ids that were never issued are not found either.
    #[test]
    fn ids_are_never_reused_or_guessed() {
        let dir = tempfile::tempdir().unwrap();
        let (store, request) = store_with_pool(dir.path().join("ids.db"), "10.0.0.0/24");
        let first = store.allocate(&request).unwrap();
        store.release_allocation(&first.id).unwrap();
        let again = store.allocate(&request).unwrap();
        assert_eq!(again.cidr, first.cidr);
        assert_ne!(again.id, first.id);
        assert!(matches!(
            store.get_allocation(&first.id),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(store.get_allocation(&again.id).unwrap(), again);
        // the ids of other events' sequences (the ipam, the pool, ...) are not allocations
        for sequence in 1..=5 {
            let id = store.ids.id(sequence);
            assert!(
                matches!(store.get_allocation(&id), Err(Error::NotFound { .. })),
                "{id}"
            );
        }
        for id in [
            "ipam-alloc-0000000000000000",
            "ipam-alloc-ffffffffffffffff",
            "ipam-alloc-",
            "x",
        ] {
            assert!(
                matches!(store.get_allocation(id), Err(Error::NotFound { .. })),
                "{id}"
            );
        }
    }
}
