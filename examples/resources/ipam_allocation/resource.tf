resource "ipam" "org" {
  description = "Organization IPAM"
}

resource "ipam_pool" "vpcs" {
  scope_id       = ipam.org.private_default_scope_id
  address_family = "ipv4"
  description    = "VPC ranges"

  allocation_min_netmask_length     = 16
  allocation_max_netmask_length     = 24
  allocation_default_netmask_length = 20
}

resource "ipam_pool_cidr" "vpcs" {
  pool_id = ipam_pool.vpcs.id
  cidr    = "10.1.0.0/16"
}

# pool_id comes from the pool CIDR, not the pool: Terraform then provisions the CIDR before
# allocating from it, and releases the allocations before deprovisioning it.

# The next free block of the pool's default size (/20): the CIDR is known after apply.
# With a locale, a pool of another locale refuses it at plan (a pool without a locale serves any).
resource "ipam_allocation" "app" {
  pool_id     = ipam_pool_cidr.vpcs.pool_id
  locale      = "eu-west-1"
  description = "app VPC"
  tags = {
    Name = "app-vpc"
  }
}

# The next free /22, skipping a range reserved for something else.
resource "ipam_allocation" "batch" {
  pool_id          = ipam_pool_cidr.vpcs.pool_id
  netmask_length   = 22
  disallowed_cidrs = ["10.1.128.0/17"]
  description      = "batch VPC"
}

# An explicit CIDR: checked at plan time against everything already allocated in the pool.
resource "ipam_allocation" "legacy" {
  pool_id     = ipam_pool_cidr.vpcs.pool_id
  cidr        = "10.1.255.0/24"
  description = "legacy VPC adopted as is"
}

output "app_cidr" {
  value = ipam_allocation.app.cidr
}
