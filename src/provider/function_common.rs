//! What the provider-defined functions share: their definitions' shape, and their arguments
//! (CIDRs, addresses, lists of CIDRs, prefix lengths) decoded with the core's CIDR rules. Every
//! error is a [`FunctionError`] on the argument at fault (Terraform prints that parameter's
//! name) and names the list element.
//!
//! Terraform appends a full stop to a function error, so these messages end without one.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::ipam::{parse_cidr, AddressFamily, Block, Error};
use crate::plugin::{FunctionDefinition, FunctionError, Parameter, Type, Value};

/// Where a value sits in a call: the parameter, and the element of a list parameter.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place<'a> {
    /// The argument's position (what Terraform reports the error against).
    pub index: usize,
    /// The parameter name.
    pub name: &'a str,
    /// The position inside a list argument.
    pub element: Option<usize>,
}

impl<'a> Place<'a> {
    /// Argument `index`, called `name`.
    pub fn argument(index: usize, name: &'a str) -> Place<'a> {
        Place {
            index,
            name,
            element: None,
        }
    }

    fn element(self, element: usize) -> Place<'a> {
        Place {
            element: Some(element),
            ..self
        }
    }

    /// An error about this argument.
    pub fn error(&self, text: impl Into<String>) -> FunctionError {
        FunctionError::argument(self.index, text)
    }
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.element {
            Some(element) => write!(f, "{}[{element}]", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// A CIDR argument: the text as the user wrote it, and the network.
#[derive(Clone, Debug)]
pub(super) struct Cidr<'a> {
    pub text: String,
    pub net: IpNet,
    pub place: Place<'a>,
}

impl Cidr<'_> {
    /// The family of the CIDR.
    pub fn family(&self) -> AddressFamily {
        AddressFamily::of(&self.net)
    }

    /// The integer form the core computes with.
    pub fn block(&self) -> Block {
        Block::of(&self.net)
    }
}

/// A function's definition: its parameters (none variadic), result, one-line summary and
/// Markdown description (the documentation page).
pub(super) fn definition(
    parameters: Vec<Parameter>,
    return_type: Type,
    summary: &str,
    description: &str,
) -> FunctionDefinition {
    FunctionDefinition {
        parameters,
        variadic: None,
        return_type,
        summary: summary.to_string(),
        description: description.to_string(),
        deprecation_message: String::new(),
    }
}

/// `IPv4` or `IPv6`, as people write it.
pub(super) fn family_name(family: AddressFamily) -> &'static str {
    match family {
        AddressFamily::Ipv4 => "IPv4",
        AddressFamily::Ipv6 => "IPv6",
    }
}

/// Whether every argument is known. Terraform does not call a function with unknown
/// arguments its parameters do not accept; this keeps the functions correct if it ever does.
pub(super) fn all_known(arguments: &[Value]) -> bool {
    arguments.iter().all(Value::is_wholly_known)
}

fn text_at<'v>(value: &'v Value, place: Place<'_>) -> Result<&'v str, FunctionError> {
    match value {
        Value::String(text) => Ok(text),
        Value::Null => Err(place.error(format!(
            "{place} is null; give a CIDR such as 10.0.0.0/16 or 2001:db8::/48"
        ))),
        _ => Err(place.error(format!("{place} must be a string"))),
    }
}

/// Parses `text` at `place`: a CIDR without host bits, or (when `address_allowed`) a bare
/// address, which stands for its /32 or /128.
fn parse<'a>(
    text: &str,
    place: Place<'a>,
    address_allowed: bool,
) -> Result<Cidr<'a>, FunctionError> {
    if let Ok(address) = text.trim().parse::<IpAddr>() {
        if address_allowed {
            return Ok(Cidr {
                text: text.to_string(),
                net: IpNet::from(address),
                place,
            });
        }
        let width = if address.is_ipv4() { 32 } else { 128 };
        return Err(place.error(format!(
            "{place} {text:?} is an address, not a CIDR; write {address}/{width} for that single address"
        )));
    }
    match parse_cidr(text, "cidr") {
        Ok(net) => Ok(Cidr {
            text: text.to_string(),
            net,
            place,
        }),
        Err(Error::HostBitsSet { network, .. }) => Err(place.error(format!(
            "{place} {text} has host bits set; the network is {network}, write that instead"
        ))),
        Err(Error::InvalidCidr { reason, .. }) => {
            // without a slash the core's reason ("the prefix length is missing") misleads for
            // text that is no address either
            // (the core's reasons for text with a slash say what to write instead)
            Err(place.error(if text.contains('/') {
                format!("{place} {text:?} is not a CIDR: {reason}")
            } else {
                format!(
                    "{place} {text:?} is not a CIDR; write an address and a prefix length such as 10.0.0.0/16 or 2001:db8::/48"
                )
            }))
        }
        Err(other) => Err(place.error(format!("{place}: {other}"))),
    }
}

