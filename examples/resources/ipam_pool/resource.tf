resource "ipam" "org" {
  description = "Organization IPAM"
}

resource "ipam_pool" "top" {
  scope_id       = ipam.org.private_default_scope_id
  address_family = "ipv4"
  description    = "All private addresses"
}

resource "ipam_pool_cidr" "top" {
  pool_id = ipam_pool.top.id
  cidr    = "10.0.0.0/8"
}

# A child pool: its CIDRs are carved from the source pool. Taking source_pool_id from the source
# pool's CIDR makes Terraform provision that CIDR first and deprovision it last. The guardrails bound what may be
# allocated from it: min is the SHORTEST prefix (the largest block), max the LONGEST (the smallest).
resource "ipam_pool" "production" {
  scope_id       = ipam.org.private_default_scope_id
  source_pool_id = ipam_pool_cidr.top.pool_id
  address_family = "ipv4"
  locale         = "eu-west-1"
  description    = "Production VPCs"

  allocation_min_netmask_length     = 16
  allocation_max_netmask_length     = 24
  allocation_default_netmask_length = 20

  # every allocation from this pool must carry these tags
  allocation_resource_tags = {
    Environment = "Production"
  }

  tags = {
    Environment = "Production"
  }
}
