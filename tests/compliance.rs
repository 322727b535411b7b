//! Compliance scans against a real SQLite store, with states in each provider's exact attribute
//! layout (tests/fixtures/compliance): the built-in rules, every classification, inputs and their
//! errors, user rules, adopting and releasing orphans.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tfipam::compliance::{
    adopt, parse_rule_file, parse_rule_option, release_orphans, scan, AdoptOptions, Finding,
    ReleaseOptions, Report, RuleSet, ScanOptions, ScanScope, Status,
};
use tfipam::ipam::{
    AddressFamily, AllocationRequest, NetmaskRule, NewIpam, NewPool, PoolCidrRequest, PoolUpdate,
    Tags,
};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compliance")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// The address space of the fixtures: 10.0.0.0/8 with child pools for AWS (10.1/16), Google
/// (10.2/16) and Azure (10.3/16), an IPv6 ULA pool, the AWS VPC's allocation 10.1.0.0/20 and an
/// allocation a killed run left behind (10.1.64.0/24).
struct World {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: SqliteStore,
    aws_pool: String,
    vpc_allocation: String,
    orphan: String,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipam.db");
    let store = SqliteStore::open(&path, SqliteOptions::new("platform-team")).unwrap();
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let scope = ipam.private_default_scope_id.clone();
    let pool = |source: Option<&str>, family, cidr: &str| {
        let pool = store
            .create_pool(&NewPool {
                source_pool_id: source.map(str::to_string),
                ..NewPool::new(&scope, family)
            })
            .unwrap();
        store
            .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(cidr.parse().unwrap()))
            .unwrap();
        pool.id
    };
    let corp = pool(None, AddressFamily::Ipv4, "10.0.0.0/8");
    let aws_pool = pool(Some(&corp), AddressFamily::Ipv4, "10.1.0.0/16");
    pool(Some(&corp), AddressFamily::Ipv4, "10.2.0.0/16");
    pool(Some(&corp), AddressFamily::Ipv4, "10.3.0.0/16");
    pool(None, AddressFamily::Ipv6, "fd00::/8");
    let vpc_allocation = store
        .allocate(&AllocationRequest {
            pool_id: aws_pool.clone(),
            cidr: Some("10.1.0.0/20".parse().unwrap()),
            tags: Tags::from([("Name".to_string(), "prod".to_string())]),
            ..AllocationRequest::default()
        })
        .unwrap()
        .id;
    let killed = SqliteStore::open(&path, SqliteOptions::new("killed-run")).unwrap();
    let orphan = killed
        .allocate(&AllocationRequest {
            pool_id: aws_pool.clone(),
            cidr: Some("10.1.64.0/24".parse().unwrap()),
            ..AllocationRequest::default()
        })
        .unwrap()
        .id;
    World {
        _dir: dir,
        path,
        store,
        aws_pool,
        vpc_allocation,
        orphan,
    }
}

impl World {
    /// A raw state holding the VPC's `ipam_allocation` (as the provider writes it).
    fn ipam_state(&self) -> String {
        let state = serde_json::json!({
            "version": 4, "terraform_version": "1.11.4", "serial": 3,
            "lineage": "9e0d8c4e-1111-4b4b-8c8c-2a2a2a2a2a2a", "outputs": {},
            "resources": [{
                "mode": "managed", "type": "ipam_allocation", "name": "prod_vpc",
                "provider": "provider[\"registry.terraform.io/ipam-rs/ipam\"]",
                "instances": [{"schema_version": 0, "attributes": {
                    "cidr": "10.1.0.0/20", "description": "", "disallowed_cidrs": null,
                    "id": self.vpc_allocation, "netmask_length": 20,
                    "pool_id": self.aws_pool, "tags": {"Name": "prod"}
                }, "sensitive_attributes": []}]
            }],
            "check_results": null
        });
        let path = self.path.with_file_name("ipam.tfstate");
        std::fs::write(&path, state.to_string()).unwrap();
        path.display().to_string()
    }

