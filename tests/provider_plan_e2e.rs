//! End-to-end tests of planning with the real `terraform` binary (the newest on PATH and 1.0.3):
//! what a plan catches, that `terraform destroy` works after any failed apply, implicit ordering
//! through `ipam_pool_cidr.NAME.pool_id`, input messages and the advice errors give.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use support::ipam::{cidr, database, output_string, output_strings, workdir, Backend};
use support::terraform::{self, Run, Terraform, Workdir};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

/// Asserts that the database (a SQLite file or a PostgreSQL URL) holds no IPAM any more (a
/// destroy removed everything).
fn assert_database_empty(db: &Path, tf: &Terraform) {
    let store = tfipam::store::open(&db.to_string_lossy(), "check").expect("the database opens");
    let ipams = store.list_ipams().expect("ipams");
    assert!(ipams.is_empty(), "terraform {}: {ipams:?}", tf.version);
}

/// Runs `terraform <args>` with `-no-color -input=false` and `-auto-approve` where it applies.
fn run_with(dir: &Workdir, command: &str, extra: &[&str]) -> Run {
    let mut args = vec![command, "-no-color", "-input=false"];
    if command != "plan" {
        args.push("-auto-approve");
    }
    args.extend(extra);
    dir.run(args)
}

/// The output of a run with Terraform's line wrapping undone (every run of whitespace one space).
fn flat(run: &Run) -> String {
    run.text().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts that `run` failed at plan (exit 1) and that its text mentions every needle.
fn assert_plan_error(run: &Run, tf: &Terraform, case: &str, needles: &[&str]) {
    assert_eq!(
        run.code,
        1,
        "terraform {}: `{case}` must fail at plan:\n{}",
        tf.version,
        run.describe()
    );
    let text = flat(run);
    for needle in needles {
        assert!(
            text.contains(needle),
            "terraform {}: `{case}`: the error should mention {needle:?}:\n{}",
            tf.version,
            run.describe()
        );
    }
}

/// An IPAM `t` and, per `(name, cidr)`, a pool in its private scope with that CIDR provisioned
/// (no CIDR when `cidr` is empty); `pool_settings` goes into every pool block.
fn pools_hcl(pools: &[(&str, &str)], pool_settings: &str) -> String {
    let mut hcl = String::from("resource \"ipam\" \"t\" {}\n");
    for (name, cidr) in pools {
        hcl.push_str(&format!(
            "\nresource \"ipam_pool\" \"{name}\" {{\n  scope_id       = ipam.t.private_default_scope_id\n  address_family = \"ipv4\"\n{pool_settings}}}\n"
        ));
        if !cidr.is_empty() {
            hcl.push_str(&format!(
                "\nresource \"ipam_pool_cidr\" \"{name}\" {{\n  pool_id = ipam_pool.{name}.id\n  cidr    = \"{cidr}\"\n}}\n"
            ));
        }
    }
    hcl
}

/// A pool created in the same run as its allocations: nothing can be checked at plan, so the
/// apply fails half way — 4 of 6 /28s fit into the /26, one of two overlapping explicit CIDRs
/// is made.
const FAILS_HALF_WAY: &str = r#"
resource "ipam_allocation" "many" {
  count          = 6
  pool_id        = ipam_pool_cidr.small.pool_id
  netmask_length = 28
}

# read again by destroy's refresh plan, when the pool is full
data "ipam_preview_next_cidr" "small" {
  pool_id        = ipam_pool_cidr.small.pool_id
  netmask_length = 28
}

resource "ipam_allocation" "explicit_24" {
  pool_id = ipam_pool_cidr.big.pool_id
  cidr    = "10.2.4.0/24"
}

resource "ipam_allocation" "explicit_23" {
  pool_id = ipam_pool_cidr.big.pool_id
  cidr    = "10.2.4.0/23"
}
"#;

#[test]
fn destroy_works_after_an_apply_failed_at_exhaustion_and_overlap() {
    destroy_after_a_failed_apply_on(Backend::Sqlite);
}

#[test]
fn destroy_works_after_an_apply_failed_at_exhaustion_and_overlap_on_postgresql() {
    destroy_after_a_failed_apply_on(Backend::Postgres);
}

fn destroy_after_a_failed_apply_on(backend: Backend) {
    for tf in terraform::all() {
        let (_guard, db) = backend.database();
        let pools = pools_hcl(&[("small", "10.9.0.0/26"), ("big", "10.2.0.0/16")], "");
        let dir = workdir(tf, &db, &format!("{pools}{FAILS_HALF_WAY}"));
        dir.init();
        let failed = dir.apply().failure();
        let state = dir.run(["state", "list"]).success().stdout;
        let many = state
            .lines()
            .filter(|l| l.starts_with("ipam_allocation.many["))
            .count();
        assert_eq!(
            many,
            4,
            "terraform {}: {state}\n{}",
            tf.version,
            failed.describe()
        );
        let explicit = state
            .lines()
            .filter(|l| l.starts_with("ipam_allocation.explicit_"))
            .count();
        assert_eq!(explicit, 1, "terraform {}: {state}", tf.version);

        // An ordinary plan still says why the missing instances cannot be made …
        let plan = dir.plan();
        assert_plan_error(
            &plan,
            tf,
            "plan after the failed apply",
            &["no free /28", "overlaps"],
        );

        // … and destroy works with no extra flags.
        dir.destroy().success();
        assert_database_empty(&db, tf);
    }
}

/// Existing pools for the plan-time checks: `small` (10.9.0.0/26), `big` (10.2.0.0/16, no
/// guardrails), `tagged` (requires Team = "net") and `empty` (no CIDR).
fn existing_pools() -> String {
    let plain = pools_hcl(
        &[
            ("small", "10.9.0.0/26"),
            ("big", "10.2.0.0/16"),
            ("empty", ""),
        ],
        "",
    );
    let tagged = pools_hcl(
        &[("tagged", "10.3.0.0/16")],
        "  allocation_resource_tags = {\n    Team = \"net\"\n  }\n",
    );
    format!(
        "{plain}{}",
        tagged.replace("resource \"ipam\" \"t\" {}\n", "")
    )
}

const TAGGED_ALLOCATION: &str = r#"
resource "ipam_allocation" "tagged" {
  pool_id        = ipam_pool_cidr.tagged.pool_id
  netmask_length = 24
  tags = {
    Team = "net"
  }
}
"#;

#[test]
fn conflicts_within_one_plan_fail_at_plan_and_exact_fits_apply() {
    conflicts_within_one_plan_on(Backend::Sqlite);
}

#[test]
fn conflicts_within_one_plan_fail_at_plan_and_exact_fits_apply_on_postgresql() {
    conflicts_within_one_plan_on(Backend::Postgres);
}

fn conflicts_within_one_plan_on(backend: Backend) {
    for tf in terraform::all() {
        let (_guard, db) = backend.database();
        let dir = workdir(tf, &db, &existing_pools());
        dir.write("tagged.tf", TAGGED_ALLOCATION);
        dir.init();
        dir.apply().success();

        let cases: [(&str, &str, &[&str]); 4] = [
            (
                "a pool with no cidr yet",
                "resource \"ipam_allocation\" \"early\" {\n  pool_id = ipam_pool.empty.id\n  netmask_length = 24\n}\n",
                &["no cidrs provisioned yet", "pool_id = ipam_pool_cidr.NAME.pool_id"],
            ),
            (
                "two explicit allocations that overlap",
                "resource \"ipam_allocation\" \"a\" {\n  pool_id = ipam_pool_cidr.big.pool_id\n  cidr = \"10.2.4.0/24\"\n}\nresource \"ipam_allocation\" \"b\" {\n  pool_id = ipam_pool_cidr.big.pool_id\n  cidr = \"10.2.4.0/23\"\n}\n",
                &["10.2.4.0/24", "10.2.4.0/23", "another ipam_allocation"],
            ),
            (
                "count larger than the free space",
                "resource \"ipam_allocation\" \"many\" {\n  count = 6\n  pool_id = ipam_pool_cidr.small.pool_id\n  netmask_length = 28\n}\n",
                &["64 free addresses", "need 80"],
            ),
            (
                "netmask_length longer than an IPv4 address",
                "resource \"ipam_allocation\" \"long\" {\n  pool_id = ipam_pool_cidr.big.pool_id\n  netmask_length = 33\n}\n",
                &["/33 is longer than an ipv4 address (32 bits)"],
            ),
        ];
        for (case, resource, needles) in cases {
            dir.write("bad.tf", resource);
            assert_plan_error(&dir.plan(), tf, case, needles);
            dir.remove("bad.tf");
        }

        // Removing a required tag in an in-place update fails at plan, naming the tag.
        dir.write(
            "tagged.tf",
            &TAGGED_ALLOCATION.replace("Team = \"net\"", "Owner = \"me\""),
        );
        assert_plan_error(
            &dir.plan(),
            tf,
            "removing a required tag",
            &["Team = \"net\""],
        );
        dir.write("tagged.tf", TAGGED_ALLOCATION);
        dir.assert_no_changes();

        // No false positive: a pool CIDR added to an existing pool in the same run as the
        // allocations that reference it (the store has no space yet; the plan counts it).
        dir.write(
            "grow.tf",
            "resource \"ipam_pool_cidr\" \"empty\" {\n  pool_id = ipam_pool.empty.id\n  cidr = \"10.4.0.0/24\"\n}\nresource \"ipam_allocation\" \"grow\" {\n  count = 4\n  pool_id = ipam_pool_cidr.empty.pool_id\n  netmask_length = 26\n}\n",
        );
        plans_and_applies(&dir, tf);

        // No false positive: exactly as many /28s as fit plan and apply (the apply walk plans
        // every instance again in its own process), and two disjoint explicit CIDRs too.
        dir.write(
            "fits.tf",
            "resource \"ipam_allocation\" \"many\" {\n  count = 4\n  pool_id = ipam_pool_cidr.small.pool_id\n  netmask_length = 28\n}\nresource \"ipam_allocation\" \"a\" {\n  pool_id = ipam_pool_cidr.big.pool_id\n  cidr = \"10.2.4.0/24\"\n}\nresource \"ipam_allocation\" \"b\" {\n  pool_id = ipam_pool_cidr.big.pool_id\n  cidr = \"10.2.6.0/23\"\n}\n",
        );
        plans_and_applies(&dir, tf);
        dir.assert_no_changes();
        dir.destroy().success();
        assert_database_empty(&db, tf);
    }
}

/// Asserts that a plan shows changes and no error, then applies them at `-parallelism=20`.
fn plans_and_applies(dir: &Workdir, tf: &Terraform) {
    let plan = dir.plan();
    assert_eq!(
        plan.code,
        2,
        "terraform {}: {}",
        tf.version,
        plan.describe()
    );
    run_with(dir, "apply", &["-parallelism=20"]).success();
}

/// True when a line of HCL sets `depends_on` (comments may mention it).
fn sets_depends_on(text: &str) -> bool {
    text.lines()
        .any(|line| line.trim_start().starts_with("depends_on"))
}

#[test]
fn the_complete_example_orders_itself_without_depends_on() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files = Vec::new();
    for entry in fs::read_dir(example.join("complete")).expect("examples/complete") {
        let path = entry.expect("an entry").path();
        let text = fs::read_to_string(&path).expect("an example file");
        assert!(
            !sets_depends_on(&text),
            "{} sets depends_on",
            path.display()
        );
        files.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            text,
        ));
    }
    for folder in ["resources", "data-sources"] {
        for entry in fs::read_dir(example.join(folder)).expect("examples") {
            for file in fs::read_dir(entry.expect("an entry").path()).expect("a folder") {
                let path = file.expect("a file").path();
                let text = fs::read_to_string(&path).expect("an example file");
                assert!(
                    !sets_depends_on(&text),
                    "{} sets depends_on",
                    path.display()
                );
            }
        }
    }
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, "");
        dir.remove("versions.tf");
        dir.remove("main.tf");
        for (name, text) in &files {
            dir.write(name, text);
        }
        dir.init();
        // ten rounds on the newest Terraform, one on the oldest
        let rounds = if tf.is_oldest() { 1 } else { 10 };
        for round in 0..rounds {
            let apply = run_with(&dir, "apply", &["-parallelism=20"]);
            assert_eq!(
                apply.code,
                0,
                "terraform {} round {round}: {}",
                tf.version,
                apply.describe()
            );
            let destroy = run_with(&dir, "destroy", &["-parallelism=20"]);
            assert_eq!(
                destroy.code,
                0,
                "terraform {} round {round}: {}",
                tf.version,
                destroy.describe()
            );
            assert_database_empty(&db, tf);
        }
    }
}

