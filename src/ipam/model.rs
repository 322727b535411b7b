//! Domain objects and the requests that create or change them.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;

use super::cidr::AddressFamily;
use super::netmask::NetmaskRule;

/// Tags: key → value, ordered so that output is stable.
pub type Tags = BTreeMap<String, String>;

/// An IP address manager: the root of scopes and pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipam {
    /// `ipam-…`.
    pub id: String,
    /// Free text.
    pub description: String,
    /// Operating regions (free strings, kept sorted and unique).
    pub operating_regions: Vec<String>,
    /// Tags.
    pub tags: Tags,
    /// The default private scope.
    pub private_default_scope_id: String,
    /// The default public scope.
    pub public_default_scope_id: String,
    /// Number of scopes, defaults included.
    pub scope_count: u64,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// Whether a scope holds private or public space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    /// Private space; each private scope is its own routing domain.
    Private,
    /// Public space: private-use ranges are refused.
    Public,
}

impl ScopeKind {
    /// `private` or `public`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Private => "private",
            ScopeKind::Public => "public",
        }
    }
}

impl fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container of pools; the same CIDR may live in two scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `ipam-scope-…`.
    pub id: String,
    /// The owning IPAM.
    pub ipam_id: String,
    /// Private or public.
    pub kind: ScopeKind,
    /// Free text.
    pub description: String,
    /// Tags.
    pub tags: Tags,
    /// One of the two scopes created with the IPAM.
    pub is_default: bool,
    /// Number of pools in the scope.
    pub pool_count: u64,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// A pool of address space, possibly nested in a source pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// `ipam-pool-…`.
    pub id: String,
    /// The scope.
    pub scope_id: String,
    /// The parent pool its CIDRs are allocated from.
    pub source_pool_id: Option<String>,
    /// IPv4 or IPv6 (the parent's).
    pub address_family: AddressFamily,
    /// Optional locale (e.g. a region).
    pub locale: Option<String>,
    /// Free text.
    pub description: String,
    /// Allocation guardrails.
    pub netmask: NetmaskRule,
    /// Tags every allocation must carry.
    pub allocation_resource_tags: Tags,
    /// Whether discovered resources may be imported (recorded for the provider).
    pub auto_import: bool,
    /// Whether the (IPv6) space is advertised publicly.
    pub publicly_advertisable: bool,
    /// Tags.
    pub tags: Tags,
    /// 0 for a top-level pool, parent depth + 1 otherwise.
    pub depth: u32,
    /// Percent (1–100) of the pool's space in use past which a plan warns.
    pub utilization_warning_threshold: Option<u8>,
    /// How long a released block cools down before it is handed out again.
    pub release_cooldown: Option<ReleaseCooldown>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// A CIDR provisioned into a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCidr {
    /// `ipam-pool-cidr-…`.
    pub id: String,
    /// The pool.
    pub pool_id: String,
    /// The CIDR.
    pub cidr: IpNet,
    /// The allocation in the source pool that holds this CIDR (child pools only).
    pub parent_allocation_id: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// A pool CIDR with its usage.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolCidrUsage {
    /// The pool CIDR.
    pub pool_cidr: PoolCidr,
    /// Addresses in the CIDR (saturating at `u128::MAX`).
    pub total_addresses: u128,
    /// Addresses held by allocations, child-pool CIDRs, blocks cooling down and plan-time
    /// reservations.
    pub used_addresses: u128,
    /// The part of `used_addresses` held by plan-time reservations (plans not yet applied).
    pub reserved_addresses: u128,
    /// Addresses free.
    pub free_addresses: u128,
    /// `used / total × 100`.
    pub utilization_percent: f64,
}

/// A CIDR taken from a pool, by a resource or as a child pool's CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// `ipam-alloc-…`.
    pub id: String,
    /// The pool.
    pub pool_id: String,
    /// The CIDR.
    pub cidr: IpNet,
    /// The name that identifies it within its pool (unique among the pool's live allocations),
    /// if it has one.
    pub name: Option<String>,
    /// Free text.
    pub description: String,
    /// Tags.
    pub tags: Tags,
    /// The child pool CIDR this allocation backs, if any.
    pub child_pool_cidr_id: Option<String>,
    /// The CIDRs the request asked to skip, kept so that an imported allocation shows the
    /// configuration that made it.
    pub disallowed_cidrs: Vec<IpNet>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// One mutation, recorded in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Increasing sequence number.
    pub sequence: i64,
    /// RFC 3339 time.
    pub at: String,
    /// Who did it (the store's actor).
    pub actor: String,
    /// What: `allocate`, `release`, `provision`, `create_pool`, …
    pub action: String,
    /// The object changed.
    pub object_id: String,
    /// Its CIDR, when it has one.
    pub cidr: Option<IpNet>,
    /// Further details (JSON).
    pub details: String,
}

