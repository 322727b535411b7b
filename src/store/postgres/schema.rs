//! The PostgreSQL schema and its forward-only migrations, run at open in one transaction under
//! an advisory lock, so that two first applies cannot race.

use super::client::PgClient as Client;
use super::connection::{storage_error, PgFailure};
use super::statements::{
    META_KEY_INSERT, MIGRATION_LOCK, SCHEMA_VERSION_CREATE, SCHEMA_VERSION_READ,
    SCHEMA_VERSION_TABLE, SCHEMA_VERSION_WRITE,
};
use super::PostgresLocation;
use crate::ipam::{Error, Result};

/// The schema version this build writes (table `schema_version` in the backend's schema).
pub const POSTGRES_SCHEMA_VERSION: u32 = 5;

/// Migrations: `MIGRATIONS[i]` takes a schema from version `i` to `i + 1`. Never edit a released
/// entry; append a new one. They run with `search_path` set to the backend's schema.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
CREATE TABLE ipams (
    id                text PRIMARY KEY,
    description       text NOT NULL,
    operating_regions text NOT NULL,           -- JSON array
    tags              text NOT NULL,           -- JSON object
    created_at        text NOT NULL,
    updated_at        text NOT NULL
);
CREATE TABLE scopes (
    id          text PRIMARY KEY,
    ipam_id     text NOT NULL REFERENCES ipams(id),
    kind        text NOT NULL CHECK (kind IN ('private', 'public')),
    description text NOT NULL,
    tags        text NOT NULL,
    is_default  boolean NOT NULL,
    created_at  text NOT NULL,
    updated_at  text NOT NULL
);
CREATE INDEX scopes_by_ipam ON scopes (ipam_id);
-- num: a compact key for the per-pool tables; a row lock on it serialises one pool's writers
CREATE TABLE pools (
    num                      bigserial PRIMARY KEY,
    id                       text NOT NULL UNIQUE,
    scope_id                 text NOT NULL REFERENCES scopes(id),
    source_pool_id           text REFERENCES pools(id),
    family                   integer NOT NULL CHECK (family IN (4, 6)),
    locale                   text,
    description              text NOT NULL,
    min_netmask_length       integer,
    max_netmask_length       integer,
    default_netmask_length   integer,
    allocation_resource_tags text NOT NULL,
    auto_import              boolean NOT NULL,
    publicly_advertisable    boolean NOT NULL,
    tags                     text NOT NULL,
    depth                    integer NOT NULL,
    created_at               text NOT NULL,
    updated_at               text NOT NULL
);
CREATE INDEX pools_by_scope ON pools (scope_id);
CREATE INDEX pools_by_source ON pools (source_pool_id);
-- start: 16-byte big-endian address (IPv4 in the low 4 bytes), so bytea order is address order
-- for both families; cidr: the same block, for the exclusion constraints and for people
CREATE TABLE pool_cidrs (
    id                   text PRIMARY KEY,
    pool_num             bigint NOT NULL REFERENCES pools(num),
    scope_id             text NOT NULL,
    family               integer NOT NULL,
    is_top_level         boolean NOT NULL,
    start                bytea NOT NULL,
    prefix_len           integer NOT NULL,
    cidr                 cidr NOT NULL,
    parent_allocation_id text,
    created_at           text NOT NULL,
    -- last line of defence: the top-level CIDRs of a scope never overlap
    EXCLUDE USING gist (scope_id WITH =, cidr inet_ops WITH &&) WHERE (is_top_level)
);
CREATE INDEX pool_cidrs_by_pool ON pool_cidrs (pool_num, start);
CREATE INDEX pool_cidrs_top_level ON pool_cidrs (scope_id, family, start) WHERE is_top_level;
CREATE TABLE allocations (
    pool_num           bigint NOT NULL REFERENCES pools(num),
    start              bytea NOT NULL,
    prefix_len         integer NOT NULL,
    cidr               cidr NOT NULL,
    sequence           bigint NOT NULL UNIQUE,   -- the allocate audit event; the id derives from it
    description        text NOT NULL,
    tags               text NOT NULL,
    child_pool_cidr_id text,
    disallowed_cidrs   text NOT NULL,
    created_at         bigint NOT NULL,          -- Unix milliseconds
    updated_at         bigint NOT NULL,
    PRIMARY KEY (pool_num, start),
    -- last line of defence: the live allocations of a pool never overlap
    EXCLUDE USING gist (pool_num WITH =, cidr inet_ops WITH &&)
);
-- the allocator's free-space index: aligned free blocks per pool, in best-fit order
CREATE TABLE free_blocks (
    pool_num   bigint NOT NULL REFERENCES pools(num),
    prefix_len integer NOT NULL,
    start      bytea NOT NULL
);
CREATE UNIQUE INDEX free_blocks_best_fit ON free_blocks (pool_num, prefix_len DESC, start);
CREATE INDEX free_blocks_by_start ON free_blocks (pool_num, start);
CREATE SEQUENCE audit_sequence;
CREATE TABLE audit_events (
    sequence  bigint PRIMARY KEY,
    at        bigint NOT NULL,    -- Unix milliseconds
    actor     text NOT NULL,
    action    text NOT NULL,
    object_id text NOT NULL,
    cidr      text,
    pool_num  bigint,
    details   text NOT NULL
);
"#,
    // 2: pool utilization warnings (percent, NULL = none) and release cooldowns (NULL
    // seconds = none): released blocks stay unused until `until`
    r#"
