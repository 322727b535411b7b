//! `cargo bench --bench terraform_apply`: what the IPAM provider adds to Terraform's own cost.
//!
//! Applies 1,000 `ipam_allocation` resources at the default parallelism (10) and, in the same run,
//! 1,000 instances of the protocol layer's no-op test resource (`plugintest_thing`), each in a
//! fresh working directory, and prints the wall times and their ratio (target: <= 1.2).
//! `BENCH_RESOURCES=N` changes the count, `BENCH_ROUNDS=N` the number of rounds (median taken).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::ipam::{database, workdir};
use support::terraform::{self, Mirror, Workdir};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn timed_apply(dir: &Workdir) -> Duration {
    let start = Instant::now();
    dir.apply().success();
    start.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let count = env_number("BENCH_RESOURCES", 1000);
    let rounds = env_number("BENCH_ROUNDS", 3);
    let tf = terraform::newest();
    println!(
        "terraform {} apply of {count} resources, default parallelism, median of {rounds} rounds",
        tf.version
    );

    let noop_mirror = Mirror::new(
        Path::new(env!("CARGO_BIN_EXE_terraform-provider-plugintest")),
        "ipam-rs",
        "plugintest",
    );
    let mut noop = Vec::new();
    let mut ipam = Vec::new();
    for _ in 0..rounds {
        let dir = Workdir::new(tf, &noop_mirror);
        dir.write(
            "main.tf",
            &format!(
                "terraform {{\n  required_providers {{\n    plugintest = {{\n      source = \"ipam-rs/plugintest\"\n    }}\n  }}\n}}\nresource \"plugintest_thing\" \"many\" {{\n  count = {count}\n  name = \"thing-${{count.index}}\"\n}}\n"
            ),
        );
        dir.init();
        noop.push(timed_apply(&dir));

        let (_guard, db) = database();
        let dir = workdir(
            tf,
            &db,
            &format!(
                r#"
resource "ipam" "bench" {{}}
resource "ipam_pool" "bench" {{
  scope_id = ipam.bench.private_default_scope_id
  address_family = "ipv4"
  allocation_default_netmask_length = 28
}}
resource "ipam_pool_cidr" "bench" {{
  pool_id = ipam_pool.bench.id
  cidr = "10.0.0.0/8"
}}
resource "ipam_allocation" "many" {{
  count = {count}
  pool_id = ipam_pool.bench.id
  description = "bench-${{count.index}}"
  depends_on = [ipam_pool_cidr.bench]
}}
"#
            ),
        );
        dir.init();
        ipam.push(timed_apply(&dir));
    }
    let noop = median(noop);
    let ipam = median(ipam);
    println!("no-op test resource : {:>8.2} s", noop.as_secs_f64());
    println!(
        "ipam_allocation     : {:>8.2} s (+3 setup resources)",
        ipam.as_secs_f64()
    );
    println!(
        "ratio ipam / no-op  : {:>8.2}   (target <= 1.2)",
        ipam.as_secs_f64() / noop.as_secs_f64()
    );
}
