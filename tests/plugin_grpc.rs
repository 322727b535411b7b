//! The protocol layer over the real transport: the plugintest binary started as Terraform
//! starts it (handshake, AutoMTLS with a go-plugin-like P-521 client certificate), every RPC.

mod support;

use std::time::{Duration, Instant};

use support::grpc::{describe, dynamic, plugintest_binary, value_of, Launch, Plugin};
use tfipam::plugin::proto::tfplugin6 as pb;
use tfipam::plugin::{AttributePath, Number, Type, Value};

fn thing_type() -> Type {
    Type::object([
        ("id", Type::String),
        ("name", Type::String),
        ("value", Type::String),
        ("tags", Type::map(Type::String)),
        (
            "settings",
            Type::Object {
                attributes: [
                    ("size".to_string(), Type::Number),
                    ("enabled".to_string(), Type::Bool),
                ]
                .into(),
                optional: ["size".to_string(), "enabled".to_string()].into(),
            },
        ),
    ])
}

fn thing(id: Value, name: &str, value: &str) -> Value {
    Value::object([
        ("id", id),
        ("name", Value::string(name)),
        ("value", Value::string(value)),
        ("tags", Value::string_map([("Name", "x")])),
        (
            "settings",
            Value::object([
                (
                    "size",
                    Value::Number(Number::parse("12345678901234567890.125").unwrap()),
                ),
                ("enabled", Value::Bool(true)),
            ]),
        ),
    ])
}

async fn plan(
    plugin: &mut Plugin,
    prior: &Value,
    proposed: &Value,
) -> pb::plan_resource_change::Response {
    plugin
        .provider
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "plugintest_thing".into(),
            prior_state: Some(dynamic(prior, &thing_type())),
            proposed_new_state: Some(dynamic(proposed, &thing_type())),
            config: Some(dynamic(proposed, &thing_type())),
            ..Default::default()
        })
        .await
        .expect("PlanResourceChange")
        .into_inner()
}

async fn apply(
    plugin: &mut Plugin,
    prior: &Value,
    planned: &Value,
) -> pb::apply_resource_change::Response {
    plugin
        .provider
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: "plugintest_thing".into(),
            prior_state: Some(dynamic(prior, &thing_type())),
            planned_state: Some(dynamic(planned, &thing_type())),
            config: Some(dynamic(planned, &thing_type())),
            ..Default::default()
        })
        .await
        .expect("ApplyResourceChange")
        .into_inner()
}

