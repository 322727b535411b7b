# The hierarchy of the AWS VPC IPAM walkthrough, on your own database:
#
#   private scope
#   └── top-level pool            10.0.0.0/8
#       ├── production pool       10.1.0.0/16   guardrails /16–/24, default /20
#       │   └── VPC allocations   (next free /20, an explicit /22)
#       └── development pool      10.2.0.0/16   guardrails /16–/24, default /24
#           └── VPC allocations   (three /24s)
#   ipv6 pool                     fd00:ec2:1::/48 with /56 and /64 allocations

terraform {
  required_version = ">= 1.0"
  required_providers {
    ipam = {
      source = "ipam-rs/ipam"
    }
  }
}

# The database defaults to $IPAM_DATABASE, else ./terraform-ipam.db next to this configuration.
provider "ipam" {}

# No depends_on anywhere: allocations take pool_id, and child pools source_pool_id, from the
# ipam_pool_cidr that provisions the pool. Terraform then provisions each CIDR before what is
# carved from it, and destroys what is carved from it first.

resource "ipam" "org" {
  description       = "Organization IPAM"
  operating_regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
  tags = {
    ManagedBy = "NetworkTeam"
  }
}

resource "ipam_pool" "top" {
  scope_id       = ipam.org.private_default_scope_id
  address_family = "ipv4"
  description    = "All private addresses"
  tags = {
    Level = "Top"
  }
}

resource "ipam_pool_cidr" "top" {
  pool_id = ipam_pool.top.id
  cidr    = "10.0.0.0/8"
}

# min is the SHORTEST prefix a team may take (the largest block, /16), max the LONGEST (the
# smallest block, /24). The walkthrough this follows writes them the other way round.
resource "ipam_pool" "production" {
  scope_id                          = ipam.org.private_default_scope_id
  source_pool_id                    = ipam_pool_cidr.top.pool_id
  address_family                    = "ipv4"
  description                       = "Production VPCs"
  allocation_min_netmask_length     = 16
  allocation_max_netmask_length     = 24
  allocation_default_netmask_length = 20
  auto_import                       = true
  allocation_resource_tags = {
    Environment = "Production"
  }
  tags = {
    Environment = "Production"
  }
}

resource "ipam_pool_cidr" "production" {
  pool_id = ipam_pool.production.id
  cidr    = "10.1.0.0/16"
}

resource "ipam_pool" "development" {
  scope_id                          = ipam.org.private_default_scope_id
  source_pool_id                    = ipam_pool_cidr.top.pool_id
  address_family                    = "ipv4"
  description                       = "Development VPCs"
  allocation_min_netmask_length     = 16
  allocation_max_netmask_length     = 24
  allocation_default_netmask_length = 24
  tags = {
    Environment = "Development"
  }
}

resource "ipam_pool_cidr" "development" {
  pool_id = ipam_pool.development.id
  cidr    = "10.2.0.0/16"
}

# The next free /20 (the pool's default) for the production app VPC.
resource "ipam_allocation" "prod_app_vpc" {
  pool_id     = ipam_pool_cidr.production.pool_id
  description = "prod-app-vpc"
  tags = {
    Name        = "prod-app-vpc"
    Environment = "Production"
  }
}

resource "ipam_allocation" "prod_data_vpc" {
  pool_id        = ipam_pool_cidr.production.pool_id
  netmask_length = 22
  description    = "prod-data-vpc"
  tags = {
    Name        = "prod-data-vpc"
    Environment = "Production"
  }
}

resource "ipam_allocation" "dev_vpc" {
  count       = 3
  pool_id     = ipam_pool_cidr.development.pool_id
  description = "dev-vpc-${count.index}"
  tags = {
    Name = "dev-vpc-${count.index}"
  }
}

# IPv6: a ULA /48 with a /56 per site and a /64 for a single segment.
resource "ipam_pool" "ipv6" {
  scope_id                          = ipam.org.private_default_scope_id
  address_family                    = "ipv6"
  description                       = "IPv6 sites"
  allocation_min_netmask_length     = 52
  allocation_max_netmask_length     = 64
  allocation_default_netmask_length = 56
}

resource "ipam_pool_cidr" "ipv6" {
  pool_id = ipam_pool.ipv6.id
  cidr    = "fd00:ec2:1::/48"
}

resource "ipam_allocation" "site" {
  count       = 2
  pool_id     = ipam_pool_cidr.ipv6.pool_id
  description = "site-${count.index}"
}

resource "ipam_allocation" "segment" {
  pool_id        = ipam_pool_cidr.ipv6.pool_id
  netmask_length = 64
  description    = "management segment"
}

# How full the production pool is, after the allocations above: taking pool_id from them makes
# Terraform read it once they exist.
data "ipam_pool_cidrs" "production" {
  pool_id = one(distinct([ipam_allocation.prod_app_vpc.pool_id, ipam_allocation.prod_data_vpc.pool_id]))
}
