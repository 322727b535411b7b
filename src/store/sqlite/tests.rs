//! SQLite-only facts: query plans, the statement cache, migrations from schema version 1.

use std::path::Path;

use ipnet::IpNet;
use rusqlite::{params, Connection};

use super::connection::PAGE_SIZE;
use super::rows::blob;
use super::schema::{MIGRATIONS, SCHEMA_VERSION};
use super::statements::*;
use super::{SqliteOptions, SqliteStore};
use crate::ipam::{
    AddressFamily, AllocationRequest, AllocationUpdate, Block, Error, NewIpam, NewPool,
    PoolCidrRequest,
};

/// A store at `path` with one IPv4 pool holding `cidr`, and a request for a /28 from it.
fn store_with_pool(path: impl AsRef<Path>, cidr: &str) -> (SqliteStore, AllocationRequest) {
    store_with_pool_and(path, cidr, SqliteOptions::new("t"))
}

/// [`store_with_pool`] with these options.
fn store_with_pool_and(
    path: impl AsRef<Path>,
    cidr: &str,
    options: SqliteOptions,
) -> (SqliteStore, AllocationRequest) {
    let store = SqliteStore::open(path, options).unwrap();
    let ipam = store.create_ipam(&NewIpam::default()).unwrap();
    let pool = store
        .create_pool(&NewPool::new(
            &ipam.private_default_scope_id,
            AddressFamily::Ipv4,
        ))
        .unwrap();
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(cidr.parse().unwrap()))
        .unwrap();
    let request = AllocationRequest {
        pool_id: pool.id,
        netmask_length: Some(28),
        ..Default::default()
    };
    (store, request)
}

mod query_plan_tests {
    use super::*;

    /// The allocator's per-request queries must be index look-ups (cost log N), never scans
    /// or sorts of a pool's rows.
    #[test]
    fn hot_queries_use_indexes_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(dir.path().join("plan.db"), SqliteOptions::new("test")).unwrap();
        let conn = store.backend().lock();
        let blob = blob(1).to_vec();
        let queries: &[(&str, &[&dyn rusqlite::ToSql])] = &[
            (FREE_BEST_FIT, &[&1, &28]),
            (FREE_BEST_FIT_SAME_LEN_AFTER, &[&1, &28, &blob]),
            (FREE_BEST_FIT_SHORTER, &[&1, &28]),
            (FREE_EXISTS, &[&1, &28, &blob]),
            (FREE_DELETE, &[&1, &28, &blob]),
            (POOL_CIDR_AT_OR_BEFORE, &[&1, &blob]),
            (POOL_CIDR_TOP_LEVEL_AT_OR_BEFORE, &[&"s", &4, &blob]),
            (ALLOCATION_AT_OR_BEFORE, &[&1, &blob]),
            (ALLOCATION_DELETE, &[&1, &blob]),
            (ALLOCATION_EVENT, &[&1, &"ipam-alloc-0"]),
            (AUDIT_NEXT_SEQUENCE, &[]),
            (ALLOCATION_BY_KEY, &[&1, &blob, &1]),
            (ALLOCATION_BY_LEGACY_ID, &[&"ipam-alloc-0"]),
        ];
        for (sql, params) in queries {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(*params, |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: sorts: {plan}");
            assert!(
                !plan.starts_with("SCAN") || plan.contains("INDEX"),
                "{sql}: scans: {plan}"
            );
        }
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {FREE_BEST_FIT}"))
            .unwrap();
        let plan: String = stmt.query_row(params![1, 28], |row| row.get(3)).unwrap();
        assert!(plan.contains("PRIMARY KEY"), "{plan}");
    }
}
mod reprepare_tests {
    use super::*;

    /// Every allocate and release reuses its prepared statements: no statement of the hot path
    /// is parsed and planned again (which SQLite does per call for range queries unless the
    /// query planner stability guarantee is on).
    #[test]
    fn hot_statements_are_never_reprepared() {
        let dir = tempfile::tempdir().unwrap();
        let (store, request) = store_with_pool(dir.path().join("p.db"), "10.0.0.0/8");
        for _ in 0..50 {
            let allocation = store.allocate(&request).unwrap();
            store.release_allocation(&allocation.id).unwrap();
        }
        let conn = store.backend().lock();
        for sql in [
            FREE_BEST_FIT,
            FREE_EXISTS,
            FREE_DELETE,
            FREE_INSERT,
            ALLOCATION_INSERT,
            ALLOCATION_DELETE,
            AUDIT_INSERT,
            POOL_CIDR_AT_OR_BEFORE,
            AUDIT_NEXT_SEQUENCE,
            ALLOCATION_EVENT,
            POOL_BY_ID,
            ALLOCATION_BY_KEY,
        ] {
            let stmt = conn.prepare_cached(sql).unwrap();
            assert!(
                stmt.get_status(rusqlite::StatementStatus::Run) >= 50,
                "{sql} was not cached"
            );
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "{sql}"
            );
        }
    }
}

