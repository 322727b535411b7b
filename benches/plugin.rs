//! Protocol-layer benchmark: `cargo bench --bench plugin`.
//!
//! 1. Round trip of a small PlanResourceChange over the real transport (unix socket + mTLS,
//!    handshake once): p50 / p99 over many sequential calls. Target: p50 < 1 ms.
//! 2. Wall time of `terraform plan -parallelism=1` over 100 `plugintest_thing` resources
//!    (provider start, handshake, schema, 100 upgrade/read/plan round trips). Target: < 1.5 s.

#[allow(dead_code)]
#[path = "../tests/support/grpc.rs"]
mod grpc;
#[allow(dead_code)]
#[path = "../tests/support/terraform.rs"]
mod terraform;

use std::time::{Duration, Instant};

use grpc::{dynamic, plugintest_binary, Launch, Plugin};
use tfipam::plugin::proto::tfplugin6 as pb;
use tfipam::plugin::{Type, Value};

fn thing_type() -> Type {
    Type::object([
        ("id", Type::String),
        ("name", Type::String),
        ("value", Type::String),
        ("tags", Type::map(Type::String)),
        (
            "settings",
            Type::object([("size", Type::Number), ("enabled", Type::Bool)]),
        ),
    ])
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn plan_round_trips(calls: usize) {
    let mut plugin = Plugin::start(plugintest_binary(), Launch::default()).await;
    let proposed = Value::object([
        ("id", Value::Null),
        ("name", Value::string("bench")),
        ("value", Value::string("v")),
        ("tags", Value::string_map([("Name", "bench")])),
        ("settings", Value::Null),
    ]);
    let request = pb::plan_resource_change::Request {
        type_name: "plugintest_thing".into(),
        prior_state: Some(dynamic(&Value::Null, &thing_type())),
        proposed_new_state: Some(dynamic(&proposed, &thing_type())),
        config: Some(dynamic(&proposed, &thing_type())),
        ..Default::default()
    };
    for _ in 0..200 {
        plugin
            .provider
            .plan_resource_change(request.clone())
            .await
            .expect("warm-up call");
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let response = plugin
            .provider
            .plan_resource_change(request.clone())
            .await
            .expect("call");
        samples.push(started.elapsed());
        assert!(response.into_inner().diagnostics.is_empty());
    }
    samples.sort();
    let p50 = percentile(&samples, 0.50);
    let p99 = percentile(&samples, 0.99);
    println!("PlanResourceChange round trip over unix socket + mTLS, {calls} sequential calls:");
    println!(
        "  p50 {:.3} ms   p99 {:.3} ms   min {:.3} ms   max {:.3} ms",
        millis(p50),
        millis(p99),
        millis(samples[0]),
        millis(samples[samples.len() - 1])
    );
    println!(
        "  target p50 < 1 ms: ratio {:.2} of target ({})",
        millis(p50) / 1.0,
        verdict(millis(p50) < 1.0)
    );
    plugin.shutdown().await;
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn terraform_plan_100() {
    let mirror = terraform::Mirror::new(plugintest_binary(), "test", "plugintest");
    for tf in terraform::all() {
        let workdir = terraform::Workdir::new(tf, &mirror);
        workdir.write(
            "main.tf",
            r#"
terraform {
  required_providers {
    plugintest = { source = "test/plugintest" }
  }
}
resource "plugintest_thing" "many" {
  count    = 100
  name     = "thing-${count.index}"
  value    = "v"
  tags     = { Index = tostring(count.index) }
  settings = { size = count.index, enabled = true }
}
"#,
        );
        workdir.init();
        workdir.apply().success();
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let run = workdir.run([
                "plan",
                "-no-color",
                "-input=false",
                "-detailed-exitcode",
                "-parallelism=1",
            ]);
            times.push(started.elapsed());
            assert_eq!(run.code, 0, "{}", run.describe());
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "terraform {} plan -parallelism=1, 100 plugintest_thing (5 runs): median {:.3} s, min {:.3} s",
            tf.version,
            median.as_secs_f64(),
            times[0].as_secs_f64()
        );
        println!(
            "  target < 1.5 s: ratio {:.2} of target ({})",
            median.as_secs_f64() / 1.5,
            verdict(median.as_secs_f64() < 1.5)
        );
    }
}

fn main() {
    let calls: usize = std::env::var("PLUGIN_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(plan_round_trips(calls));
    terraform_plan_100();
}
