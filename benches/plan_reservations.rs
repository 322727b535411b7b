//! `cargo bench --bench plan_reservations`: what plans that show exact CIDRs cost.
//!
//! One pool (10.0.0.0/8), then, each in a fresh working directory on that database, one
//! `terraform plan` of `BENCH_RESOURCES` (default 500) `ipam_allocation`s of a /24: named
//! (`name = "app-${count.index}"`: every plan reserves its block, a write transaction per
//! allocation) against unnamed (a preview in a read transaction, `cidr` known after apply).
//! The rounds alternate (`BENCH_ROUNDS`, default 1); prints each plan's wall time and the
//! ratio named / unnamed (target <= 1.3).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use support::ipam::{database, env_number, output_string, workdir};
use support::terraform;

const POOL: &str = r#"
resource "ipam" "bench" {
  description = "plan bench"
}

resource "ipam_pool" "bench" {
  scope_id = ipam.bench.private_default_scope_id
  address_family = "ipv4"
}

resource "ipam_pool_cidr" "bench" {
  pool_id = ipam_pool.bench.id
  cidr = "10.0.0.0/8"
}

output "pool_id" {
  value = ipam_pool.bench.id
}
"#;

fn main() {
    let count = env_number("BENCH_RESOURCES", 500);
    let rounds = env_number("BENCH_ROUNDS", 1);
    let tf = terraform::newest();
    let (_guard, db) = database();
    let base = workdir(tf, &db, POOL);
    base.init();
    base.apply().success();
    let pool_id = output_string(&base.outputs(), "pool_id");
    let config = |name: &str| {
        format!(
            r#"
resource "ipam_allocation" "app" {{
  count = {count}
  pool_id = "{pool_id}"
  netmask_length = 24
  {name}
}}
"#
        )
    };
    let (mut named_total, mut unnamed_total) = (0.0, 0.0);
    for round in 0..rounds {
        for (label, name) in [
            ("unnamed", String::new()),
            ("named", format!("name = \"r{round}-app-${{count.index}}\"")),
        ] {
            let dir = workdir(tf, &db, &config(&name));
            dir.init();
            let start = Instant::now();
            dir.run(["plan", "-no-color", "-input=false", "-out=tfplan"])
                .success();
            let seconds = start.elapsed().as_secs_f64();
            println!(
                "terraform {} plan of {count} {label} allocations: {seconds:.2} s",
                tf.version
            );
            if label == "named" {
                named_total += seconds;
            } else {
                unnamed_total += seconds;
            }
        }
    }
    println!(
        "ratio named / unnamed: {:.2} (target <= 1.3)",
        named_total / unnamed_total
    );
}
