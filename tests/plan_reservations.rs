//! End-to-end tests of plans that show the exact CIDR apply gives (named allocations and pool
//! CIDRs carved by length, held by reservations), with the real `terraform` binary: the newest
//! on PATH and the oldest supported (1.0.3).

mod support;

use std::collections::BTreeMap;

use ipnet::IpNet;
use support::ipam::{assert_disjoint, cidr, database, output_string, workdir};
use support::terraform::{self, Terraform, Workdir};

/// An IPAM with a parent pool 10.50.0.0/16 and an empty child pool (guardrails /16–/28).
const BASE: &str = r#"
resource "ipam" "test" {
  description = "plan reservations"
}

resource "ipam_pool" "parent" {
  scope_id = ipam.test.private_default_scope_id
  address_family = "ipv4"
  allocation_min_netmask_length = 16
  allocation_max_netmask_length = 28
}

resource "ipam_pool_cidr" "parent" {
  pool_id = ipam_pool.parent.id
  cidr = "10.50.0.0/16"
}

resource "ipam_pool" "child" {
  scope_id = ipam.test.private_default_scope_id
  address_family = "ipv4"
  source_pool_id = ipam_pool.parent.id
  depends_on = [ipam_pool_cidr.parent]
}

resource "ipam_pool" "small" {
  scope_id = ipam.test.private_default_scope_id
  address_family = "ipv4"
  allocation_min_netmask_length = 24
  allocation_max_netmask_length = 28
}

resource "ipam_pool_cidr" "small" {
  pool_id = ipam_pool.small.id
  cidr = "10.60.0.0/24"
}

output "parent_id" {
  value = ipam_pool.parent.id
}

output "child_id" {
  value = ipam_pool.child.id
}

output "small_id" {
  value = ipam_pool.small.id
}
"#;

/// Applies [`BASE`] on a fresh database; returns the guard, the database path and the outputs.
fn base(tf: &Terraform) -> (tempfile::TempDir, std::path::PathBuf, serde_json::Value) {
    let (guard, db) = database();
    let dir = workdir(tf, &db, BASE);
    dir.init();
    dir.apply().success();
    let outputs = dir.outputs();
    (guard, db, outputs)
}

/// `terraform plan -out=tfplan` and the saved plan as JSON.
fn plan_out(dir: &Workdir) -> serde_json::Value {
    dir.run(["plan", "-no-color", "-input=false", "-out=tfplan"])
        .success();
    let shown = dir.run(["show", "-json", "-no-color", "tfplan"]).success();
    serde_json::from_str(&shown.stdout).expect("terraform show -json prints JSON")
}

/// `terraform apply tfplan`.
fn apply_saved(dir: &Workdir) -> support::terraform::Run {
    dir.run(["apply", "-no-color", "-input=false", "tfplan"])
}

/// The `cidr` of every planned resource of `kind`, by address; panics when one is unknown.
fn planned_cidrs(plan: &serde_json::Value, kind: &str) -> BTreeMap<String, IpNet> {
    plan["planned_values"]["root_module"]["resources"]
        .as_array()
        .expect("planned resources")
        .iter()
        .filter(|r| r["type"] == kind)
        .map(|r| {
            let address = r["address"].as_str().unwrap_or_default().to_string();
            let text = r["values"]["cidr"]
                .as_str()
                .unwrap_or_else(|| panic!("{address}: cidr is not known at plan: {r}"));
            (address, cidr(text))
        })
        .collect()
}

/// The `cidr` of every resource of `kind` in the state, by address.
fn state_cidrs(dir: &Workdir, kind: &str) -> BTreeMap<String, IpNet> {
    dir.show_json()["values"]["root_module"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| r["type"] == kind)
        .map(|r| {
            (
                r["address"].as_str().unwrap_or_default().to_string(),
                cidr(r["values"]["cidr"].as_str().unwrap_or_default()),
            )
        })
        .collect()
}

