//! `provider::ipam::cidr_next_free(parent, used, prefix_length)`: the block the allocator would
//! hand out next, computed from the arguments alone.

use super::function_common::{
    all_known, blocks, cidr, cidr_list, definition, family_name, prefix_length_within,
};
use crate::ipam::{cidr_set, find_best_fit, FreeBlockIndex};
use crate::plugin::{
    async_trait, Function, FunctionDefinition, FunctionError, Parameter, Type, Value,
};

/// `cidr_next_free`.
pub(super) struct CidrNextFreeFunction;

#[async_trait]
impl Function for CidrNextFreeFunction {
    fn definition(&self) -> FunctionDefinition {
        definition(
            vec![
                Parameter::new(
                    "parent",
                    Type::String,
                    "The CIDR to allocate from, such as `10.0.0.0/16`.",
                ),
                Parameter::new(
                    "used",
                    Type::list(Type::String),
                    "The CIDRs already taken, of the address family of `parent`; they may overlap each other, and those outside `parent` are ignored.",
                ),
                Parameter::new(
                    "prefix_length",
                    Type::Number,
                    "The prefix length of the block wanted, from the length of `parent` to 32 (IPv4) or 128 (IPv6).",
                ),
            ],
            Type::String,
            "The block the allocator would hand out next, computed from a list",
            "Returns the `/prefix_length` CIDR that this provider's allocator would hand out from a pool holding `parent` once the CIDRs of `used` are taken: best fit, the smallest free block that can hold the request, lowest address among equals, so that large blocks stay whole. It runs the same allocator code as `ipam_allocation`, on the free space the arguments describe, and reads no database: nothing is reserved. To see what a real pool would hand out, use the `ipam_preview_next_cidr` data source.\n\nFails when no free block of that size is left, naming the largest free block; wrap the call in `try(..., null)` to get `null` instead. All CIDRs must be of the address family of `parent`; a CIDR with host bits set (`10.1.1.1/24`) is refused with the network it lies in.",
        )
    }

    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError> {
        if !all_known(&arguments) {
            return Ok(Value::Unknown);
        }
        let parent = cidr(&arguments, 0, "parent")?;
        let used = cidr_list(&arguments, 1, "used", Some(&parent))?;
        let length = prefix_length_within(&arguments, 2, "prefix_length", &parent)?;
        let family = parent.family();
        let used = blocks(&used);
        let mut free = cidr_set::free_space_index(family, parent.block(), &used);
        let unavailable = |e: crate::ipam::Error| FunctionError::new(e.to_string());
        if let Some((_, target)) =
            find_best_fit(&mut free, family, length, &[]).map_err(unavailable)?
        {
            return Ok(Value::string(target.to_net(family).to_string()));
        }
        let largest = match free.largest().map_err(unavailable)? {
            Some(block) => format!(
                "the largest free block is /{} ({})",
                block.prefix_len,
                block.to_net(family)
            ),
            None => "nothing in it is free".to_string(),
        };
        Err(FunctionError::new(format!(
            "no free /{length} in {} ({}) once used is taken: {largest}; ask for a smaller block (a longer prefix_length) or give a larger parent",
            parent.text,
            family_name(family)
        )))
    }
}
