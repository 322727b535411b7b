//! Every SQL statement of the PostgreSQL backend, named (the tables are in `schema`). They run
//! with `search_path` set to the backend's schema; each connection prepares each statement once.

// --- opening and migrations
pub(super) const MIGRATION_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext('terraform-provider-ipam migrate ' || $1))";
pub(super) const SCHEMA_VERSION_TABLE: &str = "SELECT EXISTS (SELECT 1 FROM pg_tables \
     WHERE schemaname = $1 AND tablename = 'schema_version')";
pub(super) const SCHEMA_VERSION_CREATE: &str =
    "CREATE TABLE schema_version (version integer NOT NULL); INSERT INTO schema_version VALUES (0)";
pub(super) const SCHEMA_VERSION_READ: &str = "SELECT version FROM schema_version";
pub(super) const SCHEMA_VERSION_WRITE: &str = "UPDATE schema_version SET version = $1";
pub(super) const META_KEY_INSERT: &str =
    "INSERT INTO meta (name, value) VALUES ('allocation_id_key', $1)";
pub(super) const META_ALLOCATION_ID_KEY: &str =
    "SELECT value FROM meta WHERE name = 'allocation_id_key'";

// --- transactions (simple-query batches, one round trip each; `{lock}` is the audit lock key)
/// A write transaction takes the audit lock in shared mode before anything else (see
/// `connection`): writers never wait for each other on it. Under it, it draws the sequence
/// number of its first audit event (an allocation's id derives from it): drawn here, it costs
/// no round trip of its own. A transaction that appends no event leaves a gap in the
/// numbering, as a rolled-back one does.
pub(super) const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED; \
     SELECT pg_advisory_xact_lock_shared({lock}); SELECT nextval('audit_sequence')";
pub(super) const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
/// Reading the audit log waits until every write transaction that may hold a sequence number
/// has ended, and reads in a snapshot taken after that.
pub(super) const BEGIN_AUDIT_READ: &str =
    "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; SELECT pg_advisory_xact_lock({lock})";
pub(super) const COMMIT: &str = "COMMIT";
pub(super) const ROLLBACK: &str = "ROLLBACK";

// --- free blocks
pub(super) const FREE_INSERT: &str =
    "INSERT INTO free_blocks (pool_num, prefix_len, start) VALUES ($1, $2, $3)";
pub(super) const FREE_DELETE: &str =
    "DELETE FROM free_blocks WHERE pool_num = $1 AND prefix_len = $2 AND start = $3";
pub(super) const FREE_EXISTS: &str =
    "SELECT 1 FROM free_blocks WHERE pool_num = $1 AND prefix_len = $2 AND start = $3";
pub(super) const FREE_BEST_FIT: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = $1 AND prefix_len <= $2 ORDER BY prefix_len DESC, start LIMIT 1";
pub(super) const FREE_BEST_FIT_SAME_LEN_AFTER: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = $1 AND prefix_len = $2 AND start > $3 ORDER BY prefix_len DESC, start LIMIT 1";
pub(super) const FREE_BEST_FIT_SHORTER: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = $1 AND prefix_len < $2 ORDER BY prefix_len DESC, start LIMIT 1";
pub(super) const FREE_FIRST_FIT: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = $1 AND prefix_len <= $2 AND start > $3 ORDER BY start LIMIT 1";
pub(super) const FREE_SHORTEST_LEN: &str =
    "SELECT min(prefix_len) FROM free_blocks WHERE pool_num = $1";
pub(super) const FREE_LOWEST_OF_LEN: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = $1 AND prefix_len = $2 ORDER BY prefix_len DESC, start LIMIT 1";
pub(super) const FREE_IN_RANGE: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = $1 AND start BETWEEN $2 AND $3 ORDER BY start";
pub(super) const FREE_DELETE_RANGE: &str =
    "DELETE FROM free_blocks WHERE pool_num = $1 AND start BETWEEN $2 AND $3";

// --- cooling blocks (released, not yet handed out again)
pub(super) const COOLING_INSERT: &str =
    "INSERT INTO cooling_blocks (pool_num, start, prefix_len, until) VALUES ($1, $2, $3, $4)";
