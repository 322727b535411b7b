//! The `ipam` command as an operator runs it: the built binary on databases made through the
//! store API and by a real `terraform apply`, its tables, its JSON field by field, its exit
//! codes, and that it never slows or blocks writers.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ipnet::IpNet;
use serde_json::{json, Value};
use support::ipam::{
    assert_nothing_beside_the_database, cidr, complete_example, database, output_strings, workdir,
};
use support::terraform;
use tfipam::ipam::{
    AddressFamily, AllocationRequest, CooldownMode, NetmaskRule, NewIpam, NewPool, PoolCidrRequest,
    ReleaseCooldown, Tags,
};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

/// Every `ipam` command: each must be in `--help` and have a section in docs/cli.md.
const COMMANDS: [&str; 14] = [
    "tree",
    "show",
    "allocations",
    "cidrs",
    "free",
    "audit",
    "util",
    "check",
    "backup",
    "copy",
    "map",
    "scan",
    "adopt",
    "release",
];

/// What `ipam` printed and how it exited.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    /// Asserts the exit code and that stderr says `text`.
    fn fails(self, code: i32, text: &str) {
        let ran = self.expect(code);
        assert!(
            ran.stderr.contains(text),
            "expected {text:?} in:\n{}",
            ran.stderr
        );
    }

    fn expect(self, code: i32) -> Ran {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The `ipam` command with `args`, run in `dir` with `env` added.
fn ipam_command(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ipam"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("IPAM_DATABASE")
        .env_remove("NO_COLOR");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Runs `command` to its end.
fn run(mut command: Command) -> Ran {
    let output = command.output().expect("starting ipam");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ipam_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Ran {
    run(ipam_command(dir, env, args))
}

/// `ipam --database DB ARGS…`.
fn ipam(db: &Path, args: &[&str]) -> Ran {
    let mut all = vec!["--database", db.to_str().expect("a UTF-8 path")];
    all.extend(args);
    ipam_in(Path::new(env!("CARGO_TARGET_TMPDIR")), &[], &all)
}

/// `ipam --database DB --json ARGS…`, expecting `code`.
fn ipam_json(db: &Path, code: i32, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend(args);
    ipam(db, &all).expect(code).json()
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The ids of a database made through the store API.
struct Seeded {
    ipam: String,
    private_scope: String,
    top: String,
    top_cidr: String,
    child: String,
    child_cidr: String,
    v6: String,
    /// The child pool's allocations: /24 "web" at 10.1.0.0, /22 "db" at 10.1.4.0.
    web: String,
    db: String,
}

/// top 10.0.0.0/8 → child 10.1.0.0/16 (carved) holding 10.1.0.0/24 and 10.1.4.0/22 (a /24
/// between them was allocated and released); an IPv6 pool fd00::/48 with one /56.
fn seed(path: &Path) -> (SqliteStore, Seeded) {
    let store = SqliteStore::open(path, SqliteOptions::new("seeder")).expect("store");
    let seeded = seed_into(&store);
    (store, seeded)
}

/// [`seed`] through any store.
fn seed_into(store: &dyn Store) -> Seeded {
    let ipam = store
        .create_ipam(&NewIpam {
            description: "test ipam".into(),
            tags: tags(&[("Team", "net")]),
            ..Default::default()
        })
        .expect("ipam");
    let scope = ipam.private_default_scope_id.clone();
    let mut top = NewPool::new(&scope, AddressFamily::Ipv4);
    top.description = "top".into();
    let top = store.create_pool(&top).expect("top pool");
    let top_cidr = store
        .provision_pool_cidr(&top.id, PoolCidrRequest::Cidr(cidr("10.0.0.0/8")))
        .expect("top cidr");
    let mut child = NewPool::new(&scope, AddressFamily::Ipv4);
    child.source_pool_id = Some(top.id.clone());
    child.description = "child".into();
    child.netmask = NetmaskRule {
        min: Some(16),
        max: Some(28),
        default: Some(24),
    };
    child.tags = tags(&[("Env", "prod")]);
    let child = store.create_pool(&child).expect("child pool");
    let child_cidr = store
        .provision_pool_cidr(&child.id, PoolCidrRequest::Cidr(cidr("10.1.0.0/16")))
        .expect("child cidr");
    let request = |cidr_text: &str, description: &str| AllocationRequest {
        pool_id: child.id.clone(),
        cidr: Some(cidr(cidr_text)),
        description: description.into(),
        tags: tags(&[("Name", description)]),
        ..Default::default()
    };
    let web = store.allocate(&request("10.1.0.0/24", "web")).expect("web");
    let gone = store
        .allocate(&request("10.1.1.0/24", "gone"))
        .expect("gone");
    let db = store.allocate(&request("10.1.4.0/22", "db")).expect("db");
    store.release_allocation(&gone.id).expect("release");
    let v6 = store
        .create_pool(&NewPool::new(&scope, AddressFamily::Ipv6))
        .expect("v6 pool");
    store
        .provision_pool_cidr(&v6.id, PoolCidrRequest::Cidr(cidr("fd00::/48")))
        .expect("v6 cidr");
    store
        .allocate(&AllocationRequest {
            pool_id: v6.id.clone(),
            netmask_length: Some(56),
            ..Default::default()
        })
        .expect("v6 allocation");
    Seeded {
        ipam: ipam.id,
        private_scope: scope,
        top: top.id,
        top_cidr: top_cidr.id,
        child: child.id,
        child_cidr: child_cidr.id,
        v6: v6.id,
        web: web.id,
        db: db.id,
    }
}

/// The text field `field` of each object in the JSON array `list`.
fn field_of_each<'v>(list: &'v Value, field: &str) -> Vec<&'v str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

fn find<'v>(list: &'v Value, key: &str, value: &str) -> &'v Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no element with {key} = {value} in {list}"))
}

/// The tree shows the IPAM's operating regions and each pool's locale (null in JSON for none).
#[test]
fn tree_shows_operating_regions_and_pool_locales() {
    let (_guard, path) = database();
    let store = SqliteStore::open(&path, SqliteOptions::new("seeder")).expect("store");
    let regional = store
        .create_ipam(&NewIpam {
            description: "regional".into(),
            operating_regions: vec!["us-east-1".into(), "eu-west-1".into()],
            ..Default::default()
        })
        .expect("ipam");
    let scope = regional.private_default_scope_id.clone();
    let global = store
        .create_pool(&NewPool::new(&scope, AddressFamily::Ipv4))
        .expect("global pool");
    let mut virginia = NewPool::new(&scope, AddressFamily::Ipv4);
    virginia.locale = Some("us-east-1".into());
    virginia.description = "virginia".into();
    let virginia = store.create_pool(&virginia).expect("regional pool");

    let tree = ipam_json(&path, 0, &["tree"]);
    let root = &tree["ipams"][0];
    assert_eq!(root["operating_regions"], json!(["eu-west-1", "us-east-1"]));
    let pools = &find(&root["scopes"], "id", &scope)["pools"];
    assert_eq!(find(pools, "id", &virginia.id)["locale"], "us-east-1");
    assert_eq!(find(pools, "id", &global.id)["locale"], Value::Null);

    let text = ipam(&path, &["tree"]).expect(0).stdout;
    let line = |id: &str| text.lines().find(|l| l.contains(id)).unwrap();
    assert!(
        line(&regional.id).contains("regional; operating regions eu-west-1, us-east-1"),
        "{text}"
    );
    assert!(
        line(&virginia.id).contains("ipv4, locale us-east-1: virginia"),
        "{text}"
    );
    assert!(!line(&global.id).contains("locale"), "{text}");
}

#[test]
fn tree_shows_every_level_with_counts_usage_guardrails_and_tags() {
    let (_guard, path) = database();
    let (_store, s) = seed(&path);
    let tree = ipam_json(&path, 0, &["tree"]);
    let root = &tree["ipams"][0];
    assert_eq!(root["id"], s.ipam.as_str());
    assert_eq!(root["kind"], "ipam");
    assert_eq!(root["tags"]["Team"], "net");
    assert_eq!(root["scopes"].as_array().unwrap().len(), 2);
    let scope = find(&root["scopes"], "id", &s.private_scope);
    assert_eq!(scope["scope_type"], "private");
    assert_eq!(scope["is_default"], true);
    let top = find(&scope["pools"], "id", &s.top);
    assert_eq!(top["address_family"], "ipv4");
    assert_eq!(top["allocation_count"], 1, "the child pool's CIDR");
    assert_eq!(top["used_addresses"], 65_536);
    assert_eq!(top["total_addresses"], 16_777_216);
    assert_eq!(top["free_addresses"], 16_777_216 - 65_536);
    assert_eq!(top["utilization_percent"], 0.39);
    assert_eq!(top["cidrs"][0]["cidr"], "10.0.0.0/8");
    assert_eq!(top["cidrs"][0]["id"], s.top_cidr.as_str());
    assert_eq!(top["cidrs"][0]["allocation_count"], 1);
    let child = find(&top["pools"], "id", &s.child);
    assert_eq!(child["source_pool_id"], s.top.as_str());
    assert_eq!(child["depth"], 1);
    assert_eq!(child["allocation_count"], 2);
    assert_eq!(child["used_addresses"], 256 + 1024);
    assert_eq!(child["total_addresses"], 65_536);
    assert_eq!(child["netmask_length"]["min"], 16);
    assert_eq!(child["netmask_length"]["max"], 28);
    assert_eq!(child["netmask_length"]["default"], 24);
    assert_eq!(child["tags"]["Env"], "prod");
    assert_eq!(child["cidrs"][0]["id"], s.child_cidr.as_str());
    assert_eq!(
        child["cidrs"][0]["parent_allocation_id"]
            .as_str()
            .map(|a| a.starts_with("ipam-alloc-")),
        Some(true)
    );
    let v6 = find(&scope["pools"], "id", &s.v6);
    assert_eq!(v6["address_family"], "ipv6");
    // exact integers even beyond 2^64
    assert_eq!(v6["used_addresses"].to_string(), (1u128 << 72).to_string());
    assert_eq!(v6["total_addresses"].to_string(), (1u128 << 80).to_string());

    // the table: one line per object, nested, columns aligned under their headers
    let text = ipam(&path, &["tree"]).expect(0).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{text}");
    for id in [
        &s.ipam,
        &s.private_scope,
        &s.top,
        &s.child,
        &s.v6,
        &s.top_cidr,
    ] {
        assert_eq!(
            lines.iter().filter(|l| l.contains(id.as_str())).count(),
            1,
            "{id} in\n{text}"
        );
    }
    let child_line = lines.iter().find(|l| l.contains(&s.child)).unwrap();
    assert!(
        child_line.contains("│   ├── ") || child_line.contains("│   └── "),
        "{text}"
    );
    assert!(child_line.contains("/16–/28 default /24") && child_line.contains("Env=prod"));
    assert!(child_line.contains("2.0%"), "{child_line}");
    let column = |line: &str, text: &str| line[..line.find(text).unwrap()].chars().count();
    assert_eq!(
        column(child_line, "/16–/28"),
        column(lines[0], "GUARDRAILS"),
        "aligned columns:\n{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );

    // a subtree, and ids that name nothing
    let sub = ipam_json(&path, 0, &["tree", &s.child]);
    assert_eq!(sub["kind"], "pool");
    assert_eq!(sub["id"], s.child.as_str());
    ipam(&path, &["tree", "ipam-pool-0000000000000000"])
        .fails(2, "pool ipam-pool-0000000000000000 does not exist");
    ipam(&path, &["tree", "banana"]).fails(2, "\"banana\" is not an id");
}

#[test]
fn show_finds_objects_and_what_holds_a_cidr_or_an_address() {
    let (_guard, path) = database();
    let (_store, s) = seed(&path);
    // an allocation: in full, its pool chain to the scope, its history
    let web = ipam_json(&path, 0, &["show", &s.web]);
    assert_eq!(web["kind"], "allocation");
    assert_eq!(web["cidr"], "10.1.0.0/24");
    assert_eq!(web["description"], "web");
    assert_eq!(web["tags"]["Name"], "web");
    assert_eq!(web["resource_type"], "allocation");
    let chain = field_of_each(&web["pool_chain"]["pools"], "pool_id");
    assert_eq!(chain, [s.child.as_str(), s.top.as_str()]);
    assert_eq!(web["pool_chain"]["pools"][0]["pool_cidr"], "10.1.0.0/16");
    assert_eq!(web["pool_chain"]["pools"][1]["pool_cidr"], "10.0.0.0/8");
    assert_eq!(web["pool_chain"]["scope_id"], s.private_scope.as_str());
    assert_eq!(web["pool_chain"]["ipam_id"], s.ipam.as_str());
    assert_eq!(web["history"][0]["action"], "allocate");
    assert_eq!(web["history"][0]["actor"], "seeder");
    assert_eq!(web["history"][0]["object_id"], s.web.as_str());

    // an address inside it
    let held = ipam_json(&path, 0, &["show", "10.1.0.77"]);
    assert_eq!(held["query"], "10.1.0.77/32");
    assert_eq!(held["holders"][0]["state"], "allocated");
    assert_eq!(held["holders"][0]["allocation"]["id"], s.web.as_str());
    assert_eq!(held["holders"][0]["history"][0]["action"], "allocate");
    let text = ipam(&path, &["show", "10.1.0.77"]).expect(0).stdout;
    assert!(
        text.starts_with(&format!(
            "10.1.0.77/32 is allocated: {} (10.1.0.0/24)",
            s.web
        )),
        "{text}"
    );
    // a CIDR holding allocations, a free one, one no pool holds
    let partly = ipam_json(&path, 0, &["show", "10.1.0.0/21"]);
    assert_eq!(partly["holders"][0]["state"], "partly_allocated");
    let inside = field_of_each(&partly["holders"][0]["inside"], "cidr");
    assert_eq!(inside, ["10.1.0.0/24", "10.1.4.0/22"]);
    let free = ipam_json(&path, 0, &["show", "10.1.1.0/24"]);
    assert_eq!(free["holders"][0]["state"], "free");
    assert_eq!(
        free["holders"][0]["pool_chain"]["pools"][0]["pool_id"],
        s.child.as_str()
    );
    let top_only = ipam_json(&path, 0, &["show", "10.200.0.0/16"]);
    assert_eq!(top_only["holders"][0]["state"], "free");
    assert_eq!(
        top_only["holders"][0]["pool_chain"]["pools"][0]["pool_id"],
        s.top.as_str()
    );
    let nowhere = ipam_json(&path, 1, &["show", "192.168.0.1"]);
    assert_eq!(nowhere["holders"], Value::Array(vec![]));
    assert!(ipam(&path, &["show", "192.168.0.1"])
        .expect(1)
        .stdout
        .contains("no pool holds 192.168.0.1/32"));
    let v6 = ipam_json(&path, 0, &["show", "fd00::1"]);
    assert_eq!(v6["holders"][0]["allocation"]["cidr"], "fd00::/56");

    // each kind of id
    let pool = ipam_json(&path, 0, &["show", &s.child]);
    assert_eq!(pool["kind"], "pool");
    assert_eq!(pool["used_addresses"], 1280);
    assert_eq!(pool["cidrs"][0]["cidr"], "10.1.0.0/16");
    let actions: BTreeSet<&str> = field_of_each(&pool["history"], "action")
        .into_iter()
        .collect();
    assert!(
        ["create_pool", "provision", "allocate", "release"]
            .iter()
            .all(|a| actions.contains(a)),
        "{actions:?}"
    );
    let cidr_of_pool = ipam_json(&path, 0, &["show", &s.child_cidr]);
    assert_eq!(cidr_of_pool["kind"], "pool_cidr");
    assert_eq!(cidr_of_pool["used_addresses"], 1280);
    assert_eq!(cidr_of_pool["history"][0]["action"], "provision");
    let scope = ipam_json(&path, 0, &["show", &s.private_scope]);
    assert_eq!(scope["kind"], "scope");
    assert_eq!(scope["pools"].as_array().unwrap().len(), 3);
    let ipam_value = ipam_json(&path, 0, &["show", &s.ipam]);
    assert_eq!(ipam_value["scopes"].as_array().unwrap().len(), 2);

    // errors
    ipam(&path, &["show", "ipam-alloc-0000000000000001"])
        .fails(2, "allocation ipam-alloc-0000000000000001 does not exist");
    ipam(&path, &["show", "10.1.0.1/24"]).fails(2, "10.1.0.0/24");
    ipam(&path, &["show", "web"]).fails(2, "neither an id, a CIDR");
    ipam(&path, &["show"]).expect(2);
}

#[test]
fn allocations_cidrs_and_free_space_of_a_pool() {
    let (_guard, path) = database();
    let (_store, s) = seed(&path);
    let listed = ipam_json(&path, 0, &["allocations", &s.child]);
    assert_eq!(listed["pool_id"], s.child.as_str());
    let allocations = listed["allocations"].as_array().unwrap();
    assert_eq!(allocations.len(), 2);
    assert_eq!(allocations[0]["id"], s.web.as_str());
    assert_eq!(allocations[0]["cidr"], "10.1.0.0/24");
    assert_eq!(allocations[0]["resource_type"], "allocation");
    assert_eq!(allocations[0]["pool_id"], s.child.as_str());
    assert_eq!(allocations[1]["id"], s.db.as_str());
    assert_eq!(allocations[1]["description"], "db");
    assert!(allocations[1]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let top = ipam_json(&path, 0, &["allocations", &s.top]);
    assert_eq!(top["allocations"][0]["resource_type"], "pool_cidr");
    assert_eq!(
        top["allocations"][0]["child_pool_cidr_id"],
        s.child_cidr.as_str()
    );
    let text = ipam(&path, &["allocations", &s.child]).expect(0).stdout;
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("10.1.0.0/24  ipam-alloc-"),
        "{text}"
    );

    let cidrs = ipam_json(&path, 0, &["cidrs", &s.child]);
    let c = &cidrs["cidrs"][0];
    assert_eq!(c["cidr"], "10.1.0.0/16");
    assert_eq!(c["used_addresses"], 1280);
    assert_eq!(c["free_addresses"], 65_536 - 1280);
    assert_eq!(c["total_addresses"], 65_536);
    assert_eq!(c["utilization_percent"], 1.95);

    let free = ipam_json(&path, 0, &["free", &s.child, "--length", "24"]);
    let blocks = field_of_each(&free["blocks"], "cidr");
    assert_eq!(
        blocks,
        [
            "10.1.1.0/24",
            "10.1.2.0/23",
            "10.1.8.0/21",
            "10.1.16.0/20",
            "10.1.32.0/19",
            "10.1.64.0/18",
            "10.1.128.0/17"
        ],
        "aligned free blocks in address order"
    );
    let sum: u128 = free["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["addresses"].as_u64().unwrap() as u128)
        .sum();
    assert_eq!(sum, 65_536 - 1280);
    assert_eq!(free["free_addresses"], 65_536 - 1280);
    assert_eq!(free["largest_free_block"], "10.1.128.0/17");
    assert_eq!(free["length"], 24);
    assert_eq!(
        free["fit"],
        256 - 5,
        "a /16 holds 256 /24s; web takes one, db four"
    );
    let text = ipam(&path, &["free", &s.child, "--length", "/20"])
        .expect(0)
        .stdout;
    assert!(text.contains("largest free block  10.1.128.0/17"), "{text}");
    assert!(text.contains("fit                 15 × /20"), "{text}");
    // nothing of that size fits (no /8 in a /16): a finding
    assert_eq!(
        ipam_json(&path, 1, &["free", &s.child, "--length", "8"])["fit"],
        0
    );
    ipam(&path, &["free", &s.child, "--length", "33"])
        .fails(2, "not a prefix length of an ipv4 pool (0 to 32)");
    let v6 = ipam_json(&path, 0, &["free", &s.v6, "--length", "64"]);
    assert_eq!(v6["fit"], 65_536 - 256);
    for command in ["allocations", "cidrs", "free"] {
        ipam(&path, &[command, "ipam-pool-0000000000000000"]).fails(2, "does not exist");
    }
}

/// A pool with a release cooldown of `mode` on `cidr_text`: allocates `lengths` in order and
/// releases the last; returns the pool id.
fn cooling_pool(store: &dyn Store, scope: &str, mode: CooldownMode, cidr_text: &str) -> String {
    let mut new = NewPool::new(scope, AddressFamily::Ipv4);
    new.release_cooldown = Some(ReleaseCooldown {
        seconds: 30 * 24 * 3600,
        mode,
    });
    let pool = store.create_pool(&new).expect("pool");
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(cidr(cidr_text)))
        .expect("cidr");
    let request = || AllocationRequest {
        pool_id: pool.id.clone(),
        netmask_length: Some(25),
        ..Default::default()
    };
    store.allocate(&request()).expect("first");
    let released = store.allocate(&request()).expect("second");
    store.release_allocation(&released.id).expect("release");
    pool.id
}

#[test]
fn free_shows_cooling_blocks_with_the_time_they_become_free() {
    let (_guard, path) = database();
    let (store, s) = seed(&path);
    // strict: 172.16.0.0/23 with 172.16.0.0/25 held and 172.16.0.128/25 cooling for 30 days
    let strict = cooling_pool(
        &store,
        &s.private_scope,
        CooldownMode::Strict,
        "172.16.0.0/23",
    );
    let frees_at = store.list_cooling_blocks(&strict).expect("cooling")[0]
        .frees_at
        .clone();
    assert!(frees_at.ends_with('Z'), "{frees_at}");
    let free = ipam_json(&path, 0, &["free", &strict, "--length", "25"]);
    assert_eq!(free["pool_id"], strict.as_str());
    assert_eq!(free["address_family"], "ipv4");
    assert_eq!(
        free["free_addresses"], 384,
        "cooling space is still free space"
    );
    assert_eq!(free["cooling_addresses"], 128);
    assert_eq!(free["release_cooldown_mode"], "strict");
    assert_eq!(free["largest_free_block"], "172.16.1.0/24");
    assert_eq!(free["largest_free_block_with_cooling"], Value::Null);
    assert_eq!(free["length"], 25);
    assert_eq!(
        free["fit"], 2,
        "the cooling /25 does not count in strict mode"
    );
    assert_eq!(free["fit_with_cooling"], Value::Null);
    let blocks = free["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0]["cidr"], "172.16.0.128/25");
    assert_eq!(blocks[0]["addresses"], 128);
    assert_eq!(blocks[0]["cooling_until"], frees_at.as_str());
    assert_eq!(blocks[1]["cidr"], "172.16.1.0/24");
    assert_eq!(blocks[1]["addresses"], 256);
    assert_eq!(blocks[1]["cooling_until"], Value::Null);

    let text = ipam(&path, &["free", &strict, "--length", "25"])
        .expect(0)
        .stdout;
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["CIDR", "FIRST", "LAST", "ADDRESSES", "COOLING", "UNTIL"]
    );
    assert_eq!(
        lines[1],
        [
            "172.16.0.128/25",
            "172.16.0.128",
            "172.16.0.255",
            "128",
            frees_at.as_str()
        ]
    );
    assert_eq!(
        lines[2],
        ["172.16.1.0/24", "172.16.1.0", "172.16.1.255", "256"]
    );
    assert!(
        text.contains(
            "cooling             128 addresses in 1 blocks (strict: not available until they free)"
        ),
        "{text}"
    );
    assert!(text.contains("largest free block  172.16.1.0/24"), "{text}");
    assert!(text.contains("fit                 2 × /25"), "{text}");
    assert!(!text.contains("with cooling"), "{text}");

    // soft: nothing else fits a /25, but the cooling one is reused: separate figures, exit 0
    let soft = cooling_pool(
        &store,
        &s.private_scope,
        CooldownMode::Soft,
        "192.168.0.0/24",
    );
    let free = ipam_json(&path, 0, &["free", &soft, "--length", "25"]);
    assert_eq!(free["release_cooldown_mode"], "soft");
    assert_eq!(free["largest_free_block"], Value::Null);
    assert_eq!(free["largest_free_block_with_cooling"], "192.168.0.128/25");
    assert_eq!(free["fit"], 0);
    assert_eq!(free["fit_with_cooling"], 1);
    let text = ipam(&path, &["free", &soft, "--length", "25"])
        .expect(0)
        .stdout;
    assert!(
        text.contains("(soft: reused only when nothing else fits)"),
        "{text}"
    );
    assert!(
        text.contains("with cooling blocks  192.168.0.128/25"),
        "{text}"
    );
    assert!(text.contains("fit with cooling     1 × /25"), "{text}");
    // a /24 fits nowhere, cooling or not: a finding
    assert_eq!(
        ipam_json(&path, 1, &["free", &soft, "--length", "24"])["fit_with_cooling"],
        0
    );
}

/// Space held for plans not yet applied: `allocations` lists each reservation (marked, with its
/// expiry), `free` counts it as not free and lists it, `show` of a reserved CIDR or address
/// names the reservation, `tree`, `util` and `cidrs` count it; an expired reservation not yet
/// swept is shown as expired.
#[test]
fn reservations_are_shown_by_allocations_free_show_tree_and_util() {
    let (_guard, path) = database();
    let (store, s) = seed(&path);
    let pool = store
        .create_pool(&NewPool::new(&s.private_scope, AddressFamily::Ipv4))
        .expect("pool");
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(cidr("172.20.0.0/24")))
        .expect("cidr");
    let by_length = AllocationRequest {
        pool_id: pool.id.clone(),
        netmask_length: Some(26),
        ..Default::default()
    };
    let app = store
        .allocate(&AllocationRequest {
            pool_id: pool.id.clone(),
            cidr: Some(cidr("172.20.0.64/26")),
            description: "app".into(),
            ..Default::default()
        })
        .expect("app");
    let planned = store
        .reserve_allocation(&by_length, "web-next")
        .expect("a plan's reservation");
    assert_eq!(planned, cidr("172.20.0.0/26"));
    // a plan whose reservation expires at once and is not swept (nothing runs in the pool)
    let mut brief = SqliteOptions::new("planner");
    brief.reservation_ttl = std::time::Duration::from_millis(1);
    let short_lived = SqliteStore::open(&path, brief).expect("store");
    assert_eq!(
        short_lived
            .reserve_allocation(&by_length, "abandoned")
            .expect("an abandoned plan's reservation"),
        cidr("172.20.0.128/26")
    );
    std::thread::sleep(std::time::Duration::from_millis(50));
    let held = store.list_reservations(&pool.id).expect("reservations");
    let (web_until, abandoned_until) = (held[0].expires_at.clone(), held[1].expires_at.clone());

    // allocations: the reservations in address order among the allocations
    let listed = ipam_json(&path, 0, &["allocations", &pool.id]);
    assert_eq!(
        field_of_each(&listed["allocations"], "id"),
        [app.id.as_str()]
    );
    let reservations = &listed["reservations"];
    assert_eq!(
        field_of_each(reservations, "name"),
        ["web-next", "abandoned"]
    );
    assert_eq!(
        field_of_each(reservations, "cidr"),
        ["172.20.0.0/26", "172.20.0.128/26"]
    );
    assert_eq!(reservations[0]["kind"], "reservation");
    assert_eq!(reservations[0]["pool_id"], pool.id.as_str());
    assert_eq!(reservations[0]["expires_at"], web_until.as_str());
    assert_eq!(reservations[0]["expired"], false);
    assert_eq!(reservations[1]["expired"], true);
    let text = ipam(&path, &["allocations", &pool.id]).expect(0).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].starts_with("172.20.0.0/26")
            && lines[1].contains(&format!("reservation \"web-next\" until {web_until}")),
        "{text}"
    );
    assert!(lines[2].starts_with("172.20.0.64/26") && lines[2].contains(&app.id));
    assert!(
        lines[3].starts_with("172.20.0.128/26")
            && lines[3].contains(&format!(
                "reservation \"abandoned\", expired {abandoned_until} (held until swept)"
            )),
        "{text}"
    );

    // free: reserved space is not free, and is listed with what holds it
    let free = ipam_json(&path, 0, &["free", &pool.id, "--length", "26"]);
    assert_eq!(free["free_addresses"], 64);
    assert_eq!(free["reserved_addresses"], 128);
    assert_eq!(free["fit"], 1);
    let blocks = free["blocks"].as_array().unwrap();
    assert_eq!(
        field_of_each(&free["blocks"], "cidr"),
        ["172.20.0.0/26", "172.20.0.128/26", "172.20.0.192/26"]
    );
    assert_eq!(blocks[0]["reservation"]["name"], "web-next");
    assert_eq!(blocks[1]["reservation"]["expired"], true);
    assert_eq!(blocks[2]["reservation"], Value::Null);
    let text = ipam(&path, &["free", &pool.id]).expect(0).stdout;
    assert!(
        text.lines().next().unwrap().ends_with("RESERVED FOR"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"web-next\" until {web_until}")),
        "{text}"
    );
    assert!(
        text.contains("free                64 addresses in 1 blocks"),
        "{text}"
    );
    assert!(
        text.contains(
            "reserved            128 addresses in 2 blocks (plans not yet applied: not free)"
        ),
        "{text}"
    );

    // show: a reserved address or CIDR names the reservation holding it
    let shown = ipam_json(&path, 0, &["show", "172.20.0.10"]);
    let holder = &shown["holders"][0];
    assert_eq!(holder["state"], "reserved");
    assert_eq!(holder["allocation"], Value::Null);
    assert_eq!(holder["reservations"][0]["name"], "web-next");
    let text = ipam(&path, &["show", "172.20.0.128/26"]).expect(0).stdout;
    assert!(
        text.contains(&format!(
            "172.20.0.128/26 is reserved for a plan not yet applied: \"abandoned\" (172.20.0.128/26) in pool {}, expired {abandoned_until} (held until swept)",
            pool.id
        )),
        "{text}"
    );
    let wide = ipam_json(&path, 0, &["show", "172.20.0.128/25"]);
    assert_eq!(wide["holders"][0]["state"], "partly_reserved");
    assert_eq!(
        field_of_each(&wide["holders"][0]["reservations"], "name"),
        ["abandoned"]
    );

    // tree, util, cidrs, show POOL: reserved space counts as used, and is reported as reserved
    let tree = ipam_json(&path, 0, &["tree", &pool.id]);
    assert_eq!(tree["used_addresses"], 192);
    assert_eq!(tree["reserved_addresses"], 128);
    assert_eq!(tree["cidrs"][0]["reserved_addresses"], 128);
    let util = ipam_json(&path, 1, &["util", "--threshold", "70"]);
    let over = find(&util["pools"], "id", &pool.id);
    assert_eq!(over["used_addresses"], 192);
    assert_eq!(over["reserved_addresses"], 128);
    assert_eq!(over["utilization_percent"], 75.0);
    let cidrs = ipam_json(&path, 0, &["cidrs", &pool.id]);
    assert_eq!(cidrs["cidrs"][0]["reserved_addresses"], 128);
    let text = ipam(&path, &["show", &pool.id]).expect(0).stdout;
    assert!(
        text.contains("192 of 256 used (75.0%), 128 of them reserved for plans not yet applied"),
        "{text}"
    );

    // the apply takes the reservation: it becomes an allocation and leaves the listings
    let made = store
        .allocate_named(&by_length, "web-next", Some(planned))
        .expect("apply");
    let listed = ipam_json(&path, 0, &["allocations", &pool.id]);
    assert_eq!(
        field_of_each(&listed["allocations"], "id"),
        [made.id.as_str(), app.id.as_str()]
    );
    // and that allocation swept the expired reservation: its space is free again
    assert_eq!(listed["reservations"], json!([]), "{listed}");
    assert_eq!(
        ipam_json(&path, 0, &["free", &pool.id])["free_addresses"],
        128
    );
}

