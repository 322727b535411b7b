//! End-to-end tests of the IPAM provider with the real `terraform` binary: the newest on PATH and
//! the oldest supported (1.0.3). Each test walks what a user does and checks what a user sees.

mod support;

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use ipnet::IpNet;
use support::ipam::{
    assert_disjoint, assert_inside, cidr, complete_example, database, output_string,
    output_strings, workdir, Backend,
};
use support::terraform;

/// An IPAM with one pool holding `pool_cidr`, guardrails `min`..`max` and default `default`.
fn pool_hcl(pool_cidr: &str, min: u8, max: u8, default: u8) -> String {
    let family = if pool_cidr.contains(':') {
        "ipv6"
    } else {
        "ipv4"
    };
    format!(
        r#"
resource "ipam" "test" {{
  description = "end-to-end"
}}

resource "ipam_pool" "test" {{
  scope_id = ipam.test.private_default_scope_id
  address_family = "{family}"
  description = "test pool"
  allocation_min_netmask_length = {min}
  allocation_max_netmask_length = {max}
  allocation_default_netmask_length = {default}
}}

resource "ipam_pool_cidr" "test" {{
  pool_id = ipam_pool.test.id
  cidr = "{pool_cidr}"
}}

output "pool_id" {{
  value = ipam_pool.test.id
}}
"#
    )
}

#[test]
fn complete_example_applies_plans_clean_and_destroys_everything() {
    complete_example_on(Backend::Sqlite);
}

#[test]
fn complete_example_applies_plans_clean_and_destroys_everything_on_postgresql() {
    complete_example_on(Backend::Postgres);
}