#[test]
fn ambiguous_or_malformed_input_is_refused_with_the_form_to_write() {
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "leading zeros",
            "cidr = \"010.002.000.000/24\"",
            &[
                "\"010.002.000.000/24\" in cidr is ambiguous",
                "octal",
                "write 10.2.0.0/24",
            ],
        ),
        (
            "spaces",
            "cidr = \" 10.2.0.0/24\"",
            &["spaces around it", "write 10.2.0.0/24"],
        ),
        (
            "not a cidr",
            "cidr = \"banana\"",
            &["\"banana\" in cidr is not a valid cidr: it is not a cidr"],
        ),
        (
            "prefix too long",
            "cidr = \"10.2.0.0/33\"",
            &["/33 is longer than an ipv4 address (32 bits)"],
        ),
        (
            "fractional length",
            "netmask_length = 24.5",
            &["netmask_length is 24.5,"],
        ),
        (
            "missing prefix length",
            "cidr = \"10.2.0.0\"",
            &["the prefix length is missing", "10.2.0.0/24"],
        ),
    ];
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, "");
        dir.init();
        for (case, argument, needles) in cases {
            dir.write(
                "main.tf",
                &format!(
                    "resource \"ipam_allocation\" \"bad\" {{\n  pool_id = \"ipam-pool-0000000000000000\"\n  {argument}\n}}\n"
                ),
            );
            let run = dir.plan();
            assert_plan_error(&run, tf, case, needles);
            assert!(!run.text().contains("Netmask_length"), "{}", run.describe());
        }
        dir.write(
            "main.tf",
            "resource \"ipam_pool\" \"bad\" {\n  scope_id = \"ipam-scope-0000000000000000\"\n  address_family = \"ipv4\"\n  allocation_min_netmask_length = 24\n  allocation_max_netmask_length = 16\n}\n",
        );
        let run = dir.plan();
        assert_plan_error(&run, tf, "swapped guardrails", &["did you swap them?"]);
        assert!(!run.text().contains("?."), "{}", run.describe());
        // nothing was written: a plan of bad input creates no database
        assert!(
            !db.exists()
                || SqliteStore::open(&db, SqliteOptions::new("check"))
                    .unwrap()
                    .list_ipams()
                    .unwrap()
                    .is_empty()
        );
    }
}

