//! The backend's own maintenance: a check of what PostgreSQL itself guarantees for the schema,
//! and a backup as a SQLite file (the format users already back up and restore with
//! `ipam copy`), from one consistent snapshot.

use std::path::Path;

use postgres::error::SqlState;
use postgres::types::Oid;

use super::connection::{storage_error, PgConnection, PgFailure, PostgresBackend};
use super::schema::quote_ident;
use super::statements::{AMCHECK_SCHEMA, BTREE_CHECK, BTREE_INDEXES, CONSTRAINTS, INVALID_INDEXES};
use crate::ipam::Result;
use crate::store::maintenance::create_backup_file;
use crate::store::snapshot::Snapshot;
use crate::store::{BackupProgress, Maintenance, SqliteBackend, SqliteOptions};

/// The tables whose no-overlap rule the database enforces itself, each with the exclusion
/// constraint the schema gives it (`schema.rs`): the allocations of a pool compare their address
/// ranges (`addr_low`, `addr_high`), the top-level CIDRs of a scope their `cidr` (`inet_ops`).
const EXCLUSIONS: [(&str, &str); 2] = [
    ("allocations", "allocations_no_overlap"),
    ("pool_cidrs", "pool_cidrs_scope_id_cidr_excl"),
];

impl Maintenance for PostgresBackend {
    /// Checks, in the backend's schema: every index is valid (a failed build or reindex leaves
    /// one that enforces nothing); every constraint is validated; the exclusion constraints
    /// that forbid overlapping allocations of a pool and overlapping top-level CIDRs of a scope
    /// are there, under the names the schema gives them; and, when the `amcheck` extension is
    /// installed in the database (this check never installs it), the structure of every B-tree
    /// index (`bt_index_check`). Table pages themselves are checked by PostgreSQL's own
    /// checksums, when the cluster has them.
    fn check_storage(&self) -> Result<Vec<String>> {
        let mut conn = self.checkout()?;
        let problems = self.storage_problems(&mut conn);
        self.checkin(conn);
        problems
    }

    /// A new SQLite database at `destination` (mode 0600, never overwriting a file) holding
    /// the schema as one `REPEATABLE READ READ ONLY` snapshot saw it, every id unchanged:
    /// writers go on meanwhile. Restoring it is `ipam copy FILE URL` into an empty schema.
    fn backup(
        &self,
        destination: &Path,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<BackupProgress> {
        create_backup_file(destination)?;
        let written = self.export_snapshot().and_then(|snapshot| {
            let c = snapshot.counts();
            let total = (c.ipams
                + c.scopes
                + c.pools
                + c.pool_cidrs
                + c.allocations
                + c.reservations
                + c.cooling_blocks
                + snapshot.free_blocks.len()
                + c.audit_events) as u64;
            progress(BackupProgress {
                done: 0,
                total,
                unit: "rows",
            });
            let target = SqliteBackend::open(destination, &SqliteOptions::new("backup"))?;
            target.import_snapshot(&snapshot)?;
            let done = BackupProgress {
                done: total,
                total,
                unit: "rows",
            };
            progress(done);
            Ok(done)
        });
        if written.is_err() {
            // the file is ours and incomplete: leave nothing that looks like a backup
            for suffix in ["", "-wal", "-shm"] {
                let mut path = destination.as_os_str().to_owned();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
        written
    }

    fn export_snapshot(&self) -> Result<Snapshot> {
        PostgresBackend::export_snapshot(self)
    }

    fn import_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        PostgresBackend::import_snapshot(self, snapshot)
    }
}

impl PostgresBackend {
    fn storage_problems(&self, conn: &mut PgConnection) -> Result<Vec<String>> {
        let describe = self.describe();
        let fail = |e: postgres::Error| storage_error(&PgFailure::of(&e), &e, &describe);
        let schema = &self.location.schema;
        let client = &mut conn.client;
        let mut problems = Vec::new();
        for row in client.query(INVALID_INDEXES, &[schema]).map_err(fail)? {
            let index: String = row.get(0);
            problems.push(format!(
                "postgresql: index {index} is not valid (a failed build or reindex); run REINDEX INDEX {schema}.{index}"
            ));
        }
        let mut exclusions = Vec::new();
        for row in client.query(CONSTRAINTS, &[schema]).map_err(fail)? {
            let (table, name, kind, validated): (String, String, String, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            if kind == "x" {
                exclusions.push((table.clone(), name.clone()));
            }
            if !validated {
                problems.push(format!(
                    "postgresql: constraint {name} of table {table} is not validated; run ALTER TABLE {schema}.{table} VALIDATE CONSTRAINT {name}"
                ));
            }
        }
        for (table, constraint) in EXCLUSIONS {
            if !exclusions
                .iter()
                .any(|(t, c)| t == table && c == constraint)
            {
                problems.push(format!(
                    "postgresql: table {table} has lost its exclusion constraint: the database no longer refuses overlapping blocks"
                ));
            }
        }
        let amcheck: Option<String> = client
            .query_opt(AMCHECK_SCHEMA, &[])
            .map_err(fail)?
            .map(|row| row.get(0));
        if let Some(amcheck) = amcheck {
            let check = BTREE_CHECK.replace("{amcheck}", &quote_ident(&amcheck));
            for row in client.query(BTREE_INDEXES, &[schema]).map_err(fail)? {
                let (oid, index): (Oid, String) = (row.get(0), row.get(1));
                let Err(e) = client.execute(&check, &[&oid]) else {
                    continue;
                };
                let message = e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string());
                match e.code() {
                    // amcheck is installed but not granted to this user: nothing it can tell
                    Some(&SqlState::INSUFFICIENT_PRIVILEGE) => break,
                    Some(&SqlState::INDEX_CORRUPTED) | Some(&SqlState::DATA_CORRUPTED) => problems
                        .push(format!(
                            "postgresql: amcheck finds index {index} corrupt ({message}); run REINDEX INDEX {schema}.{index}"
                        )),
                    _ => problems.push(format!(
                        "postgresql: amcheck cannot check index {index}: {message}"
                    )),
                }
            }
        }
        Ok(problems)
    }
}
