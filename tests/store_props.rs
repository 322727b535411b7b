//! Property tests through the SQLite store: random provision / allocate / release /
//! deprovision sequences across three levels of nested pools never break containment or
//! overlap, and free + used space always equals provisioned space.

use ipnet::IpNet;
use proptest::prelude::*;
use tfipam::ipam::{
    AddressFamily, AllocationRequest, Block, Error, NewIpam, NewPool, PoolCidrRequest,
};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

#[derive(Debug, Clone)]
enum Op {
    /// Allocate a block of `top + extra` in pool `level`.
    Allocate {
        level: usize,
        extra: u8,
    },
    /// Allocate an explicit block (may overlap, may be outside): a refusal is fine, a wrong
    /// acceptance is caught by the invariants.
    Explicit {
        level: usize,
        extra: u8,
        slot: u16,
    },
    /// Carve a CIDR for pool `level` (1 or 2) from its parent.
    Provision {
        level: usize,
        extra: u8,
    },
    Release {
        pick: usize,
    },
    Deprovision {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..3, 2u8..10).prop_map(|(level, extra)| Op::Allocate { level, extra }),
        2 => (0usize..3, 2u8..10, any::<u16>()).prop_map(|(level, extra, slot)| Op::Explicit { level, extra, slot }),
        2 => (1usize..3, 1u8..6).prop_map(|(level, extra)| Op::Provision { level, extra }),
        3 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Deprovision { pick }),
    ]
}

fn run(top: &str, ops: Vec<Op>) {
    let top: IpNet = top.parse().unwrap();
    let family = AddressFamily::of(&top);
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(dir.path().join("props.db"), SqliteOptions::new("props")).unwrap();
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let scope = ipam.private_default_scope_id;
    let mut pools = Vec::new();
    for level in 0..3 {
        let new = NewPool {
            source_pool_id: pools.last().cloned(),
            ..NewPool::new(&scope, family)
        };
        pools.push(store.create_pool(&new).unwrap().id);
        if level == 0 {
            store
                .provision_pool_cidr(&pools[0], PoolCidrRequest::Cidr(top))
                .unwrap();
        }
    }
    for op in ops {
        let result: Result<(), Error> = match op {
            Op::Allocate { level, extra } => {
                let request = AllocationRequest {
                    pool_id: pools[level].clone(),
                    netmask_length: Some(top.prefix_len() + extra),
                    ..Default::default()
                };
                store.allocate(&request).map(|_| ())
            }
            Op::Explicit { level, extra, slot } => {
                let len = top.prefix_len() + extra;
                let host_bits = family.width() - len;
                let offset = (u128::from(slot) << host_bits)
                    & ((1u128 << (family.width() - top.prefix_len())) - 1);
                let cidr = Block {
                    start: Block::of(&top).start | offset,
                    prefix_len: len,
                }
                .to_net(family);
                let request = AllocationRequest {
                    pool_id: pools[level].clone(),
                    cidr: Some(cidr),
                    ..Default::default()
                };
                store.allocate(&request).map(|_| ())
            }
            Op::Provision { level, extra } => store
                .provision_pool_cidr(
                    &pools[level],
                    PoolCidrRequest::NetmaskLength(top.prefix_len() + extra),
                )
                .map(|_| ()),
            Op::Release { pick } => {
                let all: Vec<_> = pools
                    .iter()
                    .flat_map(|p| store.list_allocations(p).unwrap())
                    .filter(|a| a.child_pool_cidr_id.is_none())
                    .collect();
                if all.is_empty() {
                    Ok(())
                } else {
                    store.release_allocation(&all[pick % all.len()].id)
                }
            }
            Op::Deprovision { pick } => {
                let all: Vec<_> = pools[1..]
                    .iter()
                    .flat_map(|p| store.list_pool_cidrs(p).unwrap())
                    .collect();
                if all.is_empty() {
                    Ok(())
                } else {
                    store.deprovision_pool_cidr(&all[pick % all.len()].pool_cidr.id, true)
                }
            }
        };
        if let Err(error) = result {
            assert!(
                matches!(
                    error,
                    Error::Exhausted { .. } | Error::Overlap { .. } | Error::OutsidePool { .. }
                ),
                "unexpected refusal: {error}"
            );
        }
        check(&store, &pools, family);
    }
}

fn check(store: &SqliteStore, pools: &[String], family: AddressFamily) {
    let problems = store.check_consistency().unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    // independent of the store's own check: from the public API alone
    for pool in pools {
        let cidrs = store.list_pool_cidrs(pool).unwrap();
        let allocations = store.list_allocations(pool).unwrap();
        for pair in allocations.windows(2) {
            assert!(
                !pair[0].cidr.contains(&pair[1].cidr.network()),
                "{} overlaps {}",
                pair[0].cidr,
                pair[1].cidr
            );
        }
        for allocation in &allocations {
            assert!(
                cidrs
                    .iter()
                    .any(|c| c.pool_cidr.cidr.contains(&allocation.cidr)),
                "{} outside pool {pool}",
                allocation.cidr
            );
        }
        for usage in &cidrs {
            let used: u128 = allocations
                .iter()
                .filter(|a| usage.pool_cidr.cidr.contains(&a.cidr))
                .map(|a| Block::of(&a.cidr).size(family))
                .sum();
            assert_eq!(
                usage.used_addresses, used,
                "used space of {}",
                usage.pool_cidr.cidr
            );
            assert_eq!(
                usage.used_addresses + usage.free_addresses,
                usage.total_addresses
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn ipv4_nested_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 1..40)) {
        run("10.0.0.0/16", ops);
    }

    #[test]
    fn ipv6_nested_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 1..40)) {
        run("2001:db8::/48", ops);
    }
}