pub(super) const COOLING_IN_RANGE: &str = "SELECT start, prefix_len, until FROM cooling_blocks \
     WHERE pool_num = $1 AND start BETWEEN $2 AND $3 ORDER BY start";
pub(super) const COOLING_DELETE_RANGE: &str =
    "DELETE FROM cooling_blocks WHERE pool_num = $1 AND start BETWEEN $2 AND $3";

// --- IPAMs and scopes
pub(super) const IPAM_INSERT: &str =
    "INSERT INTO ipams (id, description, operating_regions, tags, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $5)";
macro_rules! ipam_select {
    () => {
        "SELECT id, description, operating_regions, tags, created_at, updated_at, \
     (SELECT id FROM scopes s WHERE s.ipam_id = i.id AND s.is_default AND s.kind = 'private'), \
     (SELECT id FROM scopes s WHERE s.ipam_id = i.id AND s.is_default AND s.kind = 'public'), \
     (SELECT count(*) FROM scopes s WHERE s.ipam_id = i.id) FROM ipams i"
    };
}
pub(super) const IPAM_BY_ID: &str = concat!(ipam_select!(), " WHERE i.id = $1");
pub(super) const IPAMS: &str = concat!(ipam_select!(), " ORDER BY i.id");
pub(super) const IPAM_UPDATE: &str = "UPDATE ipams SET description = $2, operating_regions = $3, \
     tags = $4, updated_at = $5 WHERE id = $1";
pub(super) const IPAM_DELETE: &str = "DELETE FROM ipams WHERE id = $1";

pub(super) const SCOPE_INSERT: &str = "INSERT INTO scopes (id, ipam_id, kind, description, tags, \
     is_default, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
macro_rules! scope_select {
    () => {
        "SELECT id, ipam_id, kind, description, tags, is_default, created_at, updated_at, \
     (SELECT count(*) FROM pools p WHERE p.scope_id = s.id) FROM scopes s"
    };
}
pub(super) const SCOPE_BY_ID: &str = concat!(scope_select!(), " WHERE s.id = $1");
pub(super) const SCOPES_OF_IPAM: &str = concat!(
    scope_select!(),
    " WHERE s.ipam_id = $1 ORDER BY s.is_default DESC, s.kind, s.id"
);
pub(super) const SCOPE_UPDATE: &str =
    "UPDATE scopes SET description = $2, tags = $3, updated_at = $4 WHERE id = $1";
pub(super) const SCOPE_DELETE: &str = "DELETE FROM scopes WHERE id = $1";

// --- pools
pub(super) const POOL_INSERT: &str = "INSERT INTO pools (id, scope_id, source_pool_id, family, \
     locale, description, min_netmask_length, max_netmask_length, default_netmask_length, \
     allocation_resource_tags, auto_import, publicly_advertisable, tags, depth, created_at, \
     updated_at, utilization_warning_threshold, release_cooldown_seconds, release_cooldown_mode) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17, $18)";
macro_rules! pool_select {
    () => {
        "SELECT num, id, scope_id, source_pool_id, family, locale, description, \
     min_netmask_length, max_netmask_length, default_netmask_length, allocation_resource_tags, \
     auto_import, publicly_advertisable, tags, depth, created_at, updated_at, \
     utilization_warning_threshold, release_cooldown_seconds, release_cooldown_mode FROM pools"
    };
}
pub(super) const POOL_BY_ID: &str = concat!(pool_select!(), " WHERE id = $1");
pub(super) const POOLS: &str = concat!(pool_select!(), " ORDER BY id");
pub(super) const POOLS_IN_SCOPE: &str = concat!(pool_select!(), " WHERE scope_id = $1 ORDER BY id");
pub(super) const POOL_UPDATE: &str = "UPDATE pools SET description = $2, min_netmask_length = $3, \
     max_netmask_length = $4, default_netmask_length = $5, allocation_resource_tags = $6, \
     auto_import = $7, publicly_advertisable = $8, tags = $9, updated_at = $10, \
     utilization_warning_threshold = $11, release_cooldown_seconds = $12, \
     release_cooldown_mode = $13 WHERE id = $1";