ALTER TABLE pools ADD COLUMN utilization_warning_threshold integer
    CHECK (utilization_warning_threshold BETWEEN 1 AND 100);
ALTER TABLE pools ADD COLUMN release_cooldown_seconds bigint;
ALTER TABLE pools ADD COLUMN release_cooldown_mode text
    CHECK (release_cooldown_mode IN ('soft', 'strict'));
CREATE TABLE cooling_blocks (
    pool_num   bigint NOT NULL REFERENCES pools(num),
    start      bytea NOT NULL,
    prefix_len integer NOT NULL,
    until      bigint NOT NULL,   -- Unix milliseconds
    PRIMARY KEY (pool_num, start)
);
"#,
    // 3: named allocations and the reservations that let a plan show their exact CIDR. The
    // name index is partial: unnamed allocations write no entry.
    r#"
ALTER TABLE allocations ADD COLUMN name text;
CREATE UNIQUE INDEX allocations_by_name ON allocations (pool_num, name) WHERE name IS NOT NULL;
-- space held from a plan to its apply, keyed by (pool, name); a held block (NOT lost) is out
-- of free_blocks like an allocation; lost marks an expired one whose space went back
CREATE TABLE reservations (
    pool_num   bigint NOT NULL REFERENCES pools(num),
    name       text NOT NULL,
    start      bytea NOT NULL,
    prefix_len integer NOT NULL,
    expires_at bigint NOT NULL,   -- Unix milliseconds
    lost       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (pool_num, name)
);
CREATE INDEX reservations_held_by_start ON reservations (pool_num, start) WHERE NOT lost;
CREATE INDEX reservations_held_by_expiry ON reservations (pool_num, expires_at) WHERE NOT lost;
"#,
    // 4: allocations made by the oldest provider (SQLite schema version 1) keep their random
    // ids when a SQLite database is copied here: such a row has a `legacy_id`, indexed (only
    // those are), and its `sequence` is the allocate event's when the log has one
    r#"
ALTER TABLE allocations ALTER COLUMN sequence DROP NOT NULL;
ALTER TABLE allocations ADD COLUMN legacy_id text;
CREATE UNIQUE INDEX allocations_by_legacy_id ON allocations (legacy_id)
    WHERE legacy_id IS NOT NULL;
"#,
    // 5: the no-overlap constraint of allocations compares two integer ranges instead of
    // `inet_ops` keys. Filled one block at a time in address order, as the allocator fills a
    // pool, a GiST `inet_ops` tree keys each inner page by the common prefix of its entries, so
    // a page that straddles an aligned boundary gets a wide key and an overlap probe visits
    // about one such page per bit level (31 pages at 100,000 /28s, against 1 here; the figures
    // are in docs/performance.md). The ranges are the block's addresses, first to last, split
    // into the low and the high 64 bits (two CIDR blocks overlap exactly when both halves do),
    // each as an `int8range` in unsigned order (sign bit flipped; an upper end at the top is
    // unbounded). The database computes them from `cidr`, so they cannot disagree with it.
    r#"
