//! The address-space map at scale: a /8 holding 100,000 allocations (made with
//! `Store::allocate_many`) rendered to HTML, then opened in headless Chromium five times. The
//! page measures itself: `performance.now()` when its script has drawn everything (time since
//! navigation start: reading the file, parsing the embedded data, building the tree, drawing),
//! written into the DOM. Targets: under 2 s in Chromium, under 10 MB of HTML.
//!
//! `cargo bench --bench map` (needs `chromium`; figures go to docs/performance.md).

#[path = "../tests/support/chromium.rs"]
mod chromium;
#[path = "../tests/support/map_fixtures.rs"]
mod map_fixtures;

use std::time::Instant;

use tfipam::map::{render_html, render_svg, MapOptions};

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let n = 100_000;
    let seeding = Instant::now();
    let (store, _pool) = map_fixtures::big_pool(&dir.path().join("big.db"), n);
    println!(
        "seeded {n} allocations in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let rendering = Instant::now();
    let html = render_html(&store, None, &MapOptions::default()).expect("render html");
    let html_time = rendering.elapsed();
    let rendering = Instant::now();
    let svg = render_svg(&store, None, &MapOptions::default()).expect("render svg");
    let svg_time = rendering.elapsed();
    println!(
        "html: {:.2} MB in {:.0} ms (reading the store included); svg: {:.2} MB in {:.0} ms",
        html.len() as f64 / 1e6,
        html_time.as_secs_f64() * 1e3,
        svg.len() as f64 / 1e6,
        svg_time.as_secs_f64() * 1e3
    );
    let page = dir.path().join("map.html");
    std::fs::write(&page, &html).expect("write page");

    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let dom = chromium::dump_dom(&page);
            let values = chromium::attribute_values(&dom, "data-render-ms");
            values[0].parse::<f64>().expect("render time in the DOM")
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "chromium, navigation start to drawn: median {:.0} ms (min {:.0}, max {:.0}) over {} runs",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
    assert!(html.len() < 10_000_000, "target: the page under 10 MB");
    assert!(
        times[times.len() / 2] < 2000.0,
        "target: drawn in under 2 s"
    );
    println!("targets met: < 10 MB, < 2 s");
}
