//! Connections and the port's transactions: a small pool of connections, whole-transaction
//! retries after serialisation failures, deadlocks, constraint races and broken connections
//! (never after an uncertain commit), and errors that name the database but never the password.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::Statement;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::client::{ConnectFailure, PgClient, Step};

use super::schema::{self, migrate, quote_ident};
use super::statements::*;
use super::transaction::{Mode, PgTx};
use super::PostgresLocation;
use crate::ipam::engine::Backend;
use crate::ipam::{Error, Result};
use crate::store::util::SequenceIds;

/// How many times a transaction is run again after a transient failure.
const RETRIES: u32 = 12;
/// How many connections stay open between calls.
const IDLE_CONNECTIONS: usize = 16;
/// How long a connection attempt keeps trying while the server is starting or restarting.
const CONNECT_PATIENCE: Duration = Duration::from_secs(3);

/// Why a statement failed, for the retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PgFailure {
    /// A concurrent transaction won (serialisation failure, deadlock, constraint race): run
    /// the whole transaction again.
    Race,
    /// The connection is gone: nothing uncommitted survives, a new connection may run it again.
    Broken,
    /// Anything else: reported.
    Other,
}

impl PgFailure {
    pub(super) fn of(e: &postgres::Error) -> PgFailure {
        if e.is_closed() {
            return PgFailure::Broken;
        }
        match e.code() {
            Some(code)
                if [
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::EXCLUSION_VIOLATION,
                    SqlState::UNIQUE_VIOLATION,
                    SqlState::FOREIGN_KEY_VIOLATION,
                    SqlState::LOCK_NOT_AVAILABLE,
                ]
                .contains(code) =>
            {
                PgFailure::Race
            }
            Some(code) if code.code().starts_with("08") || code.code().starts_with("57") => {
                PgFailure::Broken
            }
            Some(_) => PgFailure::Other,
            None => PgFailure::Broken,
        }
    }
}

/// The text of a driver error: the server's message when there is one.
fn reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                let more = inner.to_string();
                if !text.contains(&more) {
                    text = format!("{text}: {more}");
                }
                source = inner.source();
            }
            text
        }
    }
}

/// A driver error as the public error, naming the database (`describe`).
pub(super) fn storage_error(failure: &PgFailure, e: &postgres::Error, describe: &str) -> Error {
    let message = match failure {
        PgFailure::Broken => format!(
            "lost the connection to {describe}: {}; check that the server is running and reachable",
            reason(e)
        ),
        PgFailure::Race => format!(
            "{describe} kept reporting conflicts with concurrent changes through every retry: {}",
            reason(e)
        ),
        PgFailure::Other => format!("{describe}: {}", reason(e)),
    };
    Error::Storage { message }
}

/// One connection with its prepared statements and the pool locks it holds across a rerun.
pub(super) struct PgConnection {
    pub(super) client: PgClient,
    statements: HashMap<&'static str, Statement>,
    /// Pools whose session-level lock this connection holds (taken by a transaction that had
    /// read a pool's rows before locking it, which then ran again under the lock).
    pub(super) held_pools: Vec<i64>,
}

