//! The SQLite schema, its forward-only migrations and the SQL statements, as named constants.

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = 2;

/// Migrations: `MIGRATIONS[i]` takes a database from version `i` to `i + 1`. Never edit a
/// released entry; append a new one.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE ipams (
    id                TEXT PRIMARY KEY,
    description       TEXT NOT NULL,
    operating_regions TEXT NOT NULL,           -- JSON array
    tags              TEXT NOT NULL,           -- JSON object
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE TABLE scopes (
    id          TEXT PRIMARY KEY,
    ipam_id     TEXT NOT NULL REFERENCES ipams(id),
    kind        TEXT NOT NULL CHECK (kind IN ('private', 'public')),
    description TEXT NOT NULL,
    tags        TEXT NOT NULL,
    is_default  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX scopes_by_ipam ON scopes(ipam_id);
-- num: a compact integer key for the large per-pool tables
CREATE TABLE pools (
    num                      INTEGER PRIMARY KEY,
    id                       TEXT NOT NULL UNIQUE,
    scope_id                 TEXT NOT NULL REFERENCES scopes(id),
    source_pool_id           TEXT REFERENCES pools(id),
    family                   INTEGER NOT NULL CHECK (family IN (4, 6)),
    locale                   TEXT,
    description              TEXT NOT NULL,
    min_netmask_length       INTEGER,
    max_netmask_length       INTEGER,
    default_netmask_length   INTEGER,
    allocation_resource_tags TEXT NOT NULL,
    auto_import              INTEGER NOT NULL,
    publicly_advertisable    INTEGER NOT NULL,
    tags                     TEXT NOT NULL,
    depth                    INTEGER NOT NULL,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
);
CREATE INDEX pools_by_scope ON pools(scope_id);
CREATE INDEX pools_by_source ON pools(source_pool_id);
-- addresses are 16-byte big-endian BLOBs (IPv4 in the low 4 bytes): BLOB order is address order
CREATE TABLE pool_cidrs (
    id                   TEXT PRIMARY KEY,
    pool_num             INTEGER NOT NULL REFERENCES pools(num),
    scope_id             TEXT NOT NULL,
    family               INTEGER NOT NULL,
    is_top_level         INTEGER NOT NULL,
    start                BLOB NOT NULL,
    prefix_len           INTEGER NOT NULL,
    parent_allocation_id TEXT,
    created_at           TEXT NOT NULL
);
CREATE INDEX pool_cidrs_by_pool ON pool_cidrs(pool_num, start);
CREATE INDEX pool_cidrs_top_level ON pool_cidrs(scope_id, family, start) WHERE is_top_level = 1;
-- keyed by (pool, start): one b-tree to write per allocation, and two allocations of a pool
-- can never start at the same address
CREATE TABLE allocations (
    pool_num           INTEGER NOT NULL REFERENCES pools(num),
    start              BLOB NOT NULL,
    prefix_len         INTEGER NOT NULL,
    id                 TEXT NOT NULL UNIQUE,
    description        TEXT NOT NULL,
    tags               TEXT NOT NULL,
    child_pool_cidr_id TEXT,
    disallowed_cidrs   TEXT NOT NULL DEFAULT '[]',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (pool_num, start)
) WITHOUT ROWID;
-- the free-space index of the allocator: aligned free blocks per pool, in best-fit order
-- (longest prefix first, then lowest address); one b-tree, so a commit writes few pages
CREATE TABLE free_blocks (
    pool_num   INTEGER NOT NULL REFERENCES pools(num),
    prefix_len INTEGER NOT NULL,
    start      BLOB NOT NULL,
    PRIMARY KEY (pool_num, prefix_len DESC, start)
) WITHOUT ROWID;
CREATE TABLE audit_events (
    sequence  INTEGER PRIMARY KEY,  -- never deleted, so increasing without AUTOINCREMENT
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    object_id TEXT NOT NULL,
    cidr      TEXT,
    details   TEXT NOT NULL
);
"#,
    // 2: allocations lose their id index (ids derive from the allocate event's sequence, see
    // `SequenceIds`), and the two tables written per allocation keep times as Unix milliseconds:
    // fewer and smaller rows, so fewer pages to write and sync per allocation.
    r#"
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
INSERT INTO meta (name, value) VALUES ('allocation_id_key', randomblob(16));

CREATE TABLE audit_events_v2 (
    sequence  INTEGER PRIMARY KEY,  -- never deleted, so increasing without AUTOINCREMENT
    at        INTEGER NOT NULL,     -- Unix milliseconds
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    object_id TEXT NOT NULL,
    cidr      TEXT,
    pool_num  INTEGER,              -- allocation events: the pool, to find the allocation by id
    details   TEXT NOT NULL
);
INSERT INTO audit_events_v2 (sequence, at, actor, action, object_id, cidr, details)
    SELECT sequence,
           CAST(strftime('%s', at) AS INTEGER) * 1000 + CAST(substr(at, 21, 3) AS INTEGER),
           actor, action, object_id, cidr, details
    FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_v2 RENAME TO audit_events;

-- allocations made before this version keep their random ids, indexed (only they are)
CREATE TABLE allocations_v2 (
    pool_num           INTEGER NOT NULL REFERENCES pools(num),
    start              BLOB NOT NULL,
    prefix_len         INTEGER NOT NULL,
    sequence           INTEGER,     -- the allocate audit event; the id derives from it
    legacy_id          TEXT,        -- the id of an allocation made by schema version 1
    description        TEXT NOT NULL,
    tags               TEXT NOT NULL,
    child_pool_cidr_id TEXT,
    disallowed_cidrs   TEXT NOT NULL DEFAULT '[]',
    created_at         INTEGER NOT NULL,  -- Unix milliseconds
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (pool_num, start)
) WITHOUT ROWID;
CREATE INDEX migration_allocate_events ON audit_events(object_id) WHERE action = 'allocate';
INSERT INTO allocations_v2 (pool_num, start, prefix_len, sequence, legacy_id, description, tags,
                            child_pool_cidr_id, disallowed_cidrs, created_at, updated_at)
    SELECT pool_num, start, prefix_len,
           (SELECT max(e.sequence) FROM audit_events e
            WHERE e.object_id = a.id AND e.action = 'allocate'),
           id, description, tags, child_pool_cidr_id, disallowed_cidrs,
           CAST(strftime('%s', created_at) AS INTEGER) * 1000 + CAST(substr(created_at, 21, 3) AS INTEGER),
           CAST(strftime('%s', updated_at) AS INTEGER) * 1000 + CAST(substr(updated_at, 21, 3) AS INTEGER)
    FROM allocations a;
DROP INDEX migration_allocate_events;
DROP TABLE allocations;
ALTER TABLE allocations_v2 RENAME TO allocations;
CREATE UNIQUE INDEX allocations_by_legacy_id ON allocations(legacy_id) WHERE legacy_id IS NOT NULL;
"#,
];

