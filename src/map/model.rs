//! What the map shows, read from the store into one flat model: IPAMs and scopes in order, pools
//! in tree order (each parent before its children), pool CIDRs in address order, and every
//! allocation attached to the pool CIDR that holds it.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use crate::ipam::{Allocation, Error, Ipam, Pool, PoolCidrUsage, PoolFilter, Result, Scope};
use crate::store::Store;

use super::MapOptions;

/// A scope and the indices of its top-level pools (in this map).
pub struct ScopeNode {
    pub scope: Scope,
    pub roots: Vec<usize>,
}

/// An IPAM and its scopes.
pub struct IpamNode {
    pub ipam: Ipam,
    pub scopes: Vec<ScopeNode>,
}

/// A pool with its place in the tree.
pub struct PoolNode {
    pub pool: Pool,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub cidrs: Vec<usize>,
    /// The colour of the pool (an index into the palette).
    pub color: usize,
    /// Addresses used and provisioned over all its CIDRs.
    pub used: u128,
    pub total: u128,
}

/// A pool CIDR with its usage and the range of its allocations in [`Model::allocations`].
pub struct CidrNode {
    pub usage: PoolCidrUsage,
    pub pool: usize,
    pub allocations: Range<usize>,
}

/// An allocation, with the child pool CIDR it backs (in this map) and its colour.
pub struct AllocationNode {
    pub allocation: Allocation,
    pub child_cidr: Option<usize>,
    pub color: usize,
    pub actor: String,
}

/// A colour of the legend: what it stands for.
pub struct LegendEntry {
    pub label: String,
    pub detail: String,
}

/// Everything the map draws.
pub struct Model {
    pub title: String,
    pub generated_at: String,
    pub color_by: Option<String>,
    pub ipams: Vec<IpamNode>,
    pub pools: Vec<PoolNode>,
    pub cidrs: Vec<CidrNode>,
    pub allocations: Vec<AllocationNode>,
    pub legend: Vec<LegendEntry>,
}

/// The colour of allocations without the chosen tag, after the palette.
pub const UNTAGGED: &str = "#9aa0a6";

/// Colour-blind-friendly first colours, then evenly spread hues.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#86bcb6",
];

/// The CSS colour of palette entry `index`.
pub fn color(index: usize) -> String {
    match PALETTE.get(index) {
        Some(c) => (*c).to_string(),
        // golden-angle hues keep neighbours apart however many pools there are
        None => format!("hsl({:.0},55%,52%)", (index as f64 * 137.508) % 360.0),
    }
}

enum Root {
    All,
    Ipam(String),
    Scope(Scope),
    Pool(Pool),
}

fn parse_root(store: &dyn Store, root: Option<&str>) -> Result<Root> {
    let Some(id) = root else {
        return Ok(Root::All);
    };
    if id.starts_with("ipam-pool-cidr-") {
        // a pool CIDR maps as its pool
        let cidr = store.get_pool_cidr(id)?;
        return Ok(Root::Pool(store.get_pool(&cidr.pool_id)?));
    }
    if id.starts_with("ipam-pool-") {
        return Ok(Root::Pool(store.get_pool(id)?));
    }
    if id.starts_with("ipam-scope-") {
        return Ok(Root::Scope(store.get_scope(id)?));
    }
    if id.starts_with("ipam-alloc-") || !id.starts_with("ipam-") {
        return Err(Error::InvalidArgument {
            input: "root",
            message: format!(
                "{id:?} is not the id of an ipam, scope or pool; give an id such as ipam-…, ipam-scope-… or ipam-pool-…, or none to map everything"
            ),
        });
    }
    store.get_ipam(id)?;
    Ok(Root::Ipam(id.to_string()))
}

