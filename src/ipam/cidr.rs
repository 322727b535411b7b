//! CIDR rules: parsing with the host-bits check, families, private-use ranges, and [`Block`],
//! the integer form of an aligned CIDR the allocator computes with.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::error::{Error, Result};

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressFamily {
    /// 32-bit addresses.
    Ipv4,
    /// 128-bit addresses.
    Ipv6,
}

impl AddressFamily {
    /// The family of a CIDR.
    pub fn of(net: &IpNet) -> AddressFamily {
        match net {
            IpNet::V4(_) => AddressFamily::Ipv4,
            IpNet::V6(_) => AddressFamily::Ipv6,
        }
    }

    /// Address width in bits: the longest prefix length.
    pub fn width(self) -> u8 {
        match self {
            AddressFamily::Ipv4 => 32,
            AddressFamily::Ipv6 => 128,
        }
    }

    /// The name used in Terraform configurations: `ipv4` or `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressFamily::Ipv4 => "ipv4",
            AddressFamily::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AddressFamily {
    type Err = Error;
    fn from_str(s: &str) -> Result<AddressFamily> {
        match s {
            "ipv4" => Ok(AddressFamily::Ipv4),
            "ipv6" => Ok(AddressFamily::Ipv6),
            other => Err(Error::InvalidArgument {
                input: "address_family",
                message: format!("{other:?} is not an address family; use \"ipv4\" or \"ipv6\""),
            }),
        }
    }
}

/// Parses a CIDR written in its one unambiguous form, refusing host bits set (`10.1.1.1/24`
/// names `10.1.1.0/24` in the error).
///
/// Refused with the canonical form in the error: spaces around the text, IPv4 octets or prefix
/// lengths with leading zeros (`010.002.000.000/24`; some tools read a leading zero as octal, so
/// `010` may mean 8 or 10). Not a CIDR at all (`banana`), a missing prefix length and a prefix
/// longer than the family's addresses each get their own explanation. IPv6 letters may be upper
/// or lower case (the same network, no ambiguity). `input` names the request field for the error.
///
/// ```
/// use tfipam::ipam::{parse_cidr, Error};
/// assert_eq!(parse_cidr("10.1.0.0/16", "cidr").unwrap().to_string(), "10.1.0.0/16");
/// assert_eq!(parse_cidr("2001:db8::/48", "cidr").unwrap().to_string(), "2001:db8::/48");
/// match parse_cidr("10.1.1.1/24", "cidr") {
///     Err(Error::HostBitsSet { network, .. }) => assert_eq!(network.to_string(), "10.1.1.0/24"),
///     other => panic!("{other:?}"),
/// }
/// match parse_cidr("010.002.000.000/24", "cidr") {
///     Err(Error::AmbiguousCidr { canonical, .. }) => assert_eq!(canonical, "10.2.0.0/24"),
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn parse_cidr(text: &str, input: &'static str) -> Result<IpNet> {
    let invalid = |reason: String| Error::InvalidCidr {
        input,
        given: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    let Some((address, length)) = trimmed.split_once('/') else {
        return Err(invalid(match trimmed.parse::<IpAddr>() {
            Ok(addr) => format!(
                "the prefix length is missing; write it after a slash, for example {addr}/{}",
                if addr.is_ipv4() { 24 } else { 64 }
            ),
            Err(_) => "it is not a cidr, which is an address and a prefix length such as 10.0.0.0/16 or 2001:db8::/48".to_string(),
        }));
    };
    let (addr, leading_zeros) = parse_address(address).ok_or_else(|| {
        invalid(format!(
            "{address:?} is not an ip address; write an address and a prefix length such as 10.0.0.0/16 or 2001:db8::/48"
        ))
    })?;
    let family = if addr.is_ipv4() {
        AddressFamily::Ipv4
    } else {
        AddressFamily::Ipv6
    };
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "the prefix length {length:?} is not a whole number; write one from 0 to {}",
            family.width()
        )));
    }
    let prefix_len = length
        .parse::<u16>()
        .ok()
        .filter(|&n| n <= u16::from(family.width()))
        .ok_or_else(|| {
            invalid(format!(
                "the prefix length /{} is longer than an {family} address ({} bits); use /0 to /{}",
                length.trim_start_matches('0'),
                family.width(),
                family.width()
            ))
        })? as u8;
    let net = IpNet::new(addr, prefix_len).expect("prefix length within the family width");
    let canonical = net.to_string();
    let spaces = trimmed.len() != text.len();
    let zero_length = length.len() > 1 && length.starts_with('0');
    if spaces || leading_zeros || zero_length {
        return Err(Error::AmbiguousCidr {
            input,
            given: text.to_string(),
            canonical,
            why: if spaces {
                "it has spaces around it"
            } else {
                "it has leading zeros, which some tools read as octal (010 as 8)"
            },
        });
    }
    check_network(&net, input)?;
    Ok(net)
}

