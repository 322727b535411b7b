//! `ipam_preview_next_cidr`: the CIDRs the next allocations would get, without reserving them.

use crate::ipam::AllocationRequest;
use crate::plugin::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use crate::plugin::invocation::terraform_is_destroying;

use super::common::{attribute_error, cidrs_attr, prefix_len_attr, string_attr, StoreHandle};

pub struct PreviewNextCidrDataSource {
    store: StoreHandle,
}

impl PreviewNextCidrDataSource {
    pub fn new(store: &StoreHandle) -> PreviewNextCidrDataSource {
        PreviewNextCidrDataSource {
            store: store.clone(),
        }
    }

    /// The lengths to preview in order (`None`: the pool's default), checking the arguments.
    fn lengths(config: &Value) -> Result<Vec<Option<u8>>, Diagnostics> {
        let single = prefix_len_attr(config, "netmask_length").map_err(Diagnostics::from)?;
        let many = config.attr("netmask_lengths");
        let Some(items) = many.as_elements() else {
            return Ok(vec![single]);
        };
        if single.is_some() {
            return Err(attribute_error(
                "netmask_lengths",
                "Conflicting Preview Arguments",
                "give netmask_length (one block) or netmask_lengths (one block per entry), not both.",
            )
            .into());
        }
        let mut lengths = Vec::with_capacity(items.len());
        for item in items {
            let wrapped = Value::object([("netmask_lengths", item.clone())]);
            lengths.push(Some(
                prefix_len_attr(&wrapped, "netmask_lengths")
                    .map_err(Diagnostics::from)?
                    .unwrap_or_default(),
            ));
        }
        Ok(lengths)
    }
}

#[async_trait]
impl DataSource for PreviewNextCidrDataSource {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Shows the CIDR that the next allocation of a given size from a pool would get right now. **Nothing is reserved**: any allocation made afterwards, from this or any other configuration, may take that block first. To hold a block, use the `ipam_allocation` resource.\n\nEvery instance of a data source with `count` or `for_each` reads the same pool and gets the same answer, so `count = 3` shows one CIDR three times. To preview several distinct blocks, give `netmask_lengths` (one length per block): `cidrs` then lists the blocks consecutive allocations of those lengths would get, in that order.",
            )
            .attribute(
                Attribute::required("pool_id", Type::String).description("The pool to look into."),
            )
            .attribute(Attribute::optional("netmask_length", Type::Number).description(
                "The prefix length of the block; defaults to the pool's `allocation_default_netmask_length`.",
            ))
            .attribute(Attribute::optional("netmask_lengths", Type::list(Type::Number)).description(
                "Instead of `netmask_length`: the prefix lengths of several blocks, previewed as consecutive allocations in this order (for example `[24, 24, 24]` for the next three /24s).",
            ))
            .attribute(
                Attribute::optional("disallowed_cidrs", Type::set(Type::String))
                    .description("CIDRs the blocks must not overlap."),
            )
            .attribute(Attribute::optional("locale", Type::String).description(
                "Where the block would be used (a region). A pool with another locale refuses the preview, naming both; a pool without a locale serves any.",
            ))
            .attribute(Attribute::computed("cidr", Type::String).description(
                "The CIDR the next allocation would get (best fit: the smallest free block that holds it, lowest address first); with `netmask_lengths`, the first of `cidrs`.",
            ))
            .attribute(Attribute::computed("cidrs", Type::list(Type::String)).description(
                "One CIDR per entry of `netmask_lengths`, distinct: what consecutive allocations of those lengths would get, if nothing else allocates in between. Without `netmask_lengths`, the one `cidr`.",
            )),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if let Err(d) = PreviewNextCidrDataSource::lengths(config) {
            diagnostics.extend(d);
        }
        if let Err(d) = cidrs_attr(config, "disallowed_cidrs", "Invalid Disallowed CIDR") {
            diagnostics.push(d);
        }
        diagnostics
    }

    async fn read(&self, mut config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let lengths = PreviewNextCidrDataSource::lengths(&config)?;
        let pool_id = string_attr(&config, "pool_id").unwrap_or_default();
        let locale = string_attr(&config, "locale");
        let disallowed = cidrs_attr(&config, "disallowed_cidrs", "Invalid Disallowed CIDR")
            .map_err(Diagnostics::from)?;
        let previewed = self
            .store
            .run("Preview Next CIDR Error", &self.schema(), move |store| {
                // the preview is about space: carry the pool's required tags so that they do
                // not stand in the way
                let tags = store.get_pool(&pool_id)?.allocation_resource_tags;
                let mut taken = Vec::with_capacity(lengths.len());
                for length in lengths {
                    // each later block avoids the earlier ones, as if they were allocated
                    let request = AllocationRequest {
                        pool_id: pool_id.clone(),
                        netmask_length: length,
                        cidr: None,
                        disallowed_cidrs: disallowed.iter().chain(&taken).copied().collect(),
                        description: String::new(),
                        tags: tags.clone(),
                        locale: locale.clone(),
                    };
                    taken.push(store.preview_allocation(&request)?);
                }
                Ok(taken)
            })
            .await;
        let mut diagnostics = Diagnostics::new();
        let cidrs = match previewed {
            Ok(cidrs) => cidrs,
            // a destroy reads data sources in its refresh plan but uses none of them: a pool
            // with no room left must not stop it
            Err(errors) if terraform_is_destroying() => {
                for error in errors.0 {
                    diagnostics.warning(error.summary, error.detail);
                }
                Vec::new()
            }
            Err(errors) => return Err(errors),
        };
        let first = cidrs
            .first()
            .map_or(Value::Null, |c| Value::string(c.to_string()));
        config.set_attr("cidr", first);
        config.set_attr(
            "cidrs",
            Value::List(cidrs.iter().map(|c| Value::string(c.to_string())).collect()),
        );
        Ok((config, diagnostics))
    }
}