ALTER TABLE allocations
    ADD COLUMN addr_low int8range GENERATED ALWAYS AS (int8range(
        ('x' || encode(substring(CASE family(cidr) WHEN 4 THEN '\x000000000000000000000000'::bytea
            ELSE ''::bytea END || substring(inet_send(cidr) FROM 5) FROM 9 FOR 8), 'hex'))
            ::bit(64)::bigint # (-9223372036854775808),
        NULLIF(('x' || encode(substring(CASE family(broadcast(cidr)) WHEN 4 THEN '\x000000000000000000000000'::bytea
            ELSE ''::bytea END || substring(inet_send(broadcast(cidr)) FROM 5) FROM 9 FOR 8), 'hex'))
            ::bit(64)::bigint # (-9223372036854775808), 9223372036854775807) + 1)) STORED,
    ADD COLUMN addr_high int8range GENERATED ALWAYS AS (int8range(
        ('x' || encode(substring(CASE family(cidr) WHEN 4 THEN '\x000000000000000000000000'::bytea
            ELSE ''::bytea END || substring(inet_send(cidr) FROM 5) FROM 1 FOR 8), 'hex'))
            ::bit(64)::bigint # (-9223372036854775808),
        NULLIF(('x' || encode(substring(CASE family(broadcast(cidr)) WHEN 4 THEN '\x000000000000000000000000'::bytea
            ELSE ''::bytea END || substring(inet_send(broadcast(cidr)) FROM 5) FROM 1 FOR 8), 'hex'))
            ::bit(64)::bigint # (-9223372036854775808), 9223372036854775807) + 1)) STORED;
ALTER TABLE allocations DROP CONSTRAINT allocations_pool_num_cidr_excl;
-- last line of defence: the live allocations of a pool never overlap (the low half first:
-- it is the one that tells blocks apart in IPv4 pools and in IPv6 blocks longer than /64)
ALTER TABLE allocations ADD CONSTRAINT allocations_no_overlap
    EXCLUDE USING gist (pool_num WITH =, addr_low WITH &&, addr_high WITH &&);
"#,
];

/// Creates the schema and the `btree_gist` extension when missing, and upgrades the tables, in
/// one transaction under an advisory lock; refuses a schema newer than this build and leaves
/// it untouched. The allocation-id key is made once, here.
pub(super) fn migrate(client: &mut Client, location: &PostgresLocation) -> Result<()> {
    let describe = || location.describe();
    let fail = |e: postgres::Error| storage_error(&PgFailure::of(&e), &e, &describe());
    let mut tx = client.transaction().map_err(fail)?;
    tx.execute(MIGRATION_LOCK, &[&location.schema])
        .map_err(fail)?;
    let schema = quote_ident(&location.schema);
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema}, pg_catalog"
    ))
    .map_err(fail)?;
    tx.batch_execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        .map_err(|e| Error::Storage {
            message: format!(
                "cannot create the PostgreSQL extension btree_gist in {} ({}): the exclusion constraints need it; ask a database owner to run CREATE EXTENSION btree_gist in that database",
                describe(),
                e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())
            ),
        })?;
    let exists: bool = tx
        .query_one(SCHEMA_VERSION_TABLE, &[&location.schema])
        .map_err(fail)?
        .get(0);
    let found: u32 = if exists {
        let version: i32 = tx.query_one(SCHEMA_VERSION_READ, &[]).map_err(fail)?.get(0);
        version as u32
    } else {
        tx.batch_execute(SCHEMA_VERSION_CREATE).map_err(fail)?;
        0
    };
    if found > POSTGRES_SCHEMA_VERSION {
        return Err(Error::NewerDatabase {
            path: format!("schema \"{}\" of {}", location.schema, describe()),
            found,
            supported: POSTGRES_SCHEMA_VERSION,
        });
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.batch_execute(migration).map_err(fail)?;
    }
    if found < POSTGRES_SCHEMA_VERSION {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|e| Error::Storage {
            message: format!("no random numbers for the allocation-id key: {e}"),
        })?;
        if found == 0 {
            tx.execute(META_KEY_INSERT, &[&&key[..]]).map_err(fail)?;
        }
        tx.execute(SCHEMA_VERSION_WRITE, &[&(POSTGRES_SCHEMA_VERSION as i32)])
            .map_err(fail)?;
    }
    tx.commit().map_err(fail)
}

/// Whether the schema of `location` holds this build's tables, changing nothing: `false` when
/// it has none (not created yet); an error when its version is not this build's.
pub(super) fn exists(client: &mut Client, location: &PostgresLocation) -> Result<bool> {
    let describe = || location.describe();
    let fail = |e: postgres::Error| storage_error(&PgFailure::of(&e), &e, &describe());
    let exists: bool = client
        .query_one(SCHEMA_VERSION_TABLE, &[&location.schema])
        .map_err(fail)?
        .get(0);
    if !exists {
        return Ok(false);
    }
    let found: i32 = client
        .query_one(SCHEMA_VERSION_READ, &[])
        .map_err(fail)?
        .get(0);
    let found = found as u32;
    if found > POSTGRES_SCHEMA_VERSION {
        return Err(Error::NewerDatabase {
            path: format!("schema \"{}\" of {}", location.schema, describe()),
            found,
            supported: POSTGRES_SCHEMA_VERSION,
        });
    }
    if found < POSTGRES_SCHEMA_VERSION {
        return Err(Error::Storage {
            message: format!(
                "schema \"{}\" of {} is at version {found}, older than this build's {POSTGRES_SCHEMA_VERSION}: run the provider (terraform plan or apply) once to upgrade it",
                location.schema,
                describe()
            ),
        });
    }
    Ok(true)
}

/// A PostgreSQL identifier, quoted.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
