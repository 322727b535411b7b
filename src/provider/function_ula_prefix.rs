//! `provider::ipam::ula_prefix(seed)`: a deterministic RFC 4193 unique local IPv6 /48.

use super::function_common::{all_known, definition, Place};
use crate::ipam::ula;
use crate::plugin::{
    async_trait, Function, FunctionDefinition, FunctionError, Parameter, Type, Value,
};

/// `ula_prefix`.
pub(super) struct UlaPrefixFunction;

#[async_trait]
impl Function for UlaPrefixFunction {
    fn definition(&self) -> FunctionDefinition {
        definition(
            vec![Parameter::new(
                "seed",
                Type::String,
                "Any non-empty text naming the network, such as `\"acme-production\"`; the same seed always gives the same prefix.",
            )],
            Type::String,
            "A deterministic RFC 4193 unique local IPv6 /48 from a seed",
            "Returns an RFC 4193 unique local IPv6 prefix `fdXX:XXXX:XXXX::/48` derived from `seed`: its 40-bit Global ID is the least significant 40 bits of the SHA-1 digest of the seed's UTF-8 bytes, the digest RFC 4193 (section 3.2.2) uses. The same seed gives the same prefix on every machine and in every run, so the prefix can be recreated without storing it; different seeds collide only by a chance of about 1 in 2^40 per pair. The result is written in canonical form, leading zeros of each group dropped (`ula_prefix(\"production\")` is `fd08:1ad7:3d3c::/48`).\n\nA seed that others can guess gives a prefix others can compute: that is fine for uniqueness, which is what RFC 4193 asks for, but the prefix is not a secret. An empty seed is refused.",
        )
    }

    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError> {
        if !all_known(&arguments) {
            return Ok(Value::Unknown);
        }
        let place = Place::argument(0, "seed");
        match &arguments[0] {
            Value::String(seed) if !seed.is_empty() => {
                Ok(Value::string(ula::prefix_from_seed(seed).to_string()))
            }
            Value::String(_) => Err(place.error(
                "seed is empty; give a text naming the network, such as \"acme-production\", so that different networks get different prefixes",
            )),
            _ => Err(place.error("seed must be a string")),
        }
    }
}
