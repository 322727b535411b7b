//! The backend conformance suite, run against SQLite (a fresh database file per case).

use tfipam::store::{SqliteOptions, SqliteStore, Store};

fn fresh_store() -> Box<dyn Store> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        dir.path().join("ipam.db"),
        SqliteOptions::new("conformance"),
    )
    .expect("open");
    // keep the directory for the life of the test process; it is tiny
    std::mem::forget(dir);
    Box::new(store)
}

tfipam::store_conformance_tests!(fresh_store);
