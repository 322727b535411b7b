//! Allocator and store benchmark: `cargo bench --bench allocator`.
//!
//! Prints, from one run:
//! - the median latency of allocate-next (one committed transaction each) of a /28 into a /8
//!   with N = 1k, 100k and 1M live allocations, and of a /64 into a /32;
//! - the floor: a bare one-row INSERT + COMMIT on the same database file with the same pragmas,
//!   measured interleaved with the allocations;
//! - the ratios allocate / floor (target ≤ 1.5) and latency at 1M / at 1k (target ≤ 1.3);
//! - peak RSS (VmHWM) after 1M live allocations (target < 100 MB);
//! - the fragmentation comparison of best fit and first fit under seeded churn.
//!
//! The live allocations are seeded with `allocate_many` (the same allocator code, 10,000 per
//! transaction): one fsync'ed commit each would take hours.

use std::time::{Duration, Instant};

use ipnet::IpNet;
use rusqlite::{params, Connection, TransactionBehavior};
use tfipam::ipam::{
    churn_fragmentation, AddressFamily, AllocationRequest, FitStrategy, NewIpam, NewPool,
    PoolCidrRequest,
};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

const SAMPLES: usize = 1000;
const RUN: usize = 10;
const COLD_SAMPLES: usize = 200;
const SEED_BATCH: usize = 10_000;
const LEVELS: [usize; 3] = [1_000, 100_000, 1_000_000];

/// `BENCH_MAX_LIVE=100000` stops early (for quick iterations); the default runs every level.
fn live_levels() -> Vec<usize> {
    let max: usize = std::env::var("BENCH_MAX_LIVE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    LEVELS.into_iter().filter(|&n| n <= max).collect()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A connection with the store's pragmas and a one-row table: the cost of any commit.
fn floor_connection(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)",
    )
    .unwrap();
    conn
}

fn bare_commit(conn: &mut Connection, i: usize) -> Duration {
    let started = Instant::now();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    tx.prepare_cached("INSERT INTO bench_floor (payload) VALUES (?1)")
        .unwrap()
        .execute(params![&(i as u128).to_be_bytes()[..]])
        .unwrap();
    tx.commit().unwrap();
    started.elapsed()
}

struct Level {
    live: usize,
    allocate: Duration,
    floor: Duration,
    /// Allocation right after another connection's commit (cold page cache).
    cold: Duration,
}