    fn scan(&self, paths: Vec<String>) -> (Report, String, u8) {
        let out = scan(&self.store, &options(paths)).unwrap();
        (out.result, out.output, out.exit_code)
    }
}

fn options(paths: Vec<String>) -> ScanOptions {
    ScanOptions {
        paths,
        ..ScanOptions::default()
    }
}

/// `(cidr, status)` of every finding of one address.
fn of(report: &Report, address: &str) -> Vec<(String, Status)> {
    report
        .findings
        .iter()
        .filter(|f| f.discovered.address == address)
        .map(|f| (f.discovered.found.cidr.to_string(), f.status))
        .collect()
}

fn finding<'a>(report: &'a Report, address: &str, cidr: &str) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| f.discovered.address == address && f.discovered.found.cidr.to_string() == cidr)
        .unwrap_or_else(|| panic!("no finding {address} {cidr} in {:#?}", report.findings))
}

use Status::*;

#[test]
fn aws_state_every_attribute_and_classification() {
    let w = world();
    let (report, text, code) = w.scan(vec![fixture("aws.tfstate"), w.ipam_state()]);
    let expected: &[(&str, &[(&str, Status)])] = &[
        (
            "aws_vpc.prod",
            &[
                ("10.1.0.0/20", Managed),
                ("2600:1f18:1234:5600::/56", Outside),
            ],
        ),
        (
            "aws_subnet.prod[0]",
            &[
                ("10.1.0.0/24", Managed),
                ("2600:1f18:1234:5600::/64", Outside),
            ],
        ),
        ("aws_subnet.prod[1]", &[("10.1.1.0/24", Managed)]),
        (
            "aws_vpc_ipv4_cidr_block_association.extra",
            &[("10.1.32.0/20", Unmanaged)],
        ),
        (
            "aws_vpc_ipv6_cidr_block_association.extra_v6",
            &[("2600:1f18:1234:5700::/56", Outside)],
        ),
        // VPC → subnet is a parent and its child, not an overlap
        ("module.legacy.aws_vpc.this", &[("10.1.16.0/20", Unmanaged)]),
        (
            "module.legacy.aws_subnet.this[\"a\"]",
            &[("10.1.16.0/24", Unmanaged)],
        ),
        ("aws_default_vpc.default", &[("172.31.0.0/16", Outside)]),
        ("aws_default_subnet.az1", &[("172.31.0.0/20", Outside)]),
        ("ipam_allocation.prod_vpc", &[("10.1.0.0/20", Managed)]),
    ];
    for (address, cidrs) in expected {
        let want: Vec<(String, Status)> =
            cidrs.iter().map(|(c, st)| (c.to_string(), *st)).collect();
        assert_eq!(of(&report, address), want, "{address}");
    }
    assert_eq!(
        finding(&report, "aws_vpc.prod", "10.1.0.0/20").allocation_id,
        Some(w.vpc_allocation.clone())
    );
    assert!(finding(&report, "aws_subnet.prod[1]", "10.1.1.0/24")
        .detail
        .contains("inside allocation"));
    assert_eq!(
        finding(&report, "module.legacy.aws_vpc.this", "10.1.16.0/20").pool_id,
        Some(w.aws_pool.clone())
    );
    // data sources read networks, they do not hold them
    assert!(of(&report, "data.aws_vpc.shared").is_empty());
    assert_eq!(code, 1, "unmanaged CIDRs fail the gate:\n{text}");
    assert!(text.contains("ADDRESS"), "{text}");
    assert!(
        text.contains(
            "4 managed, 3 unmanaged, 0 overlapping, 0 noncompliant, 5 outside, 0 ignored"
        ),
        "{text}"
    );
    // the killed run's allocation is held by no state: orphaned, with its actor
    assert_eq!(report.orphans.len(), 1);
    assert_eq!(report.orphans[0].allocation.id, w.orphan);
    assert_eq!(report.orphans[0].actor, "killed-run");
    assert!(
        text.contains(&w.orphan) && text.contains("killed-run"),
        "{text}"
    );
}

