# Every pair of VPC ranges that share addresses: [["10.0.0.0/16", "10.0.128.0/20"]].
output "overlapping_vpcs" {
  value = provider::ipam::cidr_overlaps([
    "10.0.0.0/16",
    "10.1.0.0/16",
    "10.0.128.0/20",
  ])
}

# Refuse a peering plan whose ranges overlap.
variable "peered_cidrs" {
  type    = list(string)
  default = ["10.2.0.0/16", "10.3.0.0/16"]
}

output "peering_ok" {
  value = length(provider::ipam::cidr_overlaps(var.peered_cidrs)) == 0 # true

  precondition {
    condition     = length(provider::ipam::cidr_overlaps(var.peered_cidrs)) == 0
    error_message = "Peered networks must not overlap."
  }
}
