//! The address-space map, tested as a person uses it: rendered from a database made through the
//! store API, opened in real headless Chromium, looked at (screenshot: not blank, the pools'
//! colours are there) and read (the DOM after the page's script ran holds every pool and a
//! sample of allocations with their real CIDRs). Needs `chromium` (see `support/chromium.rs`).

mod support;

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/map_fixtures.rs"]
mod map_fixtures;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use tfipam::ipam::{Error, PoolFilter};
use tfipam::map::{render_html, render_svg, MapOptions};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

use chromium::{attribute_values, dump_dom, hex, screenshot, Image};
use map_fixtures::{big_pool, example};

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

    // with the production pool's first allocation pinned, as after a click on it
    let png = dir.path().join("map.png");
    screenshot(&dir.path().join("map.html#pin=1,0.1,0.1"), &png, 1600, 1520);
    let image = Image::open(&png);
    assert_eq!((image.width, image.height), (1600, 1520));
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
    // MAP_SCREENSHOT=docs/images/map.png refreshes the screenshot in the docs
    if let Some(out) = std::env::var_os("MAP_SCREENSHOT") {
        std::fs::copy(&png, out).unwrap();
    }
}

/// The map of a database made by a real `terraform apply` of examples/complete: every pool and
/// allocation the provider made is on the page, with the provider's actor.
#[test]
fn the_map_of_a_database_made_by_terraform_apply() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/complete");
    let (guard, db) = support::ipam::database();
    let dir = support::ipam::workdir(support::terraform::newest(), &db, "");
    dir.remove("versions.tf");
    dir.remove("main.tf");
    for entry in std::fs::read_dir(&example).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tf") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            dir.write(&name, &std::fs::read_to_string(&path).unwrap());
        }
    }
    dir.init();
    dir.apply().success();

    let store = SqliteStore::open(&db, SqliteOptions::new("map-test")).unwrap();
    let html = render_html(&store, None, &MapOptions::default()).unwrap();
    let page = write(guard.path(), "applied.html", &html);
    let dom = dump_dom(&page);
    check_dom(&dom, &store, 8);
    // the production pool's first block, pinned: made by the provider as actor "e2e"
    let production = store
        .find_pools(&PoolFilter {
            description: Some("Production VPCs".into()),
            ..PoolFilter::default()
        })
        .unwrap()
        .remove(0);
    let cidr = store.list_pool_cidrs(&production.id).unwrap().remove(0);
    let tile = attribute_values(&dom, "data-pool-cidr-id")
        .iter()
        .position(|id| *id == cidr.pool_cidr.id)
        .expect("the production tile");
    let details = pinned(
        &guard
            .path()
            .join(format!("applied.html#pin={tile},0.1,0.1")),
    );
    // (terraform makes the two production allocations in parallel: either may come first)
    let shown = details
        .split("<b>")
        .nth(1)
        .and_then(|d| d.split("</b>").next())
        .unwrap();
    let allocation = store
        .list_allocations(&production.id)
        .unwrap()
        .into_iter()
        .find(|a| a.cidr.to_string() == shown)
        .unwrap_or_else(|| panic!("{shown} is a production allocation"));
    let name = format!("Name = {}", allocation.tags["Name"]);
    for expected in [&allocation.id, &allocation.description, &name, "e2e"] {
        assert!(details.contains(expected), "{expected:?} in {details}");
    }
    dir.destroy().success();
}

/// Many pools: every one is in the tree and has its tile; tiles far below the fold are drawn
/// when scrolled to, so the page opens fast.
#[test]
fn many_pools_are_all_listed_and_the_first_tiles_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let example = example(dir.path());
    let scope = example.store.get_pool(&example.top).unwrap().scope_id;
    for i in 0..40u8 {
        let mut new = tfipam::ipam::NewPool::new(&scope, tfipam::ipam::AddressFamily::Ipv4);
        new.source_pool_id = Some(example.top.clone());
        new.description = format!("team {i}");
        let pool = example.store.create_pool(&new).unwrap();
        let cidr = map_fixtures::net(&format!("10.{}.0.0/16", 100 + i));
        example
            .store
            .provision_pool_cidr(&pool.id, tfipam::ipam::PoolCidrRequest::Cidr(cidr))
            .unwrap();
    }
    let html = render_html(&example.store, None, &MapOptions::default()).unwrap();
    let page = write(dir.path(), "many.html", &html);
    let dom = dump_dom(&page);
    check_dom(&dom, &example.store, 8);
    assert_eq!(
        attribute_values(&dom, "data-pool-cidr-id").len() / 2,
        44,
        "a tile and a tree entry per pool cidr"
    );
    let png = dir.path().join("many.png");
    screenshot(&page, &png, 1600, 1200);
    assert!(
        Image::open(&png).count(hex("#f28e2b")) > 400,
        "the first tiles are drawn"
    );
}

