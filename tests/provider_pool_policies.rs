//! Pool policies with the real `terraform` binaries.
//! - Operating regions and locales: a pool's locale must be an operating region of its IPAM and
//!   its source pool's locale, allocations and previews asking for a locale are refused from a
//!   pool of another one, and a region that pools use cannot be dropped. Every refusal happens
//!   at plan and names what is allowed.
//! - Utilization warnings: a plan whose allocation pushes a pool past its threshold says so.
//! - Release cooldown: strict and soft pools through real applies, a short cooldown waited out.
//! - Generated IPv6 ULA prefixes: distinct valid prefixes that survive plan, apply and import.

mod support;

use support::ipam::{database, output_string, output_strings, workdir};
use support::terraform;

/// What Terraform printed, on one line (it wraps messages at its terminal width).
fn one_line(run: &terraform::Run) -> String {
    run.text().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A two-region hierarchy like the seed's: a global pool without a locale, one regional pool
/// per region in use, an allocation for each region.
const REGIONS: &str = r#"
resource "ipam" "org" {
  operating_regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
}

resource "ipam_pool" "top" {
  scope_id       = ipam.org.private_default_scope_id
  address_family = "ipv4"
}

resource "ipam_pool_cidr" "top" {
  pool_id = ipam_pool.top.id
  cidr    = "10.0.0.0/8"
}

resource "ipam_pool" "us" {
  scope_id       = ipam.org.private_default_scope_id
  source_pool_id = ipam_pool.top.id
  address_family = "ipv4"
  locale         = "us-east-1"
  allocation_default_netmask_length = 24
}

resource "ipam_pool_cidr" "us" {
  pool_id    = ipam_pool.us.id
  cidr       = "10.0.0.0/16"
  depends_on = [ipam_pool_cidr.top]
}

resource "ipam_pool" "eu" {
  scope_id       = ipam.org.private_default_scope_id
  source_pool_id = ipam_pool.top.id
  address_family = "ipv4"
  locale         = "eu-west-1"
  allocation_default_netmask_length = 24
}

resource "ipam_pool_cidr" "eu" {
  pool_id    = ipam_pool.eu.id
  cidr       = "10.1.0.0/16"
  depends_on = [ipam_pool_cidr.top]
}

resource "ipam_allocation" "us_vpc" {
  pool_id    = ipam_pool.us.id
  locale     = "us-east-1"
  depends_on = [ipam_pool_cidr.us]
}

# a pool without a locale serves any
resource "ipam_allocation" "any" {
  pool_id        = ipam_pool.top.id
  cidr           = "10.200.0.0/16"
  locale         = "ap-southeast-1"
  depends_on     = [ipam_pool_cidr.top]
}

data "ipam_preview_next_cidr" "eu" {
  pool_id    = ipam_pool.eu.id
  locale     = "eu-west-1"
  depends_on = [ipam_pool_cidr.eu]
}

data "ipam_pools" "eu" {
  locale     = "eu-west-1"
  depends_on = [ipam_pool.eu, ipam_pool.us]
}

output "us_pool" {
  value = ipam_pool.us.id
}
output "eu_pool" {
  value = ipam_pool.eu.id
}
output "us_vpc" {
  value = ipam_allocation.us_vpc.cidr
}
output "eu_preview" {
  value = data.ipam_preview_next_cidr.eu.cidr
}
output "eu_pools" {
  value = [for p in data.ipam_pools.eu.pools : "${p.id} ${p.locale}"]
}
"#;

#[test]
fn locales_follow_operating_regions_and_source_pools_and_refusals_come_at_plan() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, REGIONS);
        dir.init();
        dir.apply().success();
        dir.assert_no_changes();
        let outputs = dir.outputs();
        let us_pool = output_string(&outputs, "us_pool");
        let eu_pool = output_string(&outputs, "eu_pool");
        assert!(output_string(&outputs, "us_vpc").starts_with("10.0."));
        assert!(output_string(&outputs, "eu_preview").starts_with("10.1."));
        assert_eq!(
            output_strings(&outputs, "eu_pools"),
            vec![format!("{eu_pool} eu-west-1")],
            "the data source filters by locale and reports it"
        );

        // (what, an extra configuration, what the plan's error must say)
        let cases: Vec<(&str, String, Vec<String>)> = vec![
            (
                "a locale that is not an operating region",
                "resource \"ipam_pool\" \"bad\" {\n  scope_id = ipam.org.private_default_scope_id\n  address_family = \"ipv4\"\n  locale = \"eu-central-1\"\n}\n".into(),
                vec![
                    "locale eu-central-1 is not an operating region".into(),
                    "ap-southeast-1, eu-west-1, us-east-1".into(),
                    "locale = \"eu-central-1\"".into(),
                ],
            ),
            (
                "a nested pool of another locale than its source",
                "resource \"ipam_pool\" \"bad\" {\n  scope_id = ipam.org.private_default_scope_id\n  source_pool_id = ipam_pool.us.id\n  address_family = \"ipv4\"\n  locale = \"eu-west-1\"\n}\n".into(),
                vec![
                    us_pool.clone(),
                    "locale = \"us-east-1\"".into(),
                    "(it has eu-west-1)".into(),
                ],
            ),
            (
                "a nested pool without its source's locale",
                "resource \"ipam_pool\" \"bad\" {\n  scope_id = ipam.org.private_default_scope_id\n  source_pool_id = ipam_pool.us.id\n  address_family = \"ipv4\"\n}\n".into(),
                vec![us_pool.clone(), "(it has none)".into()],
            ),
            (
                "an allocation for another locale",
                "resource \"ipam_allocation\" \"bad\" {\n  pool_id = ipam_pool.us.id\n  locale = \"eu-west-1\"\n}\n".into(),
                vec![
                    "asks for locale eu-west-1".into(),
                    format!("pool {us_pool} serves locale us-east-1"),
                    "locale = \"eu-west-1\"".into(),
                ],
            ),
            (
                "a preview for another locale",
                "data \"ipam_preview_next_cidr\" \"bad\" {\n  pool_id = ipam_pool.eu.id\n  locale = \"us-east-1\"\n}\n".into(),
                vec![
                    "asks for locale us-east-1".into(),
                    format!("pool {eu_pool} serves locale eu-west-1"),
                ],
            ),
        ];
        for (what, extra, expected) in cases {
            dir.write("bad.tf", &extra);
            let run = dir.plan().failure();
            let flat = one_line(&run);
            for needle in &expected {
                assert!(
                    flat.to_lowercase().contains(&needle.to_lowercase()),
                    "{} ({what}): the plan's error should contain {needle:?}:\n{}",
                    tf.version,
                    run.describe()
                );
            }
            dir.remove("bad.tf");
        }

        // dropping regions that pools use is refused at plan, naming the pools
        let fewer = REGIONS.replace(
            r#"["us-east-1", "eu-west-1", "ap-southeast-1"]"#,
            r#"["ap-southeast-1"]"#,
        );
        dir.write("main.tf", &fewer);
        let run = dir.plan().failure();
        let flat = one_line(&run);
        for needle in [
            "cannot drop operating region(s) eu-west-1, us-east-1",
            &format!("{us_pool} (us-east-1)"),
            &format!("{eu_pool} (eu-west-1)"),
            "operating_regions",
        ] {
            assert!(
                flat.to_lowercase().contains(&needle.to_lowercase()),
                "{}: {needle:?}:\n{}",
                tf.version,
                run.describe()
            );
        }
        // an unused region may go
        dir.write(
            "main.tf",
            &REGIONS.replace(
                r#"["us-east-1", "eu-west-1", "ap-southeast-1"]"#,
                r#"["us-east-1", "eu-west-1"]"#,
            ),
        );
        dir.apply().success();
        dir.assert_no_changes();
        dir.destroy().success();
    }
}

