//! Reading Terraform states: raw state files (format version 4, as `terraform.tfstate` or
//! `terraform state pull` writes them), `terraform show -json` output, directories of them
//! (recursively), several at once and standard input (`-`). Every resource instance of every
//! module (`count` and `for_each` included) is handed to the [`RuleSet`]; a file that cannot be
//! read is reported by name and the others are still read.

use std::fs;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value as Json;

use super::rules::{FoundCidr, Level, RuleSet};

/// A CIDR held by one resource instance of one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The state file it was read from (`-` for standard input).
    pub file: String,
    /// The resource instance address, e.g. `module.net.aws_subnet.private["a"]`.
    pub address: String,
    /// The resource type.
    pub resource_type: String,
    /// The CIDR, its attribute path, network and level.
    pub found: FoundCidr,
    /// The instance's `id` attribute (an `ipam_allocation`'s id, for example).
    pub id: Option<String>,
    /// The instance's `pool_id` attribute (for `ipam_allocation` and `ipam_pool_cidr`).
    pub pool_id: Option<String>,
    /// The region its state shows, where it can tell: an AWS `arn`'s region, else the region of
    /// its `availability_zone` (`eu-west-1a` is in `eu-west-1`).
    pub region: Option<String>,
}

impl Discovered {
    /// Whether this is one of this provider's own resources.
    pub fn is_ours(&self) -> bool {
        self.found.level == Level::Ipam
    }
}

/// A file that could not be read as a state, or a value that is not a CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    /// The file.
    pub file: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Everything read from the given paths.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Every CIDR found, in file order then state order.
    pub discovered: Vec<Discovered>,
    /// Files that could not be read (the others were).
    pub errors: Vec<InputProblem>,
    /// Values that are not CIDRs, skipped.
    pub warnings: Vec<InputProblem>,
    /// How many state files were read.
    pub files: usize,
    /// How many resource instances they hold (all types).
    pub instances: usize,
}

/// The files to read: each given file, and under each given directory every `*.tfstate` and
/// `*.json` file (recursively, skipping hidden directories such as `.terraform`), sorted.
pub fn expand_paths(paths: &[String]) -> (Vec<String>, Vec<InputProblem>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path == "-" {
            files.push(path.clone());
            continue;
        }
        let p = Path::new(path);
        match fs::metadata(p) {
            Ok(meta) if meta.is_dir() => {
                let mut found = Vec::new();
                if let Err(e) = walk(p, &mut found) {
                    errors.push(InputProblem {
                        file: path.clone(),
                        message: format!("cannot read the directory: {e}"),
                    });
                }
                found.sort();
                files.extend(found.into_iter().map(|f| f.display().to_string()));
            }
            Ok(_) => files.push(path.clone()),
            Err(e) => errors.push(InputProblem {
                file: path.clone(),
                message: format!("cannot read it: {e}; give the path of a state file or of a directory holding state files"),
            }),
        }
    }
    (files, errors)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            if !name.starts_with('.') {
                walk(&path, out)?;
            }
        } else if name.ends_with(".tfstate") || name.ends_with(".json") {
            out.push(path);
        }
    }
    Ok(())
}

/// One resource instance: address, type, and the attributes the rules read.
struct Instance {
    address: String,
    resource_type: String,
    attributes: Json,
}

/// A JSON object whose values stay unparsed text until asked for.
type RawObject<'a> = HashMap<String, &'a RawValue>;

/// The parts of a state document the scan reads, in one pass: everything else is skipped, and
/// resource attributes stay unparsed text until a rule asks for them.
#[derive(Deserialize)]
struct Document<'a> {
    version: Option<Json>,
    format_version: Option<IgnoredAny>,
    encrypted_data: Option<IgnoredAny>,
    encryption_version: Option<IgnoredAny>,
    planned_values: Option<IgnoredAny>,
    #[serde(borrow)]
    resources: Option<Vec<StateResource<'a>>>,
    #[serde(borrow)]
    values: Option<ShowValues<'a>>,
}

/// A resource of a raw (version 4) state.
#[derive(Deserialize)]
struct StateResource<'a> {
    module: Option<String>,
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: Option<String>,
    name: Option<String>,
    #[serde(borrow, default)]
    instances: Vec<StateInstance<'a>>,
}

#[derive(Deserialize)]
struct StateInstance<'a> {
    index_key: Option<Json>,
    #[serde(borrow)]
    attributes: Option<&'a RawValue>,
}

/// `values` of `terraform show -json`.
#[derive(Deserialize)]
struct ShowValues<'a> {
    #[serde(borrow)]
    root_module: Option<ShowModule<'a>>,
}

