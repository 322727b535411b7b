//! `ipam scan`, `ipam adopt` and `ipam release --orphans`: the compliance commands of
//! [`crate::compliance`], whose names, options and help are defined there as this command
//! line's [`Spec`](super::args::Spec).

use crate::compliance::cli as compliance;

use super::args::Parsed;
use super::{Context, Failure, Outcome};

pub use crate::compliance::cli::{ADOPT, RELEASE, SCAN};

fn run(command: &str, ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let ran = compliance::run(
        ctx.store.as_ref(),
        command,
        args.positional.clone(),
        &args.options,
        ctx.out.json,
    )
    .map_err(Failure::usage)?;
    ctx.out.print(&ran.output);
    match ran.exit_code {
        0 => Ok(Outcome::Ok),
        1 => Ok(Outcome::Finding),
        _ => Err(Failure::usage(format!(
            "{command}: a state could not be read (see above); fix or leave out that path and run it again"
        ))),
    }
}

/// Runs `ipam scan`.
pub fn scan(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    run("scan", ctx, args)
}

/// Runs `ipam adopt`.
pub fn adopt(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    run("adopt", ctx, args)
}

/// Runs `ipam release --orphans`.
pub fn release(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    run("release", ctx, args)
}