#[test]
fn audit_filters_and_follows_the_history() {
    let (_guard, path) = database();
    let (store, s) = seed(&path);
    let all = ipam_json(&path, 0, &["audit"]);
    let events = all["events"].as_array().unwrap();
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "newest last: {sequences:?}"
    );
    assert_eq!(events[0]["action"], "create_ipam");
    assert!(events.iter().all(|e| e["actor"] == "seeder"));
    let release = ipam_json(&path, 0, &["audit", "--action", "release"]);
    assert_eq!(release["events"].as_array().unwrap().len(), 1);
    assert_eq!(release["events"][0]["cidr"], "10.1.1.0/24");
    assert_eq!(release["events"][0]["details"]["pool_id"], s.child.as_str());
    let last_two = ipam_json(&path, 0, &["audit", "--limit", "2"]);
    let last: Vec<i64> = last_two["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(last, sequences[sequences.len() - 2..]);
    let pool = ipam_json(&path, 0, &["audit", "--pool", &s.child]);
    let actions = field_of_each(&pool["events"], "action");
    assert_eq!(
        actions,
        [
            "create_pool",
            "provision",
            "allocate",
            "allocate",
            "allocate",
            "release"
        ]
    );
    assert_eq!(
        ipam_json(&path, 0, &["audit", "--actor", "nobody"])["events"],
        Value::Array(vec![])
    );
    assert_eq!(
        ipam_json(&path, 0, &["audit", "--since", "2999-01-01"])["events"],
        Value::Array(vec![])
    );
    assert_eq!(
        ipam_json(&path, 0, &["audit", "--since", "1h"])["events"]
            .as_array()
            .unwrap()
            .len(),
        events.len()
    );
    ipam(&path, &["audit", "--since", "yesterday"]).fails(2, "--since \"yesterday\" is not a time");
    ipam(&path, &["audit", "--limit", "0"]).expect(2);
    ipam(&path, &["audit", "--pool", "web"]).expect(2);

    // --follow prints each new event as it commits, as JSON Lines
    let mut follower = Command::new(env!("CARGO_BIN_EXE_ipam"))
        .args([
            "--database",
            path.to_str().unwrap(),
            "--json",
            "audit",
            "--follow",
            "--action",
            "allocate",
            "--limit",
            "1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ipam audit --follow");
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        first["action"], "allocate",
        "the newest matching event first"
    );
    let made = store
        .allocate(&AllocationRequest {
            pool_id: s.child.clone(),
            netmask_length: Some(26),
            description: "followed".into(),
            ..Default::default()
        })
        .unwrap();
    store.release_allocation(&made.id).unwrap();
    let next: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    follower.kill().ok();
    follower.wait().ok();
    assert_eq!(next["action"], "allocate");
    assert_eq!(next["object_id"], made.id.as_str());
    assert_eq!(next["cidr"], made.cidr.to_string());
    assert!(next["sequence"].as_i64() > first["sequence"].as_i64());
}

