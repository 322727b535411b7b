//! Reservations through the `Store` trait: a plan's reservation holds its space against other
//! plans, allocations and previews, is reused by the next plan of the same name, and the apply
//! turns it into the allocation; a child pool's CIDR carved by length is reserved the same way.

use super::{assert_consistent, fixture, net, refused, request, top_pool};
use crate::ipam::{Error, NetmaskRule, NewPool, PoolCidrRequest};
use crate::store::Store;

/// The lifecycle of named allocations' reservations, and of a pool CIDR's.
pub fn reservations_hold_space_until_the_apply_takes_them(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.9.0.0/24",
        NetmaskRule::default(),
    );
    let by_len = |len: u8| request(&pool, Some(len), None);

    // a plan reserves; planning again shows the same block; another name gets another block
    let a = store
        .reserve_allocation(&by_len(26), "a")
        .expect("reserve a");
    assert_eq!(a, net("10.9.0.0/26"));
    assert_eq!(store.reserve_allocation(&by_len(26), "a").unwrap(), a);
    let b = store
        .reserve_allocation(&by_len(26), "b")
        .expect("reserve b");
    assert_eq!(b, net("10.9.0.64/26"));

    // held against previews, allocations and explicit CIDRs, visible in usage and listings
    assert_eq!(
        store.preview_allocation(&by_len(26)).unwrap(),
        net("10.9.0.128/26")
    );
    refused(
        store,
        "an explicit cidr inside a reservation",
        || store.allocate(&request(&pool, None, Some("10.9.0.0/26"))),
        |e| matches!(e, Error::Overlap { with_id, .. } if with_id.contains("\"a\"")),
    );
    let reserved: Vec<_> = store
        .list_reservations(&pool)
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.cidr))
        .collect();
    assert_eq!(reserved, [("a".to_string(), a), ("b".to_string(), b)]);
    let usage = &store.list_pool_cidrs(&pool).unwrap()[0];
    assert_eq!(usage.used_addresses, 128);
    assert_eq!(
        usage.reserved_addresses, 128,
        "reservations count as reserved"
    );
    for held in store.list_reservations(&pool).unwrap() {
        assert!(!held.expired, "{held:?}");
        assert_eq!(
            held.expires_at,
            crate::store::format_millis(held.expires_at_millis)
        );
    }
    assert_consistent(store);

    // the apply takes the reservation: exactly the planned block, named
    let made = store
        .allocate_named(&by_len(26), "a", Some(a))
        .expect("allocate a");
    assert_eq!((made.cidr, made.name.as_deref()), (a, Some("a")));
    assert_eq!(store.get_allocation(&made.id).unwrap(), made);
    assert_eq!(store.list_reservations(&pool).unwrap().len(), 1);
    refused(
        store,
        "a second allocation with a live allocation's name",
        || store.allocate_named(&by_len(26), "a", None),
        |e| matches!(e, Error::NameTaken { allocation_id, .. } if *allocation_id == made.id),
    );
    // a plan of a live allocation's name is refused too (another configuration's allocation,
    // or this one's old allocation replaced with create_before_destroy), naming the holder
    refused(
        store,
        "a reservation of a live allocation's name",
        || store.reserve_allocation(&by_len(26), "a"),
        |e| matches!(e, Error::NameTaken { allocation_id, .. } if *allocation_id == made.id),
    );
    assert_eq!(store.list_reservations(&pool).unwrap().len(), 1);
    assert_consistent(store);

    // a changed length plans a new block and gives the old one back
    let b2 = store
        .reserve_allocation(&by_len(25), "b")
        .expect("reserve b /25");
    assert_eq!(b2, net("10.9.0.128/25"));
    assert_eq!(
        store.preview_allocation(&by_len(26)).unwrap(),
        net("10.9.0.64/26")
    );
    // named allocations that cannot all fit: the one that does not names the largest free block
    refused(
        store,
        "a reservation larger than the free space",
        || store.reserve_allocation(&by_len(25), "c"),
        |e| {
            matches!(e, Error::Exhausted { largest_free: Some(free), pool_id, .. }
                if *free == net("10.9.0.64/26") && *pool_id == pool)
        },
    );
    assert_consistent(store);

    // the plan of a replacement may keep the name of the allocation it replaces
    let replacement = store
        .reserve_replacement(&by_len(26), "a", &made.id)
        .expect("reserve the replacement of a");
    assert_eq!(replacement, net("10.9.0.64/26"));
    assert_eq!(
        store.list_pool_cidrs(&pool).unwrap()[0].reserved_addresses,
        64 + 128
    );
    store
        .release_allocation(&made.id)
        .expect("release the old a");
    let replaced = store
        .allocate_named(&by_len(26), "a", Some(replacement))
        .expect("the replacement of a");
    assert_eq!(replaced.cidr, replacement);
    assert_consistent(store);

    // a child pool's CIDR carved by length names itself by its pool
    let parent = top_pool(
        store,
        &f.private_scope,
        "10.10.0.0/16",
        NetmaskRule::default(),
    );
    let child = store
        .create_pool(&NewPool {
            source_pool_id: Some(parent.clone()),
            ..NewPool::new(&f.private_scope, crate::ipam::AddressFamily::Ipv4)
        })
        .expect("child pool");
    let planned = store
        .reserve_pool_cidr(&child.id, 20)
        .expect("reserve carve");
    assert_eq!(store.reserve_pool_cidr(&child.id, 20).unwrap(), planned);
    assert_ne!(
        store
            .preview_allocation(&request(&parent, Some(20), None))
            .unwrap(),
        planned
    );
    let carved = store
        .provision_pool_cidr(&child.id, PoolCidrRequest::NetmaskLength(20))
        .expect("carve");
    assert_eq!(carved.cidr, planned);
    assert!(store.list_reservations(&parent).unwrap().is_empty());
    assert_consistent(store);

    // deleting a pool drops its reservations with its space
    store.delete_pool(&pool, true).expect("delete pool");
    assert_consistent(store);
}
