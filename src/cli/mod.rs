//! `ipam`, the operator's command line: reads the address space through the [`Store`] (never
//! SQL of its own) and prints tables for people or JSON for scripts.
//!
//! # Organization
//! - this file: the command table, global options, opening the database, exit codes;
//! - [`args`]: the small argument parser; [`output`]: tables, colour, bars, progress;
//!   [`json`]: the JSON form of each object (the documented, stable field names);
//! - one file per command: [`tree`], [`show`], [`allocations`], [`cidrs`], [`free`],
//!   [`audit`], [`util`], [`check`], [`backup`], [`map`], and [`copy`], the one command that
//!   names its databases itself (FROM and TO) instead of opening `--database`;
//! - [`compliance`]: `scan`, `adopt`, `release --orphans` (Terraform states against the space).
//!
//! Exit codes: 0 ok, 1 a finding (a threshold crossed, an inconsistency, nothing found),
//! 2 a usage or access error.

pub mod args;
pub mod json;
pub mod output;

pub mod allocations;
pub mod audit;
pub mod backup;
pub mod check;
pub mod cidrs;
pub mod compliance;
pub mod copy;
pub mod free;
pub mod map;
pub mod show;
pub mod tree;
pub mod util;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ipam::Error;
use crate::store::postgres::{is_postgres_url, PostgresLocation};
use crate::store::{PostgresStore, SqliteOptions, SqliteStore, Store};

use args::{Parsed, Spec};
use output::Output;

/// The database used when neither `--database` nor `IPAM_DATABASE` is given (as the provider).
pub const DEFAULT_DATABASE: &str = "terraform-ipam.db";

