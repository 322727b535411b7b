//! Classification of discovered CIDRs against the address space, in AWS IPAM's words: managed,
//! unmanaged, overlapping, noncompliant, outside, ignored; and the reverse, orphaned allocations.
//!
//! The address space is read through the [`Store`] trait; the guardrail and required-tag checks
//! are the core's ([`crate::ipam::NetmaskRule::check`], [`missing_required_tags`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use ipnet::IpNet;

use crate::ipam::cidr::host_mask;
use crate::ipam::cidr_set::overlapping_pairs;
use crate::ipam::{
    missing_required_tags, private_use_range_overlapping, AddressFamily, Allocation, Block, Error,
    Pool, PoolFilter, Result,
};
use crate::store::{rfc3339_millis, Store};

use super::input::{Discovered, Inputs};
use super::rules::Level;

/// What a discovered CIDR is, seen from the address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// One of our allocations or pool CIDRs, or inside an allocation (a subnet of a managed VPC).
    Managed,
    /// Managed, but its allocation now breaks its pool's guardrails or required tags.
    Noncompliant,
    /// In a pool's provisioned space, but no allocation covers it.
    Unmanaged,
    /// Overlaps another discovered CIDR or an allocation that is not its parent or child.
    Overlapping,
    /// In no pool (informational).
    Outside,
    /// On the ignore list.
    Ignored,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 6] = [
        Status::Managed,
        Status::Unmanaged,
        Status::Overlapping,
        Status::Noncompliant,
        Status::Outside,
        Status::Ignored,
    ];

    /// The lowercase word used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Managed => "managed",
            Status::Noncompliant => "noncompliant",
            Status::Unmanaged => "unmanaged",
            Status::Overlapping => "overlapping",
            Status::Outside => "outside",
            Status::Ignored => "ignored",
        }
    }

    /// Whether this status fails a CI gate (`ipam scan` exits 1).
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Status::Overlapping | Status::Unmanaged | Status::Noncompliant
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One discovered CIDR and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where it was found.
    pub discovered: Discovered,
    /// Its status.
    pub status: Status,
    /// The deepest pool whose provisioned space contains it.
    pub pool_id: Option<String>,
    /// The allocation that is it or covers it (managed, noncompliant).
    pub allocation_id: Option<String>,
    /// The other side of each overlap: `ADDRESS (CIDR) in FILE` or `allocation ID (CIDR)`.
    pub conflicts: Vec<String>,
    /// Why (noncompliant: the broken rule; managed: what covers it; ignored: the entry).
    pub detail: String,
}

/// An allocation none of the given states holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The allocation.
    pub allocation: Allocation,
    /// Who allocated it (from the audit log).
    pub actor: String,
    /// Seconds since it was allocated.
    pub age_seconds: i64,
}

/// Where discovered CIDRs are classified.
#[derive(Debug, Clone, Default)]
pub struct ScanScope {
    /// The scope for private-use CIDRs (RFC 1918, 100.64/10, ULA…); default: the private default
    /// scope of the only IPAM. Other CIDRs go to that IPAM's public default scope.
    pub scope_id: Option<String>,
    /// CIDRs (anything inside them) and resource addresses (and everything under them) to ignore.
    pub ignore: Vec<String>,
    /// Pools whose allocations are checked for orphans, besides the pools the states' own
    /// `ipam_allocation` resources use.
    pub orphan_pools: Vec<String>,
}

/// The result of a scan.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One per discovered CIDR, in input order.
    pub findings: Vec<Finding>,
    /// Allocations of the states' pools that none of the states holds.
    pub orphans: Vec<Orphan>,
    /// What was read.
    pub inputs: Inputs,
}

impl Report {
    /// How many findings have this status.
    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// `0` clean, `1` something overlapping, unmanaged or noncompliant, `2` a file not read.
    pub fn exit_code(&self) -> u8 {
        if !self.inputs.errors.is_empty() {
            2
        } else if self.findings.iter().any(|f| f.status.is_problem()) {
            1
        } else {
            0
        }
    }
}

