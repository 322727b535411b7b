//! `ipam free POOL [--length N]`: a pool's free blocks in address order (cooling blocks with
//! the time they become free, blocks reserved for plans not yet applied with their name and
//! expiry), the largest free block, and how many /N still fit.

use ipnet::IpNet;
use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::{self, fields, Cell, Style, Table};
use super::{json as j, Context, Failure, Outcome};
use crate::ipam::{cidr_set, Block, CooldownMode, Reservation};

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
    details: "Free space is listed as aligned blocks (each a CIDR that could be allocated whole). \
              Blocks cooling down after their release show when they become free; the largest \
              block and the /N count leave them out (a soft cooldown also gives figures counting \
              them: what fits when nothing else does). Blocks reserved for plans not yet applied \
              are not free: they are listed with the name they are held for and until when \
              (RESERVED FOR); an expired one is held until the next plan or allocation in the \
              pool frees it.",
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
    let all = ctx.store.free_blocks(&pool.id)?;
    let cooling = ctx.store.list_cooling_blocks(&pool.id)?;
    let of = |nets: &[IpNet]| nets.iter().map(Block::of).collect::<Vec<_>>();
    let cooling_nets: Vec<IpNet> = cooling.iter().map(|c| c.cidr).collect();
    let available: Vec<IpNet> = cidr_set::subtract(family, &of(&all), &of(&cooling_nets))
        .iter()
        .map(|b| b.to_net(family))
        .collect();
    let reservations = ctx.store.list_reservations(&pool.id)?;
    // every free block in address order, a cooling one with the time it becomes free; then
    // the reserved blocks (not free) among them, with what holds them
    let mut blocks: Vec<(IpNet, Option<&str>, Option<&Reservation>)> = available
        .iter()
        .map(|b| (*b, None, None))
        .chain(
            cooling
                .iter()
                .map(|c| (c.cidr, Some(c.frees_at.as_str()), None)),
        )
        .collect();
    let free_block_count = blocks.len();
    blocks.extend(reservations.iter().map(|r| (r.cidr, None, Some(r))));
    blocks.sort_by_key(|(b, _, _)| Block::of(b).start);
    let size = |net: &IpNet| Block::of(net).size(family);
    let total = |nets: &[IpNet]| nets.iter().map(size).fold(0, u128::saturating_add);
    let free = total(&all);
    let cooling_addresses = total(&cooling_nets);
    let reserved_nets: Vec<IpNet> = reservations.iter().map(|r| r.cidr).collect();
    let reserved_addresses = total(&reserved_nets);
    // soft: a cooling block is reused when nothing else fits; strict: never before it frees
    let mode = pool.release_cooldown.map(|c| c.mode);
    let soft = mode == Some(CooldownMode::Soft) && !cooling.is_empty();
    let largest = largest_of(&available);
    let fit = length.map(|n| fitting(&available, n));
    let largest_with_cooling = soft.then(|| largest_of(&all)).flatten();
    let fit_with_cooling = length.filter(|_| soft).map(|n| fitting(&all, n));
    if ctx.out.json {
        let head = json!({
            "pool_id": pool.id,
            "address_family": family.as_str(),
            "free_addresses": free,
            "cooling_addresses": cooling_addresses,
            "reserved_addresses": reserved_addresses,
            "release_cooldown_mode": mode.map(CooldownMode::as_str),
            "largest_free_block": largest.map(ToString::to_string),
            "largest_free_block_with_cooling": largest_with_cooling.map(ToString::to_string),
            "length": length,
            "fit": fit,
            "fit_with_cooling": fit_with_cooling,
        });
        ctx.out
            .print_json_list(&head, "blocks", &blocks, |(b, until, reserved)| {
                json!({
                    "cidr": b.to_string(),
                    "addresses": size(b),
                    "cooling_until": until,
                    "reservation": reserved.map(j::reservation),
                })
            });
    } else {
        if !blocks.is_empty() {
            // the COOLING UNTIL and RESERVED FOR columns only when a block cools, is reserved
            let cools = !cooling.is_empty();
            let reserves = !reservations.is_empty();
            let mut headers = vec!["CIDR", "FIRST", "LAST", ">ADDRESSES"];
            if cools {
                headers.push("COOLING UNTIL");
            }
            if reserves {
                headers.push("RESERVED FOR");
            }
            let table = Table::new(&headers);
            table.print_rows(&ctx.out, &blocks, |(b, until, reserved)| {
                let mut row = vec![
                    Cell::styled(b.to_string(), Style::Cyan),
                    Cell::plain(b.network().to_string()),
                    Cell::plain(b.broadcast().to_string()),
                    Cell::plain(output::count(size(b))),
                ];
                if cools {
                    row.push(Cell::plain(until.unwrap_or_default().to_string()));
                }
                if reserves {
                    row.push(Cell::plain(
                        reserved.map_or(String::new(), output::reservation_hold),
                    ));
                }
                row
            });
            ctx.out.print("");
        }
        let in_words = |n: u128| if n < 1 << 64 { "addresses" } else { "networks" };
        let mut summary = vec![
            ("pool", pool.id.clone()),
            (
                "free",
                format!(
                    "{} {} in {} blocks",
                    output::count(free),
                    in_words(free),
                    free_block_count
                ),
            ),
        ];
        if !cooling.is_empty() {
            let rule = match mode {
                Some(CooldownMode::Soft) => "soft: reused only when nothing else fits",
                _ => "strict: not available until they free",
            };
            summary.push((
                "cooling",
                format!(
                    "{} {} in {} blocks ({rule})",
                    output::count(cooling_addresses),
                    in_words(cooling_addresses),
                    cooling.len()
                ),
            ));
        }
        if !reservations.is_empty() {
            summary.push((
                "reserved",
                format!(
                    "{} {} in {} blocks (plans not yet applied: not free)",
                    output::count(reserved_addresses),
                    in_words(reserved_addresses),
                    reservations.len()
                ),
            ));
        }
        summary.push((
            "largest free block",
            largest.map_or("none".to_string(), ToString::to_string),
        ));
        if let Some(b) = largest_with_cooling {
            summary.push(("with cooling blocks", b.to_string()));
        }
        if let (Some(n), Some(fit)) = (length, fit) {
            summary.push(("fit", format!("{} × /{n}", output::count(fit))));
        }
        if let (Some(n), Some(fit)) = (length, fit_with_cooling) {
            summary.push(("fit with cooling", format!("{} × /{n}", output::count(fit))));
        }
        ctx.out.print(&fields(&ctx.out, &summary));
    }
    // exit 1 when no /N can be allocated: not even from a soft pool's cooling blocks
    Ok(if fit_with_cooling.or(fit) == Some(0) {
        Outcome::Finding
    } else {
        Outcome::Ok
    })
}

/// The largest of these blocks; the lowest address among equals.
fn largest_of(blocks: &[IpNet]) -> Option<&IpNet> {
    blocks
        .iter()
        .min_by_key(|b| (b.prefix_len(), Block::of(b).start))
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
