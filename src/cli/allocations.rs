//! `ipam allocations POOL`: a pool's allocations in address order, child pools' CIDRs
//! included (like `aws ec2 get-ipam-pool-allocations`), and the blocks plans not yet applied
//! reserve in it.

use serde_json::json;

use crate::ipam::{Allocation, Block, Reservation};

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
    details: "RESOURCE TYPE is `allocation` for an ipam_allocation, `pool_cidr` for a child pool's CIDR, and \
              `reservation` for a block a plan not yet applied holds (its name, and until when: \
              an expired one still holds its space until the next plan or allocation in the pool).",
};

/// Runs `ipam allocations`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let pool_id = args.arg(0).unwrap_or_default();
    let pool = ctx.store.get_pool(pool_id)?;
    let allocations = ctx.store.list_allocations(&pool.id)?;
    let reservations = ctx.store.list_reservations(&pool.id)?;
    if ctx.out.json {
        let reserved: Vec<_> = reservations.iter().map(j::reservation).collect();
        ctx.out.print_json_list(
            &json!({ "pool_id": pool.id, "reservations": reserved }),
            "allocations",
            &allocations,
            j::allocation,
        );
        return Ok(Outcome::Ok);
    }
    if allocations.is_empty() && reservations.is_empty() {
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
    table.print_rows(
        &ctx.out,
        &in_address_order(&allocations, &reservations),
        |row| match row {
            Row::Allocation(a) => {
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
            }
            Row::Reservation(r) => vec![
                Cell::styled(r.cidr.to_string(), Style::Cyan),
                Cell::plain("-"),
                Cell::styled(
                    format!("reservation {}", output::reservation_hold(r)),
                    if r.expired { Style::Dim } else { Style::Yellow },
                ),
                Cell::plain("held for a plan not yet applied"),
                Cell::plain("-"),
                Cell::plain("-"),
            ],
        },
    );
    Ok(Outcome::Ok)
}

/// A line of the listing.
enum Row<'a> {
    Allocation(&'a Allocation),
    Reservation(&'a Reservation),
}

/// Allocations and reservations (each in address order already) merged in address order.
fn in_address_order<'a>(
    allocations: &'a [Allocation],
    reservations: &'a [Reservation],
) -> Vec<Row<'a>> {
    let mut rows = Vec::with_capacity(allocations.len() + reservations.len());
    let mut held = reservations.iter().peekable();
    for allocation in allocations {
        let start = Block::of(&allocation.cidr).start;
        while let Some(r) = held.next_if(|r| Block::of(&r.cidr).start < start) {
            rows.push(Row::Reservation(r));
        }
        rows.push(Row::Allocation(allocation));
    }
    rows.extend(held.map(Row::Reservation));
    rows
}
