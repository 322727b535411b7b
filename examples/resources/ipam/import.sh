terraform import ipam.org ipam-0123456789abcdef
