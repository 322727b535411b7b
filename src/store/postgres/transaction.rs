//! The port's row access in one PostgreSQL transaction: named statements, prepared once per
//! connection, nothing else.
//!
//! Round trips: a write (`INSERT`, `UPDATE`, `DELETE`, the pool lock) is not sent when the
//! engine asks for it but queued, and goes out with the next read or with the `COMMIT`, in one
//! pipeline; so does the `BEGIN`. The server runs the pipeline in order, so a read sees every
//! write and lock queued before it, and a write the server refuses fails the statements after
//! it and the transaction (reported at that read or at the commit, never lost).
//!
//! Reads sent ahead: the engine announces the reads it is about to make
//! ([`Transaction::expect`]: an allocation's pool, its lock, what it reads under the lock); a
//! write transaction sends them at once, in the pipeline of whatever is queued (its `BEGIN`),
//! with the pool named by its id (its number is not known yet: `(SELECT num FROM pools WHERE
//! id = $1)`), and answers the engine's later calls from what came back when the arguments
//! match. This is correct because the pipeline runs in the order announced and READ
//! COMMITTED makes each statement see everything committed before it: the pool row, then the
//! lock, then each read under the lock sees the state every later read of this transaction
//! would see, except for what this transaction writes. So any write queued since drops every
//! answer not used yet (the simplest rule that is always right: a swept reservation's space
//! changes the best fit), and each answer serves one call. The lock sent ahead is held: the
//! engine's `lock_pool` of that pool sends nothing. A statement sent ahead that failed (a
//! lock timeout, a serialisation failure) aborted the transaction: its error, remembered,
//! is the answer of every later call and of the commit, so it reaches the engine (and the
//! retries) as it would have at the call that sends it today. An allocation thus takes two
//! round trips: `BEGIN` with the reads, then the writes with the `COMMIT`.

use std::cell::{Cell, RefCell};

use postgres::types::ToSql;
use postgres::Row;

use super::client::{Answer, Step};
use super::connection::{storage_error, PgConnection, PgFailure, PostgresBackend};
use super::free_index::PgFreeIndex;
use super::rows::*;
use super::statements::*;
use crate::ipam::engine::port::{
    AllocationSpan, AuditRecord, ExpectedRead, NewAllocation, Now, StoredAllocation, StoredPool,
    StoredPoolCidr, StoredReservation,
};
use crate::ipam::engine::{PoolKey, Transaction};
use crate::ipam::{
    AddressFamily, AuditEvent, AuditFilter, Block, Error, Ipam, Pool, PoolCidr, Result, Scope,
};
use crate::store::util::{format_millis, new_id, transaction_now};

/// What a transaction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A snapshot that writes nothing, begun by its first statement.
    Read,
    /// A write transaction (begun by the backend).
    Write,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// A read sent ahead, by what the engine's call for it passes (see the module's doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ahead {
    Pool(String),
    AllocationNamed(PoolKey, String),
    Reservation(PoolKey, String),
    ExpiredReservations(PoolKey, i64),
    BestFit(PoolKey, u8),
}

/// What a run of a transaction leaves for the backend.
pub(super) struct Finished {
    /// Something was sent: a transaction is open on the server.
    pub(super) sent: bool,
    /// Statements not sent yet (with a write transaction's `BEGIN` if nothing was sent).
    pub(super) pending: Vec<Step>,
    /// The first transient failure of this run (the backend retries).
    pub(super) failure: Option<PgFailure>,
    /// A pool lock was taken for a rerun of the whole transaction.
    pub(super) rerun: bool,
    /// A statement sent ahead failed: the transaction is aborted, with this error.
    pub(super) aborted: Option<Error>,
}

/// One transaction on a connection.
pub struct PgTx<'c> {
    conn: RefCell<&'c mut PgConnection>,
    backend: &'c PostgresBackend,
    mode: Mode,
    /// A `BEGIN` was queued or sent.
    begun: Cell<bool>,
    /// Something was sent to the server (a transaction to end).
    sent: Cell<bool>,
    /// Statements queued for the next round trip (see the module's doc).
    pending: RefCell<Vec<Step>>,
    /// The sequence number drawn by `BEGIN_WRITE` while no event has taken it.
    drawn: Cell<Option<i64>>,
    /// The first transient failure of this run (the backend retries).
    failure: Cell<Option<PgFailure>>,
    /// A pool lock was taken for a rerun of the whole transaction.
    rerun: Cell<bool>,
    /// Rows of a pool (allocations, pool CIDRs, free blocks) were read: a pool lock taken after
    /// that must make the transaction run again under the lock, since READ COMMITTED reads made
    /// before the lock may miss a change committed while it was awaited.
    read_pool_rows: Cell<bool>,
    /// The answers of reads sent ahead, not used yet (see the module's doc).
    ahead: RefCell<Vec<(Ahead, Vec<Row>)>>,
    /// Pools locked by this transaction (sent ahead or queued; held until it ends).
    locked: RefCell<Vec<PoolKey>>,
    /// The error of a statement sent ahead, which aborted the transaction.
    aborted: RefCell<Option<Error>>,
}

