//! `ipam_pool_allocations`: a pool's allocations.

use crate::ipam::{Allocation, Reservation};
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

fn reservation_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed("name", Type::String).description(
            "The name of the allocation it is for (`pool <id>` for a child pool's CIDR carved by length).",
        ),
        Attribute::computed("cidr", Type::String).description("The CIDR the plan showed, held for it."),
        Attribute::computed("expires_at", Type::String)
            .description("When it stops holding the space unless planned again (RFC 3339, UTC)."),
        Attribute::computed("expired", Type::Bool).description(
            "Whether it has expired: its space still counts as used until the next plan, allocation or preview in the pool frees it (or a plan of the same name renews it).",
        ),
    ]
}

fn reservation_object(reservation: &Reservation) -> Value {
    object(vec![
        ("name", Value::string(&reservation.name)),
        ("cidr", Value::string(reservation.cidr.to_string())),
        ("expires_at", Value::string(&reservation.expires_at)),
        ("expired", Value::Bool(reservation.expired)),
    ])
}

#[async_trait]
impl DataSource for PoolAllocationsDataSource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists a pool's allocations (including the blocks its child pools took from it), in address order, with the blocks that plans not yet applied reserve in it and the released blocks still cooling down.",
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
            )
            .attribute(
                Attribute::computed("reservations", Type::list(object_type(&reservation_attributes())))
                    .description("Blocks held for plans not yet applied (a named `ipam_allocation`, or an `ipam_pool_cidr` carved by length from this pool, planned by any configuration sharing the database), in address order, each with `name`, `cidr`, `expires_at` and `expired`; they count as used, and the apply of the plan turns each into an allocation."),
            ),
        )
    }

    async fn read(&self, mut config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let pool_id = string_attr(&config, "pool_id").unwrap_or_default();
        let (allocations, cooling, reservations) = self
            .store
            .run(
                "Read Pool Allocations Error",
                &self.schema(),
                move |store| {
                    store.get_pool(&pool_id)?;
                    Ok((
                        store.list_allocations(&pool_id)?,
                        store.list_cooling_blocks(&pool_id)?,
                        store.list_reservations(&pool_id)?,
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
        config.set_attr(
            "reservations",
            Value::List(reservations.iter().map(reservation_object).collect()),
        );
        Ok((config, Diagnostics::new()))
    }
}
