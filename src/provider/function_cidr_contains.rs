//! `provider::ipam::cidr_contains(container, cidr_or_address)`: whether a CIDR or an address
//! lies inside a CIDR.

use super::function_common::{all_known, cidr, cidr_or_address, definition, same_family};
use crate::plugin::{
    async_trait, Function, FunctionDefinition, FunctionError, Parameter, Type, Value,
};

/// `cidr_contains`.
pub(super) struct CidrContainsFunction;

#[async_trait]
impl Function for CidrContainsFunction {
    fn definition(&self) -> FunctionDefinition {
        definition(
            vec![
                Parameter::new(
                    "container",
                    Type::String,
                    "The CIDR to look in, such as `10.0.0.0/16` or `2001:db8::/32`.",
                ),
                Parameter::new(
                    "cidr_or_address",
                    Type::String,
                    "The CIDR or single address to look for, such as `10.0.1.0/24`, `10.0.1.7` or `2001:db8::1`.",
                ),
            ],
            Type::Bool,
            "Whether a CIDR or an address lies inside another CIDR",
            "Returns `true` when every address of `cidr_or_address` lies inside `container`, else `false`. A CIDR contains itself; a bare address stands for its /32 (IPv4) or /128 (IPv6).\n\nBoth arguments must be of the same address family. A CIDR with host bits set (`10.1.1.1/24`) is refused with the network it lies in (`10.1.1.0/24`); `container` must be a CIDR, not an address.",
        )
    }

    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError> {
        if !all_known(&arguments) {
            return Ok(Value::Unknown);
        }
        let container = cidr(&arguments, 0, "container")?;
        let inner = cidr_or_address(&arguments, 1, "cidr_or_address")?;
        same_family(&inner, &container)?;
        Ok(Value::Bool(
            container
                .block()
                .contains(&inner.block(), container.family()),
        ))
    }
}
