terraform import ipam_scope.lab ipam-scope-0123456789abcdef
