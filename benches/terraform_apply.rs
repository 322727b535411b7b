//! `cargo bench --bench terraform_apply`: what the IPAM provider adds to Terraform's own cost.
//!
//! Applies, at Terraform's default parallelism (10), each in a fresh working directory:
//! - `ipam_allocation`: 1,000 allocations from one pool, plus the IPAM, pool and pool CIDR they
//!   need (3 resources created one after the other first);
//! - `no-op, same shape`: the same apply with the protocol layer's no-op test resource
//!   (`plugintest_thing`) in place of every IPAM resource: 3 chained setup resources, then 1,000
//!   instances that reference the second one and depend on the third, with a per-instance string
//!   like the allocations' description. Terraform's own work (graph, expression evaluation, the
//!   state it rewrites after every resource, which here carries each instance's dependencies) is
//!   the same, so the ratio is what the provider adds: the target (<= 1.2) is against this one;
//! - `no-op, flat`: 1,000 independent no-op instances, nothing else (for reference: Terraform
//!   itself is cheaper on a configuration without references).
//!
//! Prints the median wall time of the rounds (interleaved) and the CPU time Terraform and its
//! provider used (children's user + system), then the ratios. `BENCH_RESOURCES=N` changes the
//! count, `BENCH_ROUNDS=N` the number of rounds.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::ipam::{database, env_number, workdir};
use support::terraform::{self, Mirror, Terraform, Workdir};

/// User + system CPU seconds of this process's waited-for children (and theirs): Terraform and
/// the provider it started. From /proc/self/stat, fields 16 and 17, in clock ticks (100 per s).
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the command name (field 2) may contain spaces: count fields after its closing parenthesis
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // field 3 (state) is fields[0], so field n is fields[n - 3]
    (ticks(16 - 3) + ticks(17 - 3)) / 100.0
}

struct Sample {
    wall: Duration,
    cpu: f64,
}

fn timed_apply(dir: &Workdir) -> Sample {
    let cpu = children_cpu_seconds();
    let start = Instant::now();
    dir.apply().success();
    Sample {
        wall: start.elapsed(),
        cpu: children_cpu_seconds() - cpu,
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn noop_apply(tf: &Terraform, mirror: &Mirror, resources: &str) -> Sample {
    let dir = Workdir::new(tf, mirror);
    dir.write(
        "main.tf",
        &format!(
            "terraform {{\n  required_providers {{\n    plugintest = {{\n      source = \"ipam-rs/plugintest\"\n    }}\n  }}\n}}\n{resources}"
        ),
    );
    dir.init();
    timed_apply(&dir)
}

fn ipam_apply(tf: &Terraform, count: usize) -> Sample {
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
    timed_apply(&dir)
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
    let flat = format!(
        "resource \"plugintest_thing\" \"many\" {{\n  count = {count}\n  name = \"thing-${{count.index}}\"\n}}\n"
    );
    // the allocations' configuration, resource for resource
    let shaped = format!(
        r#"
resource "plugintest_thing" "ipam" {{
  name = "ipam"
}}
resource "plugintest_thing" "pool" {{
  name = plugintest_thing.ipam.id
}}
resource "plugintest_thing" "pool_cidr" {{
  name = plugintest_thing.pool.id
}}
resource "plugintest_thing" "many" {{
  count = {count}
  name = plugintest_thing.pool.id
  value = "bench-${{count.index}}"
  depends_on = [plugintest_thing.pool_cidr]
}}
"#
    );
    let (mut samples_flat, mut samples_shaped, mut samples_ipam) = (vec![], vec![], vec![]);
    for round in 1..=rounds {
        let f = noop_apply(tf, &noop_mirror, &flat);
        let s = noop_apply(tf, &noop_mirror, &shaped);
        let i = ipam_apply(tf, count);
        println!(
            "round {round}: no-op flat {:.2} s, no-op same shape {:.2} s, ipam_allocation {:.2} s",
            f.wall.as_secs_f64(),
            s.wall.as_secs_f64(),
            i.wall.as_secs_f64()
        );
        samples_flat.push(f);
        samples_shaped.push(s);
        samples_ipam.push(i);
    }
    let summary = |samples: &[Sample]| {
        (
            median(samples.iter().map(|s| s.wall.as_secs_f64()).collect()),
            median(samples.iter().map(|s| s.cpu).collect()),
        )
    };
    let (flat_wall, flat_cpu) = summary(&samples_flat);
    let (shaped_wall, shaped_cpu) = summary(&samples_shaped);
    let (ipam_wall, ipam_cpu) = summary(&samples_ipam);
    println!("                      median wall   median CPU (terraform + provider)");
    println!("no-op, flat          : {flat_wall:>8.2} s   {flat_cpu:>8.2} s");
    println!("no-op, same shape    : {shaped_wall:>8.2} s   {shaped_cpu:>8.2} s");
    println!("ipam_allocation      : {ipam_wall:>8.2} s   {ipam_cpu:>8.2} s");
    println!(
        "ratio ipam / no-op same shape: wall {:.2}, CPU {:.2}   (target <= 1.2)",
        ipam_wall / shaped_wall,
        ipam_cpu / shaped_cpu
    );
    println!(
        "ratio ipam / no-op flat      : wall {:.2}, CPU {:.2}   (reference)",
        ipam_wall / flat_wall,
        ipam_cpu / flat_cpu
    );
}
