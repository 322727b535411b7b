# A two-region hierarchy: a global pool without a locale, a regional pool per operating region
# (each pool's locale must be one of the IPAM's operating_regions), and an environment pool nested
# in a regional one (it must keep its source pool's locale).
resource "ipam" "org" {
  description       = "Organization IPAM"
  operating_regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
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

# Taking source_pool_id from the source pool's CIDR makes Terraform provision that CIDR first and
# deprovision it last, with no depends_on.
resource "ipam_pool" "us_east_1" {
  scope_id       = ipam.org.private_default_scope_id
  source_pool_id = ipam_pool_cidr.top.pool_id
  address_family = "ipv4"
  locale         = "us-east-1"
  description    = "Virginia"
}

resource "ipam_pool_cidr" "us_east_1" {
  pool_id = ipam_pool.us_east_1.id
  cidr    = "10.0.0.0/12"
}

resource "ipam_pool" "eu_west_1" {
  scope_id       = ipam.org.private_default_scope_id
  source_pool_id = ipam_pool_cidr.top.pool_id
  address_family = "ipv4"
  locale         = "eu-west-1"
  description    = "Ireland"
}

resource "ipam_pool_cidr" "eu_west_1" {
  pool_id = ipam_pool.eu_west_1.id
  cidr    = "10.16.0.0/12"
}

# A child pool: its CIDRs are carved from the source pool. The guardrails bound what may be
# allocated from it: min is the SHORTEST prefix (the largest block), max the LONGEST (the smallest).
resource "ipam_pool" "production" {
  scope_id       = ipam.org.private_default_scope_id
  source_pool_id = ipam_pool_cidr.eu_west_1.pool_id
  address_family = "ipv4"
  locale         = "eu-west-1"
  description    = "Production VPCs in Ireland"

  allocation_min_netmask_length     = 16
  allocation_max_netmask_length     = 24
  allocation_default_netmask_length = 20

  # a plan whose allocation pushes the pool past 80 % used shows a warning with the figures
  utilization_warning_threshold = 80

  # a released block stays unused for 30 minutes (DNS, firewall rules and peers' routes may
  # still point at it); "strict" never hands it out earlier, "soft" only when nothing else fits
  release_cooldown      = "30m"
  release_cooldown_mode = "strict"

  # every allocation from this pool must carry these tags
  allocation_resource_tags = {
    Environment = "Production"
  }

  tags = {
    Environment = "Production"
  }
}