#[test]
fn util_alarms_at_the_threshold() {
    let (_guard, path) = database();
    let (store, s) = seed(&path);
    // the child pool: 1280 of 65536 = 1.95 %
    let over = ipam_json(&path, 1, &["util", "--threshold", "1.5"]);
    assert_eq!(over["threshold_percent"], 1.5);
    assert_eq!(over["pools_checked"], 3);
    let pools = over["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0]["id"], s.child.as_str());
    assert_eq!(pools[0]["utilization_percent"], 1.95);
    assert_eq!(pools[0]["used_addresses"], 1280);
    assert_eq!(pools[0]["allocation_count"], 2);
    let text = ipam(&path, &["util", "--threshold", "1.5"])
        .expect(1)
        .stdout;
    assert!(text.starts_with("1 of 3 pools at or over 1.5%"), "{text}");
    // at the threshold counts; under it does not
    assert_eq!(
        ipam_json(&path, 1, &["util", "--threshold", "1.95"])["pools"][0]["id"],
        s.child.as_str()
    );
    assert_eq!(
        ipam_json(&path, 0, &["util", "--threshold", "2"])["pools"],
        Value::Array(vec![])
    );
    assert!(ipam(&path, &["util"])
        .expect(0)
        .stdout
        .contains("no pool at or over 80.0% (3 pools checked)"));
    // fill the child pool to 100 %: the default threshold (80) alarms
    for len in 16..=24 {
        let request = AllocationRequest {
            pool_id: s.child.clone(),
            netmask_length: Some(len),
            ..Default::default()
        };
        while store.allocate(&request).is_ok() {}
    }
    let full = ipam_json(&path, 1, &["util"]);
    assert_eq!(full["pools"][0]["utilization_percent"], 100.0);
    for bad in ["abc", "120", "-1", ""] {
        ipam(&path, &["util", "--threshold", bad])
            .fails(2, "is not a percentage: give a number from 0 to 100");
    }
}

#[test]
fn check_reports_problems_and_backup_copies_a_consistent_database() {
    let (guard, path) = database();
    let (store, s) = seed(&path);
    let ok = ipam_json(&path, 0, &["check"]);
    assert_eq!(ok["consistent"], true);
    assert_eq!(ok["invariant_problems"], Value::Array(vec![]));
    assert_eq!(ok["storage_problems"], Value::Array(vec![]));

    // a backup while a writer keeps allocating: a database of its own, consistent
    let copy = guard.path().join("copy.db");
    let writing = AtomicBool::new(true);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut n = 0;
            while writing.load(Ordering::Relaxed) || n < 20 {
                store
                    .allocate(&AllocationRequest {
                        pool_id: s.child.clone(),
                        netmask_length: Some(28),
                        ..Default::default()
                    })
                    .expect("allocations go on during the backup");
                n += 1;
            }
        });
        let backup = ipam_json(&path, 0, &["backup", copy.to_str().unwrap()]);
        writing.store(false, Ordering::Relaxed);
        assert_eq!(backup["destination"], copy.to_str().unwrap());
        assert!(backup["pages"].as_u64().unwrap() > 0);
        assert_eq!(backup["bytes"], fs::metadata(&copy).unwrap().len());
    });
    assert_eq!(ipam_json(&copy, 0, &["check"])["consistent"], true);
    let copied = ipam_json(&copy, 0, &["allocations", &s.child]);
    let copied_ids = field_of_each(&copied["allocations"], "id");
    assert!(copied_ids.contains(&s.web.as_str()) && copied_ids.contains(&s.db.as_str()));
    // the copy opens as a database of its own: a later write to the original is not in it
    let later = store
        .allocate(&AllocationRequest {
            pool_id: s.child.clone(),
            netmask_length: Some(28),
            ..Default::default()
        })
        .unwrap();
    ipam(&copy, &["show", &later.id]).expect(2);
    let again = ipam(&path, &["backup", copy.to_str().unwrap()]).expect(2);
    assert!(
        again
            .stderr
            .contains("already exists; backup never overwrites"),
        "{}",
        again.stderr
    );

    // break an invariant behind the store's back: free space that is also allocated
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "DELETE FROM free_blocks WHERE pool_num = (SELECT num FROM pools WHERE id = ?1)",
        [&s.child],
    )
    .unwrap();
    drop(conn);
    let broken = ipam_json(&path, 1, &["check"]);
    assert_eq!(broken["consistent"], false);
    let problems = broken["invariant_problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains(&s.child)),
        "{problems:?}"
    );
    let text = ipam(&path, &["check"]).expect(1).stdout;
    assert!(text.starts_with("inconsistent: "), "{text}");
}

