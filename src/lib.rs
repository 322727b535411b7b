//! terraform-provider-ipam: a Terraform/OpenTofu provider backed by a self-hosted IP address
//! manager.
//!
//! # Organization
//! The crate is layered; each layer knows only the ones below it.
//! - [`ipam`]: the rules (containment, overlap, netmask guardrails, best-fit allocation) on
//!   `ipnet` types. Pure and synchronous: no SQL, no Terraform.
//! - [`store`]: the storage trait, its SQLite implementation (schema, migrations, one writer
//!   transaction per mutation) and the conformance suite every backend must pass.
//! - [`plugin`]: the Terraform plugin protocol (tfplugin6 over gRPC, the go-plugin handshake,
//!   values, schemas, diagnostics), independent of IPAM.
//! - [`provider`]: the IPAM resources and data sources on top of the plugin layer.
//! - [`compliance`]: scans of Terraform states (any cloud) against the address space: managed,
//!   unmanaged, overlapping, noncompliant and orphaned networks, and adopting them.

pub mod compliance;
pub mod ipam;
pub mod plugin;
pub mod provider;
pub mod store;
