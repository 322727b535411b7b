//! The same picture as a standalone SVG: the tree with utilization bars on the left, one tile
//! per pool CIDR on the right. Blocks smaller than a pixel of a tile are aggregated here, into
//! runs of pixels, so that the file stays small however many allocations there are.

use std::collections::HashMap;
use std::fmt::Write;

use super::html::{escape, netmask_text};
use super::layout::{block_rect, Rect};
use super::model::{pool_label, Model};
use super::MapOptions;

const TILE: f64 = 512.0;
const TREE_WIDTH: f64 = 460.0;
const MARGIN: f64 = 20.0;
const CAPTION: f64 = 44.0;
const GAP: f64 = 20.0;
const ROW: f64 = 22.0;
const FREE: &str = "#eef1f4";

/// Sub-pixel blocks of one tile: per pixel, the share used and the colour.
#[derive(Default)]
struct Aggregates {
    pixels: HashMap<(u32, u32), (f64, String)>,
}

struct Tile<'m> {
    model: &'m Model,
    width: f64,
    height: f64,
    body: String,
    labels: String,
    aggregates: Aggregates,
}

impl Tile<'_> {
    fn draw_cidr(&mut self, cidr: usize, area: Rect) {
        let node = &self.model.cidrs[cidr];
        let net = node.usage.pool_cidr.cidr;
        let host_bits = net.max_prefix_len() - net.prefix_len();
        let base = crate::ipam::cidr::addr_to_u128(net.network());
        for index in node.allocations.clone() {
            let a = &self.model.allocations[index];
            let depth = a.allocation.cidr.prefix_len() - net.prefix_len();
            let shift = u32::from(net.max_prefix_len() - a.allocation.cidr.prefix_len());
            let offset = crate::ipam::cidr::addr_to_u128(a.allocation.cidr.network()) - base;
            let r = block_rect(host_bits, depth, offset.checked_shr(shift).unwrap_or(0));
            let (x, y) = (area.x + r.x * area.w, area.y + r.y * area.h);
            let (w, h) = (r.w * area.w, r.h * area.h);
            let color = match a.child_cidr {
                Some(child) => {
                    super::model::color(self.model.pools[self.model.cidrs[child].pool].color)
                }
                None => self.model.legend_color(a.color),
            };
            if w < 1.0 || h < 1.0 {
                let px = (x.floor() as u32).min(self.width as u32 - 1);
                let py = (y.floor() as u32).min(self.height as u32 - 1);
                let entry = self
                    .aggregates
                    .pixels
                    .entry((px, py))
                    .or_insert((0.0, String::new()));
                entry.0 += w * h;
                entry.1 = color;
                continue;
            }
            let title = format!(
                "{} {}{}",
                a.allocation.cidr,
                a.allocation.id,
                if a.allocation.description.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", a.allocation.description)
                }
            );
            match a.child_cidr {
                Some(child) => {
                    let _ = write!(
                        self.body,
                        r##"<rect x="{x:.2}" y="{y:.2}" width="{w:.2}" height="{h:.2}" fill="{color}" fill-opacity="0.13"><title>{}</title></rect>"##,
                        escape(&title)
                    );
                    self.draw_cidr(child, Rect { x, y, w, h });
                    let pool = &self.model.pools[self.model.cidrs[child].pool];
                    let _ = write!(
                        self.labels,
                        r##"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="none" stroke="{color}" stroke-width="2"/><rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="none" stroke="#1f2933" stroke-opacity="0.55" stroke-dasharray="4 3"/>"##,
                        x + 1.0,
                        y + 1.0,
                        w - 2.0,
                        h - 2.0,
                        x + 0.5,
                        y + 0.5,
                        w - 1.0,
                        h - 1.0
                    );
                    if w >= 60.0 && h >= 18.0 {
                        let text = format!("{}  {}", pool_label(&pool.pool), a.allocation.cidr);
                        let shown = fit(&text, w - 12.0, 6.4);
                        let _ = write!(
                            self.labels,
                            r##"<rect x="{:.2}" y="{:.2}" width="{:.1}" height="16" fill="#fff" fill-opacity="0.92"/><rect x="{:.2}" y="{:.2}" width="3" height="16" fill="{color}"/><text x="{:.2}" y="{:.2}" class="tag">{}</text>"##,
                            x + 3.0,
                            y + 3.0,
                            shown.chars().count() as f64 * 6.4 + 8.0,
                            x + 3.0,
                            y + 3.0,
                            x + 7.0,
                            y + 15.0,
                            escape(&shown)
                        );
                    }
                }
                None => {
                    let stroke = if w >= 5.0 && h >= 5.0 {
                        r##" stroke="#fff" stroke-opacity="0.85""##
                    } else {
                        ""
                    };
                    let _ = write!(
                        self.body,
                        r##"<rect x="{x:.2}" y="{y:.2}" width="{w:.2}" height="{h:.2}" fill="{color}"{stroke}><title>{}</title></rect>"##,
                        escape(&title)
                    );
                    if w >= 24.0 && h >= 14.0 {
                        let full = a.allocation.cidr.to_string();
                        // a block too narrow for its CIDR still shows its size
                        let fits = full.chars().count() as f64 * 6.7 <= w - 8.0;
                        let cidr = if fits {
                            full
                        } else {
                            fit(
                                &format!("/{}", a.allocation.cidr.prefix_len()),
                                w - 6.0,
                                6.7,
                            )
                        };
                        let description = fit(&a.allocation.description, w - 8.0, 6.2);
                        let _ = write!(
                            self.labels,
                            r##"<text x="{:.2}" y="{:.2}" class="cidr">{}</text>"##,
                            x + 4.0,
                            y + 14.0,
                            escape(&cidr)
                        );
                        // the description only where the whole CIDR fits
                        if fits && h >= 32.0 && !description.is_empty() {
                            let _ = write!(
                                self.labels,
                                r##"<text x="{:.2}" y="{:.2}" class="desc">{}</text>"##,
                                x + 4.0,
                                y + 27.0,
                                escape(&description)
                            );
                        }
                    }
                }
            }
        }
    }

    /// Runs of aggregated pixels of one colour and strength, row by row.
    fn flush(&mut self) {
        let mut pixels: Vec<_> = self.aggregates.pixels.drain().collect();
        pixels.sort_by_key(|((x, y), _)| (*y, *x));
        let mut run: Option<(u32, u32, u32, String, u32)> = None; // y, x0, len, colour, strength
        let mut out = String::new();
        let mut emit = |run: &(u32, u32, u32, String, u32)| {
            let _ = write!(
                out,
                r##"<rect x="{}" y="{}" width="{}" height="1" fill="{}" fill-opacity="{:.2}"/>"##,
                run.1,
                run.0,
                run.2,
                run.3,
                f64::from(run.4) / 10.0
            );
        };
        for ((x, y), (area, color)) in pixels {
            // the same strengths as the page: at least 0.4, full when the pixel is used
            let strength = (4.0 + 6.0 * area.min(1.0)).round() as u32;
            match &mut run {
                Some(r) if r.0 == y && r.1 + r.2 == x && r.3 == color && r.4 == strength => {
                    r.2 += 1
                }
                _ => {
                    if let Some(r) = &run {
                        emit(r);
                    }
                    run = Some((y, x, 1, color, strength));
                }
            }
        }
        if let Some(r) = &run {
            emit(r);
        }
        self.body.push_str(&out);
    }
}

