//! Concurrency and crashes: threads sharing one store, OS processes sharing one database, and a
//! writer process killed in the middle of a stream of writes.
//!
//! The worker processes are the backend's own test binary, run again with
//! `--exact <worker test>` and their role in environment variables; the macro
//! [`crate::store_conformance_tests`] defines that worker test. In a normal run it has no role
//! and returns at once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::{assert_consistent, StoreFactory};
use crate::ipam::{
    AddressFamily, AllocationRequest, Block, Error, NewIpam, NewPool, PoolCidrRequest,
};
use crate::store::Store;

const ROLE: &str = "TFIPAM_CONFORMANCE_ROLE";
const LOCATION: &str = "TFIPAM_CONFORMANCE_LOCATION";
const POOL: &str = "TFIPAM_CONFORMANCE_POOL";
const CHILD_POOL: &str = "TFIPAM_CONFORMANCE_CHILD_POOL";
const INDEX: &str = "TFIPAM_CONFORMANCE_INDEX";
const GO_FILE: &str = "TFIPAM_CONFORMANCE_GO_FILE";
const PROCESSES: usize = 8;
const PER_PROCESS: usize = 250;

/// How a test starts worker processes: the test binary and the full name of its worker test.
#[derive(Debug, Clone)]
pub struct Worker {
    test_name: String,
}

impl Worker {
    /// The worker test `name`, defined in the module `module_path` (as `module_path!()` gives
    /// it, crate name first) of the running test binary.
    pub fn new(module_path: &str, name: &str) -> Worker {
        let module = module_path.split_once("::").map(|(_, rest)| rest);
        Worker {
            test_name: match module {
                Some(module) => format!("{module}::{name}"),
                None => name.to_string(),
            },
        }
    }

    fn spawn(&self, role: &str, setup: &Shared, index: usize) -> Child {
        self.spawn_at(role, setup, index, &Placement::here(&setup.location))
    }

    fn spawn_at(&self, role: &str, setup: &Shared, index: usize, place: &Placement) -> Child {
        let binary = std::env::current_exe().expect("the test binary");
        let mut command = match place.run_under.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .args([
                self.test_name.as_str(),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, role)
            .env(LOCATION, &place.location)
            .env(POOL, &setup.pool)
            .env(CHILD_POOL, &setup.child_pool)
            .env(INDEX, index.to_string())
            .env(GO_FILE, &setup.go)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("a worker process starts")
    }
}

/// Where a worker process runs: under which command (e.g. `ip netns exec NS`, on another
/// network) and by which location it opens the database from there.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The program and arguments the worker is run under; empty: run directly.
    pub run_under: Vec<String>,
    /// The location the worker opens (the database the test created, as reached from there).
    pub location: String,
}

impl Placement {
    /// Run directly, opening `location`.
    pub fn here(location: &str) -> Placement {
        Placement {
            run_under: Vec::new(),
            location: location.to_string(),
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("the worker needs {name}"))
}

/// The body of a worker process: does nothing unless a test below started it.
pub fn worker_process(factory: &dyn StoreFactory) {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let index: usize = env(INDEX).parse().expect("worker index");
    let store = factory.open(&env(LOCATION), &format!("worker-{index}"));
    let pool = env(POOL);
    // start together, so that the writers really contend
    let go = env(GO_FILE);
    while !Path::new(&go).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    match role.as_str() {
        "allocate" => {
            for i in 0..PER_PROCESS {
                let len = 20 + ((index + i) % 9) as u8;
                if let Err(error) = store.allocate(&request(&pool, len)) {
                    panic!("worker {index}, allocation {i}: {error}");
                }
            }
        }
        "stream" => {
            let child_pool = env(CHILD_POOL);
            for i in 0.. {
                store
                    .allocate(&request(&pool, 22 + (i % 7) as u8))
                    .expect("allocate");
                if i % 5 == 0 {
                    // a carve: allocation in the parent + pool cidr + free block, all or nothing
                    let cidr = store
                        .provision_pool_cidr(&child_pool, PoolCidrRequest::NetmaskLength(20))
                        .expect("provision");
                    if i % 10 == 0 {
                        store
                            .deprovision_pool_cidr(&cidr.id, true)
                            .expect("deprovision");
                    }
                }
                if i % 3 == 0 {
                    let allocations = store.list_allocations(&pool).expect("list");
                    if let Some(victim) =
                        allocations.iter().find(|a| a.child_pool_cidr_id.is_none())
                    {
                        store.release_allocation(&victim.id).expect("release");
                    }
                }
            }
        }
        other => panic!("unknown worker role {other}"),
    }
}

fn request(pool: &str, netmask_length: u8) -> AllocationRequest {
    AllocationRequest {
        pool_id: pool.to_string(),
        netmask_length: Some(netmask_length),
        ..Default::default()
    }
}

/// A fresh database with an IPv4 pool holding `top` and an empty child pool, shared with
/// worker processes through its location and a start file.
struct Shared {
    store: Box<dyn Store>,
    location: String,
    pool: String,
    child_pool: String,
    go: PathBuf,
}

impl Shared {
    fn new(factory: &dyn StoreFactory, top: &str) -> Shared {
        let (store, location) = factory.create();
        let ipam = store.create_ipam(&NewIpam::default()).expect("create ipam");
        let scope = ipam.private_default_scope_id;
        let pool = store
            .create_pool(&NewPool::new(&scope, AddressFamily::Ipv4))
            .expect("create pool")
            .id;
        store
            .provision_pool_cidr(&pool, PoolCidrRequest::Cidr(top.parse().expect("cidr")))
            .expect("provision");
        let child = NewPool {
            source_pool_id: Some(pool.clone()),
            ..NewPool::new(&scope, AddressFamily::Ipv4)
        };
        let child_pool = store.create_pool(&child).expect("create child pool").id;
        let go = std::env::temp_dir().join(format!(
            "tfipam-conformance-go-{}-{}",
            std::process::id(),
            crate::store::new_id("run")
        ));
        Shared {
            store,
            location,
            pool,
            child_pool,
            go,
        }
    }