#[test]
fn fifty_named_allocations_plan_their_exact_cidrs_and_apply_gives_them() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let parent = output_string(&outputs, "parent_id");
        let child = output_string(&outputs, "child_id");
        let dir = workdir(
            tf,
            &db,
            &format!(
                r#"
resource "ipam_allocation" "app" {{
  count = 50
  pool_id = "{parent}"
  name = "app-${{count.index}}"
  netmask_length = 24 + count.index % 3
}}

resource "ipam_pool_cidr" "child" {{
  pool_id = "{child}"
  netmask_length = 20
}}

output "subnets" {{
  value = cidrsubnets(ipam_allocation.app[0].cidr, 4, 4)
}}
"#
            ),
        );
        dir.init();
        let plan = plan_out(&dir);
        let allocations = planned_cidrs(&plan, "ipam_allocation");
        assert_eq!(allocations.len(), 50, "{}", tf.version);
        let carved = planned_cidrs(&plan, "ipam_pool_cidr");
        assert_eq!(carved.len(), 1);
        let mut all: Vec<IpNet> = allocations.values().copied().collect();
        all.extend(carved.values().copied());
        assert_disjoint(&all);
        for (address, net) in &allocations {
            let index: u8 = address
                .trim_start_matches("ipam_allocation.app[")
                .trim_end_matches(']')
                .parse()
                .expect("count index");
            assert_eq!(net.prefix_len(), 24 + index % 3, "{address}");
        }
        // downstream values are known at plan too
        let subnets = &plan["planned_values"]["outputs"]["subnets"]["value"];
        let first = allocations["ipam_allocation.app[0]"];
        let expected: Vec<String> = first
            .subnets(first.prefix_len() + 4)
            .expect("subnets")
            .take(2)
            .map(|n| n.to_string())
            .collect();
        assert_eq!(subnets, &serde_json::json!(expected), "{plan}");

        // planning again before apply shows the same CIDRs
        let again = plan_out(&dir);
        assert_eq!(planned_cidrs(&again, "ipam_allocation"), allocations);
        assert_eq!(planned_cidrs(&again, "ipam_pool_cidr"), carved);

        apply_saved(&dir).success();
        assert_eq!(state_cidrs(&dir, "ipam_allocation"), allocations);
        assert_eq!(state_cidrs(&dir, "ipam_pool_cidr"), carved);
        dir.assert_no_changes();
    }
}

#[test]
fn two_directories_plan_at_once_and_apply_in_the_opposite_order() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let parent = output_string(&outputs, "parent_id");
        let dirs: Vec<Workdir> = ["blue", "green"]
            .iter()
            .map(|team| {
                let dir = workdir(
                    tf,
                    &db,
                    &format!(
                        r#"
resource "ipam_allocation" "net" {{
  for_each = toset(["a", "b", "c"])
  pool_id = "{parent}"
  name = "{team}-${{each.key}}"
  netmask_length = 22
}}
"#
                    ),
                );
                dir.init();
                dir
            })
            .collect();
        let plans: Vec<BTreeMap<String, IpNet>> = std::thread::scope(|scope| {
            let handles: Vec<_> = dirs
                .iter()
                .map(|dir| scope.spawn(move || planned_cidrs(&plan_out(dir), "ipam_allocation")))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let all: Vec<IpNet> = plans.iter().flat_map(|p| p.values().copied()).collect();
        assert_eq!(all.len(), 6);
        assert_disjoint(&all);
        for (dir, planned) in dirs.iter().zip(&plans).rev() {
            apply_saved(dir).success();
            assert_eq!(&state_cidrs(dir, "ipam_allocation"), planned);
        }
    }
}

