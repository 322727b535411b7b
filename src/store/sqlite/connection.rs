//! The connection: opening (file mode, pragmas, migrations, the allocation-id function) and the
//! transactions of the port, with their busy retries.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::access;
use super::schema::migrate;
use super::statements::{ALLOCATION_ID_FUNCTION, META_ALLOCATION_ID_KEY};
use super::transaction::SqliteTx;
use crate::ipam::engine::Backend;
use crate::ipam::{Error, Result};
use crate::store::util::SequenceIds;

/// How many times a whole transaction is retried when SQLite still reports busy/locked after
/// its busy timeout (e.g. WAL recovery after a crash).
const BUSY_RETRIES: u32 = 8;

/// Page size of new databases. Every commit writes each page it changed to the WAL and syncs it;
/// an allocation changes one page in each of three b-trees (allocations, free blocks, audit
/// events), so smaller pages mean fewer bytes to sync per allocation. Measured on the benchmark
/// machine: median allocate-next 270 µs with 1 KiB pages, 330 µs with 2 KiB, 320–470 µs with
/// 4 KiB (docs/performance.md).
pub(super) const PAGE_SIZE: u32 = 1024;

/// Options for [`SqliteStore::open`](super::SqliteStore).
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The name recorded in audit events.
    pub actor: String,
    /// How long to wait for another process's write transaction before retrying.
    pub busy_timeout: Duration,
    /// How long a plan's reservation holds its space (see `ipam::engine::reservations`).
    pub reservation_ttl: Duration,
}

impl SqliteOptions {
    /// Options with this actor and a 30 s busy timeout.
    pub fn new(actor: impl Into<String>) -> SqliteOptions {
        SqliteOptions {
            actor: actor.into(),
            busy_timeout: Duration::from_secs(30),
            reservation_ttl: crate::ipam::engine::DEFAULT_RESERVATION_TTL,
        }
    }
}

/// The SQLite backend of the engine: one database file, shareable by many processes. One
/// connection behind a mutex: SQLite lets one writer in at a time anyway.
pub struct SqliteBackend {
    conn: Mutex<Connection>,
    path: PathBuf,
    pub(super) ids: SequenceIds,
    /// Why this process may not change the database, when it may not (opened read-only).
    pub(super) read_only: Option<String>,
}

/// Why opening failed: SQLite errors are kept for the retry decision.
pub(super) enum OpenError {
    Domain(Error),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for OpenError {
    fn from(e: rusqlite::Error) -> OpenError {
        OpenError::Sql(e)
    }
}

/// Whether SQLite reports another connection's lock (worth retrying the whole transaction).
pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// A SQLite error as the public error.
pub(super) fn sql_error(e: &rusqlite::Error) -> Error {
    if is_busy(e) {
        Error::Storage {
            message: format!("the database stayed busy through every retry ({e}); another process holds a write transaction for too long"),
        }
    } else {
        Error::Storage {
            message: e.to_string(),
        }
    }
}

impl SqliteBackend {
    /// Opens (creating it with mode 0600 when missing) and migrates a database file.
    pub fn open(path: &Path, options: &SqliteOptions) -> Result<SqliteBackend> {
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
        Self::open_file(path, options, None)
    }

