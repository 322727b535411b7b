//! The public error type: one variant per rule, carrying the ids and CIDRs it is about.

use std::fmt;

use ipnet::IpNet;

use super::cidr::AddressFamily;

/// Result with the IPAM [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kinds of objects an error can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// An IPAM (`ipam-…`).
    Ipam,
    /// A scope (`ipam-scope-…`).
    Scope,
    /// A pool (`ipam-pool-…`).
    Pool,
    /// A CIDR provisioned into a pool (`ipam-pool-cidr-…`).
    PoolCidr,
    /// An allocation (`ipam-alloc-…`).
    Allocation,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Ipam => "ipam",
            ObjectKind::Scope => "scope",
            ObjectKind::Pool => "pool",
            ObjectKind::PoolCidr => "pool cidr",
            ObjectKind::Allocation => "allocation",
        })
    }
}

fn list_cidrs(cidrs: &[IpNet]) -> String {
    if cidrs.is_empty() {
        "no cidrs provisioned".to_string()
    } else {
        cidrs
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn largest_free_text(largest: &Option<IpNet>) -> String {
    match largest {
        Some(block) => format!("largest free block is /{} ({block})", block.prefix_len()),
        None => "the pool has no free space left".to_string(),
    }
}

fn disallowed_text(disallowed: &[IpNet]) -> String {
    if disallowed.is_empty() {
        String::new()
    } else {
        format!(
            "; disallowed_cidrs ({}) rule out part of the free space",
            disallowed
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn exhausted_text(
    requested_len: u8,
    pool_id: &str,
    pool_cidrs: &[IpNet],
    largest_free: &Option<IpNet>,
    disallowed: &[IpNet],
) -> String {
    if pool_cidrs.is_empty() {
        return format!(
            "no free /{requested_len} in pool {pool_id}: the pool has no cidrs provisioned yet; provision a cidr into it before allocating from it"
        );
    }
    format!(
        "no free /{requested_len} in pool {pool_id} ({}): {}{}",
        list_cidrs(pool_cidrs),
        largest_free_text(largest_free),
        disallowed_text(disallowed)
    )
}

/// What can empty an object of this kind: only pools, scopes and IPAMs delete with `cascade`.
fn not_empty_advice(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::PoolCidr => "release those first: a pool cidr is deprovisioned only when empty",
        _ => "remove those first, or delete it with cascade",
    }
}

fn list_tags(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything that can go wrong in the IPAM core and its stores.
///
/// Messages are lowercase, name the objects and CIDRs involved and say how to fix the input.
/// [`Error::input`] names the request field an error is about, so the provider can point at the
/// Terraform attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No object of this kind has this id.
    #[error(
        "{kind} {id} does not exist; check the id, it may have been deleted outside terraform"
    )]
    NotFound {
        /// What was looked for.
        kind: ObjectKind,
        /// The id given.
        id: String,
    },
    /// Text that is not a CIDR.
    #[error("{given:?} in {input} is not a valid cidr: {reason}")]
    InvalidCidr {
        /// The request field.
        input: &'static str,
        /// The text given.
        given: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A CIDR written in a form some tools read differently (leading zeros) or with spaces.
    #[error("{given:?} in {input} is ambiguous because {why}; write {canonical}")]
    AmbiguousCidr {
        /// The request field.
        input: &'static str,
        /// The text given.
        given: String,
        /// The one form to write instead.
        canonical: String,
        /// What makes it ambiguous.
        why: &'static str,
    },
    /// A CIDR whose address has bits set after the prefix (`10.1.1.1/24`).
    #[error(
        "cidr {given} in {input} has host bits set; the network is {network}, write that instead"
    )]
    HostBitsSet {
        /// The request field.
        input: &'static str,
        /// The CIDR as given.
        given: String,
        /// The network the CIDR lies in.
        network: IpNet,
    },
    /// A CIDR of the other address family than its pool.
    #[error("cidr {cidr} in {input} is {found} but pool {pool_id} is {expected}; give an {expected} cidr")]
    WrongFamily {
        /// The request field.
        input: &'static str,
        /// The CIDR given.
        cidr: IpNet,
        /// The CIDR's family.
        found: AddressFamily,
        /// The pool's family.
        expected: AddressFamily,
        /// The pool.
        pool_id: String,
    },
    /// A pool whose family differs from its source pool's.
    #[error("pool address family {family} differs from source pool {source_pool_id}, which is {source_family}; a child pool has its parent's family")]
    SourcePoolFamily {
        /// The family asked for.
        family: AddressFamily,
        /// The source pool.
        source_pool_id: String,
        /// The source pool's family.
        source_family: AddressFamily,
    },
    /// A source pool in another scope than the pool.
    #[error("source pool {source_pool_id} is in scope {source_scope_id}, not in {scope_id}; a child pool lives in its parent's scope")]
    SourcePoolScope {
        /// The source pool.
        source_pool_id: String,
        /// The source pool's scope.
        source_scope_id: String,
        /// The scope asked for.
        scope_id: String,
    },
    /// A CIDR not inside any CIDR provisioned in the pool.
    #[error("cidr {cidr} is outside pool {pool_id} ({}); choose a cidr inside one of the pool's cidrs", list_cidrs(.pool_cidrs))]
    OutsidePool {
        /// The CIDR given.
        cidr: IpNet,
        /// The pool.
        pool_id: String,
        /// The pool's provisioned CIDRs.
        pool_cidrs: Vec<IpNet>,
    },
    /// A CIDR overlapping an existing allocation, child-pool CIDR or top-level pool CIDR.
    #[error("cidr {cidr} overlaps {with_id} ({with_cidr}); choose a free range, or release {with_id} first")]
    Overlap {
        /// The CIDR given.
        cidr: IpNet,
        /// The object already holding the space.
        with_id: String,
        /// That object's CIDR.
        with_cidr: IpNet,
    },
    /// A name already used by a live allocation of the pool.
    #[error("name {name:?} is already used by allocation {allocation_id} ({cidr}) in pool {pool_id}; names are unique among a pool's live allocations: choose another name")]
    NameTaken {
        /// The name given.
        name: String,
        /// The pool.
        pool_id: String,
        /// The allocation that has it.
        allocation_id: String,
        /// That allocation's CIDR.
        cidr: IpNet,
    },
    /// A plan showed a CIDR whose reservation expired and whose space another holder took.
    #[error("the plan showed {cidr} for {name:?} in pool {pool_id}, but its reservation expired and {holder} ({holder_cidr}) holds that space now; run terraform plan again")]
    StalePlan {
        /// The allocation's name.
        name: String,
        /// The pool.
        pool_id: String,
        /// The CIDR the plan showed.
        cidr: IpNet,
        /// Who holds the space now (an allocation id, a child pool, another plan's reservation).
        holder: String,
        /// The holder's CIDR.
        holder_cidr: IpNet,
    },
    /// A netmask length outside the pool's guardrails.
    #[error("{input} /{len} is outside the guardrails of pool {pool_id}: allowed are /{min} (the largest block, allocation_min_netmask_length) to /{max} (the smallest block, allocation_max_netmask_length)")]
    NetmaskOutOfRange {
        /// The request field.
        input: &'static str,
        /// The prefix length asked for.
        len: u8,
        /// The shortest allowed prefix.
        min: u8,
        /// The longest allowed prefix.
        max: u8,
        /// The pool.
        pool_id: String,
    },
    /// Guardrails that contradict each other or the family.
    #[error("invalid netmask guardrails: {message}")]
    InvalidNetmaskRule {
        /// The field at fault.
        input: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Neither a CIDR nor a netmask length given, and the pool has no default.
    #[error("no netmask length given and pool {pool_id} has no allocation_default_netmask_length; set netmask_length or cidr, or give the pool a default")]
    NoNetmaskLength {
        /// The pool.
        pool_id: String,
    },
    /// Both a CIDR and a different netmask length.
    #[error("cidr {cidr} has prefix length /{} but netmask_length is /{netmask_length}; give one of them, or make them agree", .cidr.prefix_len())]
    CidrLengthMismatch {
        /// The CIDR given.
        cidr: IpNet,
        /// The length given.
        netmask_length: u8,
    },
    /// No free block of the requested size.
    #[error("{}", exhausted_text(*.requested_len, .pool_id, .pool_cidrs, .largest_free, .disallowed))]
    Exhausted {
        /// The prefix length asked for.
        requested_len: u8,
        /// The pool.
        pool_id: String,
        /// The pool's provisioned CIDRs.
        pool_cidrs: Vec<IpNet>,
        /// The largest free block left (lowest address among equals), if any.
        largest_free: Option<IpNet>,
        /// The request's disallowed CIDRs, which may be what ruled the free space out.
        disallowed: Vec<IpNet>,
    },
    /// An allocation lacking tags the pool requires.
    #[error("pool {pool_id} requires every allocation to carry the tags {}; add them to tags", list_tags(.missing))]
    MissingRequiredTags {
        /// The pool.
        pool_id: String,
        /// The required tags (key, value) that are absent or differ.
        missing: Vec<(String, String)>,
    },
    /// Private-use space (RFC 1918, 100.64.0.0/10, fc00::/7, …) in a public scope.
    #[error("cidr {cidr} overlaps the private-use range {range}, which a public-scope pool refuses; use the private scope for it")]
    PrivateSpaceInPublicScope {
        /// The CIDR given.
        cidr: IpNet,
        /// The private-use range it overlaps.
        range: IpNet,
    },
    /// Deleting or deprovisioning something that still holds objects.
    #[error("{kind} {id} is not empty: it holds {contents}; {}", not_empty_advice(*.kind))]
    NotEmpty {
        /// What was to be removed.
        kind: ObjectKind,
        /// Its id.
        id: String,
        /// A summary of what is inside.
        contents: String,
    },
    /// An explicit CIDR that overlaps a block cooling down in a strict pool.
    #[error("cidr {cidr} overlaps {cooling}, released from pool {pool_id} and cooling down until {frees_at} (release_cooldown_mode = \"strict\"); choose another cidr, or apply after {frees_at}")]
    CoolingDown {
        /// The CIDR asked for.
        cidr: IpNet,
        /// The cooling block.
        cooling: IpNet,
        /// The pool.
        pool_id: String,
        /// When it frees, RFC 3339.
        frees_at: String,
    },
    /// A pool locale that is not one of its IPAM's operating regions.
    #[error("locale {locale} is not an operating region of ipam {ipam_id}; use one of {}, or add {locale} to the ipam's operating_regions", .allowed.join(", "))]
    LocaleNotOperatingRegion {
        /// The locale given.
        locale: String,
        /// The IPAM.
        ipam_id: String,
        /// Its operating regions.
        allowed: Vec<String>,
    },
    /// A nested pool whose locale differs from its source pool's.
    #[error("source pool {source_pool_id} has locale {source_locale}, so a pool nested in it must have locale = \"{source_locale}\" (it has {})", .locale.as_deref().unwrap_or("none"))]
    SourcePoolLocale {
        /// The locale given, if any.
        locale: Option<String>,
        /// The source pool.
        source_pool_id: String,
        /// Its locale.
        source_locale: String,
    },
    /// An allocation asking for a locale from a pool of another locale.
    #[error("the allocation asks for locale {locale} but pool {pool_id} serves locale {pool_locale}; allocate from a pool of {locale} (or one without a locale), or change the allocation's locale")]
    LocaleMismatch {
        /// The locale asked for.
        locale: String,
        /// The pool.
        pool_id: String,
        /// The pool's locale.
        pool_locale: String,
    },
    /// Removing operating regions that pools still use as their locale.
    #[error("ipam {ipam_id} cannot drop operating region(s) {} while pools use them as their locale: {}; keep the region(s) in operating_regions, or delete or replace those pools first", .regions.join(", "), .pools.join(", "))]
    RegionInUse {
        /// The IPAM.
        ipam_id: String,
        /// The regions being removed that are in use.
        regions: Vec<String>,
        /// The pools using them, as `pool-id (region)`.
        pools: Vec<String>,
    },
    /// Carving by netmask length from a pool without a source pool.
    #[error("pool {pool_id} has no source pool to carve a cidr from; give an explicit cidr, or set source_pool_id on the pool")]
    NoSourcePool {
        /// The pool.
        pool_id: String,
    },
    /// Deleting a default scope on its own.
    #[error("scope {id} is a default scope of ipam {ipam_id}; it is deleted with its ipam")]
    DefaultScope {
        /// The scope.
        id: String,
        /// Its IPAM.
        ipam_id: String,
    },
    /// Releasing the allocation that backs a child pool's CIDR.
    #[error("allocation {allocation_id} backs pool cidr {pool_cidr_id} of a child pool; deprovision that pool cidr instead")]
    BacksPoolCidr {
        /// The allocation.
        allocation_id: String,
        /// The child pool CIDR.
        pool_cidr_id: String,
    },
    /// Any other invalid argument.
    #[error("invalid {input}: {message}")]
    InvalidArgument {
        /// The field at fault.
        input: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A database written by a newer version of this program.
    #[error("database {path} has schema version {found}, newer than {supported}, the newest this version understands; upgrade terraform-provider-ipam")]
    NewerDatabase {
        /// The database.
        path: String,
        /// Its schema version.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// The storage backend failed.
    #[error("storage error: {message}")]
    Storage {
        /// What the backend reported.
        message: String,
    },
}

impl Error {
    /// The request field this error is about (`"cidr"`, `"netmask_length"`, `"tags"`,
    /// `"allocation_min_netmask_length"`, …), or `None` when it is about no single input.
    pub fn input(&self) -> Option<&'static str> {
        match self {
            Error::InvalidCidr { input, .. }
            | Error::AmbiguousCidr { input, .. }
            | Error::HostBitsSet { input, .. }
            | Error::WrongFamily { input, .. }
            | Error::NetmaskOutOfRange { input, .. }
            | Error::InvalidNetmaskRule { input, .. }
            | Error::InvalidArgument { input, .. } => Some(input),
            Error::SourcePoolFamily { .. } => Some("address_family"),
            Error::SourcePoolScope { .. } => Some("source_pool_id"),
            Error::NameTaken { .. } => Some("name"),
            Error::StalePlan { .. } => Some("cidr"),
            Error::OutsidePool { .. }
            | Error::Overlap { .. }
            | Error::PrivateSpaceInPublicScope { .. }
            | Error::CoolingDown { .. } => Some("cidr"),
            Error::NoNetmaskLength { .. }
            | Error::CidrLengthMismatch { .. }
            | Error::Exhausted { .. }
            | Error::NoSourcePool { .. } => Some("netmask_length"),
            Error::MissingRequiredTags { .. } => Some("tags"),
            Error::LocaleNotOperatingRegion { .. }
            | Error::SourcePoolLocale { .. }
            | Error::LocaleMismatch { .. } => Some("locale"),
            Error::RegionInUse { .. } => Some("operating_regions"),
            Error::NotFound { .. }
            | Error::NotEmpty { .. }
            | Error::DefaultScope { .. }
            | Error::BacksPoolCidr { .. }
            | Error::NewerDatabase { .. }
            | Error::Storage { .. } => None,
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(kind: ObjectKind, id: &str) -> Error {
        Error::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}