#[test]
fn google_show_json_nested_modules_secondary_ranges_and_ipv6() {
    let w = world();
    let (report, _, _) = w.scan(vec![fixture("google.json")]);
    let s = |c: &str, st| (c.to_string(), st);
    assert_eq!(
        of(
            &report,
            "module.gke.google_compute_subnetwork.nodes[\"europe-west1\"]"
        ),
        vec![
            s("10.2.0.0/20", Unmanaged),
            s("10.2.64.0/18", Unmanaged),
            s("10.2.16.0/20", Unmanaged)
        ]
    );
    let pods = finding(
        &report,
        "module.gke.google_compute_subnetwork.nodes[\"europe-west1\"]",
        "10.2.64.0/18",
    );
    assert_eq!(
        pods.discovered.found.attribute,
        "secondary_ip_range[0].ip_cidr_range"
    );
    // ipv6_cidr_range and internal_ipv6_prefix name the same range of the same subnetwork
    assert_eq!(
        of(
            &report,
            "module.gke.module.internal.google_compute_subnetwork.ula"
        ),
        vec![
            s("10.2.32.0/24", Unmanaged),
            s("fd20:a1b:c2d:4000::/64", Unmanaged),
            s("fd20:a1b:c2d:4000::/64", Unmanaged)
        ]
    );
    assert_eq!(
        of(&report, "google_compute_subnetwork.edge"),
        vec![
            s("10.2.48.0/24", Unmanaged),
            s("2600:1900:4010:a3c::/64", Outside),
            s("2600:1900:4010:a3c::/64", Outside)
        ]
    );
    let attributes: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.discovered.address == "google_compute_subnetwork.edge")
        .map(|f| f.discovered.found.attribute.as_str())
        .collect();
    assert_eq!(
        attributes,
        ["ip_cidr_range", "ipv6_cidr_range", "external_ipv6_prefix"]
    );
}

#[test]
fn azure_address_space_subnets_and_an_overlapping_spoke() {
    let w = world();
    let (report, text, code) = w.scan(vec![fixture("azure.tfstate")]);
    let s = |c: &str, st| (c.to_string(), st);
    // the spoke's space lies inside the hub's: both overlap, each naming the other
    assert_eq!(
        of(&report, "azurerm_virtual_network.hub"),
        vec![
            s("10.3.0.0/16", Overlapping),
            s("fd00:3::/48", Unmanaged),
            s("10.3.1.0/24", Unmanaged),
            s("fd00:3:0:1::/64", Unmanaged)
        ]
    );
    let spoke = finding(
        &report,
        "azurerm_virtual_network.spoke[\"eu\"]",
        "10.3.128.0/17",
    );
    assert_eq!(spoke.status, Overlapping);
    assert!(
        spoke.conflicts[0].starts_with("azurerm_virtual_network.hub (10.3.0.0/16) in "),
        "{:?}",
        spoke.conflicts
    );
    // the subnet (also echoed in the network's `subnet` list) is the hub's own
    assert_eq!(
        of(&report, "azurerm_subnet.app"),
        vec![s("10.3.1.0/24", Unmanaged), s("fd00:3:0:1::/64", Unmanaged)]
    );
    assert_eq!(
        finding(&report, "azurerm_virtual_network.hub", "10.3.1.0/24")
            .discovered
            .found
            .attribute,
        "subnet[0].address_prefixes[0]"
    );
    assert_eq!(code, 1);
    assert!(text.contains("overlapping"), "{text}");
}

#[test]
fn the_hub_equal_to_a_pool_cidr_is_managed_once_the_spoke_is_ignored() {
    let w = world();
    let mut options = options(vec![fixture("azure.tfstate")]);
    options.scope.ignore = vec!["azurerm_virtual_network.spoke".into(), "fd00::/8".into()];
    let report = scan(&w.store, &options).unwrap().result;
    let hub = finding(&report, "azurerm_virtual_network.hub", "10.3.0.0/16");
    assert_eq!(hub.status, Managed);
    assert!(
        hub.detail.starts_with("pool CIDR ipam-pool-cidr-"),
        "{}",
        hub.detail
    );
    assert_eq!(
        finding(
            &report,
            "azurerm_virtual_network.spoke[\"eu\"]",
            "10.3.128.0/17"
        )
        .status,
        Ignored
    );
    assert_eq!(
        finding(&report, "azurerm_subnet.app", "fd00:3:0:1::/64").status,
        Ignored
    );
}