mod migration_tests {
    use super::*;

    const V1_TIME: &str = "2026-11-20T08:30:15.250Z";

    /// A database as schema version 1 wrote it: a /8 pool holding two allocations (random ids,
    /// text times), its free blocks and its audit events.
    fn version_1_database(path: &Path) -> (String, String) {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "page_size", PAGE_SIZE).unwrap();
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO ipams VALUES ('ipam-1', '', '[]', '{{}}', '{V1_TIME}', '{V1_TIME}');
             INSERT INTO scopes VALUES ('ipam-scope-1', 'ipam-1', 'private', '', '{{}}', 1, '{V1_TIME}', '{V1_TIME}');
             INSERT INTO pools (num, id, scope_id, family, description, allocation_resource_tags,
                 auto_import, publicly_advertisable, tags, depth, created_at, updated_at)
                 VALUES (1, 'ipam-pool-1', 'ipam-scope-1', 4, '', '{{}}', 0, 0, '{{}}', 0, '{V1_TIME}', '{V1_TIME}');"
        ))
        .unwrap();
        let top: IpNet = "10.0.0.0/8".parse().unwrap();
        conn.execute(
            "INSERT INTO pool_cidrs VALUES ('ipam-pool-cidr-1', 1, 'ipam-scope-1', 4, 1, ?1, 8, NULL, ?2)",
            params![&blob(Block::of(&top).start)[..], V1_TIME],
        )
        .unwrap();
        // 10.0.0.0/24 and 10.0.1.0/24 taken; the rest of the /8 free in aligned blocks
        let ids = ("ipam-alloc-00000000000000a1", "ipam-alloc-00000000000000a2");
        for (id, cidr, sequence) in [(ids.0, "10.0.0.0/24", 1), (ids.1, "10.0.1.0/24", 2)] {
            let net: IpNet = cidr.parse().unwrap();
            conn.execute(
                "INSERT INTO allocations VALUES (1, ?1, 24, ?2, 'old', '{\"team\":\"a\"}', NULL, '[]', ?3, ?3)",
                params![&blob(Block::of(&net).start)[..], id, V1_TIME],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO audit_events VALUES (?1, ?2, 'v1', 'allocate', ?3, ?4, '{}')",
                params![sequence, V1_TIME, id, cidr],
            )
            .unwrap();
        }
        for len in 9..=23u8 {
            let start = 0x0a00_0000u128 + (1u128 << (32 - len));
            conn.execute(
                "INSERT INTO free_blocks VALUES (1, ?1, ?2)",
                params![len, &blob(start)[..]],
            )
            .unwrap();
        }
        (ids.0.to_string(), ids.1.to_string())
    }

    #[test]
    fn version_1_databases_are_migrated_keeping_ids_times_and_audit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let (first, second) = version_1_database(&path);
        let store = SqliteStore::open(&path, SqliteOptions::new("t")).unwrap();
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        let old = store.get_allocation(&first).unwrap();
        assert_eq!(old.cidr.to_string(), "10.0.0.0/24");
        assert_eq!(
            (old.created_at.as_str(), old.updated_at.as_str()),
            (V1_TIME, V1_TIME)
        );
        assert_eq!(old.tags.get("team").map(String::as_str), Some("a"));
        let events = store.audit_events(0, 10).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].at, V1_TIME);
        assert_eq!(events[1].object_id, second);

        // old and new allocations live side by side
        let request = AllocationRequest {
            pool_id: "ipam-pool-1".into(),
            netmask_length: Some(24),
            ..Default::default()
        };
        let new = store.allocate(&request).unwrap();
        assert_eq!(new.cidr.to_string(), "10.0.2.0/24");
        assert_eq!(store.get_allocation(&new.id).unwrap(), new);
        let listed: Vec<String> = store
            .list_allocations("ipam-pool-1")
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(listed, [first.clone(), second.clone(), new.id.clone()]);
        let updated = store
            .update_allocation(
                &second,
                &AllocationUpdate {
                    description: Some("renamed".into()),
                    ..AllocationUpdate::default()
                },
            )
            .unwrap();
        assert_eq!(updated.description, "renamed");
        store.release_allocation(&first).unwrap();
        assert!(matches!(
            store.get_allocation(&first),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    /// The consistency check notices an allocation whose allocate event no longer leads to it.
    #[test]
    fn consistency_check_reports_allocations_their_ids_do_not_reach() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let (store, request) = store_with_pool(&path, "10.0.0.0/24");
        let (first, second) = (
            store.allocate(&request).unwrap(),
            store.allocate(&request).unwrap(),
        );
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        {
            let conn = store.backend().lock();
            conn.execute(
                "UPDATE audit_events SET cidr = '10.0.0.128/28' WHERE object_id = ?1",
                [&first.id],
            )
            .unwrap();
            conn.execute(
                "DELETE FROM audit_events WHERE object_id = ?1",
                [&second.id],
            )
            .unwrap();
        }
        let problems = store.check_consistency().unwrap().join("\n");
        assert!(
            problems.contains(&format!(
                "allocation {} (10.0.0.0/28) is not found by its id",
                first.id
            )),
            "{problems}"
        );
        assert!(
            problems.contains(&format!("allocation {} has no audit event", second.id)),
            "{problems}"
        );
    }

    /// Allocation ids derive from audit sequences: the sequences of other events (the ipam,
    /// its scopes, the pool, ...) give ids of the right shape that name no allocation.
    /// (Released ids and ids never issued are covered by the conformance suite.)
    #[test]
    fn sequences_of_other_events_are_not_allocation_ids() {
        let dir = tempfile::tempdir().unwrap();
        let (store, request) = store_with_pool(dir.path().join("ids.db"), "10.0.0.0/24");
        let allocation = store.allocate(&request).unwrap();
        assert_eq!(store.get_allocation(&allocation.id).unwrap(), allocation);
        for sequence in 1..=5 {
            let id = store.backend().ids.id(sequence);
            assert!(
                matches!(store.get_allocation(&id), Err(Error::NotFound { .. })),
                "{id}"
            );
        }
    }
}

