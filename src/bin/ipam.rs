//! `ipam`: the operator's command line for a terraform-provider-ipam database (see docs/cli.md).

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(tfipam::cli::main(std::env::args().skip(1).collect()))
}
