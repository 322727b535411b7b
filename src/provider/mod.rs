//! The IPAM provider: resources and data sources on top of the [`crate::plugin`] layer, backed
//! by a [`crate::store::Store`], and provider-defined functions that need neither.
//!
//! # Organization
//! One file per resource, data source or function; resources and data sources each in the same
//! order: schema (the descriptions are the documentation), validate, plan, apply, read, import.
//! - [`IpamProvider`]: the provider block (`database`, `actor`) and the type registry.
//! - `resource_*`: `ipam`, `ipam_scope`, `ipam_pool`, `ipam_pool_cidr`, `ipam_allocation`.
//! - `data_source_*`: `ipam_pool`, `ipam_pools`, `ipam_pool_cidrs`, `ipam_pool_allocations`,
//!   `ipam_preview_next_cidr`, `ipam_scan` (a compliance scan of Terraform states).
//! - `function_*`: `cidr_contains`, `cidr_overlaps`, `cidr_merge`, `cidr_subtract`,
//!   `cidr_next_free`, `ula_prefix` (`provider::ipam::NAME`, Terraform >= 1.8). They are pure:
//!   no database and no provider configuration, as OpenTofu calls functions on an unconfigured
//!   provider; `function_common` decodes their arguments.
//! - [`docs`]: renders `docs/` from the schemas and `examples/`.

mod advice;
mod common;
mod data_source_pool;
mod data_source_pool_allocations;
mod data_source_pool_cidrs;
mod data_source_preview_next_cidr;
mod data_source_scan;
mod database;
pub mod docs;
mod function_cidr_contains;
mod function_cidr_merge;
mod function_cidr_next_free;
mod function_cidr_overlaps;
mod function_cidr_subtract;
mod function_common;
mod function_ula_prefix;
mod planned;
mod resource_allocation;
mod resource_ipam;
mod resource_pool;
mod resource_pool_cidr;
mod resource_scope;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::plugin::{
    async_trait, Attribute, Block, DataSource, Diagnostic, Diagnostics, Function, Provider,
    Resource, Schema, Type, Value,
};
use crate::store::SqliteOptions;

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

/// The actor recorded in the audit log when neither `actor` nor `IPAM_ACTOR` is set: the OS user
/// (`$USER` or `$LOGNAME`, else the account name the system has for this process's user).
fn os_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|key| std::env::var(key).ok())
        .find(|name| !name.trim().is_empty())
        .unwrap_or_else(crate::store::current_account)
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

