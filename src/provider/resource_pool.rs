//! `ipam_pool`: a pool of one address family in a scope, optionally nested in a source pool, with
//! netmask guardrails and tags every allocation must carry.

use crate::ipam::{
    format_duration, parse_duration, AddressFamily, CooldownMode, NetmaskRule, NewPool, Pool,
    PoolUpdate, ReleaseCooldown,
};
use crate::plugin::invocation::terraform_is_destroying;
use crate::plugin::{
    async_trait, plan, ApplyRequest, ApplyResponse, Attribute, Block, Diagnostic, Diagnostics,
    ImportedObject, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, Type,
    Value,
};

use super::common::{
    attribute_error, bool_attr, family_attr, object, optional_bool, optional_len, optional_string,
    optional_string_opt, optional_tags, pointing_at, prefix_len_attr, sentence, string_attr,
    tags_attr, ById, StoreHandle,
};

/// Attributes whose change replaces the pool.
const REPLACED_BY: &[&str] = &["scope_id", "address_family", "source_pool_id", "locale"];

/// How read and import find the pool.
const BY_ID: ById<Pool> = ById {
    noun: "Pool",
    get: |store, id| store.get_pool(id),
    state: PoolResource::state,
};

pub struct PoolResource {
    store: StoreHandle,
}

/// The guardrails of a configuration, when every length in it is known and valid.
pub(super) fn netmask_rule(config: &Value) -> Result<NetmaskRule, Diagnostic> {
    Ok(NetmaskRule {
        min: prefix_len_attr(config, "allocation_min_netmask_length")?,
        max: prefix_len_attr(config, "allocation_max_netmask_length")?,
        default: prefix_len_attr(config, "allocation_default_netmask_length")?,
    })
}

/// `utilization_warning_threshold`: a whole percentage from 1 to 100, when given and known.
fn threshold_attr(config: &Value) -> Result<Option<u8>, Diagnostic> {
    match config.attr("utilization_warning_threshold") {
        Value::Number(number) => match number.as_i64() {
            Some(n) if (1..=100).contains(&n) => Ok(Some(n as u8)),
            _ => Err(attribute_error(
                "utilization_warning_threshold",
                "Invalid Utilization Warning Threshold",
                format!(
                    "utilization_warning_threshold is {}, which is not a percentage of the pool. Give a whole number from 1 to 100, for example 80.",
                    number.as_f64()
                ),
            )),
        },
        _ => Ok(None),
    }
}

/// `release_cooldown` and `release_cooldown_mode`, when given and known.
fn cooldown_attr(config: &Value) -> Result<Option<ReleaseCooldown>, Diagnostic> {
    let invalid = |input: &str, error: crate::ipam::Error| {
        attribute_error(
            input,
            "Invalid Release Cooldown",
            sentence(&error.to_string()),
        )
    };
    let mode = match string_attr(config, "release_cooldown_mode") {
        Some(text) => Some(
            CooldownMode::parse(&text, "release_cooldown_mode")
                .map_err(|e| invalid("release_cooldown_mode", e))?,
        ),
        None => None,
    };
    match (string_attr(config, "release_cooldown"), mode) {
        (Some(text), mode) => Ok(Some(ReleaseCooldown {
            seconds: parse_duration(&text, "release_cooldown")
                .map_err(|e| invalid("release_cooldown", e))?,
            mode: mode.unwrap_or_default(),
        })),
        (None, Some(_)) if config.attr("release_cooldown").is_null() => Err(attribute_error(
            "release_cooldown_mode",
            "Invalid Release Cooldown",
            "release_cooldown_mode applies to a release cooldown, and the pool has none. Set release_cooldown (for example \"30m\") or remove release_cooldown_mode.",
        )),
        _ => Ok(None),
    }
}

/// The state of `release_cooldown` and its mode: the configuration's text while it means the
/// same duration, the default mode left out when the configuration leaves it out.
fn cooldown_state(cooldown: Option<ReleaseCooldown>, like: &Value) -> (Value, Value) {
    let Some(cooldown) = cooldown else {
        return (Value::Null, Value::Null);
    };
    let duration = match string_attr(like, "release_cooldown") {
        Some(text) if parse_duration(&text, "release_cooldown").ok() == Some(cooldown.seconds) => {
            Value::string(text)
        }
        _ => Value::string(format_duration(cooldown.seconds)),
    };
    let mode = if cooldown.mode == CooldownMode::default()
        && like.attr("release_cooldown_mode").is_null()
    {
        Value::Null
    } else {
        Value::string(cooldown.mode.as_str())
    };
    (duration, mode)
}

