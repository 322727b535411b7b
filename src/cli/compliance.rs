//! `ipam scan`, `ipam adopt` and `ipam release --orphans`: the compliance commands of
//! [`crate::compliance`], whose names, options and help are defined there
//! ([`crate::compliance::cli::CommandSpec`]) and only converted to this command line's [`Spec`].

use crate::compliance::cli::{self as compliance, CommandSpec};

use super::args::{Parsed, Spec};
use super::{Context, Failure, Outcome};

const fn spec(command: &'static CommandSpec) -> Spec {
    Spec {
        name: command.name,
        usage: command.usage,
        summary: command.summary,
        positional: command.positional,
        options: command.options,
        details: command.details,
    }
}

/// `ipam scan PATH…`.
pub const SCAN: Spec = spec(&compliance::SCAN);
/// `ipam adopt PATH… --pool ID`.
pub const ADOPT: Spec = spec(&compliance::ADOPT);
/// `ipam release --orphans PATH…`.
pub const RELEASE: Spec = spec(&compliance::RELEASE);

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
