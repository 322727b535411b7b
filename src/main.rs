//! terraform-provider-ipam: the plugin binary Terraform starts.

use std::process::ExitCode;

fn main() -> ExitCode {
    tfipam::plugin::serve(tfipam::provider::IpamProvider::new())
}