#[test]
fn a_stale_plan_fails_clearly_and_an_abandoned_plan_frees_its_space() {
    const TTL_SECONDS: u64 = 10;
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let small = output_string(&outputs, "small_id");
        let named = |name: &str| {
            let mut dir = workdir(
                tf,
                &db,
                &format!(
                    r#"
resource "ipam_allocation" "whole" {{
  pool_id = "{small}"
  name = "{name}"
  netmask_length = 24
}}
"#
                ),
            );
            // long enough for the refused apply below to run within it on a loaded machine
            dir.set_env("IPAM_PLAN_RESERVATION_SECONDS", TTL_SECONDS.to_string());
            dir.init();
            dir
        };
        let unnamed = workdir(
            tf,
            &db,
            &format!(
                r#"
resource "ipam_allocation" "whole" {{
  pool_id = "{small}"
  netmask_length = 24
}}
"#
            ),
        );
        unnamed.init();

        // while the reservation holds the whole pool, nothing else fits
        let stale = named("stale");
        let plan = plan_out(&stale);
        assert_eq!(
            planned_cidrs(&plan, "ipam_allocation")["ipam_allocation.whole"],
            cidr("10.60.0.0/24")
        );
        let refused = unnamed.apply().failure();
        let refused_text = refused.text().to_lowercase();
        assert!(
            refused_text.contains("no free /24"),
            "{}",
            refused.describe()
        );

        // past its expiry the space goes to another directory; the stale plan says so
        std::thread::sleep(std::time::Duration::from_secs(TTL_SECONDS + 1));
        unnamed.apply().success();
        let holder = unnamed.state_show_attribute("ipam_allocation.whole", "id");
        let failed = apply_saved(&stale).failure();
        let text = failed.text().replace('\n', " ");
        for expected in ["10.60.0.0/24", holder.as_str(), "run terraform plan again"] {
            assert!(
                text.contains(expected),
                "{expected:?} missing:\n{}",
                failed.describe()
            );
        }
        assert!(
            !text.contains("inconsistent final plan"),
            "{}",
            failed.describe()
        );
        unnamed.destroy().success();

        // a plan abandoned: its space is free again after the expiry
        let abandoned = named("abandoned");
        plan_out(&abandoned);
        std::thread::sleep(std::time::Duration::from_secs(TTL_SECONDS + 1));
        unnamed.apply().success();
        assert_eq!(
            unnamed.state_show_attribute("ipam_allocation.whole", "cidr"),
            "10.60.0.0/24"
        );
    }
}

#[test]
fn named_allocations_that_cannot_all_fit_fail_at_plan_naming_the_largest_free_block() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let small = output_string(&outputs, "small_id");
        let quarter = workdir(
            tf,
            &db,
            &format!(
                r#"
resource "ipam_allocation" "quarter" {{
  pool_id = "{small}"
  name = "quarter"
  netmask_length = 26
}}
"#
            ),
        );
        quarter.init();
        quarter.apply().success();
        let dir = workdir(
            tf,
            &db,
            &format!(
                r#"
resource "ipam_allocation" "half" {{
  count = 2
  pool_id = "{small}"
  name = "half-${{count.index}}"
  netmask_length = 25
}}
"#
            ),
        );
        dir.init();
        let failed = dir.plan().failure();
        let text = failed.text().replace('\n', " ").to_lowercase();
        assert!(text.contains(&small), "{}", failed.describe());
        assert!(text.contains("no free /25"), "{}", failed.describe());
        assert!(
            text.contains("largest free block is /26 (10.60.0.64/26)"),
            "{}",
            failed.describe()
        );
    }
}

#[test]
fn a_new_length_plans_the_exact_replacement_cidr() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let parent = output_string(&outputs, "parent_id");
        let config = |len: u8| {
            format!(
                r#"
resource "ipam_allocation" "web" {{
  pool_id = "{parent}"
  name = "web"
  netmask_length = {len}
}}
"#
            )
        };
        let dir = workdir(tf, &db, &config(24));
        dir.init();
        dir.apply().success();
        let before = state_cidrs(&dir, "ipam_allocation")["ipam_allocation.web"];
        dir.write("main.tf", &config(25));
        let plan = plan_out(&dir);
        let planned = planned_cidrs(&plan, "ipam_allocation")["ipam_allocation.web"];
        assert_eq!(planned.prefix_len(), 25);
        assert!(!planned.contains(&before.network()), "{planned} {before}");
        apply_saved(&dir).success();
        assert_eq!(
            state_cidrs(&dir, "ipam_allocation")["ipam_allocation.web"],
            planned
        );
        dir.assert_no_changes();
    }
}
