//! Helpers for planning (PlanResourceChange).

use super::diagnostics::AttributePath;
use super::schema::Schema;
use super::value::Value;

/// Names of the schema's top-level computed attributes.
pub fn computed_attributes(schema: &Schema) -> Vec<String> {
    schema
        .block
        .attributes
        .iter()
        .filter(|a| a.computed)
        .map(|a| a.name.clone())
        .collect()
}

/// Marks the named top-level attributes unknown ("known after apply") where the proposal has
/// them null: what a create plan does for computed attributes.
pub fn unknown_if_null<S: AsRef<str>>(planned: &mut Value, names: &[S]) {
    if let Value::Object(attributes) = planned {
        for name in names {
            if let Some(value) = attributes.get_mut(name.as_ref()) {
                if value.is_null() {
                    *value = Value::Unknown;
                }
            }
        }
    }
}

/// Marks the named top-level attributes unknown unconditionally (computed values an update will
/// change).
pub fn set_unknown<S: AsRef<str>>(planned: &mut Value, names: &[S]) {
    if let Value::Object(attributes) = planned {
        for name in names {
            if let Some(value) = attributes.get_mut(name.as_ref()) {
                *value = Value::Unknown;
            }
        }
    }
}

/// True when the prior state and the plan differ on any attribute other than the named
/// (computed) ones: i.e. an update is actually planned.
pub fn changes_except<S: AsRef<str>>(prior: &Value, planned: &Value, ignored: &[S]) -> bool {
    match (prior.as_entries(), planned.as_entries()) {
        (Some(before), Some(after)) => after.iter().any(|(name, value)| {
            !ignored.iter().any(|i| i.as_ref() == name) && before.get(name) != Some(value)
        }),
        _ => prior != planned,
    }
}

/// Paths of the named top-level attributes whose planned value differs from the prior state;
/// empty on create (null prior). Unknown planned values count as a change.
pub fn requires_replace<S: AsRef<str>>(
    prior: &Value,
    planned: &Value,
    names: &[S],
) -> Vec<AttributePath> {
    if prior.is_null() || planned.is_null() {
        return Vec::new();
    }
    names
        .iter()
        .map(AsRef::as_ref)
        .filter(|name| !values_equal(prior.attr(name), planned.attr(name)))
        .map(AttributePath::root)
        .collect()
}

/// Equality where set element order does not matter.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Set(x), Value::Set(y)) => {
            x.len() == y.len()
                && x.iter().all(|e| y.iter().any(|f| values_equal(e, f)))
                && y.iter().all(|f| x.iter().any(|e| values_equal(e, f)))
        }
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(e, f)| values_equal(e, f))
        }
        (Value::Map(x), Value::Map(y)) | (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_plans_mark_null_computed_values_unknown() {
        let mut planned = Value::object([("id", Value::Null), ("name", Value::string("a"))]);
        unknown_if_null(&mut planned, &["id", "name"]);
        assert!(planned.attr("id").is_unknown());
        assert_eq!(planned.attr("name"), &Value::string("a"));
    }

    #[test]
    fn replacement_paths_name_changed_attributes_only() {
        let prior = Value::object([("name", Value::string("a")), ("v", Value::string("x"))]);
        let planned = Value::object([("name", Value::string("b")), ("v", Value::string("x"))]);
        assert_eq!(
            requires_replace(&prior, &planned, &["name", "v"]),
            vec![AttributePath::root("name")]
        );
        assert!(requires_replace(&Value::Null, &planned, &["name"]).is_empty());
        let sets = (
            Value::Set(vec![Value::string("a"), Value::string("b")]),
            Value::Set(vec![Value::string("b"), Value::string("a")]),
        );
        assert!(values_equal(&sets.0, &sets.1));
    }
}