fn complete_example_on(backend: Backend) {
    for tf in terraform::all() {
        let (_guard, db) = backend.database();
        let dir = complete_example(tf, &db);
        dir.init();
        dir.apply().success();
        let outputs = dir.outputs();

        let production = &outputs["production_vpcs"]["value"];
        let app = cidr(production["app"].as_str().expect("app cidr"));
        let data = cidr(production["data"].as_str().expect("data cidr"));
        assert_eq!(
            app.prefix_len(),
            20,
            "the production default netmask is /20"
        );
        assert_eq!(data.prefix_len(), 22);
        assert_inside(&[app, data], cidr("10.1.0.0/16"));
        let development: Vec<IpNet> = output_strings(&outputs, "development_vpcs")
            .iter()
            .map(|c| cidr(c))
            .collect();
        assert_eq!(development.len(), 3);
        assert!(development.iter().all(|c| c.prefix_len() == 24));
        assert_inside(&development, cidr("10.2.0.0/16"));
        let ipv6 = &outputs["ipv6"]["value"];
        let mut v6: Vec<IpNet> = ipv6["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .map(|c| cidr(c.as_str().unwrap()))
            .collect();
        assert!(v6.iter().all(|c| c.prefix_len() == 56));
        v6.push(cidr(ipv6["segment"].as_str().expect("segment")));
        assert_inside(&v6, cidr("fd00:ec2:1::/48"));
        let mut all = vec![app, data];
        all.extend(&development);
        all.extend(&v6);
        assert_disjoint(&all);
        let utilization = &outputs["production_utilization"]["value"]["10.1.0.0/16"];
        assert!(
            utilization.as_f64().is_some_and(|u| u > 0.0),
            "production utilization is reported: {outputs}"
        );

        dir.assert_no_changes();
        dir.destroy().success();

        // The database is empty again: no pool is left.
        let check = workdir(
            tf,
            &db,
            r#"
data "ipam_pools" "all" {}
output "count" {
  value = length(data.ipam_pools.all.pools)
}
"#,
        );
        check.init();
        check.apply().success();
        assert_eq!(
            check.outputs()["count"]["value"],
            0,
            "terraform {}",
            tf.version
        );
    }
}

#[test]
fn two_hundred_parallel_allocations_never_overlap() {
    parallel_allocations_on(Backend::Sqlite);
}

#[test]
fn two_hundred_parallel_allocations_never_overlap_on_postgresql() {
    parallel_allocations_on(Backend::Postgres);
}

fn parallel_allocations_on(backend: Backend) {
    for tf in terraform::all() {
        let (_guard, db) = backend.database();
        let main = format!(
            "{}{}",
            pool_hcl("10.20.0.0/16", 16, 28, 24),
            r#"
locals {
  sizes = [24, 26, 27, 28]
}

resource "ipam_allocation" "many" {
  count = 200
  pool_id = ipam_pool.test.id
  netmask_length = local.sizes[count.index % 4]
  description = "many-${count.index}"
  depends_on = [ipam_pool_cidr.test]
}

output "cidrs" {
  value = ipam_allocation.many[*].cidr
}
"#
        );
        let dir = workdir(tf, &db, &main);
        dir.init();
        dir.run([
            "apply",
            "-no-color",
            "-input=false",
            "-auto-approve",
            "-parallelism=20",
        ])
        .success();
        let cidrs: Vec<IpNet> = output_strings(&dir.outputs(), "cidrs")
            .iter()
            .map(|c| cidr(c))
            .collect();
        assert_eq!(cidrs.len(), 200);
        let sizes = [24, 26, 27, 28];
        for (index, c) in cidrs.iter().enumerate() {
            assert_eq!(
                c.prefix_len(),
                sizes[index % 4],
                "allocation {index} is {c}"
            );
        }
        let distinct: HashSet<_> = cidrs.iter().collect();
        assert_eq!(distinct.len(), 200);
        assert_disjoint(&cidrs);
        assert_inside(&cidrs, cidr("10.20.0.0/16"));
        dir.assert_no_changes();
    }
}

#[test]
fn four_working_directories_on_one_database_apply_at_once() {
    working_directories_apply_at_once(Backend::Sqlite, 4);
}

#[test]
fn six_working_directories_on_one_postgresql_database_apply_at_once() {
    working_directories_apply_at_once(Backend::Postgres, 6);
}

/// `count` working directories, 50 allocations each (of /24 + n % 5), applied at once.
fn working_directories_apply_at_once(backend: Backend, count: usize) {
    for tf in terraform::all() {
        let (_guard, db) = backend.database();
        let base = workdir(tf, &db, &pool_hcl("10.30.0.0/16", 16, 28, 26));
        base.init();
        base.apply().success();
        let pool_id = output_string(&base.outputs(), "pool_id");

        let dirs: Vec<_> = (0..count)
            .map(|n| {
                let dir = workdir(
                    tf,
                    &db,
                    &format!(
                        r#"
resource "ipam_allocation" "team" {{
  count = 50
  pool_id = "{pool_id}"
  netmask_length = {}
  description = "team-{n}-${{count.index}}"
}}

output "cidrs" {{
  value = ipam_allocation.team[*].cidr
}}
"#,
                        24 + n % 5
                    ),
                );
                dir.init();
                dir
            })
            .collect();
        std::thread::scope(|scope| {
            for dir in &dirs {
                scope.spawn(move || dir.apply().success());
            }
        });
        let mut cidrs = Vec::new();
        for (n, dir) in dirs.iter().enumerate() {
            let mine: Vec<IpNet> = output_strings(&dir.outputs(), "cidrs")
                .iter()
                .map(|c| cidr(c))
                .collect();
            assert_eq!(mine.len(), 50);
            assert!(mine.iter().all(|c| c.prefix_len() == 24 + (n % 5) as u8));
            cidrs.extend(mine);
        }
        assert_eq!(cidrs.len(), 50 * count);
        assert_disjoint(&cidrs);
        assert_inside(&cidrs, cidr("10.30.0.0/16"));
    }
}

/// The fixture for the plan-time error checks: a pool with guardrails /20–/26 that requires a
/// `Team` tag, one allocation at 10.40.0.0/24, and a nearly full small pool.
const PLAN_ERRORS_BASE: &str = r#"
resource "ipam" "test" {
  description = "plan errors"
}

resource "ipam_pool" "main" {
  scope_id = ipam.test.private_default_scope_id
  address_family = "ipv4"
  allocation_min_netmask_length = 20
  allocation_max_netmask_length = 26
  allocation_default_netmask_length = 24
  allocation_resource_tags = {
    Team = "net"
  }
}

resource "ipam_pool_cidr" "main" {
  pool_id = ipam_pool.main.id
  cidr = "10.40.0.0/16"
}

resource "ipam_allocation" "existing" {
  pool_id = ipam_pool.main.id
  cidr = "10.40.0.0/24"
  tags = {
    Team = "net"
  }
  depends_on = [ipam_pool_cidr.main]
}

resource "ipam_pool" "tiny" {
  scope_id = ipam.test.private_default_scope_id
  address_family = "ipv4"
  allocation_min_netmask_length = 24
  allocation_max_netmask_length = 28
  allocation_default_netmask_length = 26
}

resource "ipam_pool_cidr" "tiny" {
  pool_id = ipam_pool.tiny.id
  cidr = "10.41.0.0/24"
}

resource "ipam_allocation" "tiny_half" {
  pool_id = ipam_pool.tiny.id
  cidr = "10.41.0.0/25"
  depends_on = [ipam_pool_cidr.tiny]
}

resource "ipam_allocation" "tiny_quarter" {
  pool_id = ipam_pool.tiny.id
  cidr = "10.41.0.128/26"
  depends_on = [ipam_pool_cidr.tiny]
}

output "existing_id" {
  value = ipam_allocation.existing.id
}

output "main_pool_id" {
  value = ipam_pool.main.id
}

output "tiny_pool_id" {
  value = ipam_pool.tiny.id
}
"#;

#[test]
fn bad_input_fails_at_plan_naming_the_conflict_and_changes_nothing() {
    plan_errors_on(Backend::Sqlite);
}

#[test]
fn bad_input_fails_at_plan_naming_the_conflict_and_changes_nothing_on_postgresql() {
    plan_errors_on(Backend::Postgres);
}

fn plan_errors_on(backend: Backend) {
    for tf in terraform::all() {
        let (_guard, db) = backend.database();
        let dir = workdir(tf, &db, PLAN_ERRORS_BASE);
        dir.init();
        dir.apply().success();
        let outputs = dir.outputs();
        let existing = output_string(&outputs, "existing_id");
        let main_pool = output_string(&outputs, "main_pool_id");
        let tiny_pool = output_string(&outputs, "tiny_pool_id");

        // (name, the offending resource, what the message must contain)
        let cases: Vec<(&str, String, Vec<String>)> = vec![
            (
                "overlap with an allocation",
                format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"{main_pool}\"\n  cidr = \"10.40.0.128/25\"\n  tags = {{ Team = \"net\" }}\n}}\n"
                ),
                vec![existing.clone(), "10.40.0.0/24".into(), "cidr = \"10.40.0.128/25\"".into()],
            ),
            (
                "outside the pool",
                format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"{main_pool}\"\n  cidr = \"10.99.0.0/24\"\n  tags = {{ Team = \"net\" }}\n}}\n"
                ),
                vec!["10.99.0.0/24".into(), "10.40.0.0/16".into(), "cidr = \"10.99.0.0/24\"".into()],
            ),
            (
                "larger than the guardrails allow",
                format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"{main_pool}\"\n  cidr = \"10.40.64.0/18\"\n  tags = {{ Team = \"net\" }}\n}}\n"
                ),
                vec!["/18".into(), "20".into(), "26".into()],
            ),
            (
                "host bits set",
                format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"{main_pool}\"\n  cidr = \"10.40.1.1/24\"\n  tags = {{ Team = \"net\" }}\n}}\n"
                ),
                vec!["10.40.1.0/24".into(), "cidr = \"10.40.1.1/24\"".into()],
            ),
            (
                "wrong address family",
                format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"{main_pool}\"\n  cidr = \"fd00::/64\"\n  tags = {{ Team = \"net\" }}\n}}\n"
                ),
                vec!["fd00::/64".into(), "ipv4".into()],
            ),
            (
                "netmask length outside the guardrails",
                format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"{main_pool}\"\n  netmask_length = 28\n  tags = {{ Team = \"net\" }}\n}}\n"
                ),
                vec!["/28".into(), "netmask_length = 28".into()],
            ),
            (
                "no free block of that size",
                format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"{tiny_pool}\"\n  netmask_length = 25\n}}\n"
                ),
                vec!["no free /25".into(), "10.41.0.192/26".into(), tiny_pool.clone()],
            ),
            (
                "missing required tag",
                format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"{main_pool}\"\n  netmask_length = 24\n}}\n"
                ),
                vec!["Team".into()],
            ),
            (
                "pool guardrails with min above max",
                "resource \"ipam_pool\" \"bad\" {\n  scope_id = ipam.test.private_default_scope_id\n  address_family = \"ipv4\"\n  allocation_min_netmask_length = 24\n  allocation_max_netmask_length = 16\n}\n".to_string(),
                vec!["allocation_min_netmask_length".into(), "allocation_max_netmask_length".into()],
            ),
        ];

        for (name, resource, expected) in cases {
            dir.write("bad.tf", &resource);
            let run = dir.plan();
            assert_eq!(
                run.code,
                1,
                "terraform {}: `{name}` must fail at plan:\n{}",
                tf.version,
                run.describe()
            );
            let text = run.text().to_lowercase();
            for needle in expected {
                assert!(
                    text.contains(&needle.to_lowercase()),
                    "terraform {}: `{name}`: the error should mention {needle:?}:\n{}",
                    tf.version,
                    run.describe()
                );
            }
            assert!(
                !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
                "no panic reaches the user:\n{}",
                run.describe()
            );
            dir.remove("bad.tf");
        }
        // Nothing was changed by the failed plans.
        dir.assert_no_changes();
        assert_eq!(output_string(&dir.outputs(), "existing_id"), existing);
    }
}