impl PgConnection {
    /// The prepared form of `sql` on this connection.
    pub(super) fn statement(
        &mut self,
        sql: &'static str,
    ) -> std::result::Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// The PostgreSQL backend of the engine: a database reached through a connection string.
pub struct PostgresBackend {
    pub(super) location: PostgresLocation,
    tls: MakeRustlsConnect,
    idle: Mutex<Vec<PgConnection>>,
    pub(super) ids: SequenceIds,
    /// The key of the audit lock (one per schema): see `statements::BEGIN_WRITE`.
    pub(super) audit_lock: i64,
    /// The `BEGIN` of a write transaction with this schema's audit lock (made once, not per
    /// transaction).
    pub(super) begin_write: String,
    /// The first key of the pool locks (one per schema).
    pub(super) pool_lock_space: i32,
    /// Round trips made by every connection of this backend (see [`PostgresBackend::round_trips`]).
    round_trips: Arc<AtomicU64>,
}

/// A small stable hash (FNV-1a) of the schema name, for lock keys.
fn schema_hash(schema: &str) -> u64 {
    schema.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One run of a transaction failed: the error, and whether to run it again.
pub(super) struct Failed {
    pub(super) error: Error,
    pub(super) failure: PgFailure,
    /// A pool lock was taken for a rerun: run again without counting it as a retry.
    pub(super) rerun: bool,
}

impl PostgresBackend {
    /// Connects, creates or upgrades the schema, and reads the allocation-id key.
    pub fn open(location: PostgresLocation) -> Result<PostgresBackend> {
        let describe = location.describe();
        Self::open_with(location, true)?.ok_or_else(|| Error::Storage {
            message: format!("{describe}: the schema was created but cannot be found"),
        })
    }

    /// Connects to an existing schema and changes nothing: `None` when the schema holds no
    /// tables of this backend; an error when its version is not this build's.
    pub fn open_existing(location: PostgresLocation) -> Result<Option<PostgresBackend>> {
        Self::open_with(location, false)
    }

    fn open_with(location: PostgresLocation, create: bool) -> Result<Option<PostgresBackend>> {
        let tls = location.tls_connector()?;
        let hash = schema_hash(&location.schema);
        let mut backend = PostgresBackend {
            tls,
            idle: Mutex::new(Vec::new()),
            ids: SequenceIds::new(&[0; 16]),
            audit_lock: hash as i64,
            begin_write: BEGIN_WRITE.replace("{lock}", &(hash as i64).to_string()),
            pool_lock_space: (hash >> 32) as i32,
            round_trips: Arc::new(AtomicU64::new(0)),
            location,
        };
        let mut conn = backend.connect()?;
        if create {
            migrate(&mut conn.client, &backend.location)?;
        } else if !schema::exists(&mut conn.client, &backend.location)? {
            return Ok(None);
        }
        let describe = backend.location.describe();
        let key: Vec<u8> = conn
            .client
            .query_one(META_ALLOCATION_ID_KEY, &[])
            .map_err(|e| storage_error(&PgFailure::of(&e), &e, &describe))?
            .get(0);
        backend.ids = SequenceIds::new(&key);
        backend.checkin(conn);
        Ok(Some(backend))
    }

    /// How many round trips to the server this backend's connections have made so far (each
    /// wait for an answer is one: a pipeline of many statements counts once). Tests use it to
    /// hold an operation to its number of round trips without timing anything.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The database, as error messages name it (never the password).
    pub fn describe(&self) -> String {
        self.location.describe()
    }

    /// A new connection with `search_path` set to the schema; waits a little while the server
    /// is starting up or refusing connections (a restart).
    pub(super) fn connect(&self) -> Result<PgConnection> {
        let started = std::time::Instant::now();
        let mut attempt = 0u64;
        loop {
            match PgClient::connect(
                &self.location.config,
                self.tls.clone(),
                self.round_trips.clone(),
            ) {
                Ok(mut client) => {
                    let setup = format!(
                        "SET search_path TO {}, pg_catalog",
                        quote_ident(&self.location.schema)
                    );
                    client
                        .batch_execute(&setup)
                        .map_err(|e| storage_error(&PgFailure::of(&e), &e, &self.describe()))?;
                    return Ok(PgConnection {
                        client,
                        statements: HashMap::new(),
                        held_pools: Vec::new(),
                    });
                }
                Err(ConnectFailure::Runtime(e)) => {
                    return Err(Error::Storage {
                        message: format!(
                            "cannot connect to {}: no runtime for the connection ({e})",
                            self.describe()
                        ),
                    });
                }
                Err(ConnectFailure::Postgres(e)) => {
                    let starting = e.code() == Some(&SqlState::CANNOT_CONNECT_NOW)
                        || (e.as_db_error().is_none() && reason(&e).contains("refused"));
                    if starting && started.elapsed() < CONNECT_PATIENCE {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(50 * attempt.min(10)));
                        continue;
                    }
                    let advice = self
                        .location
                        .tls_advice(&e)
                        .map(|advice| format!("; {advice}"))
                        .unwrap_or_default();
                    return Err(Error::Storage {
                        message: format!(
                            "cannot connect to {}: {}{advice}",
                            self.describe(),
                            reason(&e)
                        ),
                    });
                }
            }
        }
    }

    pub(super) fn checkout(&self) -> Result<PgConnection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        match idle {
            Some(conn) if !conn.client.is_closed() => Ok(conn),
            _ => self.connect(),
        }
    }

