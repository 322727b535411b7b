//! A small argument parser: global options anywhere, then each command's positional
//! arguments and options (`--name VALUE`, `--name=VALUE`, `--flag`).

use std::collections::BTreeMap;

use super::Failure;

/// A command's name, arguments and options, as its help shows them.
pub struct Spec {
    /// The verb.
    pub name: &'static str,
    /// The usage line after `ipam`.
    pub usage: &'static str,
    /// One line for the command list.
    pub summary: &'static str,
    /// Positional arguments: how many are required, how many allowed.
    pub positional: (usize, usize),
    /// Options: name (without `--`), whether it takes a value, and its help.
    pub options: &'static [(&'static str, bool, &'static str)],
    /// Further help text (examples, exit codes).
    pub details: &'static str,
}

/// The global options.
#[derive(Debug, Default)]
pub struct Global {
    /// `--database`.
    pub database: Option<String>,
    /// `--json`.
    pub json: bool,
    /// `--help` / `-h`.
    pub help: bool,
}

/// A command's parsed arguments.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Positional arguments in order.
    pub positional: Vec<String>,
    /// Options given, by name; flags have an empty value.
    pub options: BTreeMap<String, String>,
}

impl Parsed {
    /// The value of an option.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// Whether a flag was given.
    pub fn flag(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    /// The `index`th positional argument.
    pub fn arg(&self, index: usize) -> Option<&str> {
        self.positional.get(index).map(String::as_str)
    }
}

/// Takes the global options out of the arguments; returns them, the command name and the rest.
pub fn split_global(
    arguments: Vec<String>,
) -> Result<(Global, Option<String>, Vec<String>), Failure> {
    let mut global = Global::default();
    let mut command = None;
    let mut rest = Vec::new();
    let mut iter = arguments.into_iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--json" => global.json = true,
            "-h" | "--help" => global.help = true,
            "--database" => {
                let value = iter.next().ok_or_else(|| {
                    Failure::usage("--database needs a value: the path of the database file")
                })?;
                global.database = Some(value);
            }
            _ if arg.starts_with("--database=") => {
                global.database = Some(arg["--database=".len()..].to_string());
            }
            "help" if command.is_none() => global.help = true,
            _ if command.is_none() && !arg.starts_with('-') => command = Some(arg),
            _ => rest.push(arg),
        }
    }
    Ok((global, command, rest))
}

impl Spec {
    /// The command's help text.
    pub fn help(&self) -> String {
        let mut text = format!("{}\n\nUsage: ipam {}\n", self.summary, self.usage);
        if !self.options.is_empty() {
            text.push_str("\nOptions:\n");
            for (name, takes_value, help) in self.options {
                let left = if *takes_value {
                    format!("--{name} VALUE")
                } else {
                    format!("--{name}")
                };
                text.push_str(&format!("  {left:<22} {help}\n"));
            }
        }
        if !self.details.is_empty() {
            text.push('\n');
            text.push_str(self.details);
            text.push('\n');
        }
        text.push('\n');
        text.push_str(super::GLOBAL_HELP);
        text.push('\n');
        text
    }

    /// Parses the command's arguments (global options already taken out).
    pub fn parse(&self, arguments: Vec<String>) -> Result<Parsed, Failure> {
        let mut parsed = Parsed::default();
        let mut iter = arguments.into_iter();
        while let Some(arg) = iter.next() {
            let Some(option) = arg.strip_prefix("--") else {
                if arg.starts_with('-') && arg.len() > 1 {
                    return Err(self.misuse(format!("unknown option {arg}")));
                }
                parsed.positional.push(arg);
                continue;
            };
            let (name, inline) = match option.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (option, None),
            };
            let Some((_, takes_value, _)) = self.options.iter().find(|(n, _, _)| *n == name) else {
                return Err(self.misuse(format!("unknown option --{name}")));
            };
            let value = match (takes_value, inline) {
                (true, Some(value)) => value,
                (true, None) => iter
                    .next()
                    .ok_or_else(|| self.misuse(format!("--{name} needs a value")))?,
                (false, None) => String::new(),
                (false, Some(_)) => {
                    return Err(self.misuse(format!("--{name} takes no value")));
                }
            };
            if parsed.options.insert(name.to_string(), value).is_some() {
                return Err(self.misuse(format!("--{name} is given twice")));
            }
        }
        let (required, allowed) = self.positional;
        let given = parsed.positional.len();
        if given < required {
            return Err(self.misuse("missing argument".to_string()));
        }
        if given > allowed {
            let extra = &parsed.positional[allowed];
            return Err(self.misuse(format!("unexpected argument {extra:?}")));
        }
        Ok(parsed)
    }

    /// A usage error of this command, with its usage line.
    pub fn misuse(&self, problem: String) -> Failure {
        Failure::usage(format!(
            "{} {problem}; usage: ipam {} (see `ipam {} --help`)",
            self.name, self.usage, self.name
        ))
    }
}
