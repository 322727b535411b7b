//! `provider::ipam::cidr_subtract(cidr, remove)`: what is left of a CIDR once a list is taken
//! out.

use super::function_common::{all_known, blocks, cidr, cidr_list, cidr_list_value, definition};
use crate::ipam::cidr_set;
use crate::plugin::{
    async_trait, Function, FunctionDefinition, FunctionError, Parameter, Type, Value,
};

/// `cidr_subtract`.
pub(super) struct CidrSubtractFunction;

#[async_trait]
impl Function for CidrSubtractFunction {
    fn definition(&self) -> FunctionDefinition {
        definition(
            vec![
                Parameter::new(
                    "cidr",
                    Type::String,
                    "The CIDR to take addresses from, such as `10.0.0.0/16`.",
                ),
                Parameter::new(
                    "remove",
                    Type::list(Type::String),
                    "The CIDRs to take out, of the same address family as `cidr`; they may overlap each other or lie partly or wholly outside `cidr`.",
                ),
            ],
            Type::list(Type::String),
            "What is left of a CIDR after removing a list of CIDRs",
            "Returns the addresses of `cidr` that lie in none of the CIDRs of `remove`, as the fewest CIDRs that cover them, in address order. CIDRs of `remove` outside `cidr` change nothing; a CIDR of `remove` that contains `cidr` leaves an empty list, and an empty `remove` gives `[cidr]`.\n\nAll CIDRs must be of the address family of `cidr`. A CIDR with host bits set (`10.1.1.1/24`) is refused with the network it lies in. Results are written in canonical form (`2001:db8::/32`).",
        )
    }

    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError> {
        if !all_known(&arguments) {
            return Ok(Value::Unknown);
        }
        let from = cidr(&arguments, 0, "cidr")?;
        let remove = cidr_list(&arguments, 1, "remove", Some(&from))?;
        let family = from.family();
        let removed = blocks(&remove);
        Ok(cidr_list_value(
            family,
            &cidr_set::subtract(family, &[from.block()], &removed),
        ))
    }
}
