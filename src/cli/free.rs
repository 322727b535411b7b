//! `ipam free POOL [--length N]`: a pool's free blocks in address order, the largest free
//! block, and how many /N still fit.

use ipnet::IpNet;
use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::{self, fields, Cell, Style, Table};
use super::{Context, Failure, Outcome};
use crate::ipam::Block;

/// `ipam free`.
pub const SPEC: Spec = Spec {
    name: "free",
    usage: "free POOL [--length N]",
    summary: "a pool's free blocks in address order, the largest, and how many /N fit",
    positional: (1, 1),
    options: &[(
        "length",
        true,
        "count how many blocks of prefix length N still fit (exit 1 when none does)",
    )],
    details: "Free space is listed as aligned blocks (each a CIDR that could be allocated whole).",
};

/// Runs `ipam free`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let pool = ctx.store.get_pool(args.arg(0).unwrap_or_default())?;
    let family = pool.address_family;
    let length = args
        .value("length")
        .map(|text| {
            let text = text.trim_start_matches('/');
            text.parse::<u8>()
                .ok()
                .filter(|n| *n <= family.width())
                .ok_or_else(|| {
                    SPEC.misuse(format!(
                        "--length {text:?} is not a prefix length of an {family} pool (0 to {})",
                        family.width()
                    ))
                })
        })
        .transpose()?;
    let blocks = ctx.store.free_blocks(&pool.id)?;
    let size = |net: &IpNet| Block::of(net).size(family);
    let free: u128 = blocks.iter().map(size).fold(0, u128::saturating_add);
    // the largest block; the lowest address among equals
    let largest = blocks
        .iter()
        .min_by_key(|b| (b.prefix_len(), Block::of(b).start));
    let fit = length.map(|n| fitting(&blocks, n));
    if ctx.out.json {
        let head = json!({
            "pool_id": pool.id,
            "address_family": family.as_str(),
            "free_addresses": free,
            "largest_free_block": largest.map(ToString::to_string),
            "length": length,
            "fit": fit,
        });
        ctx.out.print_json_list(
            &head,
            "blocks",
            &blocks,
            |b| json!({ "cidr": b.to_string(), "addresses": size(b) }),
        );
    } else {
        if !blocks.is_empty() {
            let table = Table::new(&["CIDR", "FIRST", "LAST", ">ADDRESSES"]);
            table.print_rows(&ctx.out, &blocks, |b| {
                vec![
                    Cell::styled(b.to_string(), Style::Cyan),
                    Cell::plain(b.network().to_string()),
                    Cell::plain(b.broadcast().to_string()),
                    Cell::plain(output::count(size(b))),
                ]
            });
            ctx.out.print("");
        }
        let mut summary = vec![
            ("pool", pool.id.clone()),
            (
                "free",
                format!(
                    "{} {} in {} blocks",
                    output::count(free),
                    if free < 1 << 64 {
                        "addresses"
                    } else {
                        "networks"
                    },
                    blocks.len()
                ),
            ),
            (
                "largest free block",
                largest.map_or("none".to_string(), ToString::to_string),
            ),
        ];
        if let (Some(n), Some(fit)) = (length, fit) {
            summary.push(("fit", format!("{} × /{n}", output::count(fit))));
        }
        ctx.out.print(&fields(&ctx.out, &summary));
    }
    Ok(if fit == Some(0) {
        Outcome::Finding
    } else {
        Outcome::Ok
    })
}

/// How many aligned /`length` blocks fit in these free blocks.
fn fitting(blocks: &[IpNet], length: u8) -> u128 {
    blocks
        .iter()
        .filter(|b| b.prefix_len() <= length)
        .map(|b| {
            let bits = u32::from(length - b.prefix_len());
            1u128.checked_shl(bits).unwrap_or(u128::MAX)
        })
        .fold(0, u128::saturating_add)
}