    fn go(&self) {
        std::fs::write(&self.go, b"go").expect("the start file is written");
    }

    /// The backend's own check of its storage and the store's invariant check.
    fn assert_sound(&self, factory: &dyn StoreFactory, when: &str) {
        let problems = factory.verify(&self.location);
        assert!(
            problems.is_empty(),
            "{when}: storage damaged: {problems:#?}"
        );
        let problems = self
            .store
            .check_consistency()
            .expect("consistency check runs");
        assert!(problems.is_empty(), "{when}: inconsistent: {problems:#?}");
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.go);
    }
}

fn assert_disjoint(cidrs: &[IpNet]) {
    let mut blocks: Vec<(Block, AddressFamily)> = cidrs
        .iter()
        .map(|c| (Block::of(c), AddressFamily::of(c)))
        .collect();
    blocks.sort();
    for pair in blocks.windows(2) {
        assert!(
            pair[0].1 != pair[1].1 || !pair[0].0.overlaps(&pair[1].0, pair[0].1),
            "{} overlaps {}",
            pair[0].0.to_net(pair[0].1),
            pair[1].0.to_net(pair[1].1)
        );
    }
}

/// A new IPAM with one top-level pool holding 10.0.0.0/16.
fn pool_of_a_16(store: &dyn Store) -> String {
    let f = super::fixture(store);
    super::top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/16",
        crate::ipam::NetmaskRule::default(),
    )
}

