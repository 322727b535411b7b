//! `ipam_pool_cidr`: a CIDR provisioned into a pool, explicit or carved by size from the pool's
//! source pool.

use ipnet::IpNet;

use crate::ipam::{Error, PoolCidr, PoolCidrRequest};
use crate::plugin::invocation::terraform_is_destroying;
use crate::plugin::{
    async_trait, plan, ApplyRequest, ApplyResponse, Attribute, Block, Diagnostics, ImportedObject,
    PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, Type, Value,
};

use super::common::{
    attribute_error, cidr_attr, cidr_value, error_diagnostic, object, prefix_len_attr, string_attr,
    ById, StoreHandle,
};
use super::planned::PlannedClaims;
use super::resource_allocation::reservation;

/// Attributes whose change replaces the pool CIDR (every input: a CIDR is never edited).
const REPLACED_BY: &[&str] = &["pool_id", "cidr", "netmask_length"];

/// How read and import find the pool CIDR.
const BY_ID: ById<PoolCidr> = ById {
    noun: "Pool CIDR",
    get: |store, id| store.get_pool_cidr(id),
    state: PoolCidrResource::state,
};

pub struct PoolCidrResource {
    store: StoreHandle,
    /// Pool CIDRs planned in this process: the allocations planned after them count their space.
    claims: PlannedClaims,
}

impl PoolCidrResource {
    pub fn new(store: &StoreHandle, claims: &PlannedClaims) -> PoolCidrResource {
        PoolCidrResource {
            store: store.clone(),
            claims: claims.clone(),
        }
    }

    fn state(pool_cidr: &PoolCidr, like: &Value) -> Value {
        object(vec![
            ("id", Value::string(&pool_cidr.id)),
            ("pool_id", Value::string(&pool_cidr.pool_id)),
            ("cidr", cidr_value(&pool_cidr.cidr, like.attr("cidr"))),
            (
                "netmask_length",
                Value::int(i64::from(pool_cidr.cidr.prefix_len())),
            ),
        ])
    }

    /// The block a new pool CIDR plans, and whether the plan holds it. A carve by length names
    /// itself by its pool, so the plan reserves its block in the source pool (the apply takes
    /// exactly it); an explicit CIDR, a length for a pool without a source pool, or a carve the
    /// database cannot reserve (read-only for this user), is previewed.
    async fn plan_block(
        &self,
        pool_id: &str,
        wanted: PoolCidrRequest,
    ) -> Result<(IpNet, bool), Diagnostics> {
        const SUMMARY: &str = "Plan Pool CIDR Error";
        if let PoolCidrRequest::NetmaskLength(length) = wanted {
            let lookup = pool_id.to_string();
            match reservation(&self.store, move |store| {
                store.reserve_pool_cidr(&lookup, length)
            })
            .await?
            {
                Ok(Some(block)) => return Ok((block, true)),
                // no source pool to reserve in (a top-level pool): the preview says what a
                // length gives there
                Ok(None) | Err(Error::NoSourcePool { .. }) => {}
                Err(error) => return Err(error_diagnostic(SUMMARY, &self.schema(), &error).into()),
            }
        }
        let lookup = pool_id.to_string();
        let block = self
            .store
            .run(SUMMARY, &self.schema(), move |store| {
                store.preview_pool_cidr(&lookup, wanted)
            })
            .await?;
        Ok((block, false))
    }

    /// The request a configuration makes, when it is known; errors for a bad CIDR or length and
    /// for giving both or neither.
    fn request(config: &Value) -> Result<Option<PoolCidrRequest>, Diagnostics> {
        let cidr = config.attr("cidr");
        let length = config.attr("netmask_length");
        if cidr.is_null() && length.is_null() {
            return Err(attribute_error(
                "cidr",
                "Missing Pool CIDR",
                "give either cidr (an explicit CIDR such as 10.1.0.0/16) or netmask_length (the size of a block to carve from the pool's source pool, such as 16).",
            )
            .into());
        }
        if !cidr.is_null() && !length.is_null() {
            return Err(attribute_error(
                "netmask_length",
                "Conflicting Pool CIDR Arguments",
                "give either cidr or netmask_length, not both: with cidr the length is the CIDR's own.",
            )
            .into());
        }
        let cidr = cidr_attr(config, "cidr", "Invalid Pool CIDR").map_err(Diagnostics::from)?;
        let length = prefix_len_attr(config, "netmask_length").map_err(Diagnostics::from)?;
        Ok(match (cidr, length) {
            (Some(cidr), _) => Some(PoolCidrRequest::Cidr(cidr)),
            (None, Some(length)) => Some(PoolCidrRequest::NetmaskLength(length)),
            _ => None,
        })
    }
}

/// A block of the length a pool CIDR request provisions (the explicit CIDR, or `::/length` for
/// a carve): plan-time claims of pool CIDRs are matched by pool and length.
fn planned_block(wanted: PoolCidrRequest) -> Option<IpNet> {
    match wanted {
        PoolCidrRequest::Cidr(cidr) => Some(cidr),
        PoolCidrRequest::NetmaskLength(length) => format!("::/{length}").parse().ok(),
    }
}

