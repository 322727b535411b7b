//! A small provider used only by the protocol tests and benchmarks (type `plugintest`).
//!
//! - `plugintest_thing`: `id` (computed), `name` (required, forces replacement), `value`
//!   (optional, updated in place), `tags` (map), `settings` (nested attribute). Schema version 1;
//!   version 0 called `value` `label`. Objects live in the state; when `PLUGINTEST_DIR` is set
//!   they are also written there as `<id>.json`, so deleting a file is drift and import works.
//!   A `name` of `panic` panics while planning; a `value` of `sleep` makes apply wait a minute
//!   (for StopProvider tests).
//! - `plugintest_echo` data source: `output` = `input`.
//! - `echo` function: returns its argument (any type).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tfipam::plugin::{
    async_trait, plan, ApplyRequest, ApplyResponse, Attribute, Block, DataSource, Diagnostic,
    Diagnostics, Function, FunctionDefinition, FunctionError, ImportedObject, NestingMode,
    Parameter, PlanRequest, PlanResponse, Provider, ReadRequest, ReadResponse, Resource, Schema,
    Type, Value,
};

fn main() -> ExitCode {
    tfipam::plugin::serve(PluginTest)
}

struct PluginTest;

#[async_trait]
impl Provider for PluginTest {
    fn type_name(&self) -> &str {
        "plugintest"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("A provider for testing the plugin protocol layer.").attribute(
                Attribute::optional("greeting", Type::String)
                    .description("Checked by ValidateProviderConfig: must not be empty."),
            ),
        )
    }

    async fn validate_config(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if config.attr("greeting").as_str() == Some("") {
            diagnostics.push(
                Diagnostic::error("Invalid greeting", "greeting must not be empty.")
                    .with_attribute(tfipam::plugin::AttributePath::root("greeting")),
            );
        }
        diagnostics
    }

    async fn configure(&self, _terraform_version: &str, _config: Value) -> Result<(), Diagnostics> {
        Ok(())
    }

    fn resources(&self) -> BTreeMap<String, Arc<dyn Resource>> {
        BTreeMap::from([(
            "plugintest_thing".to_string(),
            Arc::new(Thing::from_env()) as Arc<dyn Resource>,
        )])
    }

    fn data_sources(&self) -> BTreeMap<String, Arc<dyn DataSource>> {
        BTreeMap::from([(
            "plugintest_echo".to_string(),
            Arc::new(Echo) as Arc<dyn DataSource>,
        )])
    }

    fn functions(&self) -> BTreeMap<String, Arc<dyn Function>> {
        BTreeMap::from([(
            "echo".to_string(),
            Arc::new(EchoFunction) as Arc<dyn Function>,
        )])
    }
}

struct Thing {
    directory: Option<PathBuf>,
}

impl Thing {
    fn from_env() -> Thing {
        Thing {
            directory: std::env::var_os("PLUGINTEST_DIR").map(PathBuf::from),
        }
    }

    fn file(&self, id: &str) -> Option<PathBuf> {
        self.directory
            .as_ref()
            .map(|d| d.join(format!("{id}.json")))
    }

    fn store(&self, state: &Value) -> Result<(), Diagnostics> {
        let (Some(id), Some(path)) = (
            state.attr("id").as_str(),
            self.file(state.attr("id").as_str().unwrap_or("")),
        ) else {
            return Ok(());
        };
        let json = tfipam::plugin::codec::to_json_bytes(state, &self.schema().value_type())
            .map_err(|e| Diagnostics::from(e.to_diagnostic("state")))?;
        std::fs::write(&path, json).map_err(|e| {
            Diagnostics::from(Diagnostic::error(
                "Cannot save thing",
                format!("writing {} for {id}: {e}", path.display()),
            ))
        })
    }

    fn load(&self, id: &str) -> Result<Option<Value>, Diagnostics> {
        let Some(path) = self.file(id) else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                tfipam::plugin::codec::from_json_bytes(&bytes, &self.schema().value_type())
                    .map(Some)
                    .map_err(|e| e.to_diagnostic("stored thing").into())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Diagnostic::error(
                "Cannot read thing",
                format!("{}: {e}", path.display()),
            )
            .into()),
        }
    }
}

fn settings_attributes() -> Vec<Attribute> {
    vec![
        Attribute::optional("size", Type::Number).description("A number, kept exactly."),
        Attribute::optional("enabled", Type::Bool).description("A flag."),
    ]
}

