//! What holds a CIDR: the built-in rules (resource type + attribute path) for AWS, Google Cloud,
//! Azure and this provider, the rules a user adds for any other provider, and reading the CIDRs a
//! rule names out of a resource's attributes.

use std::collections::HashMap;
use std::fmt;

use ipnet::IpNet;
use serde_json::Value as Json;

/// How the resources of one type tell which network (VPC, virtual network) a CIDR belongs to, so
/// that a subnet inside its own VPC is not reported as overlapping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkOf {
    /// The resource is its own network: none of its CIDRs is another resource's parent or child.
    Itself,
    /// The network's id is this attribute (`id` of an `aws_vpc`, `vpc_id` of an `aws_subnet`).
    Attribute(&'static str),
    /// An Azure subnet id without its `/subnets/NAME` tail: the virtual network's id.
    AzureSubnetParent,
}

/// Which side of a network → subnet relation a rule's CIDRs are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The network's own space (VPC CIDR, virtual network address space): contains subnets.
    Network,
    /// A part of a network (subnet, secondary range).
    Subnet,
    /// This provider's `ipam_allocation` / `ipam_pool_cidr`: compared with the database, not with
    /// the other resources.
    Ipam,
}

/// One step of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object attribute.
    Field(String),
    /// Every element of a list or set (`[*]`).
    Each,
    /// One element (`[2]`).
    Index(usize),
}

/// A resource type and an attribute path whose value is a CIDR or a list of CIDRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The Terraform resource type, e.g. `aws_vpc`.
    pub resource_type: String,
    /// The path as written, e.g. `secondary_ip_range[*].ip_cidr_range`.
    pub path: String,
    steps: Vec<Step>,
    /// How to tell the network the CIDRs belong to.
    pub network: NetworkOf,
    /// Network space, subnet, or ours.
    pub level: Level,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.resource_type, self.path)
    }
}

/// The built-in rules: `(type, path, network, level)`.
const BUILT_IN: &[(&str, &str, NetworkOf, Level)] = {
    use Level::*;
    use NetworkOf::*;
    &[
        ("aws_vpc", "cidr_block", Attribute("id"), Network),
        ("aws_vpc", "ipv6_cidr_block", Attribute("id"), Network),
        ("aws_default_vpc", "cidr_block", Attribute("id"), Network),
        (
            "aws_default_vpc",
            "ipv6_cidr_block",
            Attribute("id"),
            Network,
        ),
        (
            "aws_vpc_ipv4_cidr_block_association",
            "cidr_block",
            Attribute("vpc_id"),
            Network,
        ),
        (
            "aws_vpc_ipv6_cidr_block_association",
            "ipv6_cidr_block",
            Attribute("vpc_id"),
            Network,
        ),
        ("aws_subnet", "cidr_block", Attribute("vpc_id"), Subnet),
        ("aws_subnet", "ipv6_cidr_block", Attribute("vpc_id"), Subnet),
        (
            "aws_default_subnet",
            "cidr_block",
            Attribute("vpc_id"),
            Subnet,
        ),
        (
            "aws_default_subnet",
            "ipv6_cidr_block",
            Attribute("vpc_id"),
            Subnet,
        ),
        (
            "google_compute_subnetwork",
            "ip_cidr_range",
            Attribute("network"),
            Subnet,
        ),
        (
            "google_compute_subnetwork",
            "secondary_ip_range[*].ip_cidr_range",
            Attribute("network"),
            Subnet,
        ),
        (
            "google_compute_subnetwork",
            "ipv6_cidr_range",
            Attribute("network"),
            Subnet,
        ),
        (
            "google_compute_subnetwork",
            "internal_ipv6_prefix",
            Attribute("network"),
            Subnet,
        ),
        (
            "google_compute_subnetwork",
            "external_ipv6_prefix",
            Attribute("network"),
            Subnet,
        ),
        (
            "azurerm_virtual_network",
            "address_space",
            Attribute("id"),
            Network,
        ),
        (
            "azurerm_virtual_network",
            "subnet[*].address_prefixes",
            Attribute("id"),
            Subnet,
        ),
        (
            "azurerm_subnet",
            "address_prefixes",
            AzureSubnetParent,
            Subnet,
        ),
        ("ipam_allocation", "cidr", Itself, Ipam),
        ("ipam_pool_cidr", "cidr", Itself, Ipam),
    ]
};

