//! The IPAM rules, pure and synchronous: no SQL, no Terraform.
//!
//! # Organization
//! - [`model`]: the domain objects ([`Ipam`], [`Scope`], [`Pool`], [`PoolCidr`], [`Allocation`],
//!   [`AuditEvent`]) and the requests that create or change them.
//! - [`cidr`]: parsing with the host-bits check, address families, private-use ranges, and the
//!   [`Block`] arithmetic the allocator works on.
//! - [`cidr_set`]: set arithmetic on lists of CIDRs (merge, subtract, overlapping pairs) and the
//!   allocator's free space in a parent CIDR once a list of blocks is taken.
//! - [`ula`]: RFC 4193 unique local IPv6 /48 prefixes.
//! - [`netmask`]: the allocation netmask guardrails ([`NetmaskRule`]).
//! - [`allocator`]: the best-fit buddy allocator, written once and generic over a
//!   [`FreeBlockIndex`]; [`MemoryIndex`] is the in-memory index, each storage backend has its
//!   own.
//! - [`engine`]: every operation (allocate, provision, deprovision, cascade deletes, updates,
//!   the consistency check) with all its rules, written once against a transactional port
//!   ([`engine::Backend`], [`engine::Transaction`]) that a storage backend implements.
//! - [`error`]: the public [`Error`] every layer returns.

pub mod allocator;
pub mod cidr;
pub mod cidr_set;
pub mod engine;
pub mod error;
pub mod model;
pub mod netmask;
pub mod ula;

pub use allocator::{
    churn_fragmentation, claim, find_best_fit, find_containing_free, find_first_fit, release,
    FitStrategy, FragmentationReport, FreeBlockIndex, MemoryIndex,
};
pub use cidr::{check_network, parse_cidr, private_use_range_overlapping, AddressFamily, Block};
pub use error::{Error, ObjectKind, Result};
pub use model::*;
pub use netmask::NetmaskRule;
