//! Renders `docs/` in the tfplugindocs layout from the schemas and function definitions (whose
//! descriptions are the documentation) and from `examples/`, which each page embeds word for
//! word.
//!
//! `tests/docs.rs` fails when a page in `docs/` differs from what this renders; run
//! `scripts/generate-docs` to write them again.

use std::fs;
use std::path::Path;

use crate::plugin::{Attribute, FunctionDefinition, Provider, Schema, Type};

use super::IpamProvider;

/// One rendered page: its path below the repository root and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// For example `docs/resources/pool.md`.
    pub path: String,
    /// The Markdown.
    pub contents: String,
}

/// The prose of the provider page that is not in any schema.
const PROVIDER_GUIDE: &str = r#"## Sharing one address space

Every root module whose provider points at the same database file shares one address space:
allocations made from any of them never overlap. Give the path in the provider block
(`database = "/srv/ipam/ipam.db"`) or in the `IPAM_DATABASE` environment variable. Any number of
`terraform apply` processes on one machine may use the file at the same time: every allocation is
checked and written in one SQLite transaction. Do not put the file on a network file system, whose
locking SQLite cannot rely on.

## Functions

With Terraform 1.8 or later the provider also offers CIDR functions, called as
`provider::ipam::NAME(...)`: `cidr_contains`, `cidr_overlaps`, `cidr_merge`, `cidr_subtract`,
`cidr_next_free` and `ula_prefix`. They compute from their arguments alone, read no database and
need no provider configuration, only the provider in `required_providers`.
## The database file: what to know

- **Only an apply creates it.** A plan, a refresh or a data source never creates the database
  file; the apply that creates an `ipam` does (mode 0600). A plan of a new configuration works
  without the file. A data source, or a resource naming an existing object by id, needs the file
  to exist: otherwise the error `IPAM Database Not Found` names the path it looked for.
- **A wrong database is an error, never a new address space.** When an object in the state is
  missing from the database, the database's audit log (which records every object ever made in
  it) decides: an object made here and deleted since (by another root module or by hand) is gone,
  and the plan creates it again; an object this database never held fails the refresh with
  `Object Not In This IPAM Database`, naming the database and saying why: the file does not
  exist, is empty, or has no record of the object. The usual causes: a typo or a change in
  `database` or `IPAM_DATABASE`, a second root module without `database` (each then gets its own
  `terraform-ipam.db` in its working directory: set the same `database` in every root module that
  shares an address space), or a database file that was moved. Point `database` at the right file
  and run the command again; nothing was changed. With `-refresh=false` no refresh runs, so the
  plan of each object in the state checks that the database file exists (it cannot tell a
  wrong database that exists from the right one without a refresh).
- **Copies and backups keep working.** The identity is the content (the audit log), not the path:
  a copy of the file (`cp`, taken while no apply runs, or `sqlite3 ipam.db ".backup copy.db"` at
  any time) serves the same state. A backup older than some objects reports those objects as
  not made in it rather than handing their space out again.
- **A database you can only read** (another user's shared file, mode 0644) serves plans,
  refreshes and data sources; a change fails with an error saying it needs write access to the
  file and its directory. The provider opens such a file read-only and creates nothing beside it.
- **Logs.** `TF_LOG_PROVIDER=DEBUG` shows one line per provider call with `tf_rpc`, the resource
  or data source type, the object `id`, the `database` path, `duration_ms` and the `outcome` (and
  the `error`, when there is one). Every storage error names the database.

## Installing without a registry

Copy the `terraform-provider-ipam` binary to
`~/.terraform.d/plugins/registry.terraform.io/ipam-rs/ipam/0.1.0/linux_amd64/terraform-provider-ipam_v0.1.0`,
or point a `filesystem_mirror` in your CLI configuration at a directory laid out the same way, then
run `terraform init`.
"#;

/// Every page of `docs/`, with examples read from `examples_root` (the repository's `examples/`).
pub fn render(examples_root: &Path) -> Result<Vec<Page>, String> {
    let provider = IpamProvider::new();
    let mut pages = Vec::new();

    let schema = provider.schema();
    let example = read(examples_root, "provider/provider.tf")?;
    let mut text = front_matter("ipam Provider", &schema.block.description);
    text.push_str(&format!(
        "# ipam Provider\n\n{}\n\n## Example Usage\n\n```terraform\n{}```\n\n{}\n{}",
        schema.block.description,
        example,
        schema_section(&schema),
        PROVIDER_GUIDE
    ));
    pages.push(Page {
        path: "docs/index.md".to_string(),
        contents: text,
    });

    for (name, resource) in provider.resources() {
        let schema = resource.schema();
        let example = read(examples_root, &format!("resources/{name}/resource.tf"))?;
        let import = read(examples_root, &format!("resources/{name}/import.sh"))?;
        let mut text = front_matter(
            &format!("{name} Resource - terraform-provider-ipam"),
            &schema.block.description,
        );
        text.push_str(&format!(
            "# {name} (Resource)\n\n{}\n\n## Example Usage\n\n```terraform\n{}```\n\n{}\n## Import\n\nImport is supported using the following syntax:\n\n```shell\n{}```\n",
            schema.block.description,
            example,
            schema_section(&schema),
            import
        ));
        pages.push(Page {
            path: format!("docs/resources/{}.md", page_name(&name)),
            contents: text,
        });
    }

    for (name, data_source) in provider.data_sources() {
        let schema = data_source.schema();
        let example = read(
            examples_root,
            &format!("data-sources/{name}/data-source.tf"),
        )?;
        let mut text = front_matter(
            &format!("{name} Data Source - terraform-provider-ipam"),
            &schema.block.description,
        );
        text.push_str(&format!(
            "# {name} (Data Source)\n\n{}\n\n## Example Usage\n\n```terraform\n{}```\n\n{}",
            schema.block.description,
            example,
            schema_section(&schema),
        ));
        pages.push(Page {
            path: format!("docs/data-sources/{}.md", page_name(&name)),
            contents: text,
        });
    }

    for (name, function) in provider.functions() {
        let definition = function.definition();
        let example = read(examples_root, &format!("functions/{name}/function.tf"))?;
        let mut text = front_matter(
            &format!("{name} function - terraform-provider-ipam"),
            &definition.summary,
        );
        text.push_str(&format!(
            "# function: {name}\n\n{}\n\n## Example Usage\n\n```terraform\n{}```\n\n{}",
            definition.description,
            example,
            function_sections(&name, &definition),
        ));
        pages.push(Page {
            path: format!("docs/functions/{name}.md"),
            contents: text,
        });
    }
    Ok(pages)
}

/// The `## Signature` and `## Arguments` sections of a function page, as tfplugindocs writes
/// them.
fn function_sections(name: &str, definition: &FunctionDefinition) -> String {
    let parameters: Vec<String> = definition
        .parameters
        .iter()
        .map(|p| format!("{} {}", p.name, signature_type(&p.ty)))
        .collect();
    let mut text = format!(
        "## Signature\n\n<!-- signature generated by tfplugindocs -->\n```text\n{name}({}) {}\n```\n\n## Arguments\n\n<!-- arguments generated by tfplugindocs -->\n",
        parameters.join(", "),
        signature_type(&definition.return_type)
    );
    for (position, parameter) in definition.parameters.iter().enumerate() {
        text.push_str(&format!(
            "{}. `{}` ({}) {}\n",
            position + 1,
            parameter.name,
            type_name(&parameter.ty),
            parameter.description
        ));
    }
    text
}

/// `string`, `list of string`, `bool` as a function signature writes types.
fn signature_type(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".to_string(),
        other => type_name(other).to_lowercase(),
    }
}