    /// Opens an existing database and never creates one: `None` when the file does not exist
    /// or is empty. A database this process cannot write is opened read-only: reads work,
    /// changes fail with an error that says so.
    pub fn open_existing(path: &Path, options: &SqliteOptions) -> Result<Option<SqliteBackend>> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() > 0 => {}
            _ => return Ok(None),
        }
        let read_only = access::read_only_reason(path);
        Self::open_file(path, options, read_only).map(Some)
    }

    /// True when this backend was opened read-only (changes are refused).
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    fn open_file(
        path: &Path,
        options: &SqliteOptions,
        read_only: Option<String>,
    ) -> Result<SqliteBackend> {
        let mut attempt = 0;
        let (conn, ids) = loop {
            match Self::connect(path, options, read_only.is_some()) {
                Ok(opened) => break opened,
                Err(OpenError::Sql(e)) if is_busy(&e) && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(20 * u64::from(attempt)));
                }
                Err(e) => {
                    let error = match e {
                        OpenError::Domain(error) => error,
                        OpenError::Sql(e) => sql_error(&e),
                    };
                    return Err(match error {
                        Error::Storage { message } => Error::Storage {
                            message: format!("cannot open database {}: {message}", path.display()),
                        },
                        other => other,
                    });
                }
            }
        };
        Ok(SqliteBackend {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            ids,
            read_only,
        })
    }

    fn connect(
        path: &Path,
        options: &SqliteOptions,
        read_only: bool,
    ) -> std::result::Result<(Connection, SequenceIds), OpenError> {
        let mut conn = if read_only {
            access::open_read_only(path)?
        } else {
            Connection::open(path)?
        };
        conn.busy_timeout(options.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(64);
        // Plans must not depend on bound values: without this, SQLite (built with STAT4)
        // re-parses and re-plans the range queries of the allocator on every call.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        if read_only {
            access::check_version(&conn, path).map_err(OpenError::Domain)?;
        } else {
            // only takes effect on a new, empty file (before WAL is on); see PAGE_SIZE
            conn.pragma_update(None, "page_size", PAGE_SIZE)?;
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(OpenError::Domain(Error::Storage {
                    message: format!("{} cannot use the WAL journal (got {mode})", path.display()),
                }));
            }
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            migrate(&mut conn, path)?;
        }
        let key: Vec<u8> = conn.query_row(META_ALLOCATION_ID_KEY, [], |row| row.get(0))?;
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
            .map_err(|e| sql_error(&e))?;
        Ok(rows.join("\n"))
    }

    /// The connection (one operation at a time).
    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        // a panic inside an operation dropped its transaction (rolled back): the connection is fine
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `op` in one transaction, retrying the whole of it while SQLite reports busy.
    /// A write transaction, synced at commit when `durable`.
    fn writing<T>(&self, durable: bool, op: impl Fn(&SqliteTx<'_>) -> Result<T>) -> Result<T> {
        if let Some(reason) = &self.read_only {
            return Err(Error::Storage {
                message: access::read_only_message(&self.path, reason),
            });
        }
        if durable {
            return self.retrying(TransactionBehavior::Immediate, true, op);
        }
        // under the connection's lock throughout: no other transaction runs relaxed
        let mut conn = self.lock();
        let synchronous =
            |conn: &Connection, level: &str| conn.pragma_update(None, "synchronous", level);
        synchronous(&conn, "NORMAL").map_err(|e| sql_error(&e))?;
        let outcome = self.retrying_on(&mut conn, TransactionBehavior::Immediate, true, &op);
        synchronous(&conn, "FULL").map_err(|e| sql_error(&e))?;
        outcome
    }

    fn retrying<T>(
        &self,
        behavior: TransactionBehavior,
        commit: bool,
        op: impl Fn(&SqliteTx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        self.retrying_on(&mut conn, behavior, commit, &op)
    }

    /// Runs `op` on the locked connection, again after a busy failure (bounded).
    fn retrying_on<T>(
        &self,
        conn: &mut Connection,
        behavior: TransactionBehavior,
        commit: bool,
        op: &impl Fn(&SqliteTx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            match self.run(conn, behavior, commit, op) {
                Err((_, true)) if attempt < BUSY_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10 * u64::from(attempt)));
                }
                other => return other.map_err(|(error, _)| error),
            }
        }
    }

    /// One run of `op`; an error comes with whether SQLite reported busy along the way.
    fn run<T>(
        &self,
        conn: &mut Connection,
        behavior: TransactionBehavior,
        commit: bool,
        op: &impl Fn(&SqliteTx<'_>) -> Result<T>,
    ) -> std::result::Result<T, (Error, bool)> {
        let sql = |e: rusqlite::Error| (sql_error(&e), is_busy(&e));
        let tx = conn.transaction_with_behavior(behavior).map_err(sql)?;
        let value = {
            let port = SqliteTx::new(&tx, self.ids);
            op(&port).map_err(|error| (error, port.saw_busy()))?
        };
        if commit {
            tx.commit().map_err(sql)?;
        }
        Ok(value)
    }
}

/// `BEGIN IMMEDIATE` for writes: the write lock is taken before anything is read, so the checks
/// and the writes see one state, across processes too. Reads run in a deferred transaction that
/// is rolled back.
impl Backend for SqliteBackend {
    type Tx<'t>
        = SqliteTx<'t>
    where
        Self: 't;

    fn read<T>(&self, op: impl Fn(&SqliteTx<'_>) -> Result<T>) -> Result<T> {
        self.retrying(TransactionBehavior::Deferred, false, op)
    }

    fn write<T>(&self, op: impl Fn(&SqliteTx<'_>) -> Result<T>) -> Result<T> {
        self.writing(true, op)
    }

    /// `synchronous = NORMAL` for this transaction: in WAL mode the commit is atomic but not
    /// synced; the next `FULL` commit syncs the log up to itself, this one included.
    fn write_volatile<T>(&self, op: impl Fn(&SqliteTx<'_>) -> Result<T>) -> Result<T> {
        self.writing(false, op)
    }
}
