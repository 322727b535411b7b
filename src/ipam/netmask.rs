//! Allocation netmask guardrails.

use super::cidr::AddressFamily;
use super::error::{Error, Result};

/// A pool's allocation guardrails. `min` is the *shortest* prefix allowed (the largest block),
/// `max` the *longest* (the smallest block): `min = 16, max = 24` allows /16 … /24.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetmaskRule {
    /// Shortest allowed prefix length (largest block); `None` = 0.
    pub min: Option<u8>,
    /// Longest allowed prefix length (smallest block); `None` = the family width.
    pub max: Option<u8>,
    /// Used when an allocation gives neither a netmask length nor a CIDR.
    pub default: Option<u8>,
}

impl NetmaskRule {
    /// Checks `min ≤ default ≤ max ≤ width`, explaining which bound is which.
    pub fn validate(&self, family: AddressFamily) -> Result<()> {
        let width = family.width();
        for (input, value) in [
            ("allocation_min_netmask_length", self.min),
            ("allocation_max_netmask_length", self.max),
            ("allocation_default_netmask_length", self.default),
        ] {
            if let Some(v) = value {
                if v > width {
                    return Err(Error::InvalidNetmaskRule {
                        input,
                        message: format!(
                            "{input} is /{v}, longer than an {family} address (/{width})"
                        ),
                    });
                }
            }
        }
        let (min, max) = (self.min_len(), self.max_len(family));
        if min > max {
            return Err(Error::InvalidNetmaskRule {
                input: "allocation_min_netmask_length",
                message: format!(
                    "allocation_min_netmask_length /{min} is greater than allocation_max_netmask_length /{max}; \
                     min is the shortest prefix (the largest block, e.g. 16) and max the longest prefix (the smallest block, e.g. 24), \
                     so min must not exceed max; did you swap them?"
                ),
            });
        }
        if let Some(default) = self.default {
            if default < min || default > max {
                return Err(Error::InvalidNetmaskRule {
                    input: "allocation_default_netmask_length",
                    message: format!(
                        "allocation_default_netmask_length /{default} is outside /{min} (min, the largest block) … /{max} (max, the smallest block)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The shortest allowed prefix length.
    pub fn min_len(&self) -> u8 {
        self.min.unwrap_or(0)
    }

    /// The longest allowed prefix length.
    pub fn max_len(&self, family: AddressFamily) -> u8 {
        self.max.unwrap_or(family.width())
    }

    /// Refuses a length outside the guardrails; `input` names the request field.
    pub fn check(
        &self,
        len: u8,
        family: AddressFamily,
        pool_id: &str,
        input: &'static str,
    ) -> Result<()> {
        let (min, max) = (self.min_len(), self.max_len(family));
        if len > family.width() {
            return Err(Error::InvalidArgument {
                input,
                message: format!(
                    "/{len} is longer than an {family} address ({} bits); pool {pool_id} allows /{min} to /{max}",
                    family.width()
                ),
            });
        }
        if len < min || len > max {
            return Err(Error::NetmaskOutOfRange {
                input,
                len,
                min,
                max,
                pool_id: pool_id.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapped_bounds_are_explained() {
        let rule = NetmaskRule {
            min: Some(24),
            max: Some(16),
            default: None,
        };
        let err = rule.validate(AddressFamily::Ipv4).unwrap_err();
        assert_eq!(err.input(), Some("allocation_min_netmask_length"));
        assert!(err.to_string().contains("largest block"), "{err}");
        assert!(err.to_string().contains("swap"), "{err}");
    }

    #[test]
    fn bounds_beyond_the_family_width_are_refused() {
        let rule = NetmaskRule {
            min: None,
            max: Some(33),
            default: None,
        };
        assert!(rule.validate(AddressFamily::Ipv4).is_err());
        assert!(rule.validate(AddressFamily::Ipv6).is_ok());
        let rule = NetmaskRule {
            min: Some(40),
            max: Some(129),
            default: None,
        };
        assert_eq!(
            rule.validate(AddressFamily::Ipv6).unwrap_err().input(),
            Some("allocation_max_netmask_length")
        );
    }

    #[test]
    fn default_must_lie_within_the_bounds() {
        let rule = NetmaskRule {
            min: Some(16),
            max: Some(24),
            default: Some(28),
        };
        assert_eq!(
            rule.validate(AddressFamily::Ipv4).unwrap_err().input(),
            Some("allocation_default_netmask_length")
        );
        let ok = NetmaskRule {
            default: Some(20),
            ..rule
        };
        ok.validate(AddressFamily::Ipv4).unwrap();
        assert!(ok
            .check(25, AddressFamily::Ipv4, "ipam-pool-x", "netmask_length")
            .is_err());
        assert!(ok
            .check(15, AddressFamily::Ipv4, "ipam-pool-x", "netmask_length")
            .is_err());
        let open = NetmaskRule::default()
            .check(33, AddressFamily::Ipv4, "ipam-pool-x", "netmask_length")
            .unwrap_err()
            .to_string();
        assert!(
            open.contains("/33 is longer than an ipv4 address (32 bits)"),
            "{open}"
        );
        ok.check(16, AddressFamily::Ipv4, "ipam-pool-x", "netmask_length")
            .unwrap();
        let v6 = NetmaskRule {
            min: Some(48),
            max: Some(64),
            default: Some(56),
        };
        v6.validate(AddressFamily::Ipv6).unwrap();
        assert!(v6
            .check(65, AddressFamily::Ipv6, "p", "netmask_length")
            .is_err());
    }
}
