//! The SQLite backend of the engine: SQL plus locking, nothing else (every rule is in
//! [`crate::ipam::engine`]).
//!
//! Durability and concurrency choices:
//! - WAL journal, so readers never block the writer; `synchronous = FULL`, so a committed
//!   allocation survives power loss: an allocation Terraform has recorded in its state and the
//!   database then forgets would later be handed out twice. It costs one extra fsync per commit.
//! - Every mutation is one `BEGIN IMMEDIATE` transaction, including its audit event: the write
//!   lock is taken before anything is read, so checks and writes see the same database, across
//!   processes too (the port's serialisation contract). A busy database is waited for
//!   (`busy_timeout`, 30 s by default) and the whole transaction retried a few times, so no
//!   busy/locked error reaches a caller.
//! - One connection behind a mutex per store. SQLite lets one writer in at a time anyway, and
//!   every operation is a few indexed look-ups (well under a millisecond without the fsync), so
//!   a pool of connections would buy little for the provider's ~10 concurrent calls and would
//!   multiply the statement caches.
//!
//! # Organization
//! - `connection`: opening (file mode, pragmas, migrations), [`SqliteBackend`] and its
//!   transactions with busy retries.
//! - `access`: opening a database this process may not write (read-only, without creating
//!   `-wal`/`-shm` files beside another user's database).
//! - `schema`: the schema and its forward-only migrations.
//! - `statements`: every SQL statement, named.
//! - `rows`: columns to domain objects and back.
//! - `transaction`: the port's row access ([`SqliteTx`]).
//! - `free_index`: the allocator's free-block index as a table.
//! - `maintenance`: the integrity check and the online backup ([`crate::store::Maintenance`]).
//! - `snapshot`: the whole database as a [`Snapshot`](crate::store::Snapshot), exported and
//!   imported every id unchanged (`ipam copy`).

mod access;
mod connection;
mod free_index;
mod maintenance;
mod rows;
mod schema;
mod snapshot;
mod statements;
#[cfg(test)]
mod tests;
mod transaction;

use std::path::Path;

pub use connection::{SqliteBackend, SqliteOptions};
pub use free_index::SqlFreeIndex;
pub use schema::SCHEMA_VERSION;
pub use transaction::SqliteTx;

use crate::ipam::engine::Engine;
use crate::ipam::Result;

/// The SQLite [`Store`](super::Store): the engine on one database file, shareable by many
/// processes.
pub type SqliteStore = Engine<SqliteBackend>;

impl Engine<SqliteBackend> {
    /// Opens (creating it with mode 0600 when missing) and migrates a database file.
    ///
    /// Refuses a database whose schema is newer than this build
    /// ([`Error::NewerDatabase`](crate::ipam::Error::NewerDatabase)).
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore> {
        let backend = SqliteBackend::open(path.as_ref(), &options)?;
        Ok(SqliteStore::on(backend, options))
    }

    /// The engine on an opened backend, with the options' actor and reservation time.
    fn on(backend: SqliteBackend, options: SqliteOptions) -> SqliteStore {
        Engine::new(backend, options.actor).with_reservation_ttl(options.reservation_ttl)
    }

    /// Opens an existing database and never creates one: `None` when the file does not exist
    /// or is empty. A database this process cannot write is opened read-only: reads work,
    /// changes fail with an error that says so.
    pub fn open_existing(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Option<SqliteStore>> {
        let backend = SqliteBackend::open_existing(path.as_ref(), &options)?;
        Ok(backend.map(|backend| SqliteStore::on(backend, options)))
    }

    /// True when this store was opened read-only (changes are refused).
    pub fn is_read_only(&self) -> bool {
        self.backend().is_read_only()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.backend().path()
    }

    /// `PRAGMA integrity_check`: `"ok"` for a sound file.
    pub fn integrity_check(&self) -> Result<String> {
        self.backend().integrity_check()
    }
}
