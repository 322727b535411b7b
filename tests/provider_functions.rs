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

/// The arguments of one call, each with its type.
type Arguments = Vec<(Value, Type)>;

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
    let ok: Vec<(&str, Arguments, Type, Value)> = vec![
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
    let bad: Vec<(&str, Arguments, i64, &str)> = vec![
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

/// `output "NAME" { value = EXPRESSION }` for each pair.
fn outputs_hcl(calls: &[(&str, &str)]) -> String {
    calls
        .iter()
        .map(|(name, expression)| format!("output \"{name}\" {{\n  value = {expression}\n}}\n"))
        .collect()
}

#[test]
fn functions_handle_edge_cases_in_both_families() {
    let Some(tf) = terraform_with_functions() else {
        return;
    };
    let cases: Vec<(&str, &str, Json)> = vec![
        // cidr_contains
        (
            "contains_all_v4",
            r#"cidr_contains("0.0.0.0/0", "255.255.255.255")"#,
            json!(true),
        ),
        (
            "contains_self",
            r#"cidr_contains("10.0.0.0/8", "10.0.0.0/8")"#,
            json!(true),
        ),
        (
            "contains_larger",
            r#"cidr_contains("10.1.0.0/16", "10.0.0.0/8")"#,
            json!(false),
        ),
        (
            "contains_32",
            r#"cidr_contains("10.0.0.1/32", "10.0.0.1")"#,
            json!(true),
        ),
        (
            "contains_outside",
            r#"cidr_contains("10.0.0.0/8", "11.0.0.0")"#,
            json!(false),
        ),
        (
            "contains_all_v6",
            r#"cidr_contains("::/0", "2001:db8::/32")"#,
            json!(true),
        ),
        (
            "contains_128",
            r#"cidr_contains("2001:db8::1/128", "2001:db8::1")"#,
            json!(true),
        ),
        (
            "contains_v6_next",
            r#"cidr_contains("2001:db8::/128", "2001:db8::1")"#,
            json!(false),
        ),
        // cidr_overlaps
        ("overlaps_empty", r#"cidr_overlaps([])"#, json!([])),
        (
            "overlaps_duplicates",
            r#"cidr_overlaps(["10.0.0.0/24", "10.0.0.0/24"])"#,
            json!([["10.0.0.0/24", "10.0.0.0/24"]]),
        ),
        (
            "overlaps_whole_v4",
            r#"cidr_overlaps(["0.0.0.0/0", "192.168.1.1/32", "10.0.0.0/8"])"#,
            json!([["0.0.0.0/0", "192.168.1.1/32"], ["0.0.0.0/0", "10.0.0.0/8"]]),
        ),
        (
            "overlaps_v6",
            r#"cidr_overlaps(["2001:db8::/33", "2001:db8:8000::/33", "2001:db8:8000::1/128"])"#,
            json!([["2001:db8:8000::/33", "2001:db8:8000::1/128"]]),
        ),
        (
            "overlaps_adjacent",
            r#"cidr_overlaps(["10.0.0.0/25", "10.0.0.128/25"])"#,
            json!([]),
        ),
        // cidr_merge
        ("merge_empty", r#"cidr_merge([])"#, json!([])),
        (
            "merge_duplicates",
            r#"cidr_merge(["10.0.0.0/24", "10.0.0.0/24"])"#,
            json!(["10.0.0.0/24"]),
        ),
        (
            "merge_whole_v4",
            r#"cidr_merge(["128.0.0.0/1", "0.0.0.0/1"])"#,
            json!(["0.0.0.0/0"]),
        ),
        (
            "merge_hosts_v4",
            r#"cidr_merge(["10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/32"])"#,
            json!(["10.0.0.0/31", "10.0.0.2/32"]),
        ),
        (
            "merge_hosts_v6",
            r#"cidr_merge(["2001:db8::1/128", "2001:db8::/128"])"#,
            json!(["2001:db8::/127"]),
        ),
        (
            "merge_whole_v6",
            r#"cidr_merge(["::/0", "2001:db8::/32"])"#,
            json!(["::/0"]),
        ),
        (
            "merge_canonical_v6",
            r#"cidr_merge(["2001:DB8:0000::/32"])"#,
            json!(["2001:db8::/32"]),
        ),
        // cidr_subtract
        (
            "subtract_nothing",
            r#"cidr_subtract("10.0.0.0/16", [])"#,
            json!(["10.0.0.0/16"]),
        ),
        (
            "subtract_everything",
            r#"cidr_subtract("10.0.0.0/16", ["10.0.0.0/8"])"#,
            json!([]),
        ),
        (
            "subtract_outside",
            r#"cidr_subtract("10.0.0.0/16", ["192.168.0.0/16"])"#,
            json!(["10.0.0.0/16"]),
        ),
        (
            "subtract_host_v4",
            r#"cidr_subtract("10.0.0.0/30", ["10.0.0.1/32"])"#,
            json!(["10.0.0.0/32", "10.0.0.2/31"]),
        ),
        (
            "subtract_whole_v4",
            r#"cidr_subtract("0.0.0.0/0", ["0.0.0.0/1"])"#,
            json!(["128.0.0.0/1"]),
        ),
        (
            "subtract_duplicates_v6",
            r#"cidr_subtract("2001:db8::/126", ["2001:db8::3/128", "2001:db8::3/128"])"#,
            json!(["2001:db8::/127", "2001:db8::2/128"]),
        ),
        (
            "subtract_whole_v6",
            r#"cidr_subtract("::/0", ["8000::/1"])"#,
            json!(["::/1"]),
        ),
        // cidr_next_free
        (
            "next_whole_v4",
            r#"cidr_next_free("0.0.0.0/0", [], 0)"#,
            json!("0.0.0.0/0"),
        ),
        (
            "next_32",
            r#"cidr_next_free("10.0.0.0/30", ["10.0.0.0/32", "10.0.0.2/31"], 32)"#,
            json!("10.0.0.1/32"),
        ),
        (
            "next_duplicate_used",
            r#"cidr_next_free("10.0.0.0/24", ["10.0.0.0/25", "10.0.0.0/25"], 26)"#,
            json!("10.0.0.128/26"),
        ),
        (
            "next_used_outside",
            r#"cidr_next_free("10.0.0.0/24", ["192.168.0.0/16"], 25)"#,
            json!("10.0.0.0/25"),
        ),
        (
            "next_128",
            r#"cidr_next_free("2001:db8::/127", ["2001:db8::/128"], 128)"#,
            json!("2001:db8::1/128"),
        ),
        (
            "next_whole_v6",
            r#"cidr_next_free("::/0", ["::/1"], 1)"#,
            json!("8000::/1"),
        ),
        (
            // best fit: the /48 hole, not the low end of the free /47
            "next_best_fit_v6",
            r#"cidr_next_free("2001:db8::/46", ["2001:db8:2::/48"], 49)"#,
            json!("2001:db8:3::/49"),
        ),
        // ula_prefix
        (
            "ula_unicode",
            r#"ula_prefix("ünïcødé")"#,
            json!("fd09:b312:e692::/48"),
        ),
        (
            "ula_space",
            r#"ula_prefix(" ")"#,
            json!("fdd1:ccf9:9c6::/48"),
        ),
    ];
    let calls: Vec<(&str, String)> = cases
        .iter()
        .map(|(name, call, _)| (*name, format!("provider::ipam::{call}")))
        .collect();
    let calls: Vec<(&str, &str)> = calls.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let dir = function_workdir(tf, &outputs_hcl(&calls));
    dir.init();
    dir.apply().success();
    let outputs = output_values(&dir);
    for (name, call, expected) in &cases {
        assert_eq!(&outputs[name], expected, "{call}");
    }
    dir.assert_no_changes();
}

#[test]
fn bad_arguments_fail_the_plan_naming_the_parameter() {
    let Some(tf) = terraform_with_functions() else {
        return;
    };
    // (call, what Terraform prints: the parameter, then our message)
    let cases: [(&str, &str); 15] = [
        (
            r#"cidr_contains("10.0.0.1", "10.0.0.1")"#,
            r#"Invalid value for "container" parameter: container "10.0.0.1" is an address, not a CIDR; write 10.0.0.1/32 for that single address."#,
        ),
        (
            r#"cidr_contains("10.0.0.0/8", "2001:db8::1")"#,
            r#"Invalid value for "cidr_or_address" parameter: cidr_or_address 2001:db8::1 is IPv6 but container 10.0.0.0/8 is IPv4; IPv4 and IPv6 cannot be mixed in one call, call the function once per address family."#,
        ),
        (
            r#"cidr_contains("10.1.1.1/24", "10.1.1.1")"#,
            r#"Invalid value for "container" parameter: container 10.1.1.1/24 has host bits set; the network is 10.1.1.0/24, write that instead."#,
        ),
        (
            r#"cidr_overlaps(["10.0.0.0/8", "2001:db8::/32"])"#,
            r#"Invalid value for "cidrs" parameter: cidrs[1] 2001:db8::/32 is IPv6 but cidrs[0] 10.0.0.0/8 is IPv4"#,
        ),
        (
            r#"cidr_merge(["10.0.0.0/8", "banana"])"#,
            r#"Invalid value for "cidrs" parameter: cidrs[1] "banana" is not a CIDR; write an address and a prefix length such as 10.0.0.0/16 or 2001:db8::/48."#,
        ),
        (
            r#"cidr_merge(["2001:db8::/129"])"#,
            r#"Invalid value for "cidrs" parameter: cidrs[0] "2001:db8::/129" is not a CIDR: the prefix length /129 is longer than an ipv6 address (128 bits); use /0 to /128"#,
        ),
        (
            r#"cidr_merge(["10.0.0.0/8", null])"#,
            r#"Invalid value for "cidrs" parameter: cidrs[1] is null; give a CIDR such as 10.0.0.0/16 or 2001:db8::/48."#,
        ),
        (
            r#"cidr_subtract("10.0.0.0/8", ["10.0.0.5"])"#,
            r#"Invalid value for "remove" parameter: remove[0] "10.0.0.5" is an address, not a CIDR; write 10.0.0.5/32 for that single address."#,
        ),
        (
            r#"cidr_subtract("2001:db8::/32", ["10.0.0.0/8"])"#,
            r#"Invalid value for "remove" parameter: remove[0] 10.0.0.0/8 is IPv4 but cidr 2001:db8::/32 is IPv6"#,
        ),
        (
            r#"cidr_next_free("10.0.0.0/16", [], 8)"#,
            r#"Invalid value for "prefix_length" parameter: prefix_length 8 is out of range; a block inside 10.0.0.0/16 (IPv4) has a prefix length from 16 to 32."#,
        ),
        (
            r#"cidr_next_free("2001:db8::/64", [], 129)"#,
            r#"Invalid value for "prefix_length" parameter: prefix_length 129 is out of range; a block inside 2001:db8::/64 (IPv6) has a prefix length from 64 to 128."#,
        ),
        (
            r#"cidr_next_free("10.0.0.0/16", ["2001:db8::/32"], 24)"#,
            r#"Invalid value for "used" parameter: used[0] 2001:db8::/32 is IPv6 but parent 10.0.0.0/16 is IPv4"#,
        ),
        (
            r#"cidr_next_free("10.0.0.0/24", ["10.0.0.0/25", "10.0.0.128/26"], 25)"#,
            r#"no free /25 in 10.0.0.0/24 (IPv4) once used is taken: the largest free block is /26 (10.0.0.192/26); ask for a smaller block (a longer prefix_length) or give a larger parent."#,
        ),
        (
            r#"cidr_next_free("10.0.0.0/24", ["10.0.0.0/8"], 24)"#,
            r#"no free /24 in 10.0.0.0/24 (IPv4) once used is taken: nothing in it is free;"#,
        ),
        (
            r#"ula_prefix("")"#,
            r#"Invalid value for "seed" parameter: seed is empty; give a text naming the network"#,
        ),
    ];
    let calls: Vec<(String, String)> = cases
        .iter()
        .enumerate()
        .map(|(i, (call, _))| (format!("bad_{i}"), format!("provider::ipam::{call}")))
        .collect();
    let calls: Vec<(&str, &str)> = calls
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_str()))
        .collect();
    let dir = function_workdir(tf, &outputs_hcl(&calls));
    dir.init();
    let run = dir.plan().failure();
    // Terraform wraps long lines: compare with whitespace collapsed.
    let text = run.text().split_whitespace().collect::<Vec<_>>().join(" ");
    for (call, message) in cases {
        assert!(
            text.contains(message),
            "{call} should fail with {message:?}:\n{}",
            run.describe()
        );
    }
    assert!(!text.contains("panic"), "{}", run.describe());
    assert!(!dir.path().join("terraform.tfstate").exists());
}

/// The IPAM resources for one pool holding `pool_cidr`, allocations of `sizes` (netmask lengths)
/// and one explicit `hole`, the pool's allocations read back, and for each of `lengths` the
/// pool's preview next to what `cidr_next_free` computes from the list of allocations.
fn pool_vs_function_hcl(
    name: &str,
    family: &str,
    pool_cidr: &str,
    (min, max): (u8, u8),
    sizes: &[u8],
    hole: &str,
    lengths: &[u8],
) -> String {
    let sizes: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| format!("a{i} = {s}"))
        .collect();
    let lengths: Vec<String> = lengths.iter().map(|l| format!("\"{l}\"")).collect();
    format!(
        r#"
resource "ipam_pool" "{name}" {{
  scope_id                      = ipam.test.private_default_scope_id
  address_family                = "{family}"
  allocation_min_netmask_length = {min}
  allocation_max_netmask_length = {max}
}}

resource "ipam_pool_cidr" "{name}" {{
  pool_id = ipam_pool.{name}.id
  cidr    = "{pool_cidr}"
}}

resource "ipam_allocation" "{name}_hole" {{
  pool_id    = ipam_pool.{name}.id
  cidr       = "{hole}"
  depends_on = [ipam_pool_cidr.{name}]
}}

resource "ipam_allocation" "{name}" {{
  for_each       = {{ {sizes} }}
  pool_id        = ipam_pool.{name}.id
  netmask_length = each.value
  depends_on     = [ipam_allocation.{name}_hole]
}}

data "ipam_pool_allocations" "{name}" {{
  pool_id    = ipam_pool.{name}.id
  depends_on = [ipam_allocation.{name}, ipam_allocation.{name}_hole]
}}

data "ipam_preview_next_cidr" "{name}" {{
  for_each       = toset([{lengths}])
  pool_id        = ipam_pool.{name}.id
  netmask_length = tonumber(each.key)
  depends_on     = [ipam_allocation.{name}, ipam_allocation.{name}_hole]
}}

output "{name}" {{
  value = {{
    for length, preview in data.ipam_preview_next_cidr.{name} : length => {{
      pool     = preview.cidr
      function = provider::ipam::cidr_next_free("{pool_cidr}", [for a in data.ipam_pool_allocations.{name}.allocations : a.cidr], tonumber(length))
    }}
  }}
}}
"#,
        sizes = sizes.join(", "),
        lengths = lengths.join(", "),
    )
}

/// `cidr_next_free` over a pool's allocations gives exactly the block the pool's allocator
/// previews, in both families, after allocations of mixed sizes around an explicit hole; the
/// arguments are only known after apply, so the plan shows the outputs as unknown first.
#[test]
fn cidr_next_free_agrees_with_the_pool_allocator() {
    let Some(tf) = terraform_with_functions() else {
        return;
    };
    let (_guard, db) = database();
    let mut main_tf =
        String::from("resource \"ipam\" \"test\" {\n  description = \"functions\"\n}\n");
    main_tf.push_str(&pool_vs_function_hcl(
        "v4",
        "ipv4",
        "10.0.0.0/16",
        (16, 28),
        &[24, 20, 23, 26, 22, 28, 24],
        "10.0.64.0/20",
        &[18, 19, 20, 22, 24, 25, 26, 27, 28],
    ));
    main_tf.push_str(&pool_vs_function_hcl(
        "v6",
        "ipv6",
        "2001:db8::/48",
        (48, 128),
        &[56, 52, 60, 64, 64, 50],
        "2001:db8:0:8000::/52",
        &[49, 50, 52, 56, 60, 64, 128],
    ));
    let dir = workdir(tf, &db, &main_tf);
    dir.init();
    let planned = dir.plan();
    assert_eq!(planned.code, 2, "{}", planned.describe());
    dir.apply().success();
    let outputs = output_values(&dir);
    for (family, count) in [("v4", 9), ("v6", 7)] {
        let by_length = outputs[family].as_object().expect("an object of lengths");
        assert_eq!(by_length.len(), count, "{outputs}");
        for (length, pair) in by_length {
            assert!(pair["pool"].is_string(), "{family} /{length}: {pair}");
            assert_eq!(
                pair["function"], pair["pool"],
                "{family} /{length}: the function and the pool disagree"
            );
        }
    }
    dir.assert_no_changes();
}
