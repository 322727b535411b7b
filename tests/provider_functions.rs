//! The provider-defined functions (`provider::ipam::NAME`): over gRPC on a provider that was never
//! configured (as OpenTofu calls them), and through real Terraform (1.8 or later) with results for
//! both address families, edge cases, errors naming the argument, and `cidr_next_free` agreeing
//! with a real pool's allocator.

mod support;

use std::fs;
use std::path::PathBuf;

use serde_json::{json, Value as Json};
use support::grpc::{dynamic, value_of, Launch, Plugin};
use support::ipam::{database, mirror, workdir};
use support::terraform::{self, Terraform, Workdir};
use tfipam::plugin::proto::tfplugin6 as pb;
use tfipam::plugin::{Number, Type, Value};

const FUNCTIONS: [&str; 6] = [
    "cidr_contains",
    "cidr_merge",
    "cidr_next_free",
    "cidr_overlaps",
    "cidr_subtract",
    "ula_prefix",
];

fn strings(texts: &[&str]) -> Value {
    Value::List(texts.iter().map(|t| Value::string(*t)).collect())
}

async fn call(
    plugin: &mut Plugin,
    name: &str,
    arguments: &[(Value, Type)],
) -> pb::call_function::Response {
    plugin
        .provider
        .call_function(pb::call_function::Request {
            name: name.into(),
            arguments: arguments.iter().map(|(v, t)| dynamic(v, t)).collect(),
        })
        .await
        .expect("CallFunction")
        .into_inner()
}

/// Every function answers on a provider that was never configured, and writes no database.
#[tokio::test]
async fn functions_answer_without_provider_configuration() {
    let (_guard, db) = database();
    let mut plugin = Plugin::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_terraform-provider-ipam")),
        Launch {
            env: vec![("IPAM_DATABASE".into(), db.display().to_string())],
            ..Launch::default()
        },
    )
    .await;
    let schema = plugin
        .provider
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    let mut names: Vec<&str> = schema.functions.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, FUNCTIONS);
    let functions = plugin
        .provider
        .get_functions(pb::get_functions::Request {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(functions.functions.len(), FUNCTIONS.len());

    let list = Type::list(Type::String);
    let s = Type::String;
    let ok: Vec<(&str, Vec<(Value, Type)>, Type, Value)> = vec![
        (
            "cidr_contains",
            vec![
                (Value::string("10.0.0.0/8"), s.clone()),
                (Value::string("10.1.2.3"), s.clone()),
            ],
            Type::Bool,
            Value::Bool(true),
        ),
        (
            "cidr_overlaps",
            vec![(strings(&["10.0.0.0/8", "10.1.0.0/16"]), list.clone())],
            Type::list(list.clone()),
            Value::List(vec![strings(&["10.0.0.0/8", "10.1.0.0/16"])]),
        ),
        (
            "cidr_merge",
            vec![(
                strings(&["2001:db8::/33", "2001:db8:8000::/33"]),
                list.clone(),
            )],
            list.clone(),
            strings(&["2001:db8::/32"]),
        ),
        (
            "cidr_subtract",
            vec![
                (Value::string("10.0.0.0/23"), s.clone()),
                (strings(&["10.0.0.0/24"]), list.clone()),
            ],
            list.clone(),
            strings(&["10.0.1.0/24"]),
        ),
        (
            "cidr_next_free",
            vec![
                (Value::string("10.0.0.0/22"), s.clone()),
                (strings(&["10.0.1.0/24", "10.0.2.128/25"]), list.clone()),
                (Value::int(25), Type::Number),
            ],
            s.clone(),
            Value::string("10.0.2.0/25"),
        ),
        (
            "ula_prefix",
            vec![(Value::string("production"), s.clone())],
            s.clone(),
            Value::string("fd08:1ad7:3d3c::/48"),
        ),
    ];
    for (name, arguments, result_type, expected) in ok {
        let response = call(&mut plugin, name, &arguments).await;
        assert!(response.error.is_none(), "{name}: {:?}", response.error);
        assert_eq!(
            value_of(response.result.as_ref(), &result_type),
            expected,
            "{name}"
        );
    }

    // Errors point at the argument at fault.
    let bad: Vec<(&str, Vec<(Value, Type)>, i64, &str)> = vec![
        (
            "cidr_contains",
            vec![
                (Value::string("10.0.0.1"), s.clone()),
                (Value::string("10.0.0.1"), s.clone()),
            ],
            0,
            "is an address, not a CIDR",
        ),
        (
            "cidr_contains",
            vec![
                (Value::string("10.0.0.0/8"), s.clone()),
                (Value::string("2001:db8::1"), s.clone()),
            ],
            1,
            "IPv4 and IPv6 cannot be mixed",
        ),
        (
            "cidr_merge",
            vec![(strings(&["10.0.0.0/8", "banana"]), list.clone())],
            0,
            "cidrs[1] \"banana\" is not a CIDR",
        ),
        (
            "cidr_subtract",
            vec![
                (Value::string("10.0.0.0/8"), s.clone()),
                (strings(&["10.1.1.1/16"]), list.clone()),
            ],
            1,
            "remove[0] 10.1.1.1/16 has host bits set; the network is 10.1.0.0/16",
        ),
        (
            "cidr_next_free",
            vec![
                (Value::string("10.0.0.0/16"), s.clone()),
                (strings(&[]), list.clone()),
                (Value::int(33), Type::Number),
            ],
            2,
            "prefix_length 33 is out of range",
        ),
        (
            "ula_prefix",
            vec![(Value::string(""), s.clone())],
            0,
            "seed is empty",
        ),
    ];
    for (name, arguments, argument, needle) in bad {
        let response = call(&mut plugin, name, &arguments).await;
        let error = response
            .error
            .unwrap_or_else(|| panic!("{name} should fail"));
        assert_eq!(error.function_argument, Some(argument), "{name}: {error:?}");
        assert!(error.text.contains(needle), "{name}: {}", error.text);
    }
    let half = call(
        &mut plugin,
        "cidr_next_free",
        &[
            (Value::string("10.0.0.0/16"), s.clone()),
            (strings(&[]), list.clone()),
            (Value::Number(Number::parse("24.5").unwrap()), Type::Number),
        ],
    )
    .await;
    let error = half.error.expect("a fractional prefix_length fails");
    assert_eq!(error.function_argument, Some(2));
    assert!(
        error.text.contains("24.5 is not a whole number"),
        "{}",
        error.text
    );

    assert!(!db.exists(), "a function call opened the database");
    assert!(plugin.shutdown().await.success());
}

/// A working directory for function calls: the provider is required but has no provider block
/// and no database setting, so a configured provider would create `terraform-ipam.db` here.
fn function_workdir(tf: &Terraform, main_tf: &str) -> Workdir {
    let dir = Workdir::new(tf, mirror());
    dir.write(
        "versions.tf",
        "terraform {\n  required_providers {\n    ipam = {\n      source = \"ipam-rs/ipam\"\n    }\n  }\n}\n",
    );
    dir.write("main.tf", main_tf);
    dir
}

/// The newest Terraform when it has provider functions (1.8 or later).
fn terraform_with_functions() -> Option<&'static Terraform> {
    let tf = terraform::newest();
    if tf.minor_version() < (1, 8) {
        eprintln!(
            "skipping: Terraform {} has no provider functions",
            tf.version
        );
        return None;
    }
    Some(tf)
}

