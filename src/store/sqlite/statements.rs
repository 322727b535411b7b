//! Every SQL statement of the SQLite backend, named (schema and migrations are in `schema`).

pub(super) const FREE_INSERT: &str =
    "INSERT INTO free_blocks (pool_num, prefix_len, start) VALUES (?1, ?2, ?3)";
pub(super) const FREE_DELETE: &str =
    "DELETE FROM free_blocks WHERE pool_num = ?1 AND prefix_len = ?2 AND start = ?3";
pub(super) const FREE_EXISTS: &str =
    "SELECT 1 FROM free_blocks WHERE pool_num = ?1 AND prefix_len = ?2 AND start = ?3";
pub(super) const FREE_BEST_FIT: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len <= ?2 ORDER BY prefix_len DESC, start LIMIT 1";
pub(super) const FREE_BEST_FIT_SAME_LEN_AFTER: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len = ?2 AND start > ?3 ORDER BY start LIMIT 1";
pub(super) const FREE_BEST_FIT_SHORTER: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len < ?2 ORDER BY prefix_len DESC, start LIMIT 1";
pub(super) const FREE_FIRST_FIT: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len <= ?2 AND start > ?3 ORDER BY start LIMIT 1";
pub(super) const FREE_SHORTEST_LEN: &str =
    "SELECT min(prefix_len) FROM free_blocks WHERE pool_num = ?1";
pub(super) const FREE_LOWEST_OF_LEN: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len = ?2 ORDER BY start LIMIT 1";
pub(super) const FREE_IN_RANGE: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3 ORDER BY start";
pub(super) const COOLING_INSERT: &str =
    "INSERT INTO cooling_blocks (pool_num, start, prefix_len, until) VALUES (?1, ?2, ?3, ?4)";
pub(super) const COOLING_IN_RANGE: &str = "SELECT start, prefix_len, until FROM cooling_blocks \
     WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3 ORDER BY start";
pub(super) const COOLING_DELETE_RANGE: &str =
    "DELETE FROM cooling_blocks WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3";
pub(super) const FREE_DELETE_RANGE: &str =
    "DELETE FROM free_blocks WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3";

// The inserts and updates of ipams, scopes and pools bind the same parameters (`rows::*_params`):
// every column in table order, then `created_at` and `updated_at`; an update uses a subset.

pub(super) const IPAM_INSERT: &str =
    "INSERT INTO ipams (id, description, operating_regions, tags, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
macro_rules! ipam_select {
    () => {
        "SELECT id, description, operating_regions, tags, created_at, updated_at, \
     (SELECT id FROM scopes s WHERE s.ipam_id = i.id AND s.is_default = 1 AND s.kind = 'private'), \
     (SELECT id FROM scopes s WHERE s.ipam_id = i.id AND s.is_default = 1 AND s.kind = 'public'), \
     (SELECT count(*) FROM scopes s WHERE s.ipam_id = i.id) FROM ipams i"
    };
}
pub(super) const IPAM_BY_ID: &str = concat!(ipam_select!(), " WHERE i.id = ?1");
pub(super) const IPAMS: &str = concat!(ipam_select!(), " ORDER BY i.id");
pub(super) const IPAM_UPDATE: &str = "UPDATE ipams SET description = ?2, operating_regions = ?3, tags = ?4, updated_at = ?6 WHERE id = ?1";
pub(super) const IPAM_DELETE: &str = "DELETE FROM ipams WHERE id = ?1";

pub(super) const SCOPE_INSERT: &str = "INSERT INTO scopes (id, ipam_id, kind, description, tags, is_default, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
macro_rules! scope_select {
    () => {
        "SELECT id, ipam_id, kind, description, tags, is_default, created_at, updated_at, \
     (SELECT count(*) FROM pools p WHERE p.scope_id = s.id) FROM scopes s"
    };
}
pub(super) const SCOPE_BY_ID: &str = concat!(scope_select!(), " WHERE s.id = ?1");
pub(super) const SCOPES_OF_IPAM: &str = concat!(
    scope_select!(),
    " WHERE s.ipam_id = ?1 ORDER BY s.is_default DESC, s.kind, s.id"
);
pub(super) const SCOPE_UPDATE: &str =
    "UPDATE scopes SET description = ?4, tags = ?5, updated_at = ?8 WHERE id = ?1";
pub(super) const SCOPE_DELETE: &str = "DELETE FROM scopes WHERE id = ?1";

pub(super) const POOL_INSERT: &str = "INSERT INTO pools (id, scope_id, source_pool_id, family, locale, description, \
     min_netmask_length, max_netmask_length, default_netmask_length, allocation_resource_tags, auto_import, \
     publicly_advertisable, tags, depth, created_at, updated_at, utilization_warning_threshold, \
     release_cooldown_seconds, release_cooldown_mode) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)";
