//! terraform-provider-ipam: the plugin binary Terraform starts (with no arguments). Run by hand
//! it answers `--version` and `--help`.

use std::process::ExitCode;

/// What `--help` prints.
const HELP: &str = "\
terraform-provider-ipam: a Terraform provider for IP address management (IPAMs, scopes, pools
with guardrails, pool CIDRs and allocations that never overlap) in an embedded SQLite database.

Terraform starts this program itself; it is not run by hand. To use it, install the binary where
Terraform finds providers, for example with scripts/install-provider --release (a filesystem
mirror plus a CLI configuration to export as TF_CLI_CONFIG_FILE), then terraform init.

Usage:
  terraform-provider-ipam --version   print the version and exit
  terraform-provider-ipam --help      print this help and exit

Environment (read when Terraform starts the provider):
  IPAM_DATABASE    the database file when the provider block has no `database`
                   (default ./terraform-ipam.db)
  IPAM_ACTOR       the actor recorded in the audit log when the provider block has no `actor`
  TF_LOG_PROVIDER  the provider's log level (TRACE, DEBUG, INFO, WARN, ERROR)
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        None => tfipam::plugin::serve(tfipam::provider::IpamProvider::new()),
        Some("--version" | "-v" | "version") => {
            println!("terraform-provider-ipam {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h" | "help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!(
                "terraform-provider-ipam: unknown argument {other:?}; it takes --version or --help (Terraform starts it with none)"
            );
            ExitCode::from(2)
        }
    }
}
