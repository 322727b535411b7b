//! Wire encodings of [`Value`]: cty's msgpack (DynamicValue.msgpack) and JSON (raw state,
//! DynamicValue.json). Decoding is always against a [`Type`]; malformed input gives a
//! [`DecodeError`] naming where it went wrong, never a panic.

use std::collections::BTreeMap;
use std::fmt;

use super::diagnostics::{AttributePath, Diagnostic, PathStep};
use super::types::Type;
use super::value::{Number, Value};

/// Why bytes could not be read as a value of the expected type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Where in the value (empty = the top).
    pub path: AttributePath,
    /// What was wrong.
    pub message: String,
}

impl DecodeError {
    fn new(path: &[PathStep], message: impl Into<String>) -> DecodeError {
        DecodeError {
            path: AttributePath {
                steps: path.to_vec(),
            },
            message: message.into(),
        }
    }

    /// A diagnostic saying which value (`what`, e.g. "the configuration") could not be decoded.
    pub fn to_diagnostic(&self, what: &str) -> Diagnostic {
        let diagnostic = Diagnostic::error(
            format!("Invalid {what}"),
            format!(
                "The provider could not decode {what}{}: {}. This is a bug in Terraform or in the provider; please report it.",
                if self.path.steps.is_empty() { String::new() } else { format!(" at {}", self.path) },
                self.message
            ),
        );
        if self.path.steps.is_empty() {
            diagnostic
        } else {
            diagnostic.with_attribute(self.path.clone())
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.steps.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

/// Why a value could not be encoded as the given type (a provider bug: the value does not match
/// its schema).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError {
    /// Where in the value.
    pub path: AttributePath,
    /// What was wrong.
    pub message: String,
}

impl EncodeError {
    fn new(path: &[PathStep], message: impl Into<String>) -> EncodeError {
        EncodeError {
            path: AttributePath {
                steps: path.to_vec(),
            },
            message: message.into(),
        }
    }

    /// An error diagnostic naming the value (`what`).
    pub fn to_diagnostic(&self, what: &str) -> Diagnostic {
        Diagnostic::error(
            "Provider produced an invalid value",
            format!(
                "The provider's {what} does not match its schema{}: {}. This is a bug in the provider.",
                if self.path.steps.is_empty() { String::new() } else { format!(" at {}", self.path) },
                self.message
            ),
        )
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.message)
    }
}

/// Deepest nesting accepted when decoding, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

// ---------------------------------------------------------------------------------------------
// msgpack

/// Encodes `value` as cty msgpack for type `ty`.
pub fn to_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    let mut path = Vec::new();
    encode_msgpack(value, ty, &mut out, &mut path)?;
    Ok(out)
}

/// Decodes cty msgpack as a value of type `ty`. Unknown values (extension type 0, or 12: the
/// refined unknowns of Terraform >= 1.6) become [`Value::Unknown`].
pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    let mut path = Vec::new();
    let value = decode_msgpack(&mut reader, ty, &mut path, 0)?;
    if reader.at != bytes.len() {
        return Err(DecodeError::new(
            &[],
            format!("{} unexpected trailing bytes", bytes.len() - reader.at),
        ));
    }
    Ok(value)
}

