//! `ipam tree [ID]`: ipam → scopes → pools (nested) → pool CIDRs, with allocation counts,
//! used / total, a utilization bar, guardrails and tags. Read in one transaction, so the
//! figures agree with each other even while applies run.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::args::{Parsed, Spec};
use super::output::{self, Cell, Style, Table};
use super::{json as j, unknown_id, Context, Failure, Outcome};
use crate::ipam::{Block, Ipam, Scope, ScopeKind, Tags};
use crate::store::{Inventory, PoolInventory};

/// `ipam tree`.
pub const SPEC: Spec = Spec {
    name: "tree",
    usage: "tree [ID]",
    summary: "the hierarchy (ipam, scopes, pools, pool CIDRs) with usage, guardrails and tags",
    positional: (0, 1),
    options: &[],
    details: "ID (an ipam, scope or pool id) shows that part of the tree only.",
};

const HEADERS: &[&str] = &[
    "NAME",
    "DESCRIPTION",
    ">ALLOCATIONS",
    ">USED",
    ">TOTAL",
    "UTILIZATION",
    ">%",
    "GUARDRAILS",
    "TAGS",
];

/// One line of the tree, its JSON and its children.
pub struct Node {
    id: String,
    cells: Vec<Cell>,
    json: Value,
    children: Vec<Node>,
}

/// Runs `ipam tree`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let inventory = ctx.store.inventory()?;
    let roots = nodes(&inventory);
    let shown: Vec<&Node> = match args.arg(0) {
        None => roots.iter().collect(),
        Some(id) => vec![find(&roots, id).ok_or_else(|| unknown_id(id))?],
    };
    if ctx.out.json {
        let value = match args.arg(0) {
            None => json!({ "ipams": shown.iter().map(|n| n.json.clone()).collect::<Vec<_>>() }),
            Some(_) => shown[0].json.clone(),
        };
        ctx.out.print_json(&value);
        return Ok(Outcome::Ok);
    }
    if shown.is_empty() {
        ctx.out
            .print("the database holds no ipam yet; `terraform apply` a configuration first");
        return Ok(Outcome::Ok);
    }
    let mut table = Table::new(HEADERS);
    for node in shown {
        add_rows(&mut table, node, "", "");
    }
    ctx.out.print(&table.render(&ctx.out));
    Ok(Outcome::Ok)
}

fn find<'n>(nodes: &'n [Node], id: &str) -> Option<&'n Node> {
    nodes
        .iter()
        .find_map(|n| (n.id == id).then_some(n).or_else(|| find(&n.children, id)))
}

fn add_rows(table: &mut Table, node: &Node, own_prefix: &str, child_prefix: &str) {
    let mut cells = node.cells.clone();
    if let Some(first) = cells.first_mut() {
        *first = first.prefixed(own_prefix);
    }
    table.row(cells);
    let last = node.children.len().saturating_sub(1);
    for (i, child) in node.children.iter().enumerate() {
        let (own, next) = if i == last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        add_rows(
            table,
            child,
            &format!("{child_prefix}{own}"),
            &format!("{child_prefix}{next}"),
        );
    }
}

/// The tree of every IPAM in the inventory.
pub fn nodes(inventory: &Inventory) -> Vec<Node> {
    let mut pools_by_parent: BTreeMap<(String, Option<String>), Vec<&PoolInventory>> =
        BTreeMap::new();
    for pool in &inventory.pools {
        pools_by_parent
            .entry((pool.pool.scope_id.clone(), pool.pool.source_pool_id.clone()))
            .or_default()
            .push(pool);
    }
    for pools in pools_by_parent.values_mut() {
        pools.sort_by_key(|p| {
            let first = p
                .cidrs
                .first()
                .map(|c| Block::of(&c.usage.pool_cidr.cidr).start);
            (
                p.pool.address_family,
                first.is_none(),
                first,
                p.pool.id.clone(),
            )
        });
    }
    inventory
        .ipams
        .iter()
        .map(|ipam| {
            let mut scopes: Vec<&Scope> = inventory
                .scopes
                .iter()
                .filter(|s| s.ipam_id == ipam.id)
                .collect();
            scopes.sort_by_key(|s| (!s.is_default, s.kind == ScopeKind::Public, s.id.clone()));
            let children: Vec<Node> = scopes
                .iter()
                .map(|s| scope_node(s, &pools_by_parent))
                .collect();
            let mut value = j::ipam(ipam);
            value["scopes"] = Value::Array(children.iter().map(|c| c.json.clone()).collect());
            Node {
                id: ipam.id.clone(),
                cells: label_cells(
                    Cell::styled(&ipam.id, Style::Bold),
                    ipam_description(ipam),
                    &ipam.tags,
                ),
                json: value,
                children,
            }
        })
        .collect()
}