pub(crate) const FREE_INSERT: &str =
    "INSERT INTO free_blocks (pool_num, start, prefix_len) VALUES (?1, ?2, ?3)";
pub(crate) const FREE_DELETE: &str =
    "DELETE FROM free_blocks WHERE pool_num = ?1 AND prefix_len = ?2 AND start = ?3";
pub(crate) const FREE_EXISTS: &str =
    "SELECT 1 FROM free_blocks WHERE pool_num = ?1 AND prefix_len = ?2 AND start = ?3";
pub(crate) const FREE_BEST_FIT: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len <= ?2 ORDER BY prefix_len DESC, start LIMIT 1";
pub(crate) const FREE_BEST_FIT_SAME_LEN_AFTER: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len = ?2 AND start > ?3 ORDER BY start LIMIT 1";
pub(crate) const FREE_BEST_FIT_SHORTER: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len < ?2 ORDER BY prefix_len DESC, start LIMIT 1";
pub(crate) const FREE_FIRST_FIT: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len <= ?2 AND start > ?3 ORDER BY start LIMIT 1";
pub(crate) const FREE_SHORTEST_LEN: &str =
    "SELECT min(prefix_len) FROM free_blocks WHERE pool_num = ?1";
pub(crate) const FREE_LOWEST_OF_LEN: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND prefix_len = ?2 ORDER BY start LIMIT 1";
pub(crate) const FREE_IN_RANGE: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3 ORDER BY start";
pub(crate) const FREE_DELETE_RANGE: &str =
    "DELETE FROM free_blocks WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3";

