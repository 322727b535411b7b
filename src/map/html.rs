//! The HTML page: `map.html` with `map.css` and `map.js` inline and the model embedded as compact
//! JSON (allocations in columns, repeated strings in one table, times as offsets), so that a /8
//! with 100,000 allocations stays a few megabytes and every allocation keeps its details.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::ipam::cidr::addr_to_u128;

use super::model::{pool_label, Model};
use super::MapOptions;

const TEMPLATE: &str = include_str!("map.html");
const STYLE: &str = include_str!("map.css");
const SCRIPT: &str = include_str!("map.js");

/// Allocation ids start with this; the page stores only the rest.
const ALLOCATION_ID_PREFIX: &str = "ipam-alloc-";

/// Interns strings: each distinct text is stored once.
#[derive(Default)]
struct Strings {
    index: HashMap<String, usize>,
    list: Vec<String>,
}

impl Strings {
    fn intern(&mut self, text: &str) -> usize {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        self.list.push(text.to_string());
        self.index.insert(text.to_string(), self.list.len() - 1);
        self.list.len() - 1
    }
}

/// A u128 as a JSON number when JavaScript reads it exactly, else as a decimal string.
fn big(n: u128) -> Value {
    if n < 1 << 53 {
        Value::from(n as u64)
    } else {
        Value::from(n.to_string())
    }
}

/// Unix milliseconds of an RFC 3339 UTC time as the store writes it
/// (`2026-11-24T02:03:04.123Z`, fraction optional).
pub(super) fn rfc3339_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = match text.get(19..text.len() - 1)? {
        "" => 0,
        fraction => {
            let digits = fraction.strip_prefix('.')?;
            let padded: String = digits.chars().chain("000".chars()).take(3).collect();
            padded.parse::<i64>().ok()?
        }
    };
    // days from civil (Howard Hinnant's algorithm)
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis)
}

fn tags_text(tags: &crate::ipam::Tags) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        serde_json::to_string(tags).unwrap_or_default()
    }
}

