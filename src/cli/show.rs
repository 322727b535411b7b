//! `ipam show ID|CIDR|ADDRESS`: one object in full; for a CIDR or an address, what holds it —
//! the allocation, its pool chain up to the scope, and its audit history.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{json, Value};

use super::args::{Parsed, Spec};
use super::audit::events_table;
use super::output::{self, fields, Cell, Style, Table};
use super::{json as j, kind_of, Context, Failure, Outcome};
use crate::ipam::{
    parse_cidr, AddressFamily, Allocation, ObjectKind, Pool, PoolCidrUsage, PoolFilter, Reservation,
};
use crate::store::AuditFilter;

/// `ipam show`.
pub const SPEC: Spec = Spec {
    name: "show",
    usage: "show ID|CIDR|ADDRESS",
    summary: "one object in full; for a CIDR or address, what holds it and its history",
    positional: (1, 1),
    options: &[],
    details: "\
ID is any ipam-, ipam-scope-, ipam-pool-, ipam-pool-cidr- or ipam-alloc- id.
A CIDR (10.1.0.0/20) or an address (10.1.2.3, fd00::1) shows, in each scope whose pools
hold it: the allocation holding it (or the allocations inside it, or the plan-time
reservation holding it for a plan not yet applied, or that it is free), the chain of pools
and pool CIDRs up to the scope, and the allocation's audit history.
Exit 1 when no pool holds the CIDR or address.",
};

/// How many audit events `show` prints for an object.
const HISTORY: usize = 20;

/// Runs `ipam show`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let target = args.arg(0).unwrap_or_default();
    if let Some(kind) = kind_of(target) {
        return show_object(ctx, kind, target);
    }
    let query = if target.contains('/') {
        parse_cidr(target, "the argument")?
    } else {
        let address: IpAddr = target.parse().map_err(|_| {
            SPEC.misuse(format!(
                "{target:?} is neither an id, a CIDR (10.1.0.0/20) nor an address (10.1.2.3)"
            ))
        })?;
        IpNet::from(address)
    };
    show_cidr(ctx, query)
}

fn history(ctx: &Context, filter: AuditFilter) -> Result<Vec<crate::ipam::AuditEvent>, Failure> {
    Ok(ctx.store.audit_query(&AuditFilter {
        limit: HISTORY,
        ..filter
    })?)
}

fn about(id: &str) -> AuditFilter {
    AuditFilter {
        object_id: Some(id.to_string()),
        ..AuditFilter::default()
    }
}