#[test]
fn overlaps_across_states_and_with_allocations_name_the_other_side() {
    let w = world();
    let clash = w.path.with_file_name("clash.json");
    // someone else's network inside the legacy VPC, and one holding the orphan's space
    std::fs::write(
        &clash,
        r#"{"format_version":"1.0","values":{"root_module":{"resources":[
          {"address":"google_compute_subnetwork.clash","mode":"managed","type":"google_compute_subnetwork","name":"clash",
           "values":{"ip_cidr_range":"10.1.16.128/25","network":"https://www.googleapis.com/compute/v1/projects/x/global/networks/other","secondary_ip_range":[]}},
          {"address":"aws_vpc.squatter","mode":"managed","type":"aws_vpc","name":"squatter",
           "values":{"id":"vpc-0999","cidr_block":"10.1.64.0/22","ipv6_cidr_block":""}}]}}}"#,
    )
    .unwrap();
    let (report, text, code) = w.scan(vec![
        fixture("aws.tfstate"),
        clash.display().to_string(),
        w.ipam_state(),
    ]);
    let clash_finding = finding(&report, "google_compute_subnetwork.clash", "10.1.16.128/25");
    assert_eq!(clash_finding.status, Overlapping);
    assert_eq!(
        clash_finding.conflicts.len(),
        2,
        "{:?}",
        clash_finding.conflicts
    );
    let legacy = finding(&report, "module.legacy.aws_vpc.this", "10.1.16.0/20");
    assert_eq!(legacy.status, Overlapping);
    assert!(legacy.conflicts[0].starts_with("google_compute_subnetwork.clash (10.1.16.128/25) in "));
    // a VPC holding space handed out to someone else: overlaps that allocation
    let squatter = finding(&report, "aws_vpc.squatter", "10.1.64.0/22");
    assert_eq!(squatter.status, Overlapping);
    assert_eq!(
        squatter.conflicts,
        vec![format!("allocation {} (10.1.64.0/24)", w.orphan)]
    );
    assert_eq!(code, 1);
    assert!(text.contains(&format!("allocation {}", w.orphan)), "{text}");
}

/// A subnet whose ARN puts it in eu-west-1, allocated from a us-east-1 pool, is noncompliant;
/// the same subnet in us-east-1 (by its availability zone) is managed.
#[test]
fn a_resource_in_another_region_than_its_pool_locale_is_noncompliant() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("ipam.db"), SqliteOptions::new("test")).unwrap();
    let ipam = store
        .create_ipam(&NewIpam {
            operating_regions: vec!["us-east-1".into(), "eu-west-1".into()],
            ..NewIpam::default()
        })
        .unwrap();
    let pool = store
        .create_pool(&NewPool {
            locale: Some("us-east-1".into()),
            ..NewPool::new(&ipam.private_default_scope_id, AddressFamily::Ipv4)
        })
        .unwrap();
    store
        .provision_pool_cidr(
            &pool.id,
            PoolCidrRequest::Cidr("10.1.0.0/16".parse().unwrap()),
        )
        .unwrap();
    for cidr in ["10.1.1.0/24", "10.1.2.0/24"] {
        store
            .allocate(&AllocationRequest {
                pool_id: pool.id.clone(),
                cidr: Some(cidr.parse().unwrap()),
                ..AllocationRequest::default()
            })
            .unwrap();
    }
    let subnet = |name: &str, cidr: &str, where_: (&str, &str)| {
        serde_json::json!({
            "mode": "managed", "type": "aws_subnet", "name": name,
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": [{"schema_version": 1, "attributes": {
                "cidr_block": cidr, "id": format!("subnet-{name}"), where_.0: where_.1
            }, "sensitive_attributes": []}]
        })
    };
    let state = serde_json::json!({
        "version": 4, "terraform_version": "1.11.4", "serial": 1,
        "lineage": "9e0d8c4e-2222-4b4b-8c8c-2a2a2a2a2a2a", "outputs": {},
        "resources": [
            subnet("dublin", "10.1.1.0/24",
                ("arn", "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-dublin")),
            subnet("virginia", "10.1.2.0/24", ("availability_zone", "us-east-1a")),
        ],
        "check_results": null
    });
    let path = dir.path().join("regions.tfstate");
    std::fs::write(&path, state.to_string()).unwrap();
    let out = scan(&store, &options(vec![path.display().to_string()])).unwrap();
    let dublin = finding(&out.result, "aws_subnet.dublin", "10.1.1.0/24");
    assert_eq!(dublin.status, Noncompliant);
    assert_eq!(
        dublin.detail,
        format!(
            "aws_subnet.dublin is in region eu-west-1, but its allocation's pool {} has locale us-east-1",
            pool.id
        )
    );
    assert_eq!(
        finding(&out.result, "aws_subnet.virginia", "10.1.2.0/24").status,
        Managed
    );
    assert_eq!(out.exit_code, 1);
}

