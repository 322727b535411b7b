//! The address-space map, tested as a person uses it: rendered from a database made through the
//! store API, opened in real headless Chromium, looked at (screenshot: not blank, the pools'
//! colours are there) and read (the DOM after the page's script ran holds every pool and a
//! sample of allocations with their real CIDRs). Needs `chromium` (see `support/chromium.rs`).

#[path = "support/chromium.rs"]
mod chromium;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use tfipam::ipam::{
    AddressFamily, AllocationRequest, Error, NetmaskRule, NewIpam, NewPool, PoolCidrRequest,
    PoolFilter, Tags,
};
use tfipam::map::{render_html, render_svg, MapOptions};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

use chromium::{attribute_values, dump_dom, hex, screenshot, Image};

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn net(text: &str) -> IpNet {
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

fn example(dir: &Path) -> Example {
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

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    // MAP_KEEP=DIR keeps a copy of every page to look at
    if let Some(keep) = std::env::var_os("MAP_KEEP") {
        std::fs::write(Path::new(&keep).join(name), text).unwrap();
    }
    path
}

/// Every pool's allocations (child-pool CIDRs excluded): id → CIDR.
fn allocations(store: &dyn Store) -> HashMap<String, String> {
    let mut all = HashMap::new();
    for pool in store.find_pools(&PoolFilter::default()).unwrap() {
        for a in store.list_allocations(&pool.id).unwrap() {
            if a.child_pool_cidr_id.is_none() {
                all.insert(a.id, a.cidr.to_string());
            }
        }
    }
    all
}

/// The `data-…` attributes of the page's summary element.
fn summary(dom: &str) -> BTreeMap<String, String> {
    let start = dom
        .find("id=\"map-summary\"")
        .expect("the page has its summary element");
    let tag = &dom[dom[..start].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    tag.split(" data-")
        .skip(1)
        .filter_map(|part| {
            let (name, value) = part.split_once("=\"")?;
            Some((name.to_string(), value[..value.find('"')?].to_string()))
        })
        .collect()
}

/// Checks the DOM after the script ran: the tree lists every pool, and every sampled allocation
/// is a real one with its real CIDR (computed by the page from the compact data).
fn check_dom(dom: &str, store: &dyn Store, expected_sample: usize) -> BTreeMap<String, String> {
    let pools = store.find_pools(&PoolFilter::default()).unwrap();
    let listed = attribute_values(dom, "data-pool-id");
    for pool in &pools {
        assert!(
            listed.contains(&pool.id),
            "the map's DOM lacks pool {}",
            pool.id
        );
    }
    let truth = allocations(store);
    let ids = attribute_values(dom, "data-allocation-id");
    let cidrs = attribute_values(dom, "data-cidr");
    assert_eq!(ids.len(), expected_sample, "sampled allocations in the DOM");
    assert_eq!(ids.len(), cidrs.len());
    for (id, cidr) in ids.iter().zip(&cidrs) {
        assert_eq!(truth.get(id), Some(cidr), "allocation {id} in the DOM");
    }
    let summary = summary(dom);
    assert_eq!(summary["pools"], pools.len().to_string());
    assert_eq!(summary["allocations"], truth.len().to_string());
    let ms: f64 = summary["render-ms"]
        .parse()
        .expect("render time in the DOM");
    assert!(ms > 0.0);
    summary
}

#[test]
fn the_map_of_the_complete_example_shows_every_pool_and_allocation_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let example = example(dir.path());
    let html = render_html(&example.store, None, &MapOptions::default()).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src="),
        "the page loads nothing from anywhere"
    );
    let page = write(dir.path(), "map.html", &html);

    let dom = dump_dom(&page);
    // 8 allocations: all of them are in the sample
    let summary = check_dom(&dom, &example.store, 8);
    assert_eq!(summary["pool-cidrs"], "4");
    for text in [
        "Organization IPAM",
        "Production VPCs",
        "fd00:ec2:1::/48",
        "10.1.0.0/16",
    ] {
        assert!(dom.contains(text), "the page shows {text}");
    }
    // the IPv6 sites are formatted as IPv6 CIDRs
    assert!(dom.contains("data-cidr=\"fd00:ec2:1::/56\""), "{dom}");

    let png = dir.path().join("map.png");
    screenshot(&page, &png, 1600, 1250);
    let image = Image::open(&png);
    assert_eq!((image.width, image.height), (1600, 1250));
    assert!(image.distinct_colors() > 200, "a picture, not a blank page");
    let background = [0xf5, 0xf6, 0xf8];
    let plain = image.count(background) + image.count([255, 255, 255]);
    assert!(
        plain < image.pixels.len() * 85 / 100,
        "most of the screenshot is blank"
    );
    // each pool's colour fills its allocations (palette colours in tree order: top, production,
    // development, ipv6; the top pool has no allocations of its own) and free space is visible
    for color in ["#f28e2b", "#59a14f", "#e15759"] {
        assert!(
            image.count(hex(color)) > 400,
            "pool colour {color} is drawn: {} pixels",
            image.count(hex(color))
        );
    }
    assert!(
        image.count([238, 241, 244]) > 100_000,
        "free space is visible"
    );
    if let Some(out) = std::env::var_os("MAP_SCREENSHOT") {
        std::fs::copy(&png, out).unwrap();
    }
}

