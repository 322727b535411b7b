# Scan the network states of every cloud against the address space.
data "ipam_scan" "networks" {
  paths = [
    "${path.module}/../network-aws/terraform.tfstate",
    "${path.module}/states", # a directory: every *.tfstate and *.json below it
  ]
  rules  = ["hcloud_network:ip_range"] # providers without a built-in rule
  ignore = ["module.lab"]
}

# Terraform >= 1.5: a warning on every plan while networks overlap.
check "no_overlapping_networks" {
  assert {
    condition = data.ipam_scan.networks.overlapping_count == 0
    error_message = join("\n", [
      for f in data.ipam_scan.networks.findings :
      "${f.address} (${f.cidr}) overlaps ${join(", ", f.conflicts)}" if f.status == "overlapping"
    ])
  }
}

# Terraform >= 1.2: refuse to apply while networks overlap.
resource "terraform_data" "network_gate" {
  lifecycle {
    precondition {
      condition     = data.ipam_scan.networks.overlapping_count == 0
      error_message = "Overlapping networks: run `ipam scan` for the list."
    }
  }
}

output "unmanaged" {
  value = [for f in data.ipam_scan.networks.findings : "${f.address} ${f.cidr}" if f.status == "unmanaged"]
}