#[test]
fn rules_changed_after_allocation_make_it_noncompliant() {
    let w = world();
    w.store
        .update_pool(
            &w.aws_pool,
            &PoolUpdate {
                netmask: Some(NetmaskRule {
                    min: Some(22),
                    max: Some(28),
                    default: None,
                }),
                allocation_resource_tags: Some(Tags::from([("env".into(), "prod".into())])),
                ..PoolUpdate::default()
            },
        )
        .unwrap();
    let (report, text, code) = w.scan(vec![fixture("aws.tfstate"), w.ipam_state()]);
    let vpc = finding(&report, "aws_vpc.prod", "10.1.0.0/20");
    assert_eq!(vpc.status, Noncompliant);
    assert!(vpc.detail.contains("/20"), "{}", vpc.detail);
    assert!(vpc.detail.contains("env=prod"), "{}", vpc.detail);
    assert_eq!(
        finding(&report, "ipam_allocation.prod_vpc", "10.1.0.0/20").status,
        Noncompliant
    );
    assert_eq!(code, 1);
    assert!(text.contains("2 noncompliant"), "{text}");
}

#[test]
fn directories_recursively_and_bad_files_named_while_the_others_are_scanned() {
    let w = world();
    let (report, text, code) = w.scan(vec![fixtures().display().to_string()]);
    assert_eq!(report.inputs.files, 3, "{text}");
    let errors: BTreeMap<String, String> = report
        .inputs
        .errors
        .iter()
        .map(|e| {
            let name = Path::new(&e.file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, e.message.clone())
        })
        .collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(errors["encrypted.tfstate"].contains("encrypted OpenTofu state"));
    assert!(errors["encrypted.tfstate"].contains("tofu show -json"));
    assert!(errors["old.tfstate"].contains("format version 3"));
    assert!(errors["not-a-state.json"].contains("is not a Terraform state"));
    assert!(errors["notes.tfstate"].contains("not JSON"));
    assert!(text.contains("bad/old.tfstate"), "{text}");
    assert!(!of(&report, "azurerm_subnet.app").is_empty());
    assert!(!of(&report, "aws_vpc.prod").is_empty());
    assert_eq!(code, 2, "an unreadable state must not pass a gate");

    let (_, text, code) = w.scan(vec![fixture("missing.tfstate")]);
    assert_eq!(code, 2);
    assert!(text.contains("missing.tfstate cannot read it"), "{text}");
}

#[test]
fn standard_input_and_json_output() {
    let w = world();
    let mut options = options(vec!["-".into()]);
    options.stdin = Some(std::fs::read(fixture("google.json")).unwrap());
    options.json = true;
    let out = scan(&w.store, &options).unwrap();
    let json: serde_json::Value = serde_json::from_str(&out.output).unwrap();
    assert_eq!(json["summary"]["unmanaged"], 7);
    assert_eq!(json["summary"]["outside"], 2);
    assert_eq!(json["findings"][0]["file"], "-");
    assert_eq!(
        json["findings"][0]["address"],
        "google_compute_subnetwork.edge"
    );
    assert_eq!(json["findings"][0]["status"], "unmanaged");
    assert_eq!(out.exit_code, 1);
}

