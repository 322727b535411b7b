# Where the allocator would put the next /25 of 10.0.0.0/22 once these blocks are taken.
# Free are 10.0.0.0/24, 10.0.2.0/25 and 10.0.3.0/24. Best fit takes the smallest free block
# that holds the request, lowest address first: "10.0.2.0/25", which keeps both /24s whole.
output "next_25" {
  value = provider::ipam::cidr_next_free("10.0.0.0/22", ["10.0.1.0/24", "10.0.2.128/25"], 25)
}

# IPv6: the first /64 of an empty /56 is "2001:db8:0:100::/64".
output "next_64" {
  value = provider::ipam::cidr_next_free("2001:db8:0:100::/56", [], 64)
}

# null instead of an error when the parent is full.
output "next_or_null" {
  value = try(provider::ipam::cidr_next_free("10.9.0.0/24", ["10.9.0.0/24"], 26), null)
}
