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

# The next free block of the pool's default size (/20): the CIDR is known after apply.
# With a locale, a pool of another locale refuses it at plan (a pool without a locale serves any).
resource "ipam_allocation" "app" {
  pool_id     = ipam_pool.vpcs.id
  locale      = "eu-west-1"
  description = "app VPC"
  tags = {
    Name = "app-vpc"
  }

  depends_on = [ipam_pool_cidr.vpcs]
}

# The next free /22, skipping a range reserved for something else.
resource "ipam_allocation" "batch" {
  pool_id          = ipam_pool.vpcs.id
  netmask_length   = 22
  disallowed_cidrs = ["10.1.128.0/17"]
  description      = "batch VPC"

  depends_on = [ipam_pool_cidr.vpcs]
}

# An explicit CIDR: checked at plan time against everything already allocated in the pool.
resource "ipam_allocation" "legacy" {
  pool_id     = ipam_pool.vpcs.id
  cidr        = "10.1.255.0/24"
  description = "legacy VPC adopted as is"

  depends_on = [ipam_pool_cidr.vpcs]
}

output "app_cidr" {
  value = ipam_allocation.app.cidr
}
