//! The tfplugin6 `Provider` gRPC service: decodes each request against the schema of the
//! resource, data source or function it names, dispatches to the traits, and encodes the answer.
//!
//! Every call runs in its own tokio task, so a panic becomes an error diagnostic and
//! StopProvider can cancel calls in flight; there is no lock around resource calls.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::codec::{self, DecodeError};
use super::data_source::DataSource;
use super::diagnostics::{AttributePath, Diagnostic, Diagnostics};
use super::function::{Function, FunctionDefinition, FunctionError};
use super::logging;
use super::proto::tfplugin6 as pb;
use super::provider::Provider;
use super::resource::{ApplyRequest, MoveStateRequest, PlanRequest, ReadRequest, Resource};
use super::schema::Schema;
use super::types::Type;
use super::value::Value;

struct ResourceEntry {
    resource: Arc<dyn Resource>,
    schema: Schema,
    value_type: Type,
}

struct DataSourceEntry {
    data_source: Arc<dyn DataSource>,
    value_type: Type,
}

struct FunctionEntry {
    function: Arc<dyn Function>,
    definition: FunctionDefinition,
}

/// The gRPC service for one provider. Cheap to clone.
#[derive(Clone)]
pub struct ProviderServer {
    shared: Arc<Shared>,
}

struct Shared {
    provider: Arc<dyn Provider>,
    provider_type: Type,
    resources: HashMap<String, ResourceEntry>,
    data_sources: HashMap<String, DataSourceEntry>,
    functions: HashMap<String, FunctionEntry>,
    schema_response: pb::get_provider_schema::Response,
    stopped: watch::Sender<bool>,
}

impl ProviderServer {
    /// Collects the provider's schemas once; every later call reuses them.
    pub fn new(provider: Arc<dyn Provider>) -> ProviderServer {
        let provider_schema = provider.schema();
        let resources: HashMap<String, ResourceEntry> = provider
            .resources()
            .into_iter()
            .map(|(name, resource)| {
                let schema = resource.schema();
                let value_type = schema.value_type();
                (
                    name,
                    ResourceEntry {
                        resource,
                        schema,
                        value_type,
                    },
                )
            })
            .collect();
        let mut data_source_schemas = HashMap::new();
        let data_sources: HashMap<String, DataSourceEntry> = provider
            .data_sources()
            .into_iter()
            .map(|(name, data_source)| {
                let schema = data_source.schema();
                data_source_schemas.insert(name.clone(), schema.to_proto());
                let value_type = schema.value_type();
                (
                    name,
                    DataSourceEntry {
                        data_source,
                        value_type,
                    },
                )
            })
            .collect();
        let functions: HashMap<String, FunctionEntry> = provider
            .functions()
            .into_iter()
            .map(|(name, function)| {
                let definition = function.definition();
                (
                    name,
                    FunctionEntry {
                        function,
                        definition,
                    },
                )
            })
            .collect();
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(provider_schema.to_proto()),
            resource_schemas: resources
                .iter()
                .map(|(n, e)| (n.clone(), e.schema.to_proto()))
                .collect(),
            data_source_schemas,
            functions: functions
                .iter()
                .map(|(n, e)| (n.clone(), e.definition.to_proto()))
                .collect(),
            ephemeral_resource_schemas: HashMap::new(),
            diagnostics: Vec::new(),
            provider_meta: None,
            server_capabilities: Some(capabilities()),
        };
        let (stopped, _) = watch::channel(false);
        ProviderServer {
            shared: Arc::new(Shared {
                provider_type: provider_schema.value_type(),
                provider,
                resources,
                data_sources,
                functions,
                schema_response,
                stopped,
            }),
        }
    }

    fn resource(&self, type_name: &str) -> Result<&ResourceEntry, Diagnostics> {
        self.shared
            .resources
            .get(type_name)
            .ok_or_else(|| unknown_type("resource", type_name))
    }

    fn data_source(&self, type_name: &str) -> Result<&DataSourceEntry, Diagnostics> {
        self.shared
            .data_sources
            .get(type_name)
            .ok_or_else(|| unknown_type("data source", type_name))
    }

    /// Runs one provider call in its own task: a panic becomes an error diagnostic (the panic
    /// message only, never a backtrace) and StopProvider cancels it. Logs the call at DEBUG
    /// when it ends: what it was about, how long it took and how it ended.
    async fn run<T, F>(&self, call: impl Into<Call>, work: F) -> Result<T, Diagnostics>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Diagnostics>> + Send + 'static,
    {
        let call = call.into();
        let operation = call.rpc;
        let mut stopped = self.shared.stopped.subscribe();
        if *stopped.borrow() {
            return Err(stopped_diagnostic(operation));
        }
        logging::trace(format!("{}: start", call.describe()));
        let started = std::time::Instant::now();
        let task = tokio::spawn(work);
        let abort = task.abort_handle();
        let outcome = tokio::select! {
            joined = task => match joined {
                Ok(result) => result,
                Err(error) if error.is_panic() => {
                    let text = logging::panic_text(error.into_panic().as_ref());
                    Err(Diagnostic::error(
                        "Provider panicked",
                        format!("The provider crashed while handling {operation}: {text}. This is a bug in the provider; please report it."),
                    ).into())
                }
                Err(_) => Err(stopped_diagnostic(operation)),
            },
            _ = stopped.wait_for(|stop| *stop) => {
                abort.abort();
                Err(stopped_diagnostic(operation))
            }
        };
        call.log_end(
            started.elapsed(),
            outcome.as_ref().err(),
            self.shared.provider.log_fields(),
        );
        outcome
    }

    /// A Validate*Config call: `validate` runs (through `run`) on the configuration decoded as
    /// `ty`; a configuration that does not decode is the answer instead. Every outcome is
    /// diagnostics.
    async fn validate<V, F>(
        &self,
        rpc: &'static str,
        config: Option<&pb::DynamicValue>,
        ty: &Type,
        what: &str,
        validate: V,
    ) -> Vec<pb::Diagnostic>
    where
        V: FnOnce(Value) -> F + Send + 'static,
        F: Future<Output = Diagnostics> + Send,
    {
        let config = decode(config, ty, what);
        let result = self
            .run(rpc, async move { Ok(validate(config?).await) })
            .await;
        match result {
            Ok(d) | Err(d) => d.to_proto(),
        }
    }
}

