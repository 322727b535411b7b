//! Property tests of the allocator core on the in-memory index: any sequence of best-fit,
//! explicit and disallowed-range allocations and releases keeps free space and allocations
//! disjoint, inside the pool CIDRs, and adding up to the provisioned space.

use proptest::prelude::*;
use tfipam::ipam::{
    claim, find_best_fit, find_containing_free, release, AddressFamily, Block, FreeBlockIndex,
    MemoryIndex,
};

#[derive(Debug, Clone)]
enum Op {
    Next { len: u8, disallow: Option<(u8, u8)> },
    Explicit { offset: u32, len: u8 },
    Release { pick: usize },
}

fn ops(width_offset: u8) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (17u8..=28, proptest::option::of((0u8..=255, 18u8..=24))).prop_map(move |(len, disallow)| Op::Next { len: len + width_offset, disallow }),
        2 => (any::<u32>(), 18u8..=28).prop_map(move |(offset, len)| Op::Explicit { offset, len: len + width_offset }),
        3 => any::<usize>().prop_map(|pick| Op::Release { pick }),
    ];
    proptest::collection::vec(op, 1..120)
}

/// Two adjacent /17s provisioned separately (so merging must stop at each), as in a pool.
fn run(family: AddressFamily, base: u128, width_offset: u8, ops: Vec<Op>) {
    let pool_cidrs = [
        Block {
            start: base,
            prefix_len: 17 + width_offset,
        },
        Block {
            start: base | (1u128 << (family.width() - 17 - width_offset)),
            prefix_len: 17 + width_offset,
        },
    ];
    let mut index = MemoryIndex::new();
    for cidr in pool_cidrs {
        index.insert(cidr).unwrap();
    }
    let mut live: Vec<Block> = Vec::new();
    let host_bits = |len: u8| family.width() - len;
    for op in ops {
        match op {
            Op::Next { len, disallow } => {
                let disallowed: Vec<Block> = disallow
                    .map(|(slot, dlen)| {
                        let dlen = dlen + width_offset;
                        let span = 1u128 << host_bits(16 + width_offset);
                        vec![Block {
                            start: base | (((slot as u128) << host_bits(dlen)) & (span - 1)),
                            prefix_len: dlen,
                        }]
                    })
                    .unwrap_or_default();
                if let Some((free, target)) =
                    find_best_fit(&mut index, family, len, &disallowed).unwrap()
                {
                    assert!(
                        disallowed.iter().all(|d| !d.overlaps(&target, family)),
                        "handed out a disallowed range"
                    );
                    assert!(free.contains(&target, family));
                    claim(&mut index, family, free, target).unwrap();
                    live.push(target);
                } else {
                    // nothing free of that size outside the disallowed range: check by brute force on free blocks
                    for block in index.blocks() {
                        if block.prefix_len <= len {
                            assert!(
                                !disallowed.is_empty(),
                                "best fit missed free block {block:?} for /{len}"
                            );
                        }
                    }
                }
            }
            Op::Explicit { offset, len } => {
                // an aligned block somewhere in the /16 that holds both pool cidrs
                let span = 1u128 << host_bits(16 + width_offset);
                let target = Block {
                    start: base | (((offset as u128) << host_bits(len)) & (span - 1)),
                    prefix_len: len,
                };
                let taken = live.iter().any(|b| b.overlaps(&target, family));
                match find_containing_free(&mut index, family, target).unwrap() {
                    Some(free) => {
                        assert!(
                            !taken,
                            "explicit {target:?} reported free but overlaps a live allocation"
                        );
                        claim(&mut index, family, free, target).unwrap();
                        live.push(target);
                    }
                    None => assert!(
                        taken,
                        "explicit {target:?} refused although nothing holds it"
                    ),
                }
            }
            Op::Release { pick } => {
                if !live.is_empty() {
                    let block = live.swap_remove(pick % live.len());
                    let boundary = pool_cidrs
                        .iter()
                        .find(|c| c.contains(&block, family))
                        .unwrap()
                        .prefix_len;
                    release(&mut index, family, block, boundary).unwrap();
                }
            }
        }
        check(family, &pool_cidrs, &index, &live);
    }
    for block in live.drain(..) {
        let boundary = pool_cidrs
            .iter()
            .find(|c| c.contains(&block, family))
            .unwrap()
            .prefix_len;
        release(&mut index, family, block, boundary).unwrap();
    }
    assert_eq!(
        index.blocks(),
        pool_cidrs.to_vec(),
        "releasing everything must merge back to the pool cidrs"
    );
}

fn check(family: AddressFamily, pool_cidrs: &[Block], index: &MemoryIndex, live: &[Block]) {
    let mut pieces: Vec<Block> = index.blocks();
    pieces.extend_from_slice(live);
    pieces.sort();
    for pair in pieces.windows(2) {
        assert!(
            !pair[0].overlaps(&pair[1], family),
            "{:?} overlaps {:?}",
            pair[0],
            pair[1]
        );
    }
    for piece in &pieces {
        assert!(
            pool_cidrs.iter().any(|c| c.contains(piece, family)),
            "{piece:?} outside the pool"
        );
        assert_eq!(
            piece.start & (piece.size(family) - 1),
            0,
            "{piece:?} is not aligned"
        );
    }
    let total: u128 = pieces.iter().map(|b| b.size(family)).sum();
    assert_eq!(
        total,
        pool_cidrs.iter().map(|b| b.size(family)).sum::<u128>(),
        "free + used != provisioned"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn ipv4_sequences_keep_every_invariant(ops in ops(0)) {
        run(AddressFamily::Ipv4, 0x0a00_0000, 0, ops);
    }

    #[test]
    fn ipv6_sequences_keep_every_invariant(ops in ops(32)) {
        run(AddressFamily::Ipv6, 0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, ops);
    }
}
