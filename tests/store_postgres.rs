//! The PostgreSQL backend on a real, throw-away server (tests/support/postgres.rs): the whole
//! conformance suite unchanged (a fresh database per case; worker processes reconnect by URL),
//! then what only a server has: restarts in the middle of a stream of allocations, connection
//! errors that name host and database, the schema lock and version.

mod support;

use support::postgres::{shared, PgCluster, StopMode, PASSWORD};
use tfipam::store::conformance::StoreFactory;
use tfipam::store::{PostgresStore, Store};

struct Postgres;

impl StoreFactory for Postgres {
    fn create(&self) -> (Box<dyn Store>, String) {
        let url = shared().create_database();
        let store = PostgresStore::connect(&url, "conformance").expect("connect");
        (Box::new(store), url)
    }

    fn open(&self, location: &str, actor: &str) -> Box<dyn Store> {
        Box::new(PostgresStore::connect(location, actor).expect("reconnect"))
    }
}

tfipam::store_conformance_tests!(Postgres);

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tfipam::ipam::{
    AllocationRequest, CooldownMode, NetmaskRule, NewPool, PoolCidrRequest, PoolUpdate,
    ReleaseCooldown,
};

/// A top-level IPv4 pool with `cidr` in the default private scope of a new IPAM: its id.
fn pool_with(store: &dyn Store, cidr: &str) -> String {
    let ipam = store
        .create_ipam(&tfipam::ipam::NewIpam {
            description: "faults".into(),
            operating_regions: vec![],
            tags: Default::default(),
        })
        .expect("ipam");
    let pool = store
        .create_pool(&NewPool {
            scope_id: ipam.private_default_scope_id,
            source_pool_id: None,
            address_family: tfipam::ipam::AddressFamily::Ipv4,
            locale: None,
            description: String::new(),
            netmask: NetmaskRule::default(),
            allocation_resource_tags: Default::default(),
            auto_import: false,
            publicly_advertisable: false,
            tags: Default::default(),
            utilization_warning_threshold: None,
            release_cooldown: None,
        })
        .expect("pool");
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(cidr.parse().expect("cidr")))
        .expect("provision");
    pool.id
}

fn request(pool: &str, netmask_length: u8) -> AllocationRequest {
    AllocationRequest {
        pool_id: pool.to_string(),
        netmask_length: Some(netmask_length),
        ..Default::default()
    }
}

/// The error of connecting to `url`, as a user would read it.
fn connect_error(url: &str) -> String {
    match PostgresStore::connect(url, "faults") {
        Ok(_) => panic!("connecting to {url} should fail"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_server_restarted_mid_stream_loses_nothing_it_confirmed() {
    let cluster = PgCluster::start(&[]);
    let url = cluster.create_database();
    let database = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, "stream").expect("connect"));
    let pool = pool_with(&*store, "10.0.0.0/8");
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<_> = (0..3)
        .map(|t| {
            let (store, pool, stop) = (store.clone(), pool.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    outcomes.push(store.allocate(&request(&pool, 24 + ((t + i) % 5) as u8)));
                    i += 1;
                }
                outcomes
            })
        })
        .collect();
    for mode in [StopMode::Fast, StopMode::Immediate, StopMode::Fast] {
        std::thread::sleep(Duration::from_millis(700));
        cluster.stop(mode);
        std::thread::sleep(Duration::from_millis(400));
        cluster.start_again();
    }
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::SeqCst);
    let outcomes: Vec<_> = streams
        .into_iter()
        .flat_map(|s| s.join().expect("stream thread"))
        .collect();
    let mut committed = 0;
    for outcome in &outcomes {
        match outcome {
            Ok(allocation) => {
                committed += 1;
                let read = store
                    .get_allocation(&allocation.id)
                    .expect("confirmed allocation");
                assert_eq!(read.cidr, allocation.cidr);
            }
            Err(error) => {
                let text = error.to_string();
                assert!(
                    text.contains(&format!("127.0.0.1:{}", cluster.port))
                        && text.contains(&database)
                        && !text.contains(PASSWORD),
                    "a failed call names the server and database, never the password: {text}"
                );
            }
        }
    }
    let failed = outcomes.len() - committed;
    eprintln!("{committed} allocations committed, {failed} failed clearly");
    assert!(committed > 30, "allocation went on around the restarts");
    assert_eq!(
        store.check_consistency().expect("check"),
        Vec::<String>::new()
    );
    let listed = store.list_allocations(&pool).expect("list");
    assert!(listed.len() >= committed);
    store
        .allocate(&request(&pool, 24))
        .expect("allocation continues");
}