/// 16 threads × 50 allocations into one pool of one store: distinct ids, disjoint blocks, each
/// with its audit event; the store stays consistent.
pub fn threads_allocate_disjoint_audited_blocks(store: &dyn Store) {
    let pool = pool_of_a_16(store);
    let all: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|thread| {
                let pool = &pool;
                scope.spawn(move || {
                    (0..50)
                        .map(|i| {
                            let len = 26 + ((thread + i) % 3) as u8;
                            store.allocate(&request(pool, len)).expect("allocate")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(all.len(), 800);
    assert_eq!(all.iter().map(|a| &a.id).collect::<HashSet<_>>().len(), 800);
    assert_disjoint(&all.iter().map(|a| a.cidr).collect::<Vec<_>>());
    let audited: HashSet<String> = store
        .audit_events(0, usize::MAX)
        .expect("audit events")
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
    assert_eq!(store.list_allocations(&pool).expect("list").len(), 800);
    assert_consistent(store);
}

/// A refused request (an explicit CIDR that overlaps) gets its own error while concurrent good
/// requests succeed, and leaves nothing behind: no row, no audit event.
pub fn a_refused_request_fails_alone_among_concurrent_good_ones(store: &dyn Store) {
    let pool = pool_of_a_16(store);
    let taken = store
        .allocate(&AllocationRequest {
            cidr: Some("10.0.0.0/24".parse().expect("cidr")),
            ..request(&pool, 24)
        })
        .expect("allocate");
    let (good, refused) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|thread| {
                let pool = &pool;
                scope.spawn(move || {
                    let mut good = Vec::new();
                    let mut refused = 0;
                    for i in 0..40 {
                        if thread % 3 == 0 {
                            let cidr = format!("10.0.0.{}/28", 16 * (i % 16));
                            let error = store
                                .allocate(&AllocationRequest {
                                    pool_id: pool.clone(),
                                    cidr: Some(cidr.parse().expect("cidr")),
                                    ..Default::default()
                                })
                                .expect_err("an overlapping cidr is refused");
                            assert!(matches!(error, Error::Overlap { .. }), "{error}");
                            refused += 1;
                        } else {
                            good.push(store.allocate(&request(pool, 28)).expect("allocate"));
                        }
                    }
                    (good, refused)
                })
            })
            .collect();
        let mut good = Vec::new();
        let mut refused = 0;
        for handle in handles {
            let (g, r) = handle.join().expect("thread");
            good.extend(g);
            refused += r;
        }
        (good, refused)
    });
    assert_eq!(refused, 4 * 40);
    assert_eq!(good.len(), 8 * 40);
    let stored = store.list_allocations(&pool).expect("list");
    assert_eq!(stored.len(), 8 * 40 + 1);
    assert!(stored.iter().any(|a| a.id == taken.id));
    for allocation in &good {
        assert!(stored.iter().any(|a| a.id == allocation.id));
    }
    let allocate_events = store
        .audit_events(0, usize::MAX)
        .expect("audit events")
        .into_iter()
        .filter(|e| e.action == "allocate")
        .count();
    assert_eq!(allocate_events, 8 * 40 + 1);
    assert_consistent(store);
}

/// 8 OS processes × 250 mixed-size allocations into one pool, started together: 2,000
/// distinct, disjoint blocks, no error, every process's actor recorded.
pub fn processes_allocate_disjoint_blocks(factory: &dyn StoreFactory, worker: &Worker) {
    processes_allocate_disjoint_blocks_from(factory, worker, &|_, location| {
        Placement::here(location)
    });
}

/// [`processes_allocate_disjoint_blocks`] with each worker process placed by `place` (given
/// its index and the location of the database the test created): e.g. on other hosts.
pub fn processes_allocate_disjoint_blocks_from(
    factory: &dyn StoreFactory,
    worker: &Worker,
    place: &dyn Fn(usize, &str) -> Placement,
) {
    let shared = Shared::new(factory, "10.0.0.0/8");
    let children: Vec<Child> = (0..PROCESSES)
        .map(|i| worker.spawn_at("allocate", &shared, i, &place(i, &shared.location)))
        .collect();
    shared.go();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().expect("worker output");
        assert!(
            output.status.success(),
            "worker {i} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let store = &shared.store;
    let allocations = store.list_allocations(&shared.pool).expect("list");
    assert_eq!(allocations.len(), PROCESSES * PER_PROCESS);
    let cidrs: Vec<IpNet> = allocations.iter().map(|a| a.cidr).collect();
    assert_eq!(
        cidrs.iter().collect::<HashSet<_>>().len(),
        PROCESSES * PER_PROCESS
    );
    assert_disjoint(&cidrs);
    let actors: HashSet<String> = store
        .audit_events(0, usize::MAX)
        .expect("audit events")
        .into_iter()
        .filter(|e| e.action == "allocate")
        .map(|e| e.actor)
        .collect();
    assert_eq!(actors.len(), PROCESSES, "every process wrote: {actors:?}");
    shared.assert_sound(factory, "after the workers");
}

/// A writer process killed (SIGKILL) in the middle of a stream of allocations, carves,
/// deprovisions and releases, three times at different moments: each time the storage is
/// sound and consistent, and allocation continues, here and in a freshly opened store.
pub fn a_killed_writer_leaves_a_consistent_database(factory: &dyn StoreFactory, worker: &Worker) {
    let shared = Shared::new(factory, "10.0.0.0/8");
    shared.go();
    let mut seen = 0;
    for (round, wait_for) in [40usize, 75, 130].into_iter().enumerate() {
        let mut child = worker.spawn("stream", &shared, round);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = shared
                .store
                .audit_events(0, usize::MAX)
                .expect("audit events")
                .len();
            if events >= seen + wait_for {
                seen = events;
                break;
            }
            if let Some(status) = child.try_wait().expect("worker status") {
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
        child.kill().expect("SIGKILL");
        child.wait().expect("the worker ends");
        shared.assert_sound(factory, &format!("round {round}"));
    }
    shared
        .store
        .allocate(&request(&shared.pool, 24))
        .expect("allocate after the crash");
    let reopened = factory.open(&shared.location, "after-crash");
    reopened
        .allocate(&request(&shared.pool, 24))
        .expect("allocate in a reopened store");
    reopened
        .provision_pool_cidr(&shared.child_pool, PoolCidrRequest::NetmaskLength(20))
        .expect("carve in a reopened store");
    assert_consistent(&*reopened);
    let cidrs: Vec<IpNet> = reopened
        .list_allocations(&shared.pool)
        .expect("list")
        .iter()
        .map(|a| a.cidr)
        .collect();
    assert_disjoint(&cidrs);
}
