//! What the allocations planned so far in this provider process will take, so that a plan
//! reports conflicts *between* the configuration's own allocations (two explicit CIDRs that
//! overlap, a `count` larger than the pool's free space), which the store cannot see because
//! none of them exists yet.
//!
//! Terraform starts one provider process per graph walk, and that process serves the whole
//! walk: every PlanResourceChange of a plan arrives here. The apply walk (often another process)
//! plans each instance once more, without its address, right before applying it: its create
//! removes its own claim *before* it writes (so a claim and the allocation it became are never
//! both counted), whether the write then succeeds or not. Claims are matched by the request
//! itself: instances of one `count` with identical arguments are interchangeable.
//!
//! Only certain conflicts are reported: an explicit CIDR overlapping another planned explicit
//! CIDR, or planned blocks that add up to more addresses than the pool has free (no order of
//! allocation can fit them). Fragmentation-dependent failures are left to apply. Space the plan
//! adds first counts as free: the block of an allocation being replaced, and a pool CIDR planned
//! for the pool (`ipam_pool_cidr` records it; allocations that reference it are planned after).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::IpNet;

use crate::ipam::{AddressFamily, AllocationRequest};

/// What a claim is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// An allocation planned in this walk: space it will take.
    Allocation,
    /// The prior block of an allocation being replaced: space the apply frees first.
    Replaced,
    /// A pool CIDR planned in this walk: space the pool will have (its size; the block itself
    /// may be unknown until apply).
    Provisioned,
    /// A pool CIDR carved by length whose block this walk reserved in the source pool (the
    /// reservation is keyed by the pool: one per pool and plan). Counts for nothing.
    Carved,
}

/// One planned allocation, replaced block or provisioned pool CIDR.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Claim {
    request: AllocationRequest,
    /// The block (for an allocation: the store's preview, exact for an explicit CIDR; for a
    /// pool CIDR carved by size: a placeholder of that size).
    block: IpNet,
    kind: Kind,
    /// For a replaced allocation: its id and name (a plan of its replacement may keep the name).
    replaced: Option<(String, Option<String>)>,
}

impl Claim {
    fn addresses(&self) -> u128 {
        addresses(&self.block)
    }
}

/// Addresses in a block.
pub fn addresses(block: &IpNet) -> u128 {
    let host_bits = u32::from(AddressFamily::of(block).width() - block.prefix_len());
    1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
}

/// The key of a planned pool CIDR: its pool and size (a carve may land elsewhere at apply).
fn provision_request(pool_id: &str, block: IpNet) -> AllocationRequest {
    AllocationRequest {
        pool_id: pool_id.to_string(),
        netmask_length: Some(block.prefix_len()),
        ..AllocationRequest::default()
    }
}

/// Whether two blocks share an address.
fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// The claims of this process, by pool id.
#[derive(Clone, Default)]
pub struct PlannedClaims(Arc<Mutex<HashMap<String, Vec<Claim>>>>);

/// Why a planned allocation cannot be made together with the others of this plan.
#[derive(Debug, PartialEq, Eq)]
pub enum Conflict {
    /// The explicit CIDR overlaps another planned explicit CIDR.
    Overlap { cidr: IpNet, other: IpNet },
    /// The planned blocks need more addresses than the pool has free.
    TooLarge {
        pool_id: String,
        free: u128,
        wanted: u128,
        planned: usize,
    },
    /// A named allocation's reservation leaves too little room for the allocations without a
    /// name planned before it.
    Reserved {
        pool_id: String,
        reserved: IpNet,
        free: u128,
        wanted: u128,
        planned: usize,
    },
}

impl Conflict {
    /// The message, lowercase-first, with what to change.
    pub fn message(&self) -> String {
        match self {
            Conflict::Overlap { cidr, other } => format!(
                "cidr {cidr} overlaps {other}, which another ipam_allocation in this configuration also asks for; give each allocation its own range"
            ),
            Conflict::TooLarge {
                pool_id,
                free,
                wanted,
                planned,
            } => format!(
                "pool {pool_id} has {free} free addresses, but this allocation and the {planned} planned before it in this run need {wanted}; lower count or the netmask sizes, or provision more space into the pool"
            ),
            Conflict::Reserved {
                pool_id,
                reserved,
                free,
                wanted,
                planned,
            } => format!(
                "this allocation's planned block {reserved} leaves pool {pool_id} {free} free addresses, but the {planned} allocation(s) without a name planned before it in this run need {wanted}; lower count or the netmask sizes, give those allocations a name (so that they reserve their blocks too), or provision more space into the pool"
            ),
        }
    }
}

