//! The port's row access in one SQLite transaction: named statements, cached, nothing else.

use std::cell::Cell;

use ipnet::IpNet;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::connection::{is_busy, sql_error};
use super::free_index::SqlFreeIndex;
use super::rows::*;
use super::statements::*;
use crate::ipam::engine::port::{
    AllocationSpan, AuditRecord, NewAllocation, Now, StoredAllocation, StoredPool, StoredPoolCidr,
    StoredReservation,
};
use crate::ipam::engine::{PoolKey, Transaction};
use crate::ipam::{
    AddressFamily, AuditEvent, AuditFilter, Block, Ipam, Pool, PoolCidr, Result, Scope,
};
use crate::store::util::{format_millis, new_id, transaction_now, SequenceIds};

/// One transaction on the connection.
pub struct SqliteTx<'c> {
    conn: &'c Connection,
    ids: SequenceIds,
    /// SQLite reported busy/locked during this run: the backend retries it.
    busy: Cell<bool>,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn new(conn: &'c Connection, ids: SequenceIds) -> SqliteTx<'c> {
        SqliteTx {
            conn,
            ids,
            busy: Cell::new(false),
        }
    }

    /// Whether SQLite reported busy during this run.
    pub(super) fn saw_busy(&self) -> bool {
        self.busy.get()
    }

    /// Runs SQL on the connection, mapping its error (and noting a busy one for the retry).
    pub(super) fn sql<T>(&self, op: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        op(self.conn).map_err(|e| {
            if is_busy(&e) {
                self.busy.set(true);
            }
            sql_error(&e)
        })
    }

    /// The one row of `sql` for `params`, if any.
    fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        self.sql(|conn| conn.prepare_cached(sql)?.query_row(params, map).optional())
    }

    /// Every row of `sql` for `params`.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        self.sql(|conn| {
            conn.prepare_cached(sql)?
                .query_map(params, map)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    /// The boolean `SELECT EXISTS (...)` of `sql`.
    fn exists(&self, sql: &str, params: impl rusqlite::Params) -> Result<bool> {
        self.sql(|conn| {
            conn.prepare_cached(sql)?
                .query_row(params, |row| row.get(0))
        })
    }

    /// Runs a statement that returns no rows.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        self.sql(|conn| conn.prepare_cached(sql)?.execute(params).map(drop))
    }

    /// An allocation made by schema version 2 or later: its id names its allocate event, which
    /// names its pool and CIDR, its primary key.
    fn allocation_by_event(&self, id: &str) -> Result<Option<StoredAllocation>> {
        let Some(sequence) = self.ids.sequence(id) else {
            return Ok(None);
        };
        let event = self.row(ALLOCATION_EVENT, params![sequence, id], |row| {
            Ok((
                row.get::<_, Option<i64>>(0)?,
                row.get::<_, Option<String>>(1)?,
            ))
        })?;
        let key = event.and_then(|(pool, cidr)| Some((pool?, cidr?.parse::<IpNet>().ok()?)));
        let Some((pool, cidr)) = key else {
            return Ok(None);
        };
        let start = blob(Block::of(&cidr).start);
        self.row(
            ALLOCATION_BY_KEY,
            params![pool, &start[..], sequence],
            allocation_row,
        )
    }
}

fn string_row(row: &Row<'_>) -> rusqlite::Result<String> {
    row.get(0)
}

impl<'c> Transaction for SqliteTx<'c> {
    type Index<'a>
        = SqlFreeIndex<'a>
    where
        Self: 'a;

    fn now(&self) -> Now {
        transaction_now()
    }

    fn mint_id(&self, prefix: &str) -> String {
        new_id(prefix)
    }

    fn ipam(&self, id: &str) -> Result<Option<Ipam>> {
        self.row(IPAM_BY_ID, [id], ipam_row)
    }

    fn ipams(&self) -> Result<Vec<Ipam>> {
        self.rows(IPAMS, [], ipam_row)
    }

    fn insert_ipam(&self, ipam: &Ipam) -> Result<()> {
        self.execute(IPAM_INSERT, ipam_params(ipam))
    }

