//! The operator commands `ipam scan`, `ipam adopt` and `ipam release --orphans`, as functions
//! that take parsed options and return what they did plus the rendered output (a text table or
//! JSON) and the exit code, so that any command-line front end calls them in a few lines.
//!
//! Exit codes: 0 clean; 1 a finding (something overlapping, unmanaged or noncompliant; adoptions
//! refused); 2 a usage or access error, or a state file that could not be read (the others are
//! still scanned and reported).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use serde_json::{json, Value as Json};

use crate::ipam::{Allocation, AllocationRequest, Result, Tags};
use crate::store::Store;

use super::classify::{classify_in, human_age, Finding, Orphan, Report, ScanScope, Status};
use super::input::read_inputs;
use super::rules::RuleSet;

/// What `scan` reads and how it prints.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Files and directories; `-` is standard input.
    pub paths: Vec<String>,
    /// Built-in plus user rules.
    pub rules: RuleSet,
    /// Scope, ignore list, extra pools for orphans.
    pub scope: ScanScope,
    /// JSON instead of tables.
    pub json: bool,
    /// Standard input, when the caller already has it (tests); otherwise read when `-` is given.
    pub stdin: Option<Vec<u8>>,
}

/// Options of `adopt`.
#[derive(Debug, Clone, Default)]
pub struct AdoptOptions {
    /// What to scan.
    pub scan: ScanOptions,
    /// Only CIDRs in this pool or its descendants are adopted.
    pub pool_id: String,
    /// Extra tags for every new allocation (e.g. a pool's required tags).
    pub tags: Tags,
    /// Record the allocations (otherwise a dry run).
    pub yes: bool,
}

/// Options of `release --orphans`.
#[derive(Debug, Clone, Default)]
pub struct ReleaseOptions {
    /// What to scan.
    pub scan: ScanOptions,
    /// Release them (otherwise list them and change nothing).
    pub yes: bool,
}

/// A command's result, its rendered output and its exit code.
#[derive(Debug, Clone)]
pub struct CommandOutput<T> {
    /// What the command found or did.
    pub result: T,
    /// The text for standard output (table or JSON).
    pub output: String,
    /// 0, 1 or 2.
    pub exit_code: u8,
}

/// Reads the states and classifies what they hold.
pub fn scan_report(store: &dyn Store, options: &ScanOptions) -> Result<Report> {
    scan_report_in(Some(store), options)
}

/// [`scan_report`] against the address space of `store`, or against none when there is no
/// database yet (see [`classify_in`]).
pub fn scan_report_in(store: Option<&dyn Store>, options: &ScanOptions) -> Result<Report> {
    let mut stdin = || match &options.stdin {
        Some(bytes) => Ok(bytes.clone()),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes)?;
            Ok(bytes)
        }
    };
    let inputs = read_inputs(&options.paths, &options.rules, &mut stdin);
    classify_in(store, &options.scope, inputs)
}

/// `ipam scan PATH…`: the findings table (or JSON), the summary counts and the orphans.
pub fn scan(store: &dyn Store, options: &ScanOptions) -> Result<CommandOutput<Report>> {
    let report = scan_report(store, options)?;
    let output = if options.json {
        pretty(&report_json(&report))
    } else {
        report_text(&report)
    };
    Ok(CommandOutput {
        exit_code: report.exit_code(),
        output,
        result: report,
    })
}

/// A planned or refused adoption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The finding adopted.
    pub address: String,
    /// Its file.
    pub file: String,
    /// The request (pool, CIDR, tags).
    pub request: AllocationRequest,
    /// Why it cannot be adopted, if it cannot.
    pub refused: Option<String>,
    /// The new allocation, once recorded.
    pub allocation: Option<Allocation>,
}

