//! The PostgreSQL backend on a real, throw-away server (tests/support/postgres.rs): the whole
//! conformance suite unchanged (a fresh database per case; worker processes reconnect by URL),
//! then what only a server has: restarts in the middle of a stream of allocations, connection
//! errors that name host and database, the schema lock and version, TLS that succeeds (and
//! refuses what it must), and clients on other hosts (network namespaces) sharing one pool.

mod support;

use support::postgres::{shared, ClusterOptions, PgCluster, StopMode, TestCa, PASSWORD};
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
    Allocation, AllocationRequest, CooldownMode, NetmaskRule, NewPool, PoolCidrRequest, PoolUpdate,
    ReleaseCooldown,
};

/// An IPv4 pool of `scope_id` with nothing but its source pool set.
fn ipv4_pool(scope_id: String, source_pool_id: Option<String>) -> NewPool {
    NewPool {
        scope_id,
        source_pool_id,
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
    }
}

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
        .create_pool(&ipv4_pool(ipam.private_default_scope_id, None))
        .expect("pool");
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(cidr.parse().expect("cidr")))
        .expect("provision");
    pool.id
}

/// Takes the schema of a test database from version 5 back to what version 4 wrote: the
/// allocations' overlap constraint on `cidr` with `inet_ops` again, no address ranges.
const DOWNGRADE_TO_4: &str =
    "ALTER TABLE ipam.allocations DROP CONSTRAINT allocations_no_overlap; \
     ALTER TABLE ipam.allocations DROP COLUMN addr_low, DROP COLUMN addr_high; \
     SET search_path TO ipam, public; \
     ALTER TABLE ipam.allocations ADD EXCLUDE USING gist (pool_num WITH =, cidr inet_ops WITH &&); \
     RESET search_path; UPDATE ipam.schema_version SET version = 4";

/// What the version-3 downgrade drops on top of version 4's: the oldest provider's ids.
const DOWNGRADE_4_TO_3: &str = "DROP INDEX ipam.allocations_by_legacy_id; \
     ALTER TABLE ipam.allocations DROP COLUMN legacy_id; \
     ALTER TABLE ipam.allocations ALTER COLUMN sequence SET NOT NULL; ";

