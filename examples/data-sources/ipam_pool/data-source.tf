# Look a pool up by its tags (or by id, description, locale, address_family). Exactly one pool must
# match; otherwise the error lists the candidates.
data "ipam_pool" "production" {
  address_family = "ipv4"
  tags = {
    Environment = "Production"
  }
}

output "production_pool_id" {
  value = data.ipam_pool.production.id
}
