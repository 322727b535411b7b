//! `ipam_allocation`: a block allocated from a pool, by size (the next free block, best fit) or as
//! an explicit CIDR. Every input is checked at plan time as far as it is known, and again inside
//! the apply transaction.

use crate::ipam::{Allocation, AllocationRequest, AllocationUpdate};
use crate::plugin::{
    async_trait, plan, ApplyRequest, ApplyResponse, Attribute, AttributePath, Block, Diagnostic,
    Diagnostics, ImportedObject, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource,
    Schema, Type, Value,
};

use super::common::{
    attribute_error, cidr_attr, cidr_value, cidrs_attr, object, optional_cidr_set, optional_string,
    optional_tags, prefix_len_attr, sentence, string_attr, tags_attr, StoreHandle,
};

/// Attributes whose change replaces the allocation (it moves to another block).
const REPLACED_BY: &[&str] = &[
    "pool_id",
    "cidr",
    "netmask_length",
    "disallowed_cidrs",
    "locale",
];

pub struct AllocationResource {
    store: StoreHandle,
}

impl AllocationResource {
    pub fn new(store: &StoreHandle) -> AllocationResource {
        AllocationResource {
            store: store.clone(),
        }
    }

    fn state(allocation: &Allocation, like: &Value) -> Value {
        object(vec![
            ("id", Value::string(&allocation.id)),
            ("pool_id", Value::string(&allocation.pool_id)),
            ("cidr", cidr_value(&allocation.cidr, like.attr("cidr"))),
            (
                "netmask_length",
                Value::int(i64::from(allocation.cidr.prefix_len())),
            ),
            (
                "disallowed_cidrs",
                optional_cidr_set(&allocation.disallowed_cidrs, like.attr("disallowed_cidrs")),
            ),
            (
                "description",
                optional_string(&allocation.description, like.attr("description")),
            ),
            ("tags", optional_tags(&allocation.tags, like.attr("tags"))),
            ("locale", like.attr("locale").clone()),
        ])
    }

    /// The allocation a configuration asks for, or `None` while any input it needs is unknown.
    fn request(config: &Value) -> Result<Option<AllocationRequest>, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let cidr = cidr_attr(config, "cidr", "Invalid Allocation CIDR")
            .map_err(|d| diagnostics.push(d))
            .ok()
            .flatten();
        let netmask_length = prefix_len_attr(config, "netmask_length")
            .map_err(|d| diagnostics.push(d))
            .ok()
            .flatten();
        let disallowed_cidrs = cidrs_attr(config, "disallowed_cidrs", "Invalid Disallowed CIDR")
            .map_err(|d| diagnostics.push(d))
            .unwrap_or_default();
        if let (Some(cidr), Some(length)) = (cidr, netmask_length) {
            if cidr.prefix_len() != length {
                diagnostics.push(attribute_error(
                    "netmask_length",
                    "Conflicting Allocation Arguments",
                    format!(
                        "cidr {cidr} is a /{} but netmask_length is {length}. Give only cidr (its length is its own), or make them agree.",
                        cidr.prefix_len()
                    ),
                ));
            }
        }
        if diagnostics.has_errors() {
            return Err(diagnostics);
        }
        let known = [
            "pool_id",
            "cidr",
            "netmask_length",
            "disallowed_cidrs",
            "tags",
            "locale",
        ]
        .iter()
        .all(|name| config.attr(name).is_wholly_known());
        let Some(pool_id) = string_attr(config, "pool_id").filter(|_| known) else {
            return Ok(None);
        };
        Ok(Some(AllocationRequest {
            pool_id,
            netmask_length,
            cidr,
            disallowed_cidrs,
            description: string_attr(config, "description").unwrap_or_default(),
            tags: tags_attr(config, "tags"),
            locale: string_attr(config, "locale"),
        }))
    }
}

