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

/// A data source's list attribute `name` from the outputs of `dir`.
fn output_list(outputs: &serde_json::Value, name: &str) -> Vec<serde_json::Value> {
    outputs[name]["value"]
        .as_array()
        .unwrap_or_else(|| panic!("output {name} is not a list: {outputs}"))
        .clone()
}

#[test]
fn a_saved_plans_reservations_are_seen_by_another_directorys_data_sources_until_applied() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let parent = output_string(&outputs, "parent_id");
        let child = output_string(&outputs, "child_id");
        let planner = workdir(
            tf,
            &db,
            &format!(
                r#"
resource "ipam_allocation" "web" {{
  pool_id = "{parent}"
  name = "web"
  netmask_length = 24
}}

resource "ipam_pool_cidr" "child" {{
  pool_id = "{child}"
  netmask_length = 20
}}
"#
            ),
        );
        planner.init();
        let plan = plan_out(&planner);
        let web = planned_cidrs(&plan, "ipam_allocation")["ipam_allocation.web"];
        let carve = planned_cidrs(&plan, "ipam_pool_cidr")["ipam_pool_cidr.child"];

        let reader = workdir(
            tf,
            &db,
            &format!(
                r#"
data "ipam_pool_allocations" "parent" {{
  pool_id = "{parent}"
}}

data "ipam_pool_cidrs" "parent" {{
  pool_id = "{parent}"
}}

output "reservations" {{
  value = data.ipam_pool_allocations.parent.reservations
}}

output "allocations" {{
  value = data.ipam_pool_allocations.parent.allocations
}}

output "cidrs" {{
  value = data.ipam_pool_cidrs.parent.cidrs
}}
"#
            ),
        );
        reader.init();
        reader.apply().success();
        let seen = reader.outputs();
        let reservations = output_list(&seen, "reservations");
        let by_name: BTreeMap<String, &serde_json::Value> = reservations
            .iter()
            .map(|r| (r["name"].as_str().unwrap_or_default().to_string(), r))
            .collect();
        assert_eq!(by_name.len(), 2, "{seen}");
        let carve_name = format!("pool {child}");
        for (name, planned) in [("web", web), (carve_name.as_str(), carve)] {
            let held = by_name
                .get(name)
                .unwrap_or_else(|| panic!("no reservation {name:?}: {seen}"));
            assert_eq!(held["cidr"], planned.to_string(), "{seen}");
            assert_eq!(held["expired"], false, "{seen}");
            let until = held["expires_at"].as_str().unwrap_or_default();
            let millis = tfipam::store::rfc3339_millis(until)
                .unwrap_or_else(|| panic!("expires_at {until:?} is not RFC 3339"));
            let hours = (millis
                - tfipam::store::rfc3339_millis(&tfipam::store::now_rfc3339()).unwrap())
                / 3_600_000;
            assert!(
                (23..=24).contains(&hours),
                "a day by default: {until} ({hours} h)"
            );
        }
        let cidrs = output_list(&seen, "cidrs");
        assert_eq!(cidrs[0]["reserved_count"], 256 + 4096, "{seen}");
        assert_eq!(cidrs[0]["used_count"], 256 + 4096, "{seen}");
        assert!(output_list(&seen, "allocations").is_empty(), "{seen}");

        // the apply takes the reservations: they become the allocations listed
        apply_saved(&planner).success();
        reader.apply().success();
        let seen = reader.outputs();
        assert!(output_list(&seen, "reservations").is_empty(), "{seen}");
        let mut allocated: Vec<String> = output_list(&seen, "allocations")
            .iter()
            .map(|a| a["cidr"].as_str().unwrap_or_default().to_string())
            .collect();
        allocated.sort();
        let mut expected = vec![web.to_string(), carve.to_string()];
        expected.sort();
        assert_eq!(allocated, expected);
        let cidrs = output_list(&seen, "cidrs");
        assert_eq!(cidrs[0]["reserved_count"], 0, "{seen}");
        assert_eq!(cidrs[0]["used_count"], 256 + 4096, "{seen}");
    }
}

/// One named allocation in `pool` (`extra` goes inside the resource block).
fn named_allocation(pool: &str, name: &str, length: u8, extra: &str) -> String {
    format!(
        r#"
resource "ipam_allocation" "net" {{
  pool_id = "{pool}"
  name = "{name}"
  netmask_length = {length}
{extra}
}}
"#
    )
}

#[test]
fn a_name_planned_by_two_directories_fails_the_second_clearly_once_the_first_applies() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let parent = output_string(&outputs, "parent_id");
        let first = workdir(tf, &db, &named_allocation(&parent, "shared", 24, ""));
        let second = workdir(tf, &db, &named_allocation(&parent, "shared", 24, ""));
        first.init();
        second.init();
        plan_out(&first);
        plan_out(&second);
        apply_saved(&first).success();
        let holder = first.state_show_attribute("ipam_allocation.net", "id");
        // the second directory's apply stops before creating anything, naming the holder
        let failed = apply_saved(&second).failure();
        let text = failed.text().replace('\n', " ");
        for expected in ["\"shared\" is already used by allocation", holder.as_str()] {
            assert!(
                text.contains(expected),
                "{expected:?}: {}",
                failed.describe()
            );
        }
        assert!(
            !text.contains("inconsistent final plan"),
            "{}",
            failed.describe()
        );
        // and from now on its plan fails, at the name
        let failed = second.plan().failure();
        let text = failed.text().replace('\n', " ");
        assert!(text.contains(holder.as_str()), "{}", failed.describe());
        assert!(
            text.contains("choose another name"),
            "{}",
            failed.describe()
        );
        let state = second.show_json();
        assert!(
            state["values"]["root_module"]["resources"].is_null(),
            "nothing created: {state}"
        );
    }
}

