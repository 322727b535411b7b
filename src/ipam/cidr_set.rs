//! Set arithmetic on CIDRs of one family: merge (aggregate), subtract, overlapping pairs, and the
//! free space the allocator would see in a parent CIDR once a list of blocks is taken.
//!
//! A list of CIDRs is turned into sorted, disjoint inclusive address ranges; results are turned
//! back into the fewest aligned blocks that cover exactly those ranges, in address order. That
//! form is unique, so two lists covering the same addresses give the same answer.

use super::allocator::{FreeBlockIndex, MemoryIndex};
use super::cidr::{host_mask, AddressFamily, Block};

/// An inclusive address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    first: u128,
    last: u128,
}

/// The addresses of `blocks` as sorted, disjoint, non-adjacent ranges.
fn ranges(family: AddressFamily, blocks: &[Block]) -> Vec<Range> {
    let mut sorted: Vec<Range> = blocks
        .iter()
        .map(|b| Range {
            first: b.start,
            last: b.last(family),
        })
        .collect();
    sorted.sort_by_key(|r| r.first);
    let mut merged: Vec<Range> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            // overlapping or adjacent: extend (saturating: nothing follows the last address)
            Some(open) if range.first <= open.last.saturating_add(1) => {
                open.last = open.last.max(range.last);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// The fewest aligned blocks covering exactly `ranges`, in address order.
fn blocks_of(family: AddressFamily, ranges: &[Range]) -> Vec<Block> {
    let mut out = Vec::new();
    for range in ranges {
        let mut first = range.first;
        loop {
            // the largest block that starts at `first` (its alignment) and ends by `range.last`
            let aligned_bits = first.trailing_zeros().min(u32::from(family.width())) as u8;
            let mut len = family.width() - aligned_bits;
            while first | host_mask(family, len) > range.last {
                len += 1;
            }
            let block = Block {
                start: first,
                prefix_len: len,
            };
            out.push(block);
            let last = block.last(family);
            if last >= range.last {
                break;
            }
            first = last + 1;
        }
    }
    out
}

/// The shortest list of CIDRs covering exactly the addresses of `blocks` (duplicates, nested and
/// adjacent blocks folded together), in address order.
///
/// ```
/// use tfipam::ipam::{cidr_set, AddressFamily, Block};
/// let blocks = |texts: &[&str]| -> Vec<Block> {
///     texts.iter().map(|t| Block::of(&t.parse().unwrap())).collect()
/// };
/// let text = |family, blocks: Vec<Block>| -> Vec<String> {
///     blocks.iter().map(|b| b.to_net(family).to_string()).collect()
/// };
/// let v4 = AddressFamily::Ipv4;
/// let merged = cidr_set::merge(v4, &blocks(&["10.0.1.0/24", "10.0.0.0/24", "10.0.0.128/25"]));
/// assert_eq!(text(v4, merged), ["10.0.0.0/23"]);
/// let v6 = AddressFamily::Ipv6;
/// let merged = cidr_set::merge(v6, &blocks(&["2001:db8::/33", "2001:db8:8000::/33", "2001:db9::/48"]));
/// assert_eq!(text(v6, merged), ["2001:db8::/32", "2001:db9::/48"]);
/// ```
pub fn merge(family: AddressFamily, blocks: &[Block]) -> Vec<Block> {
    blocks_of(family, &ranges(family, blocks))
}

/// The addresses of `from` that are in none of `remove`, as the fewest CIDRs in address order.
/// Blocks of `remove` outside `from` change nothing.
///
/// ```
/// use tfipam::ipam::{cidr_set, AddressFamily, Block};
/// let block = |t: &str| Block::of(&t.parse().unwrap());
/// let v4 = AddressFamily::Ipv4;
/// let left = cidr_set::subtract(v4, &[block("10.0.0.0/24")], &[block("10.0.0.64/26")]);
/// let left: Vec<String> = left.iter().map(|b| b.to_net(v4).to_string()).collect();
/// assert_eq!(left, ["10.0.0.0/26", "10.0.0.128/25"]);
/// ```
pub fn subtract(family: AddressFamily, from: &[Block], remove: &[Block]) -> Vec<Block> {
    let removed = ranges(family, remove);
    let mut left = Vec::new();
    let mut skip = 0;
    for range in ranges(family, from) {
        // removals ending before this range cannot touch any later one either
        while skip < removed.len() && removed[skip].last < range.first {
            skip += 1;
        }
        let mut next = Some(range.first);
        for cut in removed[skip..]
            .iter()
            .take_while(|cut| cut.first <= range.last)
        {
            let Some(first) = next else { break };
            if cut.first > first {
                left.push(Range {
                    first,
                    last: cut.first - 1,
                });
            }
            next = cut.last.checked_add(1).filter(|&after| after <= range.last);
        }
        if let Some(first) = next {
            left.push(Range {
                first,
                last: range.last,
            });
        }
    }
    blocks_of(family, &left)
}

/// Every pair of positions `(i, j)`, `i < j`, whose blocks share an address (duplicates
/// included), sorted. CIDRs are either nested or disjoint, so one sweep in address order with a
/// stack of the blocks still open finds them all.
pub fn overlapping_pairs(family: AddressFamily, blocks: &[Block]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    // by start, the larger (containing) block first, then by position
    order.sort_by_key(|&i| (blocks[i].start, blocks[i].prefix_len, i));
    let mut open: Vec<usize> = Vec::new();
    let mut pairs = Vec::new();
    for i in order {
        let block = blocks[i];
        while open
            .last()
            .is_some_and(|&top| blocks[top].last(family) < block.start)
        {
            open.pop();
        }
        // the open blocks are nested around each other and all contain `block`
        pairs.extend(open.iter().map(|&j| (j.min(i), j.max(i))));
        open.push(i);
    }
    pairs.sort_unstable();
    pairs
}

/// The allocator's free-block index for `parent` once `used` is taken: the same blocks a pool
/// with that single CIDR holds after those allocations, because a buddy index never keeps two
/// free buddies apart and so always holds the fewest aligned free blocks. Give it to
/// [`super::allocator::find_best_fit`] to see where the allocator would put the next block.
pub fn free_space_index(family: AddressFamily, parent: Block, used: &[Block]) -> MemoryIndex {
    let mut index = MemoryIndex::new();
    for block in subtract(family, &[parent], used) {
        index
            .insert(block)
            .expect("the in-memory index does not fail");
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::allocator::{claim, find_best_fit, release};
    use proptest::prelude::*;

    const V4: AddressFamily = AddressFamily::Ipv4;
    const V6: AddressFamily = AddressFamily::Ipv6;

    fn blocks(texts: &[&str]) -> Vec<Block> {
        texts
            .iter()
            .map(|t| Block::of(&t.parse().unwrap()))
            .collect()
    }

    fn texts(family: AddressFamily, blocks: &[Block]) -> Vec<String> {
        blocks
            .iter()
            .map(|b| b.to_net(family).to_string())
            .collect()
    }

    #[test]
    fn merge_folds_duplicates_nesting_and_buddies() {
        let merged = merge(
            V4,
            &blocks(&[
                "10.0.0.0/25",
                "10.0.0.128/25",
                "10.0.0.0/24",
                "10.0.1.0/24",
                "10.0.1.0/24",
                "10.0.3.0/24",
                "192.168.0.0/16",
            ]),
        );
        assert_eq!(
            texts(V4, &merged),
            ["10.0.0.0/23", "10.0.3.0/24", "192.168.0.0/16"]
        );
        // adjacent but not aligned: two blocks stay two
        assert_eq!(
            texts(V4, &merge(V4, &blocks(&["10.0.1.0/24", "10.0.2.0/24"]))),
            ["10.0.1.0/24", "10.0.2.0/24"]
        );
        assert!(merge(V4, &[]).is_empty());
    }

    #[test]
    fn the_whole_space_and_single_addresses_in_both_families() {
        assert_eq!(
            texts(V4, &merge(V4, &blocks(&["0.0.0.0/1", "128.0.0.0/1"]))),
            ["0.0.0.0/0"]
        );
        assert_eq!(
            texts(V6, &merge(V6, &blocks(&["::/0", "ff00::/8", "::1/128"]))),
            ["::/0"]
        );
        assert_eq!(
            texts(
                V4,
                &subtract(V4, &blocks(&["0.0.0.0/0"]), &blocks(&["0.0.0.0/0"]))
            ),
            Vec::<String>::new()
        );
        let left = subtract(V6, &blocks(&["::/0"]), &blocks(&["::/1"]));
        assert_eq!(texts(V6, &left), ["8000::/1"]);
        let left = subtract(
            V6,
            &blocks(&["2001:db8::/126"]),
            &blocks(&["2001:db8::1/128"]),
        );
        assert_eq!(texts(V6, &left), ["2001:db8::/128", "2001:db8::2/127"]);
        // the very last address of each family
        let left = subtract(
            V4,
            &blocks(&["255.255.255.252/30"]),
            &blocks(&["255.255.255.255/32"]),
        );
        assert_eq!(
            texts(V4, &left),
            ["255.255.255.252/31", "255.255.255.254/32"]
        );
        let left = subtract(
            V6,
            &blocks(&["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"]),
            &blocks(&["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"]),
        );
        assert_eq!(
            texts(V6, &left),
            ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128"]
        );
    }

    #[test]
    fn subtract_ignores_removals_outside_and_handles_straddling_ones() {
        let left = subtract(
            V4,
            &blocks(&["10.0.0.0/16"]),
            &blocks(&["9.0.0.0/8", "10.0.0.0/24", "10.0.128.0/17", "11.0.0.0/8"]),
        );
        assert_eq!(
            texts(V4, &left),
            [
                "10.0.1.0/24",
                "10.0.2.0/23",
                "10.0.4.0/22",
                "10.0.8.0/21",
                "10.0.16.0/20",
                "10.0.32.0/19",
                "10.0.64.0/18"
            ]
        );
        // a removal containing the whole source leaves nothing
        assert!(subtract(V4, &blocks(&["10.0.0.0/16"]), &blocks(&["10.0.0.0/8"])).is_empty());
        assert_eq!(
            texts(V4, &subtract(V4, &blocks(&["10.0.0.0/16"]), &[])),
            ["10.0.0.0/16"]
        );
    }

    #[test]
    fn overlapping_pairs_name_positions_in_input_order() {
        let list = blocks(&[
            "10.1.0.0/24",
            "10.0.0.0/8",
            "192.168.0.0/16",
            "10.1.0.0/24",
            "10.2.0.0/16",
        ]);
        assert_eq!(
            overlapping_pairs(V4, &list),
            vec![(0, 1), (0, 3), (1, 3), (1, 4)]
        );
        assert!(
            overlapping_pairs(V6, &blocks(&["2001:db8::/33", "2001:db8:8000::/33"])).is_empty()
        );
        assert_eq!(
            overlapping_pairs(V6, &blocks(&["::/0", "2001:db8::1/128"])),
            vec![(0, 1)]
        );
    }

    #[test]
    fn free_space_index_is_what_the_allocator_built() {
        // allocate through the allocator, then rebuild from the list of what was taken
        let pool = Block::of(&"10.0.0.0/16".parse().unwrap());
        let mut index = MemoryIndex::new();
        index.insert(pool).unwrap();
        let mut taken = Vec::new();
        for len in [24, 20, 23, 25, 28, 22] {
            let (free, target) = find_best_fit(&mut index, V4, len, &[]).unwrap().unwrap();
            claim(&mut index, V4, free, target).unwrap();
            taken.push(target);
        }
        assert_eq!(free_space_index(V4, pool, &taken).blocks(), index.blocks());
    }

    /// Random blocks of one family inside a /`base_len` at `base`, up to 10 bits longer.
    fn random_blocks(
        family: AddressFamily,
        base: u128,
        base_len: u8,
    ) -> impl Strategy<Value = Vec<Block>> {
        let host_bits = family.width() - base_len;
        let longest = (base_len + 10).min(family.width());
        proptest::collection::vec((any::<u128>(), base_len..=longest), 0..24).prop_map(
            move |picks| {
                picks
                    .into_iter()
                    .map(|(offset, len)| {
                        let offset = if host_bits == 128 {
                            offset
                        } else {
                            offset & ((1u128 << host_bits) - 1)
                        };
                        Block {
                            start: (base | offset) & !host_mask(family, len),
                            prefix_len: len,
                        }
                    })
                    .collect()
            },
        )
    }

    /// Whether an address lies in any block (brute force, the definition).
    fn covered(family: AddressFamily, blocks: &[Block], address: u128) -> bool {
        blocks
            .iter()
            .any(|b| b.start <= address && address <= b.last(family))
    }

    /// Addresses worth probing: every block's edges and their neighbours. Whether an address is
    /// covered changes only at a block's first address or just after its last, so checking
    /// these checks every address.
    fn probes(family: AddressFamily, lists: &[&[Block]]) -> Vec<u128> {
        let mut out = Vec::new();
        for list in lists {
            for b in list.iter() {
                let last = b.last(family);
                out.extend([b.start, last, b.start.wrapping_sub(1), last.wrapping_add(1)]);
            }
        }
        let max = host_mask(family, 0);
        out.retain(|&a| a <= max);
        out
    }

    fn check_merge(family: AddressFamily, input: &[Block]) {
        let merged = merge(family, input);
        for a in probes(family, &[input, &merged]) {
            assert_eq!(
                covered(family, input, a),
                covered(family, &merged, a),
                "{a:#x}"
            );
        }
        for pair in merged.windows(2) {
            // in address order, disjoint, and never two that could be one
            assert!(pair[0].last(family) < pair[1].start);
            assert!(
                pair[0].buddy(family) != Some(pair[1]),
                "{pair:?} are buddies and should have merged"
            );
        }
        // minimal: every block is as large as it can be, its enclosing block is not covered
        for block in &merged {
            if let Some(parent) = block.parent(family) {
                assert!(
                    !fully_covered(family, input, parent),
                    "{block:?} could be {parent:?}"
                );
            }
        }
    }

    /// Whether `blocks` cover all of `target`, counted without the code under test: CIDRs nest
    /// or are disjoint, so the outermost blocks inside `target` must add up to its size.
    fn fully_covered(family: AddressFamily, blocks: &[Block], target: Block) -> bool {
        if blocks.iter().any(|b| b.contains(&target, family)) {
            return true;
        }
        let inside: Vec<&Block> = blocks
            .iter()
            .filter(|b| target.contains(b, family))
            .collect();
        let mut outermost: Vec<&Block> = inside
            .iter()
            .copied()
            .filter(|b| {
                !inside
                    .iter()
                    .any(|o| o.prefix_len < b.prefix_len && o.contains(b, family))
            })
            .collect();
        outermost.sort();
        outermost.dedup();
        outermost.iter().map(|b| b.size(family)).sum::<u128>() == target.size(family)
    }

    fn check_subtract(family: AddressFamily, from: &[Block], remove: &[Block]) {
        let left = subtract(family, from, remove);
        for a in probes(family, &[from, remove, &left]) {
            let expected = covered(family, from, a) && !covered(family, remove, a);
            assert_eq!(covered(family, &left, a), expected, "{a:#x}");
        }
        for block in &left {
            assert!(remove.iter().all(|r| !r.overlaps(block, family)));
        }
        assert_eq!(merge(family, &left), left, "already minimal and sorted");
    }

    fn check_pairs(family: AddressFamily, blocks: &[Block]) {
        let mut naive = Vec::new();
        for i in 0..blocks.len() {
            for j in i + 1..blocks.len() {
                if blocks[i].overlaps(&blocks[j], family) {
                    naive.push((i, j));
                }
            }
        }
        assert_eq!(overlapping_pairs(family, blocks), naive);
    }

    proptest! {
        #[test]
        fn ipv4_merge_covers_the_same_addresses_minimally(input in random_blocks(V4, 0x0a00_0000, 20)) {
            check_merge(V4, &input);
        }

        #[test]
        fn ipv6_merge_covers_the_same_addresses_minimally(input in random_blocks(V6, 0x2001_0db8 << 96, 52)) {
            check_merge(V6, &input);
        }

        #[test]
        fn ipv4_subtract_leaves_exactly_the_rest(
            from in random_blocks(V4, 0x0a00_0000, 20),
            remove in random_blocks(V4, 0x0a00_0000, 21),
        ) {
            check_subtract(V4, &from, &remove);
        }

        #[test]
        fn ipv6_subtract_leaves_exactly_the_rest(
            from in random_blocks(V6, 0, 0),
            remove in random_blocks(V6, 0, 1),
        ) {
            check_subtract(V6, &from, &remove);
        }

        #[test]
        fn overlapping_pairs_match_the_pairwise_check(
            v4 in random_blocks(V4, 0x0a00_0000, 24),
            v6 in random_blocks(V6, 0xfd00 << 112, 120),
        ) {
            check_pairs(V4, &v4);
            check_pairs(V6, &v6);
        }

        /// Random best-fit allocations and releases through the allocator, as a store makes them:
        /// the index rebuilt from the live list is the same, so the next block is the same.
        #[test]
        fn free_space_index_matches_the_allocator_after_churn(
            steps in proptest::collection::vec((any::<bool>(), 18u8..=28, any::<usize>()), 1..80),
        ) {
            for (family, pool) in [
                (V4, Block { start: 0x0a00_0000, prefix_len: 16 }),
                (V6, Block { start: 0x2001_0db8 << 96, prefix_len: 112 }),
            ] {
                let shift = pool.prefix_len - 16;
                let mut index = MemoryIndex::new();
                index.insert(pool).unwrap();
                let mut live: Vec<Block> = Vec::new();
                for &(allocate, len, pick) in &steps {
                    if allocate || live.is_empty() {
                        if let Some((free, target)) = find_best_fit(&mut index, family, len + shift, &[]).unwrap() {
                            claim(&mut index, family, free, target).unwrap();
                            live.push(target);
                        }
                    } else {
                        let block = live.swap_remove(pick % live.len());
                        release(&mut index, family, block, pool.prefix_len).unwrap();
                    }
                }
                let mut rebuilt = free_space_index(family, pool, &live);
                prop_assert_eq!(rebuilt.blocks(), index.blocks());
                for len in pool.prefix_len..=pool.prefix_len + 16 {
                    prop_assert_eq!(
                        find_best_fit(&mut rebuilt, family, len, &[]).unwrap(),
                        find_best_fit(&mut index, family, len, &[]).unwrap()
                    );
                }
            }
        }
    }
}
