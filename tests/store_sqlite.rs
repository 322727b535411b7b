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

/// One /16 pool in a fresh store, for the concurrency tests.
fn store_with_pool(dir: &tempfile::TempDir) -> (Arc<SqliteStore>, String) {
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
    (store, pool.id)
}

/// Under contention from many threads: every concurrent allocation is distinct, disjoint and has its
/// audit event, and the database stays consistent.
#[test]
fn sixteen_threads_allocating_concurrently_get_distinct_audited_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pool_id) = store_with_pool(&dir);
    let handles: Vec<_> = (0..16)
        .map(|thread| {
            let store = Arc::clone(&store);
            let pool_id = pool_id.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| {
                        let request = AllocationRequest {
                            pool_id: pool_id.clone(),
                            netmask_length: Some(26 + ((thread + i) % 3) as u8),
                            ..Default::default()
                        };
                        store.allocate(&request).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(all.len(), 800);
    assert_eq!(all.iter().map(|a| &a.id).collect::<HashSet<_>>().len(), 800);
    let mut cidrs: Vec<_> = all.iter().map(|a| a.cidr).collect();
    cidrs.sort();
    for pair in cidrs.windows(2) {
        assert!(
            pair[0].broadcast() < pair[1].network(),
            "{} overlaps {}",
            pair[0],
            pair[1]
        );
    }
    let audited: HashSet<String> = store
        .audit_events(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "allocate")
        .map(|e| e.object_id)
        .collect();
    for allocation in &all {
        assert!(
            audited.contains(&allocation.id),
            "{} has no audit event",
            allocation.id
        );
    }
    assert_eq!(store.list_allocations(&pool_id).unwrap().len(), 800);
    assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
}

/// A refused request (here an explicit CIDR that overlaps) gets its own error while concurrent
/// good requests succeed, and leaves nothing behind.
#[test]
fn a_refused_request_fails_alone_among_concurrent_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pool_id) = store_with_pool(&dir);
    let taken = store
        .allocate(&AllocationRequest {
            pool_id: pool_id.clone(),
            cidr: Some("10.0.0.0/24".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
    let handles: Vec<_> = (0..12)
        .map(|thread| {
            let store = Arc::clone(&store);
            let pool_id = pool_id.clone();
            std::thread::spawn(move || {
                let mut good = Vec::new();
                let mut refused = 0;
                for i in 0..40 {
                    if thread % 3 == 0 {
                        // overlaps the /24 allocated above
                        let cidr = format!("10.0.0.{}/28", 16 * (i % 16));
                        let error = store
                            .allocate(&AllocationRequest {
                                pool_id: pool_id.clone(),
                                cidr: Some(cidr.parse().unwrap()),
                                ..Default::default()
                            })
                            .unwrap_err();
                        assert!(matches!(error, Error::Overlap { .. }), "{error}");
                        refused += 1;
                    } else {
                        good.push(
                            store
                                .allocate(&AllocationRequest {
                                    pool_id: pool_id.clone(),
                                    netmask_length: Some(28),
                                    ..Default::default()
                                })
                                .unwrap(),
                        );
                    }
                }
                (good, refused)
            })
        })
        .collect();
    let mut good = Vec::new();
    let mut refused = 0;
    for handle in handles {
        let (g, r) = handle.join().unwrap();
        good.extend(g);
        refused += r;
    }
    assert_eq!(refused, 4 * 40);
    assert_eq!(good.len(), 8 * 40);
    let stored = store.list_allocations(&pool_id).unwrap();
    assert_eq!(stored.len(), 8 * 40 + 1);
    assert!(stored.iter().any(|a| a.id == taken.id));
    for allocation in &good {
        assert!(stored.iter().any(|a| a.id == allocation.id));
    }
    // the refused requests left nothing behind: no row, no audit event
    let allocate_events = store
        .audit_events(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "allocate")
        .count();
    assert_eq!(allocate_events, 8 * 40 + 1);
    assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
}
