//! Property tests of the value codecs: msgpack and JSON round trips of arbitrary nested values
//! (nulls and unknowns anywhere, exact big numbers, dynamic positions), and decoders that never
//! panic on arbitrary bytes.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tfipam::plugin::codec;
use tfipam::plugin::{Number, Type, Value};

fn leaf_type() -> impl Strategy<Value = Type> {
    prop_oneof![Just(Type::String), Just(Type::Number), Just(Type::Bool)]
}

/// Types; `dynamic` appears only where cty allows a value to carry its own type: at the top
/// and as an object attribute (not as a collection element type).
fn any_type() -> impl Strategy<Value = Type> {
    types(true)
}

/// Types without `dynamic` anywhere: the type of an actual value. A value at a dynamic position
/// has one such type (cty infers it from the value); generating it from a type with nested
/// `dynamic` attributes would let the elements of one collection carry different types (say a
/// tuple in one map entry and an object in the next), which is no cty value at all.
fn concrete_type() -> impl Strategy<Value = Type> {
    types(false)
}

fn types(dynamic_attributes: bool) -> impl Strategy<Value = Type> {
    leaf_type().prop_recursive(4, 24, 4, move |inner| {
        let attribute = if dynamic_attributes {
            prop_oneof![4 => inner.clone(), 1 => Just(Type::Dynamic)].boxed()
        } else {
            inner.clone().boxed()
        };
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            btree_map("[a-z_]{1,6}", attribute, 0..4).prop_map(|attributes| Type::Object {
                attributes,
                optional: Default::default(),
            }),
            vec(inner, 0..3).prop_map(Type::Tuple),
        ]
    })
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        (any::<i32>(), 0u32..20).prop_map(|(n, k)| Number::parse(&format!(
            "{:e}",
            f64::from(n) / f64::from(2u32.pow(k))
        ))
        .unwrap()),
        "-?[1-9][0-9]{0,40}(\\.[0-9]{1,25})?([eE]-?[0-9]{1,3})?"
            .prop_map(|text| Number::parse(&text).unwrap()),
    ]
}

fn value_of(ty: Type, unknowns: bool) -> BoxedStrategy<Value> {
    let known: BoxedStrategy<Value> = match ty {
        Type::String => "\\PC{0,12}".prop_map(Value::String).boxed(),
        Type::Number => number().prop_map(Value::Number).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::List(element) => vec(value_of(*element, unknowns), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(element) => vec(value_of(*element, unknowns), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(element) => btree_map("\\PC{0,5}", value_of(*element, unknowns), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Object { attributes, .. } => {
            let parts: Vec<(String, BoxedStrategy<Value>)> = attributes
                .into_iter()
                .map(|(name, ty)| (name, value_of(ty, unknowns)))
                .collect();
            parts
                .into_iter()
                .map(|(name, strategy)| strategy.prop_map(move |v| (name.clone(), v)))
                .collect::<Vec<_>>()
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
                .boxed()
        }
        Type::Tuple(types) => types
            .into_iter()
            .map(|ty| value_of(ty, unknowns))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        // A value of some concrete type, which travels with its type.
        Type::Dynamic => concrete_type()
            .prop_flat_map(move |ty| value_of(ty, unknowns))
            .boxed(),
    };
    if unknowns {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 6 => known].boxed()
    }
}

fn typed_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
    prop_oneof![4 => any_type(), 1 => Just(Type::Dynamic)]
        .prop_flat_map(move |ty| (Just(ty.clone()), value_of(ty, unknowns)))
}

/// 512 cases unless `PROPTEST_CASES` says otherwise (`PROPTEST_RNG_SEED` is honoured too).
/// Integration tests have no lib.rs/main.rs beside them for the default failure persistence
/// to find, so the regressions file is named directly (relative to the package root, cargo's
/// working directory for tests).
fn config() -> ProptestConfig {
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            defaults.cases
        } else {
            512
        },
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/plugin_values.proptest-regressions",
        ))),
        ..defaults
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn msgpack_round_trips((ty, value) in typed_value(true)) {
        let bytes = codec::to_msgpack(&value, &ty).expect("a value of its own type encodes");
        prop_assert_eq!(codec::from_msgpack(&bytes, &ty).expect("our own encoding decodes"), value);
    }

    #[test]
    fn json_round_trips((ty, value) in typed_value(false)) {
        let bytes = codec::to_json_bytes(&value, &ty).expect("a known value encodes as JSON");
        prop_assert_eq!(codec::from_json_bytes(&bytes, &ty).expect("our own JSON decodes"), value);
    }

    #[test]
    fn json_cannot_carry_unknowns(ty in any_type()) {
        prop_assert!(codec::to_json(&Value::Unknown, &ty).is_err());
    }

    #[test]
    fn type_encoding_round_trips(ty in any_type()) {
        prop_assert_eq!(Type::from_json_bytes(&ty.to_json_bytes()).unwrap(), ty);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in vec(any::<u8>(), 0..256), ty in any_type()) {
        let _ = codec::from_msgpack(&bytes, &ty);
        let _ = codec::from_msgpack(&bytes, &Type::Dynamic);
        let _ = codec::from_json_bytes(&bytes, &ty);
        let _ = codec::from_json_bytes(&bytes, &Type::Dynamic);
        let _ = Type::from_json_bytes(&bytes);
    }

    #[test]
    fn corrupted_encodings_never_panic((ty, value) in typed_value(true), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut bytes = codec::to_msgpack(&value, &ty).unwrap();
        let index = at % bytes.len();
        bytes[index] = byte;
        let _ = codec::from_msgpack(&bytes, &ty);
        bytes.truncate(cut % (bytes.len() + 1));
        let _ = codec::from_msgpack(&bytes, &ty);
    }
}

#[test]
fn deeply_nested_input_is_refused_not_overflowing_the_stack() {
    let mut bytes = vec![0x91u8; 100_000];
    bytes.push(0xc0);
    let mut ty = Type::String;
    for _ in 0..100 {
        ty = Type::list(ty);
    }
    assert!(codec::from_msgpack(&bytes, &ty).is_err());
    let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(codec::from_json_bytes(json.as_bytes(), &ty).is_err());
    // A dynamic value whose type nests deeply.
    let deep_type = format!(
        "{}\"string\"{}",
        "[\"list\",".repeat(5000),
        "]".repeat(5000)
    );
    assert!(Type::from_json_bytes(deep_type.as_bytes()).is_err());
}
