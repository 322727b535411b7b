//! `ipam_allocation`: a block allocated from a pool, by size (the next free block, best fit) or as
//! an explicit CIDR. Every input is checked at plan time as far as it is known, and again inside
//! the apply transaction.

use ipnet::IpNet;

use crate::ipam::{
    missing_required_tags, Allocation, AllocationRequest, AllocationUpdate, CooldownMode, Error,
    ReleaseCooldown, UtilizationWarning,
};
use crate::plugin::invocation::terraform_is_destroying;
use crate::plugin::{
    async_trait, plan, ApplyRequest, ApplyResponse, Attribute, AttributePath, Block, Diagnostic,
    Diagnostics, ImportedObject, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource,
    Schema, Type, Value,
};

use super::advice;
use super::common::{
    attribute_error, cidr_attr, cidr_value, cidrs_attr, error_diagnostic, object,
    optional_cidr_set, optional_string, optional_string_opt, optional_tags, prefix_len_attr,
    sentence, string_attr, tags_attr, ById, StoreHandle,
};
use super::planned::{addresses, Conflict, PlannedClaims};

/// Attributes whose change replaces the allocation (it moves to another block).
const REPLACED_BY: &[&str] = &[
    "pool_id",
    "cidr",
    "netmask_length",
    "disallowed_cidrs",
    "locale",
];

/// How read and import find the allocation.
const BY_ID: ById<Allocation> = ById {
    noun: "Allocation",
    get: |store, id| store.get_allocation(id),
    state: AllocationResource::state,
};

pub struct AllocationResource {
    store: StoreHandle,
    /// What this process has planned so far (conflicts between the configuration's own
    /// allocations; space its pool CIDRs add), shared with `ipam_pool_cidr`.
    claims: PlannedClaims,
}

impl AllocationResource {
    pub fn new(store: &StoreHandle, claims: &PlannedClaims) -> AllocationResource {
        AllocationResource {
            store: store.clone(),
            claims: claims.clone(),
        }
    }

