# The fewest prefixes for a route table: ["10.0.0.0/23", "10.0.3.0/24"].
output "routes" {
  value = provider::ipam::cidr_merge([
    "10.0.1.0/24",
    "10.0.0.0/24",
    "10.0.0.128/25", # inside 10.0.0.0/24
    "10.0.3.0/24",
  ])
}

# IPv6 works the same way: ["2001:db8::/32"].
output "ipv6_routes" {
  value = provider::ipam::cidr_merge(["2001:db8::/33", "2001:db8:8000::/33"])
}
