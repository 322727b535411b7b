//! The allocator, written once: best fit over a buddy-style free-block index.
//!
//! Free space is a set of aligned blocks ([`Block`]) per pool. Allocating a /L takes the free
//! block with the longest prefix ≤ L (the smallest block that can hold it), lowest address among
//! equals, and splits it in halves down to /L, putting the unused halves back. Releasing puts
//! the block back and merges it with its free buddy, up to the pool CIDR it lies in. Every step
//! is a handful of ordered index look-ups, so the cost grows with log N, never with N.
//!
//! Storage is abstracted by [`FreeBlockIndex`]: [`MemoryIndex`] here, a SQLite table in the
//! store. The search ([`find_best_fit`], [`find_containing_free`]) is separate from the change
//! ([`claim`], [`release`]) so that previews run the same search and write nothing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::cidr::{host_mask, AddressFamily, Block};
use super::error::Result;

/// The free blocks of one pool, ordered two ways. Blocks never overlap.
pub trait FreeBlockIndex {
    /// Adds a free block.
    fn insert(&mut self, block: Block) -> Result<()>;
    /// Removes a free block (present).
    fn remove(&mut self, block: Block) -> Result<()>;
    /// Whether exactly this block is free.
    fn contains(&mut self, block: Block) -> Result<bool>;
    /// In best-fit order — prefix length descending, then start ascending — the first free
    /// block with `prefix_len ≤ max_len` that comes after `after` (from the start when `None`).
    fn next_best_fit(&mut self, max_len: u8, after: Option<Block>) -> Result<Option<Block>>;
    /// The lowest-addressed free block with `prefix_len ≤ max_len` and `start > after`
    /// (first fit, for comparison and for callers that want it).
    fn next_first_fit(&mut self, max_len: u8, after: Option<u128>) -> Result<Option<Block>>;
    /// The largest free block (shortest prefix), lowest address among equals.
    fn largest(&mut self) -> Result<Option<Block>>;
}

/// How to choose among free blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitStrategy {
    /// The smallest free block that can hold the request, lowest address among equals.
    BestFit,
    /// The lowest-addressed free block that can hold the request (AWS, NetBox, go-ipam).
    FirstFit,
}

/// The lowest aligned `/len` inside `free` that overlaps none of `disallowed`.
fn lowest_avoiding(
    free: Block,
    len: u8,
    family: AddressFamily,
    disallowed: &[Block],
) -> Option<Block> {
    let mask = host_mask(family, len);
    let last = free.last(family);
    let mut pos = free.start;
    loop {
        let candidate = Block {
            start: pos,
            prefix_len: len,
        };
        match disallowed.iter().find(|d| d.overlaps(&candidate, family)) {
            None => return Some(candidate),
            Some(d) => {
                // jump to the first aligned position after the disallowed range
                let after = d.last(family).checked_add(1)?;
                pos = after.checked_add(mask)? & !mask;
                if pos > last {
                    return None;
                }
            }
        }
    }
}

/// Finds where a `/len` would go: `(free block to split, target block)`, or `None` when no
/// free block can hold it outside `disallowed`. Writes nothing.
pub fn find_best_fit(
    index: &mut dyn FreeBlockIndex,
    family: AddressFamily,
    len: u8,
    disallowed: &[Block],
) -> Result<Option<(Block, Block)>> {
    find_fit(index, family, len, disallowed, FitStrategy::BestFit)
}

/// Like [`find_best_fit`] with first fit (lowest address).
pub fn find_first_fit(
    index: &mut dyn FreeBlockIndex,
    family: AddressFamily,
    len: u8,
    disallowed: &[Block],
) -> Result<Option<(Block, Block)>> {
    find_fit(index, family, len, disallowed, FitStrategy::FirstFit)
}

fn find_fit(
    index: &mut dyn FreeBlockIndex,
    family: AddressFamily,
    len: u8,
    disallowed: &[Block],
    strategy: FitStrategy,
) -> Result<Option<(Block, Block)>> {
    let mut after: Option<Block> = None;
    loop {
        let next = match strategy {
            FitStrategy::BestFit => index.next_best_fit(len, after)?,
            FitStrategy::FirstFit => index.next_first_fit(len, after.map(|b| b.start))?,
        };
        let Some(free) = next else { return Ok(None) };
        if let Some(target) = lowest_avoiding(free, len, family, disallowed) {
            return Ok(Some((free, target)));
        }
        after = Some(free);
    }
}