impl PlannedClaims {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Claim>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records that `request` (previewed as `block`) is planned, unless it conflicts with what
    /// is already planned in its pool, whose free addresses are `free` now.
    pub fn claim(
        &self,
        request: &AllocationRequest,
        block: IpNet,
        free: u128,
    ) -> Result<(), Conflict> {
        let mut claims = self.lock();
        let pool = claims.entry(request.pool_id.clone()).or_default();
        if let Some(cidr) = request.cidr {
            let other = pool
                .iter()
                .filter(|c| c.kind == Kind::Allocation)
                .filter_map(|c| c.request.cidr)
                .find(|other| overlaps(other, &cidr));
            if let Some(other) = other {
                return Err(Conflict::Overlap { cidr, other });
            }
        }
        let claim = Claim {
            request: request.clone(),
            block,
            kind: Kind::Allocation,
            replaced: None,
        };
        let of_kind = |kind: Kind| pool.iter().filter(move |c| c.kind == kind);
        let planned = of_kind(Kind::Allocation).count();
        let wanted = of_kind(Kind::Allocation)
            .map(Claim::addresses)
            .fold(claim.addresses(), u128::saturating_add);
        let freed = of_kind(Kind::Replaced)
            .chain(of_kind(Kind::Provisioned))
            .map(Claim::addresses)
            .fold(0, u128::saturating_add);
        if wanted > free.saturating_add(freed) {
            return Err(Conflict::TooLarge {
                pool_id: request.pool_id.clone(),
                free,
                wanted,
                planned,
            });
        }
        pool.push(claim);
        Ok(())
    }

    /// Records that the allocation `id` (named `name`, of block `block`) of pool `pool_id` is
    /// planned to be replaced: its space is free again before the replacement is made.
    pub fn replacing(&self, pool_id: &str, block: IpNet, id: &str, name: Option<&str>) {
        self.lock()
            .entry(pool_id.to_string())
            .or_default()
            .push(Claim {
                request: AllocationRequest {
                    pool_id: pool_id.to_string(),
                    ..AllocationRequest::default()
                },
                block,
                kind: Kind::Replaced,
                replaced: Some((id.to_string(), name.map(str::to_string))),
            });
    }

    /// The id of the allocation named `name` of pool `pool_id` that this plan replaces, if any:
    /// its replacement may keep the name (the old one is released first, unless the
    /// configuration sets `create_before_destroy`).
    pub fn replaced_named(&self, pool_id: &str, name: &str) -> Option<String> {
        self.lock().get(pool_id).and_then(|pool| {
            pool.iter()
                .filter(|c| c.kind == Kind::Replaced)
                .find_map(|c| match &c.replaced {
                    Some((id, Some(named))) if named == name => Some(id.clone()),
                    _ => None,
                })
        })
    }

    /// Records that a pool CIDR of pool `pool_id` carved by length reserves its block in this
    /// walk; `false` when another one of this walk already does (they would share the
    /// reservation, which is keyed by the pool).
    pub fn carving(&self, pool_id: &str, block: IpNet) -> bool {
        let mut claims = self.lock();
        let pool = claims.entry(pool_id.to_string()).or_default();
        if pool.iter().any(|c| c.kind == Kind::Carved) {
            return false;
        }
        pool.push(Claim {
            request: provision_request(pool_id, block),
            block,
            kind: Kind::Carved,
            replaced: None,
        });
        true
    }

    /// Whether allocations without a name are planned in pool `pool_id` in this walk (a named
    /// allocation's reservation must leave them room: [`PlannedClaims::check_room`]).
    pub fn has_unnamed(&self, pool_id: &str) -> bool {
        self.lock()
            .get(pool_id)
            .is_some_and(|pool| pool.iter().any(|c| c.kind == Kind::Allocation))
    }

