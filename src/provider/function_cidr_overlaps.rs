//! `provider::ipam::cidr_overlaps(cidrs)`: the pairs of CIDRs in a list that share addresses.

use super::function_common::{all_known, blocks, cidr_list, definition};
use crate::ipam::cidr_set;
use crate::plugin::{
    async_trait, Function, FunctionDefinition, FunctionError, Parameter, Type, Value,
};

/// `cidr_overlaps`.
pub(super) struct CidrOverlapsFunction;

#[async_trait]
impl Function for CidrOverlapsFunction {
    fn definition(&self) -> FunctionDefinition {
        definition(
            vec![Parameter::new(
                "cidrs",
                Type::list(Type::String),
                "The CIDRs to check, all of one address family, such as `[\"10.0.0.0/16\", \"10.0.128.0/20\"]`.",
            )],
            Type::list(Type::list(Type::String)),
            "The pairs of CIDRs in a list that overlap",
            "Returns every pair of CIDRs in `cidrs` that share at least one address, each as a two-element list `[earlier, later]` holding the CIDRs as written, ordered by their positions in `cidrs`. A CIDR listed twice overlaps itself, so duplicates show up as a pair. Returns an empty list when no two CIDRs overlap, for example to forbid overlaps in a `precondition` with `length(...) == 0`.\n\nAll CIDRs must be of one address family; call the function once per family. A CIDR with host bits set (`10.1.1.1/24`) is refused with the network it lies in.",
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
        let pairs = cidr_set::overlapping_pairs(first.family(), &blocks(&cidrs))
            .into_iter()
            .map(|(i, j)| {
                Value::List(vec![
                    Value::string(cidrs[i].text.clone()),
                    Value::string(cidrs[j].text.clone()),
                ])
            })
            .collect();
        Ok(Value::List(pairs))
    }
}