#[test]
fn connection_errors_name_host_and_database_never_the_password() {
    let cluster = shared();
    let port = cluster.port;
    let wrong =
        format!("postgres://postgres:not-{PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable");
    let error = connect_error(&wrong);
    assert!(error.contains("password authentication failed"), "{error}");
    assert!(
        error.contains(&format!("database \"postgres\" on 127.0.0.1:{port}")),
        "{error}"
    );
    assert!(!error.contains(PASSWORD), "{error}");

    let error = connect_error(&cluster.url("nosuchdb"));
    assert!(error.contains("\"nosuchdb\" does not exist"), "{error}");
    assert!(
        error.contains(&format!("127.0.0.1:{port}")) && !error.contains(PASSWORD),
        "{error}"
    );

    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = connect_error(&format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{down}/ipam"
    ));
    assert!(
        error.contains(&format!(
            "cannot connect to database \"ipam\" on 127.0.0.1:{down}"
        )) && error.contains("refused")
            && !error.contains(PASSWORD),
        "{error}"
    );

    // the shared cluster runs without TLS
    let error = connect_error(
        &cluster
            .url("postgres")
            .replace("sslmode=disable", "sslmode=require"),
    );
    assert!(
        error.contains(&format!("database \"postgres\" on 127.0.0.1:{port}"))
            && error.to_lowercase().contains("tls")
            && !error.contains(PASSWORD),
        "{error}"
    );

    // the password may come from PGPASSWORD instead of the URL
    std::env::set_var("PGPASSWORD", PASSWORD);
    let url =
        format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable&schema=from_env");
    PostgresStore::connect(&url, "env").expect("password from PGPASSWORD");
}

#[test]
fn first_opens_race_safely_and_a_newer_schema_is_refused() {
    let cluster = shared();
    let url = cluster.create_database();
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::connect(&url, "race").map(|_| ()))
        })
        .collect();
    for open in opens {
        open.join()
            .expect("thread")
            .expect("every first open succeeds");
    }
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let mut admin = cluster.admin(database);
    admin
        .batch_execute("UPDATE ipam.schema_version SET version = 99")
        .expect("pretend a newer provider upgraded it");
    let error = connect_error(&url);
    assert!(
        error.contains("schema version 99") && error.contains("upgrade terraform-provider-ipam"),
        "{error}"
    );
    // another schema in the same database is a separate address space
    let other = url.replace("sslmode=disable", "sslmode=disable&schema=team_b");
    let store = PostgresStore::connect(&other, "b").expect("second schema");
    assert!(store.list_ipams().expect("list").is_empty());
}