#[test]
fn a_pool_root_maps_that_pool_and_its_children_and_colours_by_tag() {
    let dir = tempfile::tempdir().unwrap();
    let example = example(dir.path());
    let options = MapOptions {
        color_by_tag: Some("Name".into()),
        ..MapOptions::default()
    };
    let html = render_html(&example.store, Some(&example.production), &options).unwrap();
    let page = write(dir.path(), "production.html", &html);
    let dom = dump_dom(&page);
    let pools = attribute_values(&dom, "data-pool-id");
    assert!(pools.contains(&example.production));
    assert!(!pools.contains(&example.development) && !pools.contains(&example.ipv6));
    assert!(dom.contains("Name = prod-app-vpc") && dom.contains("no Name tag"));
    assert_eq!(attribute_values(&dom, "data-allocation-id").len(), 2);

    // the top pool shows its children's space outlined and their allocations inside
    let html = render_html(&example.store, Some(&example.top), &MapOptions::default()).unwrap();
    let dom = dump_dom(&write(dir.path(), "top.html", &html));
    let pools = attribute_values(&dom, "data-pool-id");
    for id in [&example.top, &example.production, &example.development] {
        assert!(pools.contains(id));
    }
    assert!(!pools.contains(&example.ipv6));
    assert_eq!(attribute_values(&dom, "data-allocation-id").len(), 5);

    let html = render_html(
        &example.store,
        Some(&example.ipam_id),
        &MapOptions::default(),
    )
    .unwrap();
    assert!(html.contains(&example.ipv6));
}

#[test]
fn unknown_and_malformed_roots_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let example = example(dir.path());
    let err = render_html(
        &example.store,
        Some("ipam-pool-0000000000000000"),
        &MapOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("ipam-pool-0000000000000000"));
    let err = render_svg(&example.store, Some("10.0.0.0/8"), &MapOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("is not the id of an ipam, scope or pool"),
        "{err}"
    );
}

#[test]
fn the_svg_is_the_same_picture_as_a_standalone_document() {
    let dir = tempfile::tempdir().unwrap();
    let example = example(dir.path());
    let svg = render_svg(&example.store, None, &MapOptions::default()).unwrap();
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    for (id, cidr) in allocations(&example.store) {
        assert!(
            svg.contains(&format!("{cidr} {id}")),
            "{cidr} {id} in the svg"
        );
    }
    let page = write(dir.path(), "map.svg", &svg);
    let png = dir.path().join("svg.png");
    screenshot(&page, &png, 1600, 1250);
    let image = Image::open(&png);
    assert!(image.distinct_colors() > 100, "the svg draws a picture");
    for color in ["#f28e2b", "#59a14f", "#e15759"] {
        assert!(
            image.count(hex(color)) > 400,
            "pool colour {color} in the svg"
        );
    }
}

/// A /8 holding 100,000 allocations: the page stays under 10 MB, Chromium draws it, the DOM
/// holds a sample, and the aggregated sub-pixel blocks are drawn rather than dropped. (The two
/// second target is measured by `cargo bench --bench map`, not asserted here.)
#[test]
fn a_slash_8_with_100000_allocations_stays_small_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pool) = big_pool(&dir.path().join("big.db"), 100_000);
    let html = render_html(&store, None, &MapOptions::default()).unwrap();
    assert!(html.len() < 10_000_000, "the page is {} bytes", html.len());
    let page = write(dir.path(), "big.html", &html);
    let dom = dump_dom(&page);
    let summary = check_dom(&dom, &store, 200);
    assert_eq!(summary["allocations"], "100000");
    let aggregated: usize = summary["aggregated-blocks"].parse().unwrap();
    let drawn: usize = summary["drawn-blocks"].parse().unwrap();
    assert_eq!(
        aggregated + drawn,
        100_000,
        "every allocation is drawn or aggregated"
    );
    assert!(attribute_values(&dom, "data-pool-id").contains(&pool));
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
