//! Databases for the map tests and the map benchmark, made through the store API.
#![allow(dead_code)]

use std::path::Path;

use ipnet::IpNet;
use tfipam::ipam::{
    AddressFamily, AllocationRequest, NetmaskRule, NewIpam, NewPool, PoolCidrRequest, Tags,
};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

/// Tags from pairs.
pub fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A CIDR from text.
pub fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// The hierarchy of examples/complete, made through the store API: a /8 with a production and
/// a development /16 (allocations in both) and an IPv6 /48 with sites and a segment.
pub struct Example {
    pub store: SqliteStore,
    pub ipam_id: String,
    pub top: String,
    pub production: String,
    pub development: String,
    pub ipv6: String,
}

pub fn example(dir: &Path) -> Example {
    let store = SqliteStore::open(dir.join("ipam.db"), SqliteOptions::new("alice")).unwrap();
    let ipam = store
        .create_ipam(&NewIpam {
            description: "Organization IPAM".into(),
            tags: tags(&[("ManagedBy", "NetworkTeam")]),
            ..NewIpam::default()
        })
        .unwrap();
    let scope = ipam.private_default_scope_id.clone();
    let pool = |source: Option<&str>, family, description: &str, netmask, t: Tags| {
        let mut new = NewPool::new(&scope, family);
        new.source_pool_id = source.map(str::to_string);
        new.description = description.to_string();
        new.netmask = netmask;
        new.tags = t;
        store.create_pool(&new).unwrap().id
    };
    let guard = |min, max, default| NetmaskRule {
        min: Some(min),
        max: Some(max),
        default: Some(default),
    };
    let top = pool(
        None,
        AddressFamily::Ipv4,
        "All private addresses",
        NetmaskRule::default(),
        tags(&[("Level", "Top")]),
    );
    store
        .provision_pool_cidr(&top, PoolCidrRequest::Cidr(net("10.0.0.0/8")))
        .unwrap();
    let production = pool(
        Some(&top),
        AddressFamily::Ipv4,
        "Production VPCs",
        guard(16, 24, 20),
        tags(&[("Environment", "Production")]),
    );
    store
        .provision_pool_cidr(&production, PoolCidrRequest::Cidr(net("10.1.0.0/16")))
        .unwrap();
    let development = pool(
        Some(&top),
        AddressFamily::Ipv4,
        "Development VPCs",
        guard(16, 24, 24),
        tags(&[("Environment", "Development")]),
    );
    store
        .provision_pool_cidr(&development, PoolCidrRequest::Cidr(net("10.2.0.0/16")))
        .unwrap();
    let ipv6 = pool(
        None,
        AddressFamily::Ipv6,
        "IPv6 sites",
        guard(52, 64, 56),
        Tags::new(),
    );
    store
        .provision_pool_cidr(&ipv6, PoolCidrRequest::Cidr(net("fd00:ec2:1::/48")))
        .unwrap();
    let allocate = |pool: &str, len: Option<u8>, description: &str, t: Tags| {
        store
            .allocate(&AllocationRequest {
                pool_id: pool.to_string(),
                netmask_length: len,
                description: description.to_string(),
                tags: t,
                ..AllocationRequest::default()
            })
            .unwrap()
    };
    let prod = [("Environment", "Production")];
    allocate(
        &production,
        None,
        "prod-app-vpc",
        tags(&[("Name", "prod-app-vpc"), prod[0]]),
    );
    allocate(
        &production,
        Some(22),
        "prod-data-vpc",
        tags(&[("Name", "prod-data-vpc"), prod[0]]),
    );
    for i in 0..3 {
        let name = format!("dev-vpc-{i}");
        allocate(&development, None, &name, tags(&[("Name", &name)]));
    }
    for i in 0..2 {
        allocate(&ipv6, None, &format!("site-{i}"), Tags::new());
    }
    allocate(&ipv6, Some(64), "management segment", Tags::new());
    Example {
        store,
        ipam_id: ipam.id,
        top,
        production,
        development,
        ipv6,
    }
}

/// A store with one /8 pool holding `n` allocations of /28 (a fifth of them tagged per team),
/// made in batches through `allocate_many`.
pub fn big_pool(path: &Path, n: usize) -> (SqliteStore, String) {
    let store = SqliteStore::open(path, SqliteOptions::new("seed")).unwrap();
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let mut new = NewPool::new(&ipam.private_default_scope_id, AddressFamily::Ipv4);
    new.description = "Fleet".into();
    let pool = store.create_pool(&new).unwrap().id;
    store
        .provision_pool_cidr(&pool, PoolCidrRequest::Cidr(net("10.0.0.0/8")))
        .unwrap();
    let teams = ["web", "data", "batch", "edge", "ops"];
    let mut made = 0;
    while made < n {
        let batch: Vec<AllocationRequest> = (made..n.min(made + 10_000))
            .map(|i| AllocationRequest {
                pool_id: pool.clone(),
                netmask_length: Some(28),
                description: format!("vm-{i}"),
                tags: tags(&[("team", teams[i % teams.len()])]),
                ..AllocationRequest::default()
            })
            .collect();
        made += store.allocate_many(&batch).unwrap().len();
    }
    (store, pool)
}