/// An IPv4 address (dotted decimal, octets may have leading zeros: reported separately) or an
/// IPv6 address; `(address, had leading zeros)`.
fn parse_address(text: &str) -> Option<(IpAddr, bool)> {
    if text.contains(':') {
        return text
            .parse::<Ipv6Addr>()
            .ok()
            .map(|a| (IpAddr::V6(a), false));
    }
    let octets: Vec<&str> = text.split('.').collect();
    if octets.len() != 4 {
        return None;
    }
    let mut bytes = [0u8; 4];
    let mut leading_zeros = false;
    for (byte, octet) in bytes.iter_mut().zip(&octets) {
        if octet.is_empty() || octet.len() > 3 || !octet.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        leading_zeros |= octet.len() > 1 && octet.starts_with('0');
        *byte = octet.parse().ok()?;
    }
    Some((IpAddr::V4(Ipv4Addr::from(bytes)), leading_zeros))
}

/// Refuses a CIDR whose address has host bits set, naming the network it lies in.
pub fn check_network(net: &IpNet, input: &'static str) -> Result<()> {
    if net.addr() != net.network() {
        return Err(Error::HostBitsSet {
            input,
            given: net.to_string(),
            network: net.trunc(),
        });
    }
    Ok(())
}

/// Private-use and other non-public ranges a public-scope pool must not contain.
const PRIVATE_USE_RANGES: &[&str] = &[
    "10.0.0.0/8",     // RFC 1918
    "172.16.0.0/12",  // RFC 1918
    "192.168.0.0/16", // RFC 1918
    "100.64.0.0/10",  // RFC 6598 shared address space (carrier-grade NAT)
    "169.254.0.0/16", // RFC 3927 link local
    "127.0.0.0/8",    // loopback
    "fc00::/7",       // RFC 4193 unique local
    "fe80::/10",      // link local
    "::1/128",        // loopback
];

/// The private-use range a CIDR overlaps, if any (RFC 1918, 100.64.0.0/10, fc00::/7, …).
pub fn private_use_range_overlapping(net: &IpNet) -> Option<IpNet> {
    PRIVATE_USE_RANGES
        .iter()
        .map(|text| IpNet::from_str(text).expect("constant private-use ranges parse"))
        .find(|range| overlaps(range, net))
}

/// Whether two CIDRs share an address (always false across families).
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    AddressFamily::of(a) == AddressFamily::of(b) && (a.contains(b) || b.contains(a))
}

/// An aligned CIDR as integers: the first address and the prefix length. IPv4 addresses are
/// the low 32 bits; the family is known from the pool the block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block {
    /// First address.
    pub start: u128,
    /// Prefix length.
    pub prefix_len: u8,
}

impl Block {
    /// The block of a CIDR (its network address and prefix length).
    pub fn of(net: &IpNet) -> Block {
        let start = match net.network() {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        };
        Block {
            start,
            prefix_len: net.prefix_len(),
        }
    }

    /// `start | host mask`: the last address.
    pub fn last(&self, family: AddressFamily) -> u128 {
        self.start | host_mask(family, self.prefix_len)
    }

    /// The number of addresses, saturating at `u128::MAX` for `::/0`.
    pub fn size(&self, family: AddressFamily) -> u128 {
        host_mask(family, self.prefix_len).saturating_add(1)
    }

    /// The CIDR form.
    pub fn to_net(&self, family: AddressFamily) -> IpNet {
        match family {
            AddressFamily::Ipv4 => IpNet::V4(
                Ipv4Net::new(Ipv4Addr::from(self.start as u32), self.prefix_len)
                    .expect("prefix length within the family width"),
            ),
            AddressFamily::Ipv6 => IpNet::V6(
                Ipv6Net::new(Ipv6Addr::from(self.start), self.prefix_len)
                    .expect("prefix length within the family width"),
            ),
        }
    }

    /// The two halves one bit longer (the block must be longer than the family width allows).
    pub fn halves(&self, family: AddressFamily) -> (Block, Block) {
        let len = self.prefix_len + 1;
        let upper = self.start | (1u128 << (family.width() - len));
        (
            Block {
                start: self.start,
                prefix_len: len,
            },
            Block {
                start: upper,
                prefix_len: len,
            },
        )
    }

    /// The other half of the enclosing block one bit shorter (`None` for a /0).
    pub fn buddy(&self, family: AddressFamily) -> Option<Block> {
        if self.prefix_len == 0 {
            return None;
        }
        Some(Block {
            start: self.start ^ (1u128 << (family.width() - self.prefix_len)),
            prefix_len: self.prefix_len,
        })
    }

    /// The enclosing block one bit shorter (`None` for a /0).
    pub fn parent(&self, family: AddressFamily) -> Option<Block> {
        if self.prefix_len == 0 {
            return None;
        }
        let len = self.prefix_len - 1;
        Some(Block {
            start: self.start & !host_mask(family, len),
            prefix_len: len,
        })
    }

    /// Whether `other` lies inside this block.
    pub fn contains(&self, other: &Block, family: AddressFamily) -> bool {
        other.prefix_len >= self.prefix_len
            && other.start >= self.start
            && other.last(family) <= self.last(family)
    }