/// A CIDR found in one resource instance's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCidr {
    /// The concrete attribute path, e.g. `secondary_ip_range[1].ip_cidr_range`.
    pub attribute: String,
    /// The network (normalized, lowercase), or `None` when the resource is its own network.
    pub network: Option<String>,
    /// The rule's level.
    pub level: Level,
    /// The CIDR (host bits cleared: the network the cloud holds).
    pub cidr: IpNet,
}

/// The rules in force: built-in plus user-added, by resource type.
#[derive(Debug, Clone)]
pub struct RuleSet {
    by_type: HashMap<String, Vec<Rule>>,
}

impl Default for RuleSet {
    fn default() -> RuleSet {
        RuleSet::built_in()
    }
}

impl RuleSet {
    /// Only the built-in rules.
    pub fn built_in() -> RuleSet {
        let mut set = RuleSet {
            by_type: HashMap::new(),
        };
        for (resource_type, path, network, level) in BUILT_IN {
            let rule = Rule::new(resource_type, path, *network, *level)
                .expect("built-in rules are well formed");
            set.add(rule);
        }
        set
    }

    /// Adds a rule (a user rule: its resources are their own networks, their CIDRs networks).
    pub fn add(&mut self, rule: Rule) {
        let rules = self.by_type.entry(rule.resource_type.clone()).or_default();
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    }

    /// Whether any rule names this resource type.
    pub fn covers(&self, resource_type: &str) -> bool {
        self.by_type.contains_key(resource_type)
    }

