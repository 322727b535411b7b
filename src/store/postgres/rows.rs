//! Row mapping: PostgreSQL columns to domain objects and back (addresses as 16-byte big-endian
//! `bytea`, so byte order is address order; tags and lists as JSON text; allocation and audit
//! times as Unix milliseconds).

use ipnet::IpNet;
use postgres::Row;

use crate::ipam::engine::port::{
    AllocationSpan, StoredAllocation, StoredPool, StoredPoolCidr, StoredReservation,
};
use crate::ipam::{
    AddressFamily, Allocation, AuditEvent, Block, Ipam, NetmaskRule, Pool, PoolCidr,
    ReleaseCooldown, Scope, ScopeKind, Tags,
};
use crate::store::util::{cooldown_from_columns, format_millis, SequenceIds};

/// A row that does not decode: a broken or foreign database.
pub(super) type RowResult<T> = std::result::Result<T, String>;

/// 16-byte big-endian form of an address.
pub(super) fn bytes(value: u128) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}

fn address(row: &Row, idx: usize) -> RowResult<u128> {
    let value: &[u8] = row.try_get(idx).map_err(|e| e.to_string())?;
    let array: [u8; 16] = value
        .try_into()
        .map_err(|_| "address is not 16 bytes".to_string())?;
    Ok(u128::from_be_bytes(array))
}

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, idx: usize) -> RowResult<T> {
    row.try_get(idx).map_err(|e| e.to_string())
}

fn length(row: &Row, idx: usize) -> RowResult<u8> {
    let value: i32 = get(row, idx)?;
    u8::try_from(value).map_err(|_| format!("prefix length {value} out of range"))
}

fn optional_length(row: &Row, idx: usize) -> RowResult<Option<u8>> {
    let value: Option<i32> = get(row, idx)?;
    value
        .map(|v| u8::try_from(v).map_err(|_| format!("netmask length {v} out of range")))
        .transpose()
}

/// A netmask length as stored.
pub(super) fn length_param(value: Option<u8>) -> Option<i32> {
    value.map(i32::from)
}

/// A block from its start and prefix-length columns.
pub(super) fn block_cols(row: &Row, start: usize, len: usize) -> RowResult<Block> {
    Ok(Block {
        start: address(row, start)?,
        prefix_len: length(row, len)?,
    })
}

/// A block from the first two columns.
pub(super) fn block_row(row: &Row) -> RowResult<Block> {
    block_cols(row, 0, 1)
}

fn family(row: &Row, idx: usize) -> RowResult<AddressFamily> {
    match get::<i32>(row, idx)? {
        4 => Ok(AddressFamily::Ipv4),
        6 => Ok(AddressFamily::Ipv6),
        other => Err(format!("unknown address family {other}")),
    }
}

/// The stored number of a family.
pub(super) fn family_num(family: AddressFamily) -> i32 {
    match family {
        AddressFamily::Ipv4 => 4,
        AddressFamily::Ipv6 => 6,
    }
}