/// `text`, cut with an ellipsis to about `width` pixels at `char_width` per character.
fn fit(text: &str, width: f64, char_width: f64) -> String {
    let max = (width / char_width).floor() as usize;
    if text.chars().count() <= max {
        text.to_string()
    } else if max >= 2 {
        text.chars()
            .take(max - 1)
            .chain(std::iter::once('…'))
            .collect()
    } else {
        String::new()
    }
}

/// A count with thousands separators (`16,777,216`).
fn grouped(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// "used of total addresses" of a pool CIDR; IPv6 space of /64 or more counts /64 subnets.
fn usage_text(net: &ipnet::IpNet, used: u128, total: u128) -> String {
    if matches!(net, ipnet::IpNet::V6(_)) && net.prefix_len() <= 64 {
        let approx = |n: u128| {
            let exact = n.is_multiple_of(1 << 64);
            format!("{}{}", if exact { "" } else { "≈" }, grouped(n >> 64))
        };
        format!("{} of {} /64s", approx(used), approx(total))
    } else {
        format!("{} of {} addresses", grouped(used), grouped(total))
    }
}

fn percent(used: u128, total: u128) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 / total as f64 * 100.0
    }
}

fn bar_color(p: f64) -> &'static str {
    if p >= 85.0 {
        "#d64545"
    } else if p >= 60.0 {
        "#e9a23b"
    } else {
        "#59a14f"
    }
}