const EVERY_TYPE: &str = r#"
resource "ipam" "org" {
  description = "import me"
  operating_regions = ["eu-west-1", "us-east-1"]
  tags = {
    Owner = "net"
  }
}

resource "ipam_scope" "lab" {
  ipam_id = ipam.org.id
  description = "lab"
  tags = {
    Purpose = "lab"
  }
}

resource "ipam_pool" "top" {
  scope_id = ipam_scope.lab.id
  address_family = "ipv4"
  description = "top"
  locale = "eu-west-1"
  allocation_min_netmask_length = 12
  allocation_max_netmask_length = 28
  tags = {
    Level = "top"
  }
}

resource "ipam_pool_cidr" "top" {
  pool_id = ipam_pool.top.id
  cidr = "10.0.0.0/8"
}

resource "ipam_pool" "child" {
  scope_id = ipam_scope.lab.id
  source_pool_id = ipam_pool.top.id
  address_family = "ipv4"
  locale = "eu-west-1"
  allocation_default_netmask_length = 24
  allocation_resource_tags = {
    Env = "dev"
  }
}

resource "ipam_pool_cidr" "child" {
  pool_id = ipam_pool.child.id
  netmask_length = 16
  depends_on = [ipam_pool_cidr.top]
}

resource "ipam_allocation" "next" {
  pool_id = ipam_pool.child.id
  description = "next"
  disallowed_cidrs = [cidrsubnet(ipam_pool_cidr.child.cidr, 8, 0)]
  tags = {
    Env = "dev"
  }
}

