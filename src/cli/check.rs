//! `ipam check`: every invariant of the address space plus the backend's own integrity
//! check; lists the problems and exits 1 when there are any.

use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::{Progress, Style};
use super::{Context, Failure, Outcome};

/// `ipam check`.
pub const SPEC: Spec = Spec {
    name: "check",
    usage: "check",
    summary: "every invariant plus the backend's integrity check (exit 1 on a problem)",
    positional: (0, 0),
    options: &[],
    details: "Invariants: containment, no overlap, free + used = provisioned per pool, an audit\nevent per allocation, pool CIDRs and their parent allocations matched, each allocation\nfound by its id. Then the backend's own check (SQLite: PRAGMA integrity_check).",
};

/// Runs `ipam check`.
pub fn run(ctx: &Context, _args: &Parsed) -> Result<Outcome, Failure> {
    let invariants = {
        let _progress = Progress::start(&ctx.out, "checking invariants");
        ctx.store.check_consistency()?
    };
    let storage = {
        let _progress = Progress::start(&ctx.out, "checking storage");
        ctx.store.check_storage()?
    };
    let consistent = invariants.is_empty() && storage.is_empty();
    if ctx.out.json {
        ctx.out.print_json(&json!({
            "consistent": consistent,
            "invariant_problems": invariants,
            "storage_problems": storage,
        }));
    } else if consistent {
        ctx.out.print(&format!(
            "{}: every invariant holds and the storage integrity check passed",
            ctx.out.paint(Style::Green, "ok")
        ));
    } else {
        let mut text = format!(
            "{}: {} problem(s)\n",
            ctx.out.paint(Style::Red, "inconsistent"),
            invariants.len() + storage.len()
        );
        for problem in invariants.iter().chain(&storage) {
            text.push_str(&format!("- {problem}\n"));
        }
        ctx.out.print(&text);
    }
    Ok(if consistent {
        Outcome::Ok
    } else {
        Outcome::Finding
    })
}
