//! `ipam map [ID] --html FILE [--svg FILE]`: the address-space map, written to files.
//!
//! The drawing itself belongs to the map renderer (`crate::map`, built separately); this
//! command only reads its arguments and writes what [`render`] returns.

use std::path::Path;

use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::Progress;
use super::{kind_of, Context, Failure, Outcome};
use crate::ipam::ObjectKind;
use crate::store::Store;

/// `ipam map`.
pub const SPEC: Spec = Spec {
    name: "map",
    usage: "map [ID] [--html FILE] [--svg FILE] [--color-by TAG]",
    summary: "the address-space map as a self-contained HTML page and/or an SVG",
    positional: (0, 1),
    options: &[
        (
            "html",
            true,
            "write the map as one self-contained HTML page (no network access)",
        ),
        ("svg", true, "write the map as a standalone SVG"),
        (
            "color-by",
            true,
            "colour allocations by the value of this tag instead of by pool",
        ),
        ("title", true, "the page title"),
    ],
    details: "ID (an ipam, scope or pool id) maps that part only. Give --html, --svg or both.",
};

/// The picture formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One self-contained HTML page.
    Html,
    /// A standalone SVG.
    Svg,
}

/// How to draw the map.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Colour allocations by this tag's value instead of by pool.
    pub color_by_tag: Option<String>,
    /// The page title.
    pub title: Option<String>,
}

/// Draws the map of `root` (everything when `None`).
///
/// The map renderer is not part of this build yet: this says so rather than drawing
/// something that is not the map.
pub fn render(
    store: &dyn Store,
    root: Option<&str>,
    format: Format,
    options: &Options,
) -> Result<String, Failure> {
    let _ = (store, root, format, options);
    Err(Failure::usage(
        "the map renderer is not part of this build yet, so no map was written; `ipam tree` shows the same hierarchy with utilization as text",
    ))
}

/// Runs `ipam map`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let targets: Vec<(Format, &str)> = [(Format::Html, "html"), (Format::Svg, "svg")]
        .into_iter()
        .filter_map(|(format, option)| args.value(option).map(|file| (format, file)))
        .collect();
    if targets.is_empty() {
        return Err(SPEC.misuse("needs --html FILE, --svg FILE or both".to_string()));
    }
    let root = args.arg(0);
    if let Some(id) = root {
        match kind_of(id) {
            Some(ObjectKind::Ipam | ObjectKind::Scope | ObjectKind::Pool) => {}
            _ => return Err(SPEC.misuse(format!("{id:?} is not an ipam, scope or pool id"))),
        }
    }
    let options = Options {
        color_by_tag: args.value("color-by").map(str::to_string),
        title: args.value("title").map(str::to_string),
    };
    let mut written = Vec::new();
    for (format, file) in targets {
        let text = {
            let _progress = Progress::start(&ctx.out, "drawing the map");
            render(ctx.store.as_ref(), root, format, &options)?
        };
        write(Path::new(file), &text)?;
        written.push(json!({ "format": format!("{format:?}").to_lowercase(), "file": file, "bytes": text.len() }));
    }
    if ctx.out.json {
        ctx.out.print_json(&json!({ "written": written }));
    } else {
        for w in &written {
            ctx.out.print(&format!(
                "wrote {} ({} bytes)",
                w["file"].as_str().unwrap_or_default(),
                w["bytes"]
            ));
        }
    }
    Ok(Outcome::Ok)
}

/// Writes `text` to `file` through a temporary file beside it, so that a reader never sees
/// half a map.
fn write(file: &Path, text: &str) -> Result<(), Failure> {
    let mut temporary = file.as_os_str().to_owned();
    temporary.push(".partial");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, file))
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", file.display())))
}
