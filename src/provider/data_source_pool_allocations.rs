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

fn cooling_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed("cidr", Type::String).description("The released block."),
        Attribute::computed("frees_at", Type::String)
            .description("When it becomes free again (RFC 3339, UTC)."),
    ]
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
            )
            .attribute(
                Attribute::computed("cooling", Type::list(object_type(&cooling_attributes())))
                    .description("Released blocks still cooling down (the pool's `release_cooldown`), each with `cidr` and `frees_at`; they count as used. Empty when the pool has no cooldown."),
            ),
        )
    }

    async fn read(&self, mut config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let pool_id = string_attr(&config, "pool_id").unwrap_or_default();
        let (allocations, cooling) = self
            .store
            .run(
                "Read Pool Allocations Error",
                &self.schema(),
                move |store| {
                    store.get_pool(&pool_id)?;
                    Ok((
                        store.list_allocations(&pool_id)?,
                        store.list_cooling_blocks(&pool_id)?,
                    ))
                },
            )
            .await?;
        config.set_attr(
            "allocations",
            Value::List(allocations.iter().map(allocation_object).collect()),
        );
        let cooling = cooling.iter().map(|block| {
            object(vec![
                ("cidr", Value::string(block.cidr.to_string())),
                ("frees_at", Value::string(&block.frees_at)),
            ])
        });
        config.set_attr("cooling", Value::List(cooling.collect()));
        Ok((config, Diagnostics::new()))
    }
}