impl PoolResource {
    pub fn new(store: &StoreHandle) -> PoolResource {
        PoolResource {
            store: store.clone(),
        }
    }

    fn state(pool: &Pool, like: &Value) -> Value {
        let (cooldown, cooldown_mode) = cooldown_state(pool.release_cooldown, like);
        object(vec![
            ("release_cooldown", cooldown),
            ("release_cooldown_mode", cooldown_mode),
            ("id", Value::string(&pool.id)),
            ("scope_id", Value::string(&pool.scope_id)),
            (
                "address_family",
                Value::string(pool.address_family.as_str()),
            ),
            (
                "source_pool_id",
                optional_string_opt(pool.source_pool_id.as_deref(), like.attr("source_pool_id")),
            ),
            (
                "locale",
                optional_string_opt(pool.locale.as_deref(), like.attr("locale")),
            ),
            (
                "description",
                optional_string(&pool.description, like.attr("description")),
            ),
            (
                "allocation_min_netmask_length",
                optional_len(pool.netmask.min),
            ),
            (
                "allocation_max_netmask_length",
                optional_len(pool.netmask.max),
            ),
            (
                "allocation_default_netmask_length",
                optional_len(pool.netmask.default),
            ),
            (
                "allocation_resource_tags",
                optional_tags(
                    &pool.allocation_resource_tags,
                    like.attr("allocation_resource_tags"),
                ),
            ),
            (
                "auto_import",
                optional_bool(pool.auto_import, like.attr("auto_import")),
            ),
            (
                "publicly_advertisable",
                optional_bool(
                    pool.publicly_advertisable,
                    like.attr("publicly_advertisable"),
                ),
            ),
            ("cascade", like.attr("cascade").clone()),
            ("tags", optional_tags(&pool.tags, like.attr("tags"))),
            ("depth", Value::int(i64::from(pool.depth))),
            (
                "utilization_warning_threshold",
                pool.utilization_warning_threshold
                    .map_or(Value::Null, |t| Value::int(i64::from(t))),
            ),
        ])
    }

    /// The pool a configuration (or a planned state) describes.
    fn new_pool(config: &Value) -> Result<NewPool, Diagnostics> {
        Ok(NewPool {
            scope_id: string_attr(config, "scope_id").unwrap_or_default(),
            source_pool_id: string_attr(config, "source_pool_id"),
            address_family: family_attr(config, "address_family")?.unwrap_or(AddressFamily::Ipv4),
            locale: string_attr(config, "locale"),
            description: string_attr(config, "description").unwrap_or_default(),
            netmask: netmask_rule(config)?,
            allocation_resource_tags: tags_attr(config, "allocation_resource_tags"),
            auto_import: bool_attr(config, "auto_import"),
            publicly_advertisable: bool_attr(config, "publicly_advertisable"),
            tags: tags_attr(config, "tags"),
            utilization_warning_threshold: threshold_attr(config)?,
            release_cooldown: cooldown_attr(config)?,
        })
    }

    /// The configuration's own rules, checked without the store: the address family and the
    /// guardrails (min <= default <= max <= the family's width).
    fn check_config(config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        let family = match family_attr(config, "address_family") {
            Ok(family) => family,
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                None
            }
        };
        if let Err(diagnostic) = threshold_attr(config) {
            diagnostics.push(diagnostic);
        }
        if let Err(diagnostic) = cooldown_attr(config) {
            diagnostics.push(diagnostic);
        }
        match netmask_rule(config) {
            Ok(rule) => {
                // without a known family, check the order against the wider family
                let width_family = family.unwrap_or(AddressFamily::Ipv6);
                if let Err(error) = rule.validate(width_family) {
                    let input = error.input().unwrap_or("allocation_min_netmask_length");
                    diagnostics.push(attribute_error(
                        input,
                        "Invalid Pool Guardrails",
                        sentence(&error.to_string()),
                    ));
                }
            }
            Err(diagnostic) => diagnostics.push(diagnostic),
        }
        diagnostics
    }
}