/// The free block that wholly contains `target`, if `target` is entirely free: free blocks are
/// aligned, so it can only be one of `target`'s enclosing blocks, one per prefix length.
pub fn find_containing_free(
    index: &mut dyn FreeBlockIndex,
    family: AddressFamily,
    target: Block,
) -> Result<Option<Block>> {
    for len in (0..=target.prefix_len).rev() {
        let candidate = Block {
            start: target.start & !host_mask(family, len),
            prefix_len: len,
        };
        if index.contains(candidate)? {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Takes `target` out of the free block `free` that contains it, returning the other halves.
pub fn claim(
    index: &mut dyn FreeBlockIndex,
    family: AddressFamily,
    free: Block,
    target: Block,
) -> Result<()> {
    debug_assert!(free.contains(&target, family));
    index.remove(free)?;
    let mut current = free;
    while current.prefix_len < target.prefix_len {
        let (low, high) = current.halves(family);
        if low.contains(&target, family) {
            index.insert(high)?;
            current = low;
        } else {
            index.insert(low)?;
            current = high;
        }
    }
    Ok(())
}

/// Returns `block` to the free space, merging it with free buddies but never into a block
/// shorter than `boundary_len` (the prefix of the pool CIDR it lies in).
pub fn release(
    index: &mut dyn FreeBlockIndex,
    family: AddressFamily,
    block: Block,
    boundary_len: u8,
) -> Result<()> {
    let mut current = block;
    while current.prefix_len > boundary_len {
        let Some(buddy) = current.buddy(family) else {
            break;
        };
        if !index.contains(buddy)? {
            break;
        }
        index.remove(buddy)?;
        current = current
            .parent(family)
            .expect("a block with a buddy has a parent");
    }
    index.insert(current)
}

/// The in-memory [`FreeBlockIndex`]: for tests, simulations and the fragmentation comparison.
#[derive(Debug, Clone, Default)]
pub struct MemoryIndex {
    by_size: BTreeSet<(Reverse<u8>, u128)>,
    by_start: BTreeMap<u128, u8>,
}

impl MemoryIndex {
    /// An empty index.
    pub fn new() -> MemoryIndex {
        MemoryIndex::default()
    }

    /// All free blocks in address order.
    pub fn blocks(&self) -> Vec<Block> {
        self.by_start
            .iter()
            .map(|(&start, &prefix_len)| Block { start, prefix_len })
            .collect()
    }

    /// The number of free blocks.
    pub fn len(&self) -> usize {
        self.by_start.len()
    }

    /// Whether nothing is free.
    pub fn is_empty(&self) -> bool {
        self.by_start.is_empty()
    }
}

impl FreeBlockIndex for MemoryIndex {
    fn insert(&mut self, block: Block) -> Result<()> {
        self.by_size
            .insert((Reverse(block.prefix_len), block.start));
        self.by_start.insert(block.start, block.prefix_len);
        Ok(())
    }

    fn remove(&mut self, block: Block) -> Result<()> {
        self.by_size
            .remove(&(Reverse(block.prefix_len), block.start));
        self.by_start.remove(&block.start);
        Ok(())
    }

    fn contains(&mut self, block: Block) -> Result<bool> {
        Ok(self.by_start.get(&block.start) == Some(&block.prefix_len))
    }

    fn next_best_fit(&mut self, max_len: u8, after: Option<Block>) -> Result<Option<Block>> {
        let from = match after {
            Some(b) => Bound::Excluded((Reverse(b.prefix_len), b.start)),
            None => Bound::Included((Reverse(max_len), 0)),
        };
        Ok(self
            .by_size
            .range((from, Bound::Unbounded))
            .next()
            .map(|&(Reverse(prefix_len), start)| Block { start, prefix_len }))
    }

    fn next_first_fit(&mut self, max_len: u8, after: Option<u128>) -> Result<Option<Block>> {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .by_start
            .range((from, Bound::Unbounded))
            .find(|(_, &len)| len <= max_len)
            .map(|(&start, &prefix_len)| Block { start, prefix_len }))
    }

    fn largest(&mut self) -> Result<Option<Block>> {
        Ok(self
            .by_size
            .iter()
            .next_back()
            .map(|&(Reverse(prefix_len), _)| prefix_len)
            .and_then(|len| {
                self.by_size
                    .range((Reverse(len), 0)..)
                    .next()
                    .map(|&(Reverse(prefix_len), start)| Block { start, prefix_len })
            }))
    }
}

/// Free space left after a churn simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentationReport {
    /// The strategy simulated.
    pub strategy: FitStrategy,
    /// Prefix length of the largest allocatable block (`None`: nothing free).
    pub largest_free_len: Option<u8>,
    /// Number of free blocks (fragments).
    pub free_fragments: usize,
    /// Allocations live at the end.
    pub live_allocations: usize,
    /// Requests that found no free block.
    pub failed_allocations: usize,
    /// Addresses in free blocks.
    pub free_addresses: u128,
    /// Addresses in live allocations.
    pub used_addresses: u128,
}

/// splitmix64: a small seeded generator, so simulations (here and in the placement benchmark)
/// are the same on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Seeded random churn in a 10.0.0.0/16 with one strategy: `steps` mixed-size allocations
/// (/20 … /28, mostly small) and releases of a random live allocation, allocating while less
/// than 80 % of the pool is used and releasing otherwise, so the pool stays nearly full, where
/// fragmentation hurts. The random draws are the same for both strategies.
pub fn churn_fragmentation(strategy: FitStrategy, seed: u64, steps: usize) -> FragmentationReport {
    let family = AddressFamily::Ipv4;
    let pool = Block {
        start: 0x0a00_0000,
        prefix_len: 16,
    };
    let mut index = MemoryIndex::new();
    index.insert(pool).expect("memory index is infallible");
    let mut rng = SplitMix64(seed);
    let mut live: Vec<Block> = Vec::new();
    let mut failed = 0;
    let mut used: u128 = 0;
    let high_water = pool.size(family) / 10 * 8;
    for _ in 0..steps {
        let allocate = used < high_water || live.is_empty();
        let len_draw = rng.below(100);
        let victim = rng.next_u64();
        if allocate {
            // mostly small blocks, some large ones
            let len = match len_draw {
                0..=4 => 20,
                5..=14 => 22,
                15..=34 => 24,
                35..=64 => 26,
                _ => 28,
            };
            let found = match strategy {
                FitStrategy::BestFit => find_best_fit(&mut index, family, len, &[]),
                FitStrategy::FirstFit => find_first_fit(&mut index, family, len, &[]),
            }
            .expect("memory index is infallible");
            match found {
                Some((free, target)) => {
                    claim(&mut index, family, free, target).expect("memory index is infallible");
                    used += target.size(family);
                    live.push(target);
                }
                None => failed += 1,
            }
        } else {
            let block = live.swap_remove((victim % live.len() as u64) as usize);
            used -= block.size(family);
            release(&mut index, family, block, pool.prefix_len)
                .expect("memory index is infallible");
        }
    }
    FragmentationReport {
        strategy,
        largest_free_len: index
            .largest()
            .expect("memory index is infallible")
            .map(|b| b.prefix_len),
        free_fragments: index.len(),
        live_allocations: live.len(),
        failed_allocations: failed,
        free_addresses: index.blocks().iter().map(|b| b.size(family)).sum(),
        used_addresses: used,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Block {
        Block::of(&text.parse().unwrap())
    }

    fn pool_index(cidr: &str) -> MemoryIndex {
        let mut index = MemoryIndex::new();
        index.insert(v4(cidr)).unwrap();
        index
    }

    fn allocate(index: &mut MemoryIndex, len: u8) -> Option<String> {
        let (free, target) = find_best_fit(index, AddressFamily::Ipv4, len, &[]).unwrap()?;
        claim(index, AddressFamily::Ipv4, free, target).unwrap();
        Some(target.to_net(AddressFamily::Ipv4).to_string())
    }

    #[test]
    fn best_fit_takes_the_smallest_hole_lowest_address_first() {
        let mut index = pool_index("10.0.0.0/16");
        assert_eq!(allocate(&mut index, 24).as_deref(), Some("10.0.0.0/24"));
        assert_eq!(allocate(&mut index, 20).as_deref(), Some("10.0.16.0/20"));
        // free: 10.0.1.0/24, 10.0.2.0/23, 10.0.4.0/22, 10.0.8.0/21, 10.0.32.0/19, …
        assert_eq!(allocate(&mut index, 23).as_deref(), Some("10.0.2.0/23"));
        assert_eq!(allocate(&mut index, 25).as_deref(), Some("10.0.1.0/25"));
        assert_eq!(allocate(&mut index, 25).as_deref(), Some("10.0.1.128/25"));
        assert_eq!(allocate(&mut index, 22).as_deref(), Some("10.0.4.0/22"));
    }

    #[test]
    fn release_merges_buddies_up_to_the_pool_cidr_only() {
        let mut index = MemoryIndex::new();
        // two adjacent pool cidrs must stay two blocks
        index.insert(v4("10.0.0.0/17")).unwrap();
        index.insert(v4("10.0.128.0/17")).unwrap();
        let (free, target) = find_best_fit(&mut index, AddressFamily::Ipv4, 28, &[])
            .unwrap()
            .unwrap();
        claim(&mut index, AddressFamily::Ipv4, free, target).unwrap();
        assert_eq!(index.len(), 1 + 11);
        release(&mut index, AddressFamily::Ipv4, target, 17).unwrap();
        assert_eq!(index.blocks(), vec![v4("10.0.0.0/17"), v4("10.0.128.0/17")]);
    }

    #[test]
    fn explicit_and_disallowed_requests_skip_taken_space() {
        let family = AddressFamily::Ipv4;
        let mut index = pool_index("10.0.0.0/16");
        let wanted = v4("10.0.64.0/20");
        let free = find_containing_free(&mut index, family, wanted)
            .unwrap()
            .unwrap();
        claim(&mut index, family, free, wanted).unwrap();
        assert_eq!(
            find_containing_free(&mut index, family, v4("10.0.64.0/24")).unwrap(),
            None
        );
        assert_eq!(
            find_containing_free(&mut index, family, v4("10.0.0.0/16")).unwrap(),
            None
        );
        let disallowed = [v4("10.0.0.0/18"), v4("10.0.80.0/20")];
        let (_, target) = find_best_fit(&mut index, family, 20, &disallowed)
            .unwrap()
            .unwrap();
        assert_eq!(target, v4("10.0.96.0/20"));
        let everything = [v4("10.0.0.0/16")];
        assert_eq!(
            find_best_fit(&mut index, family, 28, &everything).unwrap(),
            None
        );
    }

    #[test]
    fn ipv6_splits_and_merges_back() {
        let family = AddressFamily::Ipv6;
        let pool = Block::of(&"2001:db8::/32".parse().unwrap());
        let mut index = MemoryIndex::new();
        index.insert(pool).unwrap();
        let mut taken = Vec::new();
        for len in [64, 56, 48, 64] {
            let (free, target) = find_best_fit(&mut index, family, len, &[])
                .unwrap()
                .unwrap();
            claim(&mut index, family, free, target).unwrap();
            taken.push(target);
        }
        assert_eq!(taken[0].to_net(family).to_string(), "2001:db8::/64");
        assert_eq!(taken[3].to_net(family).to_string(), "2001:db8:0:1::/64");
        for block in taken {
            release(&mut index, family, block, 32).unwrap();
        }
        assert_eq!(index.blocks(), vec![pool]);
    }

    #[test]
    fn best_fit_keeps_a_large_block_whole_where_first_fit_splits_it() {
        let family = AddressFamily::Ipv4;
        for strategy in [FitStrategy::BestFit, FitStrategy::FirstFit] {
            // a free /20 at the low end, a free /24 hole above it
            let mut index = MemoryIndex::new();
            index.insert(v4("10.0.0.0/20")).unwrap();
            index.insert(v4("10.0.32.0/24")).unwrap();
            let find = |index: &mut MemoryIndex, len| match strategy {
                FitStrategy::BestFit => find_best_fit(index, family, len, &[]).unwrap(),
                FitStrategy::FirstFit => find_first_fit(index, family, len, &[]).unwrap(),
            };
            let (free, target) = find(&mut index, 24).unwrap();
            claim(&mut index, family, free, target).unwrap();
            let then_a_20 = find(&mut index, 20);
            match strategy {
                FitStrategy::BestFit => {
                    assert_eq!(target, v4("10.0.32.0/24"));
                    assert_eq!(then_a_20.map(|(_, t)| t), Some(v4("10.0.0.0/20")));
                }
                FitStrategy::FirstFit => {
                    assert_eq!(target, v4("10.0.0.0/24"));
                    assert_eq!(then_a_20, None, "first fit split the only /20");
                }
            }
        }
    }

    #[test]
    fn largest_prefers_the_lowest_address_among_equals() {
        let mut index = MemoryIndex::new();
        index.insert(v4("10.0.128.0/17")).unwrap();
        index.insert(v4("10.1.0.0/17")).unwrap();
        index.insert(v4("10.2.0.0/24")).unwrap();
        assert_eq!(index.largest().unwrap(), Some(v4("10.0.128.0/17")));
    }
}

#[cfg(test)]
mod fragmentation_tests {
    use super::*;

    /// Prints the comparison (see docs/performance.md) and checks what must hold for both
    /// strategies: the simulation conserves address space. Which strategy fragments less
    /// depends on the workload; the figures are reported, not asserted.
    #[test]
    fn seeded_churn_compares_best_fit_with_first_fit() {
        let (mut best_failed, mut first_failed) = (0, 0);
        for seed in 1..=5 {
            let best = churn_fragmentation(FitStrategy::BestFit, seed, 5_000);
            let first = churn_fragmentation(FitStrategy::FirstFit, seed, 5_000);
            println!("seed {seed}: {best:?}\n         {first:?}");
            for report in [&best, &first] {
                assert_eq!(
                    report.free_addresses + report.used_addresses,
                    1 << 16,
                    "{report:?}"
                );
                assert!(
                    report.free_fragments > 0 && report.live_allocations > 0,
                    "{report:?}"
                );
            }
            best_failed += best.failed_allocations;
            first_failed += first.failed_allocations;
        }
        println!("refused requests: best fit {best_failed}, first fit {first_failed}");
    }
}
