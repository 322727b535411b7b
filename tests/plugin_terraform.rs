//! The protocol layer driven by real Terraform (the newest available and 1.0.3) through a
//! filesystem mirror, with the test-only `plugintest` provider.

mod support;

use support::grpc::plugintest_binary;
use support::terraform::{self, Mirror, Terraform, Workdir};

const PROVIDER_BLOCK: &str = r#"
terraform {
  required_providers {
    plugintest = { source = "test/plugintest" }
  }
}
"#;

/// Terraform 1.0.x crashes planning a null single nested attribute (a bug in its ProposedNew,
/// fixed later), so every configuration sets `settings`.
const SETTINGS: &str = "settings = { size = 1, enabled = false }";

fn thing_config(name: &str, value: &str) -> String {
    format!(
        r#"{PROVIDER_BLOCK}
resource "plugintest_thing" "a" {{
  name  = "{name}"
  value = "{value}"
  tags  = {{ Name = "{name}", Team = "net" }}
  settings = {{
    size    = 340282366920938463463374607431768211456.5
    enabled = true
  }}
}}

data "plugintest_echo" "e" {{
  input = plugintest_thing.a.id
}}

output "echo" {{
  value = data.plugintest_echo.e.output
}}
"#
    )
}

fn workdir(tf: &Terraform, mirror: &Mirror, data: &tempfile::TempDir) -> Workdir {
    let mut workdir = Workdir::new(tf, mirror);
    workdir.set_env("PLUGINTEST_DIR", data.path().display().to_string());
    workdir
}

fn thing_id(workdir: &Workdir) -> String {
    let state = workdir.show_json();
    state["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|resources| {
            resources
                .iter()
                .find(|r| r["address"] == "plugintest_thing.a")
        })
        .and_then(|r| r["values"]["id"].as_str())
        .expect("plugintest_thing.a has an id")
        .to_string()
}

#[test]
fn lifecycle_with_every_terraform() {
    let mirror = Mirror::new(plugintest_binary(), "test", "plugintest");
    for tf in terraform::all() {
        let data = tempfile::tempdir().unwrap();
        let workdir = workdir(tf, &mirror, &data);
        workdir.write("main.tf", &thing_config("first", "one"));
        workdir.init();

        let created = workdir.apply().success();
        assert!(
            created.stdout.contains("1 added, 0 changed, 0 destroyed"),
            "{}",
            created.describe()
        );
        let id = thing_id(&workdir);
        assert_eq!(workdir.outputs()["echo"]["value"], id.as_str());
        let shown = workdir.state_show("plugintest_thing.a");
        assert!(
            shown.contains("340282366920938463463374607431768211456.5"),
            "numbers stay exact:\n{shown}"
        );
        workdir.assert_no_changes();

        // In-place update keeps the id.
        workdir.write("main.tf", &thing_config("first", "two"));
        let updated = workdir.apply().success();
        assert!(
            updated.stdout.contains("update in-place"),
            "{}",
            updated.describe()
        );
        assert!(
            updated.stdout.contains("0 added, 1 changed, 0 destroyed"),
            "{}",
            updated.describe()
        );
        assert_eq!(thing_id(&workdir), id);
        workdir.assert_no_changes();

        // A new name replaces it.
        workdir.write("main.tf", &thing_config("second", "two"));
        let replaced = workdir.apply().success();
        assert!(
            replaced.stdout.contains("# forces replacement"),
            "{}",
            replaced.describe()
        );
        assert!(
            replaced.stdout.contains("1 added, 0 changed, 1 destroyed"),
            "{}",
            replaced.describe()
        );
        let id = thing_id(&workdir);
        workdir.assert_no_changes();

        // Import: forget it, import by id, and the plan is empty again.
        workdir
            .run(["state", "rm", "-no-color", "plugintest_thing.a"])
            .success();
        workdir
            .run([
                "import",
                "-no-color",
                "-input=false",
                "plugintest_thing.a",
                &id,
            ])
            .success();
        assert_eq!(thing_id(&workdir), id);
        workdir.assert_no_changes();

        // Drift: removed outside Terraform, so the refresh drops it and the plan re-creates it.
        std::fs::remove_file(data.path().join(format!("{id}.json"))).unwrap();
        let drift = workdir.plan();
        assert_eq!(drift.code, 2, "{}", drift.describe());
        assert!(
            drift.stdout.contains("will be created"),
            "{}",
            drift.describe()
        );
        workdir.apply().success();
        workdir.assert_no_changes();

        let destroyed = workdir.destroy().success();
        assert!(
            destroyed
                .stdout
                .contains("Destroy complete! Resources: 1 destroyed."),
            "{}",
            destroyed.describe()
        );
        assert_eq!(
            std::fs::read_dir(data.path()).unwrap().count(),
            0,
            "destroy removed the object ({})",
            tf.version
        );
    }
}