fn tags(row: &Row, idx: usize) -> RowResult<Tags> {
    let text: &str = get(row, idx)?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

fn strings(row: &Row, idx: usize) -> RowResult<Vec<String>> {
    let text: &str = get(row, idx)?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

fn cidrs(row: &Row, idx: usize) -> RowResult<Vec<IpNet>> {
    let texts = strings(row, idx)?;
    texts
        .iter()
        .map(|text| text.parse::<IpNet>().map_err(|e| e.to_string()))
        .collect()
}

/// Tags as a JSON object.
pub(super) fn tags_json(tags: &Tags) -> String {
    serde_json::to_string(tags).expect("string maps serialize")
}

/// A list of strings as JSON.
pub(super) fn strings_json(values: &[String]) -> String {
    serde_json::to_string(values).expect("string lists serialize")
}

/// Disallowed CIDRs as a JSON list of strings.
pub(super) fn cidrs_json(cidrs: &[IpNet]) -> String {
    let texts: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
    strings_json(&texts)
}

fn count(row: &Row, idx: usize) -> RowResult<u64> {
    Ok(get::<i64>(row, idx)?.max(0) as u64)
}

/// `pool_select!` columns.
pub(super) fn pool_row(row: &Row) -> RowResult<StoredPool> {
    Ok(StoredPool {
        key: get(row, 0)?,
        pool: Pool {
            id: get(row, 1)?,
            scope_id: get(row, 2)?,
            source_pool_id: get(row, 3)?,
            address_family: family(row, 4)?,
            locale: get(row, 5)?,
            description: get(row, 6)?,
            netmask: NetmaskRule {
                min: optional_length(row, 7)?,
                max: optional_length(row, 8)?,
                default: optional_length(row, 9)?,
            },
            allocation_resource_tags: tags(row, 10)?,
            auto_import: get(row, 11)?,
            publicly_advertisable: get(row, 12)?,
            tags: tags(row, 13)?,
            depth: get::<i32>(row, 14)?.max(0) as u32,
            created_at: get(row, 15)?,
            updated_at: get(row, 16)?,
            utilization_warning_threshold: threshold(row, 17)?,
            release_cooldown: cooldown(row, 18, 19)?,
        },
    })
}

fn threshold(row: &Row, idx: usize) -> RowResult<Option<u8>> {
    get::<Option<i32>>(row, idx)?
        .map(|value| u8::try_from(value).map_err(|_| format!("threshold {value} out of range")))
        .transpose()
}

/// A release cooldown from its seconds and mode columns (`NULL` seconds: none).
fn cooldown(row: &Row, seconds: usize, mode: usize) -> RowResult<Option<ReleaseCooldown>> {
    Ok(cooldown_from_columns(
        get(row, seconds)?,
        get::<Option<String>>(row, mode)?.as_deref(),
    ))
}

/// The threshold and cooldown columns of a pool as `POOL_INSERT` and `POOL_UPDATE` bind them.
pub(super) fn policy_params(pool: &Pool) -> (Option<i32>, Option<i64>, Option<&'static str>) {
    let cooldown = pool.release_cooldown;
    (
        pool.utilization_warning_threshold.map(i32::from),
        cooldown.map(|c| i64::try_from(c.seconds).unwrap_or(i64::MAX)),
        cooldown.map(|c| c.mode.as_str()),
    )
}

/// A cooling block and the time it frees (`COOLING_IN_RANGE` columns).
pub(super) fn cooling_row(row: &Row) -> RowResult<(Block, i64)> {
    Ok((block_row(row)?, get(row, 2)?))
}

/// `pool_cidr_select!` columns.
pub(super) fn pool_cidr_row(row: &Row) -> RowResult<StoredPoolCidr> {
    let family = family(row, 2)?;
    let block = block_cols(row, 3, 4)?;
    Ok(StoredPoolCidr {
        pool_key: get(row, 7)?,
        block,
        pool_cidr: PoolCidr {
            id: get(row, 0)?,
            pool_id: get(row, 1)?,
            cidr: block.to_net(family),
            parent_allocation_id: get(row, 5)?,
            created_at: get(row, 6)?,
        },
    })
}

/// An allocation's id: its legacy id (made by the oldest provider) when it has one, else the
/// one its sequence gives.
pub(super) fn allocation_id(
    row: &Row,
    sequence: usize,
    legacy_id: usize,
    ids: SequenceIds,
) -> RowResult<String> {
    match get::<Option<String>>(row, legacy_id)? {
        Some(id) => Ok(id),
        None => get::<Option<i64>>(row, sequence)?
            .map(|s| ids.id(s))
            .ok_or_else(|| "allocation has neither a sequence nor a legacy id".to_string()),
    }
}

/// `allocation_select!` columns; the id derives from the sequence.
pub(super) fn allocation_row(row: &Row, ids: SequenceIds) -> RowResult<StoredAllocation> {
    let family = family(row, 2)?;
    let block = block_cols(row, 3, 4)?;
    Ok(StoredAllocation {
        pool_key: get(row, 10)?,
        block,
        allocation: Allocation {
            id: allocation_id(row, 0, 13, ids)?,
            pool_id: get(row, 1)?,
            cidr: block.to_net(family),
            name: get(row, 12)?,
            description: get(row, 5)?,
            tags: tags(row, 6)?,
            child_pool_cidr_id: get(row, 7)?,
            disallowed_cidrs: cidrs(row, 11)?,
            created_at: format_millis(get(row, 8)?),
            updated_at: format_millis(get(row, 9)?),
        },
    })
}

/// `reservation_select!` columns.
pub(super) fn reservation_row(row: &Row) -> RowResult<StoredReservation> {
    Ok(StoredReservation {
        pool_key: get(row, 0)?,
        name: get(row, 1)?,
        block: block_cols(row, 2, 3)?,
        expires_at_millis: get(row, 4)?,
        lost: get(row, 5)?,
    })
}

/// Sequence, start, prefix length, child pool CIDR id, legacy id.
pub(super) fn span_row(row: &Row, ids: SequenceIds) -> RowResult<AllocationSpan> {
    Ok(AllocationSpan {
        id: allocation_id(row, 0, 4, ids)?,
        block: block_cols(row, 1, 2)?,
        child_pool_cidr_id: get(row, 3)?,
    })
}

/// `ipam_select!` columns.
pub(super) fn ipam_row(row: &Row) -> RowResult<Ipam> {
    Ok(Ipam {
        id: get(row, 0)?,
        description: get(row, 1)?,
        operating_regions: strings(row, 2)?,
        tags: tags(row, 3)?,
        created_at: get(row, 4)?,
        updated_at: get(row, 5)?,
        private_default_scope_id: get::<Option<String>>(row, 6)?.unwrap_or_default(),
        public_default_scope_id: get::<Option<String>>(row, 7)?.unwrap_or_default(),
        scope_count: count(row, 8)?,
    })
}

/// `scope_select!` columns.
pub(super) fn scope_row(row: &Row) -> RowResult<Scope> {
    let kind: &str = get(row, 2)?;
    Ok(Scope {
        id: get(row, 0)?,
        ipam_id: get(row, 1)?,
        kind: if kind == "public" {
            ScopeKind::Public
        } else {
            ScopeKind::Private
        },
        description: get(row, 3)?,
        tags: tags(row, 4)?,
        is_default: get(row, 5)?,
        created_at: get(row, 6)?,
        updated_at: get(row, 7)?,
        pool_count: count(row, 8)?,
    })
}

/// `AUDIT_SELECT` columns.
pub(super) fn audit_row(row: &Row) -> RowResult<AuditEvent> {
    let cidr: Option<String> = get(row, 5)?;
    Ok(AuditEvent {
        sequence: get(row, 0)?,
        at: format_millis(get(row, 1)?),
        actor: get(row, 2)?,
        action: get(row, 3)?,
        object_id: get(row, 4)?,
        cidr: cidr.and_then(|c| c.parse().ok()),
        details: get(row, 6)?,
    })
}

/// The first column as text.
pub(super) fn string_row(row: &Row) -> RowResult<String> {
    get(row, 0)
}
