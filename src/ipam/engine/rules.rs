//! Checks and messages shared by several operations: each rule once, with one message.

use ipnet::IpNet;

use crate::ipam::cidr::check_network;
use crate::ipam::{AddressFamily, Error, ObjectKind, Result};

/// A CIDR given for `input` of a pool: a network (no host bits) of the pool's family.
pub(super) fn check_family(
    net: &IpNet,
    input: &'static str,
    family: AddressFamily,
    pool_id: &str,
) -> Result<()> {
    check_network(net, input)?;
    let found = AddressFamily::of(net);
    if found != family {
        return Err(Error::WrongFamily {
            input,
            cidr: *net,
            found,
            expected: family,
            pool_id: pool_id.to_string(),
        });
    }
    Ok(())
}

/// Only IPv6 pools can be publicly advertisable (creation and updates alike).
pub(super) fn check_publicly_advertisable(family: AddressFamily, advertisable: bool) -> Result<()> {
    if advertisable && family != AddressFamily::Ipv6 {
        return Err(Error::InvalidArgument {
            input: "publicly_advertisable",
            message: format!(
                "only ipv6 pools can be publicly advertisable and this pool is {family}; \
                 remove publicly_advertisable or use an ipv6 pool"
            ),
        });
    }
    Ok(())
}

/// A utilization warning threshold is a percentage, 1 to 100.
pub(super) fn check_threshold(threshold: Option<u8>) -> Result<()> {
    match threshold {
        Some(percent) if !(1..=100).contains(&percent) => Err(Error::InvalidArgument {
            input: "utilization_warning_threshold",
            message: format!(
                "{percent} is not a percentage of the pool; give a number from 1 to 100 (for example 80)"
            ),
        }),
        _ => Ok(()),
    }
}

/// What an object holds, by kind: `(what, ids)`, e.g. `("allocation(s)", [...])`.
pub(super) type Contents<'a> = [(&'a str, Vec<String>)];

/// Refuses to remove a non-empty object unless `cascade`: the error names what is inside
/// (how many of each kind, the first few of them).
pub(super) fn refuse_unless_empty(
    kind: ObjectKind,
    id: &str,
    cascade: bool,
    contents: &Contents<'_>,
) -> Result<()> {
    let parts: Vec<String> = contents
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(what, items)| format!("{} {what} ({})", items.len(), summarize(items)))
        .collect();
    if parts.is_empty() || cascade {
        return Ok(());
    }
    Err(Error::NotEmpty {
        kind,
        id: id.to_string(),
        contents: parts.join(" and "),
    })
}

/// Up to three items and how many more.
fn summarize(items: &[String]) -> String {
    let shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 3 {
        format!("{shown}, … {} more", items.len() - 3)
    } else {
        shown
    }
}

/// The object, or `NotFound` naming its kind and the id asked for.
pub(super) fn found<T>(row: Option<T>, kind: ObjectKind, id: &str) -> Result<T> {
    row.ok_or_else(|| Error::not_found(kind, id))
}

/// Operating regions as stored: sorted, without duplicates.
pub(super) fn normalize_regions(regions: &[String]) -> Vec<String> {
    let mut regions: Vec<String> = regions.to_vec();
    regions.sort();
    regions.dedup();
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_empty_names_each_kind_and_the_first_few() {
        let ids = |n: usize| (0..n).map(|i| format!("id-{i}")).collect::<Vec<_>>();
        let error = refuse_unless_empty(
            ObjectKind::Pool,
            "p",
            false,
            &[("child pool(s)", ids(1)), ("allocation(s)", ids(5))],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "pool p is not empty: it holds 1 child pool(s) (id-0) and 5 allocation(s) \
             (id-0, id-1, id-2, … 2 more); remove those first, or delete it with cascade"
        );
        assert!(refuse_unless_empty(ObjectKind::Pool, "p", true, &[("x", ids(2))]).is_ok());
        assert!(refuse_unless_empty(ObjectKind::Pool, "p", false, &[("x", ids(0))]).is_ok());
    }

    #[test]
    fn only_ipv6_pools_are_publicly_advertisable() {
        assert!(check_publicly_advertisable(AddressFamily::Ipv6, true).is_ok());
        assert!(check_publicly_advertisable(AddressFamily::Ipv4, false).is_ok());
        let error = check_publicly_advertisable(AddressFamily::Ipv4, true).unwrap_err();
        assert_eq!(error.input(), Some("publicly_advertisable"));
    }
}