#[test]
fn state_written_at_schema_version_0_is_upgraded() {
    let mirror = Mirror::new(plugintest_binary(), "test", "plugintest");
    for tf in terraform::all() {
        let workdir = Workdir::new(tf, &mirror);
        workdir.write(
            "main.tf",
            &format!("{PROVIDER_BLOCK}\nresource \"plugintest_thing\" \"a\" {{\n  name  = \"old\"\n  value = \"from-label\"\n  {SETTINGS}\n}}\n"),
        );
        workdir.write(
            "terraform.tfstate",
            &serde_json::json!({
                "version": 4,
                "terraform_version": tf.version,
                "serial": 1,
                "lineage": "6b1f3c1e-0000-4000-8000-000000000001",
                "outputs": {},
                "resources": [{
                    "mode": "managed",
                    "type": "plugintest_thing",
                    "name": "a",
                    "provider": "provider[\"registry.terraform.io/test/plugintest\"]",
                    "instances": [{
                        "schema_version": 0,
                        "attributes": {"id": "thing-legacy", "name": "old", "label": "from-label", "tags": null, "settings": {"size": 1, "enabled": false}},
                        "sensitive_attributes": []
                    }]
                }]
            })
            .to_string(),
        );
        workdir.init();
        // `label` became `value`: with the upgrade the configuration matches the state.
        workdir.assert_no_changes();
        // Applying (nothing to change) stores the upgraded state.
        workdir.apply().success();
        let shown = workdir.state_show("plugintest_thing.a");
        assert!(
            shown.contains("from-label") && shown.contains("thing-legacy"),
            "{shown}"
        );
    }
}

#[test]
fn a_panicking_provider_gives_a_diagnostic_without_backtrace() {
    let mirror = Mirror::new(plugintest_binary(), "test", "plugintest");
    for tf in terraform::all() {
        let mut workdir = Workdir::new(tf, &mirror);
        workdir.set_env("RUST_BACKTRACE", "1");
        workdir.write(
            "main.tf",
            &format!("{PROVIDER_BLOCK}\nresource \"plugintest_thing\" \"a\" {{\n  name = \"panic\"\n  {SETTINGS}\n}}\n"),
        );
        workdir.init();
        let run = workdir.plan().failure();
        // Terraform wraps long lines: compare with whitespace collapsed.
        let text = run.text().split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            text.contains("Provider panicked") && text.contains("plugintest was asked to panic"),
            "{text}"
        );
        assert!(
            !text.contains("stack backtrace") && !text.contains("rust_begin_unwind"),
            "{text}"
        );
    }
}

#[test]
fn validation_errors_point_at_the_attribute() {
    let mirror = Mirror::new(plugintest_binary(), "test", "plugintest");
    for tf in terraform::all() {
        let workdir = Workdir::new(tf, &mirror);
        workdir.write(
            "main.tf",
            &format!("{PROVIDER_BLOCK}\nresource \"plugintest_thing\" \"a\" {{\n  name = \"x\"\n  tags = {{ \"\" = \"empty\" }}\n}}\n"),
        );
        workdir.init();
        let text = workdir.plan().failure().text();
        assert!(
            text.contains("Invalid tag") && text.contains("Tag keys must not be empty"),
            "{text}"
        );
        assert!(
            text.contains("main.tf"),
            "the diagnostic points into the configuration: {text}"
        );
    }
}

#[test]
fn provider_functions_on_the_newest_terraform() {
    let tf = terraform::newest();
    if tf.minor_version() < (1, 8) {
        eprintln!(
            "skipping: Terraform {} has no provider functions",
            tf.version
        );
        return;
    }
    let mirror = Mirror::new(plugintest_binary(), "test", "plugintest");
    let workdir = Workdir::new(tf, &mirror);
    workdir.write(
        "main.tf",
        &format!(
            "{PROVIDER_BLOCK}\noutput \"echo\" {{\n  value = provider::plugintest::echo({{ cidr = \"10.0.0.0/8\", sizes = [16, 24], big = 1.5e300 }})\n}}\n"
        ),
    );
    workdir.init();
    workdir.apply().success();
    let echo = &workdir.outputs()["echo"]["value"];
    assert_eq!(echo["cidr"], "10.0.0.0/8");
    assert_eq!(echo["sizes"], serde_json::json!([16, 24]));
}
