//! The Terraform plugin protocol (tfplugin6 over gRPC), independent of IPAM.
//!
//! # Organization
//! - [`serve`]: the go-plugin handshake (magic cookie, protocol version, AutoMTLS, unix socket or
//!   TCP) and the gRPC server; `main` calls [`serve::serve`].
//! - [`Provider`], [`Resource`], [`DataSource`], [`Function`]: the traits a provider implements;
//!   the router ([`server`]) decodes Terraform's requests against their schemas and dispatches.
//! - [`Type`] and [`Value`]: a cty-like value model with null and unknown everywhere, and its
//!   msgpack/JSON wire encodings ([`codec`]).
//! - [`Schema`], [`Block`], [`Attribute`], [`NestedBlock`]: resource and provider schemas.
//! - [`Diagnostic`], [`Diagnostics`], [`AttributePath`]: what users see when something is wrong.
//! - [`plan`]: helpers for PlanResourceChange (unknown computed values, requires-replace paths).
//! - [`logging`]: hclog JSON lines on stderr, levelled by `TF_LOG_PROVIDER` / `TF_LOG`.

pub mod codec;
pub mod data_source;
pub mod diagnostics;
pub mod function;
pub mod logging;
pub mod plan;
pub mod provider;
pub mod resource;
pub mod schema;
pub mod serve;
pub mod server;
mod tls;
pub mod types;
pub mod value;

pub use data_source::DataSource;
pub use diagnostics::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use function::{Function, FunctionDefinition, FunctionError, Parameter};
pub use provider::Provider;
pub use resource::{
    ApplyRequest, ApplyResponse, ImportedObject, MoveStateRequest, MoveStateResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource,
};
pub use schema::{
    Attribute, Block, BlockNesting, NestedAttributes, NestedBlock, NestingMode, Schema,
};
pub use serve::serve;
pub use types::Type;
pub use value::{Number, Value};

/// Re-exported so implementations can write `#[tfipam::plugin::async_trait]`.
pub use async_trait::async_trait;

/// Code generated from `proto/` by `build.rs`.
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod proto {
    /// The protobuf well-known types used by the protocol (Timestamp, Empty).
    pub mod google {
        /// `google.protobuf`.
        pub mod protobuf {
            tonic::include_proto!("google.protobuf");
        }
    }
    /// Terraform's provider protocol, version 6.
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    /// go-plugin's services (controller, stdio, broker).
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}