    /// The top-level attributes the rules for `resource_type` read (their first step and the
    /// network attribute), so that a reader parses only those.
    pub fn attributes_read(&self, resource_type: &str) -> Vec<&str> {
        let mut names = Vec::new();
        for rule in self.by_type.get(resource_type).into_iter().flatten() {
            if let Some(Step::Field(name)) = rule.steps.first() {
                names.push(name.as_str());
            }
            names.push(match rule.network {
                NetworkOf::Attribute(name) => name,
                NetworkOf::Itself | NetworkOf::AzureSubnetParent => "id",
            });
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every rule, built-in first, for listing.
    pub fn rules(&self) -> Vec<&Rule> {
        let mut all: Vec<&Rule> = self.by_type.values().flatten().collect();
        all.sort_by(|a, b| (&a.resource_type, &a.path).cmp(&(&b.resource_type, &b.path)));
        all
    }

    /// The CIDRs the rules for `resource_type` find in `attributes`; text that is not a CIDR is
    /// returned in the second list as `(attribute, text)`.
    pub fn cidrs_of(
        &self,
        resource_type: &str,
        attributes: &Json,
    ) -> (Vec<FoundCidr>, Vec<(String, String)>) {
        let mut found = Vec::new();
        let mut invalid = Vec::new();
        let Some(rules) = self.by_type.get(resource_type) else {
            return (found, invalid);
        };
        for rule in rules {
            let network = rule.network_of(attributes);
            let mut texts = Vec::new();
            collect(attributes, &rule.steps, String::new(), &mut texts);
            for (attribute, text) in texts {
                match parse_discovered(&text) {
                    Some(cidr) => found.push(FoundCidr {
                        attribute,
                        network: network.clone(),
                        level: rule.level,
                        cidr,
                    }),
                    None => invalid.push((attribute, text)),
                }
            }
        }
        (found, invalid)
    }
}

/// A CIDR as a cloud reports it; host bits are cleared (the cloud holds the whole network).
fn parse_discovered(text: &str) -> Option<IpNet> {
    text.trim().parse::<IpNet>().ok().map(|net| net.trunc())
}

/// Walks `steps` from `value`, collecting every non-empty string at the end (lists flatten).
fn collect(value: &Json, steps: &[Step], at: String, out: &mut Vec<(String, String)>) {
    match (steps.first(), value) {
        (_, Json::Null) => {}
        (None, Json::String(text)) if !text.trim().is_empty() => out.push((at, text.clone())),
        (None, Json::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, steps, format!("{at}[{i}]"), out);
            }
        }
        (None, _) => {}
        (Some(Step::Field(name)), Json::Object(map)) => {
            if let Some(next) = map.get(name) {
                let path = if at.is_empty() {
                    name.clone()
                } else {
                    format!("{at}.{name}")
                };
                collect(next, &steps[1..], path, out);
            }
        }
        (Some(Step::Each), Json::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, &steps[1..], format!("{at}[{i}]"), out);
            }
        }
        (Some(Step::Index(i)), Json::Array(items)) => {
            if let Some(item) = items.get(*i) {
                collect(item, &steps[1..], format!("{at}[{i}]"), out);
            }
        }
        // a field on a list (a nested block without `[*]`): every element
        (Some(Step::Field(_)), Json::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, steps, format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

impl Rule {
    /// A rule from a resource type and an attribute path such as `cidr_block`,
    /// `subnet[*].address_prefixes` or `ranges[0].cidr`.
    pub fn new(
        resource_type: &str,
        path: &str,
        network: NetworkOf,
        level: Level,
    ) -> Result<Rule, String> {
        let resource_type = resource_type.trim();
        if resource_type.is_empty()
            || !resource_type
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "{resource_type:?} is not a resource type; use the type as in the state, e.g. oci_core_vcn"
            ));
        }
        let steps = parse_path(path.trim()).ok_or_else(|| {
            format!(
                "{path:?} is not an attribute path; use names separated by dots, with [*] for every element of a list, e.g. cidr_blocks or subnet[*].address_prefixes"
            )
        })?;
        Ok(Rule {
            resource_type: resource_type.to_string(),
            path: path.trim().to_string(),
            steps,
            network,
            level,
        })
    }

    /// A user-added rule: `TYPE` and `PATH` (its resources are their own networks).
    pub fn user(resource_type: &str, path: &str) -> Result<Rule, String> {
        Rule::new(resource_type, path, NetworkOf::Itself, Level::Network)
    }

    fn network_of(&self, attributes: &Json) -> Option<String> {
        let text = |name: &str| {
            attributes
                .get(name)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase)
        };
        match self.network {
            NetworkOf::Itself => None,
            NetworkOf::Attribute(name) => text(name),
            NetworkOf::AzureSubnetParent => text("id").map(|id| match id.rfind("/subnets/") {
                Some(at) => id[..at].to_string(),
                None => id,
            }),
        }
    }
}

fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if name.is_empty() || !name.chars().all(valid) {
            return None;
        }
        steps.push(Step::Field(name.to_string()));
        while !rest.is_empty() {
            let close = rest.find(']')?;
            let inner = &rest[1..close];
            steps.push(if inner == "*" {
                Step::Each
            } else {
                Step::Index(inner.parse().ok()?)
            });
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return None;
            }
        }
    }
    Some(steps)
}

/// Parses a user rule given on the command line as `TYPE:PATH` (e.g. `oci_core_vcn:cidr_blocks`).
pub fn parse_rule_option(text: &str) -> Result<Rule, String> {
    let (resource_type, path) = text.split_once(':').ok_or_else(|| {
        format!("--rule {text:?}: write the resource type and the attribute path separated by a colon, e.g. --rule oci_core_vcn:cidr_blocks")
    })?;
    Rule::user(resource_type, path).map_err(|e| format!("--rule {text:?}: {e}"))
}

/// What a rule file holds: rules and ignore entries.
#[derive(Debug, Clone, Default)]
pub struct RuleFile {
    /// `TYPE PATH` lines.
    pub rules: Vec<Rule>,
    /// `ignore ENTRY` lines.
    pub ignore: Vec<String>,
}