/// One pool CIDR or allocation, by block.
#[derive(Debug, Clone)]
struct Held {
    pool: usize,
    /// `Some` for a pool CIDR (its id), `None` for an allocation.
    pool_cidr_id: Option<String>,
    allocation: Option<Allocation>,
}

/// One scope's pools, pool CIDRs and allocations, indexed by block.
#[derive(Default)]
struct Space {
    pools: Vec<Pool>,
    pool_cidrs: HashMap<(AddressFamily, Block), Held>,
    /// Allocations that are not child-pool CIDRs.
    allocations: HashMap<(AddressFamily, Block), Held>,
    /// Every allocation (child-pool CIDRs included), sorted by family and block.
    sorted: Vec<(AddressFamily, Block, String)>,
}

impl Space {
    fn load(store: &dyn Store, scope_id: &str) -> Result<Space> {
        let mut space = Space::default();
        let pools = store.find_pools(&PoolFilter {
            scope_id: Some(scope_id.to_string()),
            ..PoolFilter::default()
        })?;
        for (index, pool) in pools.iter().enumerate() {
            let family = pool.address_family;
            for usage in store.list_pool_cidrs(&pool.id)? {
                space.pool_cidrs.insert(
                    (family, Block::of(&usage.pool_cidr.cidr)),
                    Held {
                        pool: index,
                        pool_cidr_id: Some(usage.pool_cidr.id),
                        allocation: None,
                    },
                );
            }
            for allocation in store.list_allocations(&pool.id)? {
                let block = Block::of(&allocation.cidr);
                let name = match &allocation.child_pool_cidr_id {
                    Some(_) => format!("the pool CIDR of a child pool of {}", pool.id),
                    None => format!("allocation {}", allocation.id),
                };
                space.sorted.push((family, block, name));
                if allocation.child_pool_cidr_id.is_none() {
                    space.allocations.insert(
                        (family, block),
                        Held {
                            pool: index,
                            pool_cidr_id: None,
                            allocation: Some(allocation),
                        },
                    );
                }
            }
        }
        space.sorted.sort();
        space.pools = pools;
        Ok(space)
    }

    /// The entry of `map` equal to or containing `net` with the longest prefix (`strict`: not
    /// equal).
    fn deepest<'a>(
        map: &'a HashMap<(AddressFamily, Block), Held>,
        net: &IpNet,
        strict: bool,
    ) -> Option<(Block, &'a Held)> {
        let family = AddressFamily::of(net);
        let block = Block::of(net);
        let top = if strict {
            block.prefix_len.checked_sub(1)?
        } else {
            block.prefix_len
        };
        (0..=top).rev().find_map(|len| {
            let candidate = Block {
                start: block.start & !host_mask(family, len),
                prefix_len: len,
            };
            map.get(&(family, candidate)).map(|held| (candidate, held))
        })
    }

    /// Allocations (child-pool CIDRs included) strictly inside `net`.
    fn inside<'a>(&'a self, net: &IpNet) -> impl Iterator<Item = (Block, &'a str)> + 'a {
        let family = AddressFamily::of(net);
        let block = Block::of(net);
        let last = block.last(family);
        let from = self.sorted.partition_point(|(f, b, _)| {
            (*f, b.start, b.prefix_len) < (family, block.start, block.prefix_len + 1)
        });
        self.sorted[from..]
            .iter()
            .take_while(move |(f, b, _)| *f == family && b.start <= last)
            .filter(move |(_, b, _)| b.prefix_len > block.prefix_len)
            .map(|(_, b, name)| (*b, name.as_str()))
    }
}

/// The two scopes CIDRs are classified in.
struct Spaces {
    private: Space,
    public: Space,
}

