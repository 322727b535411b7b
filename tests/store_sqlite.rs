//! SQLite-specific behaviour: file mode, page size, schema versions, opening errors. (Threads and
//! processes sharing a database are in the conformance suite.)

use std::os::unix::fs::PermissionsExt;

use tfipam::ipam::{Error, NewIpam};
use tfipam::store::{SqliteOptions, SqliteStore, Store, SCHEMA_VERSION};

fn options() -> SqliteOptions {
    SqliteOptions::new("store-test")
}

#[test]
fn database_files_are_created_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipam.db");
    let store = SqliteStore::open(&path, options()).unwrap();
    store.create_ipam(&NewIpam::default()).unwrap();
    for file in [path.clone(), dir.path().join("ipam.db-wal")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
    }
}

#[test]
fn a_newer_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipam.db");
    drop(SqliteStore::open(&path, options()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let page_size: u32 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(page_size, 1024);
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let error = match SqliteStore::open(&path, options()) {
        Err(error) => error,
        Ok(_) => panic!("a newer database was opened"),
    };
    assert!(
        matches!(error, Error::NewerDatabase { found, supported, .. } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION)
    );
    assert!(
        error
            .to_string()
            .contains("upgrade terraform-provider-ipam"),
        "{error}"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION + 1);
}

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipam.db");
    let store = SqliteStore::open(&path, options()).unwrap();
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    drop(store);
    let store = SqliteStore::open(&path, options()).unwrap();
    assert_eq!(store.get_ipam(&ipam.id).unwrap(), ipam);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn opening_an_existing_database_never_creates_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipam.db");
    assert!(SqliteStore::open_existing(&path, options())
        .unwrap()
        .is_none());
    assert!(!path.exists());
    std::fs::write(&path, b"").unwrap();
    assert!(SqliteStore::open_existing(&path, options())
        .unwrap()
        .is_none());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    let ipam = SqliteStore::open(&path, options())
        .unwrap()
        .create_ipam(&NewIpam::default())
        .unwrap();
    let store = SqliteStore::open_existing(&path, options())
        .unwrap()
        .unwrap();
    assert_eq!(store.get_ipam(&ipam.id).unwrap(), ipam);
}

#[test]
fn an_unwritable_location_is_a_clear_error() {
    let error = match SqliteStore::open("/nonexistent-dir/ipam.db", options()) {
        Err(error) => error,
        Ok(_) => panic!("opened a database in a missing directory"),
    };
    assert!(
        error.to_string().contains("/nonexistent-dir/ipam.db"),
        "{error}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let error = match SqliteStore::open(&path, options()) {
        Err(error) => error,
        Ok(_) => panic!("opened a text file as a database"),
    };
    let text = error.to_string();
    assert!(
        text.contains("notes.txt") && text.contains("not a database"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        vec![b'x'; 4096],
        "the file was changed"
    );
}
