terraform import ipam_pool_cidr.team ipam-pool-cidr-0123456789abcdef
