//! `ipam_scope`: a custom private scope, a routing domain of its own.

use crate::ipam::{NewScope, Scope, ScopeUpdate};
use crate::plugin::{
    async_trait, plan, ApplyRequest, ApplyResponse, Attribute, Block, Diagnostics, ImportedObject,
    PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, Type, Value,
};

use super::common::{
    bool_attr, object, optional_string, optional_tags, string_attr, tags_attr, ById, StoreHandle,
};

/// Attributes whose change replaces the scope.
const REPLACED_BY: &[&str] = &["ipam_id"];

/// How read and import find the scope.
const BY_ID: ById<Scope> = ById {
    noun: "Scope",
    get: |store, id| store.get_scope(id),
    state: ScopeResource::state,
};

pub struct ScopeResource {
    store: StoreHandle,
}

impl ScopeResource {
    pub fn new(store: &StoreHandle) -> ScopeResource {
        ScopeResource {
            store: store.clone(),
        }
    }

    fn state(scope: &Scope, like: &Value) -> Value {
        object(vec![
            ("id", Value::string(&scope.id)),
            ("ipam_id", Value::string(&scope.ipam_id)),
            (
                "description",
                optional_string(&scope.description, like.attr("description")),
            ),
            ("tags", optional_tags(&scope.tags, like.attr("tags"))),
            ("cascade", like.attr("cascade").clone()),
            ("is_default", Value::Bool(scope.is_default)),
            ("pool_count", Value::int(scope.pool_count as i64)),
        ])
    }
}

#[async_trait]
impl Resource for ScopeResource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A custom private scope of an IPAM: a separate routing domain. Pools in different scopes may hold the same CIDRs (for example isolated lab networks); within one scope they never overlap.",
            )
            .attribute(Attribute::computed("id", Type::String).description(
                "The scope's id, `ipam-scope-` followed by 16 hexadecimal digits.",
            ))
            .attribute(
                Attribute::required("ipam_id", Type::String)
                    .description("The IPAM the scope belongs to. Changing it replaces the scope."),
            )
            .attribute(
                Attribute::optional("description", Type::String)
                    .description("A description of the scope."),
            )
            .attribute(
                Attribute::optional("tags", Type::map(Type::String))
                    .description("Tags of the scope."),
            )
            .attribute(Attribute::optional("cascade", Type::Bool).description(
                "Whether destroying the scope also deletes its pools, pool CIDRs and allocations. When false (the default), destroying a scope that still holds pools fails and names them.",
            ))
            .attribute(
                Attribute::computed("is_default", Type::Bool)
                    .description("Whether this is one of the IPAM's default scopes (always false for scopes created by this resource)."),
            )
            .attribute(
                Attribute::computed("pool_count", Type::Number)
                    .description("How many pools the scope holds."),
            ),
        )
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut planned = request.proposed_new_state;
        plan::unknown_if_null(&mut planned, &["id", "is_default", "pool_count"]);
        let requires_replace = plan::requires_replace(&request.prior_state, &planned, REPLACED_BY);
        Ok(PlanResponse {
            planned_state: planned,
            requires_replace,
            planned_private: request.prior_private,
            diagnostics: Diagnostics::new(),
        })
    }

    async fn apply(&self, request: ApplyRequest) -> Result<ApplyResponse, Diagnostics> {
        let schema = self.schema();
        if request.is_delete() {
            let id = string_attr(&request.prior_state, "id").unwrap_or_default();
            let cascade = bool_attr(&request.prior_state, "cascade");
            self.store
                .delete("Delete Scope Error", &schema, move |store| {
                    store.delete_scope(&id, cascade)
                })
                .await?;
            return Ok(ApplyResponse::new(Value::Null));
        }
        let planned = request.planned_state;
        let description = string_attr(&planned, "description").unwrap_or_default();
        let tags = tags_attr(&planned, "tags");
        let scope = if request.prior_state.is_null() {
            let new = NewScope {
                ipam_id: string_attr(&planned, "ipam_id").unwrap_or_default(),
                description,
                tags,
            };
            self.store
                .run("Create Scope Error", &schema, move |store| {
                    store.create_scope(&new)
                })
                .await?
        } else {
            let id = string_attr(&request.prior_state, "id").unwrap_or_default();
            let update = ScopeUpdate {
                description: Some(description),
                tags: Some(tags),
            };
            self.store
                .run("Update Scope Error", &schema, move |store| {
                    store.update_scope(&id, &update)
                })
                .await?
        };
        Ok(ApplyResponse::new(ScopeResource::state(&scope, &planned)))
    }

    async fn read(&self, request: ReadRequest) -> Result<ReadResponse, Diagnostics> {
        self.store.read_by_id(&BY_ID, &self.schema(), request).await
    }

    async fn import(&self, id: &str) -> Result<ImportedObject, Diagnostics> {
        self.store.import_by_id(&BY_ID, &self.schema(), id).await
    }
}