resource "ipam_allocation" "explicit" {
  pool_id = ipam_pool.child.id
  cidr = cidrsubnet(ipam_pool_cidr.child.cidr, 4, 15)
  tags = {
    Env = "dev"
  }
}
"#;

/// The ids of every object of [`EVERY_TYPE`], by address.
const EVERY_TYPE_IDS: &str = r#"
output "ids" {
  value = {
    "ipam.org" = ipam.org.id
    "ipam_scope.lab" = ipam_scope.lab.id
    "ipam_pool.top" = ipam_pool.top.id
    "ipam_pool_cidr.top" = ipam_pool_cidr.top.id
    "ipam_pool.child" = ipam_pool.child.id
    "ipam_pool_cidr.child" = ipam_pool_cidr.child.id
    "ipam_allocation.next" = ipam_allocation.next.id
    "ipam_allocation.explicit" = ipam_allocation.explicit.id
  }
}
"#;

#[test]
fn every_resource_type_imports_and_then_plans_no_changes() {
    imports_on(Backend::Sqlite);
}

#[test]
fn every_resource_type_imports_and_then_plans_no_changes_on_postgresql() {
    imports_on(Backend::Postgres);
}

fn imports_on(backend: Backend) {
    for tf in terraform::all() {
        let (_guard, db) = backend.database();
        let original = workdir(tf, &db, &format!("{EVERY_TYPE}{EVERY_TYPE_IDS}"));
        original.init();
        original.apply().success();
        let ids = original.outputs()["ids"]["value"].clone();
        let next = cidr(&original.state_show_attribute("ipam_allocation.next", "cidr"));
        assert_eq!(next.prefix_len(), 24);

        // without outputs: Terraform 1.0 would plan to add them to the fresh state
        let importer = workdir(tf, &db, EVERY_TYPE);
        importer.init();
        for (address, id) in ids.as_object().expect("ids") {
            importer
                .run([
                    "import",
                    "-no-color",
                    "-input=false",
                    address,
                    id.as_str().unwrap(),
                ])
                .success();
        }
        importer.assert_no_changes();
        assert_eq!(
            cidr(&importer.state_show_attribute("ipam_allocation.next", "cidr")),
            next
        );

        // A made-up id is refused with a clear message.
        importer.write(
            "nothing.tf",
            "resource \"ipam_allocation\" \"nothing\" {\n  pool_id = ipam_pool.child.id\n}\n",
        );
        let run = importer
            .run([
                "import",
                "-no-color",
                "-input=false",
                "ipam_allocation.nothing",
                "ipam-alloc-00000000000000000",
            ])
            .failure();
        assert!(
            run.text()
                .contains("ipam-alloc-00000000000000000 is not in the database"),
            "{}",
            run.describe()
        );
    }
}