#[async_trait]
impl Resource for PoolResource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A pool of address space of one family in a scope. A top-level pool gets its CIDRs provisioned explicitly; a child pool (with `source_pool_id`) gets them carved from its source pool. The guardrails bound the size of every allocation and child-pool CIDR taken from the pool.",
            )
            .attribute(Attribute::computed("id", Type::String).description(
                "The pool's id, `ipam-pool-` followed by 16 hexadecimal digits.",
            ))
            .attribute(Attribute::required("scope_id", Type::String).description(
                "The scope the pool belongs to, for example `ipam.main.private_default_scope_id`. Changing it replaces the pool.",
            ))
            .attribute(Attribute::required("address_family", Type::String).description(
                "`ipv4` or `ipv6`. A child pool has its source pool's family. Changing it replaces the pool.",
            ))
            .attribute(Attribute::optional("source_pool_id", Type::String).description(
                "The parent pool, in the same scope and of the same family: this pool's CIDRs are allocations in it. Take it from the parent's pool CIDR (`ipam_pool_cidr.NAME.pool_id`) rather than from the parent pool: Terraform then creates this pool after that CIDR is provisioned and destroys it before that CIDR is deprovisioned, with no `depends_on`. Changing it replaces the pool.",
            ))
            .attribute(Attribute::optional("locale", Type::String).description(
                "Where the pool's addresses are used (a region, site or data centre name). When the IPAM lists `operating_regions`, it must be one of them; a pool nested in a source pool with a locale must have that same locale. An allocation asking for another locale is refused; a pool without a locale serves any. The pool data sources filter by it. Changing it replaces the pool.",
            ))
            .attribute(
                Attribute::optional("description", Type::String)
                    .description("A description of the pool."),
            )
            .attribute(Attribute::optional("allocation_min_netmask_length", Type::Number).description(
                "The shortest prefix length an allocation may have: the LARGEST block (for example 16 allows at most a /16). Must not exceed `allocation_max_netmask_length`.",
            ))
            .attribute(Attribute::optional("allocation_max_netmask_length", Type::Number).description(
                "The longest prefix length an allocation may have: the SMALLEST block (for example 24 allows at least a /24). At most 32 for IPv4, 128 for IPv6.",
            ))
            .attribute(Attribute::optional("allocation_default_netmask_length", Type::Number).description(
                "The prefix length an allocation gets when it names neither `netmask_length` nor `cidr`. Must lie within the min and max.",
            ))
            .attribute(Attribute::optional("allocation_resource_tags", Type::map(Type::String)).description(
                "Tags every allocation from this pool must carry (same key and value); an allocation without them is refused.",
            ))
            .attribute(Attribute::optional("auto_import", Type::Bool).description(
                "Whether existing networks found inside the pool may be adopted into it automatically (recorded now; used by the adoption tooling).",
            ))
            .attribute(Attribute::optional("publicly_advertisable", Type::Bool).description(
                "For IPv6 pools in a public scope: whether the space is advertised to the internet (recorded for planning).",
            ))
            .attribute(Attribute::optional("cascade", Type::Bool).description(
                "Whether destroying the pool also deprovisions its CIDRs and releases its allocations and child pools. When false (the default), destroying a pool that is not empty fails and names what is inside.",
            ))
            .attribute(
                Attribute::optional("tags", Type::map(Type::String))
                    .description("Tags of the pool; the pool data sources can find pools by them."),
            )
            .attribute(Attribute::optional("utilization_warning_threshold", Type::Number).description(
                "A percentage (1 to 100) of the pool's space: a plan whose allocation pushes the pool's utilization past it shows a warning naming the pool, its CIDRs, the utilization before and after, and the largest free block left. Changes in place.",
            ))
            .attribute(Attribute::optional("release_cooldown", Type::String).description(
                "How long a released block stays unused before the pool hands it out again, such as `\"30m\"`, `\"24h\"` or `\"1h30m\"` (units s, m, h, d): firewall rules, DNS records and peers' routes may still point at it. Cooling blocks count as used and the `ipam_pool_allocations` data source lists them with the time they free. Without it (the default) a release is instant. Changes in place.",
            ))
            .attribute(Attribute::optional("release_cooldown_mode", Type::String).description(
                "`\"soft\"` (the default): a cooling block is handed out only when nothing else fits. `\"strict\"`: never before its cooldown ends; an explicit `cidr` overlapping one is refused with the time it frees.",
            ))
            .attribute(Attribute::computed("depth", Type::Number).description(
                "How deep the pool is nested: 0 for a top-level pool, 1 for its children, 2 for theirs, and so on.",
            )),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        PoolResource::check_config(config)
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut diagnostics = PoolResource::check_config(&request.config);
        if diagnostics.has_errors() {
            return Err(diagnostics);
        }
        // A known source pool must exist, in the same scope and of the same family.
        // (not in a destroy's refresh plan, which throws creates away)
        if let (true, Some(source_id), false) = (
            request.prior_state.is_null(),
            string_attr(&request.config, "source_pool_id"),
            terraform_is_destroying(),
        ) {
            let schema = self.schema();
            let lookup = source_id.clone();
            let source = self
                .store
                .run("Plan Pool Error", &schema, move |store| {
                    store.get_pool(&lookup)
                })
                .await
                .map_err(|diagnostics| pointing_at(diagnostics, "source_pool_id"))?;
            if let Ok(Some(family)) = family_attr(&request.config, "address_family") {
                if family != source.address_family {
                    diagnostics.push(attribute_error(
                        "address_family",
                        "Plan Pool Error",
                        format!(
                            "the pool is {family} but its source pool {source_id} is {}: a child pool has its parent's family.",
                            source.address_family
                        ),
                    ));
                }
            }
            if let Some(scope_id) = string_attr(&request.config, "scope_id") {
                if scope_id != source.scope_id {
                    diagnostics.push(attribute_error(
                        "source_pool_id",
                        "Plan Pool Error",
                        format!(
                            "source pool {source_id} is in scope {}, not in {scope_id}: a child pool lives in its parent's scope.",
                            source.scope_id
                        ),
                    ));
                }
            }
            if diagnostics.has_errors() {
                return Err(diagnostics);
            }
        }
        // the engine's own checks (the locale among the IPAM's operating regions and equal to
        // the source pool's), once every input they read is known
        let inputs = ["scope_id", "source_pool_id", "address_family", "locale"];
        if request.prior_state.is_null()
            && inputs
                .iter()
                .all(|name| request.config.attr(name).is_wholly_known())
        {
            let new = PoolResource::new_pool(&request.config)?;
            self.store
                .run("Plan Pool Error", &self.schema(), move |store| {
                    store.preview_pool(&new)
                })
                .await?;
        }
        let mut planned = request.proposed_new_state;
        plan::unknown_if_null(&mut planned, &["id", "depth"]);
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
            let cascade = bool_attr(&request.prior_state, "cascade");
            self.store
                .delete("Delete Pool Error", &schema, move |store| {
                    store.delete_pool(&id, cascade)
                })
                .await?;
            return Ok(ApplyResponse::new(Value::Null));
        }
        let planned = request.planned_state;
        let netmask = netmask_rule(&planned).map_err(Diagnostics::from)?;
        let pool = if request.prior_state.is_null() {
            let new = PoolResource::new_pool(&planned)?;
            self.store
                .run("Create Pool Error", &schema, move |store| {
                    store.create_pool(&new)
                })
                .await?
        } else {
            let id = string_attr(&request.prior_state, "id").unwrap_or_default();
            let update = PoolUpdate {
                description: Some(string_attr(&planned, "description").unwrap_or_default()),
                netmask: Some(netmask),
                allocation_resource_tags: Some(tags_attr(&planned, "allocation_resource_tags")),
                auto_import: Some(bool_attr(&planned, "auto_import")),
                publicly_advertisable: Some(bool_attr(&planned, "publicly_advertisable")),
                tags: Some(tags_attr(&planned, "tags")),
                utilization_warning_threshold: Some(threshold_attr(&planned)?),
                release_cooldown: Some(cooldown_attr(&planned)?),
            };
            self.store
                .run("Update Pool Error", &schema, move |store| {
                    store.update_pool(&id, &update)
                })
                .await?
        };
        Ok(ApplyResponse::new(PoolResource::state(&pool, &planned)))
    }

    async fn read(&self, request: ReadRequest) -> Result<ReadResponse, Diagnostics> {
        self.store.read_by_id(&BY_ID, &self.schema(), request).await
    }

    async fn import(&self, id: &str) -> Result<ImportedObject, Diagnostics> {
        self.store.import_by_id(&BY_ID, &self.schema(), id).await
    }
}
