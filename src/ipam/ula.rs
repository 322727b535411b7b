//! RFC 4193 unique local IPv6 prefixes: `fd00::/8` followed by a 40-bit Global ID, a /48.
//!
//! RFC 4193 (section 3.2.2) derives the Global ID from an SHA-1 digest and keeps its least
//! significant 40 bits; [`global_id_from_seed`] does the same over a seed string chosen by the
//! user, so one seed always names one prefix.

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;
use sha1::{Digest, Sha1};

/// The number of bits in a Global ID.
pub const GLOBAL_ID_BITS: u32 = 40;

/// The /48 `fdXX:XXXX:XXXX::/48` of a Global ID (only its low 40 bits are used).
///
/// ```
/// use tfipam::ipam::ula;
/// assert_eq!(ula::prefix(0x12_3456_789a).to_string(), "fd12:3456:789a::/48");
/// ```
pub fn prefix(global_id: u64) -> Ipv6Net {
    let global_id = u128::from(global_id & ((1 << GLOBAL_ID_BITS) - 1));
    let address = (0xfd_u128 << 120) | (global_id << 80);
    Ipv6Net::new(Ipv6Addr::from(address), 48).expect("48 is a valid IPv6 prefix length")
}

/// The least significant 40 bits of the SHA-1 digest of the seed's UTF-8 bytes.
pub fn global_id_from_seed(seed: &str) -> u64 {
    let digest = Sha1::digest(seed.as_bytes());
    digest[digest.len() - 5..]
        .iter()
        .fold(0u64, |id, &byte| (id << 8) | u64::from(byte))
}

/// The deterministic RFC 4193 /48 of a seed string.
///
/// ```
/// use tfipam::ipam::ula;
/// // SHA-1("production") ends in 1a d7 3d 3c
/// assert_eq!(ula::prefix_from_seed("production").to_string(), "fd08:1ad7:3d3c::/48");
/// ```
pub fn prefix_from_seed(seed: &str) -> Ipv6Net {
    prefix(global_id_from_seed(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_give_known_prefixes() {
        // digests from an independent SHA-1 implementation
        for (seed, expected) in [
            ("production", "fd08:1ad7:3d3c::/48"),
            ("example", "fdcb:6f8a:3f8f::/48"),
            ("a", "fdea:3776:67b8::/48"),
            ("", "fd90:afd8:709::/48"),
        ] {
            assert_eq!(prefix_from_seed(seed).to_string(), expected, "{seed:?}");
        }
    }

    #[test]
    fn every_prefix_is_a_unique_local_48() {
        let unique_local: Ipv6Net = "fd00::/8".parse().unwrap();
        for seed in ["a", "b", "ünïcødé", "a much longer seed with spaces"] {
            let net = prefix_from_seed(seed);
            assert_eq!(net.prefix_len(), 48);
            assert!(unique_local.contains(&net), "{net}");
            assert_eq!(net, net.trunc(), "no host bits");
        }
        assert_ne!(prefix_from_seed("a"), prefix_from_seed("b"));
        assert_eq!(prefix(u64::MAX).to_string(), "fdff:ffff:ffff::/48");
        assert_eq!(prefix(0).to_string(), "fd00::/48");
    }
}