/// `plan_reservation_seconds`, else `IPAM_PLAN_RESERVATION_SECONDS`, else the default.
fn reservation_ttl(config: &Value) -> Result<std::time::Duration, Diagnostics> {
    const NAME: &str = "plan_reservation_seconds";
    let (text, from) = match config.attr(NAME) {
        Value::Number(number) => (number.as_str().to_string(), NAME),
        Value::Unknown => {
            return Err(common::attribute_error(
                NAME,
                "Invalid Provider Configuration",
                format!("{NAME} depends on a value that is only known after apply. The provider must be configured at plan time: use a literal, a variable or the IPAM_PLAN_RESERVATION_SECONDS environment variable."),
            )
            .into())
        }
        _ => match std::env::var("IPAM_PLAN_RESERVATION_SECONDS") {
            Ok(text) if !text.trim().is_empty() => (text.trim().to_string(), "IPAM_PLAN_RESERVATION_SECONDS"),
            _ => return Ok(crate::ipam::engine::DEFAULT_RESERVATION_TTL),
        },
    };
    match text.parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(std::time::Duration::from_secs(seconds)),
        _ => Err(common::attribute_error(
            NAME,
            "Invalid Provider Configuration",
            format!("{from} is {text}, which is not a whole number of seconds above 0. Give for example 3600 (an hour), or remove it for the default."),
        )
        .into()),
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
                "Manages IP address space — IPAMs, scopes, pools with guardrails, pool CIDRs and allocations that never overlap — in an embedded SQLite database or a shared PostgreSQL database.",
            )
            .attribute(
                Attribute::optional("database", Type::String).description(format!(
                    "Path of the SQLite database file, or a PostgreSQL connection string `postgres://user@host:5432/dbname?sslmode=require` (also `postgresql://`; `sslmode` is `disable`, `prefer` (default), `require` or `verify-full` with `sslrootcert=/path/to/root.crt`; the tables live in the schema named by `schema=`, default `ipam`, created on first use; the password may come from `PGPASSWORD`). Defaults to the `IPAM_DATABASE` environment variable, else `{DEFAULT_DATABASE}` in the working directory. Root modules that use the same file share one address space. Only an apply that creates an `ipam` creates the file (mode 0600); a plan, a refresh or a data source never does, and an object in the state that this database never held is an error naming the database, never \"deleted outside Terraform\". A database you can read but not write works for plans and data sources."
                )),
            )
            .attribute(Attribute::optional("plan_reservation_seconds", Type::Number).description(format!(
                "How long, in seconds, a plan's reservation holds the exact CIDR it showed for a named `ipam_allocation` (or a pool CIDR carved by `netmask_length`) before its space may go to others. Each plan of the same allocation renews it; the apply turns it into the allocation. A plan applied after its reservation expired and its space was taken fails, naming the CIDR and who holds it. Defaults to the `IPAM_PLAN_RESERVATION_SECONDS` environment variable, else {} (a day, so a plan can wait for review).",
                crate::ipam::engine::DEFAULT_RESERVATION_TTL.as_secs()
            )))
            .attribute(Attribute::optional("actor", Type::String).description(
                "Name recorded as the actor of every change in the audit log. Defaults to the `IPAM_ACTOR` environment variable, else the operating-system user (`USER` or `LOGNAME`, else the system's account name for the user Terraform runs as).",
            )),
        )
    }

    async fn configure(&self, _terraform_version: &str, config: Value) -> Result<(), Diagnostics> {
        let database = setting(&config, "database", "IPAM_DATABASE", || {
            DEFAULT_DATABASE.to_string()
        })?;
        let actor = setting(&config, "actor", "IPAM_ACTOR", os_user)?;
        let mut options = SqliteOptions::new(actor.clone());
        options.reservation_ttl = reservation_ttl(&config)?;
        let path = PathBuf::from(&database);
        let is_postgres = crate::store::postgres::is_postgres_url(&database);
        let shown = crate::store::postgres::redact(&database);
        let opened = tokio::task::spawn_blocking(move || {
            if is_postgres {
                // a server database exists before any apply: connect (and migrate) now
                let store = crate::store::PostgresStore::connect(&path.to_string_lossy(), actor)?
                    .with_reservation_ttl(options.reservation_ttl);
                Ok(database::Database::connected(shown, Arc::new(store)))
            } else {
                database::Database::configure(&path, options)
            }
        })
        .await
        .map_err(|join| {
            Diagnostics::from(Diagnostic::error(
                "Provider Configuration Error",
                format!("opening the database did not complete: {join}"),
            ))
        })?;
        match opened {
            Ok(opened) => {
                self.store.install(opened);
                Ok(())
            }
            Err(error) => Err(Diagnostic::error(
                "Cannot Open The IPAM Database",
                if crate::store::postgres::is_postgres_url(&database) {
                    format!(
                        "Opening {}: {error}. Check the connection string (provider attribute `database` or IPAM_DATABASE; the password may come from PGPASSWORD), that the server is running and reachable, and the user's password and privileges.",
                        crate::store::postgres::redact(&database)
                    )
                } else {
                    format!(
                        "Opening {database}: {error}. Check the path (provider attribute `database` or IPAM_DATABASE)."
                    )
                },
            )
            .with_attribute(crate::plugin::AttributePath::root("database"))
            .into()),
        }
    }

    fn log_fields(&self) -> Vec<(&'static str, String)> {
        self.store
            .location()
            .map(|location| vec![("database", location)])
            .unwrap_or_default()
    }

    fn resources(&self) -> BTreeMap<String, Arc<dyn Resource>> {
        let store = &self.store;
        // what one plan walk has planned so far, shared by pool CIDRs and allocations
        let claims = planned::PlannedClaims::default();
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
            Arc::new(resource_pool_cidr::PoolCidrResource::new(store, &claims)),
        );
        map.insert(
            "ipam_allocation".into(),
            Arc::new(resource_allocation::AllocationResource::new(store, &claims)),
        );
        map.into_iter()
            .map(|(name, resource)| {
                let guarded: Arc<dyn Resource> =
                    Arc::new(database::Guarded::new(&name, resource, store));
                (name, guarded)
            })
            .collect()
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

    fn functions(&self) -> BTreeMap<String, Arc<dyn Function>> {
        let mut map: BTreeMap<String, Arc<dyn Function>> = BTreeMap::new();
        map.insert(
            "cidr_contains".into(),
            Arc::new(function_cidr_contains::CidrContainsFunction),
        );
        map.insert(
            "cidr_overlaps".into(),
            Arc::new(function_cidr_overlaps::CidrOverlapsFunction),
        );
        map.insert(
            "cidr_merge".into(),
            Arc::new(function_cidr_merge::CidrMergeFunction),
        );
        map.insert(
            "cidr_subtract".into(),
            Arc::new(function_cidr_subtract::CidrSubtractFunction),
        );
        map.insert(
            "cidr_next_free".into(),
            Arc::new(function_cidr_next_free::CidrNextFreeFunction),
        );
        map.insert(
            "ula_prefix".into(),
            Arc::new(function_ula_prefix::UlaPrefixFunction),
        );
        map
    }
}