#[async_trait]
impl Resource for PoolCidrResource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A CIDR provisioned into a pool. Give `cidr` for an explicit block, or `netmask_length` to carve the next free block of that size from the pool's source pool (best fit: the smallest free block that holds it, lowest address first). Every change replaces it; destroying it fails while allocations or child-pool CIDRs remain inside (a pool CIDR has no `cascade`). Reference its `pool_id` from those allocations and child pools so that Terraform orders creation and destruction by itself.",
            )
            .attribute(Attribute::computed("id", Type::String).description(
                "The pool CIDR's id, `ipam-pool-cidr-` followed by 16 hexadecimal digits.",
            ))
            .attribute(Attribute::required("pool_id", Type::String).description(
                "The pool to provision the CIDR into. Changing it replaces the pool CIDR. Allocations and child pools should take their `pool_id` / `source_pool_id` from this attribute (`ipam_pool_cidr.NAME.pool_id`): the reference makes Terraform provision the CIDR before them and deprovision it after them.",
            ))
            .attribute(Attribute::optional_computed("cidr", Type::String).description(
                "The CIDR, such as `10.1.0.0/16`: given explicitly, or carved by `netmask_length`: then known at plan when the pool exists already (the carve names itself by its pool: the plan reserves the block in the source pool for the provider's `plan_reservation_seconds` and the apply takes exactly it), known after apply otherwise or when the database is read-only for this user. It must not have host bits set, must be of the pool's family, and (for a child pool) must lie free inside its source pool and obey the source pool's guardrails; top-level CIDRs of one scope never overlap.",
            ))
            .attribute(Attribute::optional_computed("netmask_length", Type::Number).description(
                "The prefix length of a block to carve from the source pool, instead of `cidr`. For a top-level IPv6 pool of a private scope, a freshly generated RFC 4193 unique local prefix instead: a random 40-bit global id in `fd00::/8`, a new /48 (or the first block of this length inside a new /48, so 48 to 128), never overlapping another CIDR of the scope; a public scope refuses it. When `cidr` is given, this is its prefix length (known at plan).",
            )),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        match PoolCidrResource::request(config) {
            Ok(_) => Diagnostics::new(),
            Err(diagnostics) => diagnostics,
        }
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut planned = request.proposed_new_state;
        if request.prior_state.is_null() {
            let wanted = PoolCidrResource::request(&request.config)?;
            // an explicit CIDR's length is its own, known whether or not the pool is yet
            if let Ok(Some(cidr)) = cidr_attr(&request.config, "cidr", "") {
                planned.set_attr("netmask_length", Value::int(i64::from(cidr.prefix_len())));
            }
            // a destroy's refresh plan throws creates away: checking (or reserving) them could
            // only stop it
            if let (Some(pool_id), Some(wanted), false) = (
                string_attr(&request.config, "pool_id"),
                wanted,
                terraform_is_destroying(),
            ) {
                let (block, reserved) = self
                    .plan_block(&pool_id, wanted)
                    .await
                    .map_err(super::advice::at_plan)?;
                if reserved && !self.claims.carving(&pool_id, block) {
                    return Err(attribute_error(
                        "netmask_length",
                        "Plan Pool CIDR Error",
                        format!(
                            "another ipam_pool_cidr in this plan also carves pool {pool_id} by netmask_length; a carve by length is reserved under its pool, so one plan can carve each pool by length only once. Give one of them an explicit cidr inside the source pool, merge the two into one larger netmask_length, or add the second carve in a later terraform apply."
                        ),
                    )
                    .into());
                }
                if reserved {
                    planned.set_attr("cidr", cidr_value(&block, request.config.attr("cidr")));
                    planned.set_attr("netmask_length", Value::int(i64::from(block.prefix_len())));
                }
                self.claims.provisioning(&pool_id, block);
            }
        }
        plan::unknown_if_null(&mut planned, &["id", "cidr", "netmask_length"]);
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
            self.store
                .delete("Deprovision Pool CIDR Error", &schema, move |store| {
                    store.deprovision_pool_cidr(&id, false)
                })
                .await?;
            return Ok(ApplyResponse::new(Value::Null));
        }
        if !request.prior_state.is_null() {
            // every input forces replacement: nothing to change in place
            return Ok(ApplyResponse::new(request.prior_state));
        }
        let Some(wanted) = PoolCidrResource::request(&request.config)? else {
            return Err(attribute_error(
                "cidr",
                "Provision Pool CIDR Error",
                "cidr and netmask_length are still unknown at apply; this is a bug in the provider.",
            )
            .into());
        };
        let pool_id = string_attr(&request.planned_state, "pool_id").unwrap_or_default();
        // forget the plan-time claim before the store counts the space
        if let Some(block) = planned_block(wanted) {
            self.claims.provisioned(&pool_id, block);
        }
        let provisioned = self
            .store
            .run("Provision Pool CIDR Error", &schema, move |store| {
                store.provision_pool_cidr(&pool_id, wanted)
            })
            .await?;
        Ok(ApplyResponse::new(PoolCidrResource::state(
            &provisioned,
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
