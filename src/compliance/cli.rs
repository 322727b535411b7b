//! The compliance commands as an operator command line sees them: their names, usage, options
//! and help (the command line's own [`Spec`]), and [`run`], which turns positional arguments and `--name value` options into the
//! options of [`super::commands`] and returns the output and exit code. A command-line front end
//! wires each of them with a few lines (its parser, its printing).
//!
//! Options that take several values take them comma-separated (`--rule a:b,c:d`), so that a
//! parser that refuses a repeated option still serves.

use std::collections::BTreeMap;

use crate::cli::args::Spec;
use crate::ipam::Tags;
use crate::store::Store;

use super::classify::ScanScope;
use super::commands::{adopt, release_orphans, scan, AdoptOptions, ReleaseOptions, ScanOptions};
use super::rules::{parse_rule_file, parse_rule_option, RuleSet};

const SCAN_OPTIONS: &[(&str, bool, &str)] = &[
    (
        "scope",
        true,
        "scope for private-use CIDRs (default: the private default scope of the only IPAM)",
    ),
    (
        "rule",
        true,
        "extra rules TYPE:ATTRIBUTE_PATH, comma-separated (e.g. oci_core_vcn:cidr_blocks)",
    ),
    (
        "rules",
        true,
        "a rule file: `TYPE ATTRIBUTE_PATH` and `ignore ENTRY` lines",
    ),
    (
        "ignore",
        true,
        "CIDRs and resource addresses to ignore, comma-separated",
    ),
    (
        "orphan-pool",
        true,
        "pools to check for orphans besides those the states use, comma-separated",
    ),
];

const ADOPT_OPTIONS: &[(&str, bool, &str)] = &[
    (
        "pool",
        true,
        "adopt only CIDRs in this pool or its descendants (required)",
    ),
    (
        "tag",
        true,
        "extra tags KEY=VALUE for the new allocations, comma-separated",
    ),
    (
        "yes",
        false,
        "record the allocations (without it: a dry run)",
    ),
    ("scope", true, "scope for private-use CIDRs"),
    (
        "rule",
        true,
        "extra rules TYPE:ATTRIBUTE_PATH, comma-separated",
    ),
    ("rules", true, "a rule file"),
    (
        "ignore",
        true,
        "CIDRs and resource addresses to leave alone, comma-separated",
    ),
];

const RELEASE_OPTIONS: &[(&str, bool, &str)] = &[
    (
        "orphans",
        false,
        "release the orphaned allocations of these states (required)",
    ),
    ("yes", false, "release them (without it: list them only)"),
    (
        "orphan-pool",
        true,
        "pools to check besides those the states use, comma-separated",
    ),
    ("scope", true, "scope for private-use CIDRs"),
    (
        "rule",
        true,
        "extra rules TYPE:ATTRIBUTE_PATH, comma-separated",
    ),
    ("rules", true, "a rule file"),
];

/// `ipam scan PATH…`.
pub const SCAN: Spec = Spec {
    name: "scan",
    usage: "scan PATH… [--scope ID] [--rule TYPE:PATH,…] [--rules FILE] [--ignore ENTRY,…]",
    summary: "classify the networks of Terraform states against the space (exit 1 on a problem)",
    positional: (1, usize::MAX),
    options: SCAN_OPTIONS,
    details: "PATH: state files (version 4), `terraform show -json` output, directories (recursive), or - for standard input.\nExit codes: 0 clean, 1 something overlapping, unmanaged or noncompliant, 2 a usage error or a state file that could not be read.\nSee docs/compliance.md.",
};

/// `ipam adopt PATH… --pool ID`.
pub const ADOPT: Spec = Spec {
    name: "adopt",
    usage: "adopt PATH… --pool ID [--tag KEY=VALUE,…] [--yes]",
    summary: "record the unmanaged networks of Terraform states as allocations; import blocks",
    positional: (1, usize::MAX),
    options: ADOPT_OPTIONS,
    details: "Without --yes: a dry run that changes nothing. Overlapping CIDRs are refused.\nExit codes: 0 all adopted, 1 some refused, 2 an error (nothing recorded).",
};