#[async_trait]
impl Resource for Thing {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("A thing that exists only in the state (and in `PLUGINTEST_DIR` when set).")
                .attribute(
                    Attribute::computed("id", Type::String).description("Generated identifier."),
                )
                .attribute(
                    Attribute::required("name", Type::String)
                        .description("Changing it replaces the thing."),
                )
                .attribute(
                    Attribute::optional("value", Type::String).description("Updated in place."),
                )
                .attribute(
                    Attribute::optional("tags", Type::map(Type::String)).description("Tags."),
                )
                .attribute(
                    Attribute::nested("settings", NestingMode::Single, settings_attributes())
                        .description("Nested attributes."),
                ),
        )
        .version(1)
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if let Some(tags) = config.attr("tags").as_entries() {
            for key in tags.keys().filter(|k| k.is_empty()) {
                diagnostics.push(
                    Diagnostic::error("Invalid tag", "Tag keys must not be empty.").with_attribute(
                        tfipam::plugin::AttributePath::root("tags").key(key.clone()),
                    ),
                );
            }
        }
        diagnostics
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
        if request.proposed_new_state.attr("name").as_str() == Some("panic") {
            panic!("plugintest was asked to panic");
        }
        let mut planned = request.proposed_new_state;
        plan::unknown_if_null(&mut planned, &["id"]);
        let requires_replace = plan::requires_replace(&request.prior_state, &planned, &["name"]);
        if !requires_replace.is_empty() {
            planned.set_attr("id", Value::Unknown);
        }
        Ok(PlanResponse {
            planned_state: planned,
            requires_replace,
            planned_private: request.prior_private,
            diagnostics: Diagnostics::new(),
        })
    }

    async fn apply(&self, request: ApplyRequest) -> Result<ApplyResponse, Diagnostics> {
        if request.is_delete() {
            if let Some(path) = request
                .prior_state
                .attr("id")
                .as_str()
                .and_then(|id| self.file(id))
            {
                let _ = std::fs::remove_file(path);
            }
            return Ok(ApplyResponse::new(Value::Null));
        }
        if request.planned_state.attr("value").as_str() == Some("sleep") {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
        let mut state = request.planned_state;
        if state.attr("id").is_unknown() {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|e| {
                Diagnostics::from(Diagnostic::error("No randomness", e.to_string()))
            })?;
            let id: String = random.iter().map(|b| format!("{b:02x}")).collect();
            state.set_attr("id", Value::string(format!("thing-{id}")));
        }
        self.store(&state)?;
        Ok(ApplyResponse {
            new_state: state,
            private: b"plugintest-private".to_vec(),
            diagnostics: Diagnostics::new(),
        })
    }

    async fn read(&self, request: ReadRequest) -> Result<ReadResponse, Diagnostics> {
        if self.directory.is_none() {
            return Ok(ReadResponse::new(request.current_state, request.private));
        }
        let id = request
            .current_state
            .attr("id")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let stored = self.load(&id)?;
        Ok(ReadResponse::new(
            stored.unwrap_or(Value::Null),
            request.private,
        ))
    }

    async fn import(&self, id: &str) -> Result<ImportedObject, Diagnostics> {
        match self.load(id)? {
            Some(state) => Ok(ImportedObject { state, private: Vec::new() }),
            None => Err(Diagnostic::error(
                "Cannot import thing",
                format!("No thing with id {id:?} exists (PLUGINTEST_DIR must be set and hold {id}.json)."),
            )
            .into()),
        }
    }

    async fn upgrade_state(
        &self,
        version: i64,
        raw_state: serde_json::Value,
    ) -> Result<Value, Diagnostics> {
        if version != 0 {
            return Err(Diagnostic::error(
                "Unsupported state version",
                format!("version {version}"),
            )
            .into());
        }
        // Version 0 called `value` `label`.
        let mut raw = raw_state;
        if let Some(object) = raw.as_object_mut() {
            if let Some(label) = object.remove("label") {
                object.insert("value".into(), label);
            }
        }
        tfipam::plugin::codec::from_json(&raw, &self.schema().value_type())
            .map_err(|e| e.to_diagnostic("version 0 state").into())
    }
}

struct Echo;

#[async_trait]
impl DataSource for Echo {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("Echoes its input.")
                .attribute(Attribute::required("input", Type::String).description("Anything."))
                .attribute(Attribute::computed("output", Type::String).description("The input.")),
        )
    }

    async fn read(&self, config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let mut state = config;
        let input = state.attr("input").clone();
        state.set_attr("output", input);
        Ok((state, Diagnostics::new()))
    }
}

struct EchoFunction;

#[async_trait]
impl Function for EchoFunction {
    fn definition(&self) -> FunctionDefinition {
        FunctionDefinition {
            parameters: vec![Parameter::new("value", Type::Dynamic, "Any value.")],
            variadic: None,
            return_type: Type::Dynamic,
            summary: "Returns its argument".into(),
            description: "Returns `value` unchanged.".into(),
            deprecation_message: String::new(),
        }
    }

    async fn call(&self, mut arguments: Vec<Value>) -> Result<Value, FunctionError> {
        arguments
            .pop()
            .ok_or_else(|| FunctionError::new("echo takes one argument"))
    }
}