/// The file name tfplugindocs gives a type: without the provider's prefix (`ipam_pool` →
/// `pool`), the bare provider-named resource keeps its name (`ipam`).
fn page_name(type_name: &str) -> &str {
    type_name.strip_prefix("ipam_").unwrap_or(type_name)
}

fn read(root: &Path, relative: &str) -> Result<String, String> {
    let path = root.join(relative);
    let mut text = fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the example {}: {e}", path.display()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

fn front_matter(title: &str, description: &str) -> String {
    let indented: Vec<String> = description.lines().map(|l| format!("  {l}")).collect();
    format!(
        "---\npage_title: \"{title}\"\nsubcategory: \"\"\ndescription: |-\n{}\n---\n\n",
        indented.join("\n")
    )
}

/// `String`, `Set of String`, `List of Object`, … as tfplugindocs writes types.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::String => "String".to_string(),
        Type::Number => "Number".to_string(),
        Type::Bool => "Boolean".to_string(),
        Type::Dynamic => "Dynamic".to_string(),
        Type::List(element) => format!("List of {}", type_name(element)),
        Type::Set(element) => format!("Set of {}", type_name(element)),
        Type::Map(element) => format!("Map of {}", type_name(element)),
        Type::Object { .. } => "Object".to_string(),
        Type::Tuple(_) => "Tuple".to_string(),
    }
}

/// The object type inside a list, set or map (or the object itself), for a nested schema.
fn nested_object(ty: &Type) -> Option<&std::collections::BTreeMap<String, Type>> {
    match ty {
        Type::Object { attributes, .. } => Some(attributes),
        Type::List(element) | Type::Set(element) | Type::Map(element) => nested_object(element),
        _ => None,
    }
}

/// The schema section an attribute is listed in.
fn group_of(attribute: &Attribute) -> &'static str {
    if attribute.required {
        "Required"
    } else if attribute.optional {
        "Optional"
    } else {
        "Read-Only"
    }
}

/// The `## Schema` section: Required, Optional and Read-Only attributes in name order, then a
/// nested schema for every attribute holding objects.
fn schema_section(schema: &Schema) -> String {
    let mut attributes: Vec<&Attribute> = schema.block.attributes.iter().collect();
    attributes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut text = String::from("<!-- schema generated by tfplugindocs -->\n## Schema\n");
    let mut nested = String::new();
    for title in ["Required", "Optional", "Read-Only"] {
        let members: Vec<&&Attribute> =
            attributes.iter().filter(|a| group_of(a) == title).collect();
        if members.is_empty() {
            continue;
        }
        text.push_str(&format!("\n### {title}\n\n"));
        for attribute in members {
            let ty = attribute.value_type();
            match nested_object(&ty) {
                Some(fields) => {
                    let anchor = format!("nestedatt--{}", attribute.name);
                    text.push_str(&format!(
                        "- `{}` ({}) {} (see [below for nested schema](#{anchor}))\n",
                        attribute.name,
                        type_name(&ty),
                        attribute.description
                    ));
                    nested.push_str(&format!(
                        "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{}`\n\nRead-Only:\n\n",
                        attribute.name
                    ));
                    for (field, field_type) in fields {
                        nested.push_str(&format!("- `{field}` ({})\n", type_name(field_type)));
                    }
                }
                None => text.push_str(&format!(
                    "- `{}` ({}) {}\n",
                    attribute.name,
                    type_name(&ty),
                    attribute.description
                )),
            }
        }
    }
    text.push_str(&nested);
    text
}
