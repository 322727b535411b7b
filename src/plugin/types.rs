//! Terraform's type system (cty types) and their JSON encoding, as used in schemas and in
//! dynamically typed values: `"string"`, `["list","string"]`, `["object",{"a":"number"}]`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A cty type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    /// A Unicode string.
    String,
    /// An arbitrary-precision number.
    Number,
    /// A boolean.
    Bool,
    /// Any type, decided per value (`"dynamic"`); values of this type carry their own type on
    /// the wire.
    Dynamic,
    /// An ordered list of elements of one type.
    List(Box<Type>),
    /// An unordered set of distinct elements of one type.
    Set(Box<Type>),
    /// A map from strings to elements of one type.
    Map(Box<Type>),
    /// An object with named attributes; `optional` names the attributes that may be omitted in
    /// a type constraint (only meaningful for function parameters and nested attributes).
    Object {
        /// Attribute name to type.
        attributes: BTreeMap<String, Type>,
        /// Attributes marked optional.
        optional: BTreeSet<String>,
    },
    /// A fixed-length sequence of elements with their own types.
    Tuple(Vec<Type>),
}

impl Type {
    /// `list(element)`.
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    /// `set(element)`.
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    /// `map(element)`.
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// `object({...})` with no optional attributes.
    pub fn object<I, S>(attributes: I) -> Type
    where
        I: IntoIterator<Item = (S, Type)>,
        S: Into<String>,
    {
        Type::Object {
            attributes: attributes.into_iter().map(|(n, t)| (n.into(), t)).collect(),
            optional: BTreeSet::new(),
        }
    }

    /// The type as cty's JSON type encoding.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Type::String => J::String("string".into()),
            Type::Number => J::String("number".into()),
            Type::Bool => J::String("bool".into()),
            Type::Dynamic => J::String("dynamic".into()),
            Type::List(e) => J::Array(vec![J::String("list".into()), e.to_json()]),
            Type::Set(e) => J::Array(vec![J::String("set".into()), e.to_json()]),
            Type::Map(e) => J::Array(vec![J::String("map".into()), e.to_json()]),
            Type::Object {
                attributes,
                optional,
            } => {
                let attrs: serde_json::Map<String, J> = attributes
                    .iter()
                    .map(|(name, ty)| (name.clone(), ty.to_json()))
                    .collect();
                let mut parts = vec![J::String("object".into()), J::Object(attrs)];
                if !optional.is_empty() {
                    parts.push(J::Array(optional.iter().cloned().map(J::String).collect()));
                }
                J::Array(parts)
            }
            Type::Tuple(elements) => J::Array(vec![
                J::String("tuple".into()),
                J::Array(elements.iter().map(Type::to_json).collect()),
            ]),
        }
    }

    /// The JSON type encoding as bytes (what schemas and dynamic values carry).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Parses cty's JSON type encoding.
    pub fn from_json(json: &serde_json::Value) -> Result<Type, String> {
        use serde_json::Value as J;
        match json {
            J::String(name) => match name.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(format!("unknown primitive type {other:?}")),
            },
            J::Array(parts) => {
                let kind = parts
                    .first()
                    .and_then(J::as_str)
                    .ok_or_else(|| "a complex type must start with its kind".to_string())?;
                let argument = parts
                    .get(1)
                    .ok_or_else(|| format!("type {kind:?} has no element type"))?;
                match kind {
                    "list" | "set" | "map" if parts.len() == 2 => {
                        let element = Box::new(Type::from_json(argument)?);
                        Ok(match kind {
                            "list" => Type::List(element),
                            "set" => Type::Set(element),
                            _ => Type::Map(element),
                        })
                    }
                    "object" if parts.len() == 2 || parts.len() == 3 => {
                        let J::Object(attrs) = argument else {
                            return Err("an object type needs a map of attribute types".into());
                        };
                        let mut attributes = BTreeMap::new();
                        for (name, ty) in attrs {
                            attributes.insert(name.clone(), Type::from_json(ty)?);
                        }
                        let mut optional = BTreeSet::new();
                        if let Some(list) = parts.get(2) {
                            let J::Array(names) = list else {
                                return Err("optional attributes must be a list of names".into());
                            };
                            for name in names {
                                let name = name
                                    .as_str()
                                    .ok_or("optional attribute names must be strings")?;
                                if !attributes.contains_key(name) {
                                    return Err(format!(
                                        "optional attribute {name:?} is not an attribute"
                                    ));
                                }
                                optional.insert(name.to_string());
                            }
                        }
                        Ok(Type::Object {
                            attributes,
                            optional,
                        })
                    }
                    "tuple" if parts.len() == 2 => {
                        let J::Array(elements) = argument else {
                            return Err("a tuple type needs a list of element types".into());
                        };
                        Ok(Type::Tuple(
                            elements
                                .iter()
                                .map(Type::from_json)
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    other => Err(format!("unknown or malformed complex type {other:?}")),
                }
            }
            other => Err(format!("not a type: {other}")),
        }
    }

    /// Parses the JSON type encoding from bytes.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type, String> {
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("type is not JSON: {e}"))?;
        Type::from_json(&json)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}
