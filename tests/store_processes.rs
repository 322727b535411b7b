//! Several OS processes on one database file: concurrent allocation and a SIGKILL in the
//! middle of a stream of writes.
//!
//! The workers are this test binary itself, re-executed with `--exact worker_process` and the
//! role in an environment variable; in a normal run `worker_process` has no role and returns.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tfipam::ipam::{AddressFamily, AllocationRequest, Block, NewIpam, NewPool, PoolCidrRequest};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

const ROLE: &str = "TFIPAM_WORKER_ROLE";
const DB: &str = "TFIPAM_WORKER_DB";
const POOL: &str = "TFIPAM_WORKER_POOL";
const CHILD_POOL: &str = "TFIPAM_WORKER_CHILD_POOL";
const INDEX: &str = "TFIPAM_WORKER_INDEX";
const GO_FILE: &str = "TFIPAM_WORKER_GO_FILE";
const PROCESSES: usize = 8;
const PER_PROCESS: usize = 250;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("worker needs {name}"))
}

/// The body of a worker process (does nothing unless started by a test below).
#[test]
fn worker_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let store = SqliteStore::open(
        env(DB),
        SqliteOptions::new(format!("worker-{}", env(INDEX))),
    )
    .unwrap();
    let pool = env(POOL);
    let index: usize = env(INDEX).parse().unwrap();
    // start together, so that the writers really contend
    let go = env(GO_FILE);
    while !Path::new(&go).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    match role.as_str() {
        "allocate" => {
            for i in 0..PER_PROCESS {
                let len = 20 + ((index + i) % 9) as u8;
                let request = AllocationRequest {
                    pool_id: pool.clone(),
                    netmask_length: Some(len),
                    ..Default::default()
                };
                if let Err(error) = store.allocate(&request) {
                    panic!("worker {index}, allocation {i}: {error}");
                }
            }
        }
        "stream" => {
            let child_pool = env(CHILD_POOL);
            for i in 0.. {
                let len = 22 + (i % 7) as u8;
                let request = AllocationRequest {
                    pool_id: pool.clone(),
                    netmask_length: Some(len),
                    ..Default::default()
                };
                store.allocate(&request).unwrap();
                if i % 5 == 0 {
                    // a carve: allocation in the parent + pool cidr + free block, all or nothing
                    let cidr = store
                        .provision_pool_cidr(&child_pool, PoolCidrRequest::NetmaskLength(20))
                        .unwrap();
                    if i % 10 == 0 {
                        store.deprovision_pool_cidr(&cidr.id, true).unwrap();
                    }
                }
                if i % 3 == 0 {
                    let allocations = store.list_allocations(&pool).unwrap();
                    if let Some(victim) =
                        allocations.iter().find(|a| a.child_pool_cidr_id.is_none())
                    {
                        store.release_allocation(&victim.id).unwrap();
                    }
                }
            }
        }
        other => panic!("unknown worker role {other}"),
    }
}

fn spawn(role: &str, db: &Path, pool: &str, child_pool: &str, index: usize, go: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "worker_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(DB, db)
        .env(POOL, pool)
        .env(CHILD_POOL, child_pool)
        .env(INDEX, index.to_string())
        .env(GO_FILE, go)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    go: std::path::PathBuf,
    store: SqliteStore,
    pool: String,
    child_pool: String,
}

fn setup(top: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let go = dir.path().join("go");
    let store = SqliteStore::open(&db, SqliteOptions::new("parent")).unwrap();
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let scope = ipam.private_default_scope_id;
    let pool = store
        .create_pool(&NewPool::new(&scope, AddressFamily::Ipv4))
        .unwrap()
        .id;
    store
        .provision_pool_cidr(&pool, PoolCidrRequest::Cidr(top.parse().unwrap()))
        .unwrap();
    let child = NewPool {
        source_pool_id: Some(pool.clone()),
        ..NewPool::new(&scope, AddressFamily::Ipv4)
    };
    let child_pool = store.create_pool(&child).unwrap().id;
    Setup {
        _dir: dir,
        db,
        go,
        store,
        pool,
        child_pool,
    }
}

fn assert_disjoint(cidrs: &[IpNet]) {
    let mut blocks: Vec<Block> = cidrs.iter().map(Block::of).collect();
    blocks.sort();
    for pair in blocks.windows(2) {
        assert!(
            !pair[0].overlaps(&pair[1], AddressFamily::Ipv4),
            "{pair:?} overlap"
        );
    }
}

#[test]
fn eight_processes_allocate_two_thousand_disjoint_blocks() {
    let s = setup("10.0.0.0/8");
    let children: Vec<Child> = (0..PROCESSES)
        .map(|i| spawn("allocate", &s.db, &s.pool, &s.child_pool, i, &s.go))
        .collect();
    std::fs::write(&s.go, b"go").unwrap();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "worker {i} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let allocations = s.store.list_allocations(&s.pool).unwrap();
    assert_eq!(allocations.len(), PROCESSES * PER_PROCESS);
    let cidrs: Vec<IpNet> = allocations.iter().map(|a| a.cidr).collect();
    assert_eq!(
        cidrs.iter().collect::<HashSet<_>>().len(),
        PROCESSES * PER_PROCESS
    );
    assert_disjoint(&cidrs);
    let actors: HashSet<String> = s
        .store
        .audit_events(0, usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "allocate")
        .map(|e| e.actor)
        .collect();
    assert_eq!(actors.len(), PROCESSES, "every process wrote: {actors:?}");
    assert_eq!(s.store.integrity_check().unwrap(), "ok");
    assert_eq!(s.store.check_consistency().unwrap(), Vec::<String>::new());
}

#[test]
fn a_process_killed_mid_stream_leaves_a_consistent_database() {
    let s = setup("10.0.0.0/8");
    std::fs::write(&s.go, b"go").unwrap();
    let mut seen = 0;
    // kill at a different moment each round
    for (round, wait_for) in [40usize, 75, 130].into_iter().enumerate() {
        let mut child = spawn("stream", &s.db, &s.pool, &s.child_pool, round, &s.go);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = s.store.audit_events(0, usize::MAX).unwrap().len();
            if events >= seen + wait_for {
                seen = events;
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "the stream ended by itself ({status}): {:?}",
                    child
                        .wait_with_output()
                        .map(|o| String::from_utf8_lossy(&o.stderr).to_string())
                );
            }
            assert!(Instant::now() < deadline, "the stream made no progress");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_eq!(s.store.integrity_check().unwrap(), "ok", "round {round}");
        assert_eq!(
            s.store.check_consistency().unwrap(),
            Vec::<String>::new(),
            "round {round}"
        );
    }
    // allocation continues, in this process and in a fresh one
    let request = AllocationRequest {
        pool_id: s.pool.clone(),
        netmask_length: Some(24),
        ..Default::default()
    };
    s.store.allocate(&request).unwrap();
    let reopened = SqliteStore::open(&s.db, SqliteOptions::new("after-crash")).unwrap();
    reopened.allocate(&request).unwrap();
    reopened
        .provision_pool_cidr(&s.child_pool, PoolCidrRequest::NetmaskLength(20))
        .unwrap();
    assert_eq!(reopened.check_consistency().unwrap(), Vec::<String>::new());
    let cidrs: Vec<IpNet> = reopened
        .list_allocations(&s.pool)
        .unwrap()
        .iter()
        .map(|a| a.cidr)
        .collect();
    assert_disjoint(&cidrs);
}