pub(super) const POOL_FAMILY: &str = "SELECT family FROM pools WHERE num = $1";
pub(super) const POOL_CHILD_IDS: &str =
    "SELECT id FROM pools WHERE source_pool_id = $1 ORDER BY id";
pub(super) const POOL_DELETE: &str = "DELETE FROM pools WHERE id = $1";

/// Serialises the writers of one pool until the transaction ends (`$1`: the schema's lock
/// space, `$2`: the pool).
pub(super) const POOL_LOCK: &str = "SELECT pg_advisory_xact_lock($1, $2)";
/// The same lock, held by the session across a rerun of the transaction.
pub(super) const POOL_LOCK_SESSION: &str = "SELECT pg_advisory_lock($1, $2)";
pub(super) const POOL_UNLOCK_ALL: &str = "SELECT pg_advisory_unlock_all()";

// --- pool CIDRs
pub(super) const POOL_CIDR_INSERT: &str =
    "INSERT INTO pool_cidrs (id, pool_num, scope_id, family, \
     is_top_level, start, prefix_len, cidr, parent_allocation_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::cidr, $9, $10)";
macro_rules! pool_cidr_select {
    () => {
        "SELECT c.id, p.id, p.family, c.start, c.prefix_len, c.parent_allocation_id, \
     c.created_at, c.pool_num FROM pool_cidrs c JOIN pools p ON p.num = c.pool_num"
    };
}
pub(super) const POOL_CIDR_BY_ID: &str = concat!(pool_cidr_select!(), " WHERE c.id = $1");
pub(super) const POOL_CIDRS_OF_POOL: &str = concat!(
    pool_cidr_select!(),
    " WHERE c.pool_num = $1 ORDER BY c.start"
);
pub(super) const POOL_CIDRS: &str = concat!(pool_cidr_select!(), " ORDER BY c.id");
pub(super) const POOL_CIDR_AT_OR_BEFORE: &str = "SELECT id, start, prefix_len FROM pool_cidrs \
     WHERE pool_num = $1 AND start <= $2 ORDER BY start DESC LIMIT 1";
pub(super) const POOL_CIDR_TOP_LEVEL_AT_OR_BEFORE: &str = "SELECT c.start, c.prefix_len, p.id \
     FROM pool_cidrs c JOIN pools p ON p.num = c.pool_num WHERE c.scope_id = $1 \
     AND c.family = $2 AND c.is_top_level AND c.start <= $3 ORDER BY c.start DESC LIMIT 1";
pub(super) const POOL_CIDR_DELETE: &str = "DELETE FROM pool_cidrs WHERE id = $1";

// --- allocations
pub(super) const ALLOCATION_INSERT: &str = "INSERT INTO allocations (sequence, pool_num, start, \
     prefix_len, cidr, description, tags, child_pool_cidr_id, disallowed_cidrs, created_at, \
     updated_at, name) VALUES ($1, $2, $3, $4, $5::text::cidr, $6, $7, $8, $9, $10, $10, $11)";
macro_rules! allocation_select {
    () => {
        "SELECT a.sequence, p.id, p.family, a.start, a.prefix_len, a.description, a.tags, \
     a.child_pool_cidr_id, a.created_at, a.updated_at, a.pool_num, a.disallowed_cidrs, a.name, \
     a.legacy_id FROM allocations a JOIN pools p ON p.num = a.pool_num"
    };
}
pub(super) const ALLOCATION_BY_SEQUENCE: &str = concat!(
    allocation_select!(),
    " WHERE a.sequence = $1 AND a.legacy_id IS NULL"
);
/// An allocation made by the oldest provider, by its random id.
pub(super) const ALLOCATION_BY_LEGACY_ID: &str =
    concat!(allocation_select!(), " WHERE a.legacy_id = $1");
pub(super) const ALLOCATIONS_OF_POOL: &str = concat!(
    allocation_select!(),
    " WHERE a.pool_num = $1 ORDER BY a.start"
);
pub(super) const ALLOCATION_AT_OR_BEFORE: &str = "SELECT sequence, start, prefix_len, \
     child_pool_cidr_id, legacy_id FROM allocations WHERE pool_num = $1 AND start <= $2 \
     ORDER BY start DESC LIMIT 1";
