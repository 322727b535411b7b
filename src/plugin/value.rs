//! Terraform values: every position may be null or unknown (not yet known at plan time).

use std::collections::BTreeMap;
use std::fmt;

use super::types::Type;

/// An exact, arbitrary-precision number, kept as its decimal text (Terraform's numbers are
/// arbitrary precision, so converting to `f64` would lose digits).
#[derive(Clone, Debug)]
pub struct Number {
    text: String,
}

impl Number {
    /// Parses a decimal number (`-12`, `3.25`, `1e400`); `None` when it is not one.
    pub fn parse(text: &str) -> Option<Number> {
        canonical_decimal(text)?;
        Some(Number {
            text: text.to_string(),
        })
    }

    /// The decimal text as received or built.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number in positional notation as a person writes it (`24.5`, not `2.45e1`), for
    /// messages that quote a value back to the user. Falls back to the text as received when it
    /// would be longer than 60 digits.
    pub fn to_plain_string(&self) -> String {
        let Some((negative, digits, exponent)) = canonical_decimal(&self.text) else {
            return self.text.clone();
        };
        let sign = if negative { "-" } else { "" };
        if exponent.unsigned_abs() > 60 {
            return self.text.clone();
        }
        if exponent >= 0 {
            return format!("{sign}{digits}{}", "0".repeat(exponent as usize));
        }
        let point = digits.len() as i64 + exponent;
        if point > 0 {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{sign}{whole}.{fraction}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        }
    }

    /// The value as `i64` when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        if let Ok(v) = self.text.parse::<i64>() {
            return Some(v);
        }
        let (negative, digits, exponent) = canonical_decimal(&self.text)?;
        if digits == "0" {
            return Some(0);
        }
        if exponent < 0 {
            return None;
        }
        let mut text = String::from(if negative { "-" } else { "" });
        text.push_str(&digits);
        for _ in 0..exponent.min(40) {
            text.push('0');
        }
        text.parse().ok()
    }

    /// The nearest `f64`.
    pub fn as_f64(&self) -> f64 {
        self.text.parse().unwrap_or(f64::NAN)
    }

    /// The value as `f64` when that `f64` is exactly this number (as cty decides whether a
    /// number travels as a msgpack float): `2.5` is, `0.1` is not (its binary value differs).
    pub fn as_exact_f64(&self) -> Option<f64> {
        let (negative, digits, exponent) = canonical_decimal(&self.text)?;
        if digits.len() > 38 {
            return None;
        }
        let significand: u128 = digits.parse().ok()?;
        let magnitude = if exponent >= 0 {
            let scale = 10u128.checked_pow(u32::try_from(exponent).ok()?)?;
            let value = significand.checked_mul(scale)?;
            let float = value as f64;
            // Exact only when converting back gives the same integer.
            if float >= 2f64.powi(127) || float as u128 != value {
                return None;
            }
            float
        } else {
            // digits * 10^-k is dyadic only when 5^k divides the digits.
            let k = u32::try_from(-exponent).ok()?;
            let five_power = 5u128.checked_pow(k)?;
            if !significand.is_multiple_of(five_power) {
                return None;
            }
            let odd_part = significand / five_power;
            if odd_part >= 1u128 << 53 {
                return None;
            }
            odd_part as f64 / 2f64.powi(i32::try_from(k).ok()?)
        };
        Some(if negative { -magnitude } else { magnitude })
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        Number {
            text: value.to_string(),
        }
    }
}