fn output_values(dir: &Workdir) -> Json {
    let outputs = dir.outputs();
    let map = outputs.as_object().expect("outputs are an object");
    Json::Object(
        map.iter()
            .map(|(name, output)| (name.clone(), output["value"].clone()))
            .collect(),
    )
}

#[test]
fn function_examples_apply_with_the_results_their_comments_give() {
    let Some(tf) = terraform_with_functions() else {
        return;
    };
    let expected: [(&str, Json); 6] = [
        (
            "cidr_contains",
            json!({"subnet_inside_vpc": true, "gateway_inside": true}),
        ),
        (
            "cidr_overlaps",
            json!({"overlapping_vpcs": [["10.0.0.0/16", "10.0.128.0/20"]], "peering_ok": true}),
        ),
        (
            "cidr_merge",
            json!({"routes": ["10.0.0.0/23", "10.0.3.0/24"], "ipv6_routes": ["2001:db8::/32"]}),
        ),
        (
            "cidr_subtract",
            json!({
                "unassigned": ["10.0.0.0/24", "10.0.3.0/24", "10.0.4.0/22", "10.0.8.0/21"],
                "ipv6_unassigned": ["2001:db8::/49"],
            }),
        ),
        (
            "cidr_next_free",
            json!({"next_25": "10.0.2.0/25", "next_64": "2001:db8:0:100::/64", "next_or_null": null}),
        ),
        (
            "ula_prefix",
            json!({
                "production_ula": "fd08:1ad7:3d3c::/48",
                "environment_first_64": {
                    "production": "fd08:1ad7:3d3c::/64",
                    "staging": "fd00:bf9e:5c7b::/64",
                },
            }),
        ),
    ];
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/functions");
    for (name, values) in expected {
        let example = fs::read_to_string(examples.join(name).join("function.tf"))
            .expect("the function example");
        let dir = function_workdir(tf, &example);
        dir.init();
        dir.apply().success();
        let mut outputs = output_values(&dir);
        // `next_or_null` is null, which `terraform output` leaves out
        if name == "cidr_next_free" {
            outputs
                .as_object_mut()
                .unwrap()
                .entry("next_or_null")
                .or_insert(Json::Null);
        }
        assert_eq!(outputs, values, "examples/functions/{name}");
        dir.assert_no_changes();
        assert!(
            !dir.path().join("terraform-ipam.db").exists(),
            "calling functions configured the provider and opened a database"
        );
    }
}