fn run(label: &str, top: &str, len: u8) -> (Vec<Level>, f64) {
    let dir = tempfile::tempdir_in(
        std::env::var_os("BENCH_DIR").unwrap_or_else(|| std::env::temp_dir().into()),
    )
    .unwrap();
    let path = dir.path().join("bench.db");
    let store = SqliteStore::open(&path, SqliteOptions::new("bench")).unwrap();
    let mut floor = floor_connection(&path);
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let top: IpNet = top.parse().unwrap();
    let pool = store
        .create_pool(&NewPool::new(
            &ipam.private_default_scope_id,
            AddressFamily::of(&top),
        ))
        .unwrap();
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(top))
        .unwrap();
    let request = AllocationRequest {
        pool_id: pool.id.clone(),
        netmask_length: Some(len),
        ..Default::default()
    };
    let mut live = 0;
    let mut levels = Vec::new();
    let mut rss = f64::NAN;
    for target in live_levels() {
        let seeding = Instant::now();
        while live < target {
            let batch = SEED_BATCH.min(target - live);
            store.allocate_many(&vec![request.clone(); batch]).unwrap();
            live += batch;
        }
        let seeded_in = seeding.elapsed();
        // Runs of RUN allocations, then RUN bare commits: both measured at the same time on the
        // same disk. The first operation of a run finds its page cache emptied by the other
        // connection's commit (as after another process's write); the median is the steady state.
        let (mut allocate, mut bare, mut taken) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..SAMPLES / RUN {
            for _ in 0..RUN {
                let started = Instant::now();
                let allocation = store.allocate(&request).unwrap();
                allocate.push(started.elapsed());
                taken.push(allocation.id);
            }
            for i in 0..RUN {
                bare.push(bare_commit(&mut floor, round * RUN + i));
            }
        }
        // strictly alternating: every allocation follows another connection's commit
        let mut cold = Vec::new();
        for i in 0..COLD_SAMPLES {
            bare_commit(&mut floor, SAMPLES + i);
            let started = Instant::now();
            let allocation = store.allocate(&request).unwrap();
            cold.push(started.elapsed());
            taken.push(allocation.id);
        }
        // back to exactly `target` live allocations
        for id in taken {
            store.release_allocation(&id).unwrap();
        }
        let level = Level {
            live: target,
            allocate: median(allocate),
            floor: median(bare),
            cold: median(cold),
        };
        println!(
            "{label:<16} N = {:>9}: allocate-next median {:>9.1?}, bare insert+commit median {:>9.1?}, ratio {:.2}; after another connection's commit {:>9.1?} (seeded in {:.1?})",
            level.live,
            level.allocate,
            level.floor,
            level.allocate.as_secs_f64() / level.floor.as_secs_f64(),
            level.cold,
            seeded_in
        );
        levels.push(level);
        if target == 1_000_000 {
            rss = peak_rss_mb();
        }
    }
    (levels, rss)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse
    println!(
        "== allocate-next latency (one BEGIN IMMEDIATE ... COMMIT each, WAL, synchronous=FULL)"
    );
    let mut summaries = Vec::new();
    for (label, top, len) in [
        ("ipv4 /28 in /8", "10.0.0.0/8", 28u8),
        ("ipv6 /64 in /32", "2001:db8::/32", 64u8),
    ] {
        let (levels, rss) = run(label, top, len);
        summaries.push((label, levels, rss));
    }
    println!();
    println!(
        "== summary (targets: allocate/floor <= 1.5 at every N, 1M/1k <= 1.3, peak RSS < 100 MB)"
    );
    for (label, levels, rss) in &summaries {
        let ratios: Vec<String> = levels
            .iter()
            .map(|l| {
                format!(
                    "{:.2} @{}",
                    l.allocate.as_secs_f64() / l.floor.as_secs_f64(),
                    l.live
                )
            })
            .collect();
        let (first, last) = (&levels[0], &levels[levels.len() - 1]);
        let growth = last.allocate.as_secs_f64() / first.allocate.as_secs_f64();
        // the same growth with the disk's drift between the two phases divided out
        let floor_drift = last.floor.as_secs_f64() / first.floor.as_secs_f64();
        println!(
            "{label:<16} allocate/floor: {}; latency largest N / 1k: {growth:.2} (floor moved {floor_drift:.2}x, so {:.2} net of disk drift); peak RSS after 1M: {rss:.1} MB",
            ratios.join(", "),
            growth / floor_drift
        );
    }
    println!();
    println!("== fragmentation: seeded churn in a /16, /20../28 requests, pool kept ~80% full");
    let (mut best_failed, mut first_failed, mut best_frag, mut first_frag) = (0, 0, 0, 0);
    for seed in 1..=10 {
        let best = churn_fragmentation(FitStrategy::BestFit, seed, 20_000);
        let first = churn_fragmentation(FitStrategy::FirstFit, seed, 20_000);
        println!(
            "seed {seed:>2}: best fit  largest free /{:<2} fragments {:>3} refused {:>4} | first fit largest free /{:<2} fragments {:>3} refused {:>4}",
            best.largest_free_len.unwrap_or(32),
            best.free_fragments,
            best.failed_allocations,
            first.largest_free_len.unwrap_or(32),
            first.free_fragments,
            first.failed_allocations
        );
        best_failed += best.failed_allocations;
        first_failed += first.failed_allocations;
        best_frag += best.free_fragments;
        first_frag += first.free_fragments;
    }
    println!("total: best fit fragments {best_frag}, refused {best_failed}; first fit fragments {first_frag}, refused {first_failed}");
}