#[test]
fn not_empty_errors_give_advice_that_works_for_that_object() {
    const OUTPUTS: &str = r#"
output "pool_id" {
  value = ipam_pool.p.id
}

output "scope_id" {
  value = ipam.t.private_default_scope_id
}
"#;
    let pool =
        |settings: &str| format!("{}{OUTPUTS}", pools_hcl(&[("p", "10.5.0.0/16")], settings));
    for tf in terraform::all() {
        let (_guard, db) = database();
        let owner = workdir(tf, &db, &pool(""));
        owner.init();
        owner.apply().success();
        let outputs = owner.outputs();
        let pool_id = output_string(&outputs, "pool_id");
        let scope_id = output_string(&outputs, "scope_id");

        // Another configuration allocates from the pool: its CIDR cannot be deprovisioned, and
        // the advice is about references and that other configuration, never cascade.
        let other = workdir(
            tf,
            &db,
            &format!("resource \"ipam_allocation\" \"a\" {{\n  pool_id = \"{pool_id}\"\n  netmask_length = 24\n}}\n"),
        );
        other.init();
        other.apply().success();
        let run = owner.destroy().failure();
        let text = flat(&run);
        assert!(text.contains("is not empty"), "{}", run.describe());
        assert!(
            text.contains("pool_id = ipam_pool_cidr.NAME.pool_id"),
            "{}",
            run.describe()
        );
        assert!(text.contains("another configuration"), "{}", run.describe());
        assert!(
            !text.contains("cascade"),
            "a pool cidr has no cascade:\n{}",
            run.describe()
        );
        other.destroy().success();

        // A child pool made elsewhere keeps the pool from being deleted: the advice (set
        // cascade = true, apply, then destroy) works.
        other.write(
            "main.tf",
            &format!("resource \"ipam_pool\" \"child\" {{\n  scope_id = \"{scope_id}\"\n  source_pool_id = \"{pool_id}\"\n  address_family = \"ipv4\"\n}}\n"),
        );
        other.apply().success();
        let run = owner.destroy().failure();
        assert!(
            flat(&run).contains("set cascade = true on it and run terraform apply first"),
            "{}",
            run.describe()
        );
        owner.write("main.tf", &pool("  cascade        = true\n"));
        owner.apply().success();
        owner.destroy().success();
        assert_database_empty(&db, tf);
    }
}

