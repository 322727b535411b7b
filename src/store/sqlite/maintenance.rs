//! The backend's own maintenance: SQLite's integrity check and its online backup.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;

use super::connection::SqliteBackend;
use crate::ipam::Result;
use crate::store::maintenance::{backup_failed, create_backup_file};
use crate::store::snapshot::Snapshot;
use crate::store::{BackupProgress, Maintenance};

/// Pages copied per step of a backup.
const BACKUP_STEP_PAGES: i32 = 256;

impl Maintenance for SqliteBackend {
    /// `PRAGMA integrity_check`, each line it reports (other than `ok`) a problem.
    fn check_storage(&self) -> Result<Vec<String>> {
        let report = self.integrity_check()?;
        Ok(report
            .lines()
            .filter(|line| *line != "ok")
            .map(|line| format!("sqlite integrity check: {line}"))
            .collect())
    }

    /// SQLite's online backup API inside one read transaction: the copy is the state at its
    /// start, and writers (which append to the WAL) neither wait for it nor make it start over.
    /// The new file gets mode 0600, like the database.
    fn backup(
        &self,
        destination: &Path,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<BackupProgress> {
        let fail = |e: String| backup_failed(destination, e);
        create_backup_file(destination)?;
        let mut target = Connection::open(destination).map_err(|e| fail(e.to_string()))?;
        let source = self.lock();
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

    fn export_snapshot(&self) -> Result<Snapshot> {
        SqliteBackend::export_snapshot(self)
    }

    fn import_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        SqliteBackend::import_snapshot(self, snapshot)
    }
}

/// Copies every page of `source` into `target`, [`BACKUP_STEP_PAGES`] at a time.
fn copy_pages(
    source: &Connection,
    target: &mut Connection,
    progress: &mut dyn FnMut(BackupProgress),
) -> rusqlite::Result<BackupProgress> {
    let backup = Backup::new(source, target)?;
    loop {
        let step = backup.step(BACKUP_STEP_PAGES)?;
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or(0);
        let now = BackupProgress {
            done: total.saturating_sub(u64::try_from(p.remaining).unwrap_or(0)),
            total,
            unit: "pages",
        };
        progress(now);
        match step {
            StepResult::Done => return Ok(now),
            StepResult::More => {}
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}
