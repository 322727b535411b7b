//! PostgreSQL backend benchmark: `cargo bench --bench postgres`.
//!
//! On one throw-away local server (tests/support/postgres.rs; fsync and synchronous commit on,
//! as shipped), in one run:
//! - the median latency of allocate-next (a /28 into a /8, one committed transaction each)
//!   with N = 1k and 100k live allocations, against the floor: a bare one-row
//!   `INSERT … COMMIT` (autocommit) on the same server, measured interleaved; target ratio
//!   ≤ 1.5 and flat in N;
//! - throughput with 8 concurrent clients (each its own store and connection) into one pool
//!   and into 8 pools, in allocations per second;
//! - the same throughput on SQLite (one file, 8 stores) beside them.
//!
//! The live allocations are seeded with `allocate_many` (1,000 per transaction: inside one
//! transaction the free blocks it deleted stay in the best-fit index until it ends, so a
//! larger batch makes each of its look-ups slower). Each level is measured three times: right
//! after seeding, again after a `VACUUM (ANALYZE)` of the database, which is what autovacuum
//! does to a live one (a real database is not read just after a bulk load), and again after a
//! `REINDEX` of `free_blocks`, which nothing does by itself: the first shows what the seed's
//! dead index entries cost, the second the steady state, the third what giving the free-block
//! indexes their pages back would buy (VACUUM empties index pages but never returns them, and
//! the planner prices an index scan by the index's pages per live row).
//!
//! Beside each latency line, where the server's time goes: `pg_stat_statements` (loaded by the
//! bench's server) over the allocation samples, each statement's executions per allocation
//! and mean execution time, so that a statement whose cost grows with N shows; and the round
//! trips per allocation, counted by the backend (`PostgresBackend::round_trips`).

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod cluster;

use std::time::{Duration, Instant};

use tfipam::ipam::{AddressFamily, AllocationRequest, NewIpam, NewPool, PoolCidrRequest};
use tfipam::store::{PostgresStore, SqliteOptions, SqliteStore, Store};

const SAMPLES: usize = 500;
const SEED_BATCH: usize = 1_000;
const LEVELS: [usize; 2] = [1_000, 100_000];
const CLIENTS: usize = 8;
const PER_CLIENT: usize = 150;

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// An IPAM and `count` IPv4 pools, pool `i` holding `10.i.0.0/16` (or `10.0.0.0/8` alone).
fn pools(store: &dyn Store, count: usize) -> Vec<String> {
    let ipam = store
        .create_ipam(&NewIpam {
            description: "bench".into(),
            operating_regions: vec![],
            tags: Default::default(),
        })
        .unwrap();
    (0..count)
        .map(|i| {
            let pool = store
                .create_pool(&NewPool {
                    scope_id: ipam.private_default_scope_id.clone(),
                    source_pool_id: None,
                    address_family: AddressFamily::Ipv4,
                    locale: None,
                    description: String::new(),
                    netmask: Default::default(),
                    allocation_resource_tags: Default::default(),
                    auto_import: false,
                    publicly_advertisable: false,
                    tags: Default::default(),
                    utilization_warning_threshold: None,
                    release_cooldown: None,
                })
                .unwrap();
            let cidr = if count == 1 {
                "10.0.0.0/8".to_string()
            } else {
                format!("10.{i}.0.0/16")
            };
            store
                .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(cidr.parse().unwrap()))
                .unwrap();
            pool.id
        })
        .collect()
}

fn request(pool: &str, len: u8) -> AllocationRequest {
    AllocationRequest {
        pool_id: pool.to_string(),
        netmask_length: Some(len),
        ..Default::default()
    }
}

/// `CLIENTS` threads, each with its own store from `open`, allocating `PER_CLIENT` /28s into
/// pool `i % pools.len()`: allocations per second.
fn throughput(open: &(dyn Fn() -> Box<dyn Store> + Sync), pools: &[String]) -> f64 {
    let stores: Vec<Box<dyn Store>> = (0..CLIENTS).map(|_| open()).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (i, store) in stores.iter().enumerate() {
            let pool = &pools[i % pools.len()];
            scope.spawn(move || {
                for _ in 0..PER_CLIENT {
                    store.allocate(&request(pool, 28)).expect("allocate");
                }
            });
        }
    });
    (CLIENTS * PER_CLIENT) as f64 / started.elapsed().as_secs_f64()
}

