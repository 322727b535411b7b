resource "ipam" "org" {
  description = "Organization IPAM"
}

# A custom private scope is a separate routing domain: its pools may reuse CIDRs that pools in
# other scopes hold (for example an isolated lab network).
resource "ipam_scope" "lab" {
  ipam_id     = ipam.org.id
  description = "Isolated lab networks"
  tags = {
    Purpose = "lab"
  }
}
