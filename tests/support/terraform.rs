//! Runs the real `terraform` binary against a provider built by this package, offline.
//!
//! The provider binary is installed into a filesystem mirror
//! (`registry.terraform.io/<namespace>/<type>/<version>/<os_arch>/`) that a generated CLI
//! configuration points at, so `terraform init` works without any registry (see
//! `shared/TERRAFORM.md`). Every [`Workdir`] is a fresh temporary directory, so no lock file from an
//! older build can get in the way.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The provider version the test mirror advertises.
pub const PROVIDER_VERSION: &str = "0.1.0";

/// One Terraform binary the end-to-end tests run against.
#[derive(Clone, Debug)]
pub struct Terraform {
    pub path: PathBuf,
    /// As printed by `terraform version`, e.g. `1.11.4`.
    pub version: String,
}

impl Terraform {
    /// True for Terraform 1.0.x, which speaks protocol 6.0 only (no functions, no import blocks).
    pub fn is_oldest(&self) -> bool {
        self.version.starts_with("1.0.")
    }

    /// `(major, minor)` of the version.
    pub fn minor_version(&self) -> (u32, u32) {
        let mut parts = self
            .version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }
}

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn version_of(path: &Path) -> Option<String> {
    let output = Command::new(path)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next()?;
    first
        .strip_prefix("Terraform v")
        .map(|v| v.trim().to_string())
}

fn find_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("terraform"))
        .find(|candidate| candidate.is_file())
}

/// The pinned oldest supported Terraform (1.0.3), fetched by `scripts/fetch-terraform` when absent.
fn pinned_oldest() -> Terraform {
    let script = repository_root().join("scripts/fetch-terraform");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .expect("running scripts/fetch-terraform");
    assert!(
        output.status.success(),
        "scripts/fetch-terraform failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim().to_string());
    let version = version_of(&path).expect("the pinned terraform prints its version");
    Terraform { path, version }
}

/// Every Terraform the suite runs against: the newest on PATH (when there is one and it is not the
/// pinned one) and the pinned oldest supported version. `IPAM_TEST_TERRAFORM` (a path) replaces the
/// list with that one binary, for a quick loop.
pub fn all() -> &'static [Terraform] {
    static ALL: OnceLock<Vec<Terraform>> = OnceLock::new();
    ALL.get_or_init(|| {
        if let Some(path) = std::env::var_os("IPAM_TEST_TERRAFORM") {
            let path = PathBuf::from(path);
            let version = version_of(&path).expect("IPAM_TEST_TERRAFORM is a terraform binary");
            return vec![Terraform { path, version }];
        }
        let mut list = Vec::new();
        let oldest = pinned_oldest();
        if let Some(path) = find_on_path() {
            if let Some(version) = version_of(&path) {
                if version != oldest.version {
                    list.push(Terraform { path, version });
                }
            }
        }
        list.push(oldest);
        list
    })
}

/// The newest Terraform available (for features newer than 1.0, such as provider functions).
pub fn newest() -> &'static Terraform {
    all()
        .iter()
        .max_by_key(|tf| tf.minor_version())
        .expect("at least one terraform")
}

/// A filesystem mirror holding one provider binary, plus the CLI configuration that uses it.
pub struct Mirror {
    _dir: tempfile::TempDir,
    pub cli_config: PathBuf,
    pub source: String,
}

