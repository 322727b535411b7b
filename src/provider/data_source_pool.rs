//! `ipam_pool` (exactly one pool, by id or filters) and `ipam_pools` (every pool matching the
//! filters).

use crate::ipam::{Pool, PoolFilter};
use crate::plugin::{
    async_trait, Attribute, Block, DataSource, Diagnostic, Diagnostics, Schema, Type, Value,
};

use super::common::{
    attribute_error, family_attr, object, object_type, optional_len, pointing_at, string_attr,
    tags_attr, tags_value, StoreHandle,
};

/// The filter attributes both data sources share, with their descriptions.
const FILTERS: &[(&str, &str)] = &[
    ("scope_id", "Only pools of this scope."),
    (
        "address_family",
        "Only pools of this family, `ipv4` or `ipv6`.",
    ),
    ("locale", "Only pools with this locale."),
    ("description", "Only pools with exactly this description."),
];

/// A pool's attributes as a Terraform object (the result of both data sources).
fn pool_object(pool: &Pool) -> Value {
    object(vec![
        ("id", Value::string(&pool.id)),
        ("scope_id", Value::string(&pool.scope_id)),
        (
            "address_family",
            Value::string(pool.address_family.as_str()),
        ),
        (
            "source_pool_id",
            pool.source_pool_id
                .as_deref()
                .map_or(Value::Null, Value::string),
        ),
        (
            "locale",
            pool.locale.as_deref().map_or(Value::Null, Value::string),
        ),
        ("description", Value::string(&pool.description)),
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
            tags_value(&pool.allocation_resource_tags),
        ),
        ("auto_import", Value::Bool(pool.auto_import)),
        (
            "publicly_advertisable",
            Value::Bool(pool.publicly_advertisable),
        ),
        ("tags", tags_value(&pool.tags)),
        ("depth", Value::int(i64::from(pool.depth))),
    ])
}

/// The result attributes of a pool, every one computed; `filters_optional` makes the filter
/// attributes (and `id`, `tags`) optional too, for `ipam_pool`.
fn pool_attributes(filters_optional: bool) -> Vec<Attribute> {
    let attribute = |name: &str, ty: Type, description: &str| {
        let optional = filters_optional
            && (name == "id" || name == "tags" || FILTERS.iter().any(|(f, _)| *f == name));
        let attribute = if optional {
            Attribute::optional_computed(name, ty)
        } else {
            Attribute::computed(name, ty)
        };
        attribute.description(description)
    };
    vec![
        attribute(
            "id",
            Type::String,
            if filters_optional {
                "The pool's id. Give it to look the pool up directly; otherwise the filters must match exactly one pool."
            } else {
                "The pool's id."
            },
        ),
        attribute(
            "scope_id",
            Type::String,
            if filters_optional {
                FILTERS[0].1
            } else {
                "The pool's scope."
            },
        ),
        attribute(
            "address_family",
            Type::String,
            if filters_optional {
                FILTERS[1].1
            } else {
                "`ipv4` or `ipv6`."
            },
        ),
        attribute(
            "locale",
            Type::String,
            if filters_optional {
                FILTERS[2].1
            } else {
                "The pool's locale, if any."
            },
        ),
        attribute(
            "description",
            Type::String,
            if filters_optional {
                FILTERS[3].1
            } else {
                "The pool's description."
            },
        ),
        attribute(
            "tags",
            Type::map(Type::String),
            if filters_optional {
                "Only pools carrying all these tags (with these values). Afterwards: all the pool's tags."
            } else {
                "The pool's tags."
            },
        ),
        attribute("source_pool_id", Type::String, "The parent pool, if any."),
        attribute(
            "allocation_min_netmask_length",
            Type::Number,
            "The shortest prefix (largest block) an allocation may have, if set.",
        ),
        attribute(
            "allocation_max_netmask_length",
            Type::Number,
            "The longest prefix (smallest block) an allocation may have, if set.",
        ),
        attribute(
            "allocation_default_netmask_length",
            Type::Number,
            "The prefix length allocations get by default, if set.",
        ),
        attribute(
            "allocation_resource_tags",
            Type::map(Type::String),
            "Tags every allocation from the pool must carry.",
        ),
        attribute(
            "auto_import",
            Type::Bool,
            "Whether existing networks inside the pool may be adopted automatically.",
        ),
        attribute(
            "publicly_advertisable",
            Type::Bool,
            "Whether the (IPv6) space is advertised publicly.",
        ),
        attribute(
            "depth",
            Type::Number,
            "How deep the pool is nested: 0 for a top-level pool, 1 for its children, 2 for theirs, and so on.",
        ),
    ]
}

/// The filters of a configuration (unknown or null filters do not filter).
fn filter(config: &Value) -> Result<PoolFilter, Diagnostics> {
    Ok(PoolFilter {
        scope_id: string_attr(config, "scope_id"),
        tags: tags_attr(config, "tags"),
        description: string_attr(config, "description"),
        locale: string_attr(config, "locale"),
        address_family: family_attr(config, "address_family").map_err(Diagnostics::from)?,
    })
}