#[test]
fn a_named_replacement_with_create_before_destroy_fails_before_any_change_with_advice() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let parent = output_string(&outputs, "parent_id");
        let cbd = "  lifecycle {\n    create_before_destroy = true\n  }";
        let dir = workdir(tf, &db, &named_allocation(&parent, "web", 24, cbd));
        dir.init();
        dir.apply().success();
        let before = dir.state_show_attribute("ipam_allocation.net", "id");
        dir.write("main.tf", &named_allocation(&parent, "web", 25, cbd));
        let failed = dir.apply().failure();
        let text = failed.text().replace('\n', " ");
        for expected in [
            before.as_str(),
            "create_before_destroy",
            "remove create_before_destroy",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?}: {}",
                failed.describe()
            );
        }
        assert_eq!(
            dir.state_show_attribute("ipam_allocation.net", "id"),
            before
        );
        // the advice works: a name that changes with the replacement
        let renamed = "  lifecycle {\n    create_before_destroy = true\n  }";
        dir.write("main.tf", &named_allocation(&parent, "web-25", 25, renamed));
        dir.apply().success();
        dir.assert_no_changes();
    }
}

#[test]
fn named_and_unnamed_allocations_of_one_plan_leave_each_other_room() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let small = output_string(&outputs, "small_id");
        let config = |unnamed: u8, named_first: bool| {
            let (named_deps, unnamed_deps) = if named_first {
                ("", "  depends_on = [ipam_allocation.named]")
            } else {
                ("  depends_on = [ipam_allocation.unnamed]", "")
            };
            format!(
                r#"
resource "ipam_allocation" "unnamed" {{
  count = {unnamed}
  pool_id = "{small}"
  netmask_length = 25
{unnamed_deps}
}}

resource "ipam_allocation" "named" {{
  pool_id = "{small}"
  name = "late"
  netmask_length = 25
{named_deps}
}}
"#
            )
        };
        // two unnamed /25 planned first fill the /24: the named /25 planned after them fails
        let dir = workdir(tf, &db, &config(2, false));
        dir.init();
        let failed = dir.plan().failure();
        let text = failed.text().replace('\n', " ");
        for expected in [
            small.as_str(),
            "without a name planned before it in this run need 256",
            "give those allocations a name",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?}: {}",
                failed.describe()
            );
        }
        // the named one planned first: the second unnamed one fails
        dir.write("main.tf", &config(2, true));
        let failed = dir.plan().failure();
        let text = failed.text().replace('\n', " ");
        assert!(
            text.contains("this allocation and the 1 planned before it in this run need 256"),
            "{}",
            failed.describe()
        );
        // one of each fits, in either order, and the apply gives the planned block
        for named_first in [false, true] {
            dir.write("main.tf", &config(1, named_first));
            let plan = plan_out(&dir);
            let named = plan["planned_values"]["root_module"]["resources"]
                .as_array()
                .expect("planned resources")
                .iter()
                .find(|r| r["address"] == "ipam_allocation.named")
                .cloned()
                .expect("the named allocation is planned");
            let planned = cidr(
                named["values"]["cidr"]
                    .as_str()
                    .expect("the named allocation's cidr at plan"),
            );
            apply_saved(&dir).success();
            let state = state_cidrs(&dir, "ipam_allocation");
            assert_eq!(state["ipam_allocation.named"], planned);
            assert_disjoint(&state.values().copied().collect::<Vec<_>>());
            dir.destroy().success();
        }
    }
}

#[test]
fn two_carves_by_length_of_one_pool_in_one_plan_fail_at_plan() {
    for tf in terraform::all() {
        let (_guard, db, outputs) = base(tf);
        let child = output_string(&outputs, "child_id");
        let dir = workdir(
            tf,
            &db,
            &format!(
                r#"
resource "ipam_pool_cidr" "first" {{
  pool_id = "{child}"
  netmask_length = 20
}}

resource "ipam_pool_cidr" "second" {{
  pool_id = "{child}"
  netmask_length = 20
}}
"#
            ),
        );
        dir.init();
        let failed = dir.plan().failure();
        let text = failed.text().replace('\n', " ");
        for expected in [
            "another ipam_pool_cidr in this plan also carves pool",
            child.as_str(),
            "explicit cidr",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?}: {}",
                failed.describe()
            );
        }
        // one at a time works: the second carve in a later apply
        dir.write(
            "main.tf",
            &format!(
                r#"
resource "ipam_pool_cidr" "first" {{
  pool_id = "{child}"
  netmask_length = 20
}}
"#
            ),
        );
        dir.apply().success();
    }
}
