//! `provider::ipam::cidr_merge(cidrs)`: the shortest list of CIDRs covering the same addresses.

use super::function_common::{all_known, blocks, cidr_list, cidr_list_value, definition};
use crate::ipam::cidr_set;
use crate::plugin::{
    async_trait, Function, FunctionDefinition, FunctionError, Parameter, Type, Value,
};

/// `cidr_merge`.
pub(super) struct CidrMergeFunction;

#[async_trait]
impl Function for CidrMergeFunction {
    fn definition(&self) -> FunctionDefinition {
        definition(
            vec![Parameter::new(
                "cidrs",
                Type::list(Type::String),
                "The CIDRs to merge, all of one address family, in any order; duplicates and nested CIDRs are allowed.",
            )],
            Type::list(Type::String),
            "The shortest list of CIDRs covering exactly the same addresses",
            "Returns the shortest list of CIDRs that covers exactly the addresses of `cidrs`, in address order: duplicates and CIDRs inside others disappear, and neighbours that together form one CIDR are joined (`10.0.0.0/24` and `10.0.1.0/24` become `10.0.0.0/23`, while `10.0.1.0/24` and `10.0.2.0/24` stay two because no single CIDR covers exactly both). An empty list gives an empty list. Useful for route tables, firewall rules and security groups that should list as few prefixes as possible.\n\nAll CIDRs must be of one address family; call the function once per family. A CIDR with host bits set (`10.1.1.1/24`) is refused with the network it lies in. Results are written in canonical form (`2001:db8::/32`).",
        )
    }

    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError> {
        if !all_known(&arguments) {
            return Ok(Value::Unknown);
        }
        let cidrs = cidr_list(&arguments, 0, "cidrs", None)?;
        let Some(first) = cidrs.first() else {
            return Ok(Value::List(Vec::new()));
        };
        let family = first.family();
        Ok(cidr_list_value(
            family,
            &cidr_set::merge(family, &blocks(&cidrs)),
        ))
    }
}