/// Input of `create_ipam`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIpam {
    /// Free text.
    pub description: String,
    /// Operating regions.
    pub operating_regions: Vec<String>,
    /// Tags.
    pub tags: Tags,
}

/// Changes to an IPAM; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpamUpdate {
    /// New description.
    pub description: Option<String>,
    /// New operating regions.
    pub operating_regions: Option<Vec<String>>,
    /// New tags (replacing all).
    pub tags: Option<Tags>,
}

/// Input of `create_scope` (custom scopes are private).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewScope {
    /// The IPAM.
    pub ipam_id: String,
    /// Free text.
    pub description: String,
    /// Tags.
    pub tags: Tags,
}

/// Changes to a scope; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeUpdate {
    /// New description.
    pub description: Option<String>,
    /// New tags (replacing all).
    pub tags: Option<Tags>,
}

/// Input of `create_pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPool {
    /// The scope.
    pub scope_id: String,
    /// The parent pool, in the same scope and family.
    pub source_pool_id: Option<String>,
    /// IPv4 or IPv6.
    pub address_family: AddressFamily,
    /// Optional locale.
    pub locale: Option<String>,
    /// Free text.
    pub description: String,
    /// Allocation guardrails.
    pub netmask: NetmaskRule,
    /// Tags every allocation must carry.
    pub allocation_resource_tags: Tags,
    /// Recorded for the provider.
    pub auto_import: bool,
    /// IPv6 only.
    pub publicly_advertisable: bool,
    /// Tags.
    pub tags: Tags,
    /// Percent (1–100) of the pool's space in use past which a plan warns.
    pub utilization_warning_threshold: Option<u8>,
    /// How long a released block cools down before it is handed out again.
    pub release_cooldown: Option<ReleaseCooldown>,
}

impl NewPool {
    /// A pool with no source, guardrails, locale or tags.
    pub fn new(scope_id: &str, address_family: AddressFamily) -> NewPool {
        NewPool {
            scope_id: scope_id.to_string(),
            source_pool_id: None,
            address_family,
            locale: None,
            description: String::new(),
            netmask: NetmaskRule::default(),
            allocation_resource_tags: Tags::new(),
            auto_import: false,
            publicly_advertisable: false,
            tags: Tags::new(),
            utilization_warning_threshold: None,
            release_cooldown: None,
        }
    }
}

/// Changes to a pool; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolUpdate {
    /// New description.
    pub description: Option<String>,
    /// New guardrails (validated; existing allocations are kept).
    pub netmask: Option<NetmaskRule>,
    /// New required allocation tags.
    pub allocation_resource_tags: Option<Tags>,
    /// New auto-import flag.
    pub auto_import: Option<bool>,
    /// New publicly-advertisable flag (IPv6 only).
    pub publicly_advertisable: Option<bool>,
    /// New tags (replacing all).
    pub tags: Option<Tags>,
    /// New utilization warning threshold (`Some(None)` removes it).
    pub utilization_warning_threshold: Option<Option<u8>>,
    /// New release cooldown (`Some(None)` removes it; blocks cooling now free at once).
    pub release_cooldown: Option<Option<ReleaseCooldown>>,
}

/// Whether a cooling block may be handed out again before its cooldown ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CooldownMode {
    /// Only when nothing else fits (the default).
    #[default]
    Soft,
    /// Never.
    Strict,
}

impl CooldownMode {
    /// `soft` or `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            CooldownMode::Soft => "soft",
            CooldownMode::Strict => "strict",
        }
    }

    /// `soft` or `strict`, for `input`.
    pub fn parse(text: &str, input: &'static str) -> crate::ipam::Result<CooldownMode> {
        match text {
            "soft" => Ok(CooldownMode::Soft),
            "strict" => Ok(CooldownMode::Strict),
            other => Err(crate::ipam::Error::InvalidArgument {
                input,
                message: format!(
                    "{other:?} is not a cooldown mode; use \"soft\" (reuse a cooling block only when nothing else fits) or \"strict\" (never reuse one before its cooldown ends)"
                ),
            }),
        }
    }
}

/// A pool's release cooldown: released blocks stay unused this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseCooldown {
    /// The duration, seconds (at least 1).
    pub seconds: u64,
    /// Whether a cooling block may be reused when nothing else fits.
    pub mode: CooldownMode,
}

/// Parses a duration such as `"90s"`, `"30m"`, `"24h"`, `"7d"` or `"1h30m"` into seconds.
pub fn parse_duration(text: &str, input: &'static str) -> crate::ipam::Result<u64> {
    let invalid = |why: &str| {
        crate::ipam::Error::InvalidArgument {
        input,
        message: format!(
            "{text:?} is not a duration ({why}); write a whole number with a unit s, m, h or d, for example \"30m\", \"24h\" or \"1h30m\""
        ),
    }
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid(&format!("unknown unit {c:?}"))),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| invalid("a unit without a number"))?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| invalid("too long"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(invalid("a number without a unit"));
    }
    if total == 0 {
        return Err(invalid("it must be longer than zero"));
    }
    Ok(total)
}