impl From<u64> for Number {
    fn from(value: u64) -> Number {
        Number {
            text: value.to_string(),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        canonical_decimal(&self.text) == canonical_decimal(&other.text)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod number_tests {
    use super::Number;

    #[test]
    fn plain_strings_are_positional() {
        for (text, plain) in [
            ("2.45e1", "24.5"),
            ("24", "24"),
            ("1e3", "1000"),
            ("-0.5", "-0.5"),
            ("5e-3", "0.005"),
            ("0", "0"),
        ] {
            assert_eq!(
                Number::parse(text).unwrap().to_plain_string(),
                plain,
                "{text}"
            );
        }
    }
}

/// Splits a decimal into (negative, significant digits without leading/trailing zeros, exponent)
/// so that equal numbers written differently compare equal; `None` when not a decimal.
fn canonical_decimal(text: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (integer, fraction) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if integer.is_empty() && fraction.is_empty() {
        return None;
    }
    if !integer
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let all: String = format!("{integer}{fraction}");
    let exponent = exponent.checked_sub(fraction.len() as i64)?;
    let trimmed_leading = all.trim_start_matches('0');
    if trimmed_leading.is_empty() {
        return Some((false, "0".into(), 0));
    }
    let digits = trimmed_leading.trim_end_matches('0');
    let exponent = exponent.checked_add((trimmed_leading.len() - digits.len()) as i64)?;
    Some((negative, digits.to_string(), exponent))
}

/// A Terraform value. Collections and objects hold values that may themselves be null or
/// unknown. The type is given by the schema when decoding and encoding (see
/// [`super::codec`]); [`Value::infer_type`] recovers it for dynamically typed positions.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Absent (`null` in configuration, an unset optional attribute).
    Null,
    /// Not known until apply ("known after apply").
    Unknown,
    /// A string.
    String(String),
    /// A number.
    Number(Number),
    /// A boolean.
    Bool(bool),
    /// A list.
    List(Vec<Value>),
    /// A set (element order carries no meaning).
    Set(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
    /// An object: attribute name to value.
    Object(BTreeMap<String, Value>),
    /// A tuple.
    Tuple(Vec<Value>),
}

impl Default for Value {
    /// Null.
    fn default() -> Value {
        Value::Null
    }
}

/// Shared null for accessors that return a reference to a missing attribute.
static NULL: Value = Value::Null;

impl Value {
    /// A string value.
    pub fn string(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    /// A number value from an integer.
    pub fn int(number: i64) -> Value {
        Value::Number(Number::from(number))
    }

    /// An object from `(name, value)` pairs.
    pub fn object<I, S>(attributes: I) -> Value
    where
        I: IntoIterator<Item = (S, Value)>,
        S: Into<String>,
    {
        Value::Object(attributes.into_iter().map(|(n, v)| (n.into(), v)).collect())
    }

    /// A map of strings from `(key, value)` pairs.
    pub fn string_map<I, K, V>(entries: I) -> Value
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), Value::String(v.into())))
                .collect(),
        )
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for [`Value::Unknown`] (this value itself, not nested ones).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                items.iter().all(Value::is_wholly_known)
            }
            Value::Map(entries) | Value::Object(entries) => {
                entries.values().all(Value::is_wholly_known)
            }
            _ => true,
        }
    }

    /// The attribute `name` of an object (null when this is not an object or has no such
    /// attribute).
    pub fn attr(&self, name: &str) -> &Value {
        match self {
            Value::Object(attributes) => attributes.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Sets attribute `name` of an object (no effect on other values).
    pub fn set_attr(&mut self, name: &str, value: Value) {
        if let Value::Object(attributes) = self {
            attributes.insert(name.to_string(), value);
        }
    }

    /// The string, when this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, when this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, when this is a known number.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as `i64`, when this is a known integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// Elements of a known list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// Entries of a known map or object.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(entries) | Value::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// A map of strings as a `BTreeMap` (null or unknown entries are skipped).
    pub fn as_string_map(&self) -> Option<BTreeMap<String, String>> {
        let entries = self.as_entries()?;
        Some(
            entries
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect(),
        )
    }

    /// The type this value evidently has, for encoding at a `dynamic` position. Empty
    /// collections and null/unknown values give `dynamic` where nothing more can be known.
    /// The element type of a collection unifies what its elements show, as cty's element
    /// types are one type: `[{a = null}, {a = 1}]` is a list of `object({a = number})`.
    /// Elements with conflicting types (no cty value has them) keep the first element's type,
    /// so encoding reports where the value does not fit.
    pub fn infer_type(&self) -> Type {
        fn element_type(items: &[Value]) -> Type {
            items
                .iter()
                .map(Value::infer_type)
                .fold(Type::Dynamic, |acc, t| unify(&acc, &t).unwrap_or(acc))
        }
        match self {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::String(_) => Type::String,
            Value::Number(_) => Type::Number,
            Value::Bool(_) => Type::Bool,
            Value::List(items) => Type::list(element_type(items)),
            Value::Set(items) => Type::set(element_type(items)),
            Value::Map(entries) => {
                let items: Vec<Value> = entries.values().cloned().collect();
                Type::map(element_type(&items))
            }
            Value::Object(attributes) => {
                Type::object(attributes.iter().map(|(n, v)| (n.clone(), v.infer_type())))
            }
            Value::Tuple(items) => Type::Tuple(items.iter().map(Value::infer_type).collect()),
        }
    }
}

/// The one type both `a` and `b` describe, with `dynamic` (nothing known) filled in from the
/// other side; `None` when they conflict.
fn unify(a: &Type, b: &Type) -> Option<Type> {
    Some(match (a, b) {
        (Type::Dynamic, other) | (other, Type::Dynamic) => other.clone(),
        (Type::List(x), Type::List(y)) => Type::list(unify(x, y)?),
        (Type::Set(x), Type::Set(y)) => Type::set(unify(x, y)?),
        (Type::Map(x), Type::Map(y)) => Type::map(unify(x, y)?),
        (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => Type::Tuple(
            xs.iter()
                .zip(ys)
                .map(|(x, y)| unify(x, y))
                .collect::<Option<_>>()?,
        ),
        (
            Type::Object {
                attributes: xs,
                optional,
            },
            Type::Object { attributes: ys, .. },
        ) if xs.len() == ys.len() && xs.keys().eq(ys.keys()) => Type::Object {
            attributes: xs
                .iter()
                .zip(ys.values())
                .map(|((name, x), y)| Some((name.clone(), unify(x, y)?)))
                .collect::<Option<_>>()?,
            optional: optional.clone(),
        },
        (x, y) if x == y => x.clone(),
        _ => return None,
    })
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::int(n)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(option: Option<T>) -> Value {
        option.map(Into::into).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value_not_spelling() {
        assert_eq!(
            Number::parse("1.50").unwrap(),
            Number::parse("15e-1").unwrap()
        );
        assert_eq!(Number::parse("0.0").unwrap(), Number::parse("-0").unwrap());
        assert_ne!(
            Number::parse("1").unwrap(),
            Number::parse("1.000000000000000000001").unwrap()
        );
        assert!(Number::parse("1.2.3").is_none());
        assert!(Number::parse("").is_none());
        assert!(Number::parse("abc").is_none());
    }

    #[test]
    fn element_types_unify_across_nulls_and_empty_collections() {
        let list = Value::List(vec![
            Value::object([("a", Value::Null), ("b", Value::List(vec![]))]),
            Value::object([("a", Value::int(1)), ("b", Value::Null)]),
            Value::object([
                ("a", Value::Null),
                ("b", Value::List(vec![Value::from("x")])),
            ]),
        ]);
        assert_eq!(
            list.infer_type(),
            Type::list(Type::object([
                ("a", Type::Number),
                ("b", Type::list(Type::String))
            ]))
        );
        // Conflicting element types (no cty value) keep the first one's type.
        let conflicting = Value::Map(
            [
                ("x".to_string(), Value::Tuple(vec![])),
                ("y".to_string(), Value::object([("a", Value::Bool(true))])),
            ]
            .into(),
        );
        assert_eq!(conflicting.infer_type(), Type::map(Type::Tuple(vec![])));
    }

    #[test]
    fn integers_and_exact_floats_are_recognised() {
        assert_eq!(Number::parse("24").unwrap().as_i64(), Some(24));
        assert_eq!(Number::parse("2.4e1").unwrap().as_i64(), Some(24));
        assert_eq!(Number::parse("2.5").unwrap().as_i64(), None);
        assert_eq!(Number::parse("2.5").unwrap().as_exact_f64(), Some(2.5));
        assert_eq!(Number::parse("0.1").unwrap().as_exact_f64(), None);
        assert_eq!(
            Number::parse("-0.375").unwrap().as_exact_f64(),
            Some(-0.375)
        );
        assert_eq!(
            Number::parse("12345678901234567890123")
                .unwrap()
                .as_exact_f64(),
            None
        );
    }
}