/// Argument `index` (`name`) as a CIDR; an address is refused.
pub(super) fn cidr<'a>(
    arguments: &[Value],
    index: usize,
    name: &'a str,
) -> Result<Cidr<'a>, FunctionError> {
    let place = Place::argument(index, name);
    parse(text_at(&arguments[index], place)?, place, false)
}

/// Argument `index` (`name`) as a CIDR or a single address.
pub(super) fn cidr_or_address<'a>(
    arguments: &[Value],
    index: usize,
    name: &'a str,
) -> Result<Cidr<'a>, FunctionError> {
    let place = Place::argument(index, name);
    parse(text_at(&arguments[index], place)?, place, true)
}

/// Argument `index` (`name`), a list of CIDRs, in the order given. When `family_of` is given
/// every element must be of its family; otherwise all must share the first element's.
pub(super) fn cidr_list<'a>(
    arguments: &[Value],
    index: usize,
    name: &'a str,
    family_of: Option<&Cidr<'a>>,
) -> Result<Vec<Cidr<'a>>, FunctionError> {
    let place = Place::argument(index, name);
    let elements = match &arguments[index] {
        Value::List(elements) | Value::Set(elements) | Value::Tuple(elements) => elements,
        _ => return Err(place.error(format!("{place} must be a list of strings"))),
    };
    let mut cidrs: Vec<Cidr<'a>> = Vec::with_capacity(elements.len());
    for (position, element) in elements.iter().enumerate() {
        let at = place.element(position);
        let cidr = parse(text_at(element, at)?, at, false)?;
        if let Some(reference) = family_of.or(cidrs.first()) {
            same_family(&cidr, reference)?;
        }
        cidrs.push(cidr);
    }
    Ok(cidrs)
}

/// Refuses `cidr` when its family differs from `reference`'s, blaming `cidr`'s argument.
pub(super) fn same_family(cidr: &Cidr<'_>, reference: &Cidr<'_>) -> Result<(), FunctionError> {
    if cidr.family() == reference.family() {
        return Ok(());
    }
    Err(cidr.place.error(format!(
        "{} {} is {} but {} {} is {}; IPv4 and IPv6 cannot be mixed in one call, call the function once per address family",
        cidr.place,
        cidr.text,
        family_name(cidr.family()),
        reference.place,
        reference.text,
        family_name(reference.family()),
    )))
}

/// Argument `index` (`name`), a prefix length for a block inside `parent`: a whole number from
/// the parent's own length to the family's width.
pub(super) fn prefix_length_within(
    arguments: &[Value],
    index: usize,
    name: &str,
    parent: &Cidr<'_>,
) -> Result<u8, FunctionError> {
    let place = Place::argument(index, name);
    let family = parent.family();
    let shortest = parent.net.prefix_len();
    let range = format!(
        "a block inside {} ({}) has a prefix length from {shortest} to {}",
        parent.text,
        family_name(family),
        family.width()
    );
    let Value::Number(given) = &arguments[index] else {
        return Err(place.error(format!("{place} must be a number")));
    };
    // as people write it: msgpack carries 24.5 as a float, which decodes as 2.45e1
    let number = match given.as_exact_f64() {
        Some(float) => float.to_string(),
        None => given.to_string(),
    };
    match given.as_i64().map(u8::try_from) {
        Some(Ok(length)) if (shortest..=family.width()).contains(&length) => Ok(length),
        None if given.as_f64().fract() != 0.0 => {
            Err(place.error(format!("{place} {number} is not a whole number; {range}")))
        }
        _ => Err(place.error(format!("{place} {number} is out of range; {range}"))),
    }
}

/// The blocks of a list of CIDRs, in the same order.
pub(super) fn blocks(cidrs: &[Cidr<'_>]) -> Vec<Block> {
    cidrs.iter().map(Cidr::block).collect()
}

/// A list of CIDRs as a Terraform list of strings.
pub(super) fn cidr_list_value(family: AddressFamily, blocks: &[Block]) -> Value {
    Value::List(
        blocks
            .iter()
            .map(|block| Value::String(block.to_net(family).to_string()))
            .collect(),
    )
}