#[tokio::test]
async fn every_rpc_over_the_real_handshake() {
    let data = tempfile::tempdir().unwrap();
    let mut plugin = Plugin::start(
        plugintest_binary(),
        Launch {
            env: vec![("PLUGINTEST_DIR".into(), data.path().display().to_string())],
            ..Launch::default()
        },
    )
    .await;
    assert_eq!(plugin.network, "unix");
    assert!(
        plugin.server_certificate.is_some(),
        "AutoMTLS: the handshake carries a certificate"
    );
    let p = &mut plugin.provider;

    let metadata = p
        .get_metadata(pb::get_metadata::Request {})
        .await
        .unwrap()
        .into_inner();
    let capabilities = metadata.server_capabilities.unwrap();
    assert!(
        capabilities.get_provider_schema_optional
            && capabilities.move_resource_state
            && !capabilities.plan_destroy
    );
    assert_eq!(metadata.resources[0].type_name, "plugintest_thing");
    assert_eq!(metadata.data_sources[0].type_name, "plugintest_echo");
    assert_eq!(metadata.functions[0].name, "echo");

    let schema = p
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    let thing_schema = &schema.resource_schemas["plugintest_thing"];
    assert_eq!(thing_schema.version, 1);
    let block = thing_schema.block.as_ref().unwrap();
    let name = block.attributes.iter().find(|a| a.name == "name").unwrap();
    assert!(name.required && !name.optional && !name.computed);
    assert_eq!(name.r#type, b"\"string\"");
    assert_eq!(name.description_kind, pb::StringKind::Markdown as i32);
    let tags = block.attributes.iter().find(|a| a.name == "tags").unwrap();
    assert_eq!(tags.r#type, br#"["map","string"]"#);
    let settings = block
        .attributes
        .iter()
        .find(|a| a.name == "settings")
        .unwrap();
    let nested = settings.nested_type.as_ref().unwrap();
    assert_eq!(
        nested.nesting,
        pb::schema::object::NestingMode::Single as i32
    );
    assert_eq!(nested.attributes.len(), 2);
    assert!(schema.functions.contains_key("echo"));
    assert!(schema.data_source_schemas.contains_key("plugintest_echo"));

    let provider_type = Type::object([("greeting", Type::String)]);
    let bad_config = Value::object([("greeting", Value::string(""))]);
    let validated = p
        .validate_provider_config(pb::validate_provider_config::Request {
            config: Some(dynamic(&bad_config, &provider_type)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(validated.diagnostics.len(), 1);
    assert_eq!(
        validated.diagnostics[0].severity,
        pb::diagnostic::Severity::Error as i32
    );
    assert_eq!(
        validated.diagnostics[0].attribute,
        Some(AttributePath::root("greeting").to_proto())
    );
    let configured = p
        .configure_provider(pb::configure_provider::Request {
            terraform_version: "1.11.4".into(),
            config: Some(dynamic(
                &Value::object([("greeting", Value::Unknown)]),
                &provider_type,
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        configured.diagnostics.is_empty(),
        "{}",
        describe(&configured.diagnostics)
    );

    let mut bad_tags = thing(Value::Null, "a", "v");
    bad_tags.set_attr("tags", Value::string_map([("", "empty key")]));
    let validated = p
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "plugintest_thing".into(),
            config: Some(dynamic(&bad_tags, &thing_type())),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        validated.diagnostics[0].attribute,
        Some(AttributePath::root("tags").key("").to_proto())
    );

    // Create: plan marks the id unknown, apply fills it in.
    let proposed = thing(Value::Null, "a", "v1");
    let planned = plan(&mut plugin, &Value::Null, &proposed).await;
    assert!(
        planned.diagnostics.is_empty(),
        "{}",
        describe(&planned.diagnostics)
    );
    let planned_state = value_of(planned.planned_state.as_ref(), &thing_type());
    assert!(planned_state.attr("id").is_unknown());
    assert!(planned.requires_replace.is_empty());
    let applied = apply(&mut plugin, &Value::Null, &planned_state).await;
    assert!(
        applied.diagnostics.is_empty(),
        "{}",
        describe(&applied.diagnostics)
    );
    let created = value_of(applied.new_state.as_ref(), &thing_type());
    let id = created.attr("id").as_str().unwrap().to_string();
    assert!(id.starts_with("thing-"));
    assert_eq!(
        created.attr("settings"),
        proposed.attr("settings"),
        "numbers stay exact"
    );
    assert_eq!(applied.private, b"plugintest-private");

    // Read returns the stored object.
    let read = plugin
        .provider
        .read_resource(pb::read_resource::Request {
            type_name: "plugintest_thing".into(),
            current_state: Some(dynamic(&created, &thing_type())),
            private: applied.private.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value_of(read.new_state.as_ref(), &thing_type()), created);
    assert_eq!(read.private, applied.private);

    // Update in place vs replacement.
    let update = plan(&mut plugin, &created, &thing(Value::string(&id), "a", "v2")).await;
    assert!(update.requires_replace.is_empty());
    assert_eq!(
        value_of(update.planned_state.as_ref(), &thing_type()).attr("id"),
        &Value::string(&id)
    );
    let replace = plan(&mut plugin, &created, &thing(Value::string(&id), "b", "v1")).await;
    assert_eq!(
        replace.requires_replace,
        vec![AttributePath::root("name").to_proto()]
    );

    // Import by id, then the state can be read back.
    let imported = plugin
        .provider
        .import_resource_state(pb::import_resource_state::Request {
            type_name: "plugintest_thing".into(),
            id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        imported.diagnostics.is_empty(),
        "{}",
        describe(&imported.diagnostics)
    );
    assert_eq!(imported.imported_resources[0].type_name, "plugintest_thing");
    assert_eq!(
        value_of(imported.imported_resources[0].state.as_ref(), &thing_type()),
        created
    );
    let missing = plugin
        .provider
        .import_resource_state(pb::import_resource_state::Request {
            type_name: "plugintest_thing".into(),
            id: "thing-nope".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(missing.imported_resources.is_empty());
    assert!(describe(&missing.diagnostics).contains("thing-nope"));

    // State upgrades: version 0 (label) -> 1 (value); the current version decodes as is.
    let upgrade = |version: i64, json: &str| pb::upgrade_resource_state::Request {
        type_name: "plugintest_thing".into(),
        version,
        raw_state: Some(pb::RawState {
            json: json.as_bytes().to_vec(),
            ..Default::default()
        }),
    };
    let upgraded = plugin
        .provider
        .upgrade_resource_state(upgrade(
            0,
            r#"{"id":"thing-1","name":"a","label":"old","tags":null}"#,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        upgraded.diagnostics.is_empty(),
        "{}",
        describe(&upgraded.diagnostics)
    );
    let upgraded = value_of(upgraded.upgraded_state.as_ref(), &thing_type());
    assert_eq!(upgraded.attr("value"), &Value::string("old"));
    assert!(upgraded.attr("settings").is_null());
    let current = plugin
        .provider
        .upgrade_resource_state(upgrade(
            1,
            r#"{"id":"thing-1","name":"a","value":"v","settings":{"size":1e400,"enabled":null}}"#,
        ))
        .await
        .unwrap()
        .into_inner();
    let current = value_of(current.upgraded_state.as_ref(), &thing_type());
    assert_eq!(
        current.attr("settings").attr("size").as_number(),
        Number::parse("1e400").as_ref()
    );
    let newer = plugin
        .provider
        .upgrade_resource_state(upgrade(7, "{}"))
        .await
        .unwrap()
        .into_inner();
    assert!(describe(&newer.diagnostics).contains("newer provider"));
    let broken = plugin
        .provider
        .upgrade_resource_state(upgrade(1, "{not json"))
        .await
        .unwrap()
        .into_inner();
    assert!(describe(&broken.diagnostics).contains("not valid JSON"));

    // Move is refused by default with a diagnostic.
    let moved = plugin
        .provider
        .move_resource_state(pb::move_resource_state::Request {
            source_type_name: "other_thing".into(),
            target_type_name: "plugintest_thing".into(),
            source_state: Some(pb::RawState {
                json: b"{}".to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(describe(&moved.diagnostics).contains("other_thing"));

    // Data source and functions.
    let echo_type = Type::object([("input", Type::String), ("output", Type::String)]);
    let echo_config = Value::object([("input", Value::string("hello")), ("output", Value::Null)]);
    let validated = plugin
        .provider
        .validate_data_resource_config(pb::validate_data_resource_config::Request {
            type_name: "plugintest_echo".into(),
            config: Some(dynamic(&echo_config, &echo_type)),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(validated.diagnostics.is_empty());
    let echoed = plugin
        .provider
        .read_data_source(pb::read_data_source::Request {
            type_name: "plugintest_echo".into(),
            config: Some(dynamic(&echo_config, &echo_type)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        value_of(echoed.state.as_ref(), &echo_type).attr("output"),
        &Value::string("hello")
    );
    let functions = plugin
        .provider
        .get_functions(pb::get_functions::Request {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        functions.functions["echo"]
            .r#return
            .as_ref()
            .unwrap()
            .r#type,
        b"\"dynamic\""
    );
    let argument = Value::object([("a", Value::List(vec![Value::int(1), Value::Null]))]);
    let called = plugin
        .provider
        .call_function(pb::call_function::Request {
            name: "echo".into(),
            arguments: vec![dynamic(&argument, &Type::Dynamic)],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(called.error.is_none(), "{:?}", called.error);
    assert_eq!(value_of(called.result.as_ref(), &Type::Dynamic), argument);
    let unknown_function = plugin
        .provider
        .call_function(pb::call_function::Request {
            name: "nope".into(),
            arguments: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(unknown_function.error.unwrap().text.contains("nope"));
    let ephemeral = plugin
        .provider
        .validate_ephemeral_resource_config(pb::validate_ephemeral_resource_config::Request {
            type_name: "x".into(),
            config: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(describe(&ephemeral.diagnostics).contains("ephemeral"));
    let identities = plugin
        .provider
        .get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(identities.identity_schemas.is_empty());

    // Drift: the object disappears outside Terraform, read says so with a null state.
    std::fs::remove_file(data.path().join(format!("{id}.json"))).unwrap();
    let gone = plugin
        .provider
        .read_resource(pb::read_resource::Request {
            type_name: "plugintest_thing".into(),
            current_state: Some(dynamic(&created, &thing_type())),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(value_of(gone.new_state.as_ref(), &thing_type()).is_null());

    // Delete.
    let deleted = apply(&mut plugin, &created, &Value::Null).await;
    assert!(deleted.diagnostics.is_empty());
    assert!(value_of(deleted.new_state.as_ref(), &thing_type()).is_null());

    let socket = plugin.address.clone();
    assert_eq!(plugin.stdout_after_handshake(), "");
    let status = plugin.shutdown().await;
    assert!(
        status.success(),
        "Shutdown ends the process cleanly: {status:?}"
    );
    assert!(
        !std::path::Path::new(&socket).exists(),
        "the socket is removed"
    );
}

#[tokio::test]
async fn unknown_types_and_malformed_values_become_diagnostics() {
    let mut plugin = Plugin::start(plugintest_binary(), Launch::default()).await;
    let garbage = [
        vec![0xc1],
        vec![0x81, 0xa2, b'i', b'd'],
        vec![0xdf, 0xff, 0xff, 0xff, 0xff],
        vec![0x81, 0xa5, b'b', b'o', b'g', b'u', b's', 0xc0],
        vec![0x85, 0xa2, b'i', b'd', 0xc3],
    ];
    for bytes in garbage {
        let value = pb::DynamicValue {
            msgpack: bytes.clone(),
            json: Vec::new(),
        };
        let response = plugin
            .provider
            .plan_resource_change(pb::plan_resource_change::Request {
                type_name: "plugintest_thing".into(),
                prior_state: Some(value.clone()),
                proposed_new_state: Some(value.clone()),
                config: Some(value.clone()),
                ..Default::default()
            })
            .await
            .expect("a malformed value is a diagnostic, not a transport error")
            .into_inner();
        assert_eq!(response.diagnostics.len(), 1, "{bytes:?}");
        assert!(
            response.diagnostics[0].summary.starts_with("Invalid"),
            "{}",
            describe(&response.diagnostics)
        );
        let applied = plugin
            .provider
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: "plugintest_thing".into(),
                planned_state: Some(value.clone()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!applied.diagnostics.is_empty());
        let json = pb::DynamicValue {
            msgpack: Vec::new(),
            json: bytes,
        };
        let validated = plugin
            .provider
            .validate_resource_config(pb::validate_resource_config::Request {
                type_name: "plugintest_thing".into(),
                config: Some(json),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!validated.diagnostics.is_empty());
    }
    let unknown = plugin
        .provider
        .read_resource(pb::read_resource::Request {
            type_name: "plugintest_nope".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(describe(&unknown.diagnostics).contains("plugintest_nope"));
    // Still serving.
    assert!(plugin
        .provider
        .get_metadata(pb::get_metadata::Request {})
        .await
        .is_ok());
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn a_panic_becomes_a_diagnostic_without_a_backtrace() {
    let mut plugin = Plugin::start(
        plugintest_binary(),
        Launch {
            env: vec![("RUST_BACKTRACE".into(), "full".into())],
            ..Launch::default()
        },
    )
    .await;
    let response = plan(&mut plugin, &Value::Null, &thing(Value::Null, "panic", "v")).await;
    let text = describe(&response.diagnostics);
    assert_eq!(
        response.diagnostics[0].severity,
        pb::diagnostic::Severity::Error as i32
    );
    assert!(text.contains("plugintest was asked to panic"), "{text}");
    assert!(
        !text.contains("backtrace") && !text.contains(".rs:"),
        "{text}"
    );
    // The process survives and keeps serving.
    let ok = plan(&mut plugin, &Value::Null, &thing(Value::Null, "fine", "v")).await;
    assert!(ok.diagnostics.is_empty());
    let stderr = plugin.wait_for_stderr("asked to panic").await;
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
    let panic_line = stderr
        .lines()
        .find(|l| l.contains("asked to panic"))
        .expect("the panic is logged");
    let json: serde_json::Value = serde_json::from_str(panic_line).expect("one hclog JSON line");
    assert_eq!(json["@level"], "error");
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn stop_provider_cancels_calls_in_flight() {
    let mut plugin = Plugin::start(plugintest_binary(), Launch::default()).await;
    let mut slow_client = plugin.provider.clone();
    let slow = tokio::spawn(async move {
        let planned = thing(Value::Unknown, "slow", "sleep");
        slow_client
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: "plugintest_thing".into(),
                prior_state: Some(dynamic(&Value::Null, &thing_type())),
                planned_state: Some(dynamic(&planned, &thing_type())),
                config: Some(dynamic(&planned, &thing_type())),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let stopped = plugin
        .provider
        .stop_provider(pb::stop_provider::Request {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stopped.error, "");
    let response = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .expect("cancelled promptly")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        describe(&response.diagnostics).contains("stop"),
        "{}",
        describe(&response.diagnostics)
    );
    assert!(
        value_of(response.new_state.as_ref(), &thing_type()).is_null(),
        "a cancelled create leaves nothing"
    );
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn tcp_transport_within_the_port_range() {
    let mut plugin = Plugin::start(
        plugintest_binary(),
        Launch {
            env: vec![
                ("TF_PLUGIN_TRANSPORT".into(), "tcp".into()),
                ("PLUGIN_MIN_PORT".into(), "23100".into()),
                ("PLUGIN_MAX_PORT".into(), "23199".into()),
            ],
            ..Launch::default()
        },
    )
    .await;
    assert_eq!(plugin.network, "tcp");
    let port: u16 = plugin
        .address
        .strip_prefix("127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert!((23100..=23199).contains(&port));
    assert!(plugin
        .provider
        .get_metadata(pb::get_metadata::Request {})
        .await
        .is_ok());
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn only_terraforms_client_certificate_may_connect() {
    let plugin = Plugin::start(plugintest_binary(), Launch::default()).await;
    let stranger = support::grpc::ClientIdentity::generate();
    let attempt = support::grpc::connect(
        &plugin.network,
        &plugin.address,
        plugin.server_certificate.clone(),
        &stranger,
    )
    .await;
    let refused = match attempt {
        Err(_) => true,
        Ok(channel) => pb::provider_client::ProviderClient::new(channel)
            .get_metadata(pb::get_metadata::Request {})
            .await
            .is_err(),
    };
    assert!(refused, "a different client certificate must be refused");
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn concurrent_calls_are_served_in_parallel() {
    let plugin = Plugin::start(plugintest_binary(), Launch::default()).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let mut client = plugin.provider.clone();
        tasks.push(tokio::spawn(async move {
            let proposed = thing(Value::Null, &format!("n{i}"), "v");
            client
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: "plugintest_thing".into(),
                    prior_state: Some(dynamic(&Value::Null, &thing_type())),
                    proposed_new_state: Some(dynamic(&proposed, &thing_type())),
                    config: Some(dynamic(&proposed, &thing_type())),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let response = task.await.unwrap();
        let planned = value_of(response.planned_state.as_ref(), &thing_type());
        assert_eq!(planned.attr("name"), &Value::string(format!("n{i}")));
    }
    assert!(plugin.shutdown().await.success());
}

#[test]
fn without_the_magic_cookie_it_explains_itself_and_exits_1() {
    let output = std::process::Command::new(plugintest_binary())
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("Terraform provider plugin"), "{text}");
    assert!(
        text.contains("filesystem_mirror") && text.contains("dev_overrides"),
        "{text}"
    );
}

#[test]
fn refuses_terraform_without_protocol_6() {
    let output = std::process::Command::new(plugintest_binary())
        .env(
            "TF_PLUGIN_MAGIC_COOKIE",
            tfipam::plugin::serve::MAGIC_COOKIE_VALUE,
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("protocol 6"));
}

#[tokio::test]
async fn logs_are_hclog_json_lines_at_the_tf_log_level() {
    let mut plugin = Plugin::start(
        plugintest_binary(),
        Launch {
            env: vec![("TF_LOG_PROVIDER".into(), "DEBUG".into())],
            ..Launch::default()
        },
    )
    .await;
    let _ = plan(&mut plugin, &Value::Null, &thing(Value::Null, "a", "v")).await;
    let stderr = plugin.wait_for_stderr("PlanResourceChange").await;
    assert!(plugin.shutdown().await.success());
    let lines: Vec<&str> = stderr.lines().collect();
    // one DEBUG line per call: the RPC, the resource type, how long it took and how it ended
    let call: serde_json::Value = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["tf_rpc"] == "PlanResourceChange")
        .unwrap_or_else(|| panic!("no PlanResourceChange line: {stderr}"));
    assert_eq!(call["@level"], "debug");
    assert_eq!(call["tf_resource_type"], "plugintest_thing");
    assert_eq!(call["outcome"], "ok");
    assert!(
        call["duration_ms"].as_str().unwrap().parse::<f64>().is_ok(),
        "{call}"
    );
    for line in lines {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let object = json.as_object().unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys[..4], ["@level", "@message", "@module", "@timestamp"]);
        // fields after the four hclog keys are plain strings
        assert!(object.values().all(serde_json::Value::is_string), "{line}");
        assert!(
            ["trace", "debug", "info", "warn", "error"].contains(&json["@level"].as_str().unwrap())
        );
        assert_eq!(json["@module"], "provider.plugintest");
        let timestamp = json["@timestamp"].as_str().unwrap();
        assert_eq!(
            timestamp.len(),
            "2026-11-23T21:22:37.123456Z".len(),
            "{timestamp}"
        );
        assert!(timestamp.ends_with('Z'));
    }
}

#[test]
fn exits_when_terraform_dies_without_shutting_it_down() {
    // A shell starts the provider in the background and exits at once, as a crashed Terraform
    // would leave it: the provider must notice it was orphaned and exit.
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("\"$0\" >/dev/null 2>&1 & echo $!; sleep 1")
        .arg(plugintest_binary())
        .env(
            "TF_PLUGIN_MAGIC_COOKIE",
            tfipam::plugin::serve::MAGIC_COOKIE_VALUE,
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .output()
        .unwrap();
    let pid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("the shell prints the pid");
    let status = format!("/proc/{pid}/status");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Gone, or a zombie waiting for a reaper that may not exist in a container.
        let alive = std::fs::read_to_string(&status)
            .map(|s| {
                !s.lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'))
            })
            .unwrap_or(false);
        if !alive {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the orphaned provider {pid} is still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn json_dynamic_values_are_accepted_too() {
    let mut plugin = Plugin::start(plugintest_binary(), Launch::default()).await;
    let config = br#"{"id":null,"name":"a","value":"v","tags":{"Name":"x"},"settings":{"size":1.5,"enabled":true}}"#;
    let validated = plugin
        .provider
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "plugintest_thing".into(),
            config: Some(pb::DynamicValue {
                msgpack: Vec::new(),
                json: config.to_vec(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        validated.diagnostics.is_empty(),
        "{}",
        describe(&validated.diagnostics)
    );
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn the_ipam_binary_serves_the_protocol() {
    let mut plugin = Plugin::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_terraform-provider-ipam")),
        Launch::default(),
    )
    .await;
    let schema = plugin
        .provider
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.provider.is_some());
    assert!(schema.diagnostics.is_empty());
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn sigterm_ends_it_cleanly_and_sigint_is_left_to_terraform() {
    let plugin = Plugin::start(plugintest_binary(), Launch::default()).await;
    let pid = plugin.child.id().to_string();
    let socket = plugin.address.clone();
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("INT");
    let mut client = plugin.provider.clone();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        client
            .get_metadata(pb::get_metadata::Request {})
            .await
            .is_ok(),
        "still serving after SIGINT"
    );
    signal("TERM");
    let mut plugin = plugin;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = plugin.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        !std::path::Path::new(&socket).exists(),
        "the socket is removed"
    );
}
