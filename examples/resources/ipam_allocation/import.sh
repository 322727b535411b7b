terraform import ipam_allocation.app ipam-alloc-0123456789abcdef
