//! Nested quadrants: where an aligned block lies in the picture of the CIDR that holds it.
//!
//! A CIDR with `h` host bits is drawn as a rectangle whose width is `2^ceil(h/2)` cells and whose
//! height is `2^floor(h/2)` cells (a square when `h` is even, 2:1 when odd). Splitting it once
//! gives its two aligned halves: a square splits into top and bottom (each 2:1), a 2:1 rectangle
//! into left and right (each a square). So a block `d` levels down — index `i` among the `2^d`
//! aligned blocks of that size — is again a square or a 2:1 rectangle, and addresses run in
//! reading order at every level. `map.js` implements the same arithmetic for the page.

/// A rectangle in fractions of the tile's width and height (`0.0..=1.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// The deepest level placed exactly; deeper blocks are placed by their ancestor at this level
/// (far below a pixel in any picture).
pub const MAX_DEPTH: u8 = 104;

/// Whether the split at `level` (0 = the first split of the tile) is a left/right split, in a
/// tile of a CIDR with `host_bits` host bits.
pub fn splits_left_right(host_bits: u8, level: u8) -> bool {
    (host_bits - level) % 2 == 1
}

/// The rectangle of the block `index` (of `2^depth` aligned blocks) in the tile of a CIDR with
/// `host_bits` host bits.
///
/// ```
/// use tfipam::map::layout::{block_rect, Rect};
/// // 10.0.0.0/8 (24 host bits): 10.128.0.0/9 is the bottom half, 10.64.0.0/10 the top-right quarter
/// assert_eq!(block_rect(24, 1, 1), Rect { x: 0.0, y: 0.5, w: 1.0, h: 0.5 });
/// assert_eq!(block_rect(24, 2, 1), Rect { x: 0.5, y: 0.0, w: 0.5, h: 0.5 });
/// // 2001:db8::/33 (95 host bits, a 2:1 tile): its second /34 is the right half
/// assert_eq!(block_rect(95, 1, 1), Rect { x: 0.5, y: 0.0, w: 0.5, h: 1.0 });
/// ```
pub fn block_rect(host_bits: u8, depth: u8, index: u128) -> Rect {
    let depth = depth.min(host_bits);
    let (index, depth) = if depth > MAX_DEPTH {
        (index >> (depth - MAX_DEPTH), MAX_DEPTH)
    } else {
        (index, depth)
    };
    let (mut x, mut y, mut w, mut h) = (0.0, 0.0, 1.0, 1.0);
    for level in 0..depth {
        let bit = (index >> (depth - 1 - level)) & 1 == 1;
        if splits_left_right(host_bits, level) {
            w /= 2.0;
            if bit {
                x += w;
            }
        } else {
            h /= 2.0;
            if bit {
                y += h;
            }
        }
    }
    Rect { x, y, w, h }
}

/// The tile's shape: (width, height) in units where the shorter side is 1.
pub fn tile_aspect(host_bits: u8) -> (f64, f64) {
    if host_bits % 2 == 1 {
        (2.0, 1.0)
    } else {
        (1.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every aligned block, at every depth, is a square or a 2:1 rectangle in tile units, and the
    /// blocks of one depth tile the picture without gaps or overlaps.
    #[test]
    fn aligned_blocks_are_squares_or_two_to_one_and_tile_the_picture() {
        for host_bits in [7u8, 8, 24, 95] {
            let (tw, th) = tile_aspect(host_bits);
            for depth in 0..=6u8 {
                let mut area = 0.0;
                let mut seen = Vec::new();
                for index in 0..(1u128 << depth) {
                    let r = block_rect(host_bits, depth, index);
                    let ratio = (r.w * tw) / (r.h * th);
                    assert!(
                        ratio == 1.0 || ratio == 2.0,
                        "{host_bits} {depth} {index}: {ratio}"
                    );
                    area += r.w * r.h;
                    seen.push((r.x.to_bits(), r.y.to_bits()));
                }
                assert!((area - 1.0).abs() < 1e-12);
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(seen.len(), 1 << depth, "no two blocks at one place");
            }
        }
    }

    #[test]
    fn a_block_lies_inside_its_parent() {
        let child = block_rect(24, 9, 0b1_0110_1101);
        let parent = block_rect(24, 8, 0b1011_0110);
        assert!(child.x >= parent.x && child.x + child.w <= parent.x + parent.w);
        assert!(child.y >= parent.y && child.y + child.h <= parent.y + parent.h);
    }

    #[test]
    fn very_deep_ipv6_blocks_are_placed_by_their_ancestor() {
        let r = block_rect(128, 128, u128::MAX);
        assert!(r.x > 0.99 && r.y > 0.99 && r.w > 0.0);
    }
}
