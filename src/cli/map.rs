//! `ipam map [ID] --html FILE [--svg FILE]`: the address-space map, written to files.
//!
//! The drawing is the map renderer's ([`crate::map`]); this command reads its arguments,
//! draws each requested format and writes it, showing progress on a terminal.

use std::path::Path;

use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::Progress;
use super::{kind_of, Context, Failure, Outcome};
use crate::ipam::ObjectKind;
use crate::map::{render_html, render_svg, MapOptions};
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
enum Format {
    /// One self-contained HTML page.
    Html,
    /// A standalone SVG.
    Svg,
}

/// Draws the map of `root` (everything when `None`) in `format`.
fn render(
    store: &dyn Store,
    root: Option<&str>,
    format: Format,
    options: &MapOptions,
) -> Result<String, Failure> {
    Ok(match format {
        Format::Html => render_html(store, root, options)?,
        Format::Svg => render_svg(store, root, options)?,
    })
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
    let options = MapOptions {
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
