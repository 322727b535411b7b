resource "ipam" "org" {
  description = "Organization IPAM"
}

resource "ipam_pool" "top" {
  scope_id       = ipam.org.private_default_scope_id
  address_family = "ipv4"
  description    = "All private addresses"
}

# An explicit CIDR provisioned into a top-level pool.
resource "ipam_pool_cidr" "top" {
  pool_id = ipam_pool.top.id
  cidr    = "10.0.0.0/8"
}

resource "ipam_pool" "team" {
  scope_id       = ipam.org.private_default_scope_id
  source_pool_id = ipam_pool_cidr.top.pool_id # created after, and destroyed before, that CIDR
  address_family = "ipv4"
  description    = "Team networks"
}

# A CIDR carved from the source pool by size: the next free /16 of ipam_pool.top.
resource "ipam_pool_cidr" "team" {
  pool_id        = ipam_pool.team.id
  netmask_length = 16
}

output "team_cidr" {
  value = ipam_pool_cidr.team.cidr
}
