//! How the SQLite backend opens a database this process may not write.
//!
//! Read-only opening: a WAL database needs its `-wal` and `-shm` files. A reader that cannot
//! write the database but can write its directory would create them, owned by itself, and the
//! owner's next connection could then not write the `-shm` file: a reader would break the
//! writer. So a database this process cannot write is opened with `mode=ro`, and with
//! `immutable=1` when no `-wal` file exists (no writer is active, nothing is waiting to be
//! checkpointed, and SQLite then creates nothing beside the file). When a writer is active, its
//! `-wal` and `-shm` exist and SQLite reads them without writing.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::schema::SCHEMA_VERSION;
use crate::ipam::Error;
use crate::store::util::account_name;

/// Whether this process may change the database at `path`. `None` when it may; otherwise why
/// not, as a phrase naming the file's owner and mode or the directory.
pub(super) fn read_only_reason(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let owner = || {
        let name = account_name(meta.uid()).unwrap_or_else(|| format!("uid {}", meta.uid()));
        format!("{name}, mode {:04o}", meta.mode() & 0o7777)
    };
    if !writable(path) {
        return Some(format!(
            "the file belongs to {} and is not writable for you",
            owner()
        ));
    }
    let dir = directory_of(path);
    if !writable(&dir) && !sibling(path, "-wal").exists() {
        return Some(format!(
            "its directory {} is not writable for you (SQLite keeps a -wal and a -shm file beside the database)",
            dir.display()
        ));
    }
    None
}

/// Opens an existing database for reading only (see the module documentation).
pub(super) fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let immutable = if sibling(path, "-wal").exists() {
        ""
    } else {
        "&immutable=1"
    };
    let uri = format!("file:{}?mode=ro{immutable}", uri_path(path));
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// Refuses a database this process cannot migrate: migrations write, so a read-only database
/// must already have this build's schema.
pub(super) fn check_version(conn: &Connection, path: &Path) -> Result<(), Error> {
    let found: u32 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| Error::Storage {
            message: format!("cannot read database {}: {e}", path.display()),
        })?;
    if found > SCHEMA_VERSION {
        return Err(Error::NewerDatabase {
            path: path.display().to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        return Err(Error::Storage {
            message: format!(
                "the database {} has schema version {found} and this provider upgrades it to {SCHEMA_VERSION} when it opens it, which needs write access, but it is read-only for you ({})",
                path.display(),
                read_only_reason(path).unwrap_or_else(|| "opened read-only".to_string())
            ),
        });
    }
    Ok(())
}

/// The message of a change refused because the database is read-only for this process.
pub(super) fn read_only_message(path: &Path, reason: &str) -> String {
    format!(
        "the database {} is read-only for you ({reason}); plans, refreshes and data sources work, but this change needs write access: ask its owner to let you write the file and its directory (for example a shared group, mode 0660 on the file and group write on the directory), or run terraform as a user who can",
        path.display()
    )
}

/// Whether this process may write `path` (the effective user, as the kernel decides).
fn writable(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; faccessat only reads it
    unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::W_OK,
            libc::AT_EACCESS,
        ) == 0
    }
}

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `db` + `-wal`, beside the database.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A path inside a `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_escape_what_sqlite_would_parse() {
        assert_eq!(
            uri_path(Path::new("/a b/c?d#e%f.db")),
            "/a b/c%3Fd%23e%25f.db"
        );
    }
}