/// The details panel of `page` (opened with a `#pin=` fragment) after the page's script ran.
fn pinned(page: &Path) -> String {
    let dom = dump_dom(page);
    let start = dom.find("id=\"details\"").expect("details panel");
    let end = start + dom[start..].find("</div></div>").expect("details end");
    dom[start..end].to_string()
}

/// What a click on the map pins (the same text the hover shows): the page is opened with
/// `#pin=TILE,U,V`, which pins the point (U, V) of tile TILE as a click there does.
#[test]
fn a_click_shows_the_cidr_id_description_tags_created_time_and_actor() {
    let dir = tempfile::tempdir().unwrap();
    let example = example(dir.path());
    let html = render_html(&example.store, None, &MapOptions::default()).unwrap();
    write(dir.path(), "map.html", &html);
    let details = |fragment: &str| pinned(&dir.path().join(format!("map.html#pin={fragment}")));
    // tile 1 is the production /16; its top-left /20 is prod-app-vpc
    let app = example
        .store
        .list_allocations(&example.production)
        .unwrap()
        .into_iter()
        .find(|a| a.description == "prod-app-vpc")
        .unwrap();
    let text = details("1,0.1,0.1");
    for expected in [
        "10.1.0.0/20",
        app.id.as_str(),
        "prod-app-vpc",
        "Environment = Production, Name = prod-app-vpc",
        app.created_at.as_str(),
        "alice",
        "Production VPCs",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} in the details: {text}"
        );
    }
    // the bottom half of the production /16 is free: the largest aligned free block there
    let text = details("1,0.9,0.9");
    assert!(text.contains("10.1.128.0/17</b> free"), "{text}");
    assert!(text.contains("32,768"), "{text}");
    // IPv6 (tile 3, the /48): the first /56 is site-0
    let text = details("3,0.01,0.01");
    assert!(text.contains("fd00:ec2:1::/56</b> allocation"), "{text}");
    assert!(text.contains("site-0"), "{text}");
    // in the top /8 (tile 0), the development /16 is a child pool: the point inside it names the
    // child pool and the allocation under it
    let text = details("0,0.01,0.07");
    assert!(text.contains("Development VPCs"), "{text}");
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
fn markup_in_descriptions_and_tags_stays_text() {
    let dir = tempfile::tempdir().unwrap();
    let example = example(dir.path());
    let hostile = "</script><img src=x onerror=alert(1)> & \"quoted\"";
    let allocation = example
        .store
        .allocate(&tfipam::ipam::AllocationRequest {
            pool_id: example.development.clone(),
            description: hostile.to_string(),
            tags: map_fixtures::tags(&[("Name", hostile)]),
            ..Default::default()
        })
        .unwrap();
    let html = render_html(&example.store, None, &MapOptions::default()).unwrap();
    assert!(
        !html.contains("</script><img"),
        "the data cannot end the script element"
    );
    let svg = render_svg(&example.store, None, &MapOptions::default()).unwrap();
    assert!(!svg.contains("<img"), "the svg escapes text");
    write(dir.path(), "map.html", &html);
    // the page still runs and lists the allocation with its description as text (outside the
    // embedded data, where "<img" is JSON text, no element came from it)
    let dom = dump_dom(&dir.path().join("map.html"));
    let data = dom.find("id=\"ipam-map-data\"").unwrap();
    assert!(
        !dom[..data].contains("<img"),
        "no element made from the description"
    );
    let development = &example.store.list_pool_cidrs(&example.development).unwrap()[0];
    let index = attribute_values(&dom, "data-pool-cidr-id")
        .iter()
        .position(|id| *id == development.pool_cidr.id)
        .expect("the development tile");
    // pinned: the fourth /24, second row and column of the /16's 16 × 16 grid of /24s
    let details = pinned(&dir.path().join(format!("map.html#pin={index},0.09,0.09")));
    assert!(details.contains(&allocation.id), "{details}");
    assert!(
        details.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; \"quoted\""),
        "{details}"
    );
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
    // the SVG aggregates server-side: runs of fully used pixels in the pool's colour
    let svg = render_svg(&store, None, &MapOptions::default()).unwrap();
    assert!(svg.len() < 1_000_000, "the svg is {} bytes", svg.len());
    assert!(svg.contains(r##"height="1" fill="#4e79a7" fill-opacity="1.00""##));
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
    // the aggregated blocks are visible: 1.6M of 16.7M addresses is about a tenth of the tile's
    // 512 × 512 pixels in the pool's colour (a pixel is a /26: four /28s fill it)
    let png = dir.path().join("big.png");
    screenshot(&page, &png, 1400, 800);
    let filled = Image::open(&png).count(hex("#4e79a7"));
    assert!(
        (24_000..=27_000).contains(&filled),
        "{filled} pixels in the pool's colour"
    );
}
