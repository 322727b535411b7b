//! The provider trait: configuration plus the resources, data sources and functions it serves.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::data_source::DataSource;
use super::diagnostics::Diagnostics;
use super::function::Function;
use super::resource::Resource;
use super::schema::Schema;
use super::value::Value;

/// A Terraform provider. One instance serves one provider process; every method may be called
/// concurrently from many RPCs, so keep state behind `OnceLock`/`Mutex`/`RwLock` as needed.
///
/// `resources()`, `data_sources()` and `functions()` are called once when the server starts,
/// before `configure`: resources that need the configuration should share a handle with the
/// provider (e.g. an `Arc<OnceLock<...>>` that `configure` fills).
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider type name as used in configuration (`ipam`), used for log lines.
    fn type_name(&self) -> &str;

    /// The schema of the `provider "..." { }` block.
    fn schema(&self) -> Schema;

    /// Checks the provider configuration without side effects (values may be unknown).
    async fn validate_config(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Configures the provider before any resource call. `config` is an object of the provider
    /// schema's type; `terraform_version` as reported by Terraform (e.g. `1.11.4`).
    async fn configure(&self, terraform_version: &str, config: Value) -> Result<(), Diagnostics>;

    /// Managed resource types by full type name (`ipam_pool`).
    fn resources(&self) -> BTreeMap<String, Arc<dyn Resource>>;

    /// Key/value fields every call's DEBUG log line carries once the provider is configured
    /// (the IPAM provider's `database`). None by default.
    fn log_fields(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Data source types by full type name.
    fn data_sources(&self) -> BTreeMap<String, Arc<dyn DataSource>> {
        BTreeMap::new()
    }

    /// Provider-defined functions by name (called as `provider::<type>::<name>(...)`).
    fn functions(&self) -> BTreeMap<String, Arc<dyn Function>> {
        BTreeMap::new()
    }
}

/// A provider with no configuration, resources, data sources or functions: what the
/// `terraform-provider-ipam` binary serves until the IPAM resources are wired in.
pub struct EmptyProvider {
    type_name: String,
}

impl EmptyProvider {
    /// An empty provider called `type_name`.
    pub fn new(type_name: &str) -> EmptyProvider {
        EmptyProvider {
            type_name: type_name.to_string(),
        }
    }
}

#[async_trait]
impl Provider for EmptyProvider {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn schema(&self) -> Schema {
        Schema::new(super::schema::Block::default())
    }

    async fn configure(&self, _terraform_version: &str, _config: Value) -> Result<(), Diagnostics> {
        Ok(())
    }

    fn resources(&self) -> BTreeMap<String, Arc<dyn Resource>> {
        BTreeMap::new()
    }
}