pub(super) const ALLOCATION_IN_RANGE: &str = "SELECT sequence, start, prefix_len, \
     child_pool_cidr_id, legacy_id FROM allocations WHERE pool_num = $1 \
     AND start BETWEEN $2 AND $3 ORDER BY start";
pub(super) const ALLOCATION_COUNT_IN_RANGE: &str =
    "SELECT count(*) FROM allocations WHERE pool_num = $1 AND start BETWEEN $2 AND $3";
pub(super) const ALLOCATION_ROWS_IN_RANGE: &str = concat!(
    allocation_select!(),
    " WHERE a.pool_num = $1 AND a.start BETWEEN $2 AND $3 ORDER BY a.start LIMIT $4"
);
pub(super) const ALLOCATION_UPDATE: &str = "UPDATE allocations SET description = $3, tags = $4, \
     updated_at = $5, name = $6 WHERE pool_num = $1 AND start = $2";
pub(super) const ALLOCATION_BY_NAME: &str = "SELECT sequence, start, prefix_len, \
     child_pool_cidr_id, legacy_id FROM allocations WHERE pool_num = $1 AND name = $2";
pub(super) const ALLOCATION_DELETE: &str =
    "DELETE FROM allocations WHERE pool_num = $1 AND start = $2";
/// Each allocation with the object of its allocate event (NULL when there is none); the caller
/// compares it with the allocation's id (its legacy id, else the one the sequence gives).
pub(super) const ALLOCATIONS_WITH_ALLOCATE_EVENT: &str = "SELECT a.sequence, e.object_id, \
     a.legacy_id FROM allocations a LEFT JOIN audit_events e ON e.sequence = a.sequence \
     AND e.action = 'allocate'";

// --- reservations
macro_rules! reservation_select {
    () => {
        "SELECT pool_num, name, start, prefix_len, expires_at, lost FROM reservations"
    };
}
pub(super) const RESERVATION_BY_NAME: &str =
    concat!(reservation_select!(), " WHERE pool_num = $1 AND name = $2");
pub(super) const RESERVATIONS_OF_POOL: &str =
    concat!(reservation_select!(), " WHERE pool_num = $1 ORDER BY start");
pub(super) const RESERVATION_HELD_AT_OR_BEFORE: &str = concat!(
    reservation_select!(),
    " WHERE pool_num = $1 AND NOT lost AND start <= $2 ORDER BY start DESC LIMIT 1"
);
pub(super) const RESERVATIONS_EXPIRED: &str = concat!(
    reservation_select!(),
    " WHERE pool_num = $1 AND NOT lost AND expires_at < $2"
);

// --- reads sent ahead (`transaction::PgTx::expect`): the same reads as the statements they
// stand for, with the pool named by its id ($1), as its number is not known when they are sent
// (a missing pool gives NULL: no lock, no rows)
pub(super) const AHEAD_POOL_LOCK: &str =
    "SELECT pg_advisory_xact_lock($2, (SELECT num::int4 FROM pools WHERE id = $1))";
pub(super) const AHEAD_ALLOCATION_BY_NAME: &str = "SELECT sequence, start, prefix_len, \
     child_pool_cidr_id, legacy_id FROM allocations \
     WHERE pool_num = (SELECT num FROM pools WHERE id = $1) AND name = $2";
pub(super) const AHEAD_RESERVATION_BY_NAME: &str = concat!(
    reservation_select!(),
    " WHERE pool_num = (SELECT num FROM pools WHERE id = $1) AND name = $2"
);
pub(super) const AHEAD_RESERVATIONS_EXPIRED: &str = concat!(
    reservation_select!(),
    " WHERE pool_num = (SELECT num FROM pools WHERE id = $1) AND NOT lost AND expires_at < $2"
);
pub(super) const AHEAD_FREE_BEST_FIT: &str = "SELECT start, prefix_len FROM free_blocks \
     WHERE pool_num = (SELECT num FROM pools WHERE id = $1) AND prefix_len <= $2 \
     ORDER BY prefix_len DESC, start LIMIT 1";