#[test]
fn a_version_1_schema_upgrades_in_place_to_cooldowns_thresholds_and_names() {
    let cluster = shared();
    let url = cluster.create_database();
    let (pool, kept) = {
        let store = PostgresStore::connect(&url, "v1").expect("connect");
        let pool = pool_with(&store, "10.0.0.0/24");
        let kept = store.allocate(&request(&pool, 26)).expect("allocate");
        (pool, kept)
    };
    // take the schema back to what version 1 wrote
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    cluster
        .admin(database)
        .batch_execute(
            "DROP INDEX ipam.allocations_by_legacy_id; \
             ALTER TABLE ipam.allocations DROP COLUMN legacy_id; \
             ALTER TABLE ipam.allocations ALTER COLUMN sequence SET NOT NULL; \
             DROP TABLE ipam.reservations; ALTER TABLE ipam.allocations DROP COLUMN name; \
             DROP TABLE ipam.cooling_blocks; \
             ALTER TABLE ipam.pools DROP COLUMN utilization_warning_threshold, \
             DROP COLUMN release_cooldown_seconds, DROP COLUMN release_cooldown_mode; \
             UPDATE ipam.schema_version SET version = 1",
        )
        .expect("downgrade to version 1");

    let store = PostgresStore::connect(&url, "v2").expect("the upgrade runs at open");
    let before = store.get_pool(&pool).expect("pool survives");
    assert_eq!(before.release_cooldown, None);
    assert_eq!(before.utilization_warning_threshold, None);
    assert_eq!(
        store.get_allocation(&kept.id).expect("kept").cidr,
        kept.cidr
    );
    let cooldown = ReleaseCooldown {
        seconds: 3600,
        mode: CooldownMode::Strict,
    };
    let updated = store
        .update_pool(
            &pool,
            &PoolUpdate {
                utilization_warning_threshold: Some(Some(50)),
                release_cooldown: Some(Some(cooldown)),
                ..PoolUpdate::default()
            },
        )
        .expect("set the new columns");
    assert_eq!(updated.release_cooldown, Some(cooldown));
    assert_eq!(updated.utilization_warning_threshold, Some(50));
    // a release now cools down: the block is listed and a strict pool does not hand it out
    store.release_allocation(&kept.id).expect("release");
    let cooling = store.list_cooling_blocks(&pool).expect("cooling");
    assert_eq!(
        cooling.iter().map(|c| c.cidr).collect::<Vec<_>>(),
        vec![kept.cidr]
    );
    let next = store.allocate(&request(&pool, 26)).expect("allocate again");
    assert_ne!(next.cidr, kept.cidr);
    // a warning past 50 %: two /26 of a /24 used, a third pushes it to 75 %
    let warning = store
        .preview_allocation_warning(&request(&pool, 26))
        .expect("preview");
    assert!(warning.is_some(), "{warning:?}");
    // version 3: named allocations and their reservations
    let named = store
        .reserve_allocation(&request(&pool, 28), "web")
        .expect("reserve after the upgrade");
    assert_eq!(
        store
            .allocate_named(&request(&pool, 28), "web", Some(named))
            .expect("allocate the reservation")
            .name
            .as_deref(),
        Some("web")
    );
}

#[test]
fn a_version_3_schema_upgrades_in_place_to_keep_ids_of_the_oldest_provider() {
    let cluster = shared();
    let url = cluster.create_database();
    let (pool, kept) = {
        let store = PostgresStore::connect(&url, "v3").expect("connect");
        let pool = pool_with(&store, "10.0.0.0/24");
        let kept = store.allocate(&request(&pool, 26)).expect("allocate");
        (pool, kept)
    };
    // take the schema back to what version 3 wrote
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let mut admin = cluster.admin(database);
    admin
        .batch_execute(
            "DROP INDEX ipam.allocations_by_legacy_id; \
             ALTER TABLE ipam.allocations DROP COLUMN legacy_id; \
             ALTER TABLE ipam.allocations ALTER COLUMN sequence SET NOT NULL; \
             UPDATE ipam.schema_version SET version = 3",
        )
        .expect("downgrade to version 3");

    let store = PostgresStore::connect(&url, "v4").expect("the upgrade runs at open");
    let version: i32 = admin
        .query_one("SELECT version FROM ipam.schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 4);
    assert_eq!(store.get_allocation(&kept.id).expect("kept"), kept);
    // a row with a random id of the oldest provider is found by it, listed and checked
    let old = "ipam-alloc-00000000000000a1";
    admin
        .batch_execute(&format!(
            "UPDATE ipam.allocations SET legacy_id = '{old}'; \
             UPDATE ipam.audit_events SET object_id = '{old}' WHERE object_id = '{}'",
            kept.id
        ))
        .expect("make the allocation an old one");
    let found = store.get_allocation(old).expect("found by its old id");
    assert_eq!(found.cidr, kept.cidr);
    assert!(store.get_allocation(&kept.id).is_err());
    let listed: Vec<String> = store
        .list_allocations(&pool)
        .expect("list")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, [old]);
    assert_eq!(
        store.check_consistency().expect("check"),
        Vec::<String>::new()
    );
    let next = store
        .allocate(&request(&pool, 26))
        .expect("new ids beside it");
    assert_ne!(next.cidr, kept.cidr);
    store
        .release_allocation(old)
        .expect("release by the old id");
    assert_eq!(
        store.check_consistency().expect("check"),
        Vec::<String>::new()
    );
}