/// A pool of one /24 warning past 50 %, with a /26 taken (25 %).
const THRESHOLD: &str = r#"
resource "ipam" "org" {}

resource "ipam_pool" "small" {
  scope_id                      = ipam.org.private_default_scope_id
  address_family                = "ipv4"
  utilization_warning_threshold = 50
}

resource "ipam_pool_cidr" "small" {
  pool_id = ipam_pool.small.id
  cidr    = "10.9.0.0/24"
}

resource "ipam_allocation" "first" {
  pool_id    = ipam_pool.small.id
  cidr       = "10.9.0.0/26"
  depends_on = [ipam_pool_cidr.small]
}

output "pool" {
  value = ipam_pool.small.id
}
"#;

#[test]
fn a_plan_pushing_a_pool_past_its_threshold_warns_with_the_figures() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, THRESHOLD);
        dir.init();
        let run = dir.apply().success();
        assert!(
            !run.text().contains("Utilization"),
            "25 % is below 50 %:\n{}",
            run.describe()
        );
        dir.assert_no_changes();
        let pool = output_string(&dir.outputs(), "pool");

        // a /25 more: 25 % -> 75 %, the largest free block left is the last /26
        let more = "resource \"ipam_allocation\" \"big\" {\n  pool_id = ipam_pool.small.id\n  netmask_length = 25\n}\n";
        dir.write("more.tf", more);
        let run = dir.run(["plan", "-no-color", "-input=false"]).success();
        let flat = one_line(&run);
        for needle in [
            "Pool Utilization Warning".to_string(),
            format!("pool {pool} (10.9.0.0/24) goes from 25.0% to 75.0% used"),
            "past its utilization_warning_threshold of 50%".to_string(),
            "the largest free block left is 10.9.0.64/26".to_string(),
        ] {
            assert!(
                flat.contains(&needle),
                "{}: {needle:?}:\n{}",
                tf.version,
                run.describe()
            );
        }
        dir.apply().success();
        dir.assert_no_changes();

        // a threshold is a percentage
        for bad in ["0", "101", "12.5"] {
            dir.write(
                "main.tf",
                &THRESHOLD.replace("threshold = 50", &format!("threshold = {bad}")),
            );
            let run = dir.plan().failure();
            let flat = one_line(&run);
            assert!(
                flat.contains(&format!(
                    "utilization_warning_threshold is {bad}, which is not a percentage"
                )) && flat.contains("utilization_warning_threshold ="),
                "{}: {bad}:\n{}",
                tf.version,
                run.describe()
            );
        }
        dir.write("main.tf", THRESHOLD);
        dir.destroy().success();
    }
}

