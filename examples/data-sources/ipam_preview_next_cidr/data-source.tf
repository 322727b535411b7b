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

output "next_cidr" {
  value = data.ipam_preview_next_cidr.next.cidr
}