#[derive(Deserialize)]
struct ShowModule<'a> {
    #[serde(borrow, default)]
    resources: Vec<ShowResource<'a>>,
    #[serde(borrow, default)]
    child_modules: Vec<ShowModule<'a>>,
}

#[derive(Deserialize)]
struct ShowResource<'a> {
    address: Option<String>,
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: Option<String>,
    #[serde(borrow)]
    values: Option<&'a RawValue>,
}

/// Reads every path with the rules; `stdin` supplies standard input for `-`. Files are parsed in
/// parallel (one thread per core).
pub fn read_inputs(
    paths: &[String],
    rules: &RuleSet,
    stdin: &mut dyn FnMut() -> std::io::Result<Vec<u8>>,
) -> Inputs {
    let (files, errors) = expand_paths(paths);
    let mut inputs = Inputs {
        errors,
        ..Inputs::default()
    };
    let mut contents: Vec<(String, Option<Vec<u8>>)> = Vec::with_capacity(files.len());
    for file in files {
        if file == "-" {
            match stdin() {
                Ok(bytes) => contents.push(("-".to_string(), Some(bytes))),
                Err(e) => inputs.errors.push(InputProblem {
                    file,
                    message: format!("cannot read standard input: {e}"),
                }),
            }
        } else {
            contents.push((file, None));
        }
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = contents.len().div_ceil(threads).max(1);
    let parts: Vec<Inputs> = std::thread::scope(|scope| {
        let handles: Vec<_> = contents
            .chunks(chunk)
            .map(|files| {
                scope.spawn(move || {
                    let mut part = Inputs::default();
                    for (file, bytes) in files {
                        read_one(file, bytes.as_deref(), rules, &mut part);
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a state reader thread panicked"))
            .collect()
    });
    for part in parts {
        inputs.discovered.extend(part.discovered);
        inputs.errors.extend(part.errors);
        inputs.warnings.extend(part.warnings);
        inputs.files += part.files;
        inputs.instances += part.instances;
    }
    inputs
}

fn read_one(file: &str, given: Option<&[u8]>, rules: &RuleSet, out: &mut Inputs) {
    let read;
    let bytes = match given {
        Some(bytes) => bytes,
        None => match fs::read(file) {
            Ok(bytes) => {
                read = bytes;
                &read[..]
            }
            Err(e) => {
                out.errors.push(InputProblem {
                    file: file.to_string(),
                    message: format!("cannot read it: {e}"),
                });
                return;
            }
        },
    };
    let mut instances = Vec::new();
    let document: Document<'_> = match serde_json::from_slice(bytes) {
        Ok(document) => document,
        Err(e) if e.is_data() => {
            out.errors.push(InputProblem {
                file: file.to_string(),
                message: format!("{} ({e})", not_a_state()),
            });
            return;
        }
        Err(e) => {
            out.errors.push(InputProblem {
                file: file.to_string(),
                message: format!(
                    "is not a Terraform state (not JSON: {e}); give a state file (`terraform state pull > FILE`) or `terraform show -json` output"
                ),
            });
            return;
        }
    };
    let mut count = 0;
    if let Err(message) = instances_of(&document, rules, &mut instances, &mut count) {
        out.errors.push(InputProblem {
            file: file.to_string(),
            message,
        });
        return;
    }
    out.files += 1;
    out.instances += count;
    for instance in instances {
        let (found, invalid) = rules.cidrs_of(&instance.resource_type, &instance.attributes);
        for (attribute, text) in invalid {
            out.warnings.push(InputProblem {
                file: file.to_string(),
                message: format!(
                    "{}.{attribute} is {text:?}, not a CIDR; skipped",
                    instance.address
                ),
            });
        }
        let text = |name: &str| {
            instance
                .attributes
                .get(name)
                .and_then(Json::as_str)
                .map(str::to_string)
        };
        let (id, pool_id) = (text("id"), text("pool_id"));
        let region = region_of(text("arn").as_deref(), text("availability_zone").as_deref());
        for found in found {
            out.discovered.push(Discovered {
                file: file.to_string(),
                address: instance.address.clone(),
                resource_type: instance.resource_type.clone(),
                found,
                id: id.clone(),
                pool_id: pool_id.clone(),
                region: region.clone(),
            });
        }
    }
}

/// The region of an `arn:PARTITION:SERVICE:REGION:...` ARN, else of an availability zone name
/// (its region and a trailing zone letter); `None` when neither tells.
fn region_of(arn: Option<&str>, availability_zone: Option<&str>) -> Option<String> {
    let from_arn = arn
        .filter(|a| a.starts_with("arn:"))
        .and_then(|a| a.split(':').nth(3))
        .filter(|r| !r.is_empty());
    let from_zone = availability_zone
        .and_then(|z| z.strip_suffix(|c: char| c.is_ascii_lowercase()))
        .filter(|r| r.ends_with(|c: char| c.is_ascii_digit()));
    from_arn.or(from_zone).map(str::to_string)
}

/// The attributes of one instance that the rules for its type read.
fn read_attributes(rules: &RuleSet, resource_type: &str, raw: Option<&RawValue>) -> Json {
    let mut attributes = serde_json::Map::new();
    if let Some(object) = raw.and_then(|r| serde_json::from_str::<RawObject<'_>>(r.get()).ok()) {
        for name in rules.attributes_read(resource_type).into_iter().chain([
            "id",
            "pool_id",
            "arn",
            "availability_zone",
        ]) {
            if let Some(value) = object
                .get(name)
                .and_then(|v| serde_json::from_str::<Json>(v.get()).ok())
            {
                attributes.insert(name.to_string(), value);
            }
        }
    }
    Json::Object(attributes)
}

/// The managed resource instances of a raw state (version 4) or of `terraform show -json`
/// output whose types the rules cover; `count` gets the number of all managed instances. Data
/// sources only read networks, so they are left out.
fn instances_of(
    document: &Document<'_>,
    rules: &RuleSet,
    out: &mut Vec<Instance>,
    count: &mut usize,
) -> Result<(), String> {
    if document.encrypted_data.is_some() || document.encryption_version.is_some() {
        return Err("is an encrypted OpenTofu state; scan the decrypted form instead: run `tofu show -json > state.json` in its working directory (with the encryption configuration) and scan that file".to_string());
    }
    if let Some(version) = document.version.as_ref().filter(|v| v.is_number()) {
        if version.as_u64() != Some(4) {
            return Err(format!(
                "is a state of format version {version}, which is not supported; only version 4 (Terraform 0.12 and later, OpenTofu) is read: run `terraform state pull > FILE` with a current Terraform and scan that file"
            ));
        }
        for resource in document.resources.iter().flatten() {
            if resource.mode.as_deref() != Some("managed") {
                continue;
            }
            let (Some(resource_type), Some(name)) = (&resource.resource_type, &resource.name)
            else {
                return Err(
                    "is not a valid version 4 state: a resource has no type or name".to_string(),
                );
            };
            *count += resource.instances.len();
            if !rules.covers(resource_type) {
                continue;
            }
            let base = match resource.module.as_deref().filter(|m| !m.is_empty()) {
                Some(module) => format!("{module}.{resource_type}.{name}"),
                None => format!("{resource_type}.{name}"),
            };
            for instance in &resource.instances {
                let address = match &instance.index_key {
                    Some(key) => format!("{base}[{key}]"),
                    None => base.clone(),
                };
                out.push(Instance {
                    address,
                    attributes: read_attributes(rules, resource_type, instance.attributes),
                    resource_type: resource_type.clone(),
                });
            }
        }
        return Ok(());
    }
    if document.format_version.is_some() {
        if document.planned_values.is_some() {
            return Err("is a plan (`terraform show -json PLANFILE`), not a state; run `terraform show -json` without a plan file".to_string());
        }
        if let Some(root) = document
            .values
            .as_ref()
            .and_then(|v| v.root_module.as_ref())
        {
            module_instances(root, rules, out, count);
        }
        return Ok(());
    }
    Err(not_a_state())
}

fn not_a_state() -> String {
    "is not a Terraform state (it has neither a \"version\" nor a \"format_version\"); give a state file (`terraform state pull > FILE`) or `terraform show -json` output".to_string()
}

fn module_instances(
    module: &ShowModule<'_>,
    rules: &RuleSet,
    out: &mut Vec<Instance>,
    count: &mut usize,
) {
    for resource in &module.resources {
        if resource.mode.as_deref() != Some("managed") {
            continue;
        }
        *count += 1;
        if let (Some(address), Some(resource_type)) = (&resource.address, &resource.resource_type) {
            if rules.covers(resource_type) {
                out.push(Instance {
                    address: address.clone(),
                    attributes: read_attributes(rules, resource_type, resource.values),
                    resource_type: resource_type.clone(),
                });
            }
        }
    }
    for child in &module.child_modules {
        module_instances(child, rules, out, count);
    }
}
