//! `ipam backup FILE`: a consistent copy of the database to a new SQLite file while applies go
//! on (SQLite's online backup API; for PostgreSQL one read-only snapshot of the schema written
//! as a SQLite file), with progress on a terminal.

use std::path::Path;

use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::Progress;
use super::{Context, Failure, Outcome};

/// `ipam backup`.
pub const SPEC: Spec = Spec {
    name: "backup",
    usage: "backup FILE",
    summary: "a consistent copy of the database to a new file, while applies run",
    positional: (1, 1),
    options: &[],
    details: "FILE must not exist yet. The copy is the database as it was when the backup began;\nwriters are not held up. Open it like any database: --database FILE.\nA PostgreSQL database is backed up as a SQLite file too, every id unchanged; restore it into an\nempty schema with: ipam copy FILE postgres://… --yes",
};

/// Runs `ipam backup`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let destination = Path::new(args.arg(0).unwrap_or_default());
    if destination.exists() {
        return Err(Failure::usage(format!(
            "{} already exists; backup never overwrites a file, give a new file name",
            destination.display()
        )));
    }
    let label = "backing up";
    let done = ctx.store.backup(destination, &mut |p| {
        Progress::fraction(&ctx.out, label, p.done, p.total);
    })?;
    let bytes = std::fs::metadata(destination).map_or(0, |m| m.len());
    if ctx.out.json {
        ctx.out.print_json(&json!({
            "destination": destination.display().to_string(),
            done.unit: done.total,
            "bytes": bytes,
        }));
    } else {
        ctx.out.print(&format!(
            "backed up to {} ({} {}, {bytes} bytes)",
            destination.display(),
            done.total,
            done.unit
        ));
    }
    Ok(Outcome::Ok)
}
