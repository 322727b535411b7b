# A private IPv6 /48 that every run and every machine derives alike from the same name:
# "fd08:1ad7:3d3c::/48".
output "production_ula" {
  value = provider::ipam::ula_prefix("production")
}

# One prefix per environment, and the first /64 of each.
output "environment_first_64" {
  value = {
    for environment in ["staging", "production"] :
    environment => cidrsubnet(provider::ipam::ula_prefix(environment), 16, 0)
  }
}
