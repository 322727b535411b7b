//! `ipam_scan`: a compliance scan of Terraform states (any cloud) against the address space, so
//! that a configuration can refuse to apply — with a `check` block or a `precondition` — while
//! networks overlap or are not managed.

use crate::compliance::{
    parse_rule_option, scan_report_in, Finding, Orphan, Report, RuleSet, ScanOptions, ScanScope,
    Status,
};
use crate::plugin::{
    async_trait, Attribute, AttributePath, Block, DataSource, Diagnostic, Diagnostics, Schema,
    Type, Value,
};

use super::common::{attribute_error, object, object_type, string_attr, strings_attr, StoreHandle};

pub struct ScanDataSource {
    store: StoreHandle,
}

impl ScanDataSource {
    pub fn new(store: &StoreHandle) -> ScanDataSource {
        ScanDataSource {
            store: store.clone(),
        }
    }
}

fn finding_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed("address", Type::String)
            .description("The resource instance address, e.g. `module.net.aws_subnet.private[\"a\"]`."),
        Attribute::computed("type", Type::String).description("The resource type."),
        Attribute::computed("attribute", Type::String)
            .description("The attribute path holding the CIDR, e.g. `secondary_ip_range[0].ip_cidr_range`."),
        Attribute::computed("cidr", Type::String).description("The CIDR."),
        Attribute::computed("file", Type::String).description("The state file it was found in."),
        Attribute::computed("status", Type::String).description(
            "`managed`, `unmanaged`, `overlapping`, `noncompliant`, `outside` or `ignored`.",
        ),
        Attribute::computed("pool_id", Type::String)
            .description("The deepest pool whose space contains the CIDR, or null."),
        Attribute::computed("allocation_id", Type::String)
            .description("The allocation that is or covers the CIDR, or null."),
        Attribute::computed("conflicts", Type::list(Type::String))
            .description("For an overlapping CIDR, each other side: a resource with its CIDR and file, or an allocation."),
        Attribute::computed("detail", Type::String)
            .description("Why: the rule a noncompliant allocation breaks, what covers a managed CIDR, the ignore entry."),
    ]
}

fn orphan_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed("id", Type::String).description("The allocation's id."),
        Attribute::computed("pool_id", Type::String).description("Its pool."),
        Attribute::computed("cidr", Type::String).description("Its CIDR."),
        Attribute::computed("created_at", Type::String)
            .description("When it was allocated (RFC 3339)."),
        Attribute::computed("actor", Type::String).description("Who allocated it."),
    ]
}

fn optional_string(value: Option<&String>) -> Value {
    value.map(Value::string).unwrap_or(Value::Null)
}

fn finding_object(f: &Finding) -> Value {
    let d = &f.discovered;
    object(vec![
        ("address", Value::string(&d.address)),
        ("type", Value::string(&d.resource_type)),
        ("attribute", Value::string(&d.found.attribute)),
        ("cidr", Value::string(d.found.cidr.to_string())),
        ("file", Value::string(&d.file)),
        ("status", Value::string(f.status.as_str())),
        ("pool_id", optional_string(f.pool_id.as_ref())),
        ("allocation_id", optional_string(f.allocation_id.as_ref())),
        (
            "conflicts",
            Value::List(f.conflicts.iter().map(Value::string).collect()),
        ),
        ("detail", Value::string(&f.detail)),
    ])
}

fn orphan_object(o: &Orphan) -> Value {
    object(vec![
        ("id", Value::string(&o.allocation.id)),
        ("pool_id", Value::string(&o.allocation.pool_id)),
        ("cidr", Value::string(o.allocation.cidr.to_string())),
        ("created_at", Value::string(&o.allocation.created_at)),
        ("actor", Value::string(&o.actor)),
    ])
}

/// The count attributes and the status each counts.
const COUNTS: [(&str, Status); 6] = [
    ("managed_count", Status::Managed),
    ("unmanaged_count", Status::Unmanaged),
    ("overlapping_count", Status::Overlapping),
    ("noncompliant_count", Status::Noncompliant),
    ("outside_count", Status::Outside),
    ("ignored_count", Status::Ignored),
];