#[test]
fn tags_update_in_place_and_a_new_netmask_length_replaces() {
    let config = |tags: &str, description: &str, length: u8| {
        format!(
            "{}\nresource \"ipam_allocation\" \"a\" {{\n  pool_id = ipam_pool.test.id\n  netmask_length = {length}\n  description = \"{description}\"\n  tags = {tags}\n  depends_on = [ipam_pool_cidr.test]\n}}\noutput \"id\" {{\n  value = ipam_allocation.a.id\n}}\noutput \"cidr\" {{\n  value = ipam_allocation.a.cidr\n}}\n",
            pool_hcl("10.50.0.0/16", 16, 28, 24)
        )
    };
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, &config("{ A = \"1\" }", "first", 24));
        dir.init();
        dir.apply().success();
        let before = dir.outputs();

        dir.write("main.tf", &config("{ A = \"2\", B = \"x\" }", "second", 24));
        let plan = dir.plan();
        assert_eq!(plan.code, 2, "{}", plan.describe());
        assert!(
            plan.stdout.contains("update in-place"),
            "{}",
            plan.describe()
        );
        assert!(
            plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{}",
            plan.describe()
        );
        dir.apply().success();
        let after = dir.outputs();
        assert_eq!(
            before["id"], after["id"],
            "an in-place update keeps the allocation"
        );
        assert_eq!(before["cidr"], after["cidr"]);
        let shown = dir.state_show("ipam_allocation.a");
        assert!(
            shown.contains("\"second\"") && shown.contains("\"x\""),
            "{shown}"
        );
        dir.assert_no_changes();

        dir.write("main.tf", &config("{ A = \"2\", B = \"x\" }", "second", 25));
        let plan = dir.plan();
        assert!(
            plan.stdout.contains("must be replaced"),
            "{}",
            plan.describe()
        );
        assert!(
            plan.stdout.contains("1 to add, 0 to change, 1 to destroy"),
            "{}",
            plan.describe()
        );
        dir.apply().success();
        let replaced = dir.outputs();
        assert_ne!(replaced["id"], after["id"]);
        assert_eq!(
            cidr(replaced["cidr"]["value"].as_str().unwrap()).prefix_len(),
            25
        );
    }
}

#[test]
fn an_allocation_released_elsewhere_is_noticed_and_recreated() {
    drift_on(Backend::Sqlite);
}

#[test]
fn an_allocation_released_elsewhere_is_noticed_and_recreated_on_postgresql() {
    drift_on(Backend::Postgres);
}