/// Seconds as the shortest duration text [`parse_duration`] reads back (`5400` → `"1h30m"`).
pub fn format_duration(seconds: u64) -> String {
    let mut out = String::new();
    let mut rest = seconds;
    for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if rest >= unit {
            out += &format!("{}{name}", rest / unit);
            rest %= unit;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// A released block cooling down in its pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoolingBlock {
    /// The block.
    pub cidr: IpNet,
    /// When it becomes free again, RFC 3339 UTC.
    pub frees_at: String,
}

/// Filters for finding pools; every given filter must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolFilter {
    /// Pools of this scope.
    pub scope_id: Option<String>,
    /// Pools carrying all these tags with these values.
    pub tags: Tags,
    /// Pools with exactly this description.
    pub description: Option<String>,
    /// Pools with this locale.
    pub locale: Option<String>,
    /// Pools of this family.
    pub address_family: Option<AddressFamily>,
}

impl PoolFilter {
    /// Whether a pool passes every filter.
    pub fn matches(&self, pool: &Pool) -> bool {
        self.scope_id.as_ref().is_none_or(|s| *s == pool.scope_id)
            && self
                .description
                .as_ref()
                .is_none_or(|d| *d == pool.description)
            && self
                .locale
                .as_ref()
                .is_none_or(|l| pool.locale.as_ref() == Some(l))
            && self.address_family.is_none_or(|f| f == pool.address_family)
            && self.tags.iter().all(|(k, v)| pool.tags.get(k) == Some(v))
    }
}

/// What to provision into a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolCidrRequest {
    /// This CIDR (a child pool takes it from its source pool).
    Cidr(IpNet),
    /// The next free block of this length from the source pool.
    NetmaskLength(u8),
}

/// Input of `allocate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocationRequest {
    /// The pool.
    pub pool_id: String,
    /// The prefix length (default: the pool's default).
    pub netmask_length: Option<u8>,
    /// An explicit CIDR.
    pub cidr: Option<IpNet>,
    /// Ranges the allocator must not hand out.
    pub disallowed_cidrs: Vec<IpNet>,
    /// Free text.
    pub description: String,
    /// Tags (must include the pool's allocation_resource_tags).
    pub tags: Tags,
    /// Where the block is used (a region); refused from a pool of another locale.
    pub locale: Option<String>,
}

/// Space held for a named allocation that a plan has shown but not yet made: created or reused
/// by a plan, found by the apply-time plan, turned into the allocation by the apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The pool it holds space in.
    pub pool_id: String,
    /// The name of the allocation it is for (`pool <id>` for a child pool's CIDR).
    pub name: String,
    /// The CIDR held.
    pub cidr: IpNet,
    /// Unix milliseconds after which its space may go to others.
    pub expires_at_millis: i64,
    /// The same time, RFC 3339 UTC with milliseconds.
    pub expires_at: String,
    /// Whether it had expired when read: its space still counts as used until the next plan,
    /// allocation or preview in the pool sweeps it (or a plan of the same name renews it).
    pub expired: bool,
}

/// Changes to an allocation; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocationUpdate {
    /// New name (`Some(None)` removes it), unique among the pool's live allocations.
    pub name: Option<Option<String>>,
    /// New description.
    pub description: Option<String>,
    /// New tags (replacing all, still including the pool's required tags).
    pub tags: Option<Tags>,
}

/// What an allocation would do to its pool's utilization when it pushes the pool past its
/// `utilization_warning_threshold`: the plan's warning.
#[derive(Debug, Clone, PartialEq)]
pub struct UtilizationWarning {
    /// The pool.
    pub pool_id: String,
    /// Its CIDRs.
    pub pool_cidrs: Vec<IpNet>,
    /// The threshold, percent.
    pub threshold: u8,
    /// Utilization before the allocation, percent.
    pub before_percent: f64,
    /// Utilization after it, percent.
    pub after_percent: f64,
    /// The largest free block left after it, if any.
    pub largest_free: Option<IpNet>,
}

impl UtilizationWarning {
    /// The warning when taking `added` of `total` addresses (`used` in use before) crosses the
    /// pool's threshold: before ≤ threshold < after.
    pub fn crossing(pool: &Pool, total: u128, used: u128, added: u128) -> Option<(u8, f64, f64)> {
        let threshold = pool.utilization_warning_threshold?;
        if total == 0 {
            return None;
        }
        let percent = |n: u128| n as f64 / total as f64 * 100.0;
        let (before, after) = (percent(used), percent(used.saturating_add(added)));
        (before <= f64::from(threshold) && after > f64::from(threshold))
            .then_some((threshold, before, after))
    }
}

