//! The backend conformance suite, run against SQLite (a fresh database file per case; worker
//! processes reopen it by its path).

use tfipam::store::conformance::StoreFactory;
use tfipam::store::{SqliteOptions, SqliteStore, Store};

struct Sqlite;

impl StoreFactory for Sqlite {
    fn create(&self) -> (Box<dyn Store>, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ipam.db");
        // keep the directory for the life of the test process (worker processes open it too)
        std::mem::forget(dir);
        let store = SqliteStore::open(&path, SqliteOptions::new("conformance")).expect("open");
        (Box::new(store), path.display().to_string())
    }

    fn open(&self, location: &str, actor: &str) -> Box<dyn Store> {
        Box::new(SqliteStore::open(location, SqliteOptions::new(actor)).expect("reopen"))
    }

    fn verify(&self, location: &str) -> Vec<String> {
        match SqliteStore::open(location, SqliteOptions::new("verify"))
            .and_then(|store| store.integrity_check())
        {
            Ok(report) if report == "ok" => Vec::new(),
            Ok(report) => vec![format!("integrity check: {report}")],
            Err(error) => vec![format!("integrity check: {error}")],
        }
    }
}

tfipam::store_conformance_tests!(Sqlite);
