//! `ipam util [--threshold PERCENT]`: the pools at or over a utilization threshold; exit 1
//! when any is — an alarm for a cron job or a CI step.

use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::{self, Cell, Style, Table};
use super::tree::{pool_reserved, pool_totals};
use super::{json as j, Context, Failure, Outcome};

/// `ipam util`.
pub const SPEC: Spec = Spec {
    name: "util",
    usage: "util [--threshold PERCENT]",
    summary: "pools at or over a utilization threshold (exit 1 when any is)",
    positional: (0, 0),
    options: &[(
        "threshold",
        true,
        "the alarm level in percent, 0 to 100 (default 80)",
    )],
    details: "A pool's utilization is its used addresses (allocations, child pools' CIDRs, blocks cooling down \
              and blocks reserved for plans not yet applied) over the addresses of all its CIDRs.\nExit 1 when a pool is at or over the threshold, 0 when none is.",
};

const DEFAULT_THRESHOLD: f64 = 80.0;

/// Runs `ipam util`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let threshold = match args.value("threshold") {
        None => DEFAULT_THRESHOLD,
        Some(text) => text
            .trim_end_matches('%')
            .parse::<f64>()
            .ok()
            .filter(|t| (0.0..=100.0).contains(t))
            .ok_or_else(|| {
                SPEC.misuse(format!(
                    "--threshold {text:?} is not a percentage: give a number from 0 to 100, such as 80"
                ))
            })?,
    };
    let inventory = ctx.store.inventory()?;
    let mut over = Vec::new();
    for pool in &inventory.pools {
        let (allocations, used, total) = pool_totals(pool);
        let percent = j::ratio(used, total);
        if total > 0 && percent >= threshold {
            over.push((pool, allocations, used, total, percent));
        }
    }
    over.sort_by(|a, b| {
        b.4.total_cmp(&a.4)
            .then_with(|| a.0.pool.id.cmp(&b.0.pool.id))
    });
    if ctx.out.json {
        ctx.out.print_json(&json!({
            "threshold_percent": threshold,
            "pools_checked": inventory.pools.len(),
            "pools": over.iter().map(|(pool, allocations, used, total, _)| {
                let mut value = json!({
                    "id": pool.pool.id,
                    "description": pool.pool.description,
                    "scope_id": pool.pool.scope_id,
                    "address_family": pool.pool.address_family.as_str(),
                    "allocation_count": allocations,
                    "reserved_addresses": pool_reserved(pool),
                });
                j::merge(&mut value, j::usage(*used, *total));
                value
            }).collect::<Vec<_>>(),
        }));
    } else if over.is_empty() {
        ctx.out.print(&format!(
            "no pool at or over {} ({} pools checked)",
            output::percent(threshold),
            inventory.pools.len()
        ));
    } else {
        let mut table = Table::new(&[
            "POOL",
            "DESCRIPTION",
            ">ALLOCATIONS",
            ">USED",
            ">TOTAL",
            "UTILIZATION",
            ">%",
        ]);
        for (pool, allocations, used, total, percent) in &over {
            let [bar, pct] = output::utilization_cells(*percent);
            table.row(vec![
                Cell::styled(&pool.pool.id, Style::Bold),
                Cell::plain(output::or_dash(&pool.pool.description)),
                Cell::plain(allocations.to_string()),
                Cell::plain(output::count(*used)),
                Cell::plain(output::count(*total)),
                bar,
                pct,
            ]);
        }
        let text = format!(
            "{} of {} pools at or over {}\n\n{}",
            over.len(),
            inventory.pools.len(),
            output::percent(threshold),
            table.render(&ctx.out)
        );
        ctx.out.print(&text);
    }
    Ok(if over.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Finding
    })
}