/// Two pools with a release cooldown: a strict one (a /24 with a short cooldown) and a soft one
/// (a single /26, so a released block is the only one that fits).
fn cooldown_hcl(strict_allocation: &str, soft_allocation: &str) -> String {
    format!(
        r#"
resource "ipam" "org" {{}}

resource "ipam_pool" "strict" {{
  scope_id              = ipam.org.private_default_scope_id
  address_family        = "ipv4"
  release_cooldown      = "8s"
  release_cooldown_mode = "strict"
}}

resource "ipam_pool_cidr" "strict" {{
  pool_id = ipam_pool.strict.id
  cidr    = "10.8.0.0/24"
}}

resource "ipam_pool" "soft" {{
  scope_id         = ipam.org.private_default_scope_id
  address_family   = "ipv4"
  release_cooldown = "24h"
}}

resource "ipam_pool_cidr" "soft" {{
  pool_id = ipam_pool.soft.id
  cidr    = "10.9.0.0/26"
}}

data "ipam_pool_allocations" "strict" {{
  pool_id    = ipam_pool.strict.id
  depends_on = [ipam_pool_cidr.strict]
}}

output "cooling" {{
  value = [for c in data.ipam_pool_allocations.strict.cooling : "${{c.cidr}} ${{c.frees_at}}"]
}}
{strict_allocation}
{soft_allocation}
"#
    )
}