    /// Checks that the allocations without a name planned so far in pool `pool_id` still fit
    /// in its `free` addresses, once a named allocation's reservation (`reserved`, already out
    /// of `free`) is taken: a named allocation planned after them must not take their room.
    pub fn check_room(&self, pool_id: &str, free: u128, reserved: IpNet) -> Result<(), Conflict> {
        let claims = self.lock();
        let Some(pool) = claims.get(pool_id) else {
            return Ok(());
        };
        let of_kind = |kind: Kind| pool.iter().filter(move |c| c.kind == kind);
        let planned = of_kind(Kind::Allocation).count();
        let wanted = of_kind(Kind::Allocation)
            .map(Claim::addresses)
            .fold(0, u128::saturating_add);
        let freed = of_kind(Kind::Replaced)
            .chain(of_kind(Kind::Provisioned))
            .map(Claim::addresses)
            .fold(0, u128::saturating_add);
        if planned > 0 && wanted > free.saturating_add(freed) {
            return Err(Conflict::Reserved {
                pool_id: pool_id.to_string(),
                reserved,
                free,
                wanted,
                planned,
            });
        }
        Ok(())
    }

    /// Records that a pool CIDR of `block`'s size is planned for pool `pool_id` (provisioned
    /// before the allocations that reference it).
    pub fn provisioning(&self, pool_id: &str, block: IpNet) {
        self.lock()
            .entry(pool_id.to_string())
            .or_default()
            .push(Claim {
                request: provision_request(pool_id, block),
                block,
                kind: Kind::Provisioned,
                replaced: None,
            });
    }

    /// Forgets one planned pool CIDR of `block`'s size (the apply walk's provision, before it
    /// writes).
    pub fn provisioned(&self, pool_id: &str, block: IpNet) {
        let request = provision_request(pool_id, block);
        self.forget(Kind::Provisioned, &request);
    }

    /// Whether the store's refusal of a request may come only from what this plan changes
    /// first — an allocation being replaced releases the space, or a pool CIDR planned for the
    /// pool adds it: then the plan leaves the check to apply.
    pub fn may_be_freed_first(&self, pool_id: &str, needed: Option<&IpNet>) -> bool {
        self.lock().get(pool_id).is_some_and(|pool| {
            pool.iter().any(|c| match c.kind {
                Kind::Allocation | Kind::Carved => false,
                Kind::Provisioned => true,
                Kind::Replaced => needed.is_none_or(|cidr| overlaps(&c.block, cidr)),
            })
        })
    }

    /// Forgets one claim of exactly this request (the apply walk's create, before it writes).
    pub fn release(&self, request: &AllocationRequest) {
        self.forget(Kind::Allocation, request);
    }