/// `ipam release --orphans PATH…`.
pub const RELEASE: Spec = Spec {
    name: "release",
    usage: "release --orphans PATH… [--yes]",
    summary: "--orphans: release the allocations no given Terraform state holds (with --yes)",
    positional: (1, usize::MAX),
    options: RELEASE_OPTIONS,
    details: "Without --yes: lists them and changes nothing. Nothing is released when a state cannot be read.\nExit codes: 0 done, 2 an error.",
};

/// The three commands.
pub const COMMANDS: [&Spec; 3] = [&SCAN, &ADOPT, &RELEASE];

/// What a command printed and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliOutput {
    /// For standard output.
    pub output: String,
    /// 0, 1 or 2.
    pub exit_code: u8,
}

fn list(options: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    options
        .get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The scan options from positional paths and `--scope`, `--rule`, `--rules`, `--ignore`,
/// `--orphan-pool`.
pub fn scan_options(
    paths: Vec<String>,
    options: &BTreeMap<String, String>,
    json: bool,
) -> Result<ScanOptions, String> {
    if paths.is_empty() {
        return Err("give at least one state file or directory (- for standard input)".into());
    }
    let mut rules = RuleSet::built_in();
    for text in list(options, "rule") {
        rules.add(parse_rule_option(&text)?);
    }
    let mut ignore = list(options, "ignore");
    if let Some(file) = options.get("rules") {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the rule file {file}: {e}"))?;
        let parsed = parse_rule_file(file, &text)?;
        parsed.rules.into_iter().for_each(|r| rules.add(r));
        ignore.extend(parsed.ignore);
    }
    Ok(ScanOptions {
        paths,
        rules,
        scope: ScanScope {
            scope_id: options.get("scope").cloned(),
            ignore,
            orphan_pools: list(options, "orphan-pool"),
        },
        json,
        stdin: None,
    })
}

/// Runs `scan`, `adopt` or `release` with its positional arguments and options (`--name` →
/// value, flags with an empty value). `Err` is a usage or access error (exit 2).
pub fn run(
    store: &dyn Store,
    command: &str,
    positional: Vec<String>,
    options: &BTreeMap<String, String>,
    json: bool,
) -> Result<CliOutput, String> {
    let scan_opts = scan_options(positional, options, json)?;
    let store_error = |e: crate::ipam::Error| e.to_string();
    let (output, exit_code) = match command {
        "scan" => {
            let out = scan(store, &scan_opts).map_err(store_error)?;
            (out.output, out.exit_code)
        }
        "adopt" => {
            let pool_id = options
                .get("pool")
                .cloned()
                .ok_or("adopt needs --pool ID: the pool (with its descendants) to adopt into")?;
            let mut tags = Tags::new();
            for pair in list(options, "tag") {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--tag {pair:?}: write KEY=VALUE"))?;
                tags.insert(key.to_string(), value.to_string());
            }
            let out = adopt(
                store,
                &AdoptOptions {
                    scan: scan_opts,
                    pool_id,
                    tags,
                    yes: options.contains_key("yes"),
                },
            )
            .map_err(store_error)?;
            (out.output, out.exit_code)
        }
        "release" => {
            if !options.contains_key("orphans") {
                return Err("release needs --orphans: it releases the allocations none of the given states holds".into());
            }
            let out = release_orphans(
                store,
                &ReleaseOptions {
                    scan: scan_opts,
                    yes: options.contains_key("yes"),
                },
            )
            .map_err(store_error)?;
            (out.output, out.exit_code)
        }
        other => {
            return Err(format!(
                "{other:?} is not a compliance command; use scan, adopt or release"
            ))
        }
    };
    Ok(CliOutput { output, exit_code })
}