#[test]
fn user_rules_from_the_command_line_and_a_file() {
    let w = world();
    let state = w.path.with_file_name("other.tfstate");
    std::fs::write(
        &state,
        r#"{"version":4,"serial":1,"lineage":"l","outputs":{},"resources":[
          {"mode":"managed","type":"oci_core_vcn","name":"main","provider":"provider[\"registry.terraform.io/oracle/oci\"]",
           "instances":[{"schema_version":0,"attributes":{"id":"ocid1.vcn.oc1..aaaa","cidr_blocks":["10.1.128.0/20"],"cidr_block":"10.1.128.0/20"}}]},
          {"mode":"managed","type":"openstack_networking_subnet_v2","name":"lab","provider":"provider[\"registry.terraform.io/terraform-provider-openstack/openstack\"]",
           "instances":[{"index_key":0,"schema_version":0,"attributes":{"id":"9f0c","cidr":"10.1.144.0/24","network_id":"n1"}}]}]}"#,
    )
    .unwrap();
    let (report, _, _) = w.scan(vec![state.display().to_string()]);
    assert!(report.findings.is_empty(), "no rule, nothing found");

    let mut options = options(vec![state.display().to_string()]);
    let mut rules = RuleSet::built_in();
    rules.add(parse_rule_option("oci_core_vcn:cidr_blocks[*]").unwrap());
    let file = parse_rule_file("rules.txt", "openstack_networking_subnet_v2 cidr\n").unwrap();
    file.rules.into_iter().for_each(|r| rules.add(r));
    options.rules = rules;
    let report = scan(&w.store, &options).unwrap().result;
    assert_eq!(
        of(&report, "oci_core_vcn.main"),
        vec![("10.1.128.0/20".into(), Unmanaged)]
    );
    assert_eq!(
        of(&report, "openstack_networking_subnet_v2.lab[0]"),
        vec![("10.1.144.0/24".into(), Unmanaged)]
    );
}

#[test]
fn adopt_records_unmanaged_networks_in_one_transaction_and_a_rescan_shows_them_managed() {
    let w = world();
    let paths = vec![fixture("aws.tfstate"), w.ipam_state()];
    let mut options = AdoptOptions {
        scan: options(paths.clone()),
        pool_id: w.aws_pool.clone(),
        ..AdoptOptions::default()
    };
    let dry = adopt(&w.store, &options).unwrap();
    // the legacy VPC covers its subnet: two adoptions, not three
    let cidrs: Vec<String> = dry
        .result
        .iter()
        .map(|a| a.request.cidr.unwrap().to_string())
        .collect();
    assert_eq!(cidrs, ["10.1.16.0/20", "10.1.32.0/20"], "{}", dry.output);
    assert!(
        dry.output.contains("dry run: nothing recorded"),
        "{}",
        dry.output
    );
    assert_eq!(w.store.list_allocations(&w.aws_pool).unwrap().len(), 2);

    options.yes = true;
    let done = adopt(&w.store, &options).unwrap();
    assert_eq!(done.exit_code, 0, "{}", done.output);
    let legacy = done.result[0].allocation.clone().unwrap();
    assert_eq!(legacy.pool_id, w.aws_pool);
    assert_eq!(
        legacy.tags["ipam:source-address"],
        "module.legacy.aws_vpc.this"
    );
    assert_eq!(legacy.tags["ipam:source-file"], fixture("aws.tfstate"));
    assert!(
        done.output.contains(&format!(
        "import {{\n  to = ipam_allocation.adopted_module_legacy_aws_vpc_this\n  id = \"{}\"\n}}",
        legacy.id
    )),
        "{}",
        done.output
    );
    assert!(
        done.output.contains("cidr        = \"10.1.16.0/20\""),
        "{}",
        done.output
    );

    let (report, text, code) = w.scan(paths);
    assert_eq!(
        finding(&report, "module.legacy.aws_vpc.this", "10.1.16.0/20").status,
        Managed
    );
    assert_eq!(
        finding(
            &report,
            "module.legacy.aws_subnet.this[\"a\"]",
            "10.1.16.0/24"
        )
        .status,
        Managed
    );
    assert_eq!(
        finding(
            &report,
            "aws_vpc_ipv4_cidr_block_association.extra",
            "10.1.32.0/20"
        )
        .status,
        Managed
    );
    assert_eq!(code, 0, "{text}");
    // adopted allocations are held by the resources they came from: not orphans
    assert_eq!(report.orphans.len(), 1);
}