#[async_trait]
impl DataSource for ScanDataSource {
    fn schema(&self) -> Schema {
        let mut block = Block::new(
            "Scans Terraform states — of AWS, Google Cloud, Azure, this provider, and any provider given by `rules` — and classifies every network CIDR they hold against the address space, in AWS IPAM's words: managed, unmanaged, overlapping (naming the other side; a subnet inside its own network is not an overlap), noncompliant (its allocation breaks rules changed since), outside (in no pool) or ignored. Also lists orphaned allocations: allocations of the states' pools that none of the states holds. Use it in a `check` block or a `precondition` to refuse to apply while networks overlap. Reads the files at every plan; changes nothing. Before the database exists (a first plan), it never creates it: nothing is managed yet, so every CIDR is outside (or overlapping), nothing is orphaned, and a warning names the database.",
        )
        .attribute(
            Attribute::required("paths", Type::list(Type::String)).description(
                "State files (`terraform.tfstate`, `terraform state pull` output, format version 4) or `terraform show -json` output, or directories searched recursively for `*.tfstate` and `*.json` files. Relative paths are relative to the working directory; use `path.module`.",
            ),
        )
        .attribute(Attribute::optional("scope_id", Type::String).description(
            "The scope private-use CIDRs are classified in. Defaults to the private default scope of the only IPAM; other CIDRs use its public default scope.",
        ))
        .attribute(Attribute::optional("rules", Type::list(Type::String)).description(
            "Extra rules for other providers, each `TYPE:ATTRIBUTE_PATH`, e.g. `oci_core_vcn:cidr_blocks` or `hcloud_network:ip_range`; `[*]` walks every element of a list.",
        ))
        .attribute(Attribute::optional("ignore", Type::list(Type::String)).description(
            "CIDRs (anything inside them is ignored) and resource addresses (with everything under them, e.g. `module.lab`) to report as `ignored`.",
        ))
        .attribute(
            Attribute::computed("findings", Type::list(object_type(&finding_attributes())))
                .description("One entry per CIDR found, in file order, each with `address`, `type`, `attribute`, `cidr`, `file`, `status`, `pool_id`, `allocation_id`, `conflicts` and `detail`."),
        );
        for (name, status) in COUNTS {
            block = block.attribute(
                Attribute::computed(name, Type::Number)
                    .description(format!("How many CIDRs are {status}.")),
            );
        }
        block = block
            .attribute(
                Attribute::computed("orphans", Type::list(object_type(&orphan_attributes())))
                    .description("Allocations of the pools the states' `ipam_allocation` resources use that none of the states holds (by id, or a resource with exactly that CIDR), each with `id`, `pool_id`, `cidr`, `created_at` and `actor`."),
            )
            .attribute(
                Attribute::computed("orphaned_count", Type::Number)
                    .description("How many orphaned allocations there are."),
            );
        Schema::new(block)
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if let Some(paths) = config.attr("paths").as_elements() {
            for (index, path) in paths.iter().enumerate() {
                if path.as_str() == Some("-") {
                    diagnostics.push(
                        Diagnostic::error(
                            "Invalid Scan Path",
                            "a data source cannot read standard input; give the path of a state file or directory (write `terraform state pull` output to a file first)",
                        )
                        .with_attribute(AttributePath::root("paths").index(index as i64)),
                    );
                }
            }
        }
        if let Some(rules) = config.attr("rules").as_elements() {
            for (index, rule) in rules.iter().enumerate() {
                if let Some(Err(message)) = rule.as_str().map(parse_rule_option) {
                    diagnostics.push(
                        Diagnostic::error("Invalid Scan Rule", message)
                            .with_attribute(AttributePath::root("rules").index(index as i64)),
                    );
                }
            }
        }
        diagnostics
    }

    async fn read(&self, mut config: Value) -> Result<(Value, Diagnostics), Diagnostics> {
        let mut rules = RuleSet::built_in();
        for text in strings_attr(&config, "rules") {
            let rule = parse_rule_option(&text)
                .map_err(|message| attribute_error("rules", "Invalid Scan Rule", message))?;
            rules.add(rule);
        }
        let options = ScanOptions {
            paths: strings_attr(&config, "paths"),
            rules,
            scope: ScanScope {
                scope_id: string_attr(&config, "scope_id"),
                ignore: strings_attr(&config, "ignore"),
                orphan_pools: Vec::new(),
            },
            json: false,
            stdin: Some(Vec::new()),
        };
        let (report, database_exists): (Report, bool) = self
            .store
            .run_if_exists("Scan Error", &self.schema(), move |store| {
                Ok((scan_report_in(store, &options)?, store.is_some()))
            })
            .await?;
        let mut diagnostics = Diagnostics::new();
        if !database_exists {
            diagnostics.warning(
                "No Address Space Yet",
                format!(
                    "The database {} does not exist yet, so no network is managed: every CIDR is reported outside (or overlapping another state's), and none is orphaned. The apply that creates an `ipam` creates the database; a data source never does. To scan the new address space in that same apply, add `depends_on` naming its allocations to this data source.",
                    self.store.location().unwrap_or_default()
                ),
            );
        }
        for problem in &report.inputs.errors {
            diagnostics.push(attribute_error(
                "paths",
                "Cannot Scan State File",
                format!("{} {}", problem.file, problem.message),
            ));
        }
        if diagnostics.has_errors() {
            return Err(diagnostics);
        }
        for problem in &report.inputs.warnings {
            diagnostics.warning(
                "Value Is Not A CIDR",
                format!("{}: {}", problem.file, problem.message),
            );
        }
        config.set_attr(
            "findings",
            Value::List(report.findings.iter().map(finding_object).collect()),
        );
        for (name, status) in COUNTS {
            config.set_attr(name, Value::int(report.count(status) as i64));
        }
        config.set_attr(
            "orphans",
            Value::List(report.orphans.iter().map(orphan_object).collect()),
        );
        config.set_attr("orphaned_count", Value::int(report.orphans.len() as i64));
        Ok((config, diagnostics))
    }
}