/// An IPAM's description cell: its description, then its operating regions when it lists any.
fn ipam_description(ipam: &Ipam) -> String {
    let description = output::or_dash(&ipam.description);
    if ipam.operating_regions.is_empty() {
        return description;
    }
    format!(
        "{description}; operating regions {}",
        ipam.operating_regions.join(", ")
    )
}

/// A row with a name, a description and tags, and no figures (IPAMs, scopes).
fn label_cells(name: Cell, description: String, tags: &Tags) -> Vec<Cell> {
    let mut cells = vec![name, Cell::plain(description)];
    cells.extend((0..HEADERS.len() - 3).map(|_| Cell::plain("")));
    cells.push(Cell::plain(output::tags(tags)));
    cells
}

type PoolsByParent<'i> = BTreeMap<(String, Option<String>), Vec<&'i PoolInventory>>;

fn scope_node(scope: &Scope, pools: &PoolsByParent<'_>) -> Node {
    let children = pool_nodes(pools, &scope.id, None);
    let mut value = j::scope(scope);
    value["pools"] = Value::Array(children.iter().map(|c| c.json.clone()).collect());
    let mut description = format!("{} scope", scope.kind);
    if scope.is_default {
        description.push_str(", default");
    }
    if !scope.description.is_empty() {
        description.push_str(&format!(": {}", scope.description));
    }
    Node {
        id: scope.id.clone(),
        cells: label_cells(Cell::plain(&scope.id), description, &scope.tags),
        json: value,
        children,
    }
}

fn pool_nodes(pools: &PoolsByParent<'_>, scope_id: &str, parent: Option<&str>) -> Vec<Node> {
    let key = (scope_id.to_string(), parent.map(str::to_string));
    pools
        .get(&key)
        .map(|list| list.iter().map(|p| pool_node(p, pools)).collect())
        .unwrap_or_default()
}

/// A pool's totals over its CIDRs: (allocations, used, total).
pub fn pool_totals(pool: &PoolInventory) -> (u64, u128, u128) {
    pool.cidrs.iter().fold((0, 0, 0), |(n, used, total), c| {
        (
            n + c.allocation_count,
            used.saturating_add(c.usage.used_addresses),
            total.saturating_add(c.usage.total_addresses),
        )
    })
}

/// The addresses of a pool's CIDRs reserved for plans not yet applied (part of the used).
pub fn pool_reserved(pool: &PoolInventory) -> u128 {
    pool.cidrs
        .iter()
        .map(|c| c.usage.reserved_addresses)
        .fold(0, u128::saturating_add)
}

fn usage_cells(allocations: u64, used: u128, total: u128) -> Vec<Cell> {
    let [bar, pct] = output::utilization_cells(j::ratio(used, total));
    vec![
        Cell::plain(allocations.to_string()),
        Cell::plain(output::count(used)),
        Cell::plain(output::count(total)),
        bar,
        pct,
    ]
}

fn pool_node(pool: &PoolInventory, pools: &PoolsByParent<'_>) -> Node {
    let p = &pool.pool;
    let (allocations, used, total) = pool_totals(pool);
    let cidr_nodes: Vec<Node> = pool
        .cidrs
        .iter()
        .map(|c| {
            let u = &c.usage;
            let mut value = j::pool_cidr(u);
            value["allocation_count"] = json!(c.allocation_count);
            let mut cells = vec![
                Cell::styled(u.pool_cidr.cidr.to_string(), Style::Cyan),
                Cell::styled(&u.pool_cidr.id, Style::Dim),
            ];
            cells.extend(usage_cells(
                c.allocation_count,
                u.used_addresses,
                u.total_addresses,
            ));
            Node {
                id: u.pool_cidr.id.clone(),
                cells,
                json: value,
                children: Vec::new(),
            }
        })
        .collect();
    let child_pools = pool_nodes(pools, &p.scope_id, Some(&p.id));
    let mut value = j::pool(p);
    j::merge(&mut value, j::usage(used, total));
    value["reserved_addresses"] = json!(pool_reserved(pool));
    value["allocation_count"] = json!(allocations);
    value["cidrs"] = Value::Array(cidr_nodes.iter().map(|c| c.json.clone()).collect());
    value["pools"] = Value::Array(child_pools.iter().map(|c| c.json.clone()).collect());
    let mut description = p.address_family.as_str().to_string();
    if let Some(locale) = &p.locale {
        description.push_str(&format!(", locale {locale}"));
    }
    if !p.description.is_empty() {
        description.push_str(&format!(": {}", p.description));
    }
    let mut cells = vec![Cell::styled(&p.id, Style::Bold), Cell::plain(description)];
    cells.extend(usage_cells(allocations, used, total));
    cells.push(Cell::plain(output::guardrails(&p.netmask)));
    cells.push(Cell::plain(output::tags(&p.tags)));
    Node {
        id: p.id.clone(),
        cells,
        json: value,
        children: cidr_nodes.into_iter().chain(child_pools).collect(),
    }
}