pub(crate) const IPAM_INSERT: &str =
    "INSERT INTO ipams (id, description, operating_regions, tags, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
pub(crate) const IPAM_SELECT: &str =
    "SELECT id, description, operating_regions, tags, created_at, updated_at, \
     (SELECT id FROM scopes s WHERE s.ipam_id = i.id AND s.is_default = 1 AND s.kind = 'private'), \
     (SELECT id FROM scopes s WHERE s.ipam_id = i.id AND s.is_default = 1 AND s.kind = 'public'), \
     (SELECT count(*) FROM scopes s WHERE s.ipam_id = i.id) FROM ipams i";
pub(crate) const IPAM_UPDATE: &str = "UPDATE ipams SET description = ?2, operating_regions = ?3, tags = ?4, updated_at = ?5 WHERE id = ?1";
pub(crate) const IPAM_DELETE: &str = "DELETE FROM ipams WHERE id = ?1";

pub(crate) const SCOPE_INSERT: &str = "INSERT INTO scopes (id, ipam_id, kind, description, tags, is_default, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
pub(crate) const SCOPE_SELECT: &str =
    "SELECT id, ipam_id, kind, description, tags, is_default, created_at, updated_at, \
     (SELECT count(*) FROM pools p WHERE p.scope_id = s.id) FROM scopes s";
pub(crate) const SCOPE_UPDATE: &str =
    "UPDATE scopes SET description = ?2, tags = ?3, updated_at = ?4 WHERE id = ?1";
pub(crate) const SCOPE_DELETE: &str = "DELETE FROM scopes WHERE id = ?1";

pub(crate) const POOL_INSERT: &str = "INSERT INTO pools (id, scope_id, source_pool_id, family, locale, description, \
     min_netmask_length, max_netmask_length, default_netmask_length, allocation_resource_tags, auto_import, \
     publicly_advertisable, tags, depth, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)";
pub(crate) const POOL_SELECT: &str = "SELECT num, id, scope_id, source_pool_id, family, locale, description, \
     min_netmask_length, max_netmask_length, default_netmask_length, allocation_resource_tags, auto_import, \
     publicly_advertisable, tags, depth, created_at, updated_at FROM pools";
pub(crate) const POOL_UPDATE: &str = "UPDATE pools SET description = ?2, min_netmask_length = ?3, max_netmask_length = ?4, \
     default_netmask_length = ?5, allocation_resource_tags = ?6, auto_import = ?7, publicly_advertisable = ?8, \
     tags = ?9, updated_at = ?10 WHERE id = ?1";
pub(crate) const POOL_DELETE: &str = "DELETE FROM pools WHERE id = ?1";

pub(crate) const POOL_CIDR_INSERT: &str =
    "INSERT INTO pool_cidrs (id, pool_num, scope_id, family, is_top_level, start, \
     prefix_len, parent_allocation_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
pub(crate) const POOL_CIDR_SELECT: &str =
    "SELECT c.id, p.id, p.family, c.start, c.prefix_len, c.parent_allocation_id, \
     c.created_at, c.pool_num FROM pool_cidrs c JOIN pools p ON p.num = c.pool_num";
pub(crate) const POOL_CIDR_AT_OR_BEFORE: &str = "SELECT id, start, prefix_len FROM pool_cidrs \
     WHERE pool_num = ?1 AND start <= ?2 ORDER BY start DESC LIMIT 1";
pub(crate) const POOL_CIDR_TOP_LEVEL_AT_OR_BEFORE: &str = "SELECT c.id, c.start, c.prefix_len, p.id FROM pool_cidrs c \
     JOIN pools p ON p.num = c.pool_num \
     WHERE c.scope_id = ?1 AND c.family = ?2 AND c.is_top_level = 1 AND c.start <= ?3 ORDER BY c.start DESC LIMIT 1";
pub(crate) const POOL_CIDR_DELETE: &str = "DELETE FROM pool_cidrs WHERE id = ?1";

