//! What a backend does with its storage itself, beyond the rows the engine reads and writes:
//! the operator's storage integrity check, online backup and whole-database copies (the
//! `ipam check`, `ipam backup` and `ipam copy` commands). These are no IPAM rules, so they are
//! the backend's, not the engine's.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::ipam::{Error, Result};
use crate::store::snapshot::Snapshot;

/// How far a backup has got, in the backend's own units (pages for SQLite, rows for
/// PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupProgress {
    /// Units copied.
    pub done: u64,
    /// Units in all.
    pub total: u64,
    /// What is counted: `"pages"` or `"rows"`.
    pub unit: &'static str,
}

/// A backend's own maintenance of its storage.
pub trait Maintenance {
    /// The backend's own integrity check of its storage; returns the problems found, empty
    /// when sound.
    fn check_storage(&self) -> Result<Vec<String>>;
    /// Writes a consistent copy of the whole database to the new file `destination` (never
    /// overwriting one) while writers go on, reporting progress now and then; returns the
    /// final progress.
    fn backup(
        &self,
        destination: &Path,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<BackupProgress>;
    /// The whole database as rows, read in one consistent read transaction while writers go on.
    fn export_snapshot(&self) -> Result<Snapshot>;
    /// Writes a snapshot into this database, which must be empty (no IPAM, no audit event), in
    /// one transaction, every id, time and sequence number unchanged. A store on this database
    /// must be opened again afterwards: the allocation-id key changed.
    fn import_snapshot(&self, snapshot: &Snapshot) -> Result<()>;
}

/// The error of a backup to `destination` that failed with `reason`.
pub(super) fn backup_failed(destination: &Path, reason: String) -> Error {
    Error::Storage {
        message: format!("backup to {} failed: {reason}", destination.display()),
    }
}

/// Creates the backup file `destination`, readable by its owner only like the database, and
/// never over an existing file.
pub(super) fn create_backup_file(destination: &Path) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(destination)
        .map(drop)
        .map_err(|e| backup_failed(destination, e.to_string()))
}