/// The statements run during the samples (the floor's insert among them), most total time
/// first: a table row each.
fn statements(admin: &mut postgres::Client) -> Vec<String> {
    admin
        .query(
            "SELECT regexp_replace(query, '\\s+', ' ', 'g'), calls, mean_exec_time \
             FROM pg_stat_statements WHERE calls >= $1 AND query NOT LIKE '%pg_stat_statements%' \
             ORDER BY total_exec_time DESC",
            &[&(SAMPLES as i64 / 2)],
        )
        .unwrap()
        .iter()
        .map(|row| {
            let query: String = row.get(0);
            let calls: i64 = row.get(1);
            let mean: f64 = row.get(2);
            let short: String = query.chars().take(90).collect();
            format!(
                "| `{short}` | {:.2} | {:.0} µs |",
                calls as f64 / SAMPLES as f64,
                mean * 1000.0
            )
        })
        .collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let server = cluster::PgCluster::start(&["shared_preload_libraries=pg_stat_statements"]);
    let url = server.create_database();
    let store = PostgresStore::connect(&url, "bench").expect("connect");
    let pool = pools(&store, 1).remove(0);
    let mut floor = server.admin(url.rsplit('/').next().unwrap().split('?').next().unwrap());
    floor
        .batch_execute(
            "CREATE TABLE floor (id bigserial PRIMARY KEY, v bigint NOT NULL); \
             CREATE EXTENSION pg_stat_statements",
        )
        .unwrap();
    let mut statistics = Vec::new();
    let insert = floor.prepare("INSERT INTO floor (v) VALUES ($1)").unwrap();

    println!(
        "PostgreSQL {}: allocate-next of a /28 into a /8 (median of {SAMPLES})",
        server.version()
    );
    println!(
        "| N live | tables | allocate-next | floor (INSERT … COMMIT) | allocate / floor | round trips |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut live = 0;
    for level in LEVELS {
        while live < level {
            let batch = (level - live).min(SEED_BATCH);
            let requests: Vec<_> = (0..batch).map(|_| request(&pool, 28)).collect();
            store.allocate_many(&requests).expect("seed");
            live += batch;
        }
        // first right after seeding (the dead index entries of the seed's free-block churn
        // still there), then after what autovacuum does to a live database, then with the
        // free-block indexes rebuilt (what nothing does by itself): the same level
        for tables in ["as seeded", "vacuumed", "reindexed"] {
            match tables {
                "vacuumed" => floor.batch_execute("VACUUM (ANALYZE)").unwrap(),
                "reindexed" => floor
                    .batch_execute("REINDEX TABLE ipam.free_blocks; ANALYZE ipam.free_blocks")
                    .unwrap(),
                _ => {}
            }
            let mut allocations = Vec::with_capacity(SAMPLES);
            let mut floors = Vec::with_capacity(SAMPLES);
            let mut ids = Vec::with_capacity(SAMPLES);
            floor
                .batch_execute("SELECT pg_stat_statements_reset()")
                .unwrap();
            let trips = store.backend().round_trips();
            for i in 0..SAMPLES {
                let started = Instant::now();
                ids.push(store.allocate(&request(&pool, 28)).expect("allocate").id);
                allocations.push(started.elapsed());
                let started = Instant::now();
                floor.execute(&insert, &[&(i as i64)]).unwrap();
                floors.push(started.elapsed());
            }
            let trips = (store.backend().round_trips() - trips) as f64 / SAMPLES as f64;
            statistics.push((level, tables, statements(&mut floor)));
            // back to `level` live allocations
            for id in ids {
                store.release_allocation(&id).expect("release");
            }
            let (a, f) = (median(allocations), median(floors));
            println!(
                "| {level} | {tables} | {:.0} µs | {:.0} µs | {:.2} | {trips:.2} |",
                micros(a),
                micros(f),
                a.as_secs_f64() / f.as_secs_f64()
            );
        }
    }

    for (level, tables, lines) in statistics {
        println!();
        println!(
            "Server time per statement during the samples at N = {level}, {tables} \
             (pg_stat_statements)"
        );
        println!("| statement | per allocation | mean |");
        println!("| --- | --- | --- |");
        for line in lines {
            println!("{line}");
        }
    }

    println!();
    println!("Throughput: {CLIENTS} clients × {PER_CLIENT} allocations of a /28");
    println!("| backend | into one pool | into 8 pools |");
    println!("| --- | --- | --- |");
    let pg_open = || -> Box<dyn Store> { Box::new(PostgresStore::connect(&url, "bench").unwrap()) };
    let one = pools(&store, 1);
    let eight = pools(&store, 8);
    println!(
        "| PostgreSQL | {:.0} /s | {:.0} /s |",
        throughput(&pg_open, &one),
        throughput(&pg_open, &eight)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipam.db");
    let sqlite = SqliteStore::open(&path, SqliteOptions::new("bench")).unwrap();
    let sqlite_open = || -> Box<dyn Store> {
        Box::new(SqliteStore::open(&path, SqliteOptions::new("bench")).unwrap())
    };
    let one = pools(&sqlite, 1);
    let eight = pools(&sqlite, 8);
    println!(
        "| SQLite (same machine, one file) | {:.0} /s | {:.0} /s |",
        throughput(&sqlite_open, &one),
        throughput(&sqlite_open, &eight)
    );
}