impl Mirror {
    /// Installs `binary` as `registry.terraform.io/<namespace>/<type_name>` version
    /// [`PROVIDER_VERSION`].
    pub fn new(binary: &Path, namespace: &str, type_name: &str) -> Mirror {
        let dir =
            tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary mirror directory");
        let platform = dir
            .path()
            .join("mirror/registry.terraform.io")
            .join(namespace)
            .join(type_name)
            .join(PROVIDER_VERSION)
            .join("linux_amd64");
        fs::create_dir_all(&platform).expect("mirror layout");
        let installed = platform.join(format!(
            "terraform-provider-{type_name}_v{PROVIDER_VERSION}"
        ));
        fs::copy(binary, &installed).expect("copying the provider into the mirror");
        let cli_config = dir.path().join("terraform.rc");
        fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/{namespace}/*\"]\n  }}\n}}\n",
                dir.path().join("mirror").display()
            ),
        )
        .expect("writing the CLI configuration");
        Mirror {
            _dir: dir,
            cli_config,
            source: format!("{namespace}/{type_name}"),
        }
    }
}

/// The result of one terraform command.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(args: Vec<String>, output: Output) -> Run {
        Run {
            args,
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with the whole output unless the command exited 0.
    pub fn success(self) -> Run {
        assert_eq!(
            self.code,
            0,
            "terraform {:?} failed:\n{}",
            self.args,
            self.describe()
        );
        self
    }

    /// Panics unless the command failed; returns it so the message can be checked.
    pub fn failure(self) -> Run {
        assert_ne!(
            self.code,
            0,
            "terraform {:?} should have failed:\n{}",
            self.args,
            self.describe()
        );
        self
    }

    /// stdout and stderr together, as a person would read them.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A fresh working directory with a configuration, run by one Terraform binary.
pub struct Workdir {
    dir: tempfile::TempDir,
    pub terraform: Terraform,
    cli_config: PathBuf,
    env: Vec<(String, String)>,
    unset: Vec<String>,
    user: Option<(u32, u32)>,
}

impl Workdir {
    pub fn new(terraform: &Terraform, mirror: &Mirror) -> Workdir {
        Workdir {
            dir: tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                .expect("temporary working directory"),
            terraform: terraform.clone(),
            cli_config: mirror.cli_config.clone(),
            env: Vec::new(),
            unset: Vec::new(),
            user: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets an environment variable for every later command (e.g. `IPAM_DATABASE`).
    pub fn set_env(&mut self, key: &str, value: impl Into<String>) {
        self.env.retain(|(k, _)| k != key);
        self.unset.retain(|k| k != key);
        self.env.push((key.to_string(), value.into()));
    }

    /// Removes an environment variable from every later command (e.g. `USER`).
    pub fn unset_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
        self.unset.push(key.to_string());
    }

    /// Runs every later command as another OS user (through `setpriv`; the tests must run as
    /// root). The working directory is handed to that user and becomes its `HOME`; the mirror
    /// must be readable by it.
    pub fn run_as(&mut self, uid: u32, gid: u32) {
        std::os::unix::fs::chown(self.dir.path(), Some(uid), Some(gid))
            .expect("handing the working directory to the user");
        self.set_env("HOME", self.dir.path().display().to_string());
        self.user = Some((uid, gid));
    }

    /// Writes (or replaces) a file in the working directory.
    pub fn write(&self, name: &str, contents: &str) {
        fs::write(self.dir.path().join(name), contents).expect("writing a configuration file");
    }

    pub fn remove(&self, name: &str) {
        let _ = fs::remove_file(self.dir.path().join(name));
    }

    /// Runs `terraform <args>` with input, colour and version checks off.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let mut command = match self.user {
            None => Command::new(&self.terraform.path),
            Some((uid, gid)) => {
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg(&self.terraform.path);
                command
            }
        };
        command
            .args(&args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_LOG")
            .env_remove("TF_CLI_ARGS");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        for key in &self.unset {
            command.env_remove(key);
        }
        let output = command.output().expect("starting terraform");
        Run::from_output(args, output)
    }

    pub fn init(&self) -> Run {
        self.run(["init", "-no-color", "-input=false"]).success()
    }

    pub fn apply(&self) -> Run {
        self.run(["apply", "-no-color", "-input=false", "-auto-approve"])
    }

    pub fn destroy(&self) -> Run {
        self.run(["destroy", "-no-color", "-input=false", "-auto-approve"])
    }

    /// `terraform plan -detailed-exitcode`: exit 0 means no changes, 2 means changes.
    pub fn plan(&self) -> Run {
        self.run(["plan", "-no-color", "-input=false", "-detailed-exitcode"])
    }

    /// Asserts that a plan shows no changes.
    pub fn assert_no_changes(&self) {
        let run = self.plan();
        assert_eq!(run.code, 0, "expected an empty plan:\n{}", run.describe());
    }

    /// `terraform state show -no-color ADDRESS` (attributes as Terraform prints them).
    pub fn state_show(&self, address: &str) -> String {
        self.run(["state", "show", "-no-color", address])
            .success()
            .stdout
    }

    /// The state as JSON (`terraform show -json`).
    pub fn show_json(&self) -> serde_json::Value {
        let run = self.run(["show", "-json", "-no-color"]).success();
        serde_json::from_str(&run.stdout).expect("terraform show -json prints JSON")
    }

    /// One attribute of one resource in the state, as text (`terraform show -json`).
    pub fn state_show_attribute(&self, address: &str, attribute: &str) -> String {
        let state = self.show_json();
        let resources = state["values"]["root_module"]["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let resource = resources
            .iter()
            .find(|r| r["address"] == address)
            .unwrap_or_else(|| panic!("{address} is not in the state: {state}"));
        match &resource["values"][attribute] {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    /// The values of every output (`terraform output -json`).
    pub fn outputs(&self) -> serde_json::Value {
        let run = self.run(["output", "-json", "-no-color"]).success();
        serde_json::from_str(&run.stdout).expect("terraform output -json prints JSON")
    }
}