macro_rules! pool_select {
    () => {
        "SELECT num, id, scope_id, source_pool_id, family, locale, description, \
     min_netmask_length, max_netmask_length, default_netmask_length, allocation_resource_tags, auto_import, \
     publicly_advertisable, tags, depth, created_at, updated_at, utilization_warning_threshold, \
     release_cooldown_seconds, release_cooldown_mode FROM pools"
    };
}
pub(super) const POOL_BY_ID: &str = concat!(pool_select!(), " WHERE id = ?1");
pub(super) const POOLS: &str = concat!(pool_select!(), " ORDER BY id");
pub(super) const POOLS_IN_SCOPE: &str = concat!(pool_select!(), " WHERE scope_id = ?1 ORDER BY id");
pub(super) const POOL_UPDATE: &str = "UPDATE pools SET description = ?6, min_netmask_length = ?7, max_netmask_length = ?8, \
     default_netmask_length = ?9, allocation_resource_tags = ?10, auto_import = ?11, publicly_advertisable = ?12, \
     tags = ?13, updated_at = ?16, utilization_warning_threshold = ?17, release_cooldown_seconds = ?18, \
     release_cooldown_mode = ?19 WHERE id = ?1";
pub(super) const POOL_CHILD_IDS: &str =
    "SELECT id FROM pools WHERE source_pool_id = ?1 ORDER BY id";
pub(super) const POOL_DELETE: &str = "DELETE FROM pools WHERE id = ?1";

pub(super) const POOL_CIDR_INSERT: &str =
    "INSERT INTO pool_cidrs (id, pool_num, scope_id, family, is_top_level, start, \
     prefix_len, parent_allocation_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
macro_rules! pool_cidr_select {
    () => {
        "SELECT c.id, p.id, p.family, c.start, c.prefix_len, c.parent_allocation_id, \
     c.created_at, c.pool_num FROM pool_cidrs c JOIN pools p ON p.num = c.pool_num"
    };
}
pub(super) const POOL_CIDR_BY_ID: &str = concat!(pool_cidr_select!(), " WHERE c.id = ?1");
pub(super) const POOL_CIDRS_OF_POOL: &str = concat!(
    pool_cidr_select!(),
    " WHERE c.pool_num = ?1 ORDER BY c.start"
);
pub(super) const POOL_CIDRS: &str = concat!(pool_cidr_select!(), " ORDER BY c.id");
pub(super) const POOL_CIDR_AT_OR_BEFORE: &str = "SELECT id, start, prefix_len FROM pool_cidrs \
     WHERE pool_num = ?1 AND start <= ?2 ORDER BY start DESC LIMIT 1";
pub(super) const POOL_CIDR_TOP_LEVEL_AT_OR_BEFORE: &str = "SELECT c.id, c.start, c.prefix_len, p.id FROM pool_cidrs c \
     JOIN pools p ON p.num = c.pool_num \
     WHERE c.scope_id = ?1 AND c.family = ?2 AND c.is_top_level = 1 AND c.start <= ?3 ORDER BY c.start DESC LIMIT 1";
pub(super) const POOL_CIDR_DELETE: &str = "DELETE FROM pool_cidrs WHERE id = ?1";

/// SQL function (registered on every connection) giving an allocation's id from its
/// `legacy_id` and `sequence` columns.
pub(super) const ALLOCATION_ID_FUNCTION: &str = "ipam_allocation_id";

pub(super) const ALLOCATION_INSERT: &str =
    "INSERT INTO allocations (sequence, pool_num, start, prefix_len, description, tags, \
     child_pool_cidr_id, disallowed_cidrs, created_at, updated_at, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?8, ?8, ?10)";
macro_rules! allocation_select {
    () => {
        "SELECT ipam_allocation_id(a.legacy_id, a.sequence), p.id, p.family, a.start, a.prefix_len, \
     a.description, a.tags, a.child_pool_cidr_id, a.created_at, a.updated_at, a.pool_num, a.disallowed_cidrs, a.name \
     FROM allocations a JOIN pools p ON p.num = a.pool_num"
    };
}
pub(super) const ALLOCATION_BY_KEY: &str = concat!(
    allocation_select!(),
    " WHERE a.pool_num = ?1 AND a.start = ?2 AND a.sequence = ?3 AND a.legacy_id IS NULL"
);
pub(super) const ALLOCATION_BY_LEGACY_ID: &str =
    concat!(allocation_select!(), " WHERE a.legacy_id = ?1");
pub(super) const ALLOCATIONS_OF_POOL: &str = concat!(
    allocation_select!(),
    " WHERE a.pool_num = ?1 ORDER BY a.start"
);
/// The allocation made by an audit event: the event names its pool and CIDR.
pub(super) const ALLOCATION_EVENT: &str = "SELECT pool_num, cidr FROM audit_events \
     WHERE sequence = ?1 AND action = 'allocate' AND object_id = ?2";
pub(super) const ALLOCATION_AT_OR_BEFORE: &str =
    "SELECT ipam_allocation_id(legacy_id, sequence), start, prefix_len, child_pool_cidr_id FROM allocations \
     WHERE pool_num = ?1 AND start <= ?2 ORDER BY start DESC LIMIT 1";
