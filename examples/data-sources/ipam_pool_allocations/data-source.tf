variable "pool_id" {
  type        = string
  description = "The pool whose allocations to list, e.g. ipam-pool-0123456789abcdef."
}

data "ipam_pool_allocations" "this" {
  pool_id = var.pool_id
}

output "allocated" {
  value = { for a in data.ipam_pool_allocations.this.allocations : a.id => a.cidr }
}
