//! The address-space map: one self-contained HTML page (or a standalone SVG) that draws every
//! pool CIDR as a space-filling picture, with the ipam → scope → pool → pool CIDR tree and its
//! utilization bars beside it.
//!
//! # API (used by the `ipam map` command)
//! ```no_run
//! use tfipam::map::{render_html, render_svg, MapOptions};
//! use tfipam::store::{SqliteOptions, SqliteStore};
//! let store = SqliteStore::open("terraform-ipam.db", SqliteOptions::new("cli")).unwrap();
//! // everything in the database; or Some("ipam-…" | "ipam-scope-…" | "ipam-pool-…")
//! let options = MapOptions { color_by_tag: Some("Environment".to_string()), ..MapOptions::default() };
//! let html: String = render_html(&store, None, &options).unwrap();
//! let svg: String = render_svg(&store, Some("ipam-pool-0123456789abcdef"), &options).unwrap();
//! # let _ = (html, svg);
//! ```
//! - `root`: `None` maps every IPAM; an IPAM id maps that IPAM, a scope id that scope, a pool id
//!   that pool and its descendants (the tree still shows its IPAM and scope; a pool CIDR id
//!   maps its pool). An unknown id is
//!   [`crate::ipam::Error::NotFound`]; a string that is no id of these kinds is
//!   [`crate::ipam::Error::InvalidArgument`] (input `root`).
//! - [`MapOptions::color_by_tag`]: colour allocations by the value of this tag (allocations
//!   without it are grey) instead of by pool.
//! - Everything is read through [`Store`] (`list_ipams`, `list_scopes`, `find_pools`,
//!   `list_pool_cidrs`, `list_allocations`, `audit_events` for the actor of each allocation):
//!   no SQL, so every backend draws the same map.
//!
//! # The picture
//! Every pool CIDR is a tile laid out by nested quadrants ([`layout`]): a block with an even
//! number of host bits is a square, one with an odd number a 2:1 rectangle, and each split of a
//! block halves it into its two aligned halves (top/bottom for a square, left/right for a
//! rectangle), so addresses run in reading order at every level and every aligned
//! power-of-two block of the space is a square or a 2:1 rectangle. Allocations are filled with
//! their pool's (or tag value's) colour, child-pool CIDRs are outlined with the child's own
//! allocations drawn inside, free space stays pale. Blocks smaller than a pixel are aggregated
//! into their pixel (coloured with the share of the pixel they use), never dropped; totals come
//! from the store's usage figures.
//!
//! # Organization
//! - [`layout`]: the nested-quadrant geometry (pure arithmetic, shared by both outputs).
//! - `model`: reading the hierarchy from the store into one flat, ordered model.
//! - `html`: the page — data embedded as compact JSON, drawn on canvases by `map.js` (inline).
//! - `svg`: the same picture as a standalone SVG, aggregated server-side.

pub mod layout;
mod model;

mod html;
mod svg;

use crate::ipam::Result;
use crate::store::Store;

/// How to draw the map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapOptions {
    /// Colour allocations by the value of this tag instead of by pool.
    pub color_by_tag: Option<String>,
    /// The page title; default "Address-space map".
    pub title: Option<String>,
}

/// The map as one self-contained HTML page (no network access: script and style are inline).
pub fn render_html(store: &dyn Store, root: Option<&str>, options: &MapOptions) -> Result<String> {
    let model = model::Model::read(store, root, options)?;
    Ok(html::render(&model, options))
}

/// The map as one standalone SVG document.
pub fn render_svg(store: &dyn Store, root: Option<&str>, options: &MapOptions) -> Result<String> {
    let model = model::Model::read(store, root, options)?;
    Ok(svg::render(&model, options))
}
