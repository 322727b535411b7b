//! The `ipam_scan` data source through real Terraform (the newest on PATH and 1.0.3): a
//! configuration sees the findings of other states, and refuses to apply while networks overlap
//! (a `check` block and a `precondition` on Terraform ≥ 1.5; outputs on 1.0.3, which has neither).

mod support;

use std::fs;
use std::path::Path;

use support::ipam::{database, output_string, workdir};
use support::terraform::{self, Terraform};

const ADDRESS_SPACE: &str = r#"
resource "ipam" "corp" {}

resource "ipam_pool" "aws" {
  scope_id       = ipam.corp.private_default_scope_id
  address_family = "ipv4"
}

resource "ipam_pool_cidr" "aws" {
  pool_id = ipam_pool.aws.id
  cidr    = "10.1.0.0/16"
}

resource "ipam_allocation" "prod_vpc" {
  pool_id = ipam_pool_cidr.aws.pool_id
  cidr    = "10.1.0.0/20"
}

data "ipam_scan" "networks" {
  paths  = ["${path.module}/states"]
  ignore = ["172.16.0.0/12"]
  # scan the address space this same apply creates (without it, a first plan reads before the
  # database exists and reports every network outside, with a warning)
  depends_on = [ipam_allocation.prod_vpc]
}

output "overlapping_count" {
  value = data.ipam_scan.networks.overlapping_count
}

output "statuses" {
  value = join(",", [for f in data.ipam_scan.networks.findings : "${f.address}=${f.cidr}=${f.status}"])
}

output "conflicts" {
  value = join(";", flatten([for f in data.ipam_scan.networks.findings : f.conflicts]))
}
"#;

const GATES: &str = r#"
check "no_overlapping_networks" {
  assert {
    condition     = data.ipam_scan.networks.overlapping_count == 0
    error_message = "overlapping networks: ${join(", ", [for f in data.ipam_scan.networks.findings : f.address if f.status == "overlapping"])}"
  }
}

resource "terraform_data" "network_gate" {
  lifecycle {
    precondition {
      condition     = data.ipam_scan.networks.overlapping_count == 0
      error_message = "Refusing to apply: networks overlap."
    }
  }
}
"#;

const CLASH: &str = r#"{"format_version":"1.0","values":{"root_module":{"resources":[
  {"address":"google_compute_subnetwork.clash","mode":"managed","type":"google_compute_subnetwork","name":"clash",
   "values":{"ip_cidr_range":"10.1.16.0/24","network":"https://www.googleapis.com/compute/v1/projects/x/global/networks/other","secondary_ip_range":[]}}]}}}"#;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compliance")
        .join(name);
    fs::read_to_string(path).expect("fixture")
}

fn scan_gates_a_configuration(tf: &Terraform) {
    let (_guard, db) = database();
    let gates = tf.minor_version() >= (1, 5);
    let main = if gates {
        format!("{ADDRESS_SPACE}{GATES}")
    } else {
        ADDRESS_SPACE.to_string()
    };
    let dir = workdir(tf, &db, &main);
    fs::create_dir(dir.path().join("states")).unwrap();
    dir.write("states/aws.tfstate", &fixture("aws.tfstate"));
    dir.init();
    dir.apply().success();
    let outputs = dir.show_json()["values"]["outputs"].clone();
    let statuses = output_string(&outputs, "statuses");
    for expected in [
        "aws_vpc.prod=10.1.0.0/20=managed",
        "aws_subnet.prod[0]=10.1.0.0/24=managed",
        "module.legacy.aws_vpc.this=10.1.16.0/20=unmanaged",
        "aws_vpc_ipv4_cidr_block_association.extra=10.1.32.0/20=unmanaged",
        "aws_default_vpc.default=172.31.0.0/16=ignored",
        "aws_vpc.prod=2600:1f18:1234:5600::/56=outside",
    ] {
        assert!(
            statuses.contains(expected),
            "{expected} missing in {statuses}"
        );
    }
    assert_eq!(outputs["overlapping_count"]["value"], 0);

    // another team's state: a subnetwork inside the legacy VPC
    dir.write("states/clash.json", CLASH);
    if gates {
        let run = dir.apply().failure();
        let text = run.text();
        assert!(
            text.contains("Refusing to apply: networks overlap."),
            "{text}"
        );
        assert!(text.contains("overlapping networks: "), "{text}");
        assert!(text.contains("google_compute_subnetwork.clash"), "{text}");
        let plan = dir.run(["plan", "-no-color", "-refresh-only"]);
        assert!(
            plan.text().contains("module.legacy.aws_vpc.this"),
            "{}",
            plan.describe()
        );
    } else {
        dir.apply().success();
        let outputs = dir.show_json()["values"]["outputs"].clone();
        assert_eq!(outputs["overlapping_count"]["value"], 3);
        let conflicts = output_string(&outputs, "conflicts");
        assert!(
            conflicts.contains("google_compute_subnetwork.clash (10.1.16.0/24) in ")
                && conflicts.contains("module.legacy.aws_vpc.this (10.1.16.0/20) in "),
            "{conflicts}"
        );
    }

    // a file that is not a state: an error naming it, at plan time
    dir.write("states/bad.tfstate", "{\"version\": 3}");
    let run = dir.plan().failure();
    let text = run.text();
    assert!(text.contains("Cannot Scan State File"), "{text}");
    assert!(
        text.contains("bad.tfstate is a state of format version 3"),
        "{text}"
    );
    assert!(text.contains("paths"), "{text}");

    // arguments refused by validation, each pointing at its element
    dir.write(
        "invalid.tf",
        "data \"ipam_scan\" \"invalid\" {\n  paths = [\"-\"]\n  rules = [\"oci_core_vcn\"]\n}\n",
    );
    let text = dir.run(["validate", "-no-color"]).failure().text();
    assert!(text.contains("Invalid Scan Path"), "{text}");
    assert!(text.contains("cannot read standard input"), "{text}");
    assert!(text.contains("Invalid Scan Rule"), "{text}");
    assert!(text.contains("separated by a colon"), "{text}");
    assert!(text.contains("invalid.tf line"), "{text}");
}