/// Reservation expiry needs a store opened with a short time to live (the conformance factory
/// opens stores with the default), so it is checked here.
mod reservation_expiry_tests {
    use std::time::Duration;

    use super::*;
    use crate::store::Store;

    fn expire() {
        std::thread::sleep(Duration::from_millis(400));
    }

    #[test]
    fn expired_reservations_free_their_space_and_a_stale_plan_says_who_took_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = SqliteOptions::new("t");
        options.reservation_ttl = Duration::from_millis(200);
        let (store, mut whole) =
            store_with_pool_and(dir.path().join("t.db"), "10.0.0.0/24", options);
        whole.netmask_length = Some(24);
        let pool_id = whole.pool_id.clone();
        let planned = store.reserve_allocation(&whole, "web").unwrap();

        // expired and not taken: the same name takes the same block again
        expire();
        assert_eq!(store.reserve_allocation(&whole, "web").unwrap(), planned);

        // expired and taken by another allocation: the stale plan names the block and holder
        expire();
        let taker = store.allocate(&whole).unwrap();
        let error = store.reserve_allocation(&whole, "web").unwrap_err();
        assert!(
            matches!(&error, Error::StalePlan { cidr, holder, .. } if *cidr == planned && *holder == taker.id),
            "{error:?}"
        );
        assert!(error.to_string().contains("run terraform plan again"));
        // reported once: the next plan starts afresh (and finds the pool full)
        assert!(matches!(
            store.reserve_allocation(&whole, "web"),
            Err(Error::Exhausted { .. })
        ));
        // the apply of the stale plan fails the same way
        assert!(matches!(
            store.allocate_named(&whole, "web", Some(planned)),
            Err(Error::StalePlan { .. })
        ));

        // abandoned: after the expiry a preview and an allocation find the space free
        store.release_allocation(&taker.id).unwrap();
        store.reserve_allocation(&whole, "abandoned").unwrap();
        assert!(store.preview_allocation(&whole).is_err());
        expire();
        assert_eq!(store.preview_allocation(&whole).unwrap(), planned);
        assert!(store.list_reservations(&pool_id).unwrap().is_empty());
        assert_eq!(store.allocate(&whole).unwrap().cidr, planned);
        assert!(store.check_consistency().unwrap().is_empty());
    }
}