/// A new database with one pool (`10.0.0.0/24`) holding one /26, its schema taken back to
/// what version 4 wrote: its URL, an admin client on it, the pool's id and the allocation.
fn a_version_4_database(cluster: &PgCluster) -> (String, postgres::Client, String, Allocation) {
    let url = cluster.create_database();
    let (pool, kept) = {
        let store = PostgresStore::connect(&url, "before").expect("connect");
        let pool = pool_with(&store, "10.0.0.0/24");
        let kept = store.allocate(&request(&pool, 26)).expect("allocate");
        (pool, kept)
    };
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let mut admin = cluster.admin(database);
    admin
        .batch_execute(DOWNGRADE_TO_4)
        .expect("downgrade to version 4");
    (url, admin, pool, kept)
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
    let (url, mut admin, pool, kept) = a_version_4_database(shared());
    // on to what version 1 wrote
    admin
        .batch_execute(&format!(
            "{DOWNGRADE_4_TO_3}\
             DROP TABLE ipam.reservations; ALTER TABLE ipam.allocations DROP COLUMN name; \
             DROP TABLE ipam.cooling_blocks; \
             ALTER TABLE ipam.pools DROP COLUMN utilization_warning_threshold, \
             DROP COLUMN release_cooldown_seconds, DROP COLUMN release_cooldown_mode; \
             UPDATE ipam.schema_version SET version = 1"
        ))
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

/// Asserts that `error` is about `what`, names `host` and the database `database`, and does
/// not contain the password.
fn assert_names(error: &str, host: &str, database: &str, what: &[&str]) {
    assert!(
        error.contains(&format!("database \"{database}\" on {host}")),
        "the error names host and database: {error}"
    );
    assert!(!error.contains(PASSWORD), "no password: {error}");
    for needle in what {
        assert!(error.contains(needle), "the error says {needle:?}: {error}");
    }
}

#[test]
fn tls_connections_work_verify_the_server_and_plain_tcp_is_refused() {
    let ca = TestCa::new("tfipam test CA");
    let wrong_ca = TestCa::new("another CA");
    let files = tempfile::tempdir().expect("a directory for the CA files");
    let root = ca.write(&files.path().join("ca.pem"));
    let wrong_root = wrong_ca.write(&files.path().join("wrong-ca.pem"));
    // the certificate names localhost and 127.0.0.1; the server also listens on 127.0.0.2,
    // an address the certificate does not name
    let cluster = PgCluster::start_with(ClusterOptions {
        tls: Some(ca.server_certificate(&["localhost", "127.0.0.1"])),
        tls_only: true,
        listen: vec!["127.0.0.2".parse().unwrap()],
        ..ClusterOptions::default()
    });
    let port = cluster.port;
    let database = cluster.new_database();

    // sslmode=require: encrypted, the certificate is not checked
    let require = cluster.url_on("127.0.0.1", &database, "sslmode=require");
    let store = PostgresStore::connect(&require, "tls-require").expect("sslmode=require");
    let pool = pool_with(&store, "10.0.0.0/16");
    let first = store.allocate(&request(&pool, 24)).expect("allocate");

    // sslmode=verify-full against our CA, by host name
    let verify = cluster.url_on(
        "localhost",
        &database,
        &format!("sslmode=verify-full&sslrootcert={}", root.display()),
    );
    let verified = PostgresStore::connect(&verify, "tls-verified").expect("sslmode=verify-full");
    let second = verified.allocate(&request(&pool, 24)).expect("allocate");
    assert_ne!(first.cidr, second.cidr);
    assert_eq!(
        verified.list_allocations(&pool).expect("list").len(),
        2,
        "both stores see one address space"
    );
    assert_eq!(
        verified.check_consistency().expect("check"),
        Vec::<String>::new()
    );

    // the server says every session of ours is encrypted (both stores keep theirs open)
    let sessions = cluster
        .admin(&database)
        .query(
            "SELECT s.ssl, coalesce(s.version, '') FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) \
             WHERE a.datname = $1 AND a.application_name = 'terraform-provider-ipam'",
            &[&database],
        )
        .expect("pg_stat_ssl");
    assert!(sessions.len() >= 2, "both stores are connected");
    for session in &sessions {
        let (ssl, version): (bool, String) = (session.get(0), session.get(1));
        assert!(ssl && version.starts_with("TLS"), "{ssl} {version}");
    }

    // a certificate from another CA is refused
    let error = connect_error(&verify.replace(
        &root.display().to_string(),
        &wrong_root.display().to_string(),
    ));
    assert_names(
        &error,
        &format!("localhost:{port}"),
        &database,
        &[
            "not signed by a certificate authority in",
            "wrong-ca.pem",
            "sslrootcert=",
        ],
    );

    // a host the certificate does not name is refused, although the CA is right
    let error = connect_error(&verify.replace("@localhost:", "@127.0.0.2:"));
    assert_names(
        &error,
        &format!("127.0.0.2:{port}"),
        &database,
        &["certificate does not name the host 127.0.0.2"],
    );
    // … and accepted without checks: the server listens there
    PostgresStore::connect(
        &cluster.url_on("127.0.0.2", &database, "sslmode=require"),
        "tls-any-name",
    )
    .expect("sslmode=require does not check the name");

    // plain TCP is refused by a server that only accepts TLS
    let error = connect_error(&cluster.url_on("127.0.0.1", &database, "sslmode=disable"));
    assert_names(
        &error,
        &format!("127.0.0.1:{port}"),
        &database,
        &["no encryption", "use sslmode=verify-full"],
    );
}

/// The databases of one cluster, for the conformance cases that take a factory.
struct OnCluster<'a>(&'a PgCluster);

