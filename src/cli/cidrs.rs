//! `ipam cidrs POOL`: a pool's CIDRs with used / free / percent (like
//! `aws ec2 get-ipam-pool-cidrs`).

use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::{self, Cell, Style, Table};
use super::{json as j, Context, Failure, Outcome};
use crate::ipam::PoolCidrUsage;

/// `ipam cidrs`.
pub const SPEC: Spec = Spec {
    name: "cidrs",
    usage: "cidrs POOL",
    summary: "a pool's CIDRs with used / free addresses and utilization",
    positional: (1, 1),
    options: &[],
    details: "",
};

/// Runs `ipam cidrs`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let pool_id = args.arg(0).unwrap_or_default();
    let pool = ctx.store.get_pool(pool_id)?;
    let cidrs = ctx.store.list_pool_cidrs(&pool.id)?;
    if ctx.out.json {
        ctx.out.print_json(&json!({
            "pool_id": pool.id,
            "cidrs": cidrs.iter().map(j::pool_cidr).collect::<Vec<_>>(),
        }));
    } else if cidrs.is_empty() {
        ctx.out.print(&format!("pool {} has no cidrs", pool.id));
    } else {
        ctx.out.print(&table(&cidrs).render(&ctx.out));
    }
    Ok(Outcome::Ok)
}

/// Pool CIDRs with their usage as a table.
pub fn table(cidrs: &[PoolCidrUsage]) -> Table {
    let mut table = Table::new(&[
        "CIDR",
        "ID",
        ">USED",
        ">FREE",
        ">TOTAL",
        "UTILIZATION",
        ">%",
        "PARENT ALLOCATION",
    ]);
    for c in cidrs {
        let [bar, pct] = output::utilization_cells(c.utilization_percent);
        table.row(vec![
            Cell::styled(c.pool_cidr.cidr.to_string(), Style::Cyan),
            Cell::plain(&c.pool_cidr.id),
            Cell::plain(output::count(c.used_addresses)),
            Cell::plain(output::count(c.free_addresses)),
            Cell::plain(output::count(c.total_addresses)),
            bar,
            pct,
            Cell::plain(c.pool_cidr.parent_allocation_id.as_deref().unwrap_or("-")),
        ]);
    }
    table
}
