# What is left of a VPC range once the subnets are carved out:
# ["10.0.0.0/24", "10.0.3.0/24", "10.0.4.0/22", "10.0.8.0/21"].
output "unassigned" {
  value = provider::ipam::cidr_subtract("10.0.0.0/20", ["10.0.1.0/24", "10.0.2.0/24"])
}

# IPv6: ["2001:db8::/49"].
output "ipv6_unassigned" {
  value = provider::ipam::cidr_subtract("2001:db8::/48", ["2001:db8:0:8000::/49"])
}