    fn forget(&self, kind: Kind, request: &AllocationRequest) {
        let mut claims = self.lock();
        if let Some(pool) = claims.get_mut(&request.pool_id) {
            if let Some(at) = pool
                .iter()
                .position(|c| c.kind == kind && &c.request == request)
            {
                pool.remove(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pool: &str, cidr: Option<&str>, len: Option<u8>) -> AllocationRequest {
        AllocationRequest {
            pool_id: pool.into(),
            cidr: cidr.map(|c| c.parse().unwrap()),
            netmask_length: len,
            ..AllocationRequest::default()
        }
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn overlapping_explicit_cidrs_conflict_in_one_pool_only() {
        let claims = PlannedClaims::default();
        let a = request("p", Some("10.2.4.0/24"), None);
        claims.claim(&a, net("10.2.4.0/24"), 65536).unwrap();
        let b = request("p", Some("10.2.4.0/23"), None);
        assert_eq!(
            claims.claim(&b, net("10.2.4.0/23"), 65536),
            Err(Conflict::Overlap {
                cidr: net("10.2.4.0/23"),
                other: net("10.2.4.0/24")
            })
        );
        let elsewhere = request("q", Some("10.2.4.0/23"), None);
        claims.claim(&elsewhere, net("10.2.4.0/23"), 65536).unwrap();
        claims
            .claim(
                &request("p", Some("10.2.6.0/23"), None),
                net("10.2.6.0/23"),
                65536,
            )
            .unwrap();
    }

    #[test]
    fn a_count_larger_than_the_free_space_conflicts_and_apply_releases_claims() {
        let claims = PlannedClaims::default();
        let each = request("p", None, Some(28));
        for _ in 0..4 {
            claims.claim(&each, net("10.9.0.0/28"), 64).unwrap();
        }
        let fifth = claims.claim(&each, net("10.9.0.0/28"), 64).unwrap_err();
        assert!(
            fifth.message().contains("64 free addresses"),
            "{}",
            fifth.message()
        );
        assert!(fifth.message().contains("need 80"), "{}", fifth.message());
        // The apply walk plans each instance again: the first one applied forgets its claim
        // before the store counts it as used, so the remaining three claims and the 48 free
        // addresses still leave no room for a fifth, and never count the first one twice.
        let apply_walk = PlannedClaims::default();
        for _ in 0..4 {
            apply_walk.claim(&each, net("10.9.0.0/28"), 64).unwrap();
        }
        apply_walk.release(&each);
        assert!(apply_walk.claim(&each, net("10.9.0.0/28"), 48).is_err());
        // a different request in the pool is not released by it
        let other = request("p", None, Some(27));
        apply_walk.release(&other);
        assert_eq!(apply_walk.lock()["p"].len(), 3);
    }

    #[test]
    fn a_replacement_frees_its_block_first() {
        let claims = PlannedClaims::default();
        claims.replacing("p", net("10.9.0.0/26"), "ipam-alloc-1", Some("web"));
        assert_eq!(
            claims.replaced_named("p", "web").as_deref(),
            Some("ipam-alloc-1")
        );
        assert_eq!(claims.replaced_named("p", "db"), None);
        assert_eq!(claims.replaced_named("q", "web"), None);
        assert!(claims.may_be_freed_first("p", Some(&net("10.9.0.0/25"))));
        assert!(!claims.may_be_freed_first("p", Some(&net("10.9.1.0/24"))));
        assert!(!claims.may_be_freed_first("q", None));
        claims
            .claim(&request("p", None, Some(26)), net("10.9.0.0/26"), 0)
            .unwrap();
    }

    #[test]
    fn a_named_reservation_leaves_room_for_the_unnamed_planned_before_it() {
        let claims = PlannedClaims::default();
        assert!(!claims.has_unnamed("p"));
        claims.check_room("p", 0, net("10.9.0.0/25")).unwrap();
        let each = request("p", None, Some(25));
        claims.claim(&each, net("10.9.0.0/25"), 256).unwrap();
        claims.claim(&each, net("10.9.0.128/25"), 256).unwrap();
        assert!(claims.has_unnamed("p"));
        // a named /25 reserved afterwards leaves 128 of the 256 addresses both need
        let error = claims.check_room("p", 128, net("10.9.1.0/25")).unwrap_err();
        assert!(error.message().contains("need 256"), "{}", error.message());
        assert!(
            error.message().contains("10.9.1.0/25"),
            "{}",
            error.message()
        );
        claims.check_room("p", 256, net("10.9.1.0/25")).unwrap();
    }

    #[test]
    fn one_carve_by_length_per_pool_per_walk() {
        let claims = PlannedClaims::default();
        assert!(claims.carving("child", net("::/24")));
        assert!(!claims.carving("child", net("::/24")));
        assert!(claims.carving("other", net("::/24")));
        // a carve counts for no space
        assert!(!claims.may_be_freed_first("child", None));
    }

    #[test]
    fn a_pool_cidr_planned_first_adds_its_space() {
        let claims = PlannedClaims::default();
        claims.provisioning("p", net("10.9.0.0/24"));
        assert!(claims.may_be_freed_first("p", None));
        let each = request("p", None, Some(26));
        for _ in 0..4 {
            claims.claim(&each, net("10.9.0.0/26"), 0).unwrap();
        }
        assert!(claims.claim(&each, net("10.9.0.0/26"), 0).is_err());
        // the apply walk forgets the planned pool CIDR before the store has it
        claims.provisioned("p", net("10.9.0.0/24"));
        assert!(!claims.may_be_freed_first("p", None));
    }
}
