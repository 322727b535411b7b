# Every IPv4 pool in eu-west-1.
data "ipam_pools" "eu_west" {
  address_family = "ipv4"
  locale         = "eu-west-1"
}

output "eu_west_pool_ids" {
  value = [for pool in data.ipam_pools.eu_west.pools : pool.id]
}