    pub(super) fn checkin(&self, conn: PgConnection) {
        if conn.client.is_closed() {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }

    /// Runs `op` in a transaction of `mode`, again after transient failures (bounded).
    fn transaction<T>(&self, mode: Mode, op: impl Fn(&PgTx<'_>) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        let mut reruns = 0;
        let mut conn: Option<PgConnection> = None;
        let outcome = loop {
            let mut current = match conn.take() {
                Some(current) => current,
                None => match self.checkout() {
                    Ok(current) => current,
                    Err(error) => break Err(error),
                },
            };
            let result = self.run(&mut current, mode, &op);
            let alive = !current.client.is_closed();
            match result {
                Ok(value) => {
                    conn = Some(current);
                    break Ok(value);
                }
                Err(failed) if failed.rerun && reruns < RETRIES => {
                    reruns += 1;
                    conn = Some(current);
                }
                Err(failed) if failed.failure != PgFailure::Other && attempt < RETRIES => {
                    attempt += 1;
                    if alive && release_pools(&mut current) {
                        conn = Some(current);
                    }
                    std::thread::sleep(Duration::from_millis(
                        2 * u64::from(attempt) + u64::from(jitter()),
                    ));
                }
                Err(failed) => {
                    if alive {
                        conn = Some(current);
                    }
                    break Err(failed.error);
                }
            }
        };
        if let Some(mut current) = conn {
            if release_pools(&mut current) {
                self.checkin(current);
            }
        }
        outcome
    }

    /// One run of `op`.
    fn run<T>(
        &self,
        conn: &mut PgConnection,
        mode: Mode,
        op: &impl Fn(&PgTx<'_>) -> Result<T>,
    ) -> std::result::Result<T, Failed> {
        // named only when something fails: formatting it costs every transaction otherwise
        let fail = |e: postgres::Error| {
            let failure = PgFailure::of(&e);
            Failed {
                error: storage_error(&failure, &e, &self.describe()),
                failure,
                rerun: false,
            }
        };
        let tx = PgTx::new(conn, self, mode);
        let result = op(&tx);
        let finished = tx.finish();
        // a statement sent ahead for the engine failed and the engine went on without asking
        // for its answer: the transaction is aborted on the server and must not look committed
        let result = match (result, finished.aborted) {
            (Ok(_), Some(error)) => Err(error),
            (result, _) => result,
        };
        match result {
            Ok(value) if mode == Mode::Write => {
                // the writes still waiting travel with the COMMIT: one round trip
                let mut steps = finished.pending;
                steps.push(Step::Simple(COMMIT.to_string()));
                match conn.client.pipeline(&steps, None) {
                    Ok(_) => Ok(value),
                    // a statement the server refused rolled the transaction back
                    Err(failed) if failed.answered => Err(fail(failed.error)),
                    Err(failed) => Err(Failed {
                        error: Error::Storage {
                            message: format!(
                                "lost the connection to {} while committing ({}): the change may or may not have been saved; read it back (terraform refresh) before trying again",
                                self.describe(),
                                reason(&failed.error)
                            ),
                        },
                        failure: PgFailure::Other,
                        rerun: false,
                    }),
                }
            }
            Ok(value) => {
                if finished.sent {
                    conn.client.batch_execute(ROLLBACK).map_err(fail)?;
                }
                Ok(value)
            }
            Err(error) => {
                if finished.sent && !conn.client.is_closed() {
                    // the statement that failed already aborted the transaction; a failure
                    // here means the connection is gone, which the next run notices
                    let _ = conn.client.batch_execute(ROLLBACK);
                }
                Err(Failed {
                    error,
                    failure: finished.failure.unwrap_or(PgFailure::Other),
                    rerun: finished.rerun,
                })
            }
        }
    }
}

/// Releases the session-level pool locks a rerun took; `false` when the connection cannot be
/// used again (dropping it ends the session and its locks).
fn release_pools(conn: &mut PgConnection) -> bool {
    if conn.client.is_closed() {
        return false;
    }
    if conn.held_pools.is_empty() {
        return true;
    }
    conn.held_pools.clear();
    conn.client.batch_execute(POOL_UNLOCK_ALL).is_ok()
}

/// A few milliseconds of randomness, so that retrying transactions do not collide again.
fn jitter() -> u8 {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    byte[0] % 8
}

/// Writes are `READ COMMITTED` transactions serialised per pool by explicit locks (see
/// `transaction::PgTx::lock_pool`); reads are `REPEATABLE READ READ ONLY` snapshots.
impl Backend for PostgresBackend {
    type Tx<'t>
        = PgTx<'t>
    where
        Self: 't;

    fn read<T>(&self, op: impl Fn(&PgTx<'_>) -> Result<T>) -> Result<T> {
        self.transaction(Mode::Read, op)
    }

    fn write<T>(&self, op: impl Fn(&PgTx<'_>) -> Result<T>) -> Result<T> {
        self.transaction(Mode::Write, op)
    }
}
