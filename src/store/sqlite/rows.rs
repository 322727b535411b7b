//! Row mapping: SQLite columns to domain objects and back (addresses as 16-byte big-endian
//! BLOBs, so BLOB order is address order; tags and lists as JSON text; allocation and audit
//! times as Unix milliseconds).

use ipnet::IpNet;
use rusqlite::types::Type;
use rusqlite::Row;

use crate::ipam::engine::port::{
    AllocationSpan, StoredAllocation, StoredPool, StoredPoolCidr, StoredReservation,
};
use crate::ipam::{
    AddressFamily, Allocation, AuditEvent, Block, Ipam, NetmaskRule, Pool, PoolCidr,
    ReleaseCooldown, Scope, ScopeKind, Tags,
};
use crate::store::util::{cooldown_from_columns, format_millis};

/// 16-byte big-endian form of an address: BLOB order is address order.
pub(super) fn blob(value: u128) -> [u8; 16] {
    value.to_be_bytes()
}

fn u128_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u128> {
    let bytes = row.get_ref(idx)?.as_blob()?;
    let array: [u8; 16] = bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Blob,
            "address blob is not 16 bytes".into(),
        )
    })?;
    Ok(u128::from_be_bytes(array))
}

/// A block from its start and prefix-length columns.
pub(super) fn block_cols(row: &Row<'_>, start: usize, len: usize) -> rusqlite::Result<Block> {
    Ok(Block {
        start: u128_col(row, start)?,
        prefix_len: row.get(len)?,
    })
}

/// A block from the first two columns.
pub(super) fn block_row(row: &Row<'_>) -> rusqlite::Result<Block> {
    block_cols(row, 0, 1)
}

fn family_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<AddressFamily> {
    match row.get::<_, i64>(idx)? {
        4 => Ok(AddressFamily::Ipv4),
        6 => Ok(AddressFamily::Ipv6),
        other => Err(rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Integer,
            format!("unknown address family {other}").into(),
        )),
    }
}

pub(super) fn family_num(family: AddressFamily) -> i64 {
    match family {
        AddressFamily::Ipv4 => 4,
        AddressFamily::Ipv6 => 6,
    }
}

fn tags_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Tags> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn strings_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn cidrs_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<IpNet>> {
    strings_col(row, idx)?
        .iter()
        .map(|text| {
            text.parse::<IpNet>().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
            })
        })
        .collect()
}

pub(super) fn cidrs_json(cidrs: &[IpNet]) -> String {
    let texts: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
    strings_json(&texts)
}

pub(super) fn tags_json(tags: &Tags) -> String {
    serde_json::to_string(tags).expect("string maps serialize")
}

pub(super) fn strings_json(values: &[String]) -> String {
    serde_json::to_string(values).expect("string lists serialize")
}

/// An IPAM as `IPAM_INSERT` and `IPAM_UPDATE` bind it.
pub(super) fn ipam_params(ipam: &Ipam) -> impl rusqlite::Params + '_ {
    (
        &ipam.id,
        &ipam.description,
        strings_json(&ipam.operating_regions),
        tags_json(&ipam.tags),
        &ipam.created_at,
        &ipam.updated_at,
    )
}

/// A scope as `SCOPE_INSERT` and `SCOPE_UPDATE` bind it.
pub(super) fn scope_params(scope: &Scope) -> impl rusqlite::Params + '_ {
    (
        &scope.id,
        &scope.ipam_id,
        scope.kind.as_str(),
        &scope.description,
        tags_json(&scope.tags),
        scope.is_default,
        &scope.created_at,
        &scope.updated_at,
    )
}

/// A pool as `POOL_INSERT` and `POOL_UPDATE` bind it.
pub(super) fn pool_params(pool: &Pool) -> impl rusqlite::Params + '_ {
    // more columns than rusqlite's tuples bind: one boxed value per parameter, in order
    let cooldown = pool.release_cooldown;
    let values: [Box<dyn rusqlite::ToSql + '_>; 19] = [
        Box::new(&pool.id),
        Box::new(&pool.scope_id),
        Box::new(&pool.source_pool_id),
        Box::new(family_num(pool.address_family)),
        Box::new(&pool.locale),
        Box::new(&pool.description),
        Box::new(pool.netmask.min),
        Box::new(pool.netmask.max),
        Box::new(pool.netmask.default),
        Box::new(tags_json(&pool.allocation_resource_tags)),
        Box::new(pool.auto_import),
        Box::new(pool.publicly_advertisable),
        Box::new(tags_json(&pool.tags)),
        Box::new(pool.depth),
        Box::new(&pool.created_at),
        Box::new(&pool.updated_at),
        Box::new(pool.utilization_warning_threshold),
        Box::new(cooldown.map(|c| i64::try_from(c.seconds).unwrap_or(i64::MAX))),
        Box::new(cooldown.map(|c| c.mode.as_str())),
    ];
    rusqlite::params_from_iter(values)
}

