//! The managed resource trait and its request/response types.

use async_trait::async_trait;

use super::diagnostics::{AttributePath, Diagnostic, Diagnostics};
use super::schema::Schema;
use super::value::Value;

/// PlanResourceChange input. `prior_state` is null on create; `proposed_new_state` is
/// Terraform's merge of configuration and prior state (computed attributes not set in the
/// configuration keep their prior value, or are null on create). Destroy plans never reach the
/// resource.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRequest {
    /// The configuration (may contain unknowns).
    pub config: Value,
    /// The current state, null when creating.
    pub prior_state: Value,
    /// Terraform's proposal for the new state.
    pub proposed_new_state: Value,
    /// Private bytes stored with the prior state.
    pub prior_private: Vec<u8>,
}

/// PlanResourceChange output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanResponse {
    /// The planned state: configuration values as given, computed values known or unknown.
    pub planned_state: Value,
    /// Attributes whose change forces replacement (shown as "forces replacement").
    pub requires_replace: Vec<AttributePath>,
    /// Private bytes handed to apply.
    pub planned_private: Vec<u8>,
    /// Warnings.
    pub diagnostics: Diagnostics,
}

impl PlanResponse {
    /// A plan of `planned_state` with nothing else.
    pub fn new(planned_state: Value) -> PlanResponse {
        PlanResponse {
            planned_state,
            ..PlanResponse::default()
        }
    }
}

/// ApplyResourceChange input: create when `prior_state` is null, delete when `planned_state` is
/// null, else update.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplyRequest {
    /// The current state (null on create).
    pub prior_state: Value,
    /// The planned state (null on delete); unknowns are for the provider to fill in.
    pub planned_state: Value,
    /// The configuration (null on delete).
    pub config: Value,
    /// Private bytes from the plan.
    pub planned_private: Vec<u8>,
}

impl ApplyRequest {
    /// True when this apply creates the object.
    pub fn is_create(&self) -> bool {
        self.prior_state.is_null()
    }

    /// True when this apply deletes the object.
    pub fn is_delete(&self) -> bool {
        self.planned_state.is_null()
    }
}

/// ApplyResourceChange output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyResponse {
    /// The new state: wholly known; null after a delete.
    pub new_state: Value,
    /// Private bytes stored with the state.
    pub private: Vec<u8>,
    /// Warnings.
    pub diagnostics: Diagnostics,
}

impl ApplyResponse {
    /// A result of `new_state` with nothing else.
    pub fn new(new_state: Value) -> ApplyResponse {
        ApplyResponse {
            new_state,
            ..ApplyResponse::default()
        }
    }
}

/// ReadResource input.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadRequest {
    /// The state Terraform has.
    pub current_state: Value,
    /// Private bytes stored with it.
    pub private: Vec<u8>,
}

/// ReadResource output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadResponse {
    /// The refreshed state, or null when the object no longer exists (Terraform then drops it
    /// from the state and plans to create it again).
    pub new_state: Value,
    /// Private bytes to store.
    pub private: Vec<u8>,
    /// Warnings.
    pub diagnostics: Diagnostics,
}

impl ReadResponse {
    /// A refreshed state with the private bytes carried over.
    pub fn new(new_state: Value, private: Vec<u8>) -> ReadResponse {
        ReadResponse {
            new_state,
            private,
            diagnostics: Diagnostics::new(),
        }
    }
}

/// One object produced by `terraform import`; Terraform reads it right after.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportedObject {
    /// Its state (at least the attributes `read` needs, usually `id`).
    pub state: Value,
    /// Private bytes.
    pub private: Vec<u8>,
}

/// MoveResourceState input (a `moved` block from another resource type or provider).
#[derive(Clone, Debug, PartialEq)]
pub struct MoveStateRequest {
    /// The provider address of the source (`registry.terraform.io/hashicorp/null`).
    pub source_provider_address: String,
    /// The source resource type.
    pub source_type_name: String,
    /// The source schema version.
    pub source_schema_version: i64,
    /// The source state as raw JSON.
    pub source_state: serde_json::Value,
    /// Private bytes of the source.
    pub source_private: Vec<u8>,
}

/// MoveResourceState output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MoveStateResponse {
    /// The state under this resource's schema.
    pub target_state: Value,
    /// Private bytes.
    pub target_private: Vec<u8>,
    /// Warnings.
    pub diagnostics: Diagnostics,
}

/// A managed resource type. Every method may run concurrently with others (Terraform's
/// `-parallelism`); values are objects of `schema().value_type()`.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The schema (its version drives `upgrade_state`).
    fn schema(&self) -> Schema;

    /// Checks a configuration without side effects (values may be unknown).
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Plans a create or update. The default marks computed attributes that are null in the
    /// proposal as unknown and forces replacement for nothing.
    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut planned = request.proposed_new_state;
        super::plan::unknown_if_null(
            &mut planned,
            &super::plan::computed_attributes(&self.schema()),
        );
        Ok(PlanResponse {
            planned_state: planned,
            planned_private: request.prior_private,
            ..PlanResponse::default()
        })
    }

    /// Creates, updates or deletes. On error the router keeps the prior state (the object is
    /// assumed unchanged), so return errors only when nothing was changed.
    async fn apply(&self, request: ApplyRequest) -> Result<ApplyResponse, Diagnostics>;

    /// Refreshes the state; a null `new_state` means the object is gone.
    async fn read(&self, request: ReadRequest) -> Result<ReadResponse, Diagnostics>;

    /// `terraform import` by id. The default says import is not supported.
    async fn import(&self, _id: &str) -> Result<ImportedObject, Diagnostics> {
        Err(Diagnostic::error(
            "Import not supported",
            "This resource type cannot be imported.",
        )
        .into())
    }

    /// Converts a state stored at an older schema `version` (raw JSON as stored) to a value of
    /// the current schema. Only called for versions below the current one; the current version
    /// is decoded by the router.
    async fn upgrade_state(
        &self,
        version: i64,
        _raw_state: serde_json::Value,
    ) -> Result<Value, Diagnostics> {
        Err(Diagnostic::error(
            "Unsupported state version",
            format!(
                "The state was written with schema version {version}, which this provider version cannot upgrade. Use the provider version that wrote it, or remove the object from the state and import it again."
            ),
        )
        .into())
    }

    /// Accepts a state moved from another resource type. The default refuses.
    async fn move_state(
        &self,
        request: MoveStateRequest,
    ) -> Result<MoveStateResponse, Diagnostics> {
        Err(Diagnostic::error(
            "Move not supported",
            format!(
                "Objects of type {} cannot be moved to this resource type.",
                request.source_type_name
            ),
        )
        .into())
    }
}
