# Refuse a subnet that falls outside its VPC.
variable "subnet_cidr" {
  type    = string
  default = "10.1.32.0/24"
}

output "subnet_inside_vpc" {
  value = provider::ipam::cidr_contains("10.1.0.0/16", var.subnet_cidr) # true

  precondition {
    condition     = provider::ipam::cidr_contains("10.1.0.0/16", var.subnet_cidr)
    error_message = "The subnet must lie inside the VPC's 10.1.0.0/16."
  }
}

# A bare address stands for its /32 or /128.
output "gateway_inside" {
  value = provider::ipam::cidr_contains("2001:db8:1::/48", "2001:db8:1::1") # true
}