#[test]
fn scan_data_source_gates_a_configuration_on_every_terraform() {
    for tf in terraform::all() {
        scan_gates_a_configuration(tf);
    }
}

/// Before any apply there is no database: the scan reports every network outside (nothing is
/// managed yet), warns naming the database, and creates no file.
#[test]
fn scan_before_the_database_exists_reports_everything_outside_and_creates_nothing() {
    for tf in terraform::all() {
        let (guard, db) = database();
        let dir = workdir(
            tf,
            &db,
            r#"
data "ipam_scan" "networks" {
  paths = ["${path.module}/aws.tfstate"]
}

output "statuses" {
  value = join(",", [for f in data.ipam_scan.networks.findings : "${f.address}=${f.cidr}=${f.status}"])
}

output "counts" {
  value = "${data.ipam_scan.networks.managed_count}/${data.ipam_scan.networks.unmanaged_count}/${data.ipam_scan.networks.orphaned_count}"
}
"#,
        );
        dir.write("aws.tfstate", &fixture("aws.tfstate"));
        dir.init();
        let run = dir.apply().success();
        let text = run.text();
        assert!(text.contains("No Address Space Yet"), "{text}");
        assert!(text.contains("ipam.db"), "{text}");
        assert!(!db.exists(), "a data source created the database");
        assert_eq!(
            fs::read_dir(guard.path()).unwrap().count(),
            0,
            "nothing beside the database either"
        );
        let outputs = dir.show_json()["values"]["outputs"].clone();
        let statuses = output_string(&outputs, "statuses");
        assert!(
            statuses.contains("aws_vpc.prod=10.1.0.0/20=outside"),
            "{statuses}"
        );
        assert!(!statuses.contains("=managed"), "{statuses}");
        assert_eq!(output_string(&outputs, "counts"), "0/0/0");
    }
}

/// `ipam adopt` prints `import` blocks and resources; pasted into a configuration they import
/// cleanly (Terraform ≥ 1.5), plan no changes, and a re-scan shows the networks managed.
#[test]
fn adopted_networks_import_with_the_printed_blocks() {
    use tfipam::compliance::{adopt, scan, AdoptOptions, ScanOptions, Status};
    use tfipam::ipam::{AddressFamily, NewIpam, NewPool, PoolCidrRequest};
    use tfipam::store::{SqliteOptions, SqliteStore, Store};

    let tf = terraform::newest();
    if tf.minor_version() < (1, 5) {
        return;
    }
    let (guard, db) = database();
    let store = SqliteStore::open(&db, SqliteOptions::new("operator")).unwrap();
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let pool = store
        .create_pool(&NewPool::new(
            &ipam.private_default_scope_id,
            AddressFamily::Ipv4,
        ))
        .unwrap();
    store
        .provision_pool_cidr(
            &pool.id,
            PoolCidrRequest::Cidr("10.1.0.0/16".parse().unwrap()),
        )
        .unwrap();
    let aws = guard.path().join("aws.tfstate");
    fs::write(&aws, fixture("aws.tfstate")).unwrap();
    let scan_options = ScanOptions {
        paths: vec![aws.display().to_string()],
        ..ScanOptions::default()
    };
    let adopted = adopt(
        &store,
        &AdoptOptions {
            scan: scan_options.clone(),
            pool_id: pool.id.clone(),
            yes: true,
            ..AdoptOptions::default()
        },
    )
    .unwrap();
    assert_eq!(adopted.exit_code, 0, "{}", adopted.output);
    assert_eq!(adopted.result.len(), 3, "{}", adopted.output);
    let blocks = adopted
        .output
        .split_once("(Terraform 1.5 or later):\n\n")
        .expect("import blocks follow the table")
        .1;

    let dir = workdir(tf, &db, blocks);
    dir.init();
    let plan = dir.plan();
    assert!(
        plan.stdout
            .contains("Plan: 3 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.describe()
    );
    dir.apply().success();
    dir.assert_no_changes();

    let mut rescan = scan_options;
    rescan
        .paths
        .push(dir.path().join("terraform.tfstate").display().to_string());
    let report = scan(&store, &rescan).unwrap().result;
    for f in report
        .findings
        .iter()
        .filter(|f| f.discovered.found.cidr.to_string().starts_with("10.1."))
    {
        assert_eq!(f.status, Status::Managed, "{f:?}");
    }
    assert!(report.orphans.is_empty(), "{:?}", report.orphans);
}