    fn update_ipam(&self, ipam: &Ipam) -> Result<()> {
        self.execute(IPAM_UPDATE, ipam_params(ipam))
    }

    fn delete_ipam(&self, id: &str) -> Result<()> {
        self.execute(IPAM_DELETE, [id])
    }

    fn scope(&self, id: &str) -> Result<Option<Scope>> {
        self.row(SCOPE_BY_ID, [id], scope_row)
    }

    fn scopes_of(&self, ipam_id: &str) -> Result<Vec<Scope>> {
        self.rows(SCOPES_OF_IPAM, [ipam_id], scope_row)
    }

    fn insert_scope(&self, scope: &Scope) -> Result<()> {
        self.execute(SCOPE_INSERT, scope_params(scope))
    }

    fn update_scope(&self, scope: &Scope) -> Result<()> {
        self.execute(SCOPE_UPDATE, scope_params(scope))
    }

    fn delete_scope(&self, id: &str) -> Result<()> {
        self.execute(SCOPE_DELETE, [id])
    }

    fn pool(&self, id: &str) -> Result<Option<StoredPool>> {
        self.row(POOL_BY_ID, [id], pool_row)
    }

    fn pools(&self) -> Result<Vec<StoredPool>> {
        self.rows(POOLS, [], pool_row)
    }

    fn pools_in_scope(&self, scope_id: &str) -> Result<Vec<Pool>> {
        let rows = self.rows(POOLS_IN_SCOPE, [scope_id], pool_row)?;
        Ok(rows.into_iter().map(|row| row.pool).collect())
    }

    fn child_pool_ids(&self, pool_id: &str) -> Result<Vec<String>> {
        self.rows(POOL_CHILD_IDS, [pool_id], string_row)
    }

    fn insert_pool(&self, pool: &Pool) -> Result<()> {
        self.execute(POOL_INSERT, pool_params(pool))
    }

    fn update_pool(&self, pool: &Pool) -> Result<()> {
        self.execute(POOL_UPDATE, pool_params(pool))
    }

    fn delete_pool(&self, id: &str) -> Result<()> {
        self.execute(POOL_DELETE, [id])
    }

    fn pool_cidr(&self, id: &str) -> Result<Option<StoredPoolCidr>> {
        self.row(POOL_CIDR_BY_ID, [id], pool_cidr_row)
    }

    fn pool_cidrs_of(&self, pool: PoolKey) -> Result<Vec<StoredPoolCidr>> {
        self.rows(POOL_CIDRS_OF_POOL, [pool], pool_cidr_row)
    }

    fn all_pool_cidrs(&self) -> Result<Vec<StoredPoolCidr>> {
        self.rows(POOL_CIDRS, [], pool_cidr_row)
    }

    fn pool_cidr_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<(String, Block)>> {
        self.row(
            POOL_CIDR_AT_OR_BEFORE,
            params![pool, &blob(address)[..]],
            |row| Ok((row.get(0)?, block_cols(row, 1, 2)?)),
        )
    }

    fn top_level_cidr_at_or_before(
        &self,
        scope_id: &str,
        family: AddressFamily,
        address: u128,
    ) -> Result<Option<(Block, String)>> {
        self.row(
            POOL_CIDR_TOP_LEVEL_AT_OR_BEFORE,
            params![scope_id, family_num(family), &blob(address)[..]],
            |row| Ok((block_cols(row, 1, 2)?, row.get(3)?)),
        )
    }

    fn insert_pool_cidr(&self, pool: &StoredPool, pool_cidr: &PoolCidr) -> Result<()> {
        let block = Block::of(&pool_cidr.cidr);
        self.execute(
            POOL_CIDR_INSERT,
            params![
                pool_cidr.id,
                pool.key,
                pool.pool.scope_id,
                family_num(pool.family()),
                pool_cidr.parent_allocation_id.is_none(),
                &blob(block.start)[..],
                block.prefix_len,
                pool_cidr.parent_allocation_id,
                pool_cidr.created_at
            ],
        )
    }

    fn delete_pool_cidr(&self, id: &str) -> Result<()> {
        self.execute(POOL_CIDR_DELETE, [id])
    }

