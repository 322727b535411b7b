//! terraform-provider-ipam: a Terraform/OpenTofu provider backed by a self-hosted IP address
//! manager.
//!
//! # Organization
//! The crate is layered; each layer knows only the ones below it.
//! - [`ipam`]: the rules (containment, overlap, netmask guardrails, best-fit allocation) on
//!   `ipnet` types, and the engine that runs every operation against a transactional storage
//!   port. Pure and synchronous: no SQL, no Terraform.
//! - [`store`]: the storage trait (every engine is one), the SQLite backend (schema,
//!   migrations, named SQL, one writer transaction per mutation) and the conformance suite
//!   every backend must pass.
//! - [`plugin`]: the Terraform plugin protocol (tfplugin6 over gRPC, the go-plugin handshake,
//!   values, schemas, diagnostics), independent of IPAM.
//! - [`provider`]: the IPAM resources and data sources on top of the plugin layer.
//! - [`map`]: the address-space map (HTML page and SVG) drawn from a [`store::Store`].
//! - [`cli`]: `ipam`, the operator's command line (tree, show, free, audit, util, check,
//!   backup, map), reading through the store like the provider.

pub mod cli;
pub mod ipam;
pub mod map;
pub mod plugin;
pub mod provider;
pub mod store;