/// `ipam adopt PATH… --pool ID`: records the unmanaged CIDRs under the pool as allocations of
/// the deepest pool that holds them, all in one transaction (dry run unless `yes`), refusing
/// overlapping ones, and prints `import` blocks with the new ids.
pub fn adopt(store: &dyn Store, options: &AdoptOptions) -> Result<CommandOutput<Vec<Adoption>>> {
    store.get_pool(&options.pool_id)?;
    let report = scan_report(store, &options.scan)?;
    let mut under = PoolTree::new(store, &options.pool_id);
    let mut adoptions = Vec::new();
    let mut candidates: Vec<&Finding> = Vec::new();
    for finding in &report.findings {
        let Some(pool_id) = &finding.pool_id else {
            continue;
        };
        if finding.discovered.is_ours() || !under.contains(pool_id)? {
            continue;
        }
        match finding.status {
            Status::Unmanaged => candidates.push(finding),
            Status::Overlapping if finding.allocation_id.is_none() => adoptions.push(Adoption {
                address: finding.discovered.address.clone(),
                file: finding.discovered.file.clone(),
                request: request_for(finding, pool_id, &options.tags),
                refused: Some(format!("overlaps {}", finding.conflicts.join(", "))),
                allocation: None,
            }),
            _ => {}
        }
    }
    // outermost first: a VPC's adoption covers its subnets; one allocation per CIDR
    candidates.sort_by_key(|f| {
        (
            f.discovered.found.cidr.prefix_len(),
            f.discovered.found.cidr,
        )
    });
    let mut taken: Vec<ipnet::IpNet> = Vec::new();
    for finding in candidates {
        let cidr = finding.discovered.found.cidr;
        if taken.iter().any(|t| t.contains(&cidr)) {
            continue;
        }
        taken.push(cidr);
        let pool_id = finding.pool_id.as_deref().unwrap_or_default();
        let request = request_for(finding, pool_id, &options.tags);
        let refused = store
            .preview_allocation(&request)
            .err()
            .map(|e| e.to_string());
        adoptions.push(Adoption {
            address: finding.discovered.address.clone(),
            file: finding.discovered.file.clone(),
            request,
            refused,
            allocation: None,
        });
    }
    let accepted: Vec<AllocationRequest> = adoptions
        .iter()
        .filter(|a| a.refused.is_none())
        .map(|a| a.request.clone())
        .collect();
    if options.yes && !accepted.is_empty() {
        let mut made = store.allocate_many(&accepted)?.into_iter();
        for adoption in adoptions.iter_mut().filter(|a| a.refused.is_none()) {
            adoption.allocation = made.next();
        }
    }
    let refused = adoptions.iter().any(|a| a.refused.is_some());
    let output = if options.scan.json {
        pretty(&json!({
            "dry_run": !options.yes,
            "adoptions": adoptions.iter().map(adoption_json).collect::<Vec<_>>(),
            "import_blocks": import_blocks(&adoptions),
            "errors": problems_json(&report),
        }))
    } else {
        adopt_text(&adoptions, options.yes, &report)
    };
    let exit_code = if !report.inputs.errors.is_empty() {
        2
    } else {
        u8::from(refused)
    };
    Ok(CommandOutput {
        result: adoptions,
        output,
        exit_code,
    })
}

/// `ipam release --orphans PATH…`: lists the allocations of the states' pools that none of the
/// states holds and, with `yes`, releases them.
pub fn release_orphans(
    store: &dyn Store,
    options: &ReleaseOptions,
) -> Result<CommandOutput<Vec<Orphan>>> {
    let report = scan_report(store, &options.scan)?;
    if !report.inputs.errors.is_empty() {
        // a state that could not be read may hold some of them: release nothing
        let output = format!(
            "{}nothing released: every state must be readable, or its allocations would look orphaned\n",
            problems_text(&report)
        );
        return Ok(CommandOutput {
            result: report.orphans,
            output,
            exit_code: 2,
        });
    }
    if options.yes {
        for orphan in &report.orphans {
            store.release_allocation(&orphan.allocation.id)?;
        }
    }
    let output = if options.scan.json {
        pretty(&json!({
            "released": options.yes,
            "orphans": report.orphans.iter().map(orphan_json).collect::<Vec<_>>(),
        }))
    } else if report.orphans.is_empty() {
        "no orphaned allocations: every allocation of these states' pools is held by one of them\n"
            .to_string()
    } else {
        let mut text = orphans_table(&report.orphans);
        text.push_str(&if options.yes {
            format!("released {} orphaned allocations\n", report.orphans.len())
        } else {
            format!(
                "{} orphaned allocations; nothing released: run again with --yes to release them\n",
                report.orphans.len()
            )
        });
        text
    };
    Ok(CommandOutput {
        result: report.orphans,
        output,
        exit_code: 0,
    })
}

/// Whether pools lie under a given pool (itself or a descendant), reading parents lazily.
struct PoolTree<'a> {
    store: &'a dyn Store,
    root: String,
    known: HashMap<String, bool>,
}

