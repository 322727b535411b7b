//! Compliance scan benchmark: `cargo bench --bench scan`.
//!
//! Writes 200 state files holding 50,000 resource instances in all (AWS VPCs with `count`
//! subnets as raw version 4 states, Azure virtual networks with subnets, Google subnetworks with
//! secondary ranges as `terraform show -json` output; realistic attribute sets), and a database
//! whose pools hold 1,250 of the VPCs as allocations. Then times `compliance::scan_report` —
//! reading, parsing, extracting and classifying, orphans included — over the first 50, 100 and
//! 200 files (median of 5 runs each) and prints wall and CPU time (all threads; on a machine shared
//! with other work the CPU time is the figure that does not depend on the load) per file count and
//! per instance, so that linear growth shows as a constant time per instance.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};
use serde_json::{json, Value};
use tfipam::compliance::{scan_report, ScanOptions};
use tfipam::ipam::{AddressFamily, AllocationRequest, NewIpam, NewPool, PoolCidrRequest};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

const FILES: usize = 200;
const NETWORKS_PER_FILE: usize = 25;
const SUBNETS_PER_NETWORK: usize = 9;
const RUNS: usize = 5;

/// The /22 of network `n` (10.0.0.0/8 holds 4,096 of them) and its /26 subnets.
fn network(n: usize) -> Ipv4Net {
    Ipv4Net::new(
        std::net::Ipv4Addr::from(0x0a00_0000u32 + (n as u32) * 1024),
        22,
    )
    .unwrap()
}

fn subnet(n: usize, s: usize) -> Ipv4Net {
    Ipv4Net::new(
        std::net::Ipv4Addr::from(u32::from(network(n).network()) + (s as u32) * 64),
        26,
    )
    .unwrap()
}

fn aws_state(file: usize) -> Value {
    let mut resources = Vec::new();
    for v in 0..NETWORKS_PER_FILE {
        let n = file * NETWORKS_PER_FILE + v;
        let vpc_id = format!("vpc-{n:017x}");
        resources.push(json!({
            "module": format!("module.net{v}"), "mode": "managed", "type": "aws_vpc", "name": "this",
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": [{"schema_version": 1, "attributes": {
                "arn": format!("arn:aws:ec2:eu-west-1:123456789012:vpc/{vpc_id}"),
                "assign_generated_ipv6_cidr_block": false, "cidr_block": network(n).to_string(),
                "default_network_acl_id": "acl-0a0a0a0a0a0a0a0a0", "default_route_table_id": "rtb-0b0b0b0b0b0b0b0b0",
                "default_security_group_id": "sg-0c0c0c0c0c0c0c0c0", "dhcp_options_id": "dopt-0d0d0d0d0d0d0d0d0",
                "enable_dns_hostnames": true, "enable_dns_support": true, "id": vpc_id,
                "instance_tenancy": "default", "ipv6_association_id": "", "ipv6_cidr_block": "",
                "ipv6_netmask_length": 0, "main_route_table_id": "rtb-0b0b0b0b0b0b0b0b0",
                "owner_id": "123456789012", "tags": {"Name": format!("net{n}")}, "tags_all": {"Name": format!("net{n}")}
            }, "sensitive_attributes": [], "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjEifQ=="}]
        }));
        let instances: Vec<Value> = (0..SUBNETS_PER_NETWORK)
            .map(|s| json!({"index_key": s, "schema_version": 1, "attributes": {
                "arn": format!("arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-{n:08x}{s:09x}"),
                "assign_ipv6_address_on_creation": false, "availability_zone": "eu-west-1a",
                "cidr_block": subnet(n, s).to_string(), "id": format!("subnet-{n:08x}{s:09x}"),
                "ipv6_cidr_block": "", "map_public_ip_on_launch": false, "owner_id": "123456789012",
                "tags": {"Name": format!("net{n}-{s}")}, "tags_all": {"Name": format!("net{n}-{s}")},
                "vpc_id": vpc_id
            }, "sensitive_attributes": [], "dependencies": [format!("module.net{v}.aws_vpc.this")]}))
            .collect();
        resources.push(json!({
            "module": format!("module.net{v}"), "mode": "managed", "type": "aws_subnet", "name": "this",
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": instances
        }));
    }
    json!({"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": format!("lineage-{file}"),
           "outputs": {}, "resources": resources, "check_results": null})
}

fn azure_state(file: usize) -> Value {
    let mut resources = Vec::new();
    for v in 0..NETWORKS_PER_FILE {
        let n = file * NETWORKS_PER_FILE + v;
        let vnet_id = format!("/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet{n}");
        resources.push(json!({
            "mode": "managed", "type": "azurerm_virtual_network", "name": format!("vnet{v}"),
            "provider": "provider[\"registry.terraform.io/hashicorp/azurerm\"]",
            "instances": [{"schema_version": 0, "attributes": {
                "address_space": [network(n).to_string()], "dns_servers": [], "id": vnet_id,
                "location": "westeurope", "name": format!("vnet{n}"), "resource_group_name": "rg",
                "subnet": [], "tags": {}, "guid": "6c1f0a8e-9d4b-4e3a-8f2b-1a2b3c4d5e6f"
            }, "sensitive_attributes": []}]
        }));
        let instances: Vec<Value> = (0..SUBNETS_PER_NETWORK)
            .map(|s| json!({"index_key": format!("snet{s}"), "schema_version": 0, "attributes": {
                "address_prefixes": [subnet(n, s).to_string()], "id": format!("{vnet_id}/subnets/snet{s}"),
                "name": format!("snet{s}"), "resource_group_name": "rg", "virtual_network_name": format!("vnet{n}"),
                "default_outbound_access_enabled": true, "delegation": [], "service_endpoints": null
            }, "sensitive_attributes": []}))
            .collect();
        resources.push(json!({
            "mode": "managed", "type": "azurerm_subnet", "name": format!("vnet{v}"),
            "provider": "provider[\"registry.terraform.io/hashicorp/azurerm\"]", "instances": instances
        }));
    }
    json!({"version": 4, "terraform_version": "1.9.8", "serial": 1, "lineage": format!("lineage-{file}"),
           "outputs": {}, "resources": resources, "check_results": null})
}