fn drift_on(backend: Backend) {
    let main = format!(
        "{}{}",
        pool_hcl("10.60.0.0/16", 16, 28, 24),
        r#"
resource "ipam_allocation" "a" {
  pool_id = ipam_pool.test.id
  description = "drifting"
  depends_on = [ipam_pool_cidr.test]
}
output "id" {
  value = ipam_allocation.a.id
}
"#
    );
    for tf in terraform::all() {
        let (_guard, db) = backend.database();
        let dir = workdir(tf, &db, &main);
        dir.init();
        dir.apply().success();
        let outputs = dir.outputs();
        let id = output_string(&outputs, "id");
        let pool_id = output_string(&outputs, "pool_id");

        // Another working directory adopts the allocation and releases it.
        let other = workdir(
            tf,
            &db,
            &format!("resource \"ipam_allocation\" \"a\" {{\n  pool_id = \"{pool_id}\"\n  description = \"drifting\"\n}}\n"),
        );
        other.init();
        other
            .run([
                "import",
                "-no-color",
                "-input=false",
                "ipam_allocation.a",
                &id,
            ])
            .success();
        other.assert_no_changes();

        // A description changed elsewhere shows as drift, to be set back in place.
        other.write(
            "main.tf",
            &format!("resource \"ipam_allocation\" \"a\" {{\n  pool_id = \"{pool_id}\"\n  description = \"changed elsewhere\"\n}}\n"),
        );
        other.apply().success();
        let plan = dir.plan();
        assert_eq!(plan.code, 2, "{}", plan.describe());
        assert!(
            plan.stdout
                .contains("\"changed elsewhere\" -> \"drifting\""),
            "{}",
            plan.describe()
        );
        assert!(
            plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{}",
            plan.describe()
        );

        other.destroy().success();

        let plan = dir.plan();
        assert_eq!(plan.code, 2, "{}", plan.describe());
        assert!(
            plan.stdout.contains("1 to add, 0 to change, 0 to destroy"),
            "{}",
            plan.describe()
        );
        dir.apply().success();
        let recreated = output_string(&dir.outputs(), "id");
        assert_ne!(recreated, id);
        dir.assert_no_changes();
    }
}

#[test]
fn ipv6_pool_hands_out_56s_and_64s() {
    let main = format!(
        "{}{}",
        pool_hcl("2001:db8:1200::/48", 52, 64, 56),
        r#"
resource "ipam_allocation" "site" {
  count = 4
  pool_id = ipam_pool.test.id
  depends_on = [ipam_pool_cidr.test]
}
resource "ipam_allocation" "segment" {
  count = 3
  pool_id = ipam_pool.test.id
  netmask_length = 64
  depends_on = [ipam_pool_cidr.test]
}
output "sites" {
  value = ipam_allocation.site[*].cidr
}
output "segments" {
  value = ipam_allocation.segment[*].cidr
}
"#
    );
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, &main);
        dir.init();
        dir.apply().success();
        let outputs = dir.outputs();
        let sites: Vec<IpNet> = output_strings(&outputs, "sites")
            .iter()
            .map(|c| cidr(c))
            .collect();
        let segments: Vec<IpNet> = output_strings(&outputs, "segments")
            .iter()
            .map(|c| cidr(c))
            .collect();
        assert!(sites.iter().all(|c| c.prefix_len() == 56));
        assert!(segments.iter().all(|c| c.prefix_len() == 64));
        let mut all = sites.clone();
        all.extend(&segments);
        assert_disjoint(&all);
        assert_inside(&all, cidr("2001:db8:1200::/48"));
        dir.assert_no_changes();
    }
}

