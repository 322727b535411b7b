//! `ipam_pool_cidrs`: a pool's CIDRs with their address counts and utilization.

use crate::ipam::PoolCidrUsage;
use crate::plugin::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use super::common::{count_value, object, object_type, percent_value, string_attr, StoreHandle};

pub struct PoolCidrsDataSource {
    store: StoreHandle,
}

impl PoolCidrsDataSource {
    pub fn new(store: &StoreHandle) -> PoolCidrsDataSource {
        PoolCidrsDataSource {
            store: store.clone(),
        }
    }
}

fn cidr_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed("id", Type::String).description("The pool CIDR's id."),
        Attribute::computed("cidr", Type::String).description("The CIDR."),
        Attribute::computed("total_count", Type::Number)
            .description("How many addresses the CIDR holds."),
        Attribute::computed("used_count", Type::Number).description(
            "How many of them are used: by allocations and child-pool CIDRs, by released blocks still cooling down, and by blocks reserved for plans not yet applied.",
        ),
        Attribute::computed("reserved_count", Type::Number).description(
            "How many of the used ones are reserved for plans not yet applied (named allocations and carves by length planned but not yet applied; see `ipam_pool_allocations.reservations`).",
        ),
        Attribute::computed("free_count", Type::Number)
            .description("How many are free: total_count - used_count."),
        Attribute::computed("utilization_percent", Type::Number)
            .description("used_count as a percentage of total_count, rounded to two decimals."),
    ]
}

fn cidr_object(usage: &PoolCidrUsage) -> Value {
    object(vec![
        ("id", Value::string(&usage.pool_cidr.id)),
        ("cidr", Value::string(usage.pool_cidr.cidr.to_string())),
        ("total_count", count_value(usage.total_addresses)),
        ("used_count", count_value(usage.used_addresses)),
        ("reserved_count", count_value(usage.reserved_addresses)),
        ("free_count", count_value(usage.free_addresses)),
        (
            "utilization_percent",
            percent_value(usage.utilization_percent),
        ),
    ])
}

#[async_trait]
impl DataSource for PoolCidrsDataSource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists a pool's CIDRs with how many addresses each holds, how many are allocated and how many are free: the figures to alarm on before a pool runs out.",
            )
            .attribute(
                Attribute::required("pool_id", Type::String).description("The pool to report on."),
            )
            .attribute(
                Attribute::computed("cidrs", Type::list(object_type(&cidr_attributes())))
                    .description("The pool's CIDRs, in address order, each with `id`, `cidr`, `total_count`, `used_count`, `reserved_count`, `free_count` and `utilization_percent`."),
            ),
        )
    }

    async fn read(&self, mut config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let pool_id = string_attr(&config, "pool_id").unwrap_or_default();
        let usage = self
            .store
            .run("Read Pool CIDRs Error", &self.schema(), move |store| {
                store.get_pool(&pool_id)?;
                store.list_pool_cidrs(&pool_id)
            })
            .await?;
        config.set_attr(
            "cidrs",
            Value::List(usage.iter().map(cidr_object).collect()),
        );
        Ok((config, Diagnostics::new()))
    }
}
