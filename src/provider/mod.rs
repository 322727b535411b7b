//! The IPAM provider: resources and data sources on top of the [`crate::plugin`] layer, backed
//! by a [`crate::store::Store`].
//!
//! # Organization
//! One file per resource or data source, each in the same order: schema (the descriptions are
//! the documentation), validate, plan, apply, read, import.
//! - [`IpamProvider`]: the provider block (`database`, `actor`) and the type registry.
//! - `resource_*`: `ipam`, `ipam_scope`, `ipam_pool`, `ipam_pool_cidr`, `ipam_allocation`.
//! - `data_source_*`: `ipam_pool`, `ipam_pools`, `ipam_pool_cidrs`, `ipam_pool_allocations`,
//!   `ipam_preview_next_cidr`, `ipam_scan` (a compliance scan of Terraform states).
//! - [`docs`]: renders `docs/` from the schemas and `examples/`.

mod common;
mod data_source_pool;
mod data_source_pool_allocations;
mod data_source_pool_cidrs;
mod data_source_preview_next_cidr;
mod data_source_scan;
pub mod docs;
mod resource_allocation;
mod resource_ipam;
mod resource_pool;
mod resource_pool_cidr;
mod resource_scope;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::plugin::{
    async_trait, Attribute, Block, DataSource, Diagnostic, Diagnostics, Provider, Resource, Schema,
    Type, Value,
};
use crate::store::{SqliteOptions, SqliteStore};

pub use common::StoreHandle;

/// The database file used when neither `database` nor `IPAM_DATABASE` is set.
pub const DEFAULT_DATABASE: &str = "terraform-ipam.db";

/// The `ipam` provider.
#[derive(Default)]
pub struct IpamProvider {
    store: StoreHandle,
}

impl IpamProvider {
    /// A provider that opens its database when Terraform configures it.
    pub fn new() -> IpamProvider {
        IpamProvider::default()
    }
}

/// The actor recorded in the audit log when neither `actor` nor `IPAM_ACTOR` is set: the OS user.
fn os_user() -> String {
    for key in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(name) = std::env::var(key) {
            if !name.is_empty() {
                return name;
            }
        }
    }
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(meta) => format!("uid {}", meta.uid()),
        Err(_) => "unknown".to_string(),
    }
}

/// A setting from the configuration, else from the environment, else the default. Unknown values
/// (computed from resources not yet created) cannot configure a provider.
fn setting(
    config: &Value,
    name: &str,
    env: &str,
    default: impl FnOnce() -> String,
) -> Result<String, Diagnostics> {
    match config.attr(name) {
        Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
        Value::String(_) => Err(common::attribute_error(
            name,
            "Invalid Provider Configuration",
            format!("{name} is empty. Remove it to use the default, or give a value."),
        )
        .into()),
        Value::Unknown => Err(common::attribute_error(
            name,
            "Invalid Provider Configuration",
            format!(
                "{name} depends on a value that is only known after apply. The provider must be configured at plan time: use a literal, a variable or the {env} environment variable."
            ),
        )
        .into()),
        _ => Ok(std::env::var(env)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(default)),
    }
}

#[async_trait]
impl Provider for IpamProvider {
    fn type_name(&self) -> &str {
        "ipam"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Manages IP address space — IPAMs, scopes, pools with guardrails, pool CIDRs and allocations that never overlap — in an embedded SQLite database.",
            )
            .attribute(
                Attribute::optional("database", Type::String).description(format!(
                    "Path of the SQLite database file, created on first use (mode 0600). Defaults to the `IPAM_DATABASE` environment variable, else `{DEFAULT_DATABASE}` in the working directory. Root modules that use the same file share one address space."
                )),
            )
            .attribute(Attribute::optional("actor", Type::String).description(
                "Name recorded as the actor of every change in the audit log. Defaults to the `IPAM_ACTOR` environment variable, else the operating-system user.",
            )),
        )
    }

    async fn configure(&self, _terraform_version: &str, config: Value) -> Result<(), Diagnostics> {
        let database = setting(&config, "database", "IPAM_DATABASE", || {
            DEFAULT_DATABASE.to_string()
        })?;
        let actor = setting(&config, "actor", "IPAM_ACTOR", os_user)?;
        let path = PathBuf::from(&database);
        let opened = tokio::task::spawn_blocking(move || {
            SqliteStore::open(&path, SqliteOptions::new(actor))
        })
        .await
        .map_err(|join| {
            Diagnostics::from(Diagnostic::error(
                "Provider Configuration Error",
                format!("opening the database did not complete: {join}"),
            ))
        })?;
        match opened {
            Ok(store) => {
                self.store.install(Arc::new(store));
                Ok(())
            }
            Err(error) => Err(Diagnostic::error(
                "Cannot Open The IPAM Database",
                format!(
                    "Opening {database}: {error}. Check the path (provider attribute `database` or IPAM_DATABASE) and that the directory exists and is writable."
                ),
            )
            .with_attribute(crate::plugin::AttributePath::root("database"))
            .into()),
        }
    }

    fn resources(&self) -> BTreeMap<String, Arc<dyn Resource>> {
        let store = &self.store;
        let mut map: BTreeMap<String, Arc<dyn Resource>> = BTreeMap::new();
        map.insert(
            "ipam".into(),
            Arc::new(resource_ipam::IpamResource::new(store)),
        );
        map.insert(
            "ipam_scope".into(),
            Arc::new(resource_scope::ScopeResource::new(store)),
        );
        map.insert(
            "ipam_pool".into(),
            Arc::new(resource_pool::PoolResource::new(store)),
        );
        map.insert(
            "ipam_pool_cidr".into(),
            Arc::new(resource_pool_cidr::PoolCidrResource::new(store)),
        );
        map.insert(
            "ipam_allocation".into(),
            Arc::new(resource_allocation::AllocationResource::new(store)),
        );
        map
    }

    fn data_sources(&self) -> BTreeMap<String, Arc<dyn DataSource>> {
        let store = &self.store;
        let mut map: BTreeMap<String, Arc<dyn DataSource>> = BTreeMap::new();
        map.insert(
            "ipam_pool".into(),
            Arc::new(data_source_pool::PoolDataSource::new(store)),
        );
        map.insert(
            "ipam_pools".into(),
            Arc::new(data_source_pool::PoolsDataSource::new(store)),
        );
        map.insert(
            "ipam_pool_cidrs".into(),
            Arc::new(data_source_pool_cidrs::PoolCidrsDataSource::new(store)),
        );
        map.insert(
            "ipam_pool_allocations".into(),
            Arc::new(data_source_pool_allocations::PoolAllocationsDataSource::new(store)),
        );
        map.insert(
            "ipam_preview_next_cidr".into(),
            Arc::new(data_source_preview_next_cidr::PreviewNextCidrDataSource::new(store)),
        );
        map.insert(
            "ipam_scan".into(),
            Arc::new(data_source_scan::ScanDataSource::new(store)),
        );
        map
    }
}