fn choose_scopes(store: &dyn Store, scope_id: Option<&str>) -> Result<Option<(String, String)>> {
    if let Some(scope_id) = scope_id {
        let scope = store.get_scope(scope_id)?;
        let ipam = store.get_ipam(&scope.ipam_id)?;
        return Ok(Some((scope.id, ipam.public_default_scope_id)));
    }
    let ipams = store.list_ipams()?;
    match ipams.as_slice() {
        [] => Ok(None),
        [ipam] => Ok(Some((
            ipam.private_default_scope_id.clone(),
            ipam.public_default_scope_id.clone(),
        ))),
        several => Err(Error::InvalidArgument {
            input: "scope_id",
            message: format!(
                "the database holds {} IPAMs ({}); choose the scope to scan against with its id",
                several.len(),
                several
                    .iter()
                    .map(|i| i.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

fn is_private(net: &IpNet) -> bool {
    private_use_range_overlapping(net).is_some_and(|range| range.contains(net))
}

fn ignored_by(entries: &[String], d: &Discovered) -> Option<String> {
    entries
        .iter()
        .find(|entry| match entry.parse::<IpNet>() {
            Ok(range) => range.contains(&d.found.cidr),
            Err(_) => {
                d.address == **entry
                    || d.address
                        .strip_prefix(entry.as_str())
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            }
        })
        .map(|entry| format!("ignore list: {entry}"))
}

/// Whether two discovered CIDRs, the first containing (or equal to) the second, are a network
/// and its own part (VPC → subnet), the same network seen twice, or the same resource.
fn related(outer: &Discovered, inner: &Discovered) -> bool {
    if outer.file == inner.file && outer.address == inner.address {
        return true;
    }
    match (&outer.found.network, &inner.found.network) {
        (Some(a), Some(b)) if a == b => {
            outer.found.cidr == inner.found.cidr
                || (outer.found.level == Level::Network && inner.found.level == Level::Subnet)
        }
        _ => false,
    }
}

fn describe(d: &Discovered) -> String {
    format!("{} ({}) in {}", d.address, d.found.cidr, d.file)
}

/// Pairwise overlaps between discovered CIDRs (ours excluded: the database checks those), found
/// per address family by [`overlapping_pairs`], less the pairs that are a network and its own
/// part; each CIDR's conflicts in address order, the containing ones first.
fn discovered_overlaps(discovered: &[Discovered], skip: &[bool]) -> Vec<Vec<usize>> {
    let key = |i: usize| {
        let net = &discovered[i].found.cidr;
        (Block::of(net).start, net.prefix_len(), i)
    };
    let mut conflicts: Vec<Vec<usize>> = vec![Vec::new(); discovered.len()];
    for family in [AddressFamily::Ipv4, AddressFamily::Ipv6] {
        let members: Vec<usize> = (0..discovered.len())
            .filter(|&i| {
                !skip[i]
                    && !discovered[i].is_ours()
                    && AddressFamily::of(&discovered[i].found.cidr) == family
            })
            .collect();
        let blocks: Vec<Block> = members
            .iter()
            .map(|&i| Block::of(&discovered[i].found.cidr))
            .collect();
        for (a, b) in overlapping_pairs(family, &blocks) {
            let (mut outer, mut inner) = (members[a], members[b]);
            if blocks[b].prefix_len < blocks[a].prefix_len {
                std::mem::swap(&mut outer, &mut inner);
            }
            if !related(&discovered[outer], &discovered[inner]) {
                conflicts[outer].push(inner);
                conflicts[inner].push(outer);
            }
        }
    }
    for list in &mut conflicts {
        list.sort_unstable_by_key(|&j| key(j));
    }
    conflicts
}

/// Classifies every discovered CIDR and finds the orphans.
pub fn classify(store: &dyn Store, scope: &ScanScope, inputs: Inputs) -> Result<Report> {
    classify_in(Some(store), scope, inputs)
}

/// Classifies every discovered CIDR against the address space of `store`, or against none when
/// there is no database yet: then nothing is managed (every CIDR is outside, overlapping or
/// ignored) and nothing is orphaned.
pub fn classify_in(store: Option<&dyn Store>, scope: &ScanScope, inputs: Inputs) -> Result<Report> {
    let chosen = match store {
        Some(store) => choose_scopes(store, scope.scope_id.as_deref())?.map(|c| (store, c)),
        None => None,
    };
    let spaces = match chosen {
        Some((store, (private, public))) => Some(Spaces {
            private: Space::load(store, &private)?,
            public: Space::load(store, &public)?,
        }),
        None => None,
    };
    let discovered = &inputs.discovered;
    let ignored: Vec<Option<String>> = discovered
        .iter()
        .map(|d| ignored_by(&scope.ignore, d))
        .collect();
    let skip: Vec<bool> = ignored.iter().map(Option::is_some).collect();
    let pairwise = discovered_overlaps(discovered, &skip);
    // a discovered CIDR's networks, to tell a VPC's managed subnets from others' allocations
    let mut networks_at: HashMap<IpNet, Vec<Option<&str>>> = HashMap::new();
    for d in discovered.iter().filter(|d| !d.is_ours()) {
        networks_at
            .entry(d.found.cidr)
            .or_default()
            .push(d.found.network.as_deref());
    }
    let mut findings = Vec::with_capacity(discovered.len());
    for (index, d) in discovered.iter().enumerate() {
        let mut finding = Finding {
            discovered: d.clone(),
            status: Status::Outside,
            pool_id: None,
            allocation_id: None,
            conflicts: Vec::new(),
            detail: String::new(),
        };
        if let Some(entry) = &ignored[index] {
            finding.status = Status::Ignored;
            finding.detail = entry.clone();
            findings.push(finding);
            continue;
        }
        let net = d.found.cidr;
        let space = spaces.as_ref().map(|s| {
            if is_private(&net) {
                &s.private
            } else {
                &s.public
            }
        });
        if let Some(space) = space {
            let covered = place(space, d, &mut finding);
            if !d.is_ours() && !covered {
                for (block, name) in space.inside(&net) {
                    let inner = block.to_net(AddressFamily::of(&net));
                    let own_part = networks_at.get(&inner).is_some_and(|networks| {
                        d.found.network.is_some() && networks.contains(&d.found.network.as_deref())
                    });
                    if !own_part {
                        finding.conflicts.push(format!("{name} ({inner})"));
                    }
                }
            }
        }
        finding
            .conflicts
            .extend(pairwise[index].iter().map(|&j| describe(&discovered[j])));
        if !finding.conflicts.is_empty() {
            finding.status = Status::Overlapping;
        }
        findings.push(finding);
    }
    let orphans = match store {
        Some(store) => orphans(store, scope, discovered)?,
        None => Vec::new(),
    };
    Ok(Report {
        findings,
        orphans,
        inputs,
    })
}

/// Sets pool, allocation and status (managed, noncompliant, unmanaged or outside); returns
/// whether an allocation or pool CIDR is or covers the CIDR.
fn place(space: &Space, d: &Discovered, finding: &mut Finding) -> bool {
    let net = d.found.cidr;
    let Some((pool_block, held)) = Space::deepest(&space.pool_cidrs, &net, false) else {
        finding.status = Status::Outside;
        return false;
    };
    let pool_index = held.pool;
    let pool = &space.pools[pool_index];
    finding.pool_id = Some(pool.id.clone());
    if pool_block == Block::of(&net) {
        finding.status = Status::Managed;
        finding.detail = format!(
            "pool CIDR {}",
            held.pool_cidr_id.as_deref().unwrap_or_default()
        );
        return true;
    }
    match Space::deepest(&space.allocations, &net, false) {
        // an allocation of a shallower pool cannot hold space a deeper pool CIDR holds
        Some((block, held)) if held.pool == pool_index => {
            let allocation = held.allocation.as_ref().expect("allocations carry one");
            finding.allocation_id = Some(allocation.id.clone());
            if block == Block::of(&net) {
                finding.status = Status::Managed;
                finding.detail = format!("allocation {}", allocation.id);
                let wrong_region = match (&pool.locale, &d.region) {
                    (Some(locale), Some(region)) if locale != region => Some(format!(
                        "{} is in region {region}, but its allocation's pool {} has locale {locale}",
                        d.address, pool.id
                    )),
                    _ => None,
                };
                let broken: Vec<String> = broken_rules(pool, allocation)
                    .into_iter()
                    .chain(wrong_region)
                    .collect();
                if !broken.is_empty() {
                    finding.status = Status::Noncompliant;
                    finding.detail = broken.join("; ");
                }
            } else {
                finding.status = Status::Managed;
                finding.detail =
                    format!("inside allocation {} ({})", allocation.id, allocation.cidr);
            }
            true
        }
        _ => {
            finding.status = Status::Unmanaged;
            finding.detail = format!("no allocation covers it in pool {}", pool.id);
            false
        }
    }
}

/// The pool rules an allocation breaks now: guardrails and required tags, checked by the core.
pub fn broken_rules(pool: &Pool, allocation: &Allocation) -> Option<String> {
    let mut broken = Vec::new();
    if let Err(e) = pool.netmask.check(
        allocation.cidr.prefix_len(),
        pool.address_family,
        &pool.id,
        "cidr",
    ) {
        broken.push(e.to_string());
    }
    let missing = missing_required_tags(&pool.allocation_resource_tags, &allocation.tags);
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|(k, v)| format!("{k}={v}")).collect();
        broken.push(format!(
            "allocation {} lacks the tags pool {} now requires: {}",
            allocation.id,
            pool.id,
            list.join(", ")
        ));
    }
    (!broken.is_empty()).then(|| broken.join("; "))
}

/// Allocations of the states' pools (and `scope.orphan_pools`) that no state holds: neither an
/// `ipam_allocation` with its id nor a resource with exactly its CIDR.
fn orphans(store: &dyn Store, scope: &ScanScope, discovered: &[Discovered]) -> Result<Vec<Orphan>> {
    let mut pools: BTreeSet<String> = scope.orphan_pools.iter().cloned().collect();
    let mut held_ids = HashSet::new();
    let mut held_cidrs = HashSet::new();
    for d in discovered {
        if d.resource_type == "ipam_allocation" {
            pools.extend(d.pool_id.clone());
            held_ids.extend(d.id.clone());
        } else if !d.is_ours() {
            held_cidrs.insert(d.found.cidr);
        }
    }
    let mut found = Vec::new();
    for pool_id in &pools {
        let allocations = match store.list_allocations(pool_id) {
            Ok(list) => list,
            Err(Error::NotFound { .. }) if !scope.orphan_pools.contains(pool_id) => continue,
            Err(e) => return Err(e),
        };
        found.extend(allocations.into_iter().filter(|a| {
            a.child_pool_cidr_id.is_none()
                && !held_ids.contains(&a.id)
                && !held_cidrs.contains(&a.cidr)
        }));
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: HashSet<&str> = found.iter().map(|a| a.id.as_str()).collect();
    let mut actors: HashMap<String, String> = HashMap::new();
    let mut after = 0;
    loop {
        let events = store.audit_events(after, 10_000)?;
        let Some(last) = events.last() else { break };
        after = last.sequence;
        for event in events {
            if event.action == "allocate" && wanted.contains(event.object_id.as_str()) {
                actors.insert(event.object_id, event.actor);
            }
        }
    }
    let now = crate::store::now_rfc3339();
    Ok(found
        .into_iter()
        .map(|allocation| Orphan {
            actor: actors
                .get(&allocation.id)
                .cloned()
                .unwrap_or_else(|| "unknown".to_string()),
            age_seconds: seconds_between(&allocation.created_at, &now).unwrap_or(0),
            allocation,
        })
        .collect())
}

/// Seconds from one RFC 3339 UTC time (`2026-11-24T02:14:34.123Z`) to another.
fn seconds_between(from: &str, to: &str) -> Option<i64> {
    Some(unix_seconds(to)? - unix_seconds(from)?)
}

fn unix_seconds(text: &str) -> Option<i64> {
    Some(rfc3339_millis(text)?.div_euclid(1000))
}

/// A duration in the largest whole unit: `3d`, `5h`, `12m`, `40s`.
pub fn human_age(seconds: i64) -> String {
    match seconds {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{}s", s.max(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_convert_to_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            unix_seconds("2026-11-23T21:21:38.123Z"),
            Some(1_795_468_898)
        );
        assert_eq!(unix_seconds("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(unix_seconds("yesterday"), None);
        assert_eq!(human_age(3 * 86_400 + 5), "3d");
        assert_eq!(human_age(59), "59s");
        assert_eq!(human_age(7_200), "2h");
    }
}