/// Why a command did not succeed: a finding (exit 1) or a usage or access error (exit 2).
#[derive(Debug)]
pub struct Failure {
    /// 1 or 2.
    pub code: u8,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl Failure {
    /// A usage or access error (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::usage(e.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a command found: nothing to report (exit 0) or a finding (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: a threshold crossed, an inconsistency, nothing found.
    Finding,
}

/// What every command gets: the store and where to print.
pub struct Context {
    /// The opened database.
    pub store: Box<dyn Store>,
    /// Stdout as a table or JSON, colour or not.
    pub out: Output,
}

type Run = fn(&Context, &Parsed) -> Result<Outcome, Failure>;
type RunOnDatabases = fn(&Output, &Parsed) -> Result<Outcome, Failure>;

/// What a command runs on.
#[derive(Clone, Copy)]
enum Body {
    /// The database of `--database`, opened (never created) before the command runs.
    Store(Run),
    /// The databases named by its own arguments.
    Databases(RunOnDatabases),
}

/// Every command: its spec (name, arguments, options, help) and its body.
const COMMANDS: &[(&Spec, Body)] = &[
    (&tree::SPEC, Body::Store(tree::run)),
    (&show::SPEC, Body::Store(show::run)),
    (&allocations::SPEC, Body::Store(allocations::run)),
    (&cidrs::SPEC, Body::Store(cidrs::run)),
    (&free::SPEC, Body::Store(free::run)),
    (&audit::SPEC, Body::Store(audit::run)),
    (&util::SPEC, Body::Store(util::run)),
    (&check::SPEC, Body::Store(check::run)),
    (&backup::SPEC, Body::Store(backup::run)),
    (&copy::SPEC, Body::Databases(copy::run)),
    (&map::SPEC, Body::Store(map::run)),
    (&compliance::SCAN, Body::Store(compliance::scan)),
    (&compliance::ADOPT, Body::Store(compliance::adopt)),
    (&compliance::RELEASE, Body::Store(compliance::release)),
];

const GLOBAL_HELP: &str = "\
Global options (before or after the command):
  --database PATH|URL  the database (default: $IPAM_DATABASE, else terraform-ipam.db); never created
  --json               JSON for scripts instead of tables (field names in docs/cli.md)
  -h, --help           this help, or a command's help after the command
Colour only on a terminal; NO_COLOR turns it off.
Exit codes: 0 ok, 1 a finding (threshold crossed, inconsistency, nothing found), 2 usage or access error.";

fn usage() -> String {
    let mut text = String::from(
        "ipam: see and check the address space of terraform-provider-ipam\n\nUsage: ipam [--database PATH|URL] [--json] COMMAND [ARGS]\n\nCommands (`ipam COMMAND --help` shows a command's arguments):\n",
    );
    for (spec, _) in COMMANDS {
        text.push_str(&format!("  {:<12} {}\n", spec.name, spec.summary));
    }
    text.push('\n');
    text.push_str(GLOBAL_HELP);
    text.push('\n');
    text
}

/// Runs `ipam` with these arguments (without the program name) and returns the exit code.
pub fn main(arguments: Vec<String>) -> u8 {
    match run(arguments) {
        Ok(Outcome::Ok) => 0,
        Ok(Outcome::Finding) => 1,
        Err(failure) => {
            eprintln!("ipam: {failure}");
            failure.code
        }
    }
}

fn run(arguments: Vec<String>) -> Result<Outcome, Failure> {
    let (global, name, rest) = args::split_global(arguments)?;
    let Some(name) = name else {
        if global.help {
            print!("{}", usage());
            return Ok(Outcome::Ok);
        }
        return Err(Failure::usage(format!(
            "no command given\n\n{}",
            usage().trim_end()
        )));
    };
    let Some((spec, command)) = COMMANDS.iter().find(|(spec, _)| spec.name == name) else {
        let names: Vec<&str> = COMMANDS.iter().map(|(spec, _)| spec.name).collect();
        return Err(Failure::usage(format!(
            "unknown command {name:?}; the commands are {}; see `ipam --help`",
            names.join(", ")
        )));
    };
    if global.help {
        print!("{}", spec.help());
        return Ok(Outcome::Ok);
    }
    let parsed = spec.parse(rest)?;
    let command = match command {
        Body::Store(command) => command,
        Body::Databases(command) => return command(&Output::new(global.json), &parsed),
    };
    let database = global
        .database
        .or_else(|| {
            std::env::var("IPAM_DATABASE")
                .ok()
                .filter(|d| !d.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let store = open_store(&database)?;
    let context = Context {
        store,
        out: Output::new(global.json),
    };
    command(&context, &parsed)
}

/// Opens the database named by `--database`, `IPAM_DATABASE` or the default, never creating
/// one: a missing (or empty) file, or a PostgreSQL database without the IPAM schema, is an
/// error that names it. A database the user cannot
/// write is opened read-only: every command reads, none writes.
pub fn open_store(database: &str) -> Result<Box<dyn Store>, Failure> {
    open_existing_store(
        database,
        "give an existing database with --database PATH or IPAM_DATABASE",
    )
}

/// As [`open_store`], for a database named elsewhere than `--database`: `advice` says how to
/// name an existing SQLite file instead.
pub(crate) fn open_existing_store(database: &str, advice: &str) -> Result<Box<dyn Store>, Failure> {
    let actor = std::env::var("IPAM_ACTOR").unwrap_or_else(|_| "ipam".to_string());
    if is_postgres_url(database) {
        let location = PostgresLocation::parse(database)?;
        let (describe, schema) = (location.describe(), location.schema.clone());
        return match PostgresStore::connect_existing(location, actor)? {
            Some(store) => Ok(Box::new(store)),
            None => Err(Failure::usage(format!(
                "{describe} has no IPAM schema \"{schema}\" (ipam never creates one); give the schema the provider uses with ?schema=NAME in the URL, or apply a Terraform configuration first"
            ))),
        };
    }
    let path = sqlite_path(database);
    match SqliteStore::open_existing(&path, SqliteOptions::new(actor))? {
        Some(store) => Ok(Box::new(store)),
        None => Err(Failure::usage(format!(
            "database {} does not exist (ipam never creates one); {advice}",
            path.display()
        ))),
    }
}

/// The file of a SQLite database given as a path, `sqlite://PATH`, `sqlite:PATH` or `file:PATH`.
pub(crate) fn sqlite_path(database: &str) -> PathBuf {
    let path = ["sqlite://", "sqlite:", "file://", "file:"]
        .iter()
        .find_map(|prefix| database.strip_prefix(prefix))
        .unwrap_or(database);
    Path::new(path).to_path_buf()
}

/// The kind of object an id names, by its prefix (`ipam-pool-cidr-…` is a pool CIDR).
pub fn kind_of(id: &str) -> Option<crate::ipam::ObjectKind> {
    use crate::ipam::ObjectKind;
    [
        ("ipam-alloc-", ObjectKind::Allocation),
        ("ipam-pool-cidr-", ObjectKind::PoolCidr),
        ("ipam-pool-", ObjectKind::Pool),
        ("ipam-scope-", ObjectKind::Scope),
        ("ipam-", ObjectKind::Ipam),
    ]
    .into_iter()
    .find(|(prefix, _)| id.starts_with(prefix))
    .map(|(_, kind)| kind)
}

/// The error for an id that names nothing of its kind, or no kind at all.
pub fn unknown_id(id: &str) -> Failure {
    match kind_of(id) {
        Some(kind) => Error::not_found(kind, id).into(),
        None => Failure::usage(format!(
            "{id:?} is not an id: ids start with ipam-, ipam-scope-, ipam-pool-, ipam-pool-cidr- or ipam-alloc-"
        )),
    }
}