/// What one provider call is about, for its log lines.
struct Call {
    rpc: &'static str,
    /// `tf_resource_type`, `tf_data_source_type` or `tf_function_name`, with the type name.
    subject: Option<(&'static str, String)>,
    /// The object's `id`, when known.
    id: Option<String>,
}

impl From<&'static str> for Call {
    fn from(rpc: &'static str) -> Call {
        Call {
            rpc,
            subject: None,
            id: None,
        }
    }
}

impl Call {
    /// A call about a managed resource; `state` gives the object's `id` when it has one.
    fn resource(rpc: &'static str, type_name: &str, state: &Value) -> Call {
        Call {
            rpc,
            subject: Some(("tf_resource_type", type_name.to_string())),
            id: state.attr("id").as_str().map(str::to_string),
        }
    }

    /// A call about something named by `key` (`tf_data_source_type`, `tf_function_name`).
    fn about(rpc: &'static str, key: &'static str, name: &str) -> Call {
        Call {
            rpc,
            subject: Some((key, name.to_string())),
            id: None,
        }
    }

    /// `ReadResource ipam_pool ipam-pool-…`.
    fn describe(&self) -> String {
        let mut text = self.rpc.to_string();
        for part in [self.subject.as_ref().map(|s| &s.1), self.id.as_ref()]
            .into_iter()
            .flatten()
        {
            text.push(' ');
            text.push_str(part);
        }
        text
    }