impl Model {
    /// Reads what `root` selects (see [`super::render_html`]).
    pub fn read(store: &dyn Store, root: Option<&str>, options: &MapOptions) -> Result<Model> {
        let root = parse_root(store, root)?;
        let ipams: Vec<Ipam> = match &root {
            Root::All => store.list_ipams()?,
            Root::Ipam(id) => vec![store.get_ipam(id)?],
            Root::Scope(scope) => vec![store.get_ipam(&scope.ipam_id)?],
            Root::Pool(pool) => vec![store.get_ipam(&store.get_scope(&pool.scope_id)?.ipam_id)?],
        };
        let mut model = Model {
            title: options
                .title
                .clone()
                .unwrap_or_else(|| "Address-space map".to_string()),
            generated_at: crate::store::now_rfc3339(),
            color_by: options.color_by_tag.clone(),
            ipams: Vec::new(),
            pools: Vec::new(),
            cidrs: Vec::new(),
            allocations: Vec::new(),
            legend: Vec::new(),
        };
        let mut pending_children: Vec<(usize, String)> = Vec::new();
        for ipam in ipams {
            let scopes = match &root {
                Root::Scope(scope) => vec![scope.clone()],
                Root::Pool(pool) => vec![store.get_scope(&pool.scope_id)?],
                _ => store.list_scopes(&ipam.id)?,
            };
            let mut scope_nodes = Vec::new();
            for scope in scopes {
                let pools = store.find_pools(&PoolFilter {
                    scope_id: Some(scope.id.clone()),
                    ..PoolFilter::default()
                })?;
                let selected = match &root {
                    Root::Pool(top) => subtree(&pools, &top.id),
                    _ => pools,
                };
                let roots = model.add_pools(store, selected, &mut pending_children)?;
                scope_nodes.push(ScopeNode { scope, roots });
            }
            model.ipams.push(IpamNode {
                ipam,
                scopes: scope_nodes,
            });
        }
        model.link_child_cidrs(&pending_children);
        model.add_actors(store)?;
        model.color(options);
        Ok(model)
    }

    /// Adds a scope's pools in tree order with their CIDRs and allocations; returns the indices
    /// of its top-level pools.
    fn add_pools(
        &mut self,
        store: &dyn Store,
        pools: Vec<Pool>,
        pending_children: &mut Vec<(usize, String)>,
    ) -> Result<Vec<usize>> {
        let ids: std::collections::HashSet<String> = pools.iter().map(|p| p.id.clone()).collect();
        let mut by_parent: BTreeMap<Option<String>, Vec<Pool>> = BTreeMap::new();
        let mut pools = pools;
        // siblings in the order they were made (usually the order of the configuration)
        pools.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        for pool in pools {
            // a pool whose parent is outside the map is a root of it
            let parent = pool.source_pool_id.clone().filter(|p| ids.contains(p));
            by_parent.entry(parent).or_default().push(pool);
        }
        let mut roots = Vec::new();
        let mut stack: Vec<(Option<usize>, Pool)> = by_parent
            .remove(&None)
            .unwrap_or_default()
            .into_iter()
            .rev()
            .map(|p| (None, p))
            .collect();
        while let Some((parent, pool)) = stack.pop() {
            let index = self.pools.len();
            match parent {
                Some(p) => self.pools[p].children.push(index),
                None => roots.push(index),
            }
            let children = by_parent.remove(&Some(pool.id.clone())).unwrap_or_default();
            self.add_pool(store, parent, pool, pending_children)?;
            stack.extend(children.into_iter().rev().map(|c| (Some(index), c)));
        }
        Ok(roots)
    }

    fn add_pool(
        &mut self,
        store: &dyn Store,
        parent: Option<usize>,
        pool: Pool,
        pending_children: &mut Vec<(usize, String)>,
    ) -> Result<()> {
        let index = self.pools.len();
        let usages = store.list_pool_cidrs(&pool.id)?;
        let mut allocations = store.list_allocations(&pool.id)?.into_iter().peekable();
        let mut cidrs = Vec::new();
        let (mut used, mut total) = (0u128, 0u128);
        for usage in usages {
            used = used.saturating_add(usage.used_addresses);
            total = total.saturating_add(usage.total_addresses);
            let start = self.allocations.len();
            let net = usage.pool_cidr.cidr;
            // both lists are in address order and the pool CIDRs are disjoint
            while let Some(a) = allocations.peek() {
                if net.contains(&a.cidr) {
                    let a = allocations.next().expect("peeked");
                    self.push_allocation(a, pending_children);
                } else if a.cidr.network() < net.network() {
                    allocations.next();
                } else {
                    break;
                }
            }
            cidrs.push(self.cidrs.len());
            self.cidrs.push(CidrNode {
                usage,
                pool: index,
                allocations: start..self.allocations.len(),
            });
        }
        self.pools.push(PoolNode {
            pool,
            parent,
            children: Vec::new(),
            cidrs,
            color: 0,
            used,
            total,
        });
        Ok(())
    }

    fn push_allocation(&mut self, allocation: Allocation, pending: &mut Vec<(usize, String)>) {
        if let Some(child) = &allocation.child_pool_cidr_id {
            pending.push((self.allocations.len(), child.clone()));
        }
        self.allocations.push(AllocationNode {
            allocation,
            child_cidr: None,
            color: 0,
            actor: String::new(),
        });
    }