#[test]
fn data_sources_find_pools_report_usage_and_preview_the_next_cidr() {
    let main = format!(
        "{}{}",
        pool_hcl("10.70.0.0/16", 16, 28, 24),
        r#"
resource "ipam_pool" "tagged" {
  scope_id = ipam.test.private_default_scope_id
  address_family = "ipv4"
  description = "tagged pool"
  locale = "eu-west-1"
  tags = {
    Environment = "Production"
  }
}

resource "ipam_allocation" "first" {
  pool_id = ipam_pool.test.id
  netmask_length = 18
  description = "first"
  tags = {
    Name = "first"
  }
  depends_on = [ipam_pool_cidr.test]
}

data "ipam_pool" "by_tags" {
  tags = {
    Environment = "Production"
  }
  depends_on = [ipam_pool.tagged]
}

data "ipam_pools" "eu" {
  locale = "eu-west-1"
  depends_on = [ipam_pool.tagged]
}

data "ipam_pool_cidrs" "test" {
  pool_id = ipam_pool.test.id
  depends_on = [ipam_allocation.first]
}

data "ipam_pool_allocations" "test" {
  pool_id = ipam_pool.test.id
  depends_on = [ipam_allocation.first]
}

data "ipam_preview_next_cidr" "next" {
  pool_id = ipam_pool.test.id
  netmask_length = 20
  disallowed_cidrs = ["10.70.64.0/20"]
  depends_on = [ipam_allocation.first]
}

output "found" {
  value = data.ipam_pool.by_tags.id
}
output "tagged" {
  value = ipam_pool.tagged.id
}
output "eu" {
  value = [for p in data.ipam_pools.eu.pools : p.id]
}
output "usage" {
  value = data.ipam_pool_cidrs.test.cidrs
}
output "allocations" {
  value = data.ipam_pool_allocations.test.allocations
}
output "first" {
  value = ipam_allocation.first.cidr
}
output "preview" {
  value = data.ipam_preview_next_cidr.next.cidr
}
"#
    );
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, &main);
        dir.init();
        dir.apply().success();
        let outputs = dir.outputs();
        assert_eq!(outputs["found"]["value"], outputs["tagged"]["value"]);
        assert_eq!(
            outputs["eu"]["value"],
            serde_json::json!([outputs["tagged"]["value"]])
        );

        let usage = &outputs["usage"]["value"][0];
        assert_eq!(usage["cidr"], "10.70.0.0/16");
        assert_eq!(usage["total_count"].as_f64(), Some(65536.0), "{usage}");
        assert_eq!(usage["used_count"].as_f64(), Some(16384.0), "{usage}");
        assert_eq!(usage["free_count"].as_f64(), Some(49152.0), "{usage}");
        assert_eq!(usage["utilization_percent"].as_f64(), Some(25.0), "{usage}");

        let allocations = outputs["allocations"]["value"].as_array().expect("a list");
        assert_eq!(allocations.len(), 1);
        assert_eq!(allocations[0]["cidr"], outputs["first"]["value"]);
        assert_eq!(allocations[0]["description"], "first");
        assert_eq!(allocations[0]["tags"]["Name"], "first");

        // The preview skips the disallowed block and reserves nothing: an allocation of the same
        // size made afterwards gets exactly the previewed CIDR.
        let preview = output_string(&outputs, "preview");
        assert_eq!(preview, "10.70.80.0/20");
        dir.write(
            "later.tf",
            "resource \"ipam_allocation\" \"later\" {\n  pool_id = ipam_pool.test.id\n  netmask_length = 20\n  disallowed_cidrs = [\"10.70.64.0/20\"]\n}\noutput \"later\" {\n  value = ipam_allocation.later.cidr\n}\n",
        );
        dir.apply().success();
        assert_eq!(output_string(&dir.outputs(), "later"), preview);

        // Two pools match no filter uniquely: a clear error lists the candidates.
        dir.write(
            "ambiguous.tf",
            "data \"ipam_pool\" \"ambiguous\" {\n  address_family = \"ipv4\"\n}\n",
        );
        let run = dir.plan().failure();
        let text = run.text();
        assert!(
            text.contains(&output_string(&outputs, "tagged")),
            "{}",
            run.describe()
        );
        assert!(
            text.contains(&output_string(&outputs, "pool_id")),
            "{}",
            run.describe()
        );
    }
}

/// `examples/<folder>/<type>/<file>` for every type, in name order: (the type's folder, the text).
fn examples(folder: &str, file: &str) -> Vec<(PathBuf, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(folder);
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("an entry").path())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let text = fs::read_to_string(dir.join(file))
                .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()));
            (dir, text)
        })
        .collect()
}

#[test]
fn resource_examples_apply_and_plan_clean() {
    let tf = terraform::newest();
    let examples = examples("resources", "resource.tf");
    assert_eq!(examples.len(), 5, "one example per resource type");
    for (_, text) in examples {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, &text);
        dir.init();
        dir.apply().success();
        dir.assert_no_changes();
        dir.destroy().success();
    }
}

#[test]
fn data_source_examples_are_valid_configurations() {
    let tf = terraform::newest();
    let examples = examples("data-sources", "data-source.tf");
    assert_eq!(examples.len(), 6, "one example per data source");
    for (example, text) in examples {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, &text);
        dir.init();
        let run = dir.run(["validate", "-no-color"]);
        assert_eq!(run.code, 0, "{}: {}", example.display(), run.describe());
    }
}

