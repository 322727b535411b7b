//! Helpers for the end-to-end tests of the IPAM provider: a mirror holding the provider built by
//! this package, working directories bound to a database file, and CIDR assertions.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ipnet::IpNet;

use super::terraform::{Mirror, Terraform, Workdir};

/// The `terraform` block every test configuration starts with.
pub const PROVIDER_HCL: &str = r#"
terraform {
  required_providers {
    ipam = {
      source = "ipam-rs/ipam"
    }
  }
}

provider "ipam" {}
"#;

/// A mirror with the provider binary cargo built for this test run.
pub fn mirror() -> &'static Mirror {
    static MIRROR: OnceLock<Mirror> = OnceLock::new();
    MIRROR.get_or_init(|| {
        Mirror::new(
            Path::new(env!("CARGO_BIN_EXE_terraform-provider-ipam")),
            "ipam-rs",
            "ipam",
        )
    })
}

/// A working directory whose provider uses `database` (through `IPAM_DATABASE`) and records
/// `e2e` as the actor. `main_tf` is written after the provider block.
pub fn workdir(terraform: &Terraform, database: &Path, main_tf: &str) -> Workdir {
    let mut dir = Workdir::new(terraform, mirror());
    dir.set_env("IPAM_DATABASE", database.display().to_string());
    dir.set_env("IPAM_ACTOR", "e2e");
    dir.write("versions.tf", PROVIDER_HCL);
    dir.write("main.tf", main_tf);
    dir
}

/// A working directory holding the configuration of `examples/complete`, on `database`.
pub fn complete_example(terraform: &Terraform, database: &Path) -> Workdir {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/complete");
    let dir = workdir(terraform, database, "");
    dir.remove("versions.tf");
    dir.remove("main.tf");
    for entry in std::fs::read_dir(&example).expect("examples/complete") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "tf") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            dir.write(
                &name,
                &std::fs::read_to_string(&path).expect("an example file"),
            );
        }
    }
    dir
}

/// A fresh database path inside a temporary directory that lives as long as the returned guard.
pub fn database() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("database directory");
    let path = dir.path().join("ipam.db");
    (dir, path)
}

/// Which database the provider uses in a test.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on this test process's throw-away PostgreSQL server.
    Postgres,
}

impl Backend {
    /// A fresh database: a guard that keeps it while the test runs, and its location (a path,
    /// or a `postgres://` URL given to the provider through `IPAM_DATABASE`).
    pub fn database(self) -> (Option<tempfile::TempDir>, PathBuf) {
        match self {
            Backend::Sqlite => {
                let (guard, path) = database();
                (Some(guard), path)
            }
            Backend::Postgres => (
                None,
                PathBuf::from(super::postgres::shared().create_database()),
            ),
        }
    }
}

/// Asserts that the directory of [`database`] holds the database file and nothing else: a
/// reader that may not write left no `-wal`, `-shm` or journal file beside it.
pub fn assert_nothing_beside_the_database(dir: &Path) {
    let beside: Vec<_> = std::fs::read_dir(dir)
        .expect("the database directory")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .into_string()
                .unwrap()
        })
        .collect();
    assert_eq!(
        beside,
        ["ipam.db"],
        "the reader left files beside the database"
    );
}

/// Parses a CIDR printed by Terraform, failing the test with the text when it is not one.
pub fn cidr(text: &str) -> IpNet {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not a CIDR: {e}"))
}

/// Reads a string output.
pub fn output_string(outputs: &serde_json::Value, name: &str) -> String {
    outputs[name]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("output {name} is not a string: {outputs}"))
        .to_string()
}

/// Reads a list-of-strings output.
pub fn output_strings(outputs: &serde_json::Value, name: &str) -> Vec<String> {
    outputs[name]["value"]
        .as_array()
        .unwrap_or_else(|| panic!("output {name} is not a list: {outputs}"))
        .iter()
        .map(|v| v.as_str().expect("a string element").to_string())
        .collect()
}

/// Asserts that no two CIDRs overlap (and so that all are distinct).
pub fn assert_disjoint(cidrs: &[IpNet]) {
    let mut sorted: Vec<IpNet> = cidrs.to_vec();
    sorted.sort_by_key(|c| (c.network(), c.prefix_len()));
    for pair in sorted.windows(2) {
        assert!(
            !pair[0].contains(&pair[1].network()),
            "{} and {} overlap",
            pair[0],
            pair[1]
        );
    }
}

/// Asserts that every CIDR lies inside `parent`.
pub fn assert_inside(cidrs: &[IpNet], parent: IpNet) {
    for c in cidrs {
        assert!(parent.contains(c), "{c} is not inside {parent}");
    }
}

/// A number from the environment (benchmark sizes), else `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
