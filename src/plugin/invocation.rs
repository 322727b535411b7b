//! Which Terraform command started this provider, when the requests cannot say.
//!
//! `terraform destroy` (and `plan -destroy`, `apply -destroy`) first runs a *normal* plan of the
//! whole configuration to refresh the state (Terraform 1.0 to 1.11: `Context.destroyPlan` calls
//! `Context.plan` in normal mode). That plan calls PlanResourceChange for every instance of the
//! configuration, including those a failed apply never created, and any error it returns stops
//! the destroy — although every create and update it plans is then thrown away. The requests of
//! that plan are byte for byte those of an ordinary `terraform plan`: nothing in them says a
//! destroy is under way. The command line of the Terraform process that started the provider
//! does, so a provider may skip checks whose result a destroy discards.

use std::sync::OnceLock;

/// True when the Terraform process that started this provider is planning a destroy
/// (`terraform destroy`, `terraform plan -destroy`, `terraform apply -destroy`, also through
/// `TF_CLI_ARGS` / `TF_CLI_ARGS_<command>`). False when that cannot be told (another parent, a
/// system without `/proc`): the caller then behaves as for an ordinary plan.
pub fn terraform_is_destroying() -> bool {
    terraform_command() == Some(true)
}

/// Whether the provider could read the command line of the Terraform process that started it
/// (and so whether [`terraform_is_destroying`] can be trusted to say "no").
pub fn terraform_command_is_known() -> bool {
    terraform_command().is_some()
}

/// `Some(destroying)` when the parent's command line could be read.
fn terraform_command() -> Option<bool> {
    static DESTROYING: OnceLock<Option<bool>> = OnceLock::new();
    *DESTROYING.get_or_init(|| {
        parent_arguments().map(|args| destroying(&args, |key| std::env::var(key).ok()))
    })
}

/// The parent process's arguments after its program name.
fn parent_arguments() -> Option<Vec<String>> {
    let parent = std::os::unix::process::parent_id();
    let raw = std::fs::read(format!("/proc/{parent}/cmdline")).ok()?;
    let mut args: Vec<String> = raw
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    (!args.is_empty()).then(|| args.split_off(1))
}

/// Whether Terraform arguments (after the program name) plus the `TF_CLI_ARGS` variables that
/// `env` reads plan a destroy. Global options (`-chdir=…`) come before the command.
fn destroying(args: &[String], env: impl Fn(&str) -> Option<String>) -> bool {
    let Some(at) = args.iter().position(|a| !a.starts_with('-')) else {
        return false;
    };
    let command = args[at].as_str();
    if command == "destroy" {
        return true;
    }
    if command != "plan" && command != "apply" {
        return false;
    }
    let mut options: Vec<String> = args[at + 1..].to_vec();
    for key in ["TF_CLI_ARGS".to_string(), format!("TF_CLI_ARGS_{command}")] {
        if let Some(extra) = env(&key) {
            options.extend(extra.split_whitespace().map(str::to_string));
        }
    }
    options.iter().any(|option| {
        matches!(
            option.trim_start_matches('-'),
            "destroy" | "destroy=true" | "destroy=1"
        ) && option.starts_with('-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn destroy_commands_are_recognised() {
        let none = |_: &str| None;
        for line in [
            "destroy -auto-approve",
            "-chdir=infra destroy",
            "plan -destroy -out=x",
            "apply -input=false -destroy",
            "apply --destroy",
            "plan -destroy=true",
        ] {
            assert!(destroying(&args(line), none), "{line}");
        }
        for line in [
            "plan",
            "apply -auto-approve",
            "apply -var=destroy=1",
            "plan -destroy=false",
            "-chdir=destroy plan",
            "import ipam.x destroy",
            "",
        ] {
            assert!(!destroying(&args(line), none), "{line}");
        }
    }

    #[test]
    fn cli_args_variables_count() {
        let env = |key: &str| (key == "TF_CLI_ARGS_plan").then(|| "-destroy".to_string());
        assert!(destroying(&args("plan"), env));
        assert!(!destroying(&args("apply"), env));
        let global = |key: &str| (key == "TF_CLI_ARGS").then(|| "-lock=false -destroy".to_string());
        assert!(destroying(&args("apply -auto-approve"), global));
    }
}