#[test]
fn a_postgresql_database_is_read_and_checked_never_created() {
    let cluster = support::postgres::shared();
    let url = cluster.create_database();
    let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let no_schema = |admin: &mut postgres::Client| {
        admin
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = 'ipam'", &[])
            .unwrap()
            .is_none()
    };
    // no schema yet: named with the database, not created, the password never printed
    let empty = ipam(Path::new(&url), &["tree"]).expect(2);
    assert!(
        empty.stderr.contains(&format!(
            "database \"{name}\" on 127.0.0.1:{} as user \"postgres\" has no IPAM schema \"ipam\"",
            url.split(':').nth(3).unwrap().split('/').next().unwrap()
        )),
        "{}",
        empty.stderr
    );
    assert!(!empty.stderr.contains(support::postgres::PASSWORD));
    assert!(no_schema(&mut cluster.admin(name)));

    let store = tfipam::store::PostgresStore::connect(&url, "seeder").expect("store");
    let s = seed_into(&store);
    let pg = Path::new(&url);
    let tree = ipam_json(pg, 0, &["tree"]);
    assert_eq!(tree["ipams"][0]["id"], s.ipam.as_str());
    let listed = ipam_json(pg, 0, &["allocations", &s.child]);
    let ids = field_of_each(&listed["allocations"], "id");
    assert_eq!(ids, [s.web.as_str(), s.db.as_str()]);
    let audit = ipam_json(pg, 0, &["audit", "--pool", &s.child]);
    let actions = field_of_each(&audit["events"], "action");
    assert!(
        actions.contains(&"create_pool") && actions.contains(&"release"),
        "{actions:?}"
    );
    let text = ipam(pg, &["tree"]).expect(0).stdout;
    assert!(
        text.contains("10.1.4.0/22") || text.contains("10.1.0.0/16"),
        "{text}"
    );

    let ok = ipam_json(pg, 0, &["check"]);
    assert_eq!(ok["consistent"], true, "{ok}");
    assert_eq!(ok["storage_problems"], Value::Array(vec![]));
    // with amcheck installed, every B-tree index is checked too
    let mut admin = cluster.admin(name);
    admin.batch_execute("CREATE EXTENSION amcheck").unwrap();
    assert_eq!(ipam_json(pg, 0, &["check"])["consistent"], true);

    // backup writes the space as a SQLite file, every id unchanged
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let copy = dir.path().join("copy.db");
    ipam(pg, &["backup", copy.to_str().unwrap()]).expect(0);
    let listed = ipam_json(&copy, 0, &["allocations", &s.child]);
    assert_eq!(
        field_of_each(&listed["allocations"], "id"),
        [s.web.as_str(), s.db.as_str()]
    );

    // the database's own guard gone, an index left invalid: the storage check says both
    admin
        .batch_execute(
            "DO $$ BEGIN EXECUTE (SELECT format('ALTER TABLE ipam.allocations DROP CONSTRAINT %I', \
             conname) FROM pg_constraint WHERE conrelid = 'ipam.allocations'::regclass \
             AND contype = 'x'); END $$; \
             UPDATE pg_index SET indisvalid = false \
             WHERE indexrelid = 'ipam.free_blocks_by_start'::regclass",
        )
        .unwrap();
    let broken = ipam_json(pg, 1, &["check"]);
    assert_eq!(broken["consistent"], false);
    let problems: Vec<&str> = broken["storage_problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        problems,
        [
            "postgresql: index free_blocks_by_start is not valid (a failed build or reindex); \
             run REINDEX INDEX ipam.free_blocks_by_start",
            "postgresql: table allocations has lost its exclusion constraint: the database no \
             longer refuses overlapping blocks",
        ]
    );
}