fn google_show_json(file: usize) -> Value {
    let mut modules = Vec::new();
    for v in 0..NETWORKS_PER_FILE {
        let n = file * NETWORKS_PER_FILE + v;
        let network_link =
            format!("https://www.googleapis.com/compute/v1/projects/p{file}/global/networks/n{v}");
        // the /22: one primary /24 and two secondary /24s per subnetwork (ten instances)
        let resources: Vec<Value> = (0..SUBNETS_PER_NETWORK + 1)
            .map(|s| {
                let base = u32::from(network(n).network()) + (s as u32 % 4) * 256 + (s as u32 / 4) * 64;
                let range = |offset: u32| Ipv4Net::new(std::net::Ipv4Addr::from(base + offset), 28).unwrap().to_string();
                json!({
                    "address": format!("module.n{v}.google_compute_subnetwork.this[{s}]"),
                    "mode": "managed", "type": "google_compute_subnetwork", "name": "this", "index": s,
                    "provider_name": "registry.terraform.io/hashicorp/google", "schema_version": 0,
                    "values": {
                        "ip_cidr_range": range(0), "network": network_link, "region": "europe-west1",
                        "name": format!("sub{n}-{s}"), "project": format!("p{file}"),
                        "secondary_ip_range": [
                            {"ip_cidr_range": range(16), "range_name": "pods", "reserved_internal_range": ""},
                            {"ip_cidr_range": range(32), "range_name": "services", "reserved_internal_range": ""}
                        ],
                        "ipv6_cidr_range": "", "internal_ipv6_prefix": "", "external_ipv6_prefix": "",
                        "stack_type": "IPV4_ONLY", "private_ip_google_access": true, "purpose": "PRIVATE"
                    },
                    "sensitive_values": {"secondary_ip_range": [{}, {}]}
                })
            })
            .collect();
        modules.push(json!({"address": format!("module.n{v}"), "resources": resources}));
    }
    json!({"format_version": "1.0", "terraform_version": "1.11.4",
           "values": {"root_module": {"resources": [], "child_modules": modules}}})
}

fn write_states(dir: &Path) -> (Vec<String>, usize) {
    let mut paths = Vec::new();
    let mut bytes = 0;
    for file in 0..FILES {
        let (name, state) = match file % 4 {
            0 | 1 => (format!("aws-{file:03}.tfstate"), aws_state(file)),
            2 => (format!("azure-{file:03}.tfstate"), azure_state(file)),
            _ => (format!("google-{file:03}.json"), google_show_json(file)),
        };
        let text = serde_json::to_string_pretty(&state).unwrap();
        bytes += text.len();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path.display().to_string());
    }
    (paths, bytes)
}

fn address_space(dir: &Path) -> SqliteStore {
    let store = SqliteStore::open(dir.join("ipam.db"), SqliteOptions::new("bench")).unwrap();
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
            PoolCidrRequest::Cidr("10.0.0.0/8".parse().unwrap()),
        )
        .unwrap();
    // every fourth network is managed (1,250 allocations)
    let requests: Vec<AllocationRequest> = (0..FILES * NETWORKS_PER_FILE)
        .step_by(4)
        .map(|n| AllocationRequest {
            pool_id: pool.id.clone(),
            cidr: Some(IpNet::V4(network(n))),
            ..AllocationRequest::default()
        })
        .collect();
    store.allocate_many(&requests).unwrap();
    store
}

/// User + system CPU time of this process, all threads (`/proc/self/stat`, clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // fields after the name start at field 3 (state): utime is field 14, stime field 15
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, bytes) = write_states(dir.path());
    let store = address_space(dir.path());
    let mut table = String::new();
    let mut per_instance = Vec::new();
    for files in [50, 100, 200] {
        let options = ScanOptions {
            paths: paths[..files].to_vec(),
            ..ScanOptions::default()
        };
        let mut times = Vec::new();
        let mut cpu = Vec::new();
        let mut last = None;
        for _ in 0..RUNS {
            let (start, start_cpu) = (Instant::now(), cpu_time());
            let report = scan_report(&store, &options).unwrap();
            times.push(start.elapsed());
            cpu.push(cpu_time() - start_cpu);
            last = Some(report);
        }
        let report = last.unwrap();
        assert!(report.inputs.errors.is_empty());
        let (time, cpu) = (median(times), median(cpu));
        let micros = cpu.as_secs_f64() * 1e6 / report.inputs.instances as f64;
        per_instance.push(micros);
        let _ = writeln!(
            table,
            "| {files} | {} | {} | {:.0} ms | {:.0} ms | {micros:.1} µs |",
            report.inputs.instances,
            report.findings.len(),
            time.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3,
        );
    }
    println!(
        "scan of {FILES} state files ({:.1} MB, {} resource instances), median of {RUNS} runs, {} threads:",
        bytes as f64 / 1e6,
        FILES * (NETWORKS_PER_FILE * (SUBNETS_PER_NETWORK + 1)),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| files | resource instances | CIDRs | wall time | CPU time (all threads) | CPU per instance |");
    println!("|---|---|---|---|---|---|");
    print!("{table}");
    println!(
        "CPU time per instance at 200 files / at 50 files: {:.2} (1.00 = linear)",
        per_instance[2] / per_instance[0]
    );
}
