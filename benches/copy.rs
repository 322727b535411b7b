//! Copies between backends: `cargo bench --bench copy`.
//!
//! On one throw-away local server (tests/support/postgres.rs) and a SQLite file, in one run, for
//! an address space of N live /28 allocations in one /8 pool (seeded with `allocate_many` on
//! SQLite) plus their audit events and free blocks, the wall time of each half of a copy:
//! SQLite export, PostgreSQL import (`ipam copy FILE URL`), PostgreSQL export, SQLite import
//! (`ipam backup` of PostgreSQL), and the whole `ipam backup` of PostgreSQL through the binary.
//! Figures in rows per second (every row of the snapshot, audit events and free blocks included).

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod cluster;

use std::process::Command;
use std::time::Instant;

use tfipam::ipam::{AddressFamily, AllocationRequest, NewIpam, NewPool, PoolCidrRequest};
use tfipam::store::{PostgresStore, Snapshot, SqliteOptions, SqliteStore, Store};

const LEVELS: [usize; 2] = [10_000, 50_000];
const SEED_BATCH: usize = 10_000;

fn rows(snapshot: &Snapshot) -> usize {
    let c = snapshot.counts();
    c.ipams
        + c.scopes
        + c.pools
        + c.pool_cidrs
        + c.allocations
        + c.reservations
        + c.cooling_blocks
        + c.audit_events
        + snapshot.free_blocks.len()
}

fn timed<T>(op: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let value = op();
    (value, started.elapsed().as_secs_f64())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let server = cluster::PgCluster::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    println!(
        "PostgreSQL {}, SQLite file; N live /28 allocations in one /8",
        server.version()
    );
    println!("| N | rows | SQLite export | PostgreSQL import | PostgreSQL export | SQLite import | `ipam backup` (PostgreSQL) |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for level in LEVELS {
        let source = dir.path().join(format!("source-{level}.db"));
        let sqlite = SqliteStore::open(&source, SqliteOptions::new("bench")).unwrap();
        let ipam = sqlite.create_ipam(&NewIpam::default()).unwrap();
        let pool = sqlite
            .create_pool(&NewPool::new(
                &ipam.private_default_scope_id,
                AddressFamily::Ipv4,
            ))
            .unwrap();
        sqlite
            .provision_pool_cidr(
                &pool.id,
                PoolCidrRequest::Cidr("10.0.0.0/8".parse().unwrap()),
            )
            .unwrap();
        let mut live = 0;
        while live < level {
            let batch = (level - live).min(SEED_BATCH);
            let request = AllocationRequest {
                pool_id: pool.id.clone(),
                netmask_length: Some(28),
                ..Default::default()
            };
            sqlite.allocate_many(&vec![request; batch]).unwrap();
            live += batch;
        }

        let (snapshot, sqlite_export) = timed(|| sqlite.export_snapshot().unwrap());
        let n = rows(&snapshot) as f64;
        let url = server.create_database();
        let pg = PostgresStore::connect(&url, "bench").unwrap();
        let ((), pg_import) = timed(|| pg.import_snapshot(&snapshot).unwrap());
        let pg = PostgresStore::connect(&url, "bench").unwrap();
        let (exported, pg_export) = timed(|| pg.export_snapshot().unwrap());
        assert_eq!(exported, snapshot);
        let target = dir.path().join(format!("target-{level}.db"));
        let fresh = SqliteStore::open(&target, SqliteOptions::new("bench")).unwrap();
        let ((), sqlite_import) = timed(|| fresh.import_snapshot(&exported).unwrap());
        let backup = dir.path().join(format!("backup-{level}.db"));
        let (status, cli_backup) = timed(|| {
            Command::new(env!("CARGO_BIN_EXE_ipam"))
                .args(["--database", &url, "backup"])
                .arg(&backup)
                .status()
                .unwrap()
        });
        assert!(status.success());
        let rate = |seconds: f64| format!("{seconds:.2} s ({:.0} rows/s)", n / seconds);
        println!(
            "| {level} | {n} | {} | {} | {} | {} | {} |",
            rate(sqlite_export),
            rate(pg_import),
            rate(pg_export),
            rate(sqlite_import),
            rate(cli_backup)
        );
    }
}