/// Parses a rule file: one `TYPE ATTRIBUTE_PATH` per line, `ignore CIDR_OR_ADDRESS` lines, `#`
/// comments and blank lines. `name` is used in errors.
pub fn parse_rule_file(name: &str, text: &str) -> Result<RuleFile, String> {
    let mut file = RuleFile::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = format!("{name} line {}", number + 1);
        match words.as_slice() {
            ["ignore", entry] => file.ignore.push(entry.to_string()),
            [resource_type, path] => file
                .rules
                .push(Rule::user(resource_type, path).map_err(|e| format!("{at}: {e}"))?),
            _ => {
                return Err(format!(
                    "{at}: expected `TYPE ATTRIBUTE_PATH` (e.g. `oci_core_vcn cidr_blocks`) or `ignore CIDR_OR_ADDRESS`, found {line:?}"
                ))
            }
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_walk_nested_lists_and_name_the_element() {
        let set = RuleSet::built_in();
        let attributes = json!({
            "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/Main",
            "ip_cidr_range": "10.2.0.0/20",
            "secondary_ip_range": [
                {"range_name": "pods", "ip_cidr_range": "10.4.0.0/14"},
                {"range_name": "services", "ip_cidr_range": "10.8.0.0/20"}
            ],
            "ipv6_cidr_range": "",
            "internal_ipv6_prefix": null
        });
        let (found, invalid) = set.cidrs_of("google_compute_subnetwork", &attributes);
        assert!(invalid.is_empty());
        let got: Vec<(String, String)> = found
            .iter()
            .map(|f| (f.attribute.clone(), f.cidr.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ip_cidr_range".into(), "10.2.0.0/20".into()),
                (
                    "secondary_ip_range[0].ip_cidr_range".into(),
                    "10.4.0.0/14".into()
                ),
                (
                    "secondary_ip_range[1].ip_cidr_range".into(),
                    "10.8.0.0/20".into()
                ),
            ]
        );
        assert_eq!(
            found[0].network.as_deref(),
            Some("https://www.googleapis.com/compute/v1/projects/p/global/networks/main")
        );
    }

    #[test]
    fn azure_subnets_belong_to_their_virtual_network() {
        let set = RuleSet::built_in();
        let id =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/hub";
        let (found, _) = set.cidrs_of(
            "azurerm_subnet",
            &json!({"id": format!("{id}/subnets/app"), "address_prefixes": ["10.3.1.0/24", "fd00:3::/64"]}),
        );
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].network.as_deref(),
            Some(id.to_lowercase().as_str())
        );
        assert_eq!(found[1].attribute, "address_prefixes[1]");
    }

    #[test]
    fn user_rules_parse_from_options_and_files_with_clear_errors() {
        let rule = parse_rule_option("oci_core_vcn:cidr_blocks").unwrap();
        let mut set = RuleSet::built_in();
        set.add(rule);
        let (found, invalid) = set.cidrs_of(
            "oci_core_vcn",
            &json!({"cidr_blocks": ["10.9.0.0/16", "not a cidr"]}),
        );
        assert_eq!(found[0].cidr.to_string(), "10.9.0.0/16");
        assert_eq!(
            invalid,
            vec![("cidr_blocks[1]".to_string(), "not a cidr".to_string())]
        );
        let err = parse_rule_option("oci_core_vcn").unwrap_err();
        assert!(err.contains("separated by a colon"), "{err}");
        let err = parse_rule_option("oci_core_vcn:a..b").unwrap_err();
        assert!(err.contains("not an attribute path"), "{err}");

        let file = parse_rule_file(
            "rules.txt",
            "# OpenStack and Hetzner\nopenstack_networking_subnet_v2 cidr\nhcloud_network ip_range # whole network\nignore 192.168.0.0/16\nignore module.lab\n",
        )
        .unwrap();
        assert_eq!(file.rules.len(), 2);
        assert_eq!(file.ignore, vec!["192.168.0.0/16", "module.lab"]);
        let err = parse_rule_file("rules.txt", "\nhcloud_network\n").unwrap_err();
        assert!(err.starts_with("rules.txt line 2: expected"), "{err}");
    }
}