/// The model as the JSON `map.js` reads (its format is described at the top of `map.js`).
fn data(model: &Model) -> Value {
    let mut strings = Strings::default();
    strings.intern("");
    let time_base = model
        .allocations
        .iter()
        .filter_map(|a| rfc3339_millis(&a.allocation.created_at))
        .min()
        .unwrap_or(0);
    let n = model.allocations.len();
    let (mut d, mut i, mut ids, mut desc, mut tags, mut times, mut actors, mut colors) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut children = Vec::new();
    for cidr in &model.cidrs {
        let net = cidr.usage.pool_cidr.cidr;
        let base = addr_to_u128(net.network());
        let width = net.max_prefix_len();
        for index in cidr.allocations.clone() {
            let node = &model.allocations[index];
            let a = &node.allocation;
            let depth = a.cidr.prefix_len() - net.prefix_len();
            let offset = addr_to_u128(a.cidr.network()) - base;
            let shift = u32::from(width - a.cidr.prefix_len());
            d.push(Value::from(depth));
            i.push(big(offset.checked_shr(shift).unwrap_or(0)));
            ids.push(Value::from(
                a.id.strip_prefix(ALLOCATION_ID_PREFIX).unwrap_or(&a.id),
            ));
            desc.push(Value::from(strings.intern(&a.description)));
            tags.push(Value::from(strings.intern(&tags_text(&a.tags))));
            times.push(match rfc3339_millis(&a.created_at) {
                Some(ms) => Value::from(ms - time_base),
                None => Value::from(a.created_at.clone()),
            });
            actors.push(Value::from(strings.intern(&node.actor)));
            colors.push(Value::from(node.color));
            if let Some(child) = node.child_cidr {
                children.push(json!([index, child]));
            }
        }
    }
    let pools: Vec<Value> = model
        .pools
        .iter()
        .map(|p| {
            json!({
                "id": p.pool.id,
                "label": pool_label(&p.pool),
                "description": p.pool.description,
                "family": p.pool.address_family.as_str(),
                "locale": p.pool.locale,
                "tags": p.pool.tags,
                "netmask": netmask_text(&p.pool),
                "parent": p.parent,
                "children": p.children,
                "cidrs": p.cidrs,
                "color": super::model::color(p.color),
                "used": p.used.to_string(),
                "total": p.total.to_string(),
                "created": p.pool.created_at,
            })
        })
        .collect();
    let cidrs: Vec<Value> = model
        .cidrs
        .iter()
        .map(|c| {
            let net = c.usage.pool_cidr.cidr;
            json!({
                "id": c.usage.pool_cidr.id,
                "pool": c.pool,
                "cidr": net.to_string(),
                "hostBits": net.max_prefix_len() - net.prefix_len(),
                "base": addr_to_u128(net.network()).to_string(),
                "v6": matches!(net, ipnet::IpNet::V6(_)),
                "used": c.usage.used_addresses.to_string(),
                "total": c.usage.total_addresses.to_string(),
                "free": c.usage.free_addresses.to_string(),
                "percent": c.usage.utilization_percent,
                "start": c.allocations.start,
                "end": c.allocations.end,
                "created": c.usage.pool_cidr.created_at,
            })
        })
        .collect();
    let ipams: Vec<Value> = model
        .ipams
        .iter()
        .map(|n| {
            json!({
                "id": n.ipam.id,
                "description": n.ipam.description,
                "tags": n.ipam.tags,
                "scopes": n.scopes.iter().map(|s| json!({
                    "id": s.scope.id,
                    "kind": s.scope.kind.as_str(),
                    "description": s.scope.description,
                    "default": s.scope.is_default,
                    "roots": s.roots,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let legend: Vec<Value> = model
        .legend
        .iter()
        .enumerate()
        .map(|(k, e)| json!([e.label, e.detail, model.legend_color(k)]))
        .collect();
    json!({
        "title": model.title,
        "generated": model.generated_at,
        "colorBy": model.color_by,
        "legend": legend,
        "ipams": ipams,
        "pools": pools,
        "cidrs": cidrs,
        "allocationCount": model.allocation_count(),
        "timeBase": time_base,
        "strings": strings.list,
        "a": {
            "d": d, "i": i, "id": ids, "desc": desc, "tags": tags, "t": times,
            "actor": actors, "color": colors,
        },
        "children": children,
    })
}

/// The guardrails as `/16–/24, default /20` (empty when the pool has none).
pub(super) fn netmask_text(pool: &crate::ipam::Pool) -> String {
    let rule = &pool.netmask;
    let width = pool.address_family.width();
    let (min, max) = (rule.min_len(), rule.max_len(pool.address_family));
    let mut parts = Vec::new();
    if min != 0 || max != width {
        parts.push(format!("/{min}–/{max}"));
    }
    if let Some(default) = rule.default {
        parts.push(format!("default /{default}"));
    }
    parts.join(", ")
}

/// Text safe inside HTML elements and attributes.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page.
pub fn render(model: &Model, _options: &MapOptions) -> String {
    // "</" would end the script element early; "<\/" means the same inside JSON strings
    let json = data(model).to_string().replace("</", "<\\/");
    let mut page = String::with_capacity(json.len() + TEMPLATE.len() + SCRIPT.len() + 4096);
    let template = TEMPLATE
        .replace("{{TITLE}}", &escape(&model.title))
        .replace("{{STYLE}}", STYLE)
        .replace("{{SCRIPT}}", SCRIPT);
    let (head, tail) = template
        .split_once("{{DATA}}")
        .expect("map.html has a {{DATA}} placeholder");
    page.push_str(head);
    page.push_str(&json);
    page.push_str(tail);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_times_parse_to_unix_milliseconds() {
        assert_eq!(rfc3339_millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            rfc3339_millis("2026-11-24T02:03:04.123Z"),
            Some(1_795_485_784_123)
        );
        assert_eq!(
            rfc3339_millis("2000-03-01T00:00:00Z"),
            Some(951_868_800_000)
        );
        assert_eq!(rfc3339_millis("yesterday"), None);
    }
}
