//! `ipam_pool_allocations`: a pool's allocations.

use crate::ipam::Allocation;
use crate::plugin::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use super::common::{object, object_type, string_attr, tags_value, StoreHandle};

pub struct PoolAllocationsDataSource {
    store: StoreHandle,
}

impl PoolAllocationsDataSource {
    pub fn new(store: &StoreHandle) -> PoolAllocationsDataSource {
        PoolAllocationsDataSource {
            store: store.clone(),
        }
    }
}

fn allocation_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed("id", Type::String).description("The allocation's id."),
        Attribute::computed("cidr", Type::String).description("The allocated CIDR."),
        Attribute::computed("description", Type::String).description("Its description."),
        Attribute::computed("tags", Type::map(Type::String)).description("Its tags."),
    ]
}

fn allocation_object(allocation: &Allocation) -> Value {
    object(vec![
        ("id", Value::string(&allocation.id)),
        ("cidr", Value::string(allocation.cidr.to_string())),
        ("description", Value::string(&allocation.description)),
        ("tags", tags_value(&allocation.tags)),
    ])
}

#[async_trait]
impl DataSource for PoolAllocationsDataSource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists a pool's allocations (including the blocks its child pools took from it), in address order.",
            )
            .attribute(
                Attribute::required("pool_id", Type::String)
                    .description("The pool whose allocations to list."),
            )
            .attribute(
                Attribute::computed(
                    "allocations",
                    Type::list(object_type(&allocation_attributes())),
                )
                .description("The allocations, each with `id`, `cidr`, `description` and `tags`."),
            ),
        )
    }

    async fn read(&self, mut config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let pool_id = string_attr(&config, "pool_id").unwrap_or_default();
        let allocations = self
            .store
            .run(
                "Read Pool Allocations Error",
                &self.schema(),
                move |store| {
                    store.get_pool(&pool_id)?;
                    store.list_allocations(&pool_id)
                },
            )
            .await?;
        config.set_attr(
            "allocations",
            Value::List(allocations.iter().map(allocation_object).collect()),
        );
        Ok((config, Diagnostics::new()))
    }
}