impl<'c> PgTx<'c> {
    pub(super) fn new(
        conn: &'c mut PgConnection,
        backend: &'c PostgresBackend,
        mode: Mode,
    ) -> PgTx<'c> {
        let mut pending = Vec::new();
        if mode == Mode::Write {
            pending.push(Step::Simple(backend.begin_write.clone()));
        }
        PgTx {
            conn: RefCell::new(conn),
            backend,
            mode,
            begun: Cell::new(mode == Mode::Write),
            sent: Cell::new(false),
            pending: RefCell::new(pending),
            drawn: Cell::new(None),
            failure: Cell::new(None),
            rerun: Cell::new(false),
            read_pool_rows: Cell::new(false),
            ahead: RefCell::new(Vec::new()),
            locked: RefCell::new(Vec::new()),
            aborted: RefCell::new(None),
        }
    }

    /// The end of a run: what the backend needs to commit or roll back and to decide on a retry.
    pub(super) fn finish(self) -> Finished {
        Finished {
            sent: self.sent.get(),
            pending: self.pending.take(),
            failure: self.failure.get(),
            rerun: self.rerun.get(),
            aborted: self.aborted.take(),
        }
    }

    fn fail(&self, e: postgres::Error) -> Error {
        let failure = PgFailure::of(&e);
        if failure != PgFailure::Other && self.failure.get().is_none() {
            self.failure.set(Some(failure));
        }
        storage_error(&failure, &e, &self.backend.describe())
    }

    /// Queues the `BEGIN` of a read transaction before its first statement: a snapshot, or for
    /// the audit log the wait for every writer that may hold a sequence number (see
    /// `statements::BEGIN_WRITE`).
    fn begin_read(&self, audit: bool) {
        if self.begun.get() {
            return;
        }
        let begin = if audit {
            BEGIN_AUDIT_READ.replace("{lock}", &self.backend.audit_lock.to_string())
        } else {
            BEGIN_READ.to_string()
        };
        self.pending.borrow_mut().push(Step::Simple(begin));
        self.begun.set(true);
    }

    /// Runs `sql` with everything queued before it, in one round trip: its rows.
    fn run(&self, sql: &'static str, params: Params<'_>, audit: bool) -> Result<Vec<Row>> {
        self.check_aborted()?;
        self.begin_read(audit);
        let mut conn = self.conn.borrow_mut();
        let statement = conn.statement(sql).map_err(|e| self.fail(e))?;
        let pending = self.pending.take();
        let begins_write = !self.sent.get() && self.mode == Mode::Write;
        self.sent.set(true);
        let answers = conn
            .client
            .pipeline(&pending, Some((&statement, params)))
            .map_err(|failed| self.fail(failed.error))?;
        if begins_write {
            let drawn = answers.simple.first().cloned().flatten();
            self.drawn.set(drawn.and_then(|text| text.parse().ok()));
        }
        Ok(answers.rows)
    }

    /// The sequence number for the next audit event: the one `BEGIN_WRITE` drew if no event
    /// took it yet, else `None` (drawn by the insert).
    fn take_drawn(&self) -> Option<i64> {
        self.drawn.take()
    }

    fn decode<T>(&self, value: RowResult<T>) -> Result<T> {
        value.map_err(|message| Error::Storage {
            message: format!(
                "{}: a stored row cannot be read ({message})",
                self.backend.describe()
            ),
        })
    }

    /// Every row of `sql`.
    fn rows<T>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> RowResult<T>,
    ) -> Result<Vec<T>> {
        self.run(sql, params, false)?
            .iter()
            .map(|row| self.decode(map(row)))
            .collect()
    }

    /// The first row of `sql`, if any.
    fn row<T>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> RowResult<T>,
    ) -> Result<Option<T>> {
        self.run(sql, params, false)?
            .first()
            .map(|row| self.decode(map(row)))
            .transpose()
    }

    /// Queues a statement run for its effect (a write or a lock) for the next round trip.
    pub(super) fn execute(&self, sql: &'static str, params: Params<'_>) -> Result<()> {
        if self.mode == Mode::Read {
            return self.run(sql, params, false).map(drop);
        }
        self.check_aborted()?;
        // what it writes may change any answer sent ahead
        self.ahead.borrow_mut().clear();
        let statement = self
            .conn
            .borrow_mut()
            .statement(sql)
            .map_err(|e| self.fail(e))?;
        let step = Step::prepared(statement, params).map_err(|message| Error::Storage {
            message: format!("{}: {message}", self.backend.describe()),
        })?;
        self.pending.borrow_mut().push(step);
        Ok(())
    }

    /// Rows of a pool, noted for `lock_pool`.
    pub(super) fn pool_rows<T>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> RowResult<T>,
    ) -> Result<Vec<T>> {
        self.read_pool_rows.set(true);
        self.rows(sql, params, map)
    }

    /// The first row of a pool's rows, noted for `lock_pool`.
    pub(super) fn pool_row_opt<T>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> RowResult<T>,
    ) -> Result<Option<T>> {
        self.read_pool_rows.set(true);
        self.row(sql, params, map)
    }

    /// The error of a statement sent ahead that aborted the transaction, if any.
    fn check_aborted(&self) -> Result<()> {
        match &*self.aborted.borrow() {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// The answer of `read` sent ahead, used up; `None` when it was not sent ahead or a
    /// write since dropped it (the caller reads as usual).
    fn ahead(&self, read: &Ahead) -> Option<Vec<Row>> {
        let mut ahead = self.ahead.borrow_mut();
        let at = ahead.iter().position(|(sent, _)| sent == read)?;
        let (_, rows) = ahead.remove(at);
        if !matches!(read, Ahead::Pool(_)) {
            self.read_pool_rows.set(true);
        }
        Some(rows)
    }

    /// The answer of `read` sent ahead as at most one row, decoded by `map`; `None` when it
    /// was not sent ahead (see [`PgTx::ahead`]).
    pub(super) fn ahead_row<T>(
        &self,
        read: &Ahead,
        map: impl Fn(&Row) -> RowResult<T>,
    ) -> Option<Result<Option<T>>> {
        let rows = self.ahead(read)?;
        Some(rows.first().map(|row| self.decode(map(row))).transpose())
    }

    /// Sends the reads the engine announced (see the module's doc) with what is queued, in
    /// one round trip. Only in a write transaction, before any row of a pool was read (a lock
    /// sent ahead after that would come too late), and only for a pool whose row is read
    /// ahead too (its number names it in the engine's later calls).
    fn send_ahead(&self, reads: &[ExpectedRead<'_>]) {
        if self.mode != Mode::Write || self.read_pool_rows.get() || self.aborted.borrow().is_some()
        {
            return;
        }
        let space = self.backend.pool_lock_space;
        let mut wanted: Vec<(Option<Ahead>, &'static str, Vec<&(dyn ToSql + Sync)>)> = Vec::new();
        let mut pools: Vec<&str> = Vec::new();
        let mut lengths: Vec<i32> = Vec::new();
        for read in reads {
            if let ExpectedRead::BestFit { max_len, .. } = read {
                lengths.push(i32::from(*max_len));
            }
        }
        let mut lengths = lengths.iter();
        for read in reads {
            match read {
                ExpectedRead::Pool { id } => {
                    pools.push(id);
                    wanted.push((Some(Ahead::Pool(id.to_string())), POOL_BY_ID, vec![id]));
                }
                ExpectedRead::PoolLock { pool_id } if pools.contains(pool_id) => {
                    wanted.push((None, AHEAD_POOL_LOCK, vec![pool_id, &space]));
                }
                ExpectedRead::AllocationNamed { pool_id, name } if pools.contains(pool_id) => {
                    wanted.push((
                        Some(Ahead::AllocationNamed(0, name.to_string())),
                        AHEAD_ALLOCATION_BY_NAME,
                        vec![pool_id, name],
                    ));
                }
                ExpectedRead::Reservation { pool_id, name } if pools.contains(pool_id) => {
                    wanted.push((
                        Some(Ahead::Reservation(0, name.to_string())),
                        AHEAD_RESERVATION_BY_NAME,
                        vec![pool_id, name],
                    ));
                }
                ExpectedRead::ExpiredReservations {
                    pool_id,
                    now_millis,
                } if pools.contains(pool_id) => {
                    wanted.push((
                        Some(Ahead::ExpiredReservations(0, *now_millis)),
                        AHEAD_RESERVATIONS_EXPIRED,
                        vec![pool_id, now_millis],
                    ));
                }
                ExpectedRead::BestFit { pool_id, max_len } => {
                    let length = lengths.next();
                    if let (true, Some(length)) = (pools.contains(pool_id), length) {
                        wanted.push((
                            Some(Ahead::BestFit(0, *max_len)),
                            AHEAD_FREE_BEST_FIT,
                            vec![pool_id, length],
                        ));
                    }
                }
                _ => {}
            }
        }
        if pools.len() != 1 || wanted.len() < 2 {
            // one pool at a time: the reads under its lock name it by its row's number
            return;
        }
        // prepared before anything is sent: a failure leaves the reads to the usual calls
        let mut steps = Vec::with_capacity(wanted.len());
        for (_, sql, params) in &wanted {
            let Ok(statement) = self.conn.borrow_mut().statement(sql) else {
                return;
            };
            let Ok(step) = Step::prepared(statement, params) else {
                return;
            };
            steps.push(step);
        }
        let mut pending = self.pending.take();
        let queued = pending.len();
        pending.extend(steps);
        let begins_write = !self.sent.get();
        self.sent.set(true);
        let answers = self.conn.borrow_mut().client.pipeline_each(&pending, None);
        let mut answers = answers.into_iter();
        let mut first_simple = true;
        for answer in answers.by_ref().take(queued) {
            match answer {
                Ok(Answer::Simple(text)) if first_simple && begins_write => {
                    first_simple = false;
                    self.drawn.set(text.and_then(|text| text.parse().ok()));
                }
                Ok(_) => first_simple = false,
                Err(failed) => {
                    let error = self.fail(failed.error);
                    *self.aborted.borrow_mut() = Some(error);
                    return;
                }
            }
        }
        let mut key: Option<PoolKey> = None;
        let mut ahead = Vec::new();
        for ((read, sql, _), answer) in wanted.into_iter().zip(answers) {
            let rows = match answer {
                Ok(Answer::Rows(rows)) => rows,
                Ok(Answer::Simple(_)) => Vec::new(),
                Err(failed) => {
                    // what came before stays good; the rest failed with it
                    let error = self.fail(failed.error);
                    *self.aborted.borrow_mut() = Some(error);
                    break;
                }
            };
            let Some(pool) = key.or_else(|| {
                // the pool's row comes first: its number names it from here on
                let row = rows.first().filter(|_| sql == POOL_BY_ID)?;
                row.try_get::<_, i64>(0).ok()
            }) else {
                if let Some(read) = read {
                    ahead.push((read, rows));
                }
                continue;
            };
            key = Some(pool);
            match read {
                None => self.locked.borrow_mut().push(pool),
                Some(read) => ahead.push((read.with_pool(pool), rows)),
            }
        }
        if key.is_none() {
            // no such pool: nothing else was read, the engine's own calls say so
            ahead.retain(|(read, _)| matches!(read, Ahead::Pool(_)));
        }
        *self.ahead.borrow_mut() = ahead;
    }

    fn append(
        &self,
        sequence: Option<i64>,
        object_id: &str,
        record: &AuditRecord<'_>,
    ) -> Result<()> {
        self.execute(
            AUDIT_INSERT,
            &[
                &sequence.or_else(|| self.take_drawn()),
                &record.at_millis,
                &record.actor,
                &record.action,
                &object_id,
                &record.cidr.map(|c| c.to_string()),
                &record.pool,
                &record.details.to_string(),
            ],
        )
    }
}

impl Ahead {
    /// The read with the pool's number, once the pool's row told it.
    fn with_pool(self, pool: PoolKey) -> Ahead {
        match self {
            Ahead::Pool(id) => Ahead::Pool(id),
            Ahead::AllocationNamed(_, name) => Ahead::AllocationNamed(pool, name),
            Ahead::Reservation(_, name) => Ahead::Reservation(pool, name),
            Ahead::ExpiredReservations(_, now) => Ahead::ExpiredReservations(pool, now),
            Ahead::BestFit(_, len) => Ahead::BestFit(pool, len),
        }
    }
}

impl<'c> Transaction for PgTx<'c> {
    type Index<'a>
        = PgFreeIndex<'a, 'c>
    where
        Self: 'a;

    fn now(&self) -> Now {
        transaction_now()
    }

    fn mint_id(&self, prefix: &str) -> String {
        new_id(prefix)
    }

    fn expect(&self, reads: &[ExpectedRead<'_>]) {
        self.send_ahead(reads);
    }

    fn ipam(&self, id: &str) -> Result<Option<Ipam>> {
        self.row(IPAM_BY_ID, &[&id], ipam_row)
    }

    fn ipams(&self) -> Result<Vec<Ipam>> {
        self.rows(IPAMS, &[], ipam_row)
    }

    fn insert_ipam(&self, ipam: &Ipam) -> Result<()> {
        self.execute(
            IPAM_INSERT,
            &[
                &ipam.id,
                &ipam.description,
                &strings_json(&ipam.operating_regions),
                &tags_json(&ipam.tags),
                &ipam.created_at,
            ],
        )
    }

    fn update_ipam(&self, ipam: &Ipam) -> Result<()> {
        self.execute(
            IPAM_UPDATE,
            &[
                &ipam.id,
                &ipam.description,
                &strings_json(&ipam.operating_regions),
                &tags_json(&ipam.tags),
                &ipam.updated_at,
            ],
        )
    }

    fn delete_ipam(&self, id: &str) -> Result<()> {
        self.execute(IPAM_DELETE, &[&id])
    }

    fn scope(&self, id: &str) -> Result<Option<Scope>> {
        self.row(SCOPE_BY_ID, &[&id], scope_row)
    }

    fn scopes_of(&self, ipam_id: &str) -> Result<Vec<Scope>> {
        self.rows(SCOPES_OF_IPAM, &[&ipam_id], scope_row)
    }

    fn insert_scope(&self, scope: &Scope) -> Result<()> {
        self.execute(
            SCOPE_INSERT,
            &[
                &scope.id,
                &scope.ipam_id,
                &scope.kind.as_str(),
                &scope.description,
                &tags_json(&scope.tags),
                &scope.is_default,
                &scope.created_at,
            ],
        )
    }

    fn update_scope(&self, scope: &Scope) -> Result<()> {
        self.execute(
            SCOPE_UPDATE,
            &[
                &scope.id,
                &scope.description,
                &tags_json(&scope.tags),
                &scope.updated_at,
            ],
        )
    }

    fn delete_scope(&self, id: &str) -> Result<()> {
        self.execute(SCOPE_DELETE, &[&id])
    }

    fn pool(&self, id: &str) -> Result<Option<StoredPool>> {
        self.ahead_row(&Ahead::Pool(id.to_string()), pool_row)
            .unwrap_or_else(|| self.row(POOL_BY_ID, &[&id], pool_row))
    }

    fn pools(&self) -> Result<Vec<StoredPool>> {
        self.rows(POOLS, &[], pool_row)
    }

    fn pools_in_scope(&self, scope_id: &str) -> Result<Vec<Pool>> {
        let rows = self.rows(POOLS_IN_SCOPE, &[&scope_id], pool_row)?;
        Ok(rows.into_iter().map(|row| row.pool).collect())
    }

    fn child_pool_ids(&self, pool_id: &str) -> Result<Vec<String>> {
        self.rows(POOL_CHILD_IDS, &[&pool_id], string_row)
    }

    fn insert_pool(&self, pool: &Pool) -> Result<()> {
        let (threshold, cooldown_seconds, cooldown_mode) = policy_params(pool);
        self.execute(
            POOL_INSERT,
            &[
                &pool.id,
                &pool.scope_id,
                &pool.source_pool_id,
                &family_num(pool.address_family),
                &pool.locale,
                &pool.description,
                &length_param(pool.netmask.min),
                &length_param(pool.netmask.max),
                &length_param(pool.netmask.default),
                &tags_json(&pool.allocation_resource_tags),
                &pool.auto_import,
                &pool.publicly_advertisable,
                &tags_json(&pool.tags),
                &(pool.depth as i32),
                &pool.created_at,
                &threshold,
                &cooldown_seconds,
                &cooldown_mode,
            ],
        )
    }

    fn update_pool(&self, pool: &Pool) -> Result<()> {
        let (threshold, cooldown_seconds, cooldown_mode) = policy_params(pool);
        self.execute(
            POOL_UPDATE,
            &[
                &pool.id,
                &pool.description,
                &length_param(pool.netmask.min),
                &length_param(pool.netmask.max),
                &length_param(pool.netmask.default),
                &tags_json(&pool.allocation_resource_tags),
                &pool.auto_import,
                &pool.publicly_advertisable,
                &tags_json(&pool.tags),
                &pool.updated_at,
                &threshold,
                &cooldown_seconds,
                &cooldown_mode,
            ],
        )
    }

    fn delete_pool(&self, id: &str) -> Result<()> {
        self.execute(POOL_DELETE, &[&id])
    }

    /// An advisory lock per pool, held until the transaction ends. When rows of a pool were
    /// read before (e.g. the allocation to release), the lock is taken for the session instead
    /// and the whole transaction runs again under it, so that every read sees the last change.
    /// A pool this transaction locked already (its lock sent ahead or queued) needs nothing.
    fn lock_pool(&self, pool: PoolKey) -> Result<()> {
        if self.mode != Mode::Write {
            return Ok(());
        }
        let space = self.backend.pool_lock_space;
        let key = pool as i32;
        if self.conn.borrow().held_pools.contains(&pool) || self.locked.borrow().contains(&pool) {
            return Ok(());
        }
        if !self.read_pool_rows.get() {
            // queued, it is taken before any later read: a second call needs nothing more
            self.execute(POOL_LOCK, &[&space, &key])?;
            self.locked.borrow_mut().push(pool);
            return Ok(());
        }
        // taken now, not queued: the rerun needs it even though this run rolls back
        self.run(POOL_LOCK_SESSION, &[&space, &key], false)?;
        self.conn.borrow_mut().held_pools.push(pool);
        self.rerun.set(true);
        Err(Error::Storage {
            message: "the pool was locked after its rows were read; the transaction runs again"
                .to_string(),
        })
    }

    fn pool_cidr(&self, id: &str) -> Result<Option<StoredPoolCidr>> {
        self.pool_row_opt(POOL_CIDR_BY_ID, &[&id], pool_cidr_row)
    }

    fn pool_cidrs_of(&self, pool: PoolKey) -> Result<Vec<StoredPoolCidr>> {
        self.pool_rows(POOL_CIDRS_OF_POOL, &[&pool], pool_cidr_row)
    }

    fn all_pool_cidrs(&self) -> Result<Vec<StoredPoolCidr>> {
        self.pool_rows(POOL_CIDRS, &[], pool_cidr_row)
    }

    fn pool_cidr_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<(String, Block)>> {
        self.pool_row_opt(POOL_CIDR_AT_OR_BEFORE, &[&pool, &bytes(address)], |row| {
            Ok((string_row(row)?, block_cols(row, 1, 2)?))
        })
    }

    fn top_level_cidr_at_or_before(
        &self,
        scope_id: &str,
        family: AddressFamily,
        address: u128,
    ) -> Result<Option<(Block, String)>> {
        self.row(
            POOL_CIDR_TOP_LEVEL_AT_OR_BEFORE,
            &[&scope_id, &family_num(family), &bytes(address)],
            |row| {
                Ok((
                    block_cols(row, 0, 1)?,
                    row.try_get(2).map_err(|e| e.to_string())?,
                ))
            },
        )
    }

    fn insert_pool_cidr(&self, pool: &StoredPool, pool_cidr: &PoolCidr) -> Result<()> {
        let block = Block::of(&pool_cidr.cidr);
        self.execute(
            POOL_CIDR_INSERT,
            &[
                &pool_cidr.id,
                &pool.key,
                &pool.pool.scope_id,
                &family_num(pool.family()),
                &pool_cidr.parent_allocation_id.is_none(),
                &bytes(block.start),
                &i32::from(block.prefix_len),
                &pool_cidr.cidr.to_string(),
                &pool_cidr.parent_allocation_id,
                &pool_cidr.created_at,
            ],
        )
    }

    fn delete_pool_cidr(&self, id: &str) -> Result<()> {
        self.execute(POOL_CIDR_DELETE, &[&id])
    }

    /// The id names the allocate event's sequence, the allocation's own unique column: a
    /// released allocation's row is gone, and a later allocation of its CIDR has a new sequence.
    /// Allocations made by the oldest provider have random ids, looked up in their own index.
    fn allocation(&self, id: &str) -> Result<Option<StoredAllocation>> {
        let ids = self.backend.ids;
        if let Some(sequence) = ids.sequence(id) {
            let found = self.pool_row_opt(ALLOCATION_BY_SEQUENCE, &[&sequence], |row| {
                allocation_row(row, ids)
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        self.pool_row_opt(ALLOCATION_BY_LEGACY_ID, &[&id], |row| {
            allocation_row(row, ids)
        })
    }

    fn allocations_of(&self, pool: PoolKey) -> Result<Vec<StoredAllocation>> {
        let ids = self.backend.ids;
        self.pool_rows(ALLOCATIONS_OF_POOL, &[&pool], |row| {
            allocation_row(row, ids)
        })
    }

    fn allocation_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<AllocationSpan>> {
        let ids = self.backend.ids;
        self.pool_row_opt(ALLOCATION_AT_OR_BEFORE, &[&pool, &bytes(address)], |row| {
            span_row(row, ids)
        })
    }

    fn allocations_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
    ) -> Result<Vec<AllocationSpan>> {
        let ids = self.backend.ids;
        self.pool_rows(
            ALLOCATION_IN_RANGE,
            &[&pool, &bytes(first), &bytes(last)],
            |row| span_row(row, ids),
        )
    }

    fn count_allocations_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<u64> {
        let count: i64 = self
            .pool_row_opt(
                ALLOCATION_COUNT_IN_RANGE,
                &[&pool, &bytes(first), &bytes(last)],
                |row| row.try_get(0).map_err(|e| e.to_string()),
            )?
            .unwrap_or_default();
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn allocation_rows_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
        limit: usize,
    ) -> Result<Vec<StoredAllocation>> {
        let ids = self.backend.ids;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.pool_rows(
            ALLOCATION_ROWS_IN_RANGE,
            &[&pool, &bytes(first), &bytes(last), &limit],
            |row| allocation_row(row, ids),
        )
    }

    /// The id derives from the allocate event's sequence number: the one the transaction drew
    /// at its start when no event took it, else a new one.
    fn insert_allocation(&self, new: &NewAllocation<'_>) -> Result<String> {
        let sequence: i64 = match self.take_drawn() {
            Some(sequence) => sequence,
            None => self
                .row(AUDIT_NEXT_SEQUENCE, &[], |row| {
                    row.try_get(0).map_err(|e| e.to_string())
                })?
                .unwrap_or_default(),
        };
        let id = self.backend.ids.id(sequence);
        let cidr = match new.event.cidr {
            Some(cidr) => cidr,
            None => new.block.to_net(self.pool_family(new.pool_key)?),
        };
        self.execute(
            ALLOCATION_INSERT,
            &[
                &sequence,
                &new.pool_key,
                &bytes(new.block.start),
                &i32::from(new.block.prefix_len),
                &cidr.to_string(),
                &new.description,
                &tags_json(new.tags),
                &new.child_pool_cidr_id,
                &cidrs_json(new.disallowed_cidrs),
                &new.event.at_millis,
                &new.name,
            ],
        )?;
        self.append(Some(sequence), &id, &new.event)?;
        Ok(id)
    }

    fn update_allocation(&self, row: &StoredAllocation, updated_at_millis: i64) -> Result<()> {
        self.execute(
            ALLOCATION_UPDATE,
            &[
                &row.pool_key,
                &bytes(row.block.start),
                &row.allocation.description,
                &tags_json(&row.allocation.tags),
                &updated_at_millis,
                &row.allocation.name,
            ],
        )
    }

    fn allocation_named(&self, pool: PoolKey, name: &str) -> Result<Option<AllocationSpan>> {
        let ids = self.backend.ids;
        let read = Ahead::AllocationNamed(pool, name.to_string());
        self.ahead_row(&read, |row| span_row(row, ids))
            .unwrap_or_else(|| {
                self.pool_row_opt(ALLOCATION_BY_NAME, &[&pool, &name], |row| {
                    span_row(row, ids)
                })
            })
    }

    fn reservation(&self, pool: PoolKey, name: &str) -> Result<Option<StoredReservation>> {
        self.ahead_row(&Ahead::Reservation(pool, name.to_string()), reservation_row)
            .unwrap_or_else(|| {
                self.pool_row_opt(RESERVATION_BY_NAME, &[&pool, &name], reservation_row)
            })
    }

    fn reservations_of(&self, pool: PoolKey) -> Result<Vec<StoredReservation>> {
        self.pool_rows(RESERVATIONS_OF_POOL, &[&pool], reservation_row)
    }

    fn held_reservation_at_or_before(
        &self,
        pool: PoolKey,
        address: u128,
    ) -> Result<Option<StoredReservation>> {
        self.pool_row_opt(
            RESERVATION_HELD_AT_OR_BEFORE,
            &[&pool, &bytes(address)],
            reservation_row,
        )
    }

    fn expired_reservations(
        &self,
        pool: PoolKey,
        now_millis: i64,
    ) -> Result<Vec<StoredReservation>> {
        if let Some(rows) = self.ahead(&Ahead::ExpiredReservations(pool, now_millis)) {
            return rows
                .iter()
                .map(|row| self.decode(reservation_row(row)))
                .collect();
        }
        self.pool_rows(RESERVATIONS_EXPIRED, &[&pool, &now_millis], reservation_row)
    }

    fn put_reservation(&self, reservation: &StoredReservation) -> Result<()> {
        self.execute(
            RESERVATION_PUT,
            &[
                &reservation.pool_key,
                &reservation.name,
                &bytes(reservation.block.start),
                &i32::from(reservation.block.prefix_len),
                &reservation.expires_at_millis,
                &reservation.lost,
            ],
        )
    }

    fn delete_reservation(&self, pool: PoolKey, name: &str) -> Result<()> {
        self.execute(RESERVATION_DELETE, &[&pool, &name])
    }

    fn delete_allocation(&self, pool: PoolKey, block: Block) -> Result<()> {
        self.execute(ALLOCATION_DELETE, &[&pool, &bytes(block.start)])
    }

    fn allocations_without_allocate_event(&self) -> Result<Vec<String>> {
        let ids = self.backend.ids;
        let rows = self.rows(ALLOCATIONS_WITH_ALLOCATE_EVENT, &[], |row| {
            let object: Option<String> = row.try_get(1).map_err(|e| e.to_string())?;
            Ok((allocation_id(row, 0, 2, ids)?, object))
        })?;
        Ok(rows
            .into_iter()
            .filter(|(id, object)| object.as_deref() != Some(id.as_str()))
            .map(|(id, _)| id)
            .collect())
    }

    fn free_index(&self, pool: PoolKey) -> PgFreeIndex<'_, 'c> {
        PgFreeIndex { tx: self, pool }
    }

    fn free_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<Vec<Block>> {
        self.pool_rows(
            FREE_IN_RANGE,
            &[&pool, &bytes(first), &bytes(last)],
            block_row,
        )
    }

    fn delete_free_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<()> {
        self.execute(FREE_DELETE_RANGE, &[&pool, &bytes(first), &bytes(last)])
    }

    fn insert_cooling_block(&self, pool: PoolKey, block: Block, until_millis: i64) -> Result<()> {
        self.execute(
            COOLING_INSERT,
            &[
                &pool,
                &bytes(block.start),
                &i32::from(block.prefix_len),
                &until_millis,
            ],
        )
    }

    fn cooling_blocks_between(
        &self,
        pool: PoolKey,
        first: u128,
        last: u128,
    ) -> Result<Vec<(Block, Now)>> {
        let rows = self.pool_rows(
            COOLING_IN_RANGE,
            &[&pool, &bytes(first), &bytes(last)],
            cooling_row,
        )?;
        Ok(rows
            .into_iter()
            .map(|(block, millis)| {
                let until = Now {
                    millis,
                    text: format_millis(millis),
                };
                (block, until)
            })
            .collect())
    }

    fn delete_cooling_blocks_between(&self, pool: PoolKey, first: u128, last: u128) -> Result<()> {
        self.execute(COOLING_DELETE_RANGE, &[&pool, &bytes(first), &bytes(last)])
    }

    fn append_audit(&self, record: &AuditRecord<'_>) -> Result<()> {
        self.append(None, record.object_id, record)
    }

    fn audit_events(&self, after_sequence: i64, limit: usize) -> Result<Vec<AuditEvent>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(AUDIT_SELECT, &[&after_sequence, &limit], true)?
            .iter()
            .map(|row| self.decode(audit_row(row)))
            .collect()
    }

    fn audit_query(&self, filter: &AuditFilter, pool: Option<PoolKey>) -> Result<Vec<AuditEvent>> {
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let mut events = self
            .run(
                AUDIT_QUERY,
                &[
                    &filter.after_sequence,
                    &filter.since_millis,
                    &pool,
                    &filter.pool_id,
                    &filter.object_id,
                    &filter.actor,
                    &filter.action,
                    &limit,
                ],
                true,
            )?
            .iter()
            .map(|row| self.decode(audit_row(row)))
            .collect::<Result<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }

    fn audit_names(&self, id: &str) -> Result<bool> {
        if let Some(sequence) = self.backend.ids.sequence(id) {
            if self.exists(ALLOCATE_EVENT_OF, &[&sequence, &id])? {
                return Ok(true);
            }
        }
        self.exists(EVENT_ABOUT_OBJECT, &[&id])
    }

    fn audit_is_empty(&self) -> Result<bool> {
        Ok(!self.exists(ANY_EVENT, &[])?)
    }
}

impl PgTx<'_> {
    /// The boolean answer of an `EXISTS` query.
    fn exists(&self, sql: &'static str, params: Params<'_>) -> Result<bool> {
        Ok(self
            .row(sql, params, |row| row.try_get(0).map_err(|e| e.to_string()))?
            .unwrap_or(false))
    }

    /// The address family of a pool by its key (the `cidr` column needs it).
    fn pool_family(&self, pool: PoolKey) -> Result<AddressFamily> {
        let family = self.row(POOL_FAMILY, &[&pool], |row| {
            row.try_get::<_, i32>(0).map_err(|e| e.to_string())
        })?;
        Ok(match family {
            Some(6) => AddressFamily::Ipv6,
            _ => AddressFamily::Ipv4,
        })
    }
}
