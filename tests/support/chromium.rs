//! Headless Chromium for the map tests: open a page as a person would, take a screenshot, dump
//! the DOM after the page's script ran. Each run gets a fresh profile directory and no network
//! features, so runs do not interfere and nothing is fetched.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The browser: `$CHROMIUM`, else `chromium` / `chromium-browser` / `google-chrome` on PATH.
/// Panics with the way to install it when there is none.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "chromium is not installed, and the map tests open the map in a real headless browser; \
         install it with `sudo apt-get update && sudo apt-get install -y chromium` (Debian/Ubuntu), \
         or point CHROMIUM at a Chrome or Chromium binary"
    );
}

/// Runs headless Chromium on `page` (a path, optionally with a `#fragment`) with `args`,
/// returning its standard output.
fn run(page: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("chromium profile directory");
    let (path, fragment) = match page.to_str().and_then(|p| p.split_once('#')) {
        Some((path, fragment)) => (Path::new(path), format!("#{fragment}")),
        None => (page, String::new()),
    };
    let url = format!(
        "file://{}{fragment}",
        path.canonicalize().expect("page exists").display()
    );
    let child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // read the output while it runs: a dumped DOM is larger than a pipe's buffer
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("chromium output"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("chromium did not finish within 120 s on {url}");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "chromium failed ({}) on {url}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The DOM after the page loaded and its scripts ran.
pub fn dump_dom(page: &Path) -> String {
    run(page, &["--dump-dom".to_string()])
}

/// A screenshot of the page in a window of `width` × `height` pixels, written to `png`.
pub fn screenshot(page: &Path, png: &Path, width: u32, height: u32) {
    let _ = std::fs::remove_file(png);
    run(
        page,
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={width},{height}"),
        ],
    );
    assert!(
        png.is_file(),
        "chromium wrote no screenshot to {}",
        png.display()
    );
}

/// A decoded RGB(A) image.
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// RGB triples, row by row.
    pub pixels: Vec<[u8; 3]>,
}

impl Image {
    /// Decodes a PNG file.
    pub fn open(path: &Path) -> Image {
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(path).expect("open screenshot"),
        ));
        let mut reader = decoder.read_info().expect("a PNG screenshot");
        let mut buffer = vec![0; reader.output_buffer_size().expect("image size")];
        let info = reader.next_frame(&mut buffer).expect("decode screenshot");
        let channels = info.color_type.samples();
        assert!(
            info.bit_depth == png::BitDepth::Eight && channels >= 3,
            "unexpected screenshot format {:?} {:?}",
            info.color_type,
            info.bit_depth
        );
        let pixels = buffer[..info.buffer_size()]
            .chunks_exact(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Image {
            width: info.width,
            height: info.height,
            pixels,
        }
    }

    /// How many pixels have exactly this colour.
    pub fn count(&self, rgb: [u8; 3]) -> usize {
        self.pixels.iter().filter(|p| **p == rgb).count()
    }

    /// The number of distinct colours.
    pub fn distinct_colors(&self) -> usize {
        let mut seen: Vec<[u8; 3]> = self.pixels.clone();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }
}

/// `#rrggbb` as RGB.
pub fn hex(color: &str) -> [u8; 3] {
    let c = color.trim_start_matches('#');
    let byte = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).expect("a hex colour");
    [byte(0), byte(2), byte(4)]
}

/// The values of attribute `name` in `html`, in document order.
pub fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest[..rest.find('"').expect("closed attribute")].to_string()
        })
        .collect()
}