#[test]
fn every_change_is_audited_with_the_configured_actor() {
    let tf = terraform::newest();
    let (_guard, db) = database();
    let main = format!(
        "{}{}",
        pool_hcl("10.80.0.0/16", 16, 28, 24),
        "resource \"ipam_allocation\" \"a\" {\n  pool_id = ipam_pool.test.id\n  depends_on = [ipam_pool_cidr.test]\n}\n"
    );
    let mut dir = workdir(tf, &db, &main);
    dir.init();
    dir.apply().success();
    // the provider block names its own actor; it wins over IPAM_ACTOR
    dir.write(
        "versions.tf",
        &support::ipam::PROVIDER_HCL.replace(
            "provider \"ipam\" {}",
            "provider \"ipam\" {\n  actor = \"platform-team\"\n}",
        ),
    );
    dir.set_env("IPAM_ACTOR", "ignored");
    dir.destroy().success();

    use tfipam::store::{SqliteOptions, SqliteStore, Store};
    let store = SqliteStore::open(&db, SqliteOptions::new("reader")).expect("the database opens");
    let events = store.audit_events(0, 1000).expect("audit events");
    let actors: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert!(events.len() >= 8, "{actors:?}");
    let allocate = events
        .iter()
        .find(|e| e.action == "allocate")
        .expect("an allocate event");
    assert_eq!(allocate.actor, "e2e");
    let last = events.last().expect("events");
    assert_eq!(last.actor, "platform-team", "{actors:?}");
    assert!(
        events
            .iter()
            .all(|e| e.actor == "e2e" || e.actor == "platform-team"),
        "{actors:?}"
    );
}

#[test]
fn state_made_on_sqlite_plans_no_changes_after_the_copy_to_postgresql() {
    for tf in terraform::all() {
        let (_guard, file) = Backend::Sqlite.database();
        let allocations = r#"
resource "ipam_pool" "child" {
  scope_id = ipam.test.private_default_scope_id
  address_family = "ipv4"
  source_pool_id = ipam_pool.test.id
}

resource "ipam_pool_cidr" "child" {
  pool_id = ipam_pool.child.id
  netmask_length = 20
  depends_on = [ipam_pool_cidr.test]
}

resource "ipam_allocation" "vpc" {
  count = 5
  pool_id = ipam_pool.child.id
  netmask_length = 24
  depends_on = [ipam_pool_cidr.child]
}
"#;
        let main = format!("{}{allocations}", pool_hcl("10.50.0.0/16", 16, 28, 24));
        let mut dir = workdir(tf, &file, &main);
        dir.init();
        dir.apply().success();

        let (_, url) = Backend::Postgres.database();
        let url = url.display().to_string();
        let copy = |extra: &[&str]| {
            std::process::Command::new(env!("CARGO_BIN_EXE_ipam"))
                .args(["--json", "copy"])
                .arg(&file)
                .arg(&url)
                .args(extra)
                .output()
                .expect("run ipam copy")
        };
        let copied = copy(&["--yes"]);
        assert!(copied.status.success(), "{copied:?}");
        let copied: serde_json::Value = serde_json::from_slice(&copied.stdout).expect("json");
        let counts = &copied["counts"];
        assert_eq!(
            (&counts["ipams"], &counts["pools"], &counts["allocations"]),
            (&1.into(), &2.into(), &6.into())
        );
        assert_eq!(copied["problems"], serde_json::json!([]));
        dir.set_env("IPAM_DATABASE", &url);
        dir.assert_no_changes();

        // the address space goes on on PostgreSQL, next to what was copied
        dir.write("main.tf", &main.replace("count = 5", "count = 7"));
        dir.apply().success();
        dir.assert_no_changes();
        let store: Box<dyn tfipam::store::Store> =
            Box::new(tfipam::store::PostgresStore::connect(&url, "check").expect("connect"));
        assert_eq!(
            store.check_consistency().expect("check"),
            Vec::<String>::new()
        );
        let again = copy(&["--yes"]);
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert_eq!(again.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("is not empty: it holds 1 IPAM(s), 2 pool(s), 8 allocation(s)"),
            "{stderr}"
        );
        assert!(!stderr.contains(support::postgres::PASSWORD), "{stderr}");
    }
}
