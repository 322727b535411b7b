//! The operator's reads (the `ipam` command): the inventory, free blocks, allocations
//! overlapping a CIDR, audit queries and the storage check agree with the rest of the store.

use ipnet::IpNet;

use super::{assert_consistent, fixture, net, refused, request, top_pool};
use crate::ipam::{AddressFamily, AuditFilter, Block, Error, NetmaskRule, ObjectKind};
use crate::store::Store;

/// The operator's reads (inventory, free blocks, allocations overlapping a CIDR, audit
/// queries, the storage check) agree with the lists the provider reads, in both families.
pub fn operator_reads_agree_with_the_rest(store: &dyn Store) {
    let f = fixture(store);
    for (parent, a, b, inside_query, other_family) in [
        (
            "10.0.0.0/16",
            "10.0.0.0/24",
            "10.0.4.0/22",
            "10.0.0.0/21",
            "fd00::/64",
        ),
        (
            "fd00::/48",
            "fd00::/56",
            "fd00:0:0:400::/54",
            "fd00::/53",
            "10.0.0.0/24",
        ),
    ] {
        let pool = top_pool(store, &f.private_scope, parent, NetmaskRule::default());
        let first = store.allocate(&request(&pool, None, Some(a))).expect("a");
        let second = store.allocate(&request(&pool, None, Some(b))).expect("b");
        let family = AddressFamily::of(&net(parent));

        // inventory: the same figures as list_pool_cidrs, counts as list_allocations
        let inventory = store.inventory().expect("inventory");
        assert!(inventory.ipams.iter().any(|i| i.id == f.ipam_id));
        assert!(inventory.scopes.iter().any(|s| s.id == f.private_scope));
        let entry = inventory
            .pools
            .iter()
            .find(|p| p.pool.id == pool)
            .expect("the pool is in the inventory");
        assert_eq!(entry.pool, store.get_pool(&pool).unwrap());
        let usages: Vec<_> = entry.cidrs.iter().map(|c| c.usage.clone()).collect();
        assert_eq!(usages, store.list_pool_cidrs(&pool).unwrap());
        assert_eq!(entry.cidrs[0].allocation_count, 2);

        // free blocks: aligned, in address order, disjoint from the allocations, summing to free
        let free = store.free_blocks(&pool).expect("free blocks");
        let starts: Vec<u128> = free.iter().map(|b| Block::of(b).start).collect();
        assert!(
            starts.windows(2).all(|w| w[0] < w[1]),
            "address order: {free:?}"
        );
        assert!(free
            .iter()
            .all(|b| !b.contains(&first.cidr) && !b.contains(&second.cidr)));
        let total: u128 = free.iter().map(|b| Block::of(b).size(family)).sum();
        assert_eq!(total, usages[0].free_addresses);

        // allocations overlapping: the holder of a part, those inside a larger CIDR
        let holder = store
            .allocations_overlapping(
                &pool,
                first.cidr.hosts().next().map_or(first.cidr, IpNet::from),
                10,
            )
            .expect("overlapping an address");
        assert_eq!(holder, vec![first.clone()]);
        let inside = store
            .allocations_overlapping(&pool, net(inside_query), 10)
            .expect("overlapping a cidr");
        assert_eq!(inside, vec![first.clone(), second.clone()]);
        assert_eq!(
            store
                .allocations_overlapping(&pool, net(inside_query), 1)
                .unwrap(),
            vec![first.clone()],
            "at most limit"
        );
        assert!(store
            .allocations_overlapping(&pool, net(other_family), 10)
            .unwrap()
            .is_empty());
        refused(
            store,
            "overlapping in an unknown pool",
            || store.allocations_overlapping("ipam-pool-0000000000000000", net(parent), 10),
            |e| {
                matches!(
                    e,
                    Error::NotFound {
                        kind: ObjectKind::Pool,
                        ..
                    }
                )
            },
        );
        store.release_allocation(&second.id).expect("release");

        // audit queries: filters, newest `limit`, oldest first
        let about_pool = store
            .audit_query(&AuditFilter {
                pool_id: Some(pool.clone()),
                ..AuditFilter::default()
            })
            .expect("pool events");
        let actions: Vec<&str> = about_pool.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "create_pool",
                "provision",
                "allocate",
                "allocate",
                "release"
            ]
        );
        let last = store
            .audit_query(&AuditFilter {
                pool_id: Some(pool.clone()),
                limit: 2,
                ..AuditFilter::default()
            })
            .unwrap();
        assert_eq!(last, about_pool[3..].to_vec());
        let released = store
            .audit_query(&AuditFilter {
                object_id: Some(second.id.clone()),
                action: Some("release".into()),
                ..AuditFilter::default()
            })
            .unwrap();
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].cidr, Some(second.cidr));
        let everything = store.audit_events(0, usize::MAX).unwrap();
        let newest = everything.last().unwrap();
        let after = store
            .audit_query(&AuditFilter {
                after_sequence: newest.sequence - 1,
                actor: Some(newest.actor.clone()),
                ..AuditFilter::default()
            })
            .unwrap();
        assert_eq!(after, vec![newest.clone()]);
        let future = store
            .audit_query(&AuditFilter {
                since_millis: Some(i64::MAX / 2),
                ..AuditFilter::default()
            })
            .unwrap();
        assert!(future.is_empty());
        let nobody = store
            .audit_query(&AuditFilter {
                actor: Some("nobody at all".into()),
                ..AuditFilter::default()
            })
            .unwrap();
        assert!(nobody.is_empty());
    }
    assert_eq!(
        store.check_storage().expect("storage check"),
        Vec::<String>::new()
    );
    assert_consistent(store);
}
