//! The SQLite schema and its forward-only migrations, run in one transaction at open.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::connection::OpenError;
use crate::ipam::Error;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = 4;

/// Migrations: `MIGRATIONS[i]` takes a database from version `i` to `i + 1`. Never edit a
/// released entry; append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 3: pool utilization warnings (percent, NULL = none)
    r#"
ALTER TABLE pools ADD COLUMN utilization_warning_threshold INTEGER
    CHECK (utilization_warning_threshold BETWEEN 1 AND 100);
-- release cooldown (NULL seconds = none): released blocks stay unused until `until`
ALTER TABLE pools ADD COLUMN release_cooldown_seconds INTEGER;
ALTER TABLE pools ADD COLUMN release_cooldown_mode TEXT
    CHECK (release_cooldown_mode IN ('soft', 'strict'));
CREATE TABLE cooling_blocks (
    pool_num   INTEGER NOT NULL REFERENCES pools(num),
    start      BLOB NOT NULL,
    prefix_len INTEGER NOT NULL,
    until      INTEGER NOT NULL,  -- Unix milliseconds
    PRIMARY KEY (pool_num, start)
) WITHOUT ROWID;
"#,
    // 4: named allocations and the reservations that let a plan show their exact CIDR. The
    // name index is partial: unnamed allocations write no entry.
    r#"
ALTER TABLE allocations ADD COLUMN name TEXT;
CREATE UNIQUE INDEX allocations_by_name ON allocations(pool_num, name) WHERE name IS NOT NULL;
-- space held from a plan to its apply, keyed by (pool, name); a held block (lost = 0) is out
-- of free_blocks like an allocation; lost = 1 marks an expired one whose space went back
CREATE TABLE reservations (
    pool_num   INTEGER NOT NULL REFERENCES pools(num),
    name       TEXT NOT NULL,
    start      BLOB NOT NULL,
    prefix_len INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,  -- Unix milliseconds
    lost       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pool_num, name)
) WITHOUT ROWID;
CREATE INDEX reservations_held_by_start ON reservations(pool_num, start) WHERE lost = 0;
CREATE INDEX reservations_held_by_expiry ON reservations(pool_num, expires_at) WHERE lost = 0;
"#,
];

/// Creates or upgrades the schema in one transaction; refuses a database newer than this build
/// ([`Error::NewerDatabase`]) and leaves it untouched.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    // up to date: take no write lock, so that opening a writable database (e.g. by the `ipam`
    // commands, which only read) never waits for a writer nor holds one up
    let current: u32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(OpenError::Domain(Error::NewerDatabase {
            path: path.display().to_string(),
            found,
            supported: SCHEMA_VERSION,
        }));
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.execute_batch(migration)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}