/// SQL function (registered on every connection) giving an allocation's id from its
/// `legacy_id` and `sequence` columns.
pub(crate) const ALLOCATION_ID_FUNCTION: &str = "ipam_allocation_id";

pub(crate) const ALLOCATION_INSERT: &str =
    "INSERT INTO allocations (sequence, pool_num, start, prefix_len, description, tags, \
     child_pool_cidr_id, disallowed_cidrs, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?8, ?8)";
pub(crate) const ALLOCATION_SELECT: &str = "SELECT ipam_allocation_id(a.legacy_id, a.sequence), p.id, p.family, a.start, a.prefix_len, \
     a.description, a.tags, a.child_pool_cidr_id, a.created_at, a.updated_at, a.pool_num, a.disallowed_cidrs \
     FROM allocations a JOIN pools p ON p.num = a.pool_num";
/// The allocation made by an audit event: the event names its pool and CIDR.
pub(crate) const ALLOCATION_EVENT: &str = "SELECT pool_num, cidr FROM audit_events \
     WHERE sequence = ?1 AND action = 'allocate' AND object_id = ?2";
pub(crate) const ALLOCATION_AT_OR_BEFORE: &str =
    "SELECT ipam_allocation_id(legacy_id, sequence), start, prefix_len, child_pool_cidr_id FROM allocations \
     WHERE pool_num = ?1 AND start <= ?2 ORDER BY start DESC LIMIT 1";
pub(crate) const ALLOCATION_IN_RANGE: &str =
    "SELECT ipam_allocation_id(legacy_id, sequence), start, prefix_len, child_pool_cidr_id FROM allocations \
     WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3 ORDER BY start";
pub(crate) const ALLOCATION_UPDATE: &str =
    "UPDATE allocations SET description = ?3, tags = ?4, updated_at = ?5 \
     WHERE pool_num = ?1 AND start = ?2";
pub(crate) const ALLOCATION_DELETE: &str =
    "DELETE FROM allocations WHERE pool_num = ?1 AND start = ?2";

/// `?1` is NULL (the next sequence) except for allocate events, whose id derives from it.
pub(crate) const AUDIT_INSERT: &str =
    "INSERT INTO audit_events (sequence, at, actor, action, object_id, cidr, pool_num, details) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
pub(crate) const AUDIT_NEXT_SEQUENCE: &str =
    "SELECT coalesce(max(sequence), 0) + 1 FROM audit_events";
pub(crate) const AUDIT_SELECT: &str =
    "SELECT sequence, at, actor, action, object_id, cidr, details FROM audit_events \
     WHERE sequence > ?1 ORDER BY sequence LIMIT ?2";
pub(crate) const ALLOCATIONS_WITHOUT_AUDIT: &str =
    "SELECT ipam_allocation_id(a.legacy_id, a.sequence) FROM allocations a WHERE NOT EXISTS \
     (SELECT 1 FROM audit_events e WHERE e.sequence = a.sequence AND e.action = 'allocate' \
      AND e.object_id = ipam_allocation_id(a.legacy_id, a.sequence))";

// Operator reads (the `ipam` command).

pub(crate) const ALLOCATION_COUNT_IN_RANGE: &str =
    "SELECT count(*) FROM allocations WHERE pool_num = ?1 AND start BETWEEN ?2 AND ?3";
pub(crate) const FREE_OF_POOL: &str =
    "SELECT start, prefix_len FROM free_blocks WHERE pool_num = ?1 ORDER BY start";
/// `?3` is the pool's number (NULL once deleted), `?4` its id; events about a pool are those
/// of its allocations, of the pool itself and of its CIDRs. Newest first.
pub(crate) const AUDIT_QUERY: &str =
    "SELECT sequence, at, actor, action, object_id, cidr, details FROM audit_events \
     WHERE sequence > ?1 AND (?2 IS NULL OR at >= ?2) \
     AND (?4 IS NULL OR pool_num = ?3 OR object_id = ?4 OR json_extract(details, '$.pool_id') = ?4) \
     AND (?5 IS NULL OR object_id = ?5) AND (?6 IS NULL OR actor = ?6) AND (?7 IS NULL OR action = ?7) \
     ORDER BY sequence DESC LIMIT ?8";