fn write_len(out: &mut Vec<u8>, len: usize, fix: Option<(u8, usize)>, markers: [u8; 3]) {
    match fix {
        Some((base, limit)) if len < limit => out.push(base | len as u8),
        _ if len <= u8::MAX as usize && markers[0] != 0 => {
            out.push(markers[0]);
            out.push(len as u8);
        }
        _ if len <= u16::MAX as usize => {
            out.push(markers[1]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(markers[2]);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    write_len(out, text.len(), Some((0xa0, 32)), [0xd9, 0xda, 0xdb]);
    out.extend_from_slice(text.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, bytes: &[u8]) {
    write_len(out, bytes.len(), None, [0xc4, 0xc5, 0xc6]);
    out.extend_from_slice(bytes);
}

fn write_array_len(out: &mut Vec<u8>, len: usize) {
    write_len(out, len, Some((0x90, 16)), [0, 0xdc, 0xdd]);
}

fn write_map_len(out: &mut Vec<u8>, len: usize) {
    write_len(out, len, Some((0x80, 16)), [0, 0xde, 0xdf]);
}

fn write_int(out: &mut Vec<u8>, n: i64) {
    if (0..128).contains(&n) {
        out.push(n as u8);
    } else if (-32..0).contains(&n) {
        out.push(n as i8 as u8);
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_msgpack(
    value: &Value,
    ty: &Type,
    out: &mut Vec<u8>,
    path: &mut Vec<PathStep>,
) -> Result<(), EncodeError> {
    match value {
        Value::Unknown => {
            // fixext1, type 0, payload 0: cty's unknown value.
            out.extend_from_slice(&[0xd4, 0, 0]);
            return Ok(());
        }
        Value::Null => {
            out.push(0xc0);
            return Ok(());
        }
        _ => {}
    }
    match (ty, value) {
        (Type::Dynamic, _) => {
            let actual = value.infer_type();
            write_array_len(out, 2);
            write_bin(out, &actual.to_json_bytes());
            encode_msgpack(value, &actual, out, path)
        }
        (Type::String, Value::String(s)) => {
            write_str(out, s);
            Ok(())
        }
        (Type::Number, Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                write_int(out, i);
            } else if let Some(f) = n.as_exact_f64() {
                out.push(0xcb);
                out.extend_from_slice(&f.to_bits().to_be_bytes());
            } else {
                // cty sends numbers that neither int64 nor float64 hold exactly as strings.
                write_str(out, n.as_str());
            }
            Ok(())
        }
        (Type::Bool, Value::Bool(b)) => {
            out.push(if *b { 0xc3 } else { 0xc2 });
            Ok(())
        }
        (Type::List(element), Value::List(items)) | (Type::Set(element), Value::Set(items)) => {
            write_array_len(out, items.len());
            for (index, item) in items.iter().enumerate() {
                path.push(PathStep::Index(index as i64));
                encode_msgpack(item, element, out, path)?;
                path.pop();
            }
            Ok(())
        }
        (Type::Map(element), Value::Map(entries)) => {
            write_map_len(out, entries.len());
            for (key, item) in entries {
                write_str(out, key);
                path.push(PathStep::Key(key.clone()));
                encode_msgpack(item, element, out, path)?;
                path.pop();
            }
            Ok(())
        }
        (Type::Object { attributes, .. }, Value::Object(values)) => {
            if let Some(extra) = values.keys().find(|name| !attributes.contains_key(*name)) {
                return Err(EncodeError::new(
                    path,
                    format!("unexpected attribute {extra:?}"),
                ));
            }
            write_map_len(out, attributes.len());
            for (name, attribute_type) in attributes {
                write_str(out, name);
                path.push(PathStep::Attribute(name.clone()));
                encode_msgpack(
                    values.get(name).unwrap_or(&Value::Null),
                    attribute_type,
                    out,
                    path,
                )?;
                path.pop();
            }
            Ok(())
        }
        (Type::Tuple(types), Value::Tuple(items)) => {
            if types.len() != items.len() {
                return Err(EncodeError::new(
                    path,
                    format!(
                        "tuple of {} elements for a type of {}",
                        items.len(),
                        types.len()
                    ),
                ));
            }
            write_array_len(out, items.len());
            for (index, (item, item_type)) in items.iter().zip(types).enumerate() {
                path.push(PathStep::Index(index as i64));
                encode_msgpack(item, item_type, out, path)?;
                path.pop();
            }
            Ok(())
        }
        (ty, value) => Err(EncodeError::new(
            path,
            format!("a {} value where the type is {ty}", kind_name(value)),
        )),
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// What one msgpack item header says.
enum Item<'a> {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8),
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, path: &[PathStep]) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        match end {
            Some(end) => {
                let slice = &self.bytes[self.at..end];
                self.at = end;
                Ok(slice)
            }
            None => Err(DecodeError::new(path, "msgpack data ends early")),
        }
    }

    fn uint(&mut self, n: usize, path: &[PathStep]) -> Result<u64, DecodeError> {
        let bytes = self.take(n, path)?;
        Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn sized(&mut self, len: u64, path: &[PathStep]) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(len).map_err(|_| DecodeError::new(path, "length too large"))?;
        self.take(len, path)
    }

    /// Collection lengths are bounded by the remaining bytes (each item needs at least one), so
    /// a hostile length cannot make us allocate.
    fn count(&self, len: u64, per_item: usize, path: &[PathStep]) -> Result<usize, DecodeError> {
        let remaining = (self.bytes.len() - self.at) / per_item;
        match usize::try_from(len) {
            Ok(len) if len <= remaining => Ok(len),
            _ => Err(DecodeError::new(
                path,
                "msgpack collection longer than the data",
            )),
        }
    }

    fn item(&mut self, path: &[PathStep]) -> Result<Item<'a>, DecodeError> {
        let marker = self.take(1, path)?[0];
        Ok(match marker {
            0x00..=0x7f => Item::Int(i128::from(marker)),
            0x80..=0x8f => Item::Map(self.count(u64::from(marker & 0x0f), 2, path)?),
            0x90..=0x9f => Item::Array(self.count(u64::from(marker & 0x0f), 1, path)?),
            0xa0..=0xbf => Item::Str(self.sized(u64::from(marker & 0x1f), path)?),
            0xc0 => Item::Nil,
            0xc2 => Item::Bool(false),
            0xc3 => Item::Bool(true),
            0xc4..=0xc6 => {
                let len = self.uint(1 << (marker - 0xc4), path)?;
                Item::Bin(self.sized(len, path)?)
            }
            0xc7..=0xc9 => {
                let len = self.uint(1 << (marker - 0xc7), path)?;
                let ext_type = self.take(1, path)?[0] as i8;
                self.sized(len, path)?;
                Item::Ext(ext_type)
            }
            0xca => Item::Float(f64::from(f32::from_bits(self.uint(4, path)? as u32))),
            0xcb => Item::Float(f64::from_bits(self.uint(8, path)?)),
            0xcc..=0xcf => Item::Int(i128::from(self.uint(1 << (marker - 0xcc), path)?)),
            0xd0 => Item::Int(i128::from(self.uint(1, path)? as u8 as i8)),
            0xd1 => Item::Int(i128::from(self.uint(2, path)? as u16 as i16)),
            0xd2 => Item::Int(i128::from(self.uint(4, path)? as u32 as i32)),
            0xd3 => Item::Int(i128::from(self.uint(8, path)? as i64)),
            0xd4..=0xd8 => {
                let ext_type = self.take(1, path)?[0] as i8;
                self.take(1 << (marker - 0xd4), path)?;
                Item::Ext(ext_type)
            }
            0xd9..=0xdb => {
                let len = self.uint(1 << (marker - 0xd9), path)?;
                Item::Str(self.sized(len, path)?)
            }
            0xdc | 0xdd => {
                let len = self.uint(if marker == 0xdc { 2 } else { 4 }, path)?;
                Item::Array(self.count(len, 1, path)?)
            }
            0xde | 0xdf => {
                let len = self.uint(if marker == 0xde { 2 } else { 4 }, path)?;
                Item::Map(self.count(len, 2, path)?)
            }
            0xe0..=0xff => Item::Int(i128::from(marker as i8)),
            0xc1 => return Err(DecodeError::new(path, "invalid msgpack marker 0xc1")),
        })
    }

    fn string(&mut self, path: &[PathStep]) -> Result<String, DecodeError> {
        match self.item(path)? {
            Item::Str(bytes) => utf8(bytes, path),
            _ => Err(DecodeError::new(path, "expected a string key")),
        }
    }
}

fn utf8(bytes: &[u8], path: &[PathStep]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| DecodeError::new(path, "string is not valid UTF-8"))
}

fn item_name(item: &Item<'_>) -> &'static str {
    match item {
        Item::Nil => "nil",
        Item::Bool(_) => "bool",
        Item::Int(_) => "integer",
        Item::Float(_) => "float",
        Item::Str(_) => "string",
        Item::Bin(_) => "binary",
        Item::Array(_) => "array",
        Item::Map(_) => "map",
        Item::Ext(_) => "extension",
    }
}

fn float_number(f: f64, path: &[PathStep]) -> Result<Number, DecodeError> {
    if !f.is_finite() {
        return Err(DecodeError::new(
            path,
            "infinite or NaN numbers are not supported",
        ));
    }
    // `{:e}` is the shortest text that reads back as the same f64; cty keeps the exact binary
    // value, which this text denotes when it is exact (the usual case for values Terraform sends).
    Number::parse(&format!("{f:e}")).ok_or_else(|| DecodeError::new(path, "unreadable float"))
}

fn decode_msgpack(
    reader: &mut Reader<'_>,
    ty: &Type,
    path: &mut Vec<PathStep>,
    depth: usize,
) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::new(path, "value nested too deeply"));
    }
    let item = reader.item(path)?;
    match item {
        Item::Nil => return Ok(Value::Null),
        Item::Ext(0) | Item::Ext(12) => return Ok(Value::Unknown),
        Item::Ext(other) => {
            return Err(DecodeError::new(
                path,
                format!("unexpected msgpack extension type {other}"),
            ))
        }
        _ => {}
    }
    let mismatch = |item: &Item<'_>, path: &[PathStep]| {
        DecodeError::new(
            path,
            format!("expected {ty}, found a msgpack {}", item_name(item)),
        )
    };
    match ty {
        Type::Dynamic => {
            let Item::Array(2) = item else {
                return Err(DecodeError::new(
                    path,
                    "a dynamic value must be a [type, value] pair",
                ));
            };
            let type_bytes = match reader.item(path)? {
                Item::Bin(b) | Item::Str(b) => b,
                _ => {
                    return Err(DecodeError::new(
                        path,
                        "a dynamic value's type must be JSON bytes",
                    ))
                }
            };
            let actual =
                Type::from_json_bytes(type_bytes).map_err(|e| DecodeError::new(path, e))?;
            if actual == Type::Dynamic {
                return Err(DecodeError::new(
                    path,
                    "a dynamic value cannot have type dynamic",
                ));
            }
            decode_msgpack(reader, &actual, path, depth + 1)
        }
        Type::String => match item {
            Item::Str(bytes) => Ok(Value::String(utf8(bytes, path)?)),
            other => Err(mismatch(&other, path)),
        },
        Type::Number => match item {
            Item::Int(i) => Ok(Value::Number(
                Number::parse(&i.to_string())
                    .ok_or_else(|| DecodeError::new(path, "bad integer"))?,
            )),
            Item::Float(f) => Ok(Value::Number(float_number(f, path)?)),
            Item::Str(bytes) => {
                let text = utf8(bytes, path)?;
                Number::parse(&text)
                    .map(Value::Number)
                    .ok_or_else(|| DecodeError::new(path, format!("{text:?} is not a number")))
            }
            other => Err(mismatch(&other, path)),
        },
        Type::Bool => match item {
            Item::Bool(b) => Ok(Value::Bool(b)),
            other => Err(mismatch(&other, path)),
        },
        Type::List(element) | Type::Set(element) => {
            let Item::Array(len) = item else {
                return Err(mismatch(&item, path));
            };
            let mut items = Vec::with_capacity(len);
            for index in 0..len {
                path.push(PathStep::Index(index as i64));
                items.push(decode_msgpack(reader, element, path, depth + 1)?);
                path.pop();
            }
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(items)
            } else {
                Value::Set(items)
            })
        }
        Type::Tuple(types) => {
            let Item::Array(len) = item else {
                return Err(mismatch(&item, path));
            };
            if len != types.len() {
                return Err(DecodeError::new(
                    path,
                    format!("tuple of {len} elements for a type of {}", types.len()),
                ));
            }
            let mut items = Vec::with_capacity(len);
            for (index, element) in types.iter().enumerate() {
                path.push(PathStep::Index(index as i64));
                items.push(decode_msgpack(reader, element, path, depth + 1)?);
                path.pop();
            }
            Ok(Value::Tuple(items))
        }
        Type::Map(element) => {
            let Item::Map(len) = item else {
                return Err(mismatch(&item, path));
            };
            let mut entries = BTreeMap::new();
            for _ in 0..len {
                let key = reader.string(path)?;
                path.push(PathStep::Key(key.clone()));
                let value = decode_msgpack(reader, element, path, depth + 1)?;
                path.pop();
                entries.insert(key, value);
            }
            Ok(Value::Map(entries))
        }
        Type::Object { attributes, .. } => {
            let Item::Map(len) = item else {
                return Err(mismatch(&item, path));
            };
            let mut values = BTreeMap::new();
            for _ in 0..len {
                let name = reader.string(path)?;
                let Some(attribute_type) = attributes.get(&name) else {
                    return Err(DecodeError::new(
                        path,
                        format!("unsupported attribute {name:?}"),
                    ));
                };
                path.push(PathStep::Attribute(name.clone()));
                let value = decode_msgpack(reader, attribute_type, path, depth + 1)?;
                path.pop();
                values.insert(name, value);
            }
            // Attributes the sender left out are null (cty always sends all of them).
            for name in attributes.keys() {
                values.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(values))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Encodes `value` as cty JSON for type `ty`. JSON has no unknowns: an unknown value is an
/// error.
pub fn to_json(value: &Value, ty: &Type) -> Result<serde_json::Value, EncodeError> {
    encode_json(value, ty, &mut Vec::new())
}

fn json_number(n: &Number, path: &[PathStep]) -> Result<serde_json::Value, EncodeError> {
    // With serde_json's arbitrary_precision the decimal text is kept as is.
    serde_json::from_str::<serde_json::Number>(n.as_str())
        .map(serde_json::Value::Number)
        .map_err(|_| EncodeError::new(path, format!("{n} is not a JSON number")))
}

fn encode_json(
    value: &Value,
    ty: &Type,
    path: &mut Vec<PathStep>,
) -> Result<serde_json::Value, EncodeError> {
    use serde_json::Value as J;
    match (ty, value) {
        (_, Value::Unknown) => Err(EncodeError::new(path, "JSON cannot hold unknown values")),
        (Type::Dynamic, Value::Null) => Ok(J::Null),
        (Type::Dynamic, _) => {
            let actual = value.infer_type();
            let mut object = serde_json::Map::new();
            object.insert("value".into(), encode_json(value, &actual, path)?);
            object.insert("type".into(), actual.to_json());
            Ok(J::Object(object))
        }
        (_, Value::Null) => Ok(J::Null),
        (Type::String, Value::String(s)) => Ok(J::String(s.clone())),
        (Type::Number, Value::Number(n)) => json_number(n, path),
        (Type::Bool, Value::Bool(b)) => Ok(J::Bool(*b)),
        (Type::List(element), Value::List(items)) | (Type::Set(element), Value::Set(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                path.push(PathStep::Index(index as i64));
                out.push(encode_json(item, element, path)?);
                path.pop();
            }
            Ok(J::Array(out))
        }
        (Type::Tuple(types), Value::Tuple(items)) if types.len() == items.len() => {
            let mut out = Vec::with_capacity(items.len());
            for (index, (item, item_type)) in items.iter().zip(types).enumerate() {
                path.push(PathStep::Index(index as i64));
                out.push(encode_json(item, item_type, path)?);
                path.pop();
            }
            Ok(J::Array(out))
        }
        (Type::Map(element), Value::Map(entries)) => {
            let mut out = serde_json::Map::new();
            for (key, item) in entries {
                path.push(PathStep::Key(key.clone()));
                out.insert(key.clone(), encode_json(item, element, path)?);
                path.pop();
            }
            Ok(J::Object(out))
        }
        (Type::Object { attributes, .. }, Value::Object(values)) => {
            if let Some(extra) = values.keys().find(|name| !attributes.contains_key(*name)) {
                return Err(EncodeError::new(
                    path,
                    format!("unexpected attribute {extra:?}"),
                ));
            }
            let mut out = serde_json::Map::new();
            for (name, attribute_type) in attributes {
                path.push(PathStep::Attribute(name.clone()));
                out.insert(
                    name.clone(),
                    encode_json(
                        values.get(name).unwrap_or(&Value::Null),
                        attribute_type,
                        path,
                    )?,
                );
                path.pop();
            }
            Ok(J::Object(out))
        }
        (ty, value) => Err(EncodeError::new(
            path,
            format!("a {} value where the type is {ty}", kind_name(value)),
        )),
    }
}

/// Encodes as JSON bytes.
pub fn to_json_bytes(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    Ok(to_json(value, ty)?.to_string().into_bytes())
}

/// Decodes JSON bytes (e.g. a raw state) as a value of type `ty`.
pub fn from_json_bytes(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| DecodeError::new(&[], format!("not valid JSON: {e}")))?;
    from_json(&json, ty)
}

