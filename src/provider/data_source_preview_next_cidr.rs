//! `ipam_preview_next_cidr`: the CIDR the next allocation would get, without reserving it.

use crate::ipam::AllocationRequest;
use crate::plugin::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use super::common::{cidrs_attr, prefix_len_attr, string_attr, StoreHandle};

pub struct PreviewNextCidrDataSource {
    store: StoreHandle,
}

impl PreviewNextCidrDataSource {
    pub fn new(store: &StoreHandle) -> PreviewNextCidrDataSource {
        PreviewNextCidrDataSource {
            store: store.clone(),
        }
    }
}

#[async_trait]
impl DataSource for PreviewNextCidrDataSource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Shows the CIDR that the next allocation of a given size from a pool would get right now. **Nothing is reserved**: any allocation made afterwards, from this or any other configuration, may take that block first. To hold a block, use the `ipam_allocation` resource.",
            )
            .attribute(
                Attribute::required("pool_id", Type::String).description("The pool to look into."),
            )
            .attribute(Attribute::optional("netmask_length", Type::Number).description(
                "The prefix length of the block; defaults to the pool's `allocation_default_netmask_length`.",
            ))
            .attribute(
                Attribute::optional("disallowed_cidrs", Type::set(Type::String))
                    .description("CIDRs the block must not overlap."),
            )
            .attribute(Attribute::optional("locale", Type::String).description(
                "Where the block would be used (a region). A pool with another locale refuses the preview, naming both; a pool without a locale serves any.",
            ))
            .attribute(Attribute::computed("cidr", Type::String).description(
                "The CIDR the next allocation would get (best fit: the smallest free block that holds it, lowest address first).",
            )),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if let Err(d) = prefix_len_attr(config, "netmask_length") {
            diagnostics.push(d);
        }
        if let Err(d) = cidrs_attr(config, "disallowed_cidrs", "Invalid Disallowed CIDR") {
            diagnostics.push(d);
        }
        diagnostics
    }

    async fn read(&self, mut config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let mut request = AllocationRequest {
            pool_id: string_attr(&config, "pool_id").unwrap_or_default(),
            netmask_length: prefix_len_attr(&config, "netmask_length")
                .map_err(Diagnostics::from)?,
            cidr: None,
            disallowed_cidrs: cidrs_attr(&config, "disallowed_cidrs", "Invalid Disallowed CIDR")
                .map_err(Diagnostics::from)?,
            description: String::new(),
            tags: Default::default(),
            locale: string_attr(&config, "locale"),
        };
        let cidr = self
            .store
            .run("Preview Next CIDR Error", &self.schema(), move |store| {
                // the preview is about space: carry the pool's required tags so that they do not
                // stand in the way
                request.tags = store.get_pool(&request.pool_id)?.allocation_resource_tags;
                store.preview_allocation(&request)
            })
            .await?;
        config.set_attr("cidr", Value::string(cidr.to_string()));
        Ok((config, Diagnostics::new()))
    }
}