pub(super) const RESERVATION_PUT: &str = "INSERT INTO reservations \
     (pool_num, name, start, prefix_len, expires_at, lost) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (pool_num, name) DO UPDATE SET start = EXCLUDED.start, \
     prefix_len = EXCLUDED.prefix_len, expires_at = EXCLUDED.expires_at, lost = EXCLUDED.lost";
pub(super) const RESERVATION_DELETE: &str =
    "DELETE FROM reservations WHERE pool_num = $1 AND name = $2";

// --- audit
pub(super) const AUDIT_NEXT_SEQUENCE: &str = "SELECT nextval('audit_sequence')";
/// `$1` is given for allocate events (the allocation id derives from it), else NULL: the next
/// number of the sequence.
pub(super) const AUDIT_INSERT: &str = "INSERT INTO audit_events (sequence, at, actor, action, \
     object_id, cidr, pool_num, details) \
     VALUES (coalesce($1, nextval('audit_sequence')), $2, $3, $4, $5, $6, $7, $8)";
pub(super) const AUDIT_SELECT: &str = "SELECT sequence, at, actor, action, object_id, cidr, \
     details FROM audit_events WHERE sequence > $1 ORDER BY sequence LIMIT $2";
/// The newest matching events (the caller reverses them); a NULL filter matches everything.
/// `$3` is the pool's key while it exists; `$4` its id, also found as the object or in the
/// details of events appended after it was deleted.
pub(super) const AUDIT_QUERY: &str = "SELECT sequence, at, actor, action, object_id, cidr, \
     details FROM audit_events WHERE sequence > $1 AND ($2::bigint IS NULL OR at >= $2) \
     AND ($4::text IS NULL OR pool_num = $3 OR object_id = $4 \
     OR details::jsonb ->> 'pool_id' = $4) \
     AND ($5::text IS NULL OR object_id = $5) AND ($6::text IS NULL OR actor = $6) \
     AND ($7::text IS NULL OR action = $7) ORDER BY sequence DESC LIMIT $8";
/// Whether an event is about an object (asked only about objects that are missing).
pub(super) const EVENT_ABOUT_OBJECT: &str =
    "SELECT EXISTS (SELECT 1 FROM audit_events WHERE object_id = $1)";
/// The allocate event an allocation id stands for.
pub(super) const ALLOCATE_EVENT_OF: &str = "SELECT EXISTS (SELECT 1 FROM audit_events \
     WHERE sequence = $1 AND action = 'allocate' AND object_id = $2)";
/// Whether the audit log holds anything at all.
pub(super) const ANY_EVENT: &str = "SELECT EXISTS (SELECT 1 FROM audit_events)";

// --- maintenance (`ipam check`): the catalog of the backend's schema, `$1` its name
/// Indexes of the schema that are not valid, ready and live (a failed concurrent build, a
/// broken reindex): the constraints they carry are not enforced.
pub(super) const INVALID_INDEXES: &str = "SELECT c.relname::text FROM pg_index i \
     JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = $1 AND NOT (i.indisvalid AND i.indisready AND i.indislive) ORDER BY 1";
/// Every constraint of the schema's tables: table, name, kind, whether validated.
pub(super) const CONSTRAINTS: &str = "SELECT t.relname::text, con.conname::text, \
     con.contype::text, con.convalidated FROM pg_constraint con \
     JOIN pg_class t ON t.oid = con.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
     WHERE n.nspname = $1 ORDER BY 1, 2";
/// The schema of the `amcheck` extension, when it is installed in the database (the check
/// never installs it).
pub(super) const AMCHECK_SCHEMA: &str = "SELECT n.nspname::text FROM pg_extension e \
     JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'";
/// The B-tree indexes of the schema, for `amcheck`.
pub(super) const BTREE_INDEXES: &str = "SELECT c.oid, c.relname::text FROM pg_index i \
     JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_am am ON am.oid = c.relam WHERE n.nspname = $1 AND am.amname = 'btree' \
     AND i.indisvalid ORDER BY 2";
/// `amcheck`'s structural check of one B-tree index (`$1` its oid), under a share lock that
/// writers do not wait for; `{amcheck}` is the extension's schema, quoted.
pub(super) const BTREE_CHECK: &str = "SELECT {amcheck}.bt_index_check($1::oid::regclass)";