    /// Points each child-pool allocation at the pool CIDR it backs, when that is in the map.
    fn link_child_cidrs(&mut self, pending: &[(usize, String)]) {
        let by_id: HashMap<&str, usize> = self
            .cidrs
            .iter()
            .enumerate()
            .map(|(i, c)| (c.usage.pool_cidr.id.as_str(), i))
            .collect();
        for (allocation, cidr_id) in pending {
            self.allocations[*allocation].child_cidr = by_id.get(cidr_id.as_str()).copied();
        }
    }

    /// The actor of each allocation, from its `allocate` audit event.
    fn add_actors(&mut self, store: &dyn Store) -> Result<()> {
        let wanted: HashMap<&str, usize> = self
            .allocations
            .iter()
            .enumerate()
            .map(|(i, a)| (a.allocation.id.as_str(), i))
            .collect();
        let mut actors: Vec<(usize, String)> = Vec::new();
        let mut after = 0;
        loop {
            let events = store.audit_events(after, 10_000)?;
            let Some(last) = events.last() else { break };
            after = last.sequence;
            for event in events {
                if event.action == "allocate" {
                    if let Some(&i) = wanted.get(event.object_id.as_str()) {
                        actors.push((i, event.actor));
                    }
                }
            }
        }
        for (i, actor) in actors {
            self.allocations[i].actor = actor;
        }
        Ok(())
    }

    /// Gives pools their colours and allocations theirs (by pool, or by the chosen tag's value).
    fn color(&mut self, options: &MapOptions) {
        for (i, pool) in self.pools.iter_mut().enumerate() {
            pool.color = i;
        }
        let owner: Vec<usize> = self
            .cidrs
            .iter()
            .flat_map(|c| c.allocations.clone().map(move |_| c.pool))
            .collect();
        match &options.color_by_tag {
            None => {
                for (a, pool) in self.allocations.iter_mut().zip(owner) {
                    a.color = pool;
                }
                self.legend = self
                    .pools
                    .iter()
                    .map(|p| LegendEntry {
                        label: pool_label(&p.pool),
                        detail: p.pool.id.clone(),
                    })
                    .collect();
            }
            Some(tag) => {
                let mut values: BTreeMap<&str, usize> = BTreeMap::new();
                for a in &self.allocations {
                    if let Some(v) = a.allocation.tags.get(tag) {
                        values.insert(v, 0);
                    }
                }
                for (i, slot) in values.values_mut().enumerate() {
                    *slot = i;
                }
                let untagged = values.len();
                let colors: Vec<usize> = self
                    .allocations
                    .iter()
                    .map(|a| {
                        a.allocation
                            .tags
                            .get(tag)
                            .and_then(|v| values.get(v.as_str()).copied())
                            .unwrap_or(untagged)
                    })
                    .collect();
                self.legend = values
                    .keys()
                    .map(|v| LegendEntry {
                        label: format!("{tag} = {v}"),
                        detail: String::new(),
                    })
                    .chain(std::iter::once(LegendEntry {
                        label: format!("no {tag} tag"),
                        detail: String::new(),
                    }))
                    .collect();
                for (a, c) in self.allocations.iter_mut().zip(colors) {
                    a.color = c;
                }
            }
        }
    }

    /// The CSS colour of legend entry `index` (the last one is grey when colouring by tag).
    pub fn legend_color(&self, index: usize) -> String {
        if self.color_by.is_some() && index + 1 == self.legend.len() {
            UNTAGGED.to_string()
        } else {
            color(index)
        }
    }

    /// Number of allocations of pools (child-pool CIDRs not counted).
    pub fn allocation_count(&self) -> usize {
        self.allocations
            .iter()
            .filter(|a| a.allocation.child_pool_cidr_id.is_none())
            .count()
    }
}

/// A pool's short name: its description, else its id.
pub fn pool_label(pool: &Pool) -> String {
    if pool.description.is_empty() {
        pool.id.clone()
    } else {
        pool.description.clone()
    }
}

/// `top` and every pool below it.
fn subtree(pools: &[Pool], top: &str) -> Vec<Pool> {
    let mut keep: std::collections::HashSet<&str> = std::collections::HashSet::from([top]);
    // parents before children: one pass in depth order
    let mut by_depth: Vec<&Pool> = pools.iter().collect();
    by_depth.sort_by_key(|p| p.depth);
    for p in by_depth {
        if p.source_pool_id
            .as_deref()
            .is_some_and(|s| keep.contains(s))
        {
            keep.insert(&p.id);
        }
    }
    pools
        .iter()
        .filter(|p| keep.contains(p.id.as_str()))
        .cloned()
        .collect()
}
