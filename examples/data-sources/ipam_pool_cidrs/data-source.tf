variable "pool_id" {
  type        = string
  description = "The pool to report on, e.g. ipam-pool-0123456789abcdef."
}

# A pool's CIDRs with their address counts: useful for capacity alarms.
data "ipam_pool_cidrs" "this" {
  pool_id = var.pool_id
}

output "utilization" {
  value = { for c in data.ipam_pool_cidrs.this.cidrs : c.cidr => c.utilization_percent }
}