impl<'a> PoolTree<'a> {
    fn new(store: &'a dyn Store, root: &str) -> PoolTree<'a> {
        PoolTree {
            store,
            root: root.to_string(),
            known: HashMap::new(),
        }
    }

    fn contains(&mut self, pool_id: &str) -> Result<bool> {
        if let Some(&known) = self.known.get(pool_id) {
            return Ok(known);
        }
        let answer = if pool_id == self.root {
            true
        } else {
            match self.store.get_pool(pool_id)?.source_pool_id {
                Some(parent) => self.contains(&parent)?,
                None => false,
            }
        };
        self.known.insert(pool_id.to_string(), answer);
        Ok(answer)
    }
}

fn request_for(finding: &Finding, pool_id: &str, extra: &Tags) -> AllocationRequest {
    let d = &finding.discovered;
    let mut tags = extra.clone();
    tags.insert("ipam:source-file".into(), d.file.clone());
    tags.insert("ipam:source-address".into(), d.address.clone());
    AllocationRequest {
        pool_id: pool_id.to_string(),
        cidr: Some(d.found.cidr),
        description: format!("adopted from {} in {}", d.address, d.file),
        tags,
        ..AllocationRequest::default()
    }
}

/// A Terraform name from a resource address: `module.net.aws_vpc.main["a"]` →
/// `adopted_module_net_aws_vpc_main_a`.
fn resource_name(address: &str, used: &mut BTreeSet<String>) -> String {
    let mut name = String::from("adopted_");
    for c in address.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    let base = name.trim_end_matches('_').to_string();
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// `import` blocks (Terraform ≥ 1.5) and the matching `ipam_allocation` resources.
fn import_blocks(adoptions: &[Adoption]) -> String {
    let mut used = BTreeSet::new();
    let mut text = String::new();
    for adoption in adoptions {
        let Some(allocation) = &adoption.allocation else {
            continue;
        };
        let name = resource_name(&adoption.address, &mut used);
        text.push_str(&format!(
            "import {{\n  to = ipam_allocation.{name}\n  id = {}\n}}\n\nresource \"ipam_allocation\" \"{name}\" {{\n  pool_id     = {}\n  cidr        = {}\n  description = {}\n  tags = {{\n",
            hcl(&allocation.id),
            hcl(&allocation.pool_id),
            hcl(&allocation.cidr.to_string()),
            hcl(&allocation.description),
        ));
        let width = allocation
            .tags
            .keys()
            .map(|k| hcl(k).len())
            .max()
            .unwrap_or(0);
        for (key, value) in &allocation.tags {
            text.push_str(&format!("    {:<width$} = {}\n", hcl(key), hcl(value)));
        }
        text.push_str("  }\n}\n\n");
    }
    text
}

/// An HCL string literal.
fn hcl(text: &str) -> String {
    let escaped = serde_json::to_string(text).unwrap_or_default();
    escaped.replace("${", "$${").replace("%{", "%%{")
}

fn pretty(value: &Json) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// Left-aligned columns separated by two spaces.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

fn finding_json(f: &Finding) -> Json {
    let d = &f.discovered;
    json!({
        "address": d.address,
        "type": d.resource_type,
        "attribute": d.found.attribute,
        "cidr": d.found.cidr.to_string(),
        "file": d.file,
        "status": f.status.as_str(),
        "pool_id": f.pool_id,
        "allocation_id": f.allocation_id,
        "conflicts": f.conflicts,
        "detail": f.detail,
    })
}

fn orphan_json(o: &Orphan) -> Json {
    json!({
        "id": o.allocation.id,
        "pool_id": o.allocation.pool_id,
        "cidr": o.allocation.cidr.to_string(),
        "created_at": o.allocation.created_at,
        "age_seconds": o.age_seconds,
        "actor": o.actor,
        "description": o.allocation.description,
    })
}

fn adoption_json(a: &Adoption) -> Json {
    json!({
        "address": a.address,
        "file": a.file,
        "pool_id": a.request.pool_id,
        "cidr": a.request.cidr.map(|c| c.to_string()),
        "refused": a.refused,
        "allocation_id": a.allocation.as_ref().map(|x| x.id.clone()),
    })
}

fn problems_json(report: &Report) -> Json {
    let list = |problems: &[super::input::InputProblem]| {
        problems
            .iter()
            .map(|p| json!({"file": p.file, "message": p.message}))
            .collect::<Vec<_>>()
    };
    json!({"errors": list(&report.inputs.errors), "warnings": list(&report.inputs.warnings)})
}

/// The JSON form of a scan: findings, summary counts, orphans, errors.
pub fn report_json(report: &Report) -> Json {
    let mut summary = BTreeMap::new();
    for status in Status::ALL {
        summary.insert(status.as_str().to_string(), json!(report.count(status)));
    }
    summary.insert("orphaned".into(), json!(report.orphans.len()));
    summary.insert("files".into(), json!(report.inputs.files));
    summary.insert("resource_instances".into(), json!(report.inputs.instances));
    let problems = problems_json(report);
    json!({
        "findings": report.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "summary": summary,
        "orphans": report.orphans.iter().map(orphan_json).collect::<Vec<_>>(),
        "errors": problems["errors"],
        "warnings": problems["warnings"],
    })
}

fn orphans_table(orphans: &[Orphan]) -> String {
    let rows: Vec<Vec<String>> = orphans
        .iter()
        .map(|o| {
            vec![
                o.allocation.id.clone(),
                o.allocation.pool_id.clone(),
                o.allocation.cidr.to_string(),
                human_age(o.age_seconds),
                o.actor.clone(),
            ]
        })
        .collect();
    table(&["ALLOCATION", "POOL", "CIDR", "AGE", "ACTOR"], &rows)
}

fn problems_text(report: &Report) -> String {
    let mut text = String::new();
    for w in &report.inputs.warnings {
        text.push_str(&format!("warning: {}: {}\n", w.file, w.message));
    }
    for e in &report.inputs.errors {
        text.push_str(&format!("error: {} {}\n", e.file, e.message));
    }
    text
}

/// The text form of a scan: the findings table, AWS-style counts, the orphans, then problems.
pub fn report_text(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report
        .findings
        .iter()
        .map(|f| {
            let d = &f.discovered;
            let other = if f.conflicts.is_empty() {
                f.detail.clone()
            } else {
                f.conflicts.join("; ")
            };
            vec![
                d.address.clone(),
                d.resource_type.clone(),
                d.found.cidr.to_string(),
                d.file.clone(),
                f.status.to_string(),
                other,
            ]
        })
        .collect();
    let mut text = table(
        &[
            "ADDRESS",
            "TYPE",
            "CIDR",
            "FILE",
            "STATUS",
            "CONFLICT / DETAIL",
        ],
        &rows,
    );
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|s| format!("{} {}", report.count(*s), s))
        .collect();
    text.push_str(&format!(
        "\n{} CIDRs in {} resource instances of {} state files: {}\n",
        report.findings.len(),
        report.inputs.instances,
        report.inputs.files,
        counts.join(", ")
    ));
    if !report.orphans.is_empty() {
        text.push_str(&format!(
            "\n{} orphaned allocations (in the database, held by none of these states; `ipam release --orphans` releases them):\n",
            report.orphans.len()
        ));
        text.push_str(&orphans_table(&report.orphans));
    }
    let problems = problems_text(report);
    if !problems.is_empty() {
        text.push('\n');
        text.push_str(&problems);
    }
    text
}

fn adopt_text(adoptions: &[Adoption], yes: bool, report: &Report) -> String {
    if adoptions.is_empty() {
        return format!(
            "nothing to adopt: no unmanaged CIDR of these states lies in the pool\n{}",
            problems_text(report)
        );
    }
    let rows: Vec<Vec<String>> = adoptions
        .iter()
        .map(|a| {
            vec![
                a.address.clone(),
                a.request.cidr.map(|c| c.to_string()).unwrap_or_default(),
                a.request.pool_id.clone(),
                match (&a.refused, &a.allocation) {
                    (Some(why), _) => format!("refused: {why}"),
                    (None, Some(x)) => format!("adopted as {}", x.id),
                    (None, None) => "would adopt".to_string(),
                },
            ]
        })
        .collect();
    let mut text = table(&["ADDRESS", "CIDR", "POOL", "RESULT"], &rows);
    let accepted = adoptions.iter().filter(|a| a.refused.is_none()).count();
    if yes {
        text.push_str(&format!(
            "\nrecorded {accepted} allocations in one transaction. Paste these blocks into the configuration that should manage them (Terraform 1.5 or later):\n\n{}",
            import_blocks(adoptions)
        ));
    } else {
        text.push_str(&format!(
            "\ndry run: nothing recorded. Run again with --yes to record these {accepted} allocations in one transaction.\n"
        ));
    }
    text.push_str(&problems_text(report));
    text
}