fn show_object(ctx: &Context, kind: ObjectKind, id: &str) -> Result<Outcome, Failure> {
    let store = &ctx.store;
    let out = &ctx.out;
    let (mut value, mut text) = match kind {
        ObjectKind::Ipam => {
            let ipam = store.get_ipam(id)?;
            let scopes = store.list_scopes(id)?;
            let mut value = j::ipam(&ipam);
            value["scopes"] = scopes.iter().map(j::scope).collect();
            let mut text = fields(
                out,
                &[
                    ("ipam", ipam.id.clone()),
                    ("description", output::or_dash(&ipam.description)),
                    ("operating regions", ipam.operating_regions.join(", ")),
                    ("tags", output::tags(&ipam.tags)),
                    ("created", ipam.created_at.clone()),
                    ("updated", ipam.updated_at.clone()),
                ],
            );
            let mut table = Table::new(&["SCOPE", "TYPE", "DEFAULT", ">POOLS", "DESCRIPTION"]);
            for s in &scopes {
                table.row(vec![
                    Cell::plain(&s.id),
                    Cell::plain(s.kind.as_str()),
                    Cell::plain(if s.is_default { "yes" } else { "no" }),
                    Cell::plain(s.pool_count.to_string()),
                    Cell::plain(output::or_dash(&s.description)),
                ]);
            }
            text.push('\n');
            text.push_str(&table.render(out));
            (value, text)
        }
        ObjectKind::Scope => {
            let scope = store.get_scope(id)?;
            let pools = store.find_pools(&PoolFilter {
                scope_id: Some(id.to_string()),
                ..PoolFilter::default()
            })?;
            let mut value = j::scope(&scope);
            value["pools"] = pools.iter().map(j::pool).collect();
            let mut text = fields(
                out,
                &[
                    ("scope", scope.id.clone()),
                    ("ipam", scope.ipam_id.clone()),
                    ("type", scope.kind.as_str().to_string()),
                    (
                        "default",
                        if scope.is_default { "yes" } else { "no" }.into(),
                    ),
                    ("description", output::or_dash(&scope.description)),
                    ("tags", output::tags(&scope.tags)),
                    ("created", scope.created_at.clone()),
                ],
            );
            let mut table = Table::new(&["POOL", "FAMILY", "SOURCE POOL", "DESCRIPTION"]);
            for p in &pools {
                table.row(vec![
                    Cell::plain(&p.id),
                    Cell::plain(p.address_family.as_str()),
                    Cell::plain(p.source_pool_id.as_deref().unwrap_or("-")),
                    Cell::plain(output::or_dash(&p.description)),
                ]);
            }
            text.push('\n');
            text.push_str(&table.render(out));
            (value, text)
        }
        ObjectKind::Pool => {
            let pool = store.get_pool(id)?;
            let cidrs = store.list_pool_cidrs(id)?;
            let (used, total) = cidrs.iter().fold((0u128, 0u128), |(u, t), c| {
                (
                    u.saturating_add(c.used_addresses),
                    t.saturating_add(c.total_addresses),
                )
            });
            let reserved = cidrs
                .iter()
                .map(|c| c.reserved_addresses)
                .fold(0u128, u128::saturating_add);
            let mut value = j::pool(&pool);
            j::merge(&mut value, j::usage(used, total));
            value["reserved_addresses"] = json!(reserved);
            value["cidrs"] = cidrs.iter().map(j::pool_cidr).collect();
            let mut usage = format!(
                "{} of {} used ({})",
                output::count(used),
                output::count(total),
                output::percent(j::ratio(used, total))
            );
            if reserved > 0 {
                usage.push_str(&format!(
                    ", {} of them reserved for plans not yet applied",
                    output::count(reserved)
                ));
            }
            let mut text = pool_fields(ctx, &pool, usage);
            text.push('\n');
            text.push_str(&super::cidrs::table(&cidrs).render(out));
            (value, text)
        }
        ObjectKind::PoolCidr => {
            let cidr = store.get_pool_cidr(id)?;
            let usage = store
                .list_pool_cidrs(&cidr.pool_id)?
                .into_iter()
                .find(|c| c.pool_cidr.id == id)
                .ok_or_else(|| super::unknown_id(id))?;
            let value = j::pool_cidr(&usage);
            let text = pool_cidr_fields(ctx, &usage);
            (value, text)
        }
        ObjectKind::Allocation => {
            let allocation = store.get_allocation(id)?;
            let mut value = j::allocation(&allocation);
            let (chain_json, chain_table) = chain(ctx, &allocation.pool_id, allocation.cidr)?;
            value["pool_chain"] = chain_json;
            let mut text = allocation_fields(ctx, &allocation);
            text.push('\n');
            text.push_str(&chain_table.render(out));
            (value, text)
        }
    };
    let filter = match kind {
        ObjectKind::Pool => AuditFilter {
            pool_id: Some(id.to_string()),
            ..AuditFilter::default()
        },
        _ => about(id),
    };
    let events = history(ctx, filter)?;
    value["history"] = events.iter().map(j::event).collect();
    if out.json {
        out.print_json(&value);
    } else {
        text.push_str(&format!("\n{}\n", out.paint(Style::Bold, "history")));
        text.push_str(&events_table(&events).render(out));
        out.print(&text);
    }
    Ok(Outcome::Ok)
}

fn pool_fields(ctx: &Context, pool: &Pool, usage: String) -> String {
    fields(
        &ctx.out,
        &[
            ("pool", pool.id.clone()),
            ("scope", pool.scope_id.clone()),
            (
                "source pool",
                pool.source_pool_id.clone().unwrap_or("-".into()),
            ),
            ("address family", pool.address_family.as_str().to_string()),
            ("locale", pool.locale.clone().unwrap_or("-".into())),
            ("description", output::or_dash(&pool.description)),
            ("guardrails", output::guardrails(&pool.netmask)),
            (
                "required tags",
                output::tags(&pool.allocation_resource_tags),
            ),
            ("tags", output::tags(&pool.tags)),
            ("usage", usage),
            ("created", pool.created_at.clone()),
        ],
    )
}

