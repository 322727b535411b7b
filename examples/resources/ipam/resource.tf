resource "ipam" "org" {
  description       = "Organization IPAM"
  operating_regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
  tags = {
    ManagedBy = "NetworkTeam"
  }
}

output "private_scope" {
  value = ipam.org.private_default_scope_id
}