    /// Allocations made by schema version 1 have random ids, looked up in their own index.
    fn allocation(&self, id: &str) -> Result<Option<StoredAllocation>> {
        match self.allocation_by_event(id)? {
            Some(row) => Ok(Some(row)),
            None => self.row(ALLOCATION_BY_LEGACY_ID, [id], allocation_row),
        }
    }

    fn allocations_of(&self, pool: PoolKey) -> Result<Vec<StoredAllocation>> {
        self.rows(ALLOCATIONS_OF_POOL, [pool], allocation_row)
    }

    fn allocation_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<AllocationSpan>> {
        self.row(
            ALLOCATION_AT_OR_BEFORE,
            params![pool, &blob(address)[..]],
            span_row,
        )
    }

    fn allocations_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
    ) -> Result<Vec<AllocationSpan>> {
        self.rows(
            ALLOCATION_IN_RANGE,
            params![pool, &blob(first)[..], &blob(last)[..]],
            span_row,
        )
    }

    fn count_allocations_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<u64> {
        let count: i64 = self.sql(|conn| {
            conn.prepare_cached(ALLOCATION_COUNT_IN_RANGE)?
                .query_row(params![pool, &blob(first)[..], &blob(last)[..]], |row| {
                    row.get(0)
                })
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn allocation_rows_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
        limit: usize,
    ) -> Result<Vec<StoredAllocation>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(
            ALLOCATION_ROWS_IN_RANGE,
            params![pool, &blob(first)[..], &blob(last)[..], limit],
            allocation_row,
        )
    }

    /// The id derives from the allocate event's sequence (`SequenceIds`): this transaction
    /// holds the write lock, so the next sequence is this event's.
    fn insert_allocation(&self, new: &NewAllocation<'_>) -> Result<String> {
        let sequence: i64 = self.sql(|conn| {
            conn.prepare_cached(AUDIT_NEXT_SEQUENCE)?
                .query_row([], |row| row.get(0))
        })?;
        let id = self.ids.id(sequence);
        self.execute(
            ALLOCATION_INSERT,
            params![
                sequence,
                new.pool_key,
                &blob(new.block.start)[..],
                new.block.prefix_len,
                new.description,
                tags_json(new.tags),
                new.child_pool_cidr_id,
                new.event.at_millis,
                cidrs_json(new.disallowed_cidrs),
                new.name
            ],
        )?;
        self.append(Some(sequence), &id, &new.event)?;
        Ok(id)
    }

    fn update_allocation(&self, row: &StoredAllocation, updated_at_millis: i64) -> Result<()> {
        self.execute(
            ALLOCATION_UPDATE,
            params![
                row.pool_key,
                &blob(row.block.start)[..],
                row.allocation.description,
                tags_json(&row.allocation.tags),
                updated_at_millis,
                row.allocation.name
            ],
        )
    }

    fn allocation_named(&self, pool: PoolKey, name: &str) -> Result<Option<AllocationSpan>> {
        self.row(ALLOCATION_BY_NAME, params![pool, name], span_row)
    }

    fn delete_allocation(&self, pool: PoolKey, block: Block) -> Result<()> {
        self.execute(ALLOCATION_DELETE, params![pool, &blob(block.start)[..]])
    }

    fn allocations_without_allocate_event(&self) -> Result<Vec<String>> {
        self.rows(ALLOCATIONS_WITHOUT_AUDIT, [], string_row)
    }

    fn reservation(&self, pool: PoolKey, name: &str) -> Result<Option<StoredReservation>> {
        self.row(RESERVATION_BY_NAME, params![pool, name], reservation_row)
    }

    fn reservations_of(&self, pool: PoolKey) -> Result<Vec<StoredReservation>> {
        self.rows(RESERVATIONS_OF_POOL, params![pool], reservation_row)
    }

    fn held_reservation_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<StoredReservation>> {
        self.row(
            RESERVATION_HELD_AT_OR_BEFORE,
            params![pool, &blob(address)[..]],
            reservation_row,
        )
    }

    fn expired_reservations(
        &self,
        pool: PoolKey,
        now_millis: i64,
    ) -> Result<Vec<StoredReservation>> {
        self.rows(
            RESERVATIONS_EXPIRED,
            params![pool, now_millis],
            reservation_row,
        )
    }

    fn put_reservation(&self, reservation: &StoredReservation) -> Result<()> {
        self.execute(
            RESERVATION_PUT,
            params![
                reservation.pool_key,
                reservation.name,
                &blob(reservation.block.start)[..],
                reservation.block.prefix_len,
                reservation.expires_at_millis,
                reservation.lost
            ],
        )
    }

    fn delete_reservation(&self, pool: PoolKey, name: &str) -> Result<()> {
        self.execute(RESERVATION_DELETE, params![pool, name])
    }

    fn free_index(&self, pool: PoolKey) -> SqlFreeIndex<'_> {
        SqlFreeIndex { tx: self, pool }
    }

    fn free_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<Vec<Block>> {
        self.rows(
            FREE_IN_RANGE,
            params![pool, &blob(first)[..], &blob(last)[..]],
            block_row,
        )
    }

    fn delete_free_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<()> {
        self.execute(
            FREE_DELETE_RANGE,
            params![pool, &blob(first)[..], &blob(last)[..]],
        )
    }

    fn insert_cooling_block(&self, pool: PoolKey, block: Block, until_millis: i64) -> Result<()> {
        self.execute(
            COOLING_INSERT,
            params![pool, &blob(block.start)[..], block.prefix_len, until_millis],
        )
    }

    fn cooling_blocks_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
    ) -> Result<Vec<(Block, Now)>> {
        self.rows(
            COOLING_IN_RANGE,
            params![pool, &blob(first)[..], &blob(last)[..]],
            |row| {
                let millis: i64 = row.get(2)?;
                let until = Now {
                    millis,
                    text: format_millis(millis),
                };
                Ok((block_row(row)?, until))
            },
        )
    }

    fn delete_cooling_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<()> {
        self.execute(
            COOLING_DELETE_RANGE,
            params![pool, &blob(first)[..], &blob(last)[..]],
        )
    }

    fn append_audit(&self, record: &AuditRecord<'_>) -> Result<()> {
        self.append(None, record.object_id, record)
    }

    fn audit_events(&self, after_sequence: i64, limit: usize) -> Result<Vec<AuditEvent>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(AUDIT_SELECT, params![after_sequence, limit], audit_row)
    }

    fn audit_query(&self, filter: &AuditFilter, pool: Option<PoolKey>) -> Result<Vec<AuditEvent>> {
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let mut events = self.rows(
            AUDIT_QUERY,
            params![
                filter.after_sequence,
                filter.since_millis,
                pool,
                filter.pool_id,
                filter.object_id,
                filter.actor,
                filter.action,
                limit
            ],
            audit_row,
        )?;
        events.reverse();
        Ok(events)
    }

    /// Every object's creation is audited under its id (allocations of schema version 1 too);
    /// an allocation id of schema version 2 names its allocate event by sequence.
    fn audit_names(&self, id: &str) -> Result<bool> {
        if let Some(sequence) = self.ids.sequence(id) {
            if self.exists(ALLOCATE_EVENT_OF, params![sequence, id])? {
                return Ok(true);
            }
        }
        self.exists(EVENT_ABOUT_OBJECT, [id])
    }

    fn audit_is_empty(&self) -> Result<bool> {
        Ok(!self.exists(ANY_EVENT, [])?)
    }
}

impl SqliteTx<'_> {
    /// Appends an audit event about `object_id`; `sequence` is given only for allocate events
    /// (the id derives from it), otherwise the next one is taken.
    fn append(
        &self,
        sequence: Option<i64>,
        object_id: &str,
        record: &AuditRecord<'_>,
    ) -> Result<()> {
        self.execute(
            AUDIT_INSERT,
            params![
                sequence,
                record.at_millis,
                record.actor,
                record.action,
                object_id,
                record.cidr.map(|c| c.to_string()),
                record.pool,
                record.details.to_string()
            ],
        )
    }
}
