//! Compliance scans: which networks in Terraform states — of any cloud — the address space
//! manages, which it does not, which overlap, which break their pool's rules; which allocations
//! no state holds any more; and adopting the unmanaged ones.
//!
//! # Organization
//! - [`input`]: reading raw state files (version 4), `terraform show -json` output, directories
//!   and standard input into [`Discovered`] CIDRs.
//! - [`rules`]: what holds a CIDR: built-in [`Rule`]s per resource type and attribute path, and
//!   user rules (`--rule TYPE:PATH`, rule files).
//! - [`classify`](mod@classify): the [`Report`]: each CIDR [`Status`] (managed, unmanaged, overlapping,
//!   noncompliant, outside, ignored) and the [`Orphan`] allocations, read through the
//!   [`crate::store::Store`] trait with the core's rules.
//! - [`commands`]: `scan`, `adopt` and `release --orphans` as functions returning their result,
//!   rendered output and exit code; [`cli`]: their command-line names, options and help.

pub mod classify;
pub mod cli;
pub mod commands;
pub mod input;
pub mod rules;

pub use classify::{
    broken_rules, classify, classify_in, Finding, Orphan, Report, ScanScope, Status,
};
pub use commands::{
    adopt, release_orphans, report_json, report_text, scan, scan_report, scan_report_in,
    AdoptOptions, Adoption, CommandOutput, ReleaseOptions, ScanOptions,
};
pub use input::{read_inputs, Discovered, InputProblem, Inputs};
pub use rules::{parse_rule_file, parse_rule_option, Rule, RuleFile, RuleSet};