/// One tree row: indentation, an optional swatch, the name, and a utilization bar.
fn tree_row(
    out: &mut String,
    y: f64,
    indent: f64,
    name: &str,
    swatch: Option<&str>,
    usage: Option<(u128, u128)>,
    class: &str,
) {
    let mut x = MARGIN + 12.0 + indent;
    if let Some(color) = swatch {
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{}" width="11" height="11" rx="2" fill="{color}"/>"##,
            y - 10.0
        );
        x += 16.0;
    }
    let room = TREE_WIDTH - 170.0 - (x - MARGIN);
    let _ = write!(
        out,
        r##"<text x="{x}" y="{y}" class="{class}">{}</text>"##,
        escape(&fit(name, room, 6.6))
    );
    if let Some((used, total)) = usage {
        let p = percent(used, total);
        let bx = MARGIN + TREE_WIDTH - 150.0;
        let _ = write!(
            out,
            r##"<rect x="{bx}" y="{}" width="96" height="8" rx="4" fill="{FREE}" stroke="#dfe3e8"/><rect x="{bx}" y="{}" width="{:.2}" height="8" rx="4" fill="{}"/><text x="{}" y="{y}" class="pct">{:.1}%</text>"##,
            y - 8.0,
            y - 8.0,
            96.0 * p.min(100.0) / 100.0,
            bar_color(p),
            bx + 140.0,
            p
        );
    }
}

