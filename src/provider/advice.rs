//! Terraform advice added to store errors: the core says what is wrong in IPAM terms, this says
//! what to change in a configuration so that it works — only advice that applies to the object
//! the error is about (a pool CIDR has no `cascade`; a pool does).

use crate::ipam::{Error, ObjectKind};
use crate::plugin::Diagnostics;

/// Extra sentences for an error's diagnostic (empty, or starting with a space).
pub fn in_terraform(error: &Error) -> String {
    match error {
        Error::Exhausted { pool_cidrs, .. } if pool_cidrs.is_empty() => format!(" {ORDER_CREATE}"),
        Error::NotEmpty {
            kind: ObjectKind::PoolCidr,
            ..
        } => format!(" {ORDER_DESTROY}"),
        Error::NameTaken { .. } => format!(" {NAME_KEPT}"),
        Error::NotEmpty { .. } => " In Terraform: set cascade = true on it and run terraform apply first (destroy uses the cascade value in the state), then destroy it.".to_string(),
        _ => String::new(),
    }
}

/// A plan-time error of a create, with a way out for `terraform destroy` when the provider cannot
/// tell that Terraform is running one (see `crate::plugin::invocation`).
pub fn at_plan(mut diagnostics: Diagnostics) -> Diagnostics {
    if !crate::plugin::invocation::terraform_command_is_known() {
        for diagnostic in &mut diagnostics.0 {
            diagnostic.detail.push_str(UNKNOWN_COMMAND);
        }
    }
    diagnostics
}

/// What to run when a destroy's refresh plan stops at a create it would throw away.
const UNKNOWN_COMMAND: &str = " If this stops terraform destroy after a failed apply, run terraform destroy -refresh=false: the provider cannot see here which Terraform command runs, and a destroy's refresh plan also plans the creates it never makes.";

/// Why a name can be taken by the allocation a new one replaces, and what to change.
const NAME_KEPT: &str = "In Terraform: if that allocation is the one this resource replaces and the resource sets lifecycle { create_before_destroy = true }, the new allocation is made while the old one still has the name; remove create_before_destroy (the old allocation is then released first), or make the name change with the replacement (for example include the netmask_length in it). If another configuration owns that allocation, choose a name it does not use.";

/// How to make Terraform provision a pool CIDR before what is carved from it.
const ORDER_CREATE: &str = "Terraform creates objects in the order of their references: when an ipam_pool_cidr in this configuration provisions the pool, reference it — pool_id = ipam_pool_cidr.NAME.pool_id in allocations, source_pool_id = ipam_pool_cidr.NAME.pool_id in child pools — so that the CIDR is provisioned first.";

/// How to make Terraform destroy what lies in a pool CIDR before the pool CIDR.
const ORDER_DESTROY: &str = "Terraform destroys an object only after everything that references it: give the allocations pool_id = ipam_pool_cidr.NAME.pool_id and the child pools source_pool_id = ipam_pool_cidr.NAME.pool_id, so that they are destroyed before this pool cidr. Objects made by another configuration must be destroyed there first.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_errors_say_how_to_destroy_only_when_the_command_is_unknown() {
        let errors = at_plan(
            crate::plugin::Diagnostic::error("Plan Allocation Error", "no free /28.").into(),
        );
        let known = crate::plugin::invocation::terraform_command_is_known();
        assert_eq!(
            errors.0[0]
                .detail
                .contains("terraform destroy -refresh=false"),
            !known
        );
    }

    #[test]
    fn advice_fits_the_object() {
        let not_empty = |kind| Error::NotEmpty {
            kind,
            id: "x".into(),
            contents: "1 allocation".into(),
        };
        let pool_cidr = in_terraform(&not_empty(ObjectKind::PoolCidr));
        assert!(!pool_cidr.contains("cascade"), "{pool_cidr}");
        assert!(pool_cidr.contains("pool_id = ipam_pool_cidr.NAME.pool_id"));
        for kind in [ObjectKind::Pool, ObjectKind::Scope, ObjectKind::Ipam] {
            assert!(in_terraform(&not_empty(kind)).contains("cascade = true"));
        }
        let empty = Error::Exhausted {
            requested_len: 24,
            pool_id: "p".into(),
            pool_cidrs: Vec::new(),
            largest_free: None,
            disallowed: Vec::new(),
        };
        assert!(in_terraform(&empty).contains("pool_id = ipam_pool_cidr.NAME.pool_id"));
        let full = Error::Exhausted {
            requested_len: 24,
            pool_id: "p".into(),
            pool_cidrs: vec!["10.0.0.0/24".parse().unwrap()],
            largest_free: None,
            disallowed: Vec::new(),
        };
        assert_eq!(in_terraform(&full), "");
        let taken = Error::NameTaken {
            name: "web".into(),
            pool_id: "p".into(),
            allocation_id: "ipam-alloc-1".into(),
            cidr: "10.0.0.0/24".parse().unwrap(),
        };
        assert!(in_terraform(&taken).contains("create_before_destroy"));
    }
}
