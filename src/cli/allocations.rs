//! `ipam allocations POOL`: a pool's allocations in address order, child pools' CIDRs
//! included (like `aws ec2 get-ipam-pool-allocations`).

use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::{self, Cell, Style, Table};
use super::{json as j, Context, Failure, Outcome};

/// `ipam allocations`.
pub const SPEC: Spec = Spec {
    name: "allocations",
    usage: "allocations POOL",
    summary: "a pool's allocations (child pools' CIDRs included) in address order",
    positional: (1, 1),
    options: &[],
    details: "RESOURCE TYPE is `allocation` for an ipam_allocation and `pool_cidr` for a child pool's CIDR.",
};

/// Runs `ipam allocations`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let pool_id = args.arg(0).unwrap_or_default();
    let pool = ctx.store.get_pool(pool_id)?;
    let allocations = ctx.store.list_allocations(&pool.id)?;
    if ctx.out.json {
        ctx.out.print_json_list(
            &json!({ "pool_id": pool.id }),
            "allocations",
            &allocations,
            j::allocation,
        );
        return Ok(Outcome::Ok);
    }
    if allocations.is_empty() {
        ctx.out
            .print(&format!("pool {} holds no allocations", pool.id));
        return Ok(Outcome::Ok);
    }
    let table = Table::new(&[
        "CIDR",
        "ID",
        "RESOURCE TYPE",
        "DESCRIPTION",
        "TAGS",
        "CREATED",
    ]);
    table.print_rows(&ctx.out, &allocations, |a| {
        let kind = match &a.child_pool_cidr_id {
            Some(child) => format!("pool_cidr {child}"),
            None => "allocation".to_string(),
        };
        vec![
            Cell::styled(a.cidr.to_string(), Style::Cyan),
            Cell::plain(&a.id),
            Cell::plain(kind),
            Cell::plain(output::or_dash(&a.description)),
            Cell::plain(output::tags(&a.tags)),
            Cell::plain(&a.created_at),
        ]
    });
    Ok(Outcome::Ok)
}