/// The whole SVG document.
pub fn render(model: &Model, _options: &MapOptions) -> String {
    // the tree
    let mut tree = String::new();
    let mut y = MARGIN + 78.0;
    let _ = write!(
        tree,
        r##"<text x="{}" y="{y}" class="h2">Tree</text>"##,
        MARGIN + 12.0
    );
    y += ROW;
    for ipam in &model.ipams {
        let name = if ipam.ipam.description.is_empty() {
            &ipam.ipam.id
        } else {
            &ipam.ipam.description
        };
        tree_row(
            &mut tree,
            y,
            0.0,
            &format!("IPAM {name}"),
            None,
            None,
            "strong",
        );
        y += ROW;
        for scope in &ipam.scopes {
            let label = if scope.scope.description.is_empty() {
                "default".to_string()
            } else {
                scope.scope.description.clone()
            };
            tree_row(
                &mut tree,
                y,
                14.0,
                &format!("{} scope {label}", scope.scope.kind),
                None,
                None,
                "muted",
            );
            y += ROW;
            let mut stack: Vec<(usize, f64)> =
                scope.roots.iter().rev().map(|&p| (p, 28.0)).collect();
            while let Some((p, indent)) = stack.pop() {
                let pool = &model.pools[p];
                let guard = netmask_text(&pool.pool);
                let name = if guard.is_empty() {
                    pool_label(&pool.pool)
                } else {
                    format!("{} ({guard})", pool_label(&pool.pool))
                };
                let color = super::model::color(pool.color);
                tree_row(
                    &mut tree,
                    y,
                    indent,
                    &name,
                    Some(&color),
                    Some((pool.used, pool.total)),
                    "",
                );
                y += ROW;
                for &c in &pool.cidrs {
                    let usage = &model.cidrs[c].usage;
                    tree_row(
                        &mut tree,
                        y,
                        indent + 16.0,
                        &usage.pool_cidr.cidr.to_string(),
                        None,
                        Some((usage.used_addresses, usage.total_addresses)),
                        "mono",
                    );
                    y += ROW;
                }
                stack.extend(pool.children.iter().rev().map(|&c| (c, indent + 14.0)));
            }
        }
    }
    let tree_height = y - MARGIN - 56.0;

    // the tiles, two per row, in tree order
    let mut order = Vec::new();
    for ipam in &model.ipams {
        for scope in &ipam.scopes {
            let mut stack: Vec<usize> = scope.roots.iter().rev().copied().collect();
            while let Some(p) = stack.pop() {
                order.extend(model.pools[p].cidrs.iter().copied());
                stack.extend(model.pools[p].children.iter().rev());
            }
        }
    }
    let left = MARGIN + TREE_WIDTH + GAP;
    let mut tiles = String::new();
    let (mut col, mut row_y, mut row_h) = (0, MARGIN + 60.0, 0.0f64);
    for &c in &order {
        let node = &model.cidrs[c];
        let net = node.usage.pool_cidr.cidr;
        let host_bits = net.max_prefix_len() - net.prefix_len();
        let height = if host_bits % 2 == 1 { TILE / 2.0 } else { TILE };
        let x0 = left + f64::from(col) * (TILE + GAP + 24.0);
        let y0 = row_y;
        let mut tile = Tile {
            model,
            width: TILE,
            height,
            body: String::new(),
            labels: String::new(),
            aggregates: Aggregates::default(),
        };
        tile.draw_cidr(
            c,
            Rect {
                x: 0.0,
                y: 0.0,
                w: TILE,
                h: height,
            },
        );
        tile.flush();
        let pool = &model.pools[node.pool];
        let count = node
            .allocations
            .clone()
            .filter(|&k| model.allocations[k].allocation.child_pool_cidr_id.is_none())
            .count();
        let _ = write!(
            tiles,
            r##"<g transform="translate({:.1},{:.1})"><rect x="-12" y="-10" width="{}" height="{}" rx="8" fill="#fff" stroke="#dfe3e8"/><rect x="0" y="3" width="12" height="12" rx="2" fill="{}"/><text x="18" y="14" class="strong">{} <tspan class="mono">{}</tspan></text><text x="0" y="32" class="muted">{}</text><g transform="translate(0,{CAPTION})"><rect width="{TILE}" height="{height}" fill="{FREE}"/>{}{}</g></g>"##,
            x0,
            y0,
            TILE + 24.0,
            height + CAPTION + 22.0,
            super::model::color(pool.color),
            escape(&pool_label(&pool.pool)),
            net,
            escape(&fit(
                &format!(
                    "{:.1}% used · {} · {} allocations · {}",
                    node.usage.utilization_percent,
                    usage_text(&net, node.usage.used_addresses, node.usage.total_addresses),
                    grouped(count as u128),
                    pool.pool.id
                ),
                TILE,
                6.4
            )),
            tile.body,
            tile.labels
        );
        row_h = row_h.max(height + CAPTION + 22.0);
        col += 1;
        if col == 2 {
            col = 0;
            row_y += row_h + GAP;
            row_h = 0.0;
        }
    }
    let tiles_bottom = row_y + row_h;
    let width = left + 2.0 * (TILE + GAP + 24.0) + MARGIN;
    let height = (MARGIN + 60.0 + tree_height).max(tiles_bottom) + MARGIN;

    // the legend
    let mut legend = String::new();
    let mut lx = MARGIN;
    for (k, entry) in model.legend.iter().enumerate().take(24) {
        let text = fit(&entry.label, 200.0, 7.2);
        let _ = write!(
            legend,
            r##"<rect x="{lx}" y="{}" width="12" height="12" rx="2" fill="{}"/><text x="{}" y="{}">{}</text>"##,
            MARGIN + 36.0,
            model.legend_color(k),
            lx + 17.0,
            MARGIN + 46.0,
            escape(&text)
        );
        lx += 34.0 + text.chars().count() as f64 * 7.2;
    }
    let _ = write!(
        legend,
        r##"<rect x="{lx}" y="{}" width="12" height="12" rx="2" fill="{FREE}" stroke="#c9ced4"/><text x="{}" y="{}" class="muted">free</text>"##,
        MARGIN + 36.0,
        lx + 17.0,
        MARGIN + 46.0
    );

    let mut out = String::with_capacity(tiles.len() + tree.len() + 4096);
    let _ = write!(
        out,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="system-ui, 'DejaVu Sans', sans-serif" font-size="13">
<style>text{{fill:#1f2933}} .h1{{font-size:19px;font-weight:650}} .h2,.strong{{font-weight:650}} .muted{{fill:#66727f;font-size:12px}} .mono{{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12px}} .pct{{font-size:12px;text-anchor:end}} .cidr{{fill:#fff;font:600 11px ui-monospace,'DejaVu Sans Mono',monospace}} .desc{{fill:#fff;font-size:11px}} .tag{{font-size:11px;font-weight:600}}</style>
<title>{title}</title>
<rect width="100%" height="100%" fill="#f5f6f8"/>
<text x="{MARGIN}" y="{}" class="h1">{title}</text>
<text x="{}" y="{}" class="muted">{} pools · {} pool CIDRs · {} allocations · generated {} · coloured by {}</text>
{legend}
<rect x="{MARGIN}" y="{}" width="{TREE_WIDTH}" height="{tree_height:.0}" rx="8" fill="#fff" stroke="#dfe3e8"/>
{tree}{tiles}</svg>
"##,
        MARGIN + 8.0,
        MARGIN + 300.0,
        MARGIN + 8.0,
        model.pools.len(),
        model.cidrs.len(),
        model.allocation_count(),
        model.generated_at,
        model
            .color_by
            .as_ref()
            .map_or("pool".to_string(), |t| format!("tag {t}")),
        MARGIN + 60.0,
        title = escape(&model.title),
    );
    out
}
