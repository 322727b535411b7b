//! SQLite-specific behaviour: file mode, schema versions, threads sharing one store.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use tfipam::ipam::{AddressFamily, AllocationRequest, Error, NewIpam, NewPool, PoolCidrRequest};
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

/// The provider serves concurrent RPCs from one store.
#[test]
fn threads_sharing_one_store_get_distinct_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("ipam.db"), options()).unwrap());
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let pool = store
        .create_pool(&NewPool::new(
            &ipam.private_default_scope_id,
            AddressFamily::Ipv4,
        ))
        .unwrap();
    store
        .provision_pool_cidr(
            &pool.id,
            PoolCidrRequest::Cidr("10.0.0.0/16".parse().unwrap()),
        )
        .unwrap();
    let handles: Vec<_> = (0..8)
        .map(|thread| {
            let store = Arc::clone(&store);
            let pool_id = pool.id.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let len = 24 + ((thread + i) % 5) as u8;
                        let request = AllocationRequest {
                            pool_id: pool_id.clone(),
                            netmask_length: Some(len),
                            ..Default::default()
                        };
                        store.allocate(&request).unwrap().cidr
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(all.len(), 200);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 200);
    assert!(store.check_consistency().unwrap().is_empty());
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