/// `ipam_pool`.
pub struct PoolDataSource {
    store: StoreHandle,
}

impl PoolDataSource {
    pub fn new(store: &StoreHandle) -> PoolDataSource {
        PoolDataSource {
            store: store.clone(),
        }
    }
}

#[async_trait]
impl DataSource for PoolDataSource {
    fn schema(&self) -> Schema {
        let mut block = Block::new(
            "Looks up one pool: by `id`, or by filters (`tags`, `description`, `locale`, `address_family`, `scope_id`) that must match exactly one pool. When several match, the error lists them so that you can narrow the filters.",
        );
        for attribute in pool_attributes(true) {
            block = block.attribute(attribute);
        }
        Schema::new(block)
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        match family_attr(config, "address_family") {
            Ok(_) => Diagnostics::new(),
            Err(diagnostic) => diagnostic.into(),
        }
    }

    async fn read(&self, config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let schema = self.schema();
        if let Some(id) = string_attr(&config, "id") {
            let pool = self
                .store
                .run("Read Pool Error", &schema, move |store| store.get_pool(&id))
                .await
                .map_err(|diagnostics| pointing_at(diagnostics, "id"))?;
            return Ok((pool_object(&pool), Diagnostics::new()));
        }
        let wanted = filter(&config)?;
        let pools = self
            .store
            .run("Read Pool Error", &schema, move |store| {
                store.find_pools(&wanted)
            })
            .await?;
        match pools.as_slice() {
            [pool] => Ok((pool_object(pool), Diagnostics::new())),
            [] => Err(Diagnostic::error(
                "No Matching Pool",
                format!(
                    "no pool matches the filters ({}); check the tags, description, locale, address_family and scope_id given, or look the pool up by id.",
                    summary_of_filters(&config)
                ),
            )
            .into()),
            many => {
                let candidates: Vec<String> = many
                    .iter()
                    .map(|p| {
                        format!(
                            "  - {} ({}, scope {}, description {:?}, tags {:?})",
                            p.id, p.address_family, p.scope_id, p.description, p.tags
                        )
                    })
                    .collect();
                Err(attribute_error(
                    "tags",
                    "Several Pools Match",
                    format!(
                        "{} pools match the filters, but ipam_pool needs exactly one:\n{}\nAdd filters (tags, description, locale, address_family, scope_id) that tell them apart, give the id, or use the ipam_pools data source for all of them.",
                        many.len(),
                        candidates.join("\n")
                    ),
                )
                .into())
            }
        }
    }
}

/// The filters a configuration gives, as text for an error message.
fn summary_of_filters(config: &Value) -> String {
    let given: Vec<String> = [
        "scope_id",
        "address_family",
        "locale",
        "description",
        "tags",
    ]
    .iter()
    .filter(|name| !config.attr(name).is_null())
    .map(|name| match config.attr(name) {
        Value::String(s) => format!("{name} = {s:?}"),
        Value::Map(_) => format!("{name} = {:?}", tags_attr(config, name)),
        _ => (*name).to_string(),
    })
    .collect();
    if given.is_empty() {
        "none given".to_string()
    } else {
        given.join(", ")
    }
}

/// `ipam_pools`.
pub struct PoolsDataSource {
    store: StoreHandle,
}

impl PoolsDataSource {
    pub fn new(store: &StoreHandle) -> PoolsDataSource {
        PoolsDataSource {
            store: store.clone(),
        }
    }
}

#[async_trait]
impl DataSource for PoolsDataSource {
    fn schema(&self) -> Schema {
        let mut block = Block::new(
            "Lists the pools that match every given filter (all pools when none is given), ordered by id.",
        );
        for (name, description) in FILTERS {
            block =
                block.attribute(Attribute::optional(name, Type::String).description(*description));
        }
        block = block
            .attribute(
                Attribute::optional("tags", Type::map(Type::String))
                    .description("Only pools carrying all these tags (with these values)."),
            )
            .attribute(
                Attribute::computed("pools", Type::list(object_type(&pool_attributes(false))))
                    .description(
                    "The matching pools, each with the attributes of the `ipam_pool` data source.",
                ),
            );
        Schema::new(block)
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        match family_attr(config, "address_family") {
            Ok(_) => Diagnostics::new(),
            Err(diagnostic) => diagnostic.into(),
        }
    }

    async fn read(&self, mut config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let wanted = filter(&config)?;
        let pools = self
            .store
            .run("Read Pools Error", &self.schema(), move |store| {
                store.find_pools(&wanted)
            })
            .await?;
        config.set_attr(
            "pools",
            Value::List(pools.iter().map(pool_object).collect()),
        );
        Ok((config, Diagnostics::new()))
    }
}