pub(super) const ALLOCATION_IN_RANGE: &str =
    "SELECT ipam_allocation_id(legacy_id, sequence), start, prefix_len, child_pool_cidr_id FROM allocations \
     WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3 ORDER BY start";
pub(super) const ALLOCATION_COUNT_IN_RANGE: &str =
    "SELECT count(*) FROM allocations WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3";
pub(super) const ALLOCATION_ROWS_IN_RANGE: &str = concat!(
    allocation_select!(),
    " WHERE a.pool_num = ?1 AND a.start BETWEEN ?2 AND ?3 ORDER BY a.start LIMIT ?4"
);
pub(super) const ALLOCATION_UPDATE: &str =
    "UPDATE allocations SET description = ?3, tags = ?4, updated_at = ?5, name = ?6 \
     WHERE pool_num = ?1 AND start = ?2";
pub(super) const ALLOCATION_BY_NAME: &str =
    "SELECT ipam_allocation_id(legacy_id, sequence), start, prefix_len, child_pool_cidr_id FROM allocations \
     WHERE pool_num = ?1 AND name = ?2";
pub(super) const ALLOCATION_DELETE: &str =
    "DELETE FROM allocations WHERE pool_num = ?1 AND start = ?2";

/// `?1` is NULL (the next sequence) except for allocate events, whose id derives from it.
pub(super) const AUDIT_INSERT: &str =
    "INSERT INTO audit_events (sequence, at, actor, action, object_id, cidr, pool_num, details) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
pub(super) const AUDIT_NEXT_SEQUENCE: &str =
    "SELECT coalesce(max(sequence), 0) + 1 FROM audit_events";
pub(super) const AUDIT_SELECT: &str =
    "SELECT sequence, at, actor, action, object_id, cidr, details FROM audit_events \
     WHERE sequence > ?1 ORDER BY sequence LIMIT ?2";
/// `?3` is the pool's key (NULL once deleted), `?4` its id; events about a pool are those
/// of its allocations, of the pool itself and of its CIDRs. Newest first.
pub(super) const AUDIT_QUERY: &str =
    "SELECT sequence, at, actor, action, object_id, cidr, details FROM audit_events \
     WHERE sequence > ?1 AND (?2 IS NULL OR at >= ?2) \
     AND (?4 IS NULL OR pool_num = ?3 OR object_id = ?4 OR json_extract(details, '$.pool_id') = ?4) \
     AND (?5 IS NULL OR object_id = ?5) AND (?6 IS NULL OR actor = ?6) AND (?7 IS NULL OR action = ?7) \
     ORDER BY sequence DESC LIMIT ?8";
pub(super) const ALLOCATIONS_WITHOUT_AUDIT: &str =
    "SELECT ipam_allocation_id(a.legacy_id, a.sequence) FROM allocations a WHERE NOT EXISTS \
     (SELECT 1 FROM audit_events e WHERE e.sequence = a.sequence AND e.action = 'allocate' \
      AND e.object_id = ipam_allocation_id(a.legacy_id, a.sequence))";

/// The key of the allocation-id permutation (`SequenceIds`), random per database.
pub(super) const META_ALLOCATION_ID_KEY: &str =
    "SELECT value FROM meta WHERE name = 'allocation_id_key'";

macro_rules! reservation_select {
    () => {
        "SELECT pool_num, name, start, prefix_len, expires_at, lost FROM reservations"
    };
}
pub(super) const RESERVATION_BY_NAME: &str =
    concat!(reservation_select!(), " WHERE pool_num = ?1 AND name = ?2");
pub(super) const RESERVATIONS_OF_POOL: &str =
    concat!(reservation_select!(), " WHERE pool_num = ?1 ORDER BY start");
pub(super) const RESERVATION_HELD_AT_OR_BEFORE: &str = concat!(
    reservation_select!(),
    " WHERE pool_num = ?1 AND lost = 0 AND start <= ?2 ORDER BY start DESC LIMIT 1"
);
pub(super) const RESERVATIONS_EXPIRED: &str = concat!(
    reservation_select!(),
    " WHERE pool_num = ?1 AND lost = 0 AND expires_at < ?2"
);
pub(super) const RESERVATION_PUT: &str = "INSERT OR REPLACE INTO reservations \
     (pool_num, name, start, prefix_len, expires_at, lost) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
pub(super) const RESERVATION_DELETE: &str =
    "DELETE FROM reservations WHERE pool_num = ?1 AND name = ?2";
/// An event of the audit log that names this object (any action).
pub(super) const EVENT_ABOUT_OBJECT: &str =
    "SELECT EXISTS (SELECT 1 FROM audit_events WHERE object_id = ?1)";
/// The allocate event an allocation id stands for.
pub(super) const ALLOCATE_EVENT_OF: &str = "SELECT EXISTS (SELECT 1 FROM audit_events \
     WHERE sequence = ?1 AND action = 'allocate' AND object_id = ?2)";
/// Whether the audit log holds anything at all.
pub(super) const ANY_EVENT: &str = "SELECT EXISTS (SELECT 1 FROM audit_events)";