#[test]
fn adopt_refuses_overlapping_networks_and_rules_the_pool_enforces() {
    let w = world();
    w.store
        .update_pool(
            &w.aws_pool,
            &PoolUpdate {
                netmask: Some(NetmaskRule {
                    min: Some(20),
                    max: Some(28),
                    default: None,
                }),
                ..PoolUpdate::default()
            },
        )
        .unwrap();
    let wide = w.path.with_file_name("wide.json");
    std::fs::write(
        &wide,
        r#"{"format_version":"1.0","values":{"root_module":{"resources":[
          {"address":"aws_vpc.wide","mode":"managed","type":"aws_vpc","name":"wide",
           "values":{"id":"vpc-0777","cidr_block":"10.1.128.0/17","ipv6_cidr_block":""}},
          {"address":"aws_vpc.other","mode":"managed","type":"aws_vpc","name":"other",
           "values":{"id":"vpc-0888","cidr_block":"10.1.32.0/24","ipv6_cidr_block":""}}]}}}"#,
    )
    .unwrap();
    let options = AdoptOptions {
        scan: options(vec![fixture("aws.tfstate"), wide.display().to_string()]),
        pool_id: w.aws_pool.clone(),
        yes: true,
        ..AdoptOptions::default()
    };
    let before = w.store.list_allocations(&w.aws_pool).unwrap();
    let out = adopt(&w.store, &options).unwrap();
    assert_eq!(out.exit_code, 1, "{}", out.output);
    let result: BTreeMap<&str, Option<&str>> = out
        .result
        .iter()
        .map(|a| (a.address.as_str(), a.refused.as_deref()))
        .collect();
    assert!(
        result["aws_vpc.wide"].unwrap().contains("/17"),
        "{result:?}"
    );
    assert!(
        result["aws_vpc.other"]
            .unwrap()
            .starts_with("overlaps aws_vpc_ipv4_cidr_block_association.extra"),
        "{result:?}"
    );
    assert!(result["module.legacy.aws_vpc.this"].is_none(), "{result:?}");
    assert_eq!(
        w.store.list_allocations(&w.aws_pool).unwrap().len(),
        before.len() + 1,
        "only the legacy VPC was recorded"
    );
}

#[test]
fn release_orphans_lists_them_and_releases_only_when_confirmed() {
    let w = world();
    let mut options = ReleaseOptions {
        scan: options(vec![fixture("aws.tfstate"), w.ipam_state()]),
        yes: false,
    };
    let listed = release_orphans(&w.store, &options).unwrap();
    assert_eq!(listed.result.len(), 1);
    assert!(
        listed.output.contains("run again with --yes"),
        "{}",
        listed.output
    );
    assert!(
        w.store.get_allocation(&w.orphan).is_ok(),
        "nothing released without --yes"
    );

    // a state that cannot be read might hold them: nothing is released
    options.yes = true;
    options.scan.paths.push(fixture("bad/old.tfstate"));
    let refused = release_orphans(&w.store, &options).unwrap();
    assert_eq!(refused.exit_code, 2);
    assert!(w.store.get_allocation(&w.orphan).is_ok());

    options.scan.paths.pop();
    let released = release_orphans(&w.store, &options).unwrap();
    assert_eq!(released.exit_code, 0);
    assert!(
        released.output.contains("released 1 orphaned allocations"),
        "{}",
        released.output
    );
    assert!(w.store.get_allocation(&w.orphan).is_err());
    assert!(w.store.get_allocation(&w.vpc_allocation).is_ok());
    let again = release_orphans(&w.store, &options).unwrap();
    assert!(again.result.is_empty());
}