#[test]
fn preview_shows_distinct_blocks_and_explicit_pool_cidrs_plan_their_length() {
    let main = format!(
        "{}{}",
        pools_hcl(&[("p", "10.70.0.0/22")], ""),
        r#"
data "ipam_preview_next_cidr" "three" {
  pool_id         = ipam_pool_cidr.p.pool_id
  netmask_lengths = [24, 24, 24]
}

data "ipam_preview_next_cidr" "counted" {
  count          = 3
  pool_id        = ipam_pool_cidr.p.pool_id
  netmask_length = 24
}

output "three" {
  value = data.ipam_preview_next_cidr.three.cidrs
}

output "counted" {
  value = data.ipam_preview_next_cidr.counted[*].cidr
}
"#
    );
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, &main);
        dir.init();
        // the explicit pool CIDR's length is known at plan, although its pool is not
        let plan = dir.plan();
        assert_eq!(plan.code, 2, "{}", plan.describe());
        let block = plan
            .stdout
            .split("# ipam_pool_cidr.p will be created")
            .nth(1)
            .expect("the pool cidr is planned");
        let block = &block[..block.find("\n    }").unwrap_or(block.len())];
        assert!(
            block.contains("netmask_length = 22"),
            "terraform {}: {block}",
            tf.version
        );

        dir.apply().success();
        let outputs = dir.outputs();
        let three: BTreeSet<IpNet> = output_strings(&outputs, "three")
            .iter()
            .map(|c| cidr(c))
            .collect();
        assert_eq!(three.len(), 3, "distinct blocks: {outputs}");
        let counted: BTreeSet<String> = output_strings(&outputs, "counted").into_iter().collect();
        assert_eq!(
            counted.len(),
            1,
            "count repeats one preview (documented): {outputs}"
        );

        // three allocations made now get exactly the previewed blocks
        dir.write(
            "take.tf",
            "resource \"ipam_allocation\" \"take\" {\n  count = 3\n  pool_id = ipam_pool_cidr.p.pool_id\n  netmask_length = 24\n}\noutput \"taken\" {\n  value = ipam_allocation.take[*].cidr\n}\n",
        );
        dir.apply().success();
        let taken: BTreeSet<IpNet> = output_strings(&dir.outputs(), "taken")
            .iter()
            .map(|c| cidr(c))
            .collect();
        assert_eq!(taken, three, "terraform {}", tf.version);
    }
}

#[test]
fn the_binary_answers_version_and_help() {
    let binary = env!("CARGO_BIN_EXE_terraform-provider-ipam");
    let version = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("terraform-provider-ipam {}", env!("CARGO_PKG_VERSION"))
    );
    let help = std::process::Command::new(binary)
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Terraform provider"), "{text}");
    assert!(text.contains("--version"), "{text}");
    let unknown = std::process::Command::new(binary)
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}
