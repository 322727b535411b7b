terraform {
  required_providers {
    ipam = {
      source  = "ipam-rs/ipam"
      version = "~> 0.1"
    }
  }
}

# Every root module that points at the same database file shares one address space:
# allocations made from any of them never overlap.
provider "ipam" {
  database = "/srv/ipam/terraform-ipam.db" # default: $IPAM_DATABASE, else ./terraform-ipam.db
  actor    = "platform-team"               # recorded in the audit log; default: $IPAM_ACTOR, else the OS user
}