impl StoreFactory for OnCluster<'_> {
    fn create(&self) -> (Box<dyn Store>, String) {
        let url = self.0.create_database();
        let store = PostgresStore::connect(&url, "conformance").expect("connect");
        (Box::new(store), url)
    }

    fn open(&self, location: &str, actor: &str) -> Box<dyn Store> {
        Box::new(PostgresStore::connect(location, actor).expect("reconnect"))
    }
}

/// Clients on two other hosts (network namespaces joined to this one by veth pairs), four
/// processes on each, allocate into one pool at the same time through the server's address on
/// their link: every allocation made, all disjoint, the database consistent.
#[test]
fn clients_on_two_hosts_allocate_into_one_pool() {
    let namespaces = match support::netns::Namespaces::create(2) {
        Ok(namespaces) => namespaces,
        Err(missing) if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "the test of clients on other hosts cannot run here: {missing}. CI must run the tests \
             as root on a machine with iproute2 (`ip`) and network namespaces"
        ),
        Err(missing) => {
            eprintln!(
                "NOT RUN: clients_on_two_hosts_allocate_into_one_pool needs network namespaces: \
                 {missing} (with CI=true this fails)"
            );
            return;
        }
    };
    let cluster = PgCluster::start_with(ClusterOptions {
        listen: namespaces
            .list
            .iter()
            .map(|n| n.host_address.into())
            .collect(),
        settings: vec!["log_connections=on".to_string()],
        ..ClusterOptions::default()
    });
    let worker =
        tfipam::store::conformance::Worker::new(module_path!(), "conformance_worker_process");
    let place = |index: usize, location: &str| {
        let namespace = &namespaces.list[index % namespaces.list.len()];
        let reached = location.replace(
            &format!("@127.0.0.1:{}/", cluster.port),
            &format!("@{}:{}/", namespace.host_address, cluster.port),
        );
        assert_ne!(reached, location, "the location names the loopback address");
        tfipam::store::conformance::Placement {
            run_under: namespace.run_under(),
            location: reached,
        }
    };
    // the namespaces really are other hosts: the loopback server is not reachable from there
    let probe = std::process::Command::new("ip")
        .args(["netns", "exec", &namespaces.list[0].name])
        .args(["bash", "-c"])
        .arg(format!("exec 3<>/dev/tcp/127.0.0.1/{}", cluster.port))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("probe from the namespace");
    assert!(
        !probe.success(),
        "127.0.0.1 inside a namespace is not this host"
    );
    tfipam::store::conformance::processes_allocate_disjoint_blocks_from(
        &OnCluster(&cluster),
        &worker,
        &place,
    );
    // the server saw clients come from each namespace's own address
    let log = cluster.log();
    for namespace in &namespaces.list {
        assert!(
            log.contains(&format!("connection received: host={}", namespace.address)),
            "no connection from {} ({}) in the server log",
            namespace.address,
            namespace.name
        );
    }
}
#[test]
fn a_version_3_schema_upgrades_in_place_to_keep_ids_of_the_oldest_provider() {
    let (url, mut admin, pool, kept) = a_version_4_database(shared());
    // on to what version 3 wrote
    admin
        .batch_execute(&format!(
            "{DOWNGRADE_4_TO_3}UPDATE ipam.schema_version SET version = 3"
        ))
        .expect("downgrade to version 3");

    let store = PostgresStore::connect(&url, "v4").expect("the upgrade runs at open");
    let version: i32 = admin
        .query_one("SELECT version FROM ipam.schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 5);
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

#[test]
fn a_version_4_schema_upgrades_in_place_to_range_keyed_overlap_checks() {
    let (url, mut admin, pool, kept) = a_version_4_database(shared());

    let store = PostgresStore::connect(&url, "v5").expect("the upgrade runs at open");
    let version: i32 = admin
        .query_one("SELECT version FROM ipam.schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 5);
    // the old row got its ranges, and only the new constraint is left
    let (low, high): (String, String) = {
        let row = admin
            .query_one(
                "SELECT addr_low::text, addr_high::text FROM ipam.allocations",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    // 10.0.0.0/26: addresses 0x0a000000..=0x0a00003f, sign bit flipped; high half all zero
    let first = 0x0a00_0000_i64 ^ i64::MIN;
    assert_eq!(low, format!("[{first},{})", first + 64));
    assert_eq!(high, format!("[{},{})", i64::MIN, i64::MIN + 1));
    let exclusions: Vec<String> = admin
        .query(
            "SELECT conname::text FROM pg_constraint \
             WHERE conrelid = 'ipam.allocations'::regclass AND contype = 'x'",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(exclusions, ["allocations_no_overlap"]);
    assert_eq!(store.get_allocation(&kept.id).expect("kept"), kept);
    assert_eq!(
        store.check_storage().expect("storage"),
        Vec::<String>::new()
    );
    assert_eq!(
        store.check_consistency().expect("check"),
        Vec::<String>::new()
    );
    let next = store.allocate(&request(&pool, 26)).expect("allocate after");
    assert_ne!(next.cidr, kept.cidr);
    // the old row is guarded by the new constraint like a new one
    let pool_num: i64 = admin
        .query_one("SELECT pool_num FROM ipam.allocations LIMIT 1", &[])
        .unwrap()
        .get(0);
    // (a block inside it that starts elsewhere: the same start is the primary key's)
    assert_eq!(kept.cidr.to_string(), "10.0.0.0/26");
    let refused = insert_allocation_row(&mut admin, pool_num, "10.0.0.32/27")
        .expect_err("an overlap of the upgraded row");
    assert_overlap_refused(&refused);
}

/// Inserts an allocation row by hand, bypassing the backend: `start` from `cidr`, every other
/// column a placeholder.
fn insert_allocation_row(
    admin: &mut postgres::Client,
    pool_num: i64,
    cidr: &str,
) -> Result<u64, postgres::Error> {
    admin.execute(
        "INSERT INTO ipam.allocations (pool_num, start, prefix_len, cidr, description, tags, \
         disallowed_cidrs, created_at, updated_at) \
         SELECT $1, CASE family(c) WHEN 4 THEN '\\x000000000000000000000000'::bytea \
         ELSE ''::bytea END || substring(inet_send(c) FROM 5), masklen(c), c, '', '{}', '[]', \
         0, 0 FROM (SELECT $2::text::cidr AS c) AS given",
        &[&pool_num, &cidr],
    )
}

fn assert_overlap_refused(error: &postgres::Error) {
    let db = error.as_db_error().expect("a database error");
    assert_eq!(
        error.code(),
        Some(&postgres::error::SqlState::EXCLUSION_VIOLATION),
        "{db:?}"
    );
    assert_eq!(db.constraint(), Some("allocations_no_overlap"), "{db:?}");
}

#[test]
fn the_database_itself_refuses_overlapping_allocations_of_one_pool() {
    let cluster = shared();
    let url = cluster.create_database();
    let store = PostgresStore::connect(&url, "guard").expect("connect");
    // two pools: rows of one never stop rows of the other
    pool_with(&store, "10.0.0.0/24");
    pool_with(&store, "10.0.1.0/24");
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let mut admin = cluster.admin(database);
    let nums: Vec<i64> = admin
        .query("SELECT num FROM ipam.pools ORDER BY num", &[])
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let (one, two) = (nums[0], nums[1]);
    let mut insert = |pool: i64, cidr: &str| insert_allocation_row(&mut admin, pool, cidr);
    let clear = || {
        cluster
            .admin(database)
            .execute("DELETE FROM ipam.allocations", &[])
            .expect("clear")
    };
    // (present, overlapping newcomer), for IPv4 and IPv6, around every boundary the ranges
    // have: inside, around, the high and the low 64 bits, the top of the space
    let cases = [
        ("10.0.0.0/24", "10.0.0.16/28"),
        ("10.1.0.16/28", "10.1.0.0/24"),
        ("10.2.0.0/28", "10.2.0.4/30"),
        ("10.3.0.255/32", "10.3.0.0/24"),
        ("0.0.0.0/0", "255.255.255.255/32"),
        ("2001:db8::/32", "2001:db8:0:1::/64"),
        ("2001:db9:0:1::/64", "2001:db9::/32"),
        ("2001:dba::/64", "2001:dba::ff00/120"),
        ("2001:dbb::ff00/120", "2001:dbb::ff80/121"),
        ("2001:dbc::ffff/128", "2001:dbc::/64"),
        ("ffff:ffff:ffff:ffff::/64", "::/0"),
        (
            "ffff:ffff:ffff:fffe::/63",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
        ),
    ];
    for (present, newcomer) in cases {
        insert(one, present).unwrap_or_else(|e| panic!("{present}: {e}"));
        let refused = insert(one, newcomer)
            .expect_err(&format!("{newcomer} overlaps {present} in the same pool"));
        assert_overlap_refused(&refused);
        insert(two, newcomer).unwrap_or_else(|e| panic!("{newcomer} in another pool: {e}"));
        clear();
    }
    // neighbours touch without overlapping: each side of a /64 and of a 64-bit boundary
    for (a, b) in [
        ("10.9.0.0/25", "10.9.0.128/25"),
        ("2001:dbd::/64", "2001:dbd:0:1::/64"),
        ("2001:dbe:0:0:ffff:ffff:ffff:ffff/128", "2001:dbe:0:1::/128"),
        ("2001:dbf::/33", "2001:dbf:8000::/33"),
    ] {
        insert(one, a).unwrap_or_else(|e| panic!("{a}: {e}"));
        insert(one, b).unwrap_or_else(|e| panic!("{b} beside {a}: {e}"));
        clear();
    }
}

/// The round trips `op` makes on `store`'s connections.
fn round_trips_of(store: &PostgresStore, op: impl FnOnce()) -> u64 {
    let before = store.backend().round_trips();
    op();
    store.backend().round_trips() - before
}

#[test]
fn an_allocation_takes_two_round_trips() {
    let store = PostgresStore::connect(&shared().create_database(), "trips").expect("connect");
    let pool = pool_with(&store, "10.0.0.0/8");
    let by_length = request(&pool, 28);
    // every statement prepared once on the (one, reused) connection
    store.allocate(&by_length).expect("warm allocate");
    let warm = store.reserve_allocation(&by_length, "warm").expect("warm");
    store
        .allocate_named(&by_length, "warm", Some(warm))
        .expect("warm named");
    store
        .allocate_named(&by_length, "warm-unplanned", None)
        .expect("warm unplanned");

    let trips = round_trips_of(&store, || {
        store.allocate(&by_length).expect("allocate");
    });
    assert_eq!(
        trips, 2,
        "allocate: BEGIN with the pool, its lock, the expired reservations and the best fit; \
         then the writes with the COMMIT"
    );
    let mut planned = None;
    let trips = round_trips_of(&store, || {
        planned = Some(
            store
                .reserve_allocation(&by_length, "web")
                .expect("reserve"),
        );
    });
    assert_eq!(trips, 2, "a plan's reservation");
    let trips = round_trips_of(&store, || {
        let made = store
            .allocate_named(&by_length, "web", planned)
            .expect("allocate named");
        assert_eq!(
            Some(made.cidr),
            planned,
            "the apply takes what the plan showed"
        );
    });
    assert_eq!(
        trips, 2,
        "the apply's named allocation from its reservation"
    );
    let trips = round_trips_of(&store, || {
        store
            .allocate_named(&by_length, "db", None)
            .expect("allocate named without a plan");
    });
    assert_eq!(trips, 2, "a named allocation by best fit");

    // a child pool's CIDR carved by length from its source pool: the child's row first, then
    // the source's reads, then the writes
    let parent = store.get_pool(&pool).expect("pool");
    let child = || {
        store
            .create_pool(&ipv4_pool(parent.scope_id.clone(), Some(pool.clone())))
            .expect("child pool")
            .id
    };
    let (warm, planned_child, unplanned_child) = (child(), child(), child());
    store.reserve_pool_cidr(&warm, 20).expect("warm reserve");
    store
        .provision_pool_cidr(&warm, PoolCidrRequest::NetmaskLength(20))
        .expect("warm carve");
    let trips = round_trips_of(&store, || {
        store
            .reserve_pool_cidr(&planned_child, 20)
            .expect("reserve");
    });
    assert_eq!(trips, 3, "a plan's reservation of a carve");
    let trips = round_trips_of(&store, || {
        store
            .provision_pool_cidr(&planned_child, PoolCidrRequest::NetmaskLength(20))
            .expect("carve from the plan");
    });
    assert_eq!(trips, 3, "a carve from its reservation");
    let trips = round_trips_of(&store, || {
        store
            .provision_pool_cidr(&unplanned_child, PoolCidrRequest::NetmaskLength(20))
            .expect("carve");
    });
    assert_eq!(trips, 3, "a carve by best fit");
    assert_eq!(
        store.check_consistency().expect("check"),
        Vec::<String>::new()
    );
}

#[test]
fn an_expired_reservation_swept_by_the_allocation_changes_its_best_fit() {
    let url = shared().create_database();
    let store = PostgresStore::connect(&url, "sweep")
        .expect("connect")
        .with_reservation_ttl(Duration::from_millis(1));
    let pool = pool_with(&store, "10.0.0.0/24");
    let held = store
        .reserve_allocation(&request(&pool, 25), "plan")
        .expect("reserve");
    assert_eq!(held.to_string(), "10.0.0.0/25");
    std::thread::sleep(Duration::from_millis(20));
    // read ahead, the best fit of a /25 is 10.0.0.128/25, the only free block; the sweep in
    // the same transaction returns 10.0.0.0/25, which merges it back into the /24
    let made = store.allocate(&request(&pool, 25)).expect("allocate");
    assert_eq!(
        made.cidr.to_string(),
        "10.0.0.0/25",
        "best fit after the sweep"
    );
    assert_eq!(
        store.check_consistency().expect("check"),
        Vec::<String>::new()
    );
    let next = store.allocate(&request(&pool, 25)).expect("the other half");
    assert_eq!(next.cidr.to_string(), "10.0.0.128/25");
    // the same through a named allocation and a plan's reservation
    let other = pool_with(&store, "10.1.0.0/24");
    store
        .reserve_allocation(&request(&other, 25), "old-plan")
        .expect("reserve");
    std::thread::sleep(Duration::from_millis(20));
    let planned = store
        .reserve_allocation(&request(&other, 25), "new-plan")
        .expect("reserve after expiry");
    assert_eq!(
        planned.to_string(),
        "10.1.0.0/25",
        "best fit after the sweep"
    );
    std::thread::sleep(Duration::from_millis(20));
    let named = store
        .allocate_named(&request(&other, 26), "unplanned", None)
        .expect("named after expiry");
    assert_eq!(
        named.cidr.to_string(),
        "10.1.0.0/26",
        "best fit after the sweep"
    );
    assert_eq!(
        store.check_consistency().expect("check"),
        Vec::<String>::new()
    );
}

#[test]
fn an_allocation_into_a_missing_pool_is_not_found_and_harms_nothing() {
    let store = PostgresStore::connect(&shared().create_database(), "missing").expect("connect");
    let pool = pool_with(&store, "10.0.0.0/16");
    let missing = "ipam-pool-0123456789abcdef";
    let not_found = store
        .get_pool(missing)
        .expect_err("no such pool")
        .to_string();
    assert!(not_found.contains(missing), "{not_found}");
    for _ in 0..2 {
        let by_length = request(missing, 28);
        let errors = [
            store.allocate(&by_length).map(|a| a.cidr),
            store.reserve_allocation(&by_length, "web"),
            store
                .allocate_named(&by_length, "web", None)
                .map(|a| a.cidr),
        ];
        for error in errors {
            let error = error.expect_err("no such pool");
            assert!(
                matches!(error, tfipam::ipam::Error::NotFound { .. }),
                "{error:?}"
            );
            assert_eq!(error.to_string(), not_found);
        }
        // the connection goes on as before
        store.allocate(&request(&pool, 28)).expect("allocate");
    }
    assert_eq!(store.list_allocations(&pool).expect("list").len(), 2);
}

#[test]
fn two_writers_racing_for_one_pool_take_disjoint_blocks() {
    let url = shared().create_database();
    let setup = PostgresStore::connect(&url, "setup").expect("connect");
    let pool = pool_with(&setup, "10.0.0.0/16");
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (url, pool) = (url.clone(), pool.clone());
            std::thread::spawn(move || {
                let store = PostgresStore::connect(&url, "racer").expect("connect");
                let mut cidrs = Vec::new();
                for i in 0..60 {
                    let len = 26 + ((w + i) % 3) as u8;
                    let made = match i % 3 {
                        0 => store.allocate(&request(&pool, len)).expect("allocate"),
                        1 => store
                            .allocate_named(&request(&pool, len), &format!("w{w}-{i}"), None)
                            .expect("named"),
                        _ => {
                            let name = format!("w{w}-{i}");
                            let planned = store
                                .reserve_allocation(&request(&pool, len), &name)
                                .expect("reserve");
                            store
                                .allocate_named(&request(&pool, len), &name, Some(planned))
                                .expect("from the plan")
                        }
                    };
                    cidrs.push(made.cidr);
                }
                cidrs
            })
        })
        .collect();
    let mut cidrs: Vec<ipnet::IpNet> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer"))
        .collect();
    assert_eq!(cidrs.len(), 120);
    cidrs.sort();
    for pair in cidrs.windows(2) {
        assert!(
            !pair[0].contains(&pair[1].network()) && !pair[1].contains(&pair[0].network()),
            "overlap: {} and {}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(setup.list_allocations(&pool).expect("list").len(), 120);
    assert_eq!(
        setup.check_consistency().expect("check"),
        Vec::<String>::new()
    );
}

#[test]
fn a_pool_lock_sent_ahead_that_times_out_fails_the_allocation_and_commits_nothing() {
    let cluster = shared();
    let database = cluster.new_database();
    let url = cluster.url_on(
        "127.0.0.1",
        &database,
        "sslmode=disable&options=-c%20lock_timeout%3D50",
    );
    let store = PostgresStore::connect(&url, "timeout").expect("connect");
    let pool = pool_with(&store, "10.0.0.0/16");
    // the pool's lock, held by another session: the key space is the schema name's FNV-1a hash
    let space = ("ipam"
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
        >> 32) as i32;
    let mut admin = cluster.admin(&database);
    let num: i64 = admin
        .query_one("SELECT num FROM ipam.pools WHERE id = $1", &[&pool])
        .expect("pool number")
        .get(0);
    admin
        .execute("SELECT pg_advisory_lock($1, $2)", &[&space, &(num as i32)])
        .expect("hold the pool's lock");
    for error in [
        store.allocate(&request(&pool, 28)).map(|a| a.cidr),
        store.reserve_allocation(&request(&pool, 28), "web"),
        store
            .allocate_named(&request(&pool, 28), "web", None)
            .map(|a| a.cidr),
    ] {
        let error = error.expect_err("the pool is locked elsewhere").to_string();
        assert!(
            error.contains("lock timeout") && error.contains(&database),
            "the lock's own error, after the retries: {error}"
        );
    }
    assert_eq!(store.list_allocations(&pool).expect("list").len(), 0);
    assert!(store.list_reservations(&pool).expect("list").is_empty());
    admin
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .expect("release the lock");
    store
        .allocate(&request(&pool, 28))
        .expect("allocation once the lock is free");
    assert_eq!(
        store.check_consistency().expect("check"),
        Vec::<String>::new()
    );
}