fn pool_cidr_fields(ctx: &Context, usage: &PoolCidrUsage) -> String {
    let c = &usage.pool_cidr;
    fields(
        &ctx.out,
        &[
            ("pool cidr", c.id.clone()),
            ("cidr", c.cidr.to_string()),
            ("pool", c.pool_id.clone()),
            (
                "parent allocation",
                c.parent_allocation_id.clone().unwrap_or("-".into()),
            ),
            (
                "usage",
                format!(
                    "{} used, {} free of {} ({})",
                    output::count(usage.used_addresses),
                    output::count(usage.free_addresses),
                    output::count(usage.total_addresses),
                    output::percent(usage.utilization_percent)
                ),
            ),
            ("created", c.created_at.clone()),
        ],
    )
}

fn allocation_fields(ctx: &Context, a: &Allocation) -> String {
    fields(
        &ctx.out,
        &[
            ("allocation", a.id.clone()),
            ("cidr", a.cidr.to_string()),
            ("pool", a.pool_id.clone()),
            (
                "resource type",
                match &a.child_pool_cidr_id {
                    Some(child) => format!("pool cidr {child} of a child pool"),
                    None => "allocation".to_string(),
                },
            ),
            ("description", output::or_dash(&a.description)),
            ("tags", output::tags(&a.tags)),
            ("created", a.created_at.clone()),
            ("updated", a.updated_at.clone()),
        ],
    )
}

/// The pools from `pool_id` up to the scope, each with its pool CIDR holding `cidr`.
fn chain(ctx: &Context, pool_id: &str, cidr: IpNet) -> Result<(Value, Table), Failure> {
    let mut values = Vec::new();
    let mut table = Table::new(&["LEVEL", "ID", "POOL CIDR", "DESCRIPTION"]);
    let mut next = Some(pool_id.to_string());
    let mut scope_id = String::new();
    while let Some(id) = next {
        let pool = ctx.store.get_pool(&id)?;
        let holding = ctx
            .store
            .list_pool_cidrs(&id)?
            .into_iter()
            .find(|c| c.pool_cidr.cidr.contains(&cidr));
        values.push(json!({
            "pool_id": pool.id,
            "description": pool.description,
            "pool_cidr_id": holding.as_ref().map(|c| c.pool_cidr.id.clone()),
            "pool_cidr": holding.as_ref().map(|c| c.pool_cidr.cidr.to_string()),
        }));
        table.row(vec![
            Cell::plain(format!("pool (depth {})", pool.depth)),
            Cell::styled(&pool.id, Style::Bold),
            Cell::styled(
                holding.map_or("-".to_string(), |c| c.pool_cidr.cidr.to_string()),
                Style::Cyan,
            ),
            Cell::plain(output::or_dash(&pool.description)),
        ]);
        scope_id = pool.scope_id;
        next = pool.source_pool_id;
    }
    let scope = ctx.store.get_scope(&scope_id)?;
    table.row(vec![
        Cell::plain(format!("{} scope", scope.kind)),
        Cell::plain(&scope.id),
        Cell::plain(""),
        Cell::plain(output::or_dash(&scope.description)),
    ]);
    let ipam = ctx.store.get_ipam(&scope.ipam_id)?;
    table.row(vec![
        Cell::plain("ipam"),
        Cell::plain(&ipam.id),
        Cell::plain(""),
        Cell::plain(output::or_dash(&ipam.description)),
    ]);
    let value = json!({ "pools": values, "scope_id": scope.id, "ipam_id": ipam.id });
    Ok((value, table))
}

/// Until when a reservation holds its space, or that it expired (held until a plan or an
/// allocation in the pool frees it).
fn hold_state(r: &Reservation) -> String {
    if r.expired {
        format!("expired {} (held until swept)", r.expires_at)
    } else {
        format!("held until {}", r.expires_at)
    }
}

/// How many allocations inside a queried CIDR are listed.
const INSIDE_LIMIT: usize = 100;