#[test]
fn usage_and_access_errors_exit_2_and_change_nothing() {
    let (guard, path) = database();
    // a missing database is named and not created, whichever way it was given
    let missing = guard.path().join("nope.db");
    ipam(&missing, &["tree"]).fails(2, &format!("database {} does not exist", missing.display()));
    assert!(!missing.exists());
    ipam_in(
        guard.path(),
        &[("IPAM_DATABASE", missing.to_str().unwrap())],
        &["check"],
    )
    .fails(2, missing.to_str().unwrap());
    ipam_in(guard.path(), &[], &["util"]).fails(2, "database terraform-ipam.db does not exist");
    assert!(!guard.path().join("terraform-ipam.db").exists());
    ipam_in(
        guard.path(),
        &[],
        &["--database", "postgres://u@h/db?schema=", "tree"],
    )
    .fails(2, "schema name \"\" in the connection string");

    let (_store, s) = seed(&path);
    // IPAM_DATABASE and sqlite: URLs reach the same file; the default is in the working directory
    let via_env = ipam_in(
        guard.path(),
        &[("IPAM_DATABASE", path.to_str().unwrap())],
        &["--json", "tree"],
    )
    .expect(0);
    assert_eq!(via_env.json()["ipams"][0]["id"], s.ipam.as_str());
    let url = format!("sqlite://{}", path.display());
    assert_eq!(
        ipam_in(guard.path(), &[], &["--database", &url, "--json", "tree"])
            .expect(0)
            .json()["ipams"][0]["id"],
        s.ipam.as_str()
    );
    fs::copy(&path, guard.path().join("terraform-ipam.db")).unwrap();
    ipam_in(guard.path(), &[], &["tree"]).expect(0);

    let before = fs::read(&path).unwrap();
    for (args, expected) in [
        (vec![], "no command given"),
        (vec!["frobnicate"], "unknown command \"frobnicate\""),
        (
            vec!["tree", "--bogus"],
            "tree unknown option --bogus; usage: ipam tree [ID]",
        ),
        (vec!["tree", "a", "b"], "unexpected argument \"b\""),
        (vec!["free", &s.child, "--length"], "--length needs a value"),
        (
            vec!["util", "--threshold", "1", "--threshold", "2"],
            "--threshold is given twice",
        ),
        (vec!["map"], "needs --html FILE, --svg FILE or both"),
        (vec!["backup"], "backup missing argument"),
    ] {
        let ran = ipam(&path, &args).expect(2);
        assert!(ran.stderr.contains(expected), "{args:?}: {}", ran.stderr);
        assert!(ran.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "nothing changed the database"
    );

    // help: the command list, each command's options
    let help = ipam_in(guard.path(), &[], &["--help"]).expect(0).stdout;
    for verb in COMMANDS {
        assert!(help.contains(&format!("\n  {verb}")), "{verb} in\n{help}");
    }
    let audit_help = ipam_in(guard.path(), &[], &["audit", "--help"])
        .expect(0)
        .stdout;
    assert!(
        audit_help.contains("--follow") && audit_help.contains("--since VALUE"),
        "{audit_help}"
    );
}

#[test]
fn another_users_database_is_read_only_and_every_read_works() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid cannot fail
    let root = unsafe { libc::geteuid() } == 0;
    let (guard, path) = database();
    let (store, s) = seed(&path);
    drop(store);
    let out = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    fs::set_permissions(out.path(), fs::Permissions::from_mode(0o777)).unwrap();
    // readable by everyone, writable by its owner only (root writes anything: run as nobody)
    fs::set_permissions(guard.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    if !root {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        fs::set_permissions(guard.path(), fs::Permissions::from_mode(0o555)).unwrap();
    }
    let reader = |args: &[&str]| {
        let mut all = vec!["--database", path.to_str().unwrap()];
        all.extend(args);
        let mut command = ipam_command(out.path(), &[], &all);
        if root {
            command.uid(65534).gid(65534);
        }
        run(command)
    };
    let tree = reader(&["--json", "tree"]).expect(0).json();
    assert_eq!(tree["ipams"][0]["id"], s.ipam.as_str());
    reader(&["check"]).expect(0);
    reader(&["show", &s.web]).expect(0);
    reader(&["free", &s.child]).expect(0);
    reader(&["audit", "--pool", &s.child]).expect(0);
    let copy = out.path().join("copy.db");
    reader(&["backup", copy.to_str().unwrap()]).expect(0);
    let svg = out.path().join("map.svg");
    reader(&["map", "--svg", svg.to_str().unwrap()]).expect(0);
    assert!(fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert_nothing_beside_the_database(guard.path());
    fs::set_permissions(guard.path(), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        ipam_json(&copy, 0, &["tree"])["ipams"][0]["id"],
        s.ipam.as_str(),
        "the backup of a read-only database opens"
    );
}

#[test]
fn map_writes_the_html_page_and_the_svg() {
    let (guard, path) = database();
    let (_store, s) = seed(&path);
    let html = guard.path().join("map.html");
    let svg = guard.path().join("map.svg");
    let written = ipam_json(
        &path,
        0,
        &[
            "map",
            "--html",
            html.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert_eq!(written["written"][0]["format"], "html");
    assert_eq!(
        written["written"][0]["bytes"],
        fs::metadata(&html).unwrap().len()
    );
    assert_eq!(written["written"][1]["format"], "svg");
    let page = fs::read_to_string(&html).unwrap();
    for id in [&s.top, &s.child, &s.v6] {
        assert!(page.contains(id.as_str()), "{id} in the page");
    }
    assert!(fs::read_to_string(&svg).unwrap().contains("<svg"));
    let pool_only = guard.path().join("child.svg");
    ipam(
        &path,
        &[
            "map",
            &s.child,
            "--svg",
            pool_only.to_str().unwrap(),
            "--color-by",
            "Name",
        ],
    )
    .expect(0);
    assert!(pool_only.exists());
    ipam(&path, &["map", &s.web, "--svg", "x.svg"]).fails(2, "is not an ipam, scope or pool id");
    ipam(
        &path,
        &["map", "ipam-pool-0000000000000000", "--html", "x.html"],
    )
    .fails(2, "does not exist");
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let (_guard, path) = database();
    seed(&path);
    // `script` runs the command on a pseudo-terminal
    let on_terminal = |no_color: Option<&str>| {
        let command = format!(
            "{} --database {} util --threshold 0",
            env!("CARGO_BIN_EXE_ipam"),
            path.display()
        );
        let mut script = Command::new("script");
        script
            .args(["-qec", &command, "/dev/null"])
            .env_remove("NO_COLOR");
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let output = script
            .output()
            .expect("script(1) from util-linux runs a command on a terminal");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(
        coloured.contains("\x1b[1m"),
        "bold headers on a terminal: {coloured:?}"
    );
    assert!(
        coloured.contains("\x1b[32m█"),
        "green bars on a terminal: {coloured:?}"
    );
    assert!(
        !on_terminal(Some("1")).contains("\x1b["),
        "NO_COLOR turns colour off"
    );

    // progress of a long operation shows on a terminal's stderr, and only there
    let copy = path.with_file_name("progress.db");
    let command = format!(
        "{} --database {} backup {}",
        env!("CARGO_BIN_EXE_ipam"),
        path.display(),
        copy.display()
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script(1)");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("backing up 100% ("), "{shown:?}");
    let piped = ipam(
        &path,
        &["backup", path.with_file_name("piped.db").to_str().unwrap()],
    )
    .expect(0);
    assert!(
        piped.stderr.is_empty(),
        "no progress into a pipe: {:?}",
        piped.stderr
    );
    assert!(!ipam(&path, &["util", "--threshold", "0"])
        .stdout
        .contains("\x1b["));
}

/// A tree read by `ipam --json tree` agrees with itself: every pool CIDR's allocation count
/// matches its used addresses when every allocation has `size` addresses. Returns the count.
fn consistent_count(tree: &Value, pool_id: &str, size: u64) -> u64 {
    let scope = &tree["ipams"][0]["scopes"][0];
    let pool = find(&scope["pools"], "id", pool_id);
    let count = pool["allocation_count"].as_u64().unwrap();
    assert_eq!(
        pool["used_addresses"].as_u64().unwrap(),
        count * size,
        "one state: {pool}"
    );
    assert_eq!(pool["cidrs"][0]["allocation_count"], count);
    count
}

#[test]
fn tree_in_a_loop_never_blocks_a_stream_of_300_allocations() {
    let (_guard, path) = database();
    let (store, s) = seed(&path);
    drop(store);
    let done = AtomicBool::new(false);
    // reads finished so far: the writer waits for the first two at 100 and 200 allocations, so the
    // reads overlap the writes however slow the machine is (bounded, should a reader fail)
    let reads = AtomicUsize::new(0);
    let mut seen = Vec::new();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            // a store of its own: another connection, as another process would have
            let store = SqliteStore::open(&path, SqliteOptions::new("writer")).unwrap();
            let mut cidrs = Vec::new();
            for i in 0..300 {
                if i % 100 == 0 && i > 0 {
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
                    while reads.load(Ordering::SeqCst) < i / 100
                        && std::time::Instant::now() < deadline
                    {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                }
                let made = store.allocate(&AllocationRequest {
                    pool_id: s.child.clone(),
                    netmask_length: Some(28),
                    description: format!("stream-{i}"),
                    ..Default::default()
                });
                cidrs.push(
                    made.unwrap_or_else(|e| panic!("allocation {i} failed while ipam read: {e}"))
                        .cidr,
                );
            }
            done.store(true, Ordering::Relaxed);
            cidrs
        });
        while !done.load(Ordering::Relaxed) {
            let ran = ipam(&path, &["--json", "tree", &s.child]).expect(0);
            assert!(!ran.stderr.contains("busy"), "{}", ran.stderr);
            let tree = ran.json();
            let count = tree["allocation_count"].as_u64().unwrap();
            let used = tree["used_addresses"].as_u64().unwrap();
            // web (256) + db (1024) + 16 per /28: figures from one state
            assert_eq!(
                used,
                1280 + (count - 2) * 16,
                "one consistent state: {tree}"
            );
            seen.push(count);
            reads.fetch_add(1, Ordering::SeqCst);
        }
        let cidrs: Vec<IpNet> = writer.join().expect("writer");
        support::ipam::assert_disjoint(&cidrs);
    });
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "counts never go back: {seen:?}"
    );
    assert!(seen.len() >= 2, "ipam ran during the writes: {seen:?}");
    let last = ipam_json(&path, 0, &["tree", &s.child]);
    assert_eq!(last["allocation_count"], 302);
    assert_eq!(ipam_json(&path, 0, &["check"])["consistent"], true);
}

#[test]
fn every_command_on_a_database_made_by_terraform_apply() {
    let tf = terraform::newest();
    let (guard, db) = database();
    let dir = complete_example(tf, &db);
    dir.init();
    dir.apply().success();
    let outputs = dir.outputs();
    let app = outputs["production_vpcs"]["value"]["app"]
        .as_str()
        .unwrap()
        .to_string();
    let mut development = output_strings(&outputs, "development_vpcs");
    development.sort_by_key(|c| cidr(c).network());

    let tree = ipam_json(&db, 0, &["tree"]);
    let ipam_value = &tree["ipams"][0];
    assert_eq!(ipam_value["description"], "Organization IPAM");
    assert_eq!(ipam_value["tags"]["ManagedBy"], "NetworkTeam");
    let scope = find(
        &ipam_value["scopes"],
        "id",
        ipam_value["private_default_scope_id"].as_str().unwrap(),
    );
    let top = find(&scope["pools"], "description", "All private addresses");
    assert_eq!(top["cidrs"][0]["cidr"], "10.0.0.0/8");
    assert_eq!(
        top["allocation_count"], 2,
        "the production and development pool CIDRs"
    );
    let production = find(&top["pools"], "description", "Production VPCs");
    let development_pool = find(&top["pools"], "description", "Development VPCs");
    let v6 = find(&scope["pools"], "description", "IPv6 sites");
    let production_id = production["id"].as_str().unwrap();
    assert_eq!(production["allocation_count"], 2);
    assert_eq!(production["netmask_length"]["default"], 20);
    assert_eq!(
        production["allocation_resource_tags"]["Environment"],
        "Production"
    );
    assert_eq!(development_pool["allocation_count"], 3);
    assert_eq!(v6["allocation_count"], 3);
    // the provider's data source and the CLI agree on utilization
    let reported = outputs["production_utilization"]["value"]["10.1.0.0/16"]
        .as_f64()
        .unwrap();
    let cidrs = ipam_json(&db, 0, &["cidrs", production_id]);
    assert_eq!(
        cidrs["cidrs"][0]["utilization_percent"].as_f64().unwrap(),
        reported
    );

    let allocations = ipam_json(
        &db,
        0,
        &["allocations", development_pool["id"].as_str().unwrap()],
    );
    let listed = field_of_each(&allocations["allocations"], "cidr");
    assert_eq!(
        listed,
        development.iter().map(String::as_str).collect::<Vec<_>>()
    );

    let shown = ipam_json(&db, 0, &["show", &app]);
    assert_eq!(shown["holders"][0]["state"], "allocated");
    assert_eq!(
        shown["holders"][0]["allocation"]["description"],
        "prod-app-vpc"
    );
    assert_eq!(
        shown["holders"][0]["history"][0]["actor"], "e2e",
        "the actor Terraform's provider recorded"
    );
    let app_id = shown["holders"][0]["allocation"]["id"].as_str().unwrap();
    assert_eq!(
        dir.state_show_attribute("ipam_allocation.prod_app_vpc", "id"),
        app_id,
        "the CLI shows the id Terraform holds"
    );

    let free = ipam_json(&db, 0, &["free", production_id, "--length", "20"]);
    assert_eq!(
        free["fit"], 14,
        "16 /20s in a /16, minus the /20 and the /22's /20"
    );
    let audit = ipam_json(
        &db,
        0,
        &["audit", "--pool", production_id, "--action", "allocate"],
    );
    assert_eq!(audit["events"].as_array().unwrap().len(), 2);
    let util = ipam_json(&db, 1, &["util", "--threshold", "5"]);
    assert_eq!(util["pools"][0]["id"], production_id);
    assert_eq!(ipam_json(&db, 0, &["check"])["consistent"], true);
    let copy = guard.path().join("backup.db");
    ipam_json(&db, 0, &["backup", copy.to_str().unwrap()]);
    assert_eq!(
        ipam_json(&copy, 0, &["tree"]),
        tree,
        "the backup holds the same tree"
    );
    let html = guard.path().join("map.html");
    ipam(&db, &["map", "--html", html.to_str().unwrap()]).expect(0);

    // the provider still plans nothing: the CLI changed nothing
    dir.assert_no_changes();
}

#[test]
fn tree_in_a_loop_during_a_300_allocation_apply() {
    let tf = terraform::newest();
    let (_guard, db) = database();
    let dir = workdir(
        tf,
        &db,
        r#"
resource "ipam" "test" {
  description = "loop"
}
resource "ipam_pool" "test" {
  scope_id       = ipam.test.private_default_scope_id
  address_family = "ipv4"
  description    = "busy"
}
resource "ipam_pool_cidr" "test" {
  pool_id = ipam_pool.test.id
  cidr    = "10.0.0.0/16"
}
output "pool_id" {
  value = ipam_pool.test.id
}
"#,
    );
    dir.init();
    dir.apply().success();
    let pool_id = dir.outputs()["pool_id"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    dir.write(
        "many.tf",
        r#"
resource "ipam_allocation" "many" {
  count          = 300
  pool_id        = ipam_pool.test.id
  netmask_length = 28
  depends_on     = [ipam_pool_cidr.test]
}
"#,
    );
    let done = AtomicBool::new(false);
    let mut seen = Vec::new();
    std::thread::scope(|scope| {
        let apply = scope.spawn(|| {
            let run = dir.apply();
            done.store(true, Ordering::Relaxed);
            run
        });
        while !done.load(Ordering::Relaxed) {
            let tree = ipam_json(&db, 0, &["tree"]);
            seen.push(consistent_count(&tree, &pool_id, 16));
        }
        let run = apply.join().expect("apply thread").success();
        assert!(!run.text().contains("busy"), "{}", run.describe());
    });
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "counts never go back: {seen:?}"
    );
    assert!(
        seen.iter().any(|&n| n > 0 && n < 300),
        "ipam read while the apply wrote: {seen:?}"
    );
    let tree = ipam_json(&db, 0, &["tree"]);
    assert_eq!(consistent_count(&tree, &pool_id, 16), 300);
    dir.assert_no_changes();
}

#[test]
fn every_command_is_documented() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let docs = fs::read_to_string(root.join("docs/cli.md")).expect("docs/cli.md");
    let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(readme.contains("docs/cli.md"));
    let help = ipam_in(&root, &[], &["--help"]).expect(0).stdout;
    for verb in COMMANDS {
        assert!(
            docs.contains(&format!("\n## `ipam {verb}")),
            "docs/cli.md has no section for {verb}"
        );
        assert!(
            readme.contains(&format!("`ipam {verb}")),
            "README.md does not name ipam {verb}"
        );
        assert!(
            docs.contains(&format!("$ ipam {verb}")),
            "docs/cli.md shows no output of {verb}"
        );
        assert!(
            help.contains(&format!("\n  {verb} ")),
            "--help lists {verb}"
        );
        let own = ipam_in(&root, &[], &[verb, "--help"]).expect(0).stdout;
        assert!(own.contains(&format!("Usage: ipam {verb}")), "{own}");
    }
}

/// The states of `tests/fixtures/compliance/` beside the state of `examples/complete`.
fn compliance_states(dir: &Path) -> Vec<String> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compliance");
    vec![
        fixtures.join("aws.tfstate").display().to_string(),
        fixtures.join("azure.tfstate").display().to_string(),
        dir.join("terraform.tfstate").display().to_string(),
    ]
}

/// `ipam --database DB ARGS… STATES…`.
fn ipam_on_states(db: &Path, args: &[&str], states: &[String]) -> Ran {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(states.iter().map(String::as_str));
    let ran = ipam(db, &all);
    eprintln!("$ ipam {}\n{}{}", all.join(" "), ran.stdout, ran.stderr);
    ran
}

fn statuses(scan: &Value, cidr: &str) -> Vec<String> {
    scan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["cidr"] == cidr)
        .map(|f| f["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn scan_adopt_and_release_orphans_on_the_complete_example() {
    let tf = terraform::newest();
    let (_guard, db) = database();
    let dir = complete_example(tf, &db);
    dir.init();
    dir.apply().success();
    let states = compliance_states(dir.path());
    let tree = ipam_json(&db, 0, &["tree"]);
    let scope = &tree["ipams"][0]["scopes"][0];
    let top = find(&scope["pools"], "description", "All private addresses");
    let top_id = top["id"].as_str().unwrap().to_string();
    // no fixture state holds anything in 10.2.0.0/16
    let development_id = find(&top["pools"], "description", "Development VPCs")["id"]
        .as_str()
        .unwrap()
        .to_string();
    // an allocation a killed apply left behind: no state holds it
    let killed = SqliteStore::open(&db, SqliteOptions::new("killed-run")).unwrap();
    let orphan = killed
        .allocate(&AllocationRequest {
            pool_id: development_id,
            ..AllocationRequest::default()
        })
        .unwrap();
    drop(killed);

    // scan: a table, exit 1 on findings; --json parsed
    let text = ipam_on_states(&db, &["scan"], &states).expect(1).stdout;
    assert!(text.contains("unmanaged"), "{text}");
    let scan = ipam_on_states(&db, &["--json", "scan"], &states)
        .expect(1)
        .json();
    assert!(scan["summary"]["unmanaged"].as_u64().unwrap() > 0, "{scan}");
    // the Azure subnet and the hub's range holding it: in the top pool, held by no allocation
    assert_eq!(statuses(&scan, "10.3.1.0/24"), ["unmanaged", "unmanaged"]);
    assert_eq!(statuses(&scan, "172.31.0.0/16"), ["outside"]);
    let orphans: Vec<&Value> = scan["orphans"].as_array().unwrap().iter().collect();
    assert_eq!(orphans.len(), 1, "{scan}");
    assert_eq!(orphans[0]["id"], orphan.id.as_str());
    assert_eq!(orphans[0]["actor"], "killed-run");
    // what Terraform holds is managed
    let managed = scan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "managed" && f["type"] == "ipam_allocation")
        .count();
    assert!(managed >= 4, "{scan}");

    // adopt: a dry run changes nothing, --yes records, a re-scan shows them managed
    let before = ipam_json(&db, 0, &["tree"]);
    // the Azure hub overlaps its spoke: refused, so exit 1
    let dry = ipam_on_states(&db, &["adopt", "--pool", &top_id], &states).expect(1);
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    assert_eq!(
        ipam_json(&db, 0, &["tree"]),
        before,
        "a dry run changed the database"
    );
    let adopted = ipam_on_states(
        &db,
        &["--json", "adopt", "--pool", &top_id, "--yes"],
        &states,
    );
    let adopted_json = adopted.expect(1).json();
    assert_eq!(adopted_json["dry_run"], false);
    assert!(
        adopted_json["adoptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["cidr"] == "10.3.1.0/24" && a["refused"].is_null()),
        "{adopted_json}"
    );
    let rescan = ipam_on_states(&db, &["--json", "scan"], &states).json();
    assert_eq!(statuses(&rescan, "10.3.1.0/24"), ["managed", "managed"]);

    // release --orphans: listed without --yes, released with it
    let listed = ipam_on_states(&db, &["release", "--orphans"], &states).expect(0);
    assert!(listed.stdout.contains(&orphan.id), "{}", listed.stdout);
    assert!(listed.stdout.contains("--yes"), "{}", listed.stdout);
    ipam(&db, &["show", &orphan.id]).expect(0);
    let released = ipam_on_states(&db, &["release", "--orphans", "--yes"], &states).expect(0);
    assert!(
        released.stdout.contains("released 1 orphaned allocations"),
        "{}",
        released.stdout
    );
    let after = ipam_on_states(&db, &["--json", "scan"], &states).json();
    assert_eq!(after["orphans"].as_array().unwrap().len(), 0, "{after}");
    ipam_on_states(&db, &["release", "--yes"], &states).fails(2, "--orphans");
}

/// The random id a provider before 0.1 gave an allocation, as its database keeps it after the
/// upgrade (`legacy_id`, with the allocate event naming it).
const LEGACY_ID: &str = "ipam-alloc-00000000000000a1";

/// A SQLite database with everything a snapshot holds: the seeded space, an allocation with an
/// id of the oldest provider, a reservation, a block cooling down after its release.
fn everything(path: &Path) -> Seeded {
    let (store, s) = seed(path);
    let old = store
        .allocate(&AllocationRequest {
            pool_id: s.child.clone(),
            cidr: Some(cidr("10.1.8.0/24")),
            description: "made long ago".into(),
            tags: tags(&[("Name", "old")]),
            ..Default::default()
        })
        .expect("old");
    store
        .update_pool(
            &s.child,
            &tfipam::ipam::PoolUpdate {
                release_cooldown: Some(Some(ReleaseCooldown {
                    seconds: 86_400,
                    mode: CooldownMode::Strict,
                })),
                ..Default::default()
            },
        )
        .expect("cooldown");
    let cooling = store
        .allocate(&AllocationRequest {
            pool_id: s.child.clone(),
            cidr: Some(cidr("10.1.9.0/24")),
            ..Default::default()
        })
        .expect("cooling");
    store.release_allocation(&cooling.id).expect("release");
    let planned = AllocationRequest {
        pool_id: s.child.clone(),
        netmask_length: Some(26),
        ..Default::default()
    };
    store
        .reserve_allocation(&planned, "planned")
        .expect("reserve");
    drop(store);
    let conn = rusqlite::Connection::open(path).unwrap();
    let sequence: i64 = conn
        .query_row(
            "SELECT sequence FROM audit_events WHERE object_id = ?1 AND action = 'allocate'",
            [&old.id],
            |row| row.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE allocations SET legacy_id = ?1 WHERE sequence = ?2",
        rusqlite::params![LEGACY_ID, sequence],
    )
    .unwrap();
    conn.execute(
        "UPDATE audit_events SET object_id = ?1 WHERE object_id = ?2",
        [LEGACY_ID, &old.id],
    )
    .unwrap();
    s
}

/// A store on a SQLite path or a PostgreSQL URL.
fn open(location: &str) -> Box<dyn Store> {
    tfipam::store::open(location, "reader").expect("open")
}

#[test]
fn copy_moves_the_space_between_sqlite_and_postgresql_and_backup_restores_it_unchanged() {
    let cluster = support::postgres::shared();
    let url = cluster.create_database();
    let second = url.replace("sslmode=disable", "sslmode=disable&schema=restored");
    let (guard, path) = database();
    let s = everything(&path);
    let sqlite = path.to_str().unwrap();
    let here = guard.path();

    // a dry run reads both sides and changes nothing
    let dry = ipam_in(here, &[], &["copy", sqlite, &url]).expect(0).stdout;
    assert!(
        dry.contains("dry run: would copy") && dry.contains("--yes"),
        "{dry}"
    );
    assert!(!dry.contains(support::postgres::PASSWORD), "{dry}");
    ipam(Path::new(&url), &["tree"]).fails(2, "has no IPAM schema");

    let copied = ipam_in(here, &[], &["--json", "copy", sqlite, &url, "--yes"])
        .expect(0)
        .json();
    assert_eq!(copied["copied"], true);
    assert_eq!(copied["problems"], json!([]));
    assert_eq!(
        copied["counts"],
        json!({"ipams": 1, "scopes": 2, "pools": 3, "pool_cidrs": 3, "allocations": 5,
               "legacy_ids": 1, "reservations": 1, "cooling_blocks": 1,
               "audit_events": copied["counts"]["audit_events"]})
    );
    assert!(copied["counts"]["audit_events"].as_u64().unwrap() > 10);
    assert!(!copied.to_string().contains(support::postgres::PASSWORD));

    // PostgreSQL -> SQLite backup -> a second PostgreSQL schema
    let backup = here.join("backup.db");
    let backup = backup.to_str().unwrap();
    let text = ipam(Path::new(&url), &["backup", backup]).expect(0).stdout;
    assert!(text.contains("rows"), "{text}");
    let restored = ipam_in(here, &[], &["copy", backup, &second, "--yes"])
        .expect(0)
        .stdout;
    assert!(
        restored.contains("consistency check of the copy: clean"),
        "{restored}"
    );

    // every row equal: ids, CIDRs, tags, times, the audit log and its numbers, the id key
    let original = open(sqlite).export_snapshot().expect("snapshot");
    for location in [url.as_str(), backup, second.as_str()] {
        let store = open(location);
        assert_eq!(store.export_snapshot().expect("snapshot"), original);
        assert_eq!(
            store.check_consistency().expect("check"),
            Vec::<String>::new()
        );
        let old = store.get_allocation(LEGACY_ID).expect("the oldest id");
        assert_eq!(old.cidr, cidr("10.1.8.0/24"));
        assert_eq!(old.tags, tags(&[("Name", "old")]));
        let web = store.get_allocation(&s.web).expect("web");
        assert_eq!(web.cidr, cidr("10.1.0.0/24"));
        assert_eq!(
            store
                .list_reservations(&s.child)
                .expect("reservations")
                .len(),
            1
        );
        assert_eq!(
            store.list_cooling_blocks(&s.child).expect("cooling")[0].cidr,
            cidr("10.1.9.0/24")
        );
        assert_eq!(
            store.audit_events(0, 10_000).expect("audit"),
            open(sqlite).audit_events(0, 10_000).expect("audit")
        );
        ipam(Path::new(location), &["check"]).expect(0);
    }

    // the space goes on on PostgreSQL: new ids and sequence numbers after the copied ones
    let pg = open(&url);
    let last = original.audit_events.last().unwrap().sequence;
    let next = pg
        .allocate(&AllocationRequest {
            pool_id: s.child.clone(),
            netmask_length: Some(24),
            ..Default::default()
        })
        .expect("allocate after the copy");
    let events = pg.audit_events(last, 10).expect("audit");
    assert_eq!(events[0].sequence, last + 1, "{events:?}");
    assert_eq!(events[0].object_id, next.id);
    pg.release_allocation(LEGACY_ID)
        .expect("release the oldest id");
    assert_eq!(pg.check_consistency().expect("check"), Vec::<String>::new());
}

#[test]
fn copy_refuses_a_target_that_holds_anything_and_errors_never_show_the_password() {
    let cluster = support::postgres::shared();
    let url = cluster.create_database();
    let (guard, path) = database();
    let s = everything(&path);
    let sqlite = path.to_str().unwrap();
    let here = guard.path();
    ipam_in(here, &[], &["copy", sqlite, &url, "--yes"]).expect(0);

    // a second copy, dry run or not: what the target holds and what to do, nothing changed
    for extra in [&[][..], &["--yes"][..]] {
        let mut args = vec!["copy", sqlite, &url];
        args.extend(extra);
        let refused = ipam_in(here, &[], &args).expect(2);
        assert!(
            refused
                .stderr
                .contains("is not empty: it holds 1 IPAM(s), 3 pool(s), 5 allocation(s)")
                && refused.stderr.contains("?schema=NEW_NAME"),
            "{}",
            refused.stderr
        );
        assert!(!refused.stderr.contains(support::postgres::PASSWORD));
    }
    assert!(open(&url).get_allocation(&s.web).is_ok());
    // back into the SQLite file it came from: refused too
    let back = ipam_in(here, &[], &["copy", &url, sqlite, "--yes"]).expect(2);
    assert!(
        back.stderr.contains(&format!("{sqlite} is not empty")),
        "{}",
        back.stderr
    );

    // an unreachable server: named without the password
    let unreachable = format!(
        "postgres://postgres:{}@127.0.0.1:1/nowhere?sslmode=disable",
        support::postgres::PASSWORD
    );
    let failed = ipam_in(here, &[], &["copy", sqlite, &unreachable, "--yes"]).expect(2);
    assert!(
        failed
            .stderr
            .contains("cannot connect to database \"nowhere\" on 127.0.0.1:1"),
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains(support::postgres::PASSWORD));
    let failed = ipam_in(here, &[], &["copy", &unreachable, sqlite]).expect(2);
    assert!(!failed.stderr.contains(support::postgres::PASSWORD));

    // a missing source is not created; a target in a missing directory is named
    let missing = here.join("missing.db");
    ipam_in(
        here,
        &[],
        &["copy", missing.to_str().unwrap(), &url, "--yes"],
    )
    .fails(2, &format!("database {} does not exist", missing.display()));
    let advice = ipam_in(
        here,
        &[],
        &["copy", missing.to_str().unwrap(), &url, "--yes"],
    )
    .expect(2);
    assert!(
        advice
            .stderr
            .contains("FROM must be an existing SQLite file")
            && !advice.stderr.contains("--database"),
        "the advice is about FROM, not --database (which copy does not use): {}",
        advice.stderr
    );
    assert!(!missing.exists());
    ipam_in(
        here,
        &[],
        &["copy", sqlite, "/nonexistent-dir/x.db", "--yes"],
    )
    .fails(2, "cannot create database file /nonexistent-dir/x.db");
    ipam_in(here, &[], &["copy", sqlite]).fails(2, "copy missing argument");
    // a backup never overwrites a file
    ipam(Path::new(&url), &["backup", sqlite]).fails(2, "already exists");
}

#[test]
fn a_postgresql_backup_taken_while_allocations_run_is_consistent() {
    let cluster = support::postgres::shared();
    let url = cluster.create_database();
    let store = tfipam::store::PostgresStore::connect(&url, "seeder").expect("store");
    let s = seed_into(&store);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let done = AtomicBool::new(false);
    let backups: Vec<PathBuf> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let store =
                        tfipam::store::PostgresStore::connect(&url, "writer").expect("store");
                    let mut made = 0;
                    while !done.load(Ordering::SeqCst) || made < 20 {
                        store
                            .allocate(&AllocationRequest {
                                pool_id: s.child.clone(),
                                netmask_length: Some(28),
                                ..Default::default()
                            })
                            .expect("allocate");
                        made += 1;
                    }
                })
            })
            .collect();
        let backups = (0..3)
            .map(|i| {
                let file = dir.path().join(format!("during-{i}.db"));
                ipam(Path::new(&url), &["backup", file.to_str().unwrap()]).expect(0);
                file
            })
            .collect();
        done.store(true, Ordering::SeqCst);
        for writer in writers {
            writer.join().expect("writer");
        }
        backups
    });
    let committed: BTreeSet<String> = store
        .list_allocations(&s.child)
        .expect("allocations")
        .into_iter()
        .map(|a| a.id)
        .collect();
    for file in &backups {
        ipam(file, &["check"]).expect(0);
        let backup = SqliteStore::open(file, SqliteOptions::new("reader")).expect("backup");
        assert_eq!(
            backup.check_consistency().expect("check"),
            Vec::<String>::new()
        );
        for allocation in backup.list_allocations(&s.child).expect("allocations") {
            assert!(
                committed.contains(&allocation.id),
                "{} in the backup was never committed",
                allocation.id
            );
            assert_eq!(
                store.get_allocation(&allocation.id).expect("on the server"),
                allocation
            );
        }
    }
}
