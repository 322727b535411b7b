output "production_vpcs" {
  description = "CIDRs allocated to the production VPCs."
  value = {
    app  = ipam_allocation.prod_app_vpc.cidr
    data = ipam_allocation.prod_data_vpc.cidr
  }
}

output "development_vpcs" {
  description = "CIDRs allocated to the development VPCs."
  value       = ipam_allocation.dev_vpc[*].cidr
}

output "ipv6" {
  description = "IPv6 site and segment prefixes."
  value = {
    sites   = ipam_allocation.site[*].cidr
    segment = ipam_allocation.segment.cidr
  }
}

output "production_utilization" {
  description = "Used share of each production pool CIDR, in percent."
  value       = { for c in data.ipam_pool_cidrs.production.cidrs : c.cidr => c.utilization_percent }
}