impl std::fmt::Display for UtilizationWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cidrs: Vec<String> = self.pool_cidrs.iter().map(ToString::to_string).collect();
        write!(
            f,
            "pool {} ({}) goes from {:.1}% to {:.1}% used, past its utilization_warning_threshold of {}%; ",
            self.pool_id,
            cidrs.join(", "),
            self.before_percent,
            self.after_percent,
            self.threshold
        )?;
        match self.largest_free {
            Some(block) => write!(f, "the largest free block left is {block}"),
            None => write!(f, "no free block is left"),
        }
    }
}

/// Whether `pool` may serve an allocation asking for `locale`: a pool without a locale serves
/// any, a pool with one serves only that locale (or a request without one).
pub fn check_pool_serves_locale(pool: &Pool, locale: Option<&str>) -> crate::ipam::Result<()> {
    match (locale, pool.locale.as_deref()) {
        (Some(wanted), Some(served)) if wanted != served => {
            Err(crate::ipam::Error::LocaleMismatch {
                locale: wanted.to_string(),
                pool_id: pool.id.clone(),
                pool_locale: served.to_string(),
            })
        }
        _ => Ok(()),
    }
}

/// Required tags (key, value) that `tags` lacks or carries with another value.
pub fn missing_required_tags(required: &Tags, tags: &Tags) -> Vec<(String, String)> {
    required
        .iter()
        .filter(|(k, v)| tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What a database remembers of an object it does not hold (see `Store::history`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectHistory {
    /// The audit log names the object: it was made in this database and has since been
    /// deleted (by Terraform or outside it).
    Recorded,
    /// The audit log never named the object: it was not made in this database (or the database
    /// is an older copy). `empty` when the database has no audit events at all.
    Unrecorded {
        /// The database has never held anything.
        empty: bool,
    },
}

/// Every IPAM, scope and pool with its usage, read in one transaction (one consistent state,
/// even while allocations are being written): what an operator's overview shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// All IPAMs, ordered by id.
    pub ipams: Vec<Ipam>,
    /// All scopes, ordered by IPAM, then as [`Store::list_scopes`](crate::store::Store::list_scopes) lists them.
    pub scopes: Vec<Scope>,
    /// All pools, ordered by id, each with its CIDRs.
    pub pools: Vec<PoolInventory>,
}

/// A pool with its CIDRs, their usage and allocation counts.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolInventory {
    /// The pool.
    pub pool: Pool,
    /// Its CIDRs in address order.
    pub cidrs: Vec<PoolCidrInventory>,
}

/// A pool CIDR's usage and the number of allocations (child-pool CIDRs included) inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolCidrInventory {
    /// The CIDR with its address counts.
    pub usage: PoolCidrUsage,
    /// Allocations lying in the CIDR.
    pub allocation_count: u64,
}

/// Which audit events an audit query returns; every given filter must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events with a greater sequence number.
    pub after_sequence: i64,
    /// Only events at or after this Unix time in milliseconds.
    pub since_millis: Option<i64>,
    /// Only events about this pool: the pool itself, its CIDRs and its allocations (found
    /// after the pool is deleted too).
    pub pool_id: Option<String>,
    /// Only events about this object.
    pub object_id: Option<String>,
    /// Only events by this actor.
    pub actor: Option<String>,
    /// Only events of this action (`allocate`, `release`, `provision`, …).
    pub action: Option<String>,
    /// At most this many events: the newest ones.
    pub limit: usize,
}

impl Default for AuditFilter {
    fn default() -> AuditFilter {
        AuditFilter {
            after_sequence: 0,
            since_millis: None,
            pool_id: None,
            object_id: None,
            actor: None,
            action: None,
            limit: usize::MAX,
        }
    }
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn durations_read_and_print_back() {
        for (text, seconds) in [
            ("90s", 90),
            ("30m", 1800),
            ("24h", 86_400),
            ("1h30m", 5400),
            ("7d", 604_800),
        ] {
            assert_eq!(parse_duration(text, "d").unwrap(), seconds, "{text}");
            assert_eq!(
                parse_duration(&format_duration(seconds), "d").unwrap(),
                seconds
            );
        }
        assert_eq!(format_duration(5400), "1h30m");
        for bad in [
            "",
            "30",
            "m",
            "0s",
            "30x",
            "-5m",
            "1.5h",
            "99999999999999999999d",
        ] {
            let error = parse_duration(bad, "release_cooldown").unwrap_err();
            assert_eq!(error.input(), Some("release_cooldown"), "{bad}");
        }
    }
}