#[async_trait]
impl Resource for AllocationResource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A block of addresses allocated from a pool. Without `cidr` it takes the next free block of `netmask_length` (or the pool's default length): best fit, the smallest free block that holds it, lowest address first. With `cidr` it takes exactly that block. Two allocations never overlap, whatever the parallelism and however many Terraform processes share the database; every conflict is reported at plan time where the inputs are known, and checked again when the allocation is made.",
            )
            .attribute(Attribute::computed("id", Type::String).description(
                "The allocation's id, `ipam-alloc-` followed by 16 hexadecimal digits.",
            ))
            .attribute(Attribute::required("pool_id", Type::String).description(
                "The pool to allocate from. Changing it replaces the allocation.",
            ))
            .attribute(Attribute::optional_computed("cidr", Type::String).description(
                "The allocated CIDR. Give it to take an explicit block (no host bits set, of the pool's family, inside one of the pool's CIDRs, within its guardrails and free); otherwise it is known after apply. Changing it replaces the allocation.",
            ))
            .attribute(Attribute::optional_computed("netmask_length", Type::Number).description(
                "The prefix length of the block to take, within the pool's guardrails; defaults to the pool's `allocation_default_netmask_length`. Changing it replaces the allocation.",
            ))
            .attribute(Attribute::optional("disallowed_cidrs", Type::set(Type::String)).description(
                "CIDRs the next free block must not overlap (for example ranges reserved for something else). Changing it replaces the allocation.",
            ))
            .attribute(
                Attribute::optional("description", Type::String)
                    .description("A description of what uses the block."),
            )
            .attribute(Attribute::optional("tags", Type::map(Type::String)).description(
                "Tags of the allocation; it must carry every tag in the pool's `allocation_resource_tags`.",
            ))
            .attribute(Attribute::optional("locale", Type::String).description(
                "Where the block is used (a region such as `eu-west-1`). A pool with another locale refuses the allocation at plan, naming both; a pool without a locale serves any. Changing it replaces the allocation.",
            )),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        match AllocationResource::request(config) {
            Ok(_) => Diagnostics::new(),
            Err(diagnostics) => diagnostics,
        }
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut planned = request.proposed_new_state;
        let mut diagnostics = Diagnostics::new();
        if request.prior_state.is_null() {
            if let Some(wanted) = AllocationResource::request(&request.config)? {
                let explicit = wanted.cidr;
                let warning = self
                    .store
                    .run("Plan Allocation Error", &self.schema(), move |store| {
                        store.preview_allocation_warning(&wanted)
                    })
                    .await?;
                if let Some(warning) = warning {
                    diagnostics.push(
                        Diagnostic::warning(
                            "Pool Utilization Warning",
                            sentence(&warning.to_string()),
                        )
                        .with_attribute(AttributePath::root("pool_id")),
                    );
                }
                if let Some(cidr) = explicit {
                    planned.set_attr("netmask_length", Value::int(i64::from(cidr.prefix_len())));
                }
            }
        }
        plan::unknown_if_null(&mut planned, &["id", "cidr", "netmask_length"]);
        let requires_replace = plan::requires_replace(&request.prior_state, &planned, REPLACED_BY);
        Ok(PlanResponse {
            planned_state: planned,
            requires_replace,
            planned_private: request.prior_private,
            diagnostics,
        })
    }

    async fn apply(&self, request: ApplyRequest) -> Result<ApplyResponse, Diagnostics> {
        let schema = self.schema();
        if request.is_delete() {
            let id = string_attr(&request.prior_state, "id").unwrap_or_default();
            self.store
                .delete("Release Allocation Error", &schema, move |store| {
                    store.release_allocation(&id)
                })
                .await?;
            return Ok(ApplyResponse::new(Value::Null));
        }
        let allocation = if request.prior_state.is_null() {
            let Some(wanted) = AllocationResource::request(&request.config)? else {
                return Err(attribute_error(
                    "pool_id",
                    "Create Allocation Error",
                    "Some inputs are still unknown at apply; this is a bug in the provider.",
                )
                .into());
            };
            self.store
                .run("Create Allocation Error", &schema, move |store| {
                    store.allocate(&wanted)
                })
                .await?
        } else {
            let id = string_attr(&request.prior_state, "id").unwrap_or_default();
            let update = AllocationUpdate {
                description: Some(
                    string_attr(&request.planned_state, "description").unwrap_or_default(),
                ),
                tags: Some(tags_attr(&request.planned_state, "tags")),
            };
            self.store
                .run("Update Allocation Error", &schema, move |store| {
                    store.update_allocation(&id, &update)
                })
                .await?
        };
        Ok(ApplyResponse::new(AllocationResource::state(
            &allocation,
            &request.config,
        )))
    }

    async fn read(&self, request: ReadRequest) -> Result<ReadResponse, Diagnostics> {
        let schema = self.schema();
        self.store
            .read_by_id(
                "Allocation",
                &schema,
                request,
                |store, id| store.get_allocation(id),
                AllocationResource::state,
            )
            .await
    }

    async fn import(&self, id: &str) -> Result<ImportedObject, Diagnostics> {
        let schema = self.schema();
        self.store
            .import_by_id(
                "Allocation",
                &schema,
                id,
                |store, id| store.get_allocation(id),
                AllocationResource::state,
            )
            .await
    }
}