    /// Whether the blocks share an address.
    pub fn overlaps(&self, other: &Block, family: AddressFamily) -> bool {
        self.start <= other.last(family) && other.start <= self.last(family)
    }
}

/// The host bits of a prefix length in a family, as a mask.
pub fn host_mask(family: AddressFamily, prefix_len: u8) -> u128 {
    let host_bits = family.width() - prefix_len;
    if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    }
}

/// The address as the integer the store orders by (IPv4 in the low 32 bits).
pub fn addr_to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn host_bits_name_the_network_for_both_families() {
        for (given, network) in [
            ("10.1.1.1/24", "10.1.1.0/24"),
            ("2001:db8::1/64", "2001:db8::/64"),
        ] {
            match parse_cidr(given, "cidr") {
                Err(e @ Error::HostBitsSet { .. }) => {
                    assert!(e.to_string().contains(network), "{e}");
                    assert_eq!(e.input(), Some("cidr"));
                }
                other => panic!("{given}: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_is_an_invalid_cidr() {
        for given in [
            "10.0.0.0",
            "10.0.0.0/33",
            "banana",
            "2001:db8::/129",
            "",
            "10.0.0.256/24",
            "10.0.0/24",
            "10.0.0.0/",
            "10.0.0.0/2a",
            "10.0.0.0/+8",
        ] {
            assert!(
                matches!(parse_cidr(given, "cidr"), Err(Error::InvalidCidr { .. })),
                "{given}"
            );
        }
    }

    #[test]
    fn each_kind_of_garbage_is_explained() {
        let message = |given: &str| parse_cidr(given, "cidr").unwrap_err().to_string();
        assert!(
            message("banana").contains("is not a cidr"),
            "{}",
            message("banana")
        );
        assert!(message("10.0.0.0").contains("prefix length is missing"));
        assert!(message("10.0.0.0").contains("10.0.0.0/24"));
        assert!(message("2001:db8::").contains("2001:db8::/64"));
        let long = message("10.0.0.0/33");
        assert!(
            long.contains("/33 is longer than an ipv4 address (32 bits)"),
            "{long}"
        );
        let long = message("2001:db8::/129");
        assert!(
            long.contains("/129 is longer than an ipv6 address (128 bits)"),
            "{long}"
        );
    }

    #[test]
    fn ambiguous_forms_are_refused_with_the_canonical_one() {
        for (given, canonical) in [
            ("010.002.000.000/24", "10.2.0.0/24"),
            (" 10.2.0.0/24", "10.2.0.0/24"),
            ("10.2.0.0/24 ", "10.2.0.0/24"),
            ("10.2.0.0/024", "10.2.0.0/24"),
            (" fd00::/64", "fd00::/64"),
        ] {
            match parse_cidr(given, "cidr") {
                Err(e @ Error::AmbiguousCidr { .. }) => {
                    assert!(e.to_string().contains(&format!("write {canonical}")), "{e}");
                    assert_eq!(e.input(), Some("cidr"));
                }
                other => panic!("{given}: {other:?}"),
            }
        }
        // upper-case IPv6 letters name one network unambiguously
        assert_eq!(parse_cidr("FD00:0::/64", "cidr").unwrap(), net("fd00::/64"));
        assert_eq!(parse_cidr("0.0.0.0/0", "cidr").unwrap(), net("0.0.0.0/0"));
    }

    #[test]
    fn private_ranges_are_found_in_both_families() {
        assert_eq!(
            private_use_range_overlapping(&net("10.1.0.0/16")),
            Some(net("10.0.0.0/8"))
        );
        assert_eq!(
            private_use_range_overlapping(&net("100.100.0.0/16")),
            Some(net("100.64.0.0/10"))
        );
        assert_eq!(
            private_use_range_overlapping(&net("8.0.0.0/6")),
            Some(net("10.0.0.0/8"))
        );
        assert_eq!(
            private_use_range_overlapping(&net("fd00::/8")),
            Some(net("fc00::/7"))
        );
        assert_eq!(private_use_range_overlapping(&net("203.0.113.0/24")), None);
        assert_eq!(private_use_range_overlapping(&net("2600::/12")), None);
    }

    #[test]
    fn block_arithmetic_round_trips() {
        for (family, text) in [
            (AddressFamily::Ipv4, "10.2.0.0/16"),
            (AddressFamily::Ipv6, "2001:db8::/32"),
        ] {
            let block = Block::of(&net(text));
            assert_eq!(block.to_net(family), net(text));
            let (low, high) = block.halves(family);
            assert_eq!(low.buddy(family), Some(high));
            assert_eq!(high.parent(family), Some(block));
            assert!(block.contains(&high, family) && !low.overlaps(&high, family));
            assert_eq!(low.size(family) * 2, block.size(family));
        }
        assert_eq!(Block::of(&net("::/0")).size(AddressFamily::Ipv6), u128::MAX);
    }
}