/// `pool_select!` columns.
pub(super) fn pool_row(row: &Row<'_>) -> rusqlite::Result<StoredPool> {
    Ok(StoredPool {
        key: row.get(0)?,
        pool: Pool {
            id: row.get(1)?,
            scope_id: row.get(2)?,
            source_pool_id: row.get(3)?,
            address_family: family_col(row, 4)?,
            locale: row.get(5)?,
            description: row.get(6)?,
            netmask: NetmaskRule {
                min: row.get(7)?,
                max: row.get(8)?,
                default: row.get(9)?,
            },
            allocation_resource_tags: tags_col(row, 10)?,
            auto_import: row.get(11)?,
            publicly_advertisable: row.get(12)?,
            tags: tags_col(row, 13)?,
            depth: row.get(14)?,
            created_at: row.get(15)?,
            updated_at: row.get(16)?,
            utilization_warning_threshold: row.get(17)?,
            release_cooldown: cooldown_cols(row, 18, 19)?,
        },
    })
}

/// A release cooldown from its seconds and mode columns (`NULL` seconds: none).
fn cooldown_cols(
    row: &Row<'_>,
    seconds: usize,
    mode: usize,
) -> rusqlite::Result<Option<ReleaseCooldown>> {
    Ok(cooldown_from_columns(
        row.get(seconds)?,
        row.get::<_, Option<String>>(mode)?.as_deref(),
    ))
}

/// `pool_cidr_select!` columns.
pub(super) fn pool_cidr_row(row: &Row<'_>) -> rusqlite::Result<StoredPoolCidr> {
    let family = family_col(row, 2)?;
    let block = block_cols(row, 3, 4)?;
    Ok(StoredPoolCidr {
        pool_key: row.get(7)?,
        block,
        pool_cidr: PoolCidr {
            id: row.get(0)?,
            pool_id: row.get(1)?,
            cidr: block.to_net(family),
            parent_allocation_id: row.get(5)?,
            created_at: row.get(6)?,
        },
    })
}

/// `allocation_select!` columns.
pub(super) fn allocation_row(row: &Row<'_>) -> rusqlite::Result<StoredAllocation> {
    let family = family_col(row, 2)?;
    let block = block_cols(row, 3, 4)?;
    Ok(StoredAllocation {
        pool_key: row.get(10)?,
        block,
        allocation: Allocation {
            id: row.get(0)?,
            pool_id: row.get(1)?,
            cidr: block.to_net(family),
            name: row.get(12)?,
            description: row.get(5)?,
            tags: tags_col(row, 6)?,
            child_pool_cidr_id: row.get(7)?,
            disallowed_cidrs: cidrs_col(row, 11)?,
            created_at: format_millis(row.get(8)?),
            updated_at: format_millis(row.get(9)?),
        },
    })
}

/// `reservation_select!` columns.
pub(super) fn reservation_row(row: &Row<'_>) -> rusqlite::Result<StoredReservation> {
    Ok(StoredReservation {
        pool_key: row.get(0)?,
        name: row.get(1)?,
        block: block_cols(row, 2, 3)?,
        expires_at_millis: row.get(4)?,
        lost: row.get(5)?,
    })
}

/// Id, start, prefix length, child pool CIDR id.
pub(super) fn span_row(row: &Row<'_>) -> rusqlite::Result<AllocationSpan> {
    Ok(AllocationSpan {
        id: row.get(0)?,
        block: block_cols(row, 1, 2)?,
        child_pool_cidr_id: row.get(3)?,
    })
}

/// `ipam_select!` columns.
pub(super) fn ipam_row(row: &Row<'_>) -> rusqlite::Result<Ipam> {
    Ok(Ipam {
        id: row.get(0)?,
        description: row.get(1)?,
        operating_regions: strings_col(row, 2)?,
        tags: tags_col(row, 3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        private_default_scope_id: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
        public_default_scope_id: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
        scope_count: row.get::<_, i64>(8)? as u64,
    })
}

/// `scope_select!` columns.
pub(super) fn scope_row(row: &Row<'_>) -> rusqlite::Result<Scope> {
    let kind: String = row.get(2)?;
    Ok(Scope {
        id: row.get(0)?,
        ipam_id: row.get(1)?,
        kind: if kind == "public" {
            ScopeKind::Public
        } else {
            ScopeKind::Private
        },
        description: row.get(3)?,
        tags: tags_col(row, 4)?,
        is_default: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        pool_count: row.get::<_, i64>(8)? as u64,
    })
}

/// `AUDIT_SELECT` columns.
pub(super) fn audit_row(row: &Row<'_>) -> rusqlite::Result<AuditEvent> {
    let cidr: Option<String> = row.get(5)?;
    Ok(AuditEvent {
        sequence: row.get(0)?,
        at: format_millis(row.get(1)?),
        actor: row.get(2)?,
        action: row.get(3)?,
        object_id: row.get(4)?,
        cidr: cidr.and_then(|c| c.parse().ok()),
        details: row.get(6)?,
    })
}
