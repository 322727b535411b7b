//! The PostgreSQL backend of the engine: SQL plus locking, nothing else (every rule is in
//! [`crate::ipam::engine`]). Selected by a `postgres://` or `postgresql://` database location.
//!
//! Concurrency and durability choices:
//! - Write transactions run at `READ COMMITTED`, serialised per pool by an advisory lock
//!   ([`Transaction::lock_pool`](crate::ipam::engine::Transaction::lock_pool)): writers of one
//!   pool queue, writers of different pools do not wait for each other. Every statement after
//!   the lock sees every change committed before it. When a transaction read rows of a pool
//!   before locking it (the allocation to release), it takes the lock for its session and runs
//!   again under it, so that nothing it read can be stale.
//! - The database checks no-overlap too, as the last line of defence, with GiST exclusion
//!   constraints (`btree_gist` for the pool or scope column): overlapping live allocations of
//!   a pool (compared as two `int8range`s of their addresses that the database derives from
//!   their `cidr`; see migration 5 in `schema`), or overlapping top-level CIDRs of a scope
//!   (`cidr` with `inet_ops`), cannot commit.
//! - Serialisation failures, deadlocks, constraint races and broken connections are retried
//!   inside the backend (the whole transaction, bounded, with jitter); a connection lost during
//!   `COMMIT` is reported, never retried, since the change may have committed.
//! - Audit events are written in the transaction of their change, numbered by a sequence.
//!   Transactions commit out of sequence order, so a reader of "events after N" could see
//!   N+2 before N+1 commits and skip it. Writers therefore hold a shared advisory lock (the
//!   audit lock) from their first statement to their end, and a reader of the audit log takes
//!   it exclusively before its snapshot: every sequence number drawn before the reader's
//!   snapshot belongs to a transaction that has ended. Writers never wait for each other on it;
//!   they wait for audit readers only, which are rare and short. (A commit-order watermark
//!   from transaction ids would avoid even that wait, but needs the writers' sequence numbers
//!   to be visible before they commit.)
//! - Round trips: writes, the pool lock and the `BEGIN` are queued and sent in one pipeline
//!   with the next read or the `COMMIT` (see `transaction`); the `BEGIN` of a write also draws
//!   the sequence number of its first audit event; the reads the engine announces
//!   (`Transaction::expect`) travel with the `BEGIN`. An allocation is 2 round trips.
//! - Allocation ids derive from the `allocate` event's sequence number by the same keyed
//!   permutation as SQLite (`ipam-alloc-` and 16 hex digits), with a random key per schema.
//!
//! # Organization
//! - `client`: a blocking client that pipelines statements (one round trip for several).
//! - `config`: the connection string, `sslmode` and TLS through rustls, the redacted display.
//! - `connection`: [`PostgresBackend`], its connections and transactions with their retries.
//! - `schema`: the schema and its forward-only migrations, under an advisory lock.
//! - `statements`: every SQL statement, named.
//! - `rows`: columns to domain objects and back.
//! - `transaction`: the port's row access ([`PgTx`]).
//! - `free_index`: the allocator's free-block index as a table.
//! - `maintenance`: `ipam check`'s storage check (indexes, constraints, `amcheck`) and
//!   `ipam backup` as a SQLite file.
//! - `snapshot`: the whole schema as a [`Snapshot`](crate::store::Snapshot), exported and
//!   imported every id unchanged (`ipam copy`, `ipam backup`).

mod client;
mod config;
mod connection;
mod free_index;
mod maintenance;
mod rows;
mod schema;
mod snapshot;
mod statements;
mod transaction;

pub use config::{is_postgres_url, redact, PostgresLocation, TlsMode, DEFAULT_SCHEMA};
pub use connection::PostgresBackend;
pub use free_index::PgFreeIndex;
pub use schema::POSTGRES_SCHEMA_VERSION;
pub use transaction::PgTx;

use crate::ipam::engine::Engine;
use crate::ipam::Result;

/// The PostgreSQL [`Store`](super::Store): the engine on one schema of a PostgreSQL database,
/// shared by every process that connects to it.
pub type PostgresStore = Engine<PostgresBackend>;

impl Engine<PostgresBackend> {
    /// Connects to the database of a `postgres://` URL, creating or upgrading the schema.
    ///
    /// Refuses a schema newer than this build
    /// ([`Error::NewerDatabase`](crate::ipam::Error::NewerDatabase)).
    pub fn connect(url: &str, actor: impl Into<String>) -> Result<PostgresStore> {
        let location = PostgresLocation::parse(url)?;
        Ok(Engine::new(PostgresBackend::open(location)?, actor))
    }

    /// Connects to the existing schema of `location` and changes nothing (the operator's
    /// `ipam`): `None` when the schema holds no IPAM tables.
    pub fn connect_existing(
        location: PostgresLocation,
        actor: impl Into<String>,
    ) -> Result<Option<PostgresStore>> {
        let backend = PostgresBackend::open_existing(location)?;
        Ok(backend.map(|backend| Engine::new(backend, actor)))
    }
}