#[test]
fn several_ipams_need_a_scope_and_a_given_scope_is_used() {
    let w = world();
    w.store.create_ipam(&NewIpam::default()).unwrap();
    let err = scan(&w.store, &options(vec![fixture("aws.tfstate")])).unwrap_err();
    assert!(err.to_string().contains("2 IPAMs"), "{err}");
    let first = &w.store.list_ipams().unwrap()[0];
    let mut options = options(vec![fixture("aws.tfstate")]);
    options.scope = ScanScope {
        scope_id: Some(first.private_default_scope_id.clone()),
        ..ScanScope::default()
    };
    let _ = scan(&w.store, &options).unwrap();
}

#[test]
fn command_line_arguments_reach_the_commands() {
    use tfipam::compliance::cli::run;
    let w = world();
    let paths = vec![fixture("aws.tfstate"), w.ipam_state()];
    let opts = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let out = run(&w.store, "scan", paths.clone(), &opts(&[]), false).unwrap();
    assert_eq!(out.exit_code, 1);
    assert!(out.output.contains("3 unmanaged"), "{}", out.output);
    let json = run(&w.store, "scan", paths.clone(), &opts(&[]), true).unwrap();
    assert!(json.output.starts_with('{'), "{}", json.output);

    // ignore list and rules from the command line and a rule file
    let rules = w.path.with_file_name("rules.txt");
    std::fs::write(&rules, "ignore module.legacy\n").unwrap();
    let out = run(
        &w.store,
        "scan",
        paths.clone(),
        &opts(&[
            ("rules", rules.to_str().unwrap()),
            ("ignore", "10.1.32.0/20, 172.16.0.0/12"),
            ("rule", "oci_core_vcn:cidr_blocks,hcloud_network:ip_range"),
        ]),
        false,
    )
    .unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.output);
    assert!(
        out.output
            .contains("0 unmanaged, 0 overlapping, 0 noncompliant, 3 outside, 5 ignored"),
        "{}",
        out.output
    );

    // usage errors, each saying what to give
    let pool = w.aws_pool.as_str();
    type Options<'a> = &'a [(&'a str, &'a str)];
    let refused: &[(&str, bool, Options, &str)] = &[
        ("scan", true, &[("rule", "nocolon")], "separated by a colon"),
        ("scan", false, &[], "at least one state file"),
        ("adopt", true, &[], "--pool"),
        (
            "adopt",
            true,
            &[("pool", pool), ("tag", "team")],
            "KEY=VALUE",
        ),
        (
            "adopt",
            true,
            &[("pool", "ipam-pool-0000000000000000")],
            "ipam-pool-0000000000000000",
        ),
        ("release", true, &[], "--orphans"),
    ];
    for (command, with_paths, options, expected) in refused {
        let given = if *with_paths {
            paths.clone()
        } else {
            Vec::new()
        };
        let err = run(&w.store, command, given, &opts(options), false).unwrap_err();
        assert!(err.contains(expected), "{command} {options:?}: {err}");
    }

    let out = run(
        &w.store,
        "adopt",
        paths.clone(),
        &opts(&[
            ("pool", &w.aws_pool),
            ("tag", "team=net,env=prod"),
            ("yes", ""),
        ]),
        false,
    )
    .unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.output);
    assert!(
        out.output.contains("\"team\"") && out.output.contains("\"env\""),
        "{}",
        out.output
    );
    let out = run(
        &w.store,
        "release",
        paths.clone(),
        &opts(&[("orphans", ""), ("yes", "")]),
        false,
    )
    .unwrap();
    assert!(
        out.output.contains("released 1 orphaned allocations"),
        "{}",
        out.output
    );
    let out = run(&w.store, "scan", paths, &opts(&[]), false).unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.output);
}
