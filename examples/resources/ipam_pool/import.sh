terraform import ipam_pool.production ipam-pool-0123456789abcdef