fn show_cidr(ctx: &Context, query: IpNet) -> Result<Outcome, Failure> {
    let family = AddressFamily::of(&query);
    // in each scope, the deepest pool with a CIDR holding the query
    let mut deepest: Vec<Pool> = Vec::new();
    let pools = ctx.store.find_pools(&PoolFilter {
        address_family: Some(family),
        ..PoolFilter::default()
    })?;
    for pool in pools {
        let holds = ctx
            .store
            .list_pool_cidrs(&pool.id)?
            .iter()
            .any(|c| c.pool_cidr.cidr.contains(&query));
        if !holds {
            continue;
        }
        match deepest.iter_mut().find(|p| p.scope_id == pool.scope_id) {
            Some(found) if found.depth >= pool.depth => {}
            Some(found) => *found = pool,
            None => deepest.push(pool),
        }
    }
    let mut holders = Vec::new();
    let mut text = String::new();
    for pool in &deepest {
        let found = ctx
            .store
            .allocations_overlapping(&pool.id, query, INSIDE_LIMIT)?;
        let holder = found.iter().find(|a| a.cidr.contains(&query)).cloned();
        let inside: Vec<&Allocation> = found.iter().filter(|a| query.contains(&a.cidr)).collect();
        // plan-time reservations overlapping the query (space held for plans not yet applied)
        let reservations: Vec<Reservation> = ctx
            .store
            .list_reservations(&pool.id)?
            .into_iter()
            .filter(|r| r.cidr.contains(&query) || query.contains(&r.cidr))
            .collect();
        let reserving = reservations.iter().find(|r| r.cidr.contains(&query));
        let (state, headline) = match (&holder, inside.is_empty(), reserving) {
            (Some(a), _, _) => (
                "allocated",
                format!("{query} is allocated: {} ({})", a.id, a.cidr),
            ),
            (None, true, Some(r)) => (
                "reserved",
                format!(
                    "{query} is reserved for a plan not yet applied: {:?} ({}) in pool {}, {}",
                    r.name,
                    r.cidr,
                    pool.id,
                    hold_state(r)
                ),
            ),
            (None, false, _) => (
                "partly_allocated",
                format!(
                    "{query} is partly allocated: {} allocation(s) lie inside it",
                    inside.len()
                ),
            ),
            (None, true, None) if !reservations.is_empty() => (
                "partly_reserved",
                format!(
                    "{query} is partly reserved: {} reservation(s) of plans not yet applied lie inside it",
                    reservations.len()
                ),
            ),
            (None, true, None) => ("free", format!("{query} is free in pool {}", pool.id)),
        };
        let (chain_json, chain_table) = chain(ctx, &pool.id, query)?;
        let events = match &holder {
            Some(a) => history(ctx, about(&a.id))?,
            None => Vec::new(),
        };
        holders.push(json!({
            "scope_id": pool.scope_id,
            "state": state,
            "allocation": holder.as_ref().map(j::allocation),
            "inside": inside.iter().map(|a| j::allocation(a)).collect::<Vec<_>>(),
            "reservations": reservations.iter().map(j::reservation).collect::<Vec<_>>(),
            "pool_chain": chain_json,
            "history": events.iter().map(j::event).collect::<Vec<_>>(),
        }));
        text.push_str(&format!("{}\n\n", ctx.out.paint(Style::Bold, &headline)));
        if let Some(a) = &holder {
            text.push_str(&allocation_fields(ctx, a));
            text.push('\n');
        }
        if !inside.is_empty() {
            let mut table = Table::new(&["CIDR", "ALLOCATION", "DESCRIPTION"]);
            for a in &inside {
                table.row(vec![
                    Cell::styled(a.cidr.to_string(), Style::Cyan),
                    Cell::plain(&a.id),
                    Cell::plain(output::or_dash(&a.description)),
                ]);
            }
            text.push_str(&table.render(&ctx.out));
            text.push('\n');
        }
        if !reservations.is_empty() {
            let mut table = Table::new(&["CIDR", "RESERVATION", "STATE"]);
            for r in &reservations {
                table.row(vec![
                    Cell::styled(r.cidr.to_string(), Style::Cyan),
                    Cell::plain(format!("{:?}", r.name)),
                    Cell::plain(hold_state(r)),
                ]);
            }
            text.push_str(&table.render(&ctx.out));
            text.push('\n');
        }
        text.push_str(&chain_table.render(&ctx.out));
        if holder.is_some() {
            text.push_str(&format!("\n{}\n", ctx.out.paint(Style::Bold, "history")));
            text.push_str(&events_table(&events).render(&ctx.out));
        }
        text.push('\n');
    }
    if ctx.out.json {
        ctx.out
            .print_json(&json!({ "query": query.to_string(), "holders": holders }));
    } else if deepest.is_empty() {
        ctx.out.print(&format!("no pool holds {query}"));
    } else {
        ctx.out.print(text.trim_end());
    }
    Ok(if deepest.is_empty() {
        Outcome::Finding
    } else {
        Outcome::Ok
    })
}