    /// The DEBUG line of a finished call, with its fields and `extra` (the provider's).
    fn log_end(
        &self,
        took: std::time::Duration,
        failed: Option<&Diagnostics>,
        extra: Vec<(&'static str, String)>,
    ) {
        if !logging::enabled(logging::Level::Debug) {
            return;
        }
        let millis = format!("{:.3}", took.as_secs_f64() * 1000.0);
        let mut fields: Vec<(&str, String)> = vec![("tf_rpc", self.rpc.to_string())];
        if let Some((key, name)) = &self.subject {
            fields.push((key, name.clone()));
        }
        if let Some(id) = &self.id {
            fields.push(("id", id.clone()));
        }
        fields.extend(extra);
        fields.push(("duration_ms", millis.clone()));
        let message = match failed {
            None => {
                fields.push(("outcome", "ok".to_string()));
                format!("{}: ok in {millis} ms", self.describe())
            }
            Some(diagnostics) => {
                fields.push(("outcome", "error".to_string()));
                fields.push(("error", diagnostics.to_string()));
                format!("{}: failed in {millis} ms: {diagnostics}", self.describe())
            }
        };
        logging::log_fields(logging::Level::Debug, message, &fields);
    }
}

/// What this server supports beyond protocol 6.0.
fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: true,
        move_resource_state: true,
    }
}

fn unknown_type(kind: &str, type_name: &str) -> Diagnostics {
    Diagnostic::error(
        format!("Unknown {kind} type"),
        format!("This provider has no {kind} type {type_name:?}."),
    )
    .into()
}

fn stopped_diagnostic(operation: &str) -> Diagnostics {
    Diagnostic::error(
        "Provider stopped",
        format!("{operation} was cancelled because Terraform asked the provider to stop."),
    )
    .into()
}

fn decode(dynamic: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    let result: Result<Value, DecodeError> = match dynamic {
        Some(dynamic) if !dynamic.msgpack.is_empty() => codec::from_msgpack(&dynamic.msgpack, ty),
        Some(dynamic) if !dynamic.json.is_empty() => codec::from_json_bytes(&dynamic.json, ty),
        _ => Ok(Value::Null),
    };
    result.map_err(|e| e.to_diagnostic(what).into())
}

fn encode(value: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    codec::to_msgpack(value, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| e.to_diagnostic(what).into())
}

fn parse_raw_json(
    raw: Option<&pb::RawState>,
    what: &str,
) -> Result<serde_json::Value, Diagnostics> {
    let raw = raw.ok_or_else(|| {
        Diagnostics::from(Diagnostic::error(
            format!("Missing {what}"),
            "Terraform sent no state.",
        ))
    })?;
    if raw.json.is_empty() {
        return Err(Diagnostic::error(
            format!("Unsupported {what}"),
            "The state is in the legacy flatmap format, which this provider does not read. Upgrade it with an older provider version first.",
        )
        .into());
    }
    serde_json::from_slice(&raw.json).map_err(|e| {
        Diagnostic::error(
            format!("Invalid {what}"),
            format!("The stored state is not valid JSON: {e}."),
        )
        .into()
    })
}

