//! What a backend does with its storage itself, beyond the rows the engine reads and writes:
//! the operator's storage integrity check and online backup (the `ipam check` and `ipam backup`
//! commands). These are no IPAM rules, so they are the backend's, not the engine's.

use std::path::Path;

use crate::ipam::Result;

/// How far a backup has got, in the backend's own units (pages for SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupProgress {
    /// Units copied.
    pub done: u64,
    /// Units in all.
    pub total: u64,
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
}
