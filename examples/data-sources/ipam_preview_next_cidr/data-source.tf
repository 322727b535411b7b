variable "pool_id" {
  type        = string
  description = "The pool to look into, e.g. ipam-pool-0123456789abcdef."
}

# The CIDR the next /24 allocation from the pool would get right now. Nothing is reserved: a
# later allocation (from this or any other configuration) may take it first, so use an
# ipam_allocation resource to actually hold a block.
data "ipam_preview_next_cidr" "next" {
  pool_id          = var.pool_id
  netmask_length   = 24
  locale           = "eu-west-1"
  disallowed_cidrs = ["10.1.0.0/24"]
}

# Three distinct blocks: what three consecutive /24 allocations would get. (With count = 3 on
# the data source above, every instance would show the same single CIDR.)
data "ipam_preview_next_cidr" "next_three" {
  pool_id         = var.pool_id
  netmask_lengths = [24, 24, 24]
}

output "next_cidr" {
  value = data.ipam_preview_next_cidr.next.cidr
}

output "next_three_cidrs" {
  value = data.ipam_preview_next_cidr.next_three.cidrs
}