    fn state(allocation: &Allocation, like: &Value) -> Value {
        object(vec![
            ("id", Value::string(&allocation.id)),
            ("pool_id", Value::string(&allocation.pool_id)),
            (
                "name",
                optional_string_opt(allocation.name.as_deref(), like.attr("name")),
            ),
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

    /// The plan-time check of a new allocation, the CIDR it plans when it can show one, and the
    /// pool's utilization warning when the allocation pushes it past its threshold. A named
    /// allocation by length reserves its block; otherwise the store's exact preview (every rule
    /// against what exists), then the conflicts with the allocations planned before it in this
    /// plan.
    async fn check_create(
        &self,
        wanted: AllocationRequest,
        name: Option<String>,
    ) -> Result<Planned, Diagnostics> {
        self.check_new(wanted, name).await.map_err(advice::at_plan)
    }

    async fn check_new(
        &self,
        wanted: AllocationRequest,
        name: Option<String>,
    ) -> Result<Planned, Diagnostics> {
        if let Some(name) = name {
            let request = wanted.clone();
            // the allocation of that name this plan replaces may still have the name
            let replaced = self.claims.replaced_named(&wanted.pool_id, &name);
            // unnamed allocations planned before it in this plan must keep their room
            let unnamed = self.claims.has_unnamed(&wanted.pool_id);
            // A reserved block is out of the pool's free space already (for the store and for
            // the free addresses the claims of unnamed allocations are counted against), so it
            // is not claimed again here.
            match reservation(&self.store, move |store| {
                // the warning as the allocation would make it now (checked again by reserving)
                let warning = store.preview_allocation_warning(&request).ok().flatten();
                let cidr = match &replaced {
                    Some(id) => store.reserve_replacement(&request, &name, id)?,
                    None => store.reserve_allocation(&request, &name)?,
                };
                let free = if unnamed {
                    store
                        .list_pool_cidrs(&request.pool_id)?
                        .iter()
                        .map(|usage| usage.free_addresses)
                        .fold(0u128, u128::saturating_add)
                } else {
                    0
                };
                Ok((cidr, warning, free))
            })
            .await?
            {
                Ok(Some((cidr, warning, free))) => {
                    if unnamed {
                        self.claims
                            .check_room(&wanted.pool_id, free, cidr)
                            .map_err(|conflict| {
                                attribute_error(
                                    if wanted.netmask_length.is_some() {
                                        "netmask_length"
                                    } else {
                                        "pool_id"
                                    },
                                    PLAN_SUMMARY,
                                    sentence(&conflict.message()),
                                )
                            })?;
                    }
                    return Ok((Some(cidr), warning));
                }
                // a database this user cannot write: the checks still run, on a preview
                Ok(None) => {}
                Err(error) => return self.refused(&wanted, error).map(|()| (None, None)),
            }
        }
        let request = wanted.clone();
        let previewed = self
            .store
            .try_run(move |store| {
                let block = store.preview_allocation(&request)?;
                let free = store
                    .list_pool_cidrs(&request.pool_id)?
                    .iter()
                    .map(|usage| usage.free_addresses)
                    .fold(0u128, u128::saturating_add);
                // a soft cooldown hands cooling blocks out when nothing else fits: they are
                // room for this plan too
                let soft = matches!(
                    store.get_pool(&request.pool_id)?.release_cooldown,
                    Some(ReleaseCooldown {
                        mode: CooldownMode::Soft,
                        ..
                    })
                );
                let cooling = if soft {
                    store
                        .list_cooling_blocks(&request.pool_id)?
                        .iter()
                        .map(|cooling| addresses(&cooling.cidr))
                        .fold(0u128, u128::saturating_add)
                } else {
                    0
                };
                let free = free.saturating_add(cooling);
                let warning = store.preview_allocation_warning(&request)?;
                Ok((block, free, warning))
            })
            .await?;
        match previewed {
            Ok((block, free, warning)) => self
                .claims
                .claim(&wanted, block, free)
                .map(|()| (None, warning))
                .map_err(|conflict| {
                    let attribute = match (&conflict, wanted.netmask_length) {
                        (Conflict::Overlap { .. }, _) => "cidr",
                        (_, Some(_)) => "netmask_length",
                        (_, None) => "pool_id",
                    };
                    attribute_error(attribute, PLAN_SUMMARY, sentence(&conflict.message())).into()
                }),
            Err(error) => self.refused(&wanted, error).map(|()| (None, None)),
        }
    }

    /// A plan-time refusal of the store, unless the space may be what this plan releases (a
    /// replaced allocation) or provisions (a pool CIDR) before this allocation is made.
    fn refused(&self, wanted: &AllocationRequest, error: Error) -> Result<(), Diagnostics> {
        match error {
            Error::Overlap { .. } | Error::Exhausted { .. } | Error::OutsidePool { .. }
                if self
                    .claims
                    .may_be_freed_first(&wanted.pool_id, wanted.cidr.as_ref()) =>
            {
                Ok(())
            }
            error => Err(error_diagnostic(PLAN_SUMMARY, &self.schema(), &error).into()),
        }
    }

    /// The plan-time check of an in-place update: the tags must still carry what the pool
    /// requires. A plan that changes nothing is not checked (there is nothing to apply).
    async fn check_update(&self, prior: &Value, planned: &Value) -> Result<(), Diagnostics> {
        if !planned.attr("tags").is_wholly_known()
            || !plan::changes_except::<&str>(prior, planned, &[])
        {
            return Ok(());
        }
        let Some(pool_id) = string_attr(prior, "pool_id") else {
            return Ok(());
        };
        let tags = tags_attr(planned, "tags");
        self.store
            .run("Plan Allocation Error", &self.schema(), move |store| {
                let pool = store.get_pool(&pool_id)?;
                let missing = missing_required_tags(&pool.allocation_resource_tags, &tags);
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(Error::MissingRequiredTags { pool_id, missing })
                }
            })
            .await
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
            "name",
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

/// What a plan-time check of a new allocation gives: the CIDR it plans (a named allocation's
/// reservation), and the pool's utilization warning.
type Planned = (Option<IpNet>, Option<UtilizationWarning>);

/// What plan-time errors of an allocation are reported as.
const PLAN_SUMMARY: &str = "Plan Allocation Error";

/// Runs a plan-time reservation: its CIDR; `None` (known after apply) when the database cannot
/// take it (read-only for this user, or a storage failure: the apply reports it); or the rule
/// error (exhausted pool, guardrails, a stale plan).
pub(super) async fn reservation<T, F>(
    store: &StoreHandle,
    call: F,
) -> Result<crate::ipam::Result<Option<T>>, Diagnostics>
where
    T: Send + 'static,
    F: FnOnce(&dyn crate::store::Store) -> crate::ipam::Result<T> + Send + 'static,
{
    Ok(match store.try_run(call).await? {
        Ok(planned) => Ok(Some(planned)),
        Err(Error::Storage { .. }) => Ok(None),
        Err(error) => Err(error),
    })
}

#[async_trait]
impl Resource for AllocationResource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A block of addresses allocated from a pool. Without `cidr` it takes the next free block of `netmask_length` (or the pool's default length): best fit, the smallest free block that holds it, lowest address first. With `cidr` it takes exactly that block. Two allocations never overlap, whatever the parallelism and however many Terraform processes share the database.\n\n**Checked at plan** (once `pool_id` and the other arguments are known): the CIDR's form and family, the pool's guardrails and required tags, whether the CIDR lies inside the pool and is free, whether a block of the size is free, and — across the allocations of one plan — explicit CIDRs that overlap each other and blocks that add up to more addresses than the pool has free. An in-place update is checked against the pool's required tags. **Checked only at apply**: everything when the pool is created in the same run (its id is unknown at plan), a pool too fragmented for the planned sizes, and space taken by another process between plan and apply. Every check runs again inside the transaction that makes the allocation. During `terraform destroy` the provider skips the plan-time checks of creates and updates (Terraform plans them and throws them away), so a destroy works after any failed apply. Details: `docs/plan-and-apply.md`.\n\nWith `count`, instances are created in parallel (`-parallelism`, default 10), so the index order is not the address order: `ipam_allocation.x[0]` may get a higher CIDR than `x[1]`. Sort the CIDRs (or give explicit ones) where the order matters.",
            )
            .attribute(Attribute::computed("id", Type::String).description(
                "The allocation's id, `ipam-alloc-` followed by 16 hexadecimal digits.",
            ))
            .attribute(Attribute::required("pool_id", Type::String).description(
                "The pool to allocate from. Take it from the pool CIDR the block should come from (`ipam_pool_cidr.NAME.pool_id`) rather than from the pool: Terraform then allocates after that CIDR is provisioned and releases before it is deprovisioned, with no `depends_on`. Changing it replaces the allocation.",
            ))
            .attribute(Attribute::optional("name", Type::String).description(
                "A name that identifies the allocation within its pool, unique among the pool's live allocations (for example `\"app-${count.index}\"` or a `for_each` key). With a name, an allocation by length plans its exact `cidr`: the plan reserves the block in the database (keyed by pool and name, for the provider's `plan_reservation_seconds`), the apply takes exactly that block, and everything built from `cidr` is known at plan. Without a name the provider cannot recognise the same allocation when Terraform plans it again during apply, so `cidr` stays known after apply. Renaming keeps the block.",
            ))
            .attribute(Attribute::optional_computed("cidr", Type::String).description(
                "The allocated CIDR. Give it to take an explicit block (no host bits set, of the pool's family, inside one of the pool's CIDRs, within its guardrails and free). Otherwise it is known at plan when the allocation has a `name` and every input is known (the plan reserves it), and known after apply when not (no name, inputs known only after apply, or a database this user can only read). Changing it replaces the allocation.",
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
        let creating = request.prior_state.is_null();
        let wanted = if creating {
            AllocationResource::request(&request.config)?
        } else {
            None
        };
        if creating {
            // an explicit CIDR's length is its own, known whether or not the pool is yet
            if let Ok(Some(cidr)) = cidr_attr(&request.config, "cidr", "") {
                planned.set_attr("netmask_length", Value::int(i64::from(cidr.prefix_len())));
            }
        }
        // A destroy's refresh plan throws its creates and updates away: checking (or reserving)
        // them could only stop the destroy (see docs/plan-and-apply.md).
        let checked = !terraform_is_destroying();
        let mut diagnostics = Diagnostics::new();
        if let (Some(wanted), true) = (wanted, checked) {
            let name = string_attr(&request.config, "name").filter(|_| wanted.cidr.is_none());
            let (cidr, warning) = self.check_create(wanted, name).await?;
            if let Some(cidr) = cidr {
                planned.set_attr("cidr", cidr_value(&cidr, request.config.attr("cidr")));
                planned.set_attr("netmask_length", Value::int(i64::from(cidr.prefix_len())));
            }
            if let Some(warning) = warning {
                diagnostics.push(
                    Diagnostic::warning("Pool Utilization Warning", sentence(&warning.to_string()))
                        .with_attribute(AttributePath::root("pool_id")),
                );
            }
        }
        plan::unknown_if_null(&mut planned, &["id", "cidr", "netmask_length"]);
        let requires_replace = plan::requires_replace(&request.prior_state, &planned, REPLACED_BY);
        if checked && !creating {
            if requires_replace.is_empty() {
                self.check_update(&request.prior_state, &planned).await?;
            } else if let (Some(pool_id), Ok(Some(block)), Some(id)) = (
                string_attr(&request.prior_state, "pool_id"),
                cidr_attr(&request.prior_state, "cidr", ""),
                string_attr(&request.prior_state, "id"),
            ) {
                let name = string_attr(&request.prior_state, "name");
                self.claims.replacing(&pool_id, block, &id, name.as_deref());
            }
        }
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
                    "some inputs are still unknown at apply; this is a bug in the provider.",
                )
                .into());
            };
            let name = string_attr(&request.config, "name");
            // the CIDR the plan showed (a reservation's), to be given exactly or refused
            let planned = cidr_attr(&request.planned_state, "cidr", "Invalid Allocation CIDR")
                .ok()
                .flatten();
            // forget an unnamed allocation's plan-time claim before the store counts it as used
            // (a named one has none: its reservation is what the store turns into it)
            if name.is_none() {
                self.claims.release(&wanted);
            }
            self.store
                .run(
                    "Create Allocation Error",
                    &schema,
                    move |store| match name {
                        Some(name) => store.allocate_named(&wanted, &name, planned),
                        None => store.allocate(&wanted),
                    },
                )
                .await?
        } else {
            let id = string_attr(&request.prior_state, "id").unwrap_or_default();
            let update = AllocationUpdate {
                name: Some(string_attr(&request.planned_state, "name")),
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
        self.store.read_by_id(&BY_ID, &self.schema(), request).await
    }

    async fn import(&self, id: &str) -> Result<ImportedObject, Diagnostics> {
        self.store.import_by_id(&BY_ID, &self.schema(), id).await
    }
}