/// Decodes a parsed JSON value as a value of type `ty` (cty's JSON rules: objects may omit
/// attributes, which become null; numbers and bools may also be given as strings).
pub fn from_json(json: &serde_json::Value, ty: &Type) -> Result<Value, DecodeError> {
    decode_json(json, ty, &mut Vec::new(), 0)
}

fn decode_json(
    json: &serde_json::Value,
    ty: &Type,
    path: &mut Vec<PathStep>,
    depth: usize,
) -> Result<Value, DecodeError> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err(DecodeError::new(path, "value nested too deeply"));
    }
    if json.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = || {
        DecodeError::new(
            path,
            format!("expected {ty}, found JSON {}", json_kind(json)),
        )
    };
    match ty {
        Type::Dynamic => {
            let J::Object(object) = json else {
                return Err(DecodeError::new(
                    path,
                    "a dynamic value must be {\"value\": ..., \"type\": ...}",
                ));
            };
            let (Some(type_json), Some(value_json)) = (object.get("type"), object.get("value"))
            else {
                return Err(DecodeError::new(
                    path,
                    "a dynamic value needs \"type\" and \"value\"",
                ));
            };
            let actual = Type::from_json(type_json).map_err(|e| DecodeError::new(path, e))?;
            if actual == Type::Dynamic {
                return Err(DecodeError::new(
                    path,
                    "a dynamic value cannot have type dynamic",
                ));
            }
            decode_json(value_json, &actual, path, depth + 1)
        }
        Type::String => match json {
            J::String(s) => Ok(Value::String(s.clone())),
            J::Number(n) => Ok(Value::String(n.to_string())),
            J::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(mismatch()),
        },
        Type::Number => {
            let text = match json {
                J::Number(n) => n.to_string(),
                J::String(s) => s.clone(),
                _ => return Err(mismatch()),
            };
            Number::parse(&text)
                .map(Value::Number)
                .ok_or_else(|| DecodeError::new(path, format!("{text:?} is not a number")))
        }
        Type::Bool => match json {
            J::Bool(b) => Ok(Value::Bool(*b)),
            J::String(s) if s == "true" => Ok(Value::Bool(true)),
            J::String(s) if s == "false" => Ok(Value::Bool(false)),
            _ => Err(mismatch()),
        },
        Type::List(element) | Type::Set(element) => {
            let J::Array(items) = json else {
                return Err(mismatch());
            };
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                path.push(PathStep::Index(index as i64));
                out.push(decode_json(item, element, path, depth + 1)?);
                path.pop();
            }
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(out)
            } else {
                Value::Set(out)
            })
        }
        Type::Tuple(types) => {
            let J::Array(items) = json else {
                return Err(mismatch());
            };
            if items.len() != types.len() {
                return Err(DecodeError::new(
                    path,
                    format!(
                        "tuple of {} elements for a type of {}",
                        items.len(),
                        types.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (index, (item, element)) in items.iter().zip(types).enumerate() {
                path.push(PathStep::Index(index as i64));
                out.push(decode_json(item, element, path, depth + 1)?);
                path.pop();
            }
            Ok(Value::Tuple(out))
        }
        Type::Map(element) => {
            let J::Object(entries) = json else {
                return Err(mismatch());
            };
            let mut out = BTreeMap::new();
            for (key, item) in entries {
                path.push(PathStep::Key(key.clone()));
                out.insert(key.clone(), decode_json(item, element, path, depth + 1)?);
                path.pop();
            }
            Ok(Value::Map(out))
        }
        Type::Object { attributes, .. } => {
            let J::Object(entries) = json else {
                return Err(mismatch());
            };
            let mut out = BTreeMap::new();
            for (name, item) in entries {
                let Some(attribute_type) = attributes.get(name) else {
                    return Err(DecodeError::new(
                        path,
                        format!("unsupported attribute {name:?}"),
                    ));
                };
                path.push(PathStep::Attribute(name.clone()));
                out.insert(
                    name.clone(),
                    decode_json(item, attribute_type, path, depth + 1)?,
                );
                path.pop();
            }
            for name in attributes.keys() {
                out.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(out))
        }
    }
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thing_type() -> Type {
        Type::object([
            ("id", Type::String),
            ("count", Type::Number),
            ("tags", Type::map(Type::String)),
            ("any", Type::Dynamic),
        ])
    }

    #[test]
    fn msgpack_round_trip_keeps_unknowns_nulls_and_big_numbers() {
        let value = Value::object([
            ("id", Value::Unknown),
            (
                "count",
                Value::Number(Number::parse("123456789012345678901234567890.5").unwrap()),
            ),
            ("tags", Value::string_map([("Name", "a")])),
            ("any", Value::List(vec![Value::Bool(true)])),
        ]);
        let bytes = to_msgpack(&value, &thing_type()).unwrap();
        assert_eq!(from_msgpack(&bytes, &thing_type()).unwrap(), value);
    }

    #[test]
    fn refined_unknowns_from_newer_terraform_are_unknown() {
        // fixext... type 12 with a refinement payload, as Terraform >= 1.6 sends.
        let bytes = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3];
        assert_eq!(from_msgpack(&bytes, &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn numbers_travel_like_cty_numbers() {
        assert_eq!(to_msgpack(&Value::int(5), &Type::Number).unwrap(), vec![5]);
        let half =
            to_msgpack(&Value::Number(Number::parse("2.5").unwrap()), &Type::Number).unwrap();
        assert_eq!(half[0], 0xcb);
        let tenth =
            to_msgpack(&Value::Number(Number::parse("0.1").unwrap()), &Type::Number).unwrap();
        assert_eq!(tenth, vec![0xa3, b'0', b'.', b'1']);
    }

    #[test]
    fn malformed_input_is_an_error_naming_the_place() {
        let error = from_msgpack(
            &[0x81, 0xa5, b'c', b'o', b'u', b'n', b't', 0xa1, b'x'],
            &thing_type(),
        )
        .unwrap_err();
        assert_eq!(error.path, AttributePath::root("count"));
        assert!(from_msgpack(&[0xdd, 0xff, 0xff, 0xff, 0xff], &Type::list(Type::String)).is_err());
        assert!(from_json_bytes(b"{\"nope\": 1}", &thing_type()).is_err());
    }

    #[test]
    fn dynamic_values_carry_one_unified_type() {
        let value = Value::List(vec![
            Value::object([("a", Value::Null)]),
            Value::object([("a", Value::int(1))]),
        ]);
        let json = to_json(&value, &Type::Dynamic).unwrap();
        assert_eq!(
            json["type"],
            serde_json::json!(["list", ["object", {"a": "number"}]])
        );
        assert_eq!(json["value"], serde_json::json!([{"a": null}, {"a": 1}]));
        let bytes = to_json_bytes(&value, &Type::Dynamic).unwrap();
        assert_eq!(from_json_bytes(&bytes, &Type::Dynamic).unwrap(), value);
        let bytes = to_msgpack(&value, &Type::Dynamic).unwrap();
        assert_eq!(from_msgpack(&bytes, &Type::Dynamic).unwrap(), value);

        // Map entries of different types are no cty value: an error naming the place.
        let mixed = Value::Map(
            [
                (
                    "k".to_string(),
                    Value::object([("_", Value::Tuple(vec![]))]),
                ),
                (
                    "l".to_string(),
                    Value::object([("_", Value::object([("f", Value::Set(vec![]))]))]),
                ),
            ]
            .into(),
        );
        let error = to_json(&mixed, &Type::Dynamic).unwrap_err();
        assert_eq!(
            error.path.steps,
            vec![PathStep::Key("l".into()), PathStep::Attribute("_".into())]
        );
        assert!(to_msgpack(&mixed, &Type::Dynamic).is_err());
    }

    #[test]
    fn json_state_decodes_with_missing_attributes_as_null() {
        let value = from_json_bytes(br#"{"id":"a","count":1e400}"#, &thing_type()).unwrap();
        assert_eq!(value.attr("id"), &Value::string("a"));
        assert_eq!(
            value.attr("count").as_number(),
            Number::parse("1e400").as_ref()
        );
        assert!(value.attr("tags").is_null());
    }
}