const STRICT_ALLOCATION: &str = r#"
resource "ipam_allocation" "strict" {
  pool_id    = ipam_pool.strict.id
  cidr       = "10.8.0.0/26"
  depends_on = [ipam_pool_cidr.strict]
}
"#;

fn soft_allocation(name: &str) -> String {
    format!(
        "resource \"ipam_allocation\" \"{name}\" {{\n  pool_id = ipam_pool.soft.id\n  netmask_length = 26\n  depends_on = [ipam_pool_cidr.soft]\n}}\noutput \"soft\" {{\n  value = ipam_allocation.{name}.cidr\n}}\n"
    )
}

#[test]
fn released_blocks_cool_down_strictly_or_softly_through_real_applies() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(
            tf,
            &db,
            &cooldown_hcl(STRICT_ALLOCATION, &soft_allocation("a")),
        );
        dir.init();
        dir.apply().success();
        dir.assert_no_changes();
        assert_eq!(output_string(&dir.outputs(), "soft"), "10.9.0.0/26");

        // release both: the blocks cool down, and the data source says until when
        dir.write("main.tf", &cooldown_hcl("", ""));
        dir.apply().success();
        dir.apply().success(); // the data source is read again, after the release
        let cooling = output_strings(&dir.outputs(), "cooling");
        assert_eq!(cooling.len(), 1, "{cooling:?}");
        let (cidr, frees_at) = cooling[0].split_once(' ').expect("cidr and time");
        assert_eq!(cidr, "10.8.0.0/26");
        assert!(frees_at.ends_with('Z'), "{frees_at}");

        // strict: the same cidr is refused at plan, naming the time it frees
        dir.write("main.tf", &cooldown_hcl(STRICT_ALLOCATION, ""));
        let run = dir.plan().failure();
        let flat = one_line(&run);
        for needle in [
            "cooling down until".to_string(),
            frees_at.to_string(),
            "release_cooldown_mode = \"strict\"".to_string(),
            "cidr = \"10.8.0.0/26\"".to_string(),
        ] {
            assert!(
                flat.contains(&needle),
                "{}: {needle:?}:\n{}",
                tf.version,
                run.describe()
            );
        }

        // soft: the only block that fits is the cooling one, so it is handed out again
        dir.write("main.tf", &cooldown_hcl("", &soft_allocation("b")));
        dir.apply().success();
        assert_eq!(output_string(&dir.outputs(), "soft"), "10.9.0.0/26");

        // once the cooldown is over, the strict block is free again
        std::thread::sleep(std::time::Duration::from_secs(9));
        dir.write(
            "main.tf",
            &cooldown_hcl(STRICT_ALLOCATION, &soft_allocation("b")),
        );
        dir.apply().success();
        dir.assert_no_changes();
        assert!(output_strings(&dir.outputs(), "cooling").is_empty());
        assert_eq!(output_string(&dir.outputs(), "soft"), "10.9.0.0/26");

        // durations and modes are checked at plan
        for (bad, needle) in [
            (
                "release_cooldown      = \"30x\"",
                "\"30x\" is not a duration",
            ),
            ("release_cooldown      = \"0s\"", "longer than zero"),
            (
                "release_cooldown_mode = \"lazy\"",
                "\"lazy\" is not a cooldown mode",
            ),
        ] {
            let key = bad.split_whitespace().next().expect("a key");
            let text = cooldown_hcl("", "")
                .lines()
                .map(|line| {
                    if line.trim_start().starts_with(&format!("{key} ")) {
                        bad
                    } else {
                        line
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            dir.write("main.tf", &text);
            let run = dir.plan().failure();
            let flat = one_line(&run);
            assert!(
                flat.contains(needle) && flat.contains(&format!("{key} =")),
                "{}: {bad}:\n{}",
                tf.version,
                run.describe()
            );
        }
        dir.write("main.tf", &cooldown_hcl("", ""));
        dir.destroy().success();
    }
}

const ULA: &str = r#"
resource "ipam" "org" {}

resource "ipam_pool" "site_a" {
  scope_id       = ipam.org.private_default_scope_id
  address_family = "ipv6"
}

resource "ipam_pool_cidr" "site_a" {
  pool_id        = ipam_pool.site_a.id
  netmask_length = 48
}

resource "ipam_pool" "site_b" {
  scope_id       = ipam.org.private_default_scope_id
  address_family = "ipv6"
}

resource "ipam_pool_cidr" "site_b" {
  pool_id        = ipam_pool.site_b.id
  netmask_length = 56
}

output "ula" {
  value = [ipam_pool_cidr.site_a.cidr, ipam_pool_cidr.site_b.cidr]
}
output "ids" {
  value = [ipam_pool_cidr.site_a.id, ipam_pool_cidr.site_b.id]
}
output "public_scope" {
  value = ipam.org.public_default_scope_id
}
"#;

#[test]
fn generated_ula_prefixes_are_distinct_and_survive_plan_apply_and_import() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, ULA);
        dir.init();
        dir.apply().success();
        dir.assert_no_changes();
        let outputs = dir.outputs();
        let prefixes: Vec<ipnet::IpNet> = output_strings(&outputs, "ula")
            .iter()
            .map(|text| text.parse().expect("a CIDR"))
            .collect();
        let ula: ipnet::IpNet = "fd00::/8".parse().unwrap();
        for (prefix, len) in prefixes.iter().zip([48u8, 56]) {
            assert!(ula.contains(prefix), "{prefix} is not in fd00::/8");
            assert_eq!(prefix.prefix_len(), len, "{prefix}");
        }
        let (a48, b48) = (
            ipnet::IpNet::new(prefixes[0].network(), 48)
                .unwrap()
                .trunc(),
            ipnet::IpNet::new(prefixes[1].network(), 48)
                .unwrap()
                .trunc(),
        );
        assert_ne!(a48, b48, "two pools get two different /48s: {prefixes:?}");

        // forget the pool CIDRs and import them: same prefixes, no changes
        let ids = output_strings(&outputs, "ids");
        for (address, id) in ["ipam_pool_cidr.site_a", "ipam_pool_cidr.site_b"]
            .iter()
            .zip(&ids)
        {
            dir.run(["state", "rm", address]).success();
            dir.run(["import", "-no-color", "-input=false", address, id.as_str()])
                .success();
        }
        // only the outputs (emptied by `state rm`) change: no resource does
        let run = dir.run(["plan", "-no-color", "-input=false"]).success();
        assert!(
            !run.stdout.contains("# ipam_") && !run.stdout.contains("Plan:"),
            "{}: the imported prefixes plan changes:\n{}",
            tf.version,
            run.describe()
        );
        dir.apply().success();
        dir.assert_no_changes();
        let again = dir.outputs();
        assert_eq!(
            output_strings(&again, "ula"),
            output_strings(&outputs, "ula")
        );

        // a public scope refuses, at plan
        let public = output_string(&outputs, "public_scope");
        dir.write(
            "public.tf",
            &format!("resource \"ipam_pool\" \"public\" {{\n  scope_id = \"{public}\"\n  address_family = \"ipv6\"\n}}\nresource \"ipam_pool_cidr\" \"public\" {{\n  pool_id = ipam_pool.public.id\n  netmask_length = 48\n}}\n"),
        );
        dir.run([
            "apply",
            "-auto-approve",
            "-no-color",
            "-input=false",
            "-target=ipam_pool.public",
        ])
        .success();
        let run = dir.plan().failure();
        let flat = one_line(&run);
        assert!(
            flat.contains("is in public scope") && flat.contains("netmask_length = 48"),
            "{}:\n{}",
            tf.version,
            run.describe()
        );
        dir.remove("public.tf");
        dir.destroy().success();
    }
}
