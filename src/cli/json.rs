//! The JSON form of each object, shared by every command's `--json` output. The field names
//! are stable and documented in docs/cli.md. Address counts are exact JSON integers (IPv6
//! counts can exceed what a double holds); times are RFC 3339 UTC.

use serde_json::{json, Value};

use crate::ipam::{
    Allocation, AuditEvent, Ipam, NetmaskRule, Pool, PoolCidrUsage, Reservation, Scope,
};

/// An IPAM.
pub fn ipam(ipam: &Ipam) -> Value {
    json!({
        "kind": "ipam",
        "id": ipam.id,
        "description": ipam.description,
        "operating_regions": ipam.operating_regions,
        "tags": ipam.tags,
        "private_default_scope_id": ipam.private_default_scope_id,
        "public_default_scope_id": ipam.public_default_scope_id,
        "created_at": ipam.created_at,
        "updated_at": ipam.updated_at,
    })
}

/// A scope.
pub fn scope(scope: &Scope) -> Value {
    json!({
        "kind": "scope",
        "id": scope.id,
        "ipam_id": scope.ipam_id,
        "scope_type": scope.kind.as_str(),
        "is_default": scope.is_default,
        "description": scope.description,
        "tags": scope.tags,
        "created_at": scope.created_at,
        "updated_at": scope.updated_at,
    })
}

fn netmask(rule: &NetmaskRule) -> Value {
    json!({ "min": rule.min, "max": rule.max, "default": rule.default })
}

/// A pool (without usage).
pub fn pool(pool: &Pool) -> Value {
    json!({
        "kind": "pool",
        "id": pool.id,
        "scope_id": pool.scope_id,
        "source_pool_id": pool.source_pool_id,
        "address_family": pool.address_family.as_str(),
        "locale": pool.locale,
        "description": pool.description,
        "netmask_length": netmask(&pool.netmask),
        "allocation_resource_tags": pool.allocation_resource_tags,
        "auto_import": pool.auto_import,
        "publicly_advertisable": pool.publicly_advertisable,
        "tags": pool.tags,
        "depth": pool.depth,
        "created_at": pool.created_at,
        "updated_at": pool.updated_at,
    })
}

/// Address counts and the utilization percentage.
pub fn usage(used: u128, total: u128) -> Value {
    json!({
        "used_addresses": used,
        "free_addresses": total.saturating_sub(used),
        "total_addresses": total,
        "utilization_percent": percent(used, total),
    })
}

/// `used / total × 100`, 0 for an empty total, rounded to two decimals (as the provider's
/// `utilization_percent`).
pub fn percent(used: u128, total: u128) -> f64 {
    (ratio(used, total) * 100.0).round() / 100.0
}

/// `used / total × 100` unrounded, 0 for an empty total.
pub fn ratio(used: u128, total: u128) -> f64 {
    if total == 0 {
        return 0.0;
    }
    used as f64 / total as f64 * 100.0
}

/// A pool CIDR with its usage.
pub fn pool_cidr(cidr: &PoolCidrUsage) -> Value {
    let mut value = json!({
        "kind": "pool_cidr",
        "id": cidr.pool_cidr.id,
        "pool_id": cidr.pool_cidr.pool_id,
        "cidr": cidr.pool_cidr.cidr.to_string(),
        "parent_allocation_id": cidr.pool_cidr.parent_allocation_id,
        "created_at": cidr.pool_cidr.created_at,
    });
    merge(&mut value, usage(cidr.used_addresses, cidr.total_addresses));
    value["reserved_addresses"] = json!(cidr.reserved_addresses);
    value
}

/// A plan-time reservation: space held for a plan not yet applied (`expired` when its time
/// has passed but no plan or allocation in the pool has freed it yet).
pub fn reservation(reservation: &Reservation) -> Value {
    json!({
        "kind": "reservation",
        "pool_id": reservation.pool_id,
        "name": reservation.name,
        "cidr": reservation.cidr.to_string(),
        "expires_at": reservation.expires_at,
        "expired": reservation.expired,
    })
}

/// An allocation; `resource_type` is `allocation`, or `pool_cidr` for a child pool's CIDR.
pub fn allocation(allocation: &Allocation) -> Value {
    json!({
        "kind": "allocation",
        "id": allocation.id,
        "pool_id": allocation.pool_id,
        "cidr": allocation.cidr.to_string(),
        "resource_type": if allocation.child_pool_cidr_id.is_some() { "pool_cidr" } else { "allocation" },
        "child_pool_cidr_id": allocation.child_pool_cidr_id,
        "description": allocation.description,
        "tags": allocation.tags,
        "disallowed_cidrs": allocation.disallowed_cidrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "created_at": allocation.created_at,
        "updated_at": allocation.updated_at,
    })
}

/// An audit event; `details` is the event's JSON object.
pub fn event(event: &AuditEvent) -> Value {
    json!({
        "sequence": event.sequence,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "object_id": event.object_id,
        "cidr": event.cidr.map(|c| c.to_string()),
        "details": serde_json::from_str::<Value>(&event.details).unwrap_or(Value::Null),
    })
}

/// Adds the fields of `extra` (an object) to `value` (an object).
pub fn merge(value: &mut Value, extra: Value) {
    if let (Value::Object(target), Value::Object(source)) = (value, extra) {
        target.extend(source);
    }
}
