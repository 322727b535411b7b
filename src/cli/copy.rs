//! `ipam copy FROM TO`: moves a whole address space between databases (SQLite files and
//! PostgreSQL schemas, either way) with every id, time and audit sequence number unchanged, so
//! that Terraform state made on one plans no changes on the other. A dry run without `--yes`.

use serde_json::{json, Value};

use super::args::{Parsed, Spec};
use super::output::{fields, Output};
use super::{open_existing_store, sqlite_path, Failure, Outcome};
use crate::store::postgres::{is_postgres_url, PostgresLocation};
use crate::store::snapshot::Holdings;
use crate::store::{PostgresStore, SnapshotCounts, SqliteOptions, SqliteStore, Store};

/// `ipam copy`.
pub const SPEC: Spec = Spec {
    name: "copy",
    usage: "copy FROM TO [--yes]",
    summary: "copy the whole address space to an empty database, every id unchanged (with --yes)",
    positional: (2, 2),
    options: &[("yes", false, "copy (without it: a dry run that changes nothing)")],
    details: "FROM and TO are each a SQLite file or a postgres:// URL (?schema=NAME for another schema);\n--database is not used. FROM must exist. TO is created when missing and must be empty: no\nIPAM and no audit event. The copy is one consistent read of FROM (writers go on) written in one\ntransaction; then TO's consistency check runs. Restore a backup: ipam copy backup.db URL --yes.\nExit codes: 0 copied (or would copy), 1 the copy's consistency check found a problem,\n2 an error (nothing copied).",
};

/// A database as messages name it: the file, or the PostgreSQL schema and database (never the
/// password).
fn describe(location: &str) -> Result<String, Failure> {
    if is_postgres_url(location) {
        let parsed = PostgresLocation::parse(location)?;
        Ok(format!(
            "schema \"{}\" of {}",
            parsed.schema,
            parsed.describe()
        ))
    } else {
        Ok(sqlite_path(location).display().to_string())
    }
}

/// The target as it is now, changing nothing: `None` when it does not exist yet.
fn existing_target(location: &str) -> Result<Option<Box<dyn Store>>, Failure> {
    if is_postgres_url(location) {
        let store = PostgresStore::connect_existing(PostgresLocation::parse(location)?, "copy")?;
        Ok(store.map(|s| Box::new(s) as Box<dyn Store>))
    } else {
        let store = SqliteStore::open_existing(sqlite_path(location), SqliteOptions::new("copy"))?;
        Ok(store.map(|s| Box::new(s) as Box<dyn Store>))
    }
}

/// The target, created when missing (a new file with mode 0600, or a new schema).
fn created_target(location: &str) -> Result<Box<dyn Store>, Failure> {
    if is_postgres_url(location) {
        Ok(Box::new(PostgresStore::connect(location, "copy")?))
    } else {
        Ok(Box::new(SqliteStore::open(
            sqlite_path(location),
            SqliteOptions::new("copy"),
        )?))
    }
}

fn counts_json(c: &SnapshotCounts) -> Value {
    json!({
        "ipams": c.ipams,
        "scopes": c.scopes,
        "pools": c.pools,
        "pool_cidrs": c.pool_cidrs,
        "allocations": c.allocations,
        "legacy_ids": c.legacy_ids,
        "reservations": c.reservations,
        "cooling_blocks": c.cooling_blocks,
        "audit_events": c.audit_events,
    })
}

fn counts_text(out: &Output, c: &SnapshotCounts) -> String {
    let allocations = if c.legacy_ids > 0 {
        format!(
            "{} ({} keeping the random id of a provider before 0.1)",
            c.allocations, c.legacy_ids
        )
    } else {
        c.allocations.to_string()
    };
    fields(
        out,
        &[
            ("IPAMs", c.ipams.to_string()),
            ("scopes", c.scopes.to_string()),
            ("pools", c.pools.to_string()),
            ("pool CIDRs", c.pool_cidrs.to_string()),
            ("allocations", allocations),
            ("reservations", c.reservations.to_string()),
            ("cooling blocks", c.cooling_blocks.to_string()),
            ("audit events", c.audit_events.to_string()),
        ],
    )
}

/// Runs `ipam copy`.
pub fn run(out: &Output, args: &Parsed) -> Result<Outcome, Failure> {
    let (from, to) = (
        args.arg(0).unwrap_or_default(),
        args.arg(1).unwrap_or_default(),
    );
    let (from_name, to_name) = (describe(from)?, describe(to)?);
    let source = open_existing_store(
        from,
        "FROM must be an existing SQLite file (check the path) or a postgres:// URL",
    )?;
    let snapshot = source.export_snapshot()?;
    drop(source);
    let counts = snapshot.counts();
    if !args.flag("yes") {
        let target = existing_target(to)?;
        let state = match &target {
            None => "does not exist yet: it is created",
            Some(target) => {
                let held = target.export_snapshot()?.counts();
                let held = Holdings {
                    ipams: held.ipams as i64,
                    pools: held.pools as i64,
                    allocations: held.allocations as i64,
                    audit_events: held.audit_events as i64,
                };
                if !held.is_empty() {
                    return Err(held.refusal(&to_name).into());
                }
                "is empty"
            }
        };
        if out.json {
            out.print_json(&json!({
                "from": from_name, "to": to_name, "copied": false, "counts": counts_json(&counts),
            }));
        } else {
            out.print(&format!(
                "dry run: would copy {from_name} to {to_name} (which {state}):\n{}run again with --yes to copy",
                counts_text(out, &counts)
            ));
        }
        return Ok(Outcome::Ok);
    }
    created_target(to)?.import_snapshot(&snapshot)?;
    // opened again: the copy changed the allocation-id key the first store read
    let problems =
        open_existing_store(to, "TO was just written: check the path")?.check_consistency()?;
    if out.json {
        out.print_json(&json!({
            "from": from_name, "to": to_name, "copied": true, "counts": counts_json(&counts),
            "problems": problems,
        }));
    } else {
        let check = if problems.is_empty() {
            "consistency check of the copy: clean".to_string()
        } else {
            format!(
                "consistency check of the copy: {} problem(s)\n  {}",
                problems.len(),
                problems.join("\n  ")
            )
        };
        out.print(&format!(
            "copied {from_name} to {to_name}:\n{}{check}",
            counts_text(out, &counts)
        ));
    }
    Ok(if problems.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Finding
    })
}