fn diagnostics_of<T>(result: &Result<T, Diagnostics>) -> Vec<pb::Diagnostic> {
    match result {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.to_proto(),
    }
}

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderServer {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        let shared = &self.shared;
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: Vec::new(),
            data_sources: shared
                .data_sources
                .keys()
                .map(|n| pb::get_metadata::DataSourceMetadata {
                    type_name: n.clone(),
                })
                .collect(),
            resources: shared
                .resources
                .keys()
                .map(|n| pb::get_metadata::ResourceMetadata {
                    type_name: n.clone(),
                })
                .collect(),
            functions: shared
                .functions
                .keys()
                .map(|n| pb::get_metadata::FunctionMetadata { name: n.clone() })
                .collect(),
            ephemeral_resources: Vec::new(),
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(self.shared.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let request = request.into_inner();
        let provider = self.shared.provider.clone();
        let diagnostics = self
            .validate(
                "ValidateProviderConfig",
                request.config.as_ref(),
                &self.shared.provider_type,
                "the provider configuration",
                |config| async move { provider.validate_config(&config).await },
            )
            .await;
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics,
        }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let request = request.into_inner();
        let diagnostics = match self.resource(&request.type_name) {
            Ok(entry) => {
                let resource = entry.resource.clone();
                self.validate(
                    "ValidateResourceConfig",
                    request.config.as_ref(),
                    &entry.value_type,
                    "the resource configuration",
                    |config| async move { resource.validate(&config).await },
                )
                .await
            }
            Err(d) => d.to_proto(),
        };
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let request = request.into_inner();
        let diagnostics = match self.data_source(&request.type_name) {
            Ok(entry) => {
                let data_source = entry.data_source.clone();
                self.validate(
                    "ValidateDataResourceConfig",
                    request.config.as_ref(),
                    &entry.value_type,
                    "the data source configuration",
                    |config| async move { data_source.validate(&config).await },
                )
                .await
            }
            Err(d) => d.to_proto(),
        };
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics,
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let request = request.into_inner();
        let result: Result<pb::DynamicValue, Diagnostics> = async {
            let entry = self.resource(&request.type_name)?;
            let raw = parse_raw_json(request.raw_state.as_ref(), "stored state")?;
            let current = entry.schema.version;
            let value = if request.version == current {
                codec::from_json(&raw, &entry.value_type).map_err(|e| Diagnostics::from(e.to_diagnostic("the stored state")))?
            } else if request.version > current {
                return Err(Diagnostic::error(
                    "State written by a newer provider",
                    format!(
                        "The state of this {} was written with schema version {}, but this provider knows versions up to {current}. Use a newer provider version.",
                        request.type_name, request.version
                    ),
                )
                .into());
            } else {
                let resource = entry.resource.clone();
                let version = request.version;
                self.run("UpgradeResourceState", async move { resource.upgrade_state(version, raw).await }).await?
            };
            encode(&value, &entry.value_type, "upgraded state")
        }
        .await;
        Ok(Response::new(pb::upgrade_resource_state::Response {
            diagnostics: diagnostics_of(&result),
            upgraded_state: result.ok(),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(
            pb::get_resource_identity_schemas::Response::default(),
        ))
    }

    async fn upgrade_resource_identity(
        &self,
        request: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        let request = request.into_inner();
        let diagnostics = Diagnostics::from(Diagnostic::error(
            "Resource identity not supported",
            format!(
                "Resource type {:?} has no identity schema.",
                request.type_name
            ),
        ));
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics: diagnostics.to_proto(),
        }))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let request = request.into_inner();
        let provider = self.shared.provider.clone();
        let config = decode(
            request.config.as_ref(),
            &self.shared.provider_type,
            "the provider configuration",
        );
        let version = request.terraform_version;
        let result = self
            .run("ConfigureProvider", async move {
                provider.configure(&version, config?).await
            })
            .await;
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diagnostics_of(&result),
        }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let request = request.into_inner();
        let mut keep_private = request.private.clone();
        let result: Result<(pb::DynamicValue, Diagnostics), Diagnostics> = async {
            let entry = self.resource(&request.type_name)?;
            let current_state = decode(
                request.current_state.as_ref(),
                &entry.value_type,
                "the current state",
            )?;
            let resource = entry.resource.clone();
            let read = ReadRequest {
                current_state,
                private: request.private,
            };
            let call = Call::resource("ReadResource", &request.type_name, &read.current_state);
            let response = self
                .run(call, async move { resource.read(read).await })
                .await?;
            let new_state = encode(&response.new_state, &entry.value_type, "refreshed state")?;
            keep_private = response.private;
            Ok((new_state, response.diagnostics))
        }
        .await;
        Ok(Response::new(match result {
            Ok((new_state, diagnostics)) => pb::read_resource::Response {
                new_state: Some(new_state),
                diagnostics: diagnostics.to_proto(),
                private: keep_private,
                ..Default::default()
            },
            // On failure Terraform keeps what it had.
            Err(diagnostics) => pb::read_resource::Response {
                new_state: request.current_state,
                diagnostics: diagnostics.to_proto(),
                private: keep_private,
                ..Default::default()
            },
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let request = request.into_inner();
        let result: Result<pb::plan_resource_change::Response, Diagnostics> = async {
            let entry = self.resource(&request.type_name)?;
            let ty = &entry.value_type;
            let prior_state = decode(request.prior_state.as_ref(), ty, "the prior state")?;
            let proposed_new_state = decode(
                request.proposed_new_state.as_ref(),
                ty,
                "the proposed new state",
            )?;
            let config = decode(request.config.as_ref(), ty, "the resource configuration")?;
            if proposed_new_state.is_null() {
                // A destroy plan: nothing to decide.
                return Ok(pb::plan_resource_change::Response {
                    planned_state: request.proposed_new_state.clone(),
                    planned_private: request.prior_private.clone(),
                    ..Default::default()
                });
            }
            let resource = entry.resource.clone();
            let plan = PlanRequest {
                config,
                prior_state,
                proposed_new_state,
                prior_private: request.prior_private.clone(),
            };
            let call = Call::resource("PlanResourceChange", &request.type_name, &plan.prior_state);
            let response = self
                .run(call, async move { resource.plan(plan).await })
                .await?;
            Ok(pb::plan_resource_change::Response {
                planned_state: Some(encode(&response.planned_state, ty, "planned state")?),
                requires_replace: response
                    .requires_replace
                    .iter()
                    .map(AttributePath::to_proto)
                    .collect(),
                planned_private: response.planned_private,
                diagnostics: response.diagnostics.to_proto(),
                ..Default::default()
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|diagnostics| {
            pb::plan_resource_change::Response {
                diagnostics: diagnostics.to_proto(),
                ..Default::default()
            }
        })))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let request = request.into_inner();
        let result: Result<pb::apply_resource_change::Response, Diagnostics> = async {
            let entry = self.resource(&request.type_name)?;
            let ty = &entry.value_type;
            let apply = ApplyRequest {
                prior_state: decode(request.prior_state.as_ref(), ty, "the prior state")?,
                planned_state: decode(request.planned_state.as_ref(), ty, "the planned state")?,
                config: decode(request.config.as_ref(), ty, "the resource configuration")?,
                planned_private: request.planned_private.clone(),
            };
            let resource = entry.resource.clone();
            let creating = apply.is_create();
            let state = if creating { &apply.planned_state } else { &apply.prior_state };
            let call = Call::resource("ApplyResourceChange", &request.type_name, state);
            let response = self.run(call, async move { resource.apply(apply).await }).await?;
            if let (true, Some(id)) = (creating, response.new_state.attr("id").as_str()) {
                logging::debug(format!("ApplyResourceChange {}: created {id}", request.type_name));
            }
            if !response.new_state.is_wholly_known() {
                return Err(Diagnostics::from(Diagnostic::error(
                    "Provider produced an invalid value",
                    "The new state still has unknown values after apply. This is a bug in the provider.",
                )));
            }
            Ok(pb::apply_resource_change::Response {
                new_state: Some(encode(&response.new_state, ty, "new state")?),
                private: response.private,
                diagnostics: response.diagnostics.to_proto(),
                ..Default::default()
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|diagnostics| {
            pb::apply_resource_change::Response {
                // The object is unchanged: keep the prior state (null for a failed create).
                new_state: request.prior_state,
                private: request.planned_private,
                diagnostics: diagnostics.to_proto(),
                ..Default::default()
            }
        })))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let request = request.into_inner();
        let result: Result<pb::import_resource_state::ImportedResource, Diagnostics> = async {
            let entry = self.resource(&request.type_name)?;
            let resource = entry.resource.clone();
            let id = request.id.clone();
            let call = Call {
                id: Some(id.clone()),
                ..Call::about(
                    "ImportResourceState",
                    "tf_resource_type",
                    &request.type_name,
                )
            };
            let imported = self
                .run(call, async move { resource.import(&id).await })
                .await?;
            Ok(pb::import_resource_state::ImportedResource {
                type_name: request.type_name.clone(),
                state: Some(encode(
                    &imported.state,
                    &entry.value_type,
                    "imported state",
                )?),
                private: imported.private,
                identity: None,
            })
        }
        .await;
        Ok(Response::new(pb::import_resource_state::Response {
            diagnostics: diagnostics_of(&result),
            imported_resources: result.into_iter().collect(),
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        let request = request.into_inner();
        let result: Result<pb::move_resource_state::Response, Diagnostics> = async {
            let entry = self.resource(&request.target_type_name)?;
            let source_state = parse_raw_json(request.source_state.as_ref(), "source state")?;
            let resource = entry.resource.clone();
            let moved = MoveStateRequest {
                source_provider_address: request.source_provider_address.clone(),
                source_type_name: request.source_type_name.clone(),
                source_schema_version: request.source_schema_version,
                source_state,
                source_private: request.source_private.clone(),
            };
            let response = self
                .run("MoveResourceState", async move {
                    resource.move_state(moved).await
                })
                .await?;
            Ok(pb::move_resource_state::Response {
                target_state: Some(encode(
                    &response.target_state,
                    &entry.value_type,
                    "moved state",
                )?),
                diagnostics: response.diagnostics.to_proto(),
                target_private: response.target_private,
                target_identity: None,
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|diagnostics| {
            pb::move_resource_state::Response {
                diagnostics: diagnostics.to_proto(),
                ..Default::default()
            }
        })))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let request = request.into_inner();
        let result: Result<pb::read_data_source::Response, Diagnostics> = async {
            let entry = self.data_source(&request.type_name)?;
            let config = decode(
                request.config.as_ref(),
                &entry.value_type,
                "the data source configuration",
            )?;
            let data_source = entry.data_source.clone();
            let (state, warnings) = self
                .run(
                    Call::about("ReadDataSource", "tf_data_source_type", &request.type_name),
                    async move { data_source.read(config).await },
                )
                .await?;
            Ok(pb::read_data_source::Response {
                state: Some(encode(&state, &entry.value_type, "data source result")?),
                diagnostics: warnings.to_proto(),
                deferred: None,
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|diagnostics| {
            pb::read_data_source::Response {
                diagnostics: diagnostics.to_proto(),
                ..Default::default()
            }
        })))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        let diagnostics = unknown_type("ephemeral resource", &request.into_inner().type_name);
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: diagnostics.to_proto(),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        let diagnostics = unknown_type("ephemeral resource", &request.into_inner().type_name);
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: diagnostics.to_proto(),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        let diagnostics = unknown_type("ephemeral resource", &request.into_inner().type_name);
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: diagnostics.to_proto(),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        let diagnostics = unknown_type("ephemeral resource", &request.into_inner().type_name);
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: diagnostics.to_proto(),
        }))
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(pb::get_functions::Response {
            functions: self.shared.schema_response.functions.clone(),
            diagnostics: Vec::new(),
        }))
    }

    async fn call_function(
        &self,
        request: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        let request = request.into_inner();
        let result: Result<pb::DynamicValue, FunctionError> = async {
            let entry = self.shared.functions.get(&request.name).ok_or_else(|| {
                FunctionError::new(format!("This provider has no function {:?}.", request.name))
            })?;
            let definition = &entry.definition;
            if request.arguments.len() < definition.parameters.len()
                || (definition.variadic.is_none()
                    && request.arguments.len() > definition.parameters.len())
            {
                return Err(FunctionError::new(format!(
                    "{} takes {} arguments, got {}.",
                    request.name,
                    definition.parameters.len(),
                    request.arguments.len()
                )));
            }
            let mut arguments = Vec::with_capacity(request.arguments.len());
            for (index, argument) in request.arguments.iter().enumerate() {
                let parameter = definition
                    .parameters
                    .get(index)
                    .or(definition.variadic.as_ref());
                let Some(parameter) = parameter else {
                    return Err(FunctionError::argument(index, "unexpected argument"));
                };
                let value = decode(Some(argument), &parameter.ty, "the argument")
                    .map_err(|d| FunctionError::argument(index, d.to_string()))?;
                arguments.push(value);
            }
            let function = entry.function.clone();
            let outcome = self
                .run(
                    "CallFunction",
                    async move { Ok(function.call(arguments).await) },
                )
                .await
                .map_err(|d| FunctionError::new(d.to_string()))?;
            let value = outcome?;
            encode(&value, &definition.return_type, "function result")
                .map_err(|d| FunctionError::new(d.to_string()))
        }
        .await;
        Ok(Response::new(match result {
            Ok(value) => pb::call_function::Response {
                result: Some(value),
                error: None,
            },
            Err(error) => pb::call_function::Response {
                result: None,
                error: Some(error.to_proto()),
            },
        }))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        logging::info("StopProvider: cancelling calls in flight");
        self.shared.stopped.send_replace(true);
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}
