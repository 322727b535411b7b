//! `ipam`: the top-level object. Creating one creates its private and public default scopes.

use crate::ipam::{Ipam, IpamUpdate, NewIpam};
use crate::plugin::{
    async_trait, plan, ApplyRequest, ApplyResponse, Attribute, Block, Diagnostics, ImportedObject,
    PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, Type, Value,
};

use super::common::{
    bool_attr, object, optional_string, optional_string_set, optional_tags, string_attr,
    strings_attr, tags_attr, ById, StoreHandle,
};

/// How read and import find the IPAM.
const BY_ID: ById<Ipam> = ById {
    noun: "IPAM",
    get: |store, id| store.get_ipam(id),
    state: IpamResource::state,
};

pub struct IpamResource {
    store: StoreHandle,
}

impl IpamResource {
    pub fn new(store: &StoreHandle) -> IpamResource {
        IpamResource {
            store: store.clone(),
        }
    }

    /// The state of `ipam`, shaped like `like` (the configuration or the prior state).
    fn state(ipam: &Ipam, like: &Value) -> Value {
        object(vec![
            ("id", Value::string(&ipam.id)),
            (
                "description",
                optional_string(&ipam.description, like.attr("description")),
            ),
            (
                "operating_regions",
                optional_string_set(&ipam.operating_regions, like.attr("operating_regions")),
            ),
            ("tags", optional_tags(&ipam.tags, like.attr("tags"))),
            ("cascade", like.attr("cascade").clone()),
            (
                "private_default_scope_id",
                Value::string(&ipam.private_default_scope_id),
            ),
            (
                "public_default_scope_id",
                Value::string(&ipam.public_default_scope_id),
            ),
            ("scope_count", Value::int(ipam.scope_count as i64)),
        ])
    }
}

#[async_trait]
impl Resource for IpamResource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "An IPAM: the top-level container of address space. Creating one also creates its two default scopes, private and public.",
            )
            .attribute(Attribute::computed("id", Type::String).description(
                "The IPAM's id, `ipam-` followed by 16 hexadecimal digits.",
            ))
            .attribute(
                Attribute::optional("description", Type::String)
                    .description("A description of the IPAM."),
            )
            .attribute(
                Attribute::optional("operating_regions", Type::set(Type::String))
                    .description("The regions (any names you use: clouds, sites, data centres) this IPAM plans address space for. When set, every pool's `locale` must be one of them; a region cannot be removed while pools use it as their locale (the plan names them)."),
            )
            .attribute(
                Attribute::optional("tags", Type::map(Type::String))
                    .description("Tags of the IPAM."),
            )
            .attribute(Attribute::optional("cascade", Type::Bool).description(
                "Whether destroying the IPAM also deletes every scope, pool, pool CIDR and allocation in it. When false (the default), destroying an IPAM that still holds pools fails and names them.",
            ))
            .attribute(
                Attribute::computed("private_default_scope_id", Type::String)
                    .description("The id of the IPAM's default private scope."),
            )
            .attribute(
                Attribute::computed("public_default_scope_id", Type::String)
                    .description("The id of the IPAM's default public scope."),
            )
            .attribute(
                Attribute::computed("scope_count", Type::Number)
                    .description("How many scopes the IPAM has, the two default scopes included."),
            ),
        )
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut planned = request.proposed_new_state;
        // dropping an operating region that pools still use is refused here, not at apply
        if let (Some(id), true) = (
            string_attr(&request.prior_state, "id"),
            planned.attr("operating_regions").is_wholly_known(),
        ) {
            let update = IpamUpdate {
                operating_regions: Some(strings_attr(&planned, "operating_regions")),
                ..IpamUpdate::default()
            };
            self.store
                .run("Plan IPAM Error", &self.schema(), move |store| {
                    store.preview_update_ipam(&id, &update)
                })
                .await?;
        }
        plan::unknown_if_null(&mut planned, &plan::computed_attributes(&self.schema()));
        Ok(PlanResponse {
            planned_state: planned,
            planned_private: request.prior_private,
            ..PlanResponse::default()
        })
    }

    async fn apply(&self, request: ApplyRequest) -> Result<ApplyResponse, Diagnostics> {
        let schema = self.schema();
        if request.is_delete() {
            let id = string_attr(&request.prior_state, "id").unwrap_or_default();
            let cascade = bool_attr(&request.prior_state, "cascade");
            self.store
                .delete("Delete IPAM Error", &schema, move |store| {
                    store.delete_ipam(&id, cascade)
                })
                .await?;
            return Ok(ApplyResponse::new(Value::Null));
        }
        let planned = request.planned_state;
        let description = string_attr(&planned, "description").unwrap_or_default();
        let operating_regions = strings_attr(&planned, "operating_regions");
        let tags = tags_attr(&planned, "tags");
        let ipam = if request.prior_state.is_null() {
            let new = NewIpam {
                description,
                operating_regions,
                tags,
            };
            // the root of every other object: the one change that may create the database
            self.store
                .run_creating("Create IPAM Error", &schema, move |store| {
                    store.create_ipam(&new)
                })
                .await?
        } else {
            let id = string_attr(&request.prior_state, "id").unwrap_or_default();
            let update = IpamUpdate {
                description: Some(description),
                operating_regions: Some(operating_regions),
                tags: Some(tags),
            };
            self.store
                .run("Update IPAM Error", &schema, move |store| {
                    store.update_ipam(&id, &update)
                })
                .await?
        };
        Ok(ApplyResponse::new(IpamResource::state(&ipam, &planned)))
    }

    async fn read(&self, request: ReadRequest) -> Result<ReadResponse, Diagnostics> {
        self.store.read_by_id(&BY_ID, &self.schema(), request).await
    }

    async fn import(&self, id: &str) -> Result<ImportedObject, Diagnostics> {
        self.store.import_by_id(&BY_ID, &self.schema(), id).await
    }
}
