//! The Terraform plugin protocol (tfplugin6 over gRPC), independent of IPAM.
//!
//! # Organization
//! - [`serve`](mod@serve): the go-plugin handshake (magic cookie, protocol version, AutoMTLS, unix socket or
//!   TCP) and the gRPC server; `main` calls [`serve::serve`].
//! - [`Provider`], [`Resource`], [`DataSource`], [`Function`]: the traits a provider implements;
//!   the router ([`server`]) decodes Terraform's requests against their schemas and dispatches.
//! - [`Type`] and [`Value`]: a cty-like value model with null and unknown everywhere, and its
//!   msgpack/JSON wire encodings ([`codec`]).
//! - [`Schema`], [`Block`], [`Attribute`], [`NestedBlock`]: resource and provider schemas.
//! - [`Diagnostic`], [`Diagnostics`], [`AttributePath`]: what users see when something is wrong.
//! - [`plan`]: helpers for PlanResourceChange (unknown computed values, requires-replace paths).
//! - [`invocation`]: which Terraform command started the provider (a destroy's refresh plan looks
//!   like any other plan).
//! - [`logging`]: hclog JSON lines on stderr, levelled by `TF_LOG_PROVIDER` / `TF_LOG`.
//!
//! # Example: a provider with one resource
//! ```no_run
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use tfipam::plugin::{
//!     async_trait, plan, ApplyRequest, ApplyResponse, Attribute, AttributePath, Block, Diagnostic,
//!     Diagnostics, PlanRequest, PlanResponse, Provider, ReadRequest, ReadResponse, Resource, Schema,
//!     Type, Value,
//! };
//!
//! struct Note;
//!
//! #[async_trait]
//! impl Resource for Note {
//!     fn schema(&self) -> Schema {
//!         Schema::new(
//!             Block::new("A note.")
//!                 .attribute(Attribute::computed("id", Type::String).description("Identifier."))
//!                 .attribute(Attribute::required("text", Type::String).description("Forces replacement.")),
//!         )
//!     }
//!
//!     async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
//!         let mut planned = request.proposed_new_state;
//!         if planned.attr("text").as_str() == Some("") {
//!             return Err(Diagnostic::error("Invalid text", "text must not be empty.")
//!                 .with_attribute(AttributePath::root("text"))
//!                 .into());
//!         }
//!         plan::unknown_if_null(&mut planned, &["id"]);
//!         let requires_replace = plan::requires_replace(&request.prior_state, &planned, &["text"]);
//!         Ok(PlanResponse { planned_state: planned, requires_replace, ..PlanResponse::default() })
//!     }
//!
//!     async fn apply(&self, request: ApplyRequest) -> Result<ApplyResponse, Diagnostics> {
//!         if request.is_delete() {
//!             return Ok(ApplyResponse::new(Value::Null));
//!         }
//!         let mut state = request.planned_state;
//!         if state.attr("id").is_unknown() {
//!             state.set_attr("id", Value::string("note-1"));
//!         }
//!         Ok(ApplyResponse::new(state))
//!     }
//!
//!     async fn read(&self, request: ReadRequest) -> Result<ReadResponse, Diagnostics> {
//!         Ok(ReadResponse::new(request.current_state, request.private))
//!     }
//! }
//!
//! struct Notes;
//!
//! #[async_trait]
//! impl Provider for Notes {
//!     fn type_name(&self) -> &str {
//!         "notes"
//!     }
//!     fn schema(&self) -> Schema {
//!         Schema::new(Block::default())
//!     }
//!     async fn configure(&self, _version: &str, _config: Value) -> Result<(), Diagnostics> {
//!         Ok(())
//!     }
//!     fn resources(&self) -> BTreeMap<String, Arc<dyn Resource>> {
//!         BTreeMap::from([("notes_note".to_string(), Arc::new(Note) as Arc<dyn Resource>)])
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     tfipam::plugin::serve(Notes)
//! }
//! ```

pub mod codec;
pub mod data_source;
pub mod diagnostics;
pub mod function;
pub mod invocation;
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
