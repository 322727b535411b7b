//! The conformance suite: every rule and every headline guarantee, checked through the
//! [`Store`] trait only, so that every backend (SQLite now, PostgreSQL later) runs the same
//! cases unchanged.
//!
//! A backend's test file runs them all with one line, given a [`StoreFactory`]:
//! ```text
//! tfipam::store_conformance_tests!(MyBackendFactory);
//! ```
//! Each case gets a fresh, empty database and panics with a message on the first violation.
//! Besides the rules, the suite covers: allocations from many threads and from many OS
//! processes stay disjoint ([`concurrency`]); random provision / allocate / release
//! sequences over nested pools keep every invariant ([`sequences`]); a released id never
//! resolves again; a writer process killed mid-stream leaves a sound, consistent database; the
//! operator's reads agree with the rest ([`operator`]).

pub mod concurrency;
pub mod operator;
pub mod reservations;
pub mod sequences;

use ipnet::IpNet;

use super::{ObjectHistory, Store};
use crate::ipam::{
    AddressFamily, AllocationRequest, AllocationUpdate, CooldownMode, Error, IpamUpdate,
    NetmaskRule, NewIpam, NewPool, NewScope, ObjectKind, PoolCidrRequest, PoolFilter, PoolUpdate,
    ReleaseCooldown, ScopeUpdate, Tags,
};

pub use concurrency::{
    a_killed_writer_leaves_a_consistent_database,
    a_refused_request_fails_alone_among_concurrent_good_ones, processes_allocate_disjoint_blocks,
    processes_allocate_disjoint_blocks_from, threads_allocate_disjoint_audited_blocks,
    worker_process, Placement, Worker,
};
pub use operator::operator_reads_agree_with_the_rest;
pub use reservations::reservations_hold_space_until_the_apply_takes_them;
pub use sequences::{
    ipv4_nested_sequences_keep_every_invariant, ipv6_nested_sequences_keep_every_invariant,
};

/// One conformance case on a store.
pub type Case = fn(&dyn Store);

/// How the suite gets databases of a backend.
pub trait StoreFactory: Sync {
    /// A fresh, empty database: a store on it, and its location (whatever [`StoreFactory::open`]
    /// needs to open the same database again, in this process or in another one: a file path,
    /// a connection string).
    fn create(&self) -> (Box<dyn Store>, String);

    /// Opens the database at `location` again, recording `actor` in its audit events. Called
    /// in worker processes too, so it must depend on nothing but `location`.
    fn open(&self, location: &str, actor: &str) -> Box<dyn Store>;

    /// The backend's own check of its storage at `location` (e.g. SQLite's integrity check),
    /// run after crashes: the problems found, empty when sound.
    fn verify(&self, _location: &str) -> Vec<String> {
        Vec::new()
    }
}

/// Defines one `#[test]` per conformance case for a backend, given an expression of a type
/// implementing [`StoreFactory`], and the worker test the process cases start.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@cases $factory;
            ipam_lifecycle_and_default_scopes,
            scopes_are_separate_routing_domains,
            pool_guardrails_are_validated,
            pool_source_rules,
            locales_follow_operating_regions,
            utilization_warnings_name_the_figures,
            released_blocks_cool_down,
            generated_ula_prefixes,
            pool_cidr_rules_ipv4,
            pool_cidr_rules_ipv6,
            public_scope_refuses_private_space,
            allocation_rules_ipv4,
            allocation_rules_ipv6,
            best_fit_and_release,
            disallowed_cidrs_are_skipped,
            exhaustion_names_the_largest_free_block,
            nested_pools_ten_deep,
            deprovision_and_delete_refuse_unless_cascade,
            previews_match_and_write_nothing,
            find_pools_by_filters,
            updates_keep_rules,
            audit_events_record_every_mutation,
            allocate_many_is_all_or_nothing,
            released_ids_never_resolve_again,
            reservations_hold_space_until_the_apply_takes_them,
            threads_allocate_disjoint_audited_blocks,
            a_refused_request_fails_alone_among_concurrent_good_ones,
            ipv4_nested_sequences_keep_every_invariant,
            ipv6_nested_sequences_keep_every_invariant,
            history_knows_what_was_made_here,
            operator_reads_agree_with_the_rest);
        $crate::store_conformance_tests!(@processes $factory;
            processes_allocate_disjoint_blocks,
            a_killed_writer_leaves_a_consistent_database);

        /// The body of the worker processes the process cases start (returns at once in a
        /// normal run).
        #[test]
        fn conformance_worker_process() {
            $crate::store::conformance::worker_process(&$factory);
        }
    };
    (@cases $factory:expr; $($case:ident),+) => {
        $(
            #[test]
            fn $case() {
                let (store, _) = $crate::store::conformance::StoreFactory::create(&$factory);
                $crate::store::conformance::$case(&*store);
            }
        )+
    };
    (@processes $factory:expr; $($case:ident),+) => {
        $(
            #[test]
            fn $case() {
                let worker = $crate::store::conformance::Worker::new(
                    module_path!(),
                    "conformance_worker_process",
                );
                $crate::store::conformance::$case(&$factory, &worker);
            }
        )+
    };
}

fn net(text: &str) -> IpNet {
    text.parse().expect("test cidr")
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Everything a store holds, as text: equal snapshots mean nothing changed.
pub fn snapshot(store: &dyn Store) -> String {
    let mut out = String::new();
    for ipam in store.list_ipams().expect("list ipams") {
        out += &format!("{ipam:?}\n");
        for scope in store.list_scopes(&ipam.id).expect("list scopes") {
            out += &format!("  {scope:?}\n");
        }
    }
    for pool in store
        .find_pools(&PoolFilter::default())
        .expect("find pools")
    {
        out += &format!("{pool:?}\n");
        for usage in store.list_pool_cidrs(&pool.id).expect("list pool cidrs") {
            out += &format!("  {usage:?}\n");
        }
        for allocation in store.list_allocations(&pool.id).expect("list allocations") {
            out += &format!("  {allocation:?}\n");
        }
    }
    let events = store.audit_events(0, usize::MAX).expect("audit events");
    out += &format!("{} audit events\n", events.len());
    out
}

/// Asserts that `result` is an error matching `check`, and that the store did not change.
fn refused<T: std::fmt::Debug>(
    store: &dyn Store,
    what: &str,
    op: impl FnOnce() -> crate::ipam::Result<T>,
    check: impl FnOnce(&Error) -> bool,
) -> Error {
    let before = snapshot(store);
    let error = match op() {
        Ok(value) => panic!("{what}: expected an error, got {value:?}"),
        Err(error) => error,
    };
    assert!(check(&error), "{what}: unexpected error {error:?}: {error}");
    assert_eq!(
        before,
        snapshot(store),
        "{what}: a refused request changed the store"
    );
    error
}

/// Asserts the store's own invariant check passes.
pub fn assert_consistent(store: &dyn Store) {
    let problems = store.check_consistency().expect("consistency check runs");
    assert!(problems.is_empty(), "inconsistent store: {problems:#?}");
}

struct Fixture {
    ipam_id: String,
    private_scope: String,
    public_scope: String,
}

fn fixture(store: &dyn Store) -> Fixture {
    let ipam = store
        .create_ipam(&NewIpam {
            description: "test".into(),
            operating_regions: vec!["eu-west-1".into(), "us-east-1".into()],
            tags: Tags::new(),
        })
        .expect("create ipam");
    Fixture {
        private_scope: ipam.private_default_scope_id.clone(),
        public_scope: ipam.public_default_scope_id.clone(),
        ipam_id: ipam.id,
    }
}

/// A top-level pool with one CIDR and optional guardrails.
fn top_pool(store: &dyn Store, scope: &str, cidr: &str, netmask: NetmaskRule) -> String {
    let family = AddressFamily::of(&net(cidr));
    let pool = store
        .create_pool(&NewPool {
            netmask,
            ..NewPool::new(scope, family)
        })
        .expect("create pool");
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(net(cidr)))
        .expect("provision");
    pool.id
}

fn request(pool_id: &str, netmask_length: Option<u8>, cidr: Option<&str>) -> AllocationRequest {
    AllocationRequest {
        pool_id: pool_id.to_string(),
        netmask_length,
        cidr: cidr.map(net),
        ..AllocationRequest::default()
    }
}

fn allocate(
    store: &dyn Store,
    pool_id: &str,
    netmask_length: Option<u8>,
    cidr: Option<&str>,
) -> String {
    store
        .allocate(&request(pool_id, netmask_length, cidr))
        .unwrap_or_else(|e| panic!("allocate {netmask_length:?} {cidr:?} in {pool_id}: {e}"))
        .cidr
        .to_string()
}

/// An IPAM comes with a private and a public default scope; update, list, delete.
pub fn ipam_lifecycle_and_default_scopes(store: &dyn Store) {
    let f = fixture(store);
    let ipam = store.get_ipam(&f.ipam_id).unwrap();
    assert_eq!(ipam.scope_count, 2);
    let scopes = store.list_scopes(&f.ipam_id).unwrap();
    assert_eq!(scopes.len(), 2);
    assert!(scopes.iter().all(|s| s.is_default));
    assert_eq!(
        store.get_scope(&f.private_scope).unwrap().kind,
        crate::ipam::ScopeKind::Private
    );
    assert_eq!(
        store.get_scope(&f.public_scope).unwrap().kind,
        crate::ipam::ScopeKind::Public
    );
    let updated = store
        .update_ipam(
            &f.ipam_id,
            &IpamUpdate {
                operating_regions: Some(vec!["us-east-1".into(), "eu-west-1".into()]),
                tags: Some(tags(&[("team", "net")])),
                description: None,
            },
        )
        .unwrap();
    assert_eq!(updated.operating_regions, vec!["eu-west-1", "us-east-1"]);
    assert_eq!(updated.tags, tags(&[("team", "net")]));
    assert_eq!(updated.description, "test");
    refused(
        store,
        "delete a default scope",
        || store.delete_scope(&f.private_scope, true),
        |e| matches!(e, Error::DefaultScope { .. }),
    );
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/8",
        NetmaskRule::default(),
    );
    let e = refused(
        store,
        "delete a non-empty ipam",
        || store.delete_ipam(&f.ipam_id, false),
        |e| {
            matches!(
                e,
                Error::NotEmpty {
                    kind: ObjectKind::Ipam,
                    ..
                }
            )
        },
    );
    assert!(e.to_string().contains(&pool), "{e}");
    store.delete_ipam(&f.ipam_id, true).unwrap();
    assert!(matches!(
        store.get_ipam(&f.ipam_id),
        Err(Error::NotFound {
            kind: ObjectKind::Ipam,
            ..
        })
    ));
    assert!(matches!(store.get_pool(&pool), Err(Error::NotFound { .. })));
    assert!(store.list_ipams().unwrap().is_empty());
    refused(
        store,
        "delete a missing ipam",
        || store.delete_ipam("ipam-0000", false),
        |e| matches!(e, Error::NotFound { .. }),
    );
    assert_consistent(store);
}

/// The same CIDR may live in two private scopes, never twice in one.
pub fn scopes_are_separate_routing_domains(store: &dyn Store) {
    let f = fixture(store);
    let custom = store
        .create_scope(&NewScope {
            ipam_id: f.ipam_id.clone(),
            description: "lab".into(),
            tags: tags(&[("env", "lab")]),
        })
        .unwrap();
    assert!(!custom.is_default);
    let a = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/16",
        NetmaskRule::default(),
    );
    top_pool(store, &custom.id, "10.0.0.0/16", NetmaskRule::default());
    let other = store
        .create_pool(&NewPool::new(&f.private_scope, AddressFamily::Ipv4))
        .unwrap();
    let e = refused(
        store,
        "overlapping top-level cidr",
        || store.provision_pool_cidr(&other.id, PoolCidrRequest::Cidr(net("10.0.128.0/17"))),
        |e| matches!(e, Error::Overlap { .. }),
    );
    assert!(
        e.to_string().contains(&a) && e.to_string().contains("10.0.0.0/16"),
        "{e}"
    );
    let updated = store
        .update_scope(
            &custom.id,
            &ScopeUpdate {
                description: Some("lab 2".into()),
                tags: None,
            },
        )
        .unwrap();
    assert_eq!(
        (updated.description.as_str(), updated.pool_count),
        ("lab 2", 1)
    );
    refused(
        store,
        "delete a non-empty scope",
        || store.delete_scope(&custom.id, false),
        |e| {
            matches!(
                e,
                Error::NotEmpty {
                    kind: ObjectKind::Scope,
                    ..
                }
            )
        },
    );
    store.delete_scope(&custom.id, true).unwrap();
    assert_eq!(store.get_ipam(&f.ipam_id).unwrap().scope_count, 2);
    refused(
        store,
        "scope in a missing ipam",
        || {
            store.create_scope(&NewScope {
                ipam_id: "ipam-missing".into(),
                ..NewScope::default()
            })
        },
        |e| {
            matches!(
                e,
                Error::NotFound {
                    kind: ObjectKind::Ipam,
                    ..
                }
            )
        },
    );
    assert_consistent(store);
}

/// min ≤ default ≤ max ≤ width, with errors that say which is which.
pub fn pool_guardrails_are_validated(store: &dyn Store) {
    let f = fixture(store);
    for (family, rule, input) in [
        (
            AddressFamily::Ipv4,
            NetmaskRule {
                min: Some(24),
                max: Some(16),
                default: None,
            },
            "allocation_min_netmask_length",
        ),
        (
            AddressFamily::Ipv4,
            NetmaskRule {
                min: None,
                max: Some(33),
                default: None,
            },
            "allocation_max_netmask_length",
        ),
        (
            AddressFamily::Ipv4,
            NetmaskRule {
                min: Some(16),
                max: Some(24),
                default: Some(8),
            },
            "allocation_default_netmask_length",
        ),
        (
            AddressFamily::Ipv6,
            NetmaskRule {
                min: Some(64),
                max: Some(48),
                default: None,
            },
            "allocation_min_netmask_length",
        ),
        (
            AddressFamily::Ipv6,
            NetmaskRule {
                min: None,
                max: Some(129),
                default: None,
            },
            "allocation_max_netmask_length",
        ),
    ] {
        let e = refused(
            store,
            "bad guardrails",
            || {
                store.create_pool(&NewPool {
                    netmask: rule,
                    ..NewPool::new(&f.private_scope, family)
                })
            },
            |e| matches!(e, Error::InvalidNetmaskRule { .. }),
        );
        assert_eq!(e.input(), Some(input), "{e}");
    }
    let pool = store
        .create_pool(&NewPool {
            netmask: NetmaskRule {
                min: Some(16),
                max: Some(24),
                default: Some(20),
            },
            ..NewPool::new(&f.private_scope, AddressFamily::Ipv4)
        })
        .unwrap();
    refused(
        store,
        "bad guardrails on update",
        || {
            store.update_pool(
                &pool.id,
                &PoolUpdate {
                    netmask: Some(NetmaskRule {
                        min: Some(28),
                        max: Some(20),
                        default: None,
                    }),
                    ..PoolUpdate::default()
                },
            )
        },
        |e| matches!(e, Error::InvalidNetmaskRule { .. }),
    );
    refused(
        store,
        "advertisable ipv4",
        || {
            store.create_pool(&NewPool {
                publicly_advertisable: true,
                ..NewPool::new(&f.public_scope, AddressFamily::Ipv4)
            })
        },
        |e| e.input() == Some("publicly_advertisable"),
    );
    assert_consistent(store);
}

/// A child pool has its parent's scope and family.
pub fn pool_source_rules(store: &dyn Store) {
    let f = fixture(store);
    let parent = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/8",
        NetmaskRule::default(),
    );
    refused(
        store,
        "family differs from the source",
        || {
            store.create_pool(&NewPool {
                source_pool_id: Some(parent.clone()),
                ..NewPool::new(&f.private_scope, AddressFamily::Ipv6)
            })
        },
        |e| matches!(e, Error::SourcePoolFamily { .. }) && e.input() == Some("address_family"),
    );
    refused(
        store,
        "source in another scope",
        || {
            store.create_pool(&NewPool {
                source_pool_id: Some(parent.clone()),
                ..NewPool::new(&f.public_scope, AddressFamily::Ipv4)
            })
        },
        |e| matches!(e, Error::SourcePoolScope { .. }),
    );
    refused(
        store,
        "missing source",
        || {
            store.create_pool(&NewPool {
                source_pool_id: Some("ipam-pool-nope".into()),
                ..NewPool::new(&f.private_scope, AddressFamily::Ipv4)
            })
        },
        |e| e.input() == Some("source_pool_id"),
    );
    refused(
        store,
        "missing scope",
        || store.create_pool(&NewPool::new("ipam-scope-nope", AddressFamily::Ipv4)),
        |e| {
            matches!(
                e,
                Error::NotFound {
                    kind: ObjectKind::Scope,
                    ..
                }
            )
        },
    );
    let child = store
        .create_pool(&NewPool {
            source_pool_id: Some(parent.clone()),
            ..NewPool::new(&f.private_scope, AddressFamily::Ipv4)
        })
        .unwrap();
    assert_eq!(child.depth, 1);
    assert_consistent(store);
}

/// A pool's locale is an operating region of its IPAM and its source pool's locale; an
/// allocation for a locale is refused from a pool of another; regions in use stay.
pub fn locales_follow_operating_regions(store: &dyn Store) {
    let f = fixture(store);
    let with_locale = |source: Option<&str>, locale: Option<&str>| NewPool {
        source_pool_id: source.map(str::to_string),
        locale: locale.map(str::to_string),
        ..NewPool::new(&f.private_scope, AddressFamily::Ipv4)
    };
    let error = refused(
        store,
        "a locale outside the operating regions",
        || store.create_pool(&with_locale(None, Some("ap-southeast-1"))),
        |e| matches!(e, Error::LocaleNotOperatingRegion { .. }) && e.input() == Some("locale"),
    );
    assert!(
        error.to_string().contains("eu-west-1, us-east-1"),
        "{error}"
    );
    assert!(store
        .preview_pool(&with_locale(None, Some("ap-southeast-1")))
        .is_err());
    let top = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/8",
        NetmaskRule::default(),
    );
    let eu = store
        .create_pool(&with_locale(Some(&top), Some("eu-west-1")))
        .expect("a regional pool under a pool without locale")
        .id;
    store
        .provision_pool_cidr(&eu, PoolCidrRequest::Cidr(net("10.1.0.0/16")))
        .expect("provision");
    for locale in [None, Some("us-east-1")] {
        refused(
            store,
            "a nested pool of another locale",
            || store.create_pool(&with_locale(Some(&eu), locale)),
            |e| matches!(e, Error::SourcePoolLocale { .. }) && e.input() == Some("locale"),
        );
    }
    store
        .preview_pool(&with_locale(Some(&eu), Some("eu-west-1")))
        .expect("the source's locale is fine");
    let for_locale = |pool: &str, locale: &str| AllocationRequest {
        locale: Some(locale.to_string()),
        ..request(pool, Some(24), None)
    };
    refused(
        store,
        "an allocation for another locale",
        || store.allocate(&for_locale(&eu, "us-east-1")),
        |e| matches!(e, Error::LocaleMismatch { .. }) && e.input() == Some("locale"),
    );
    assert!(store
        .preview_allocation(&for_locale(&eu, "us-east-1"))
        .is_err());
    store
        .allocate(&for_locale(&eu, "eu-west-1"))
        .expect("same locale");
    store
        .allocate(&for_locale(&top, "us-east-1"))
        .expect("a pool without locale serves any");
    let drop_regions = IpamUpdate {
        operating_regions: Some(vec!["us-east-1".into()]),
        ..IpamUpdate::default()
    };
    let error = refused(
        store,
        "dropping a region in use",
        || store.update_ipam(&f.ipam_id, &drop_regions),
        |e| matches!(e, Error::RegionInUse { .. }) && e.input() == Some("operating_regions"),
    );
    assert!(
        error.to_string().contains(&format!("{eu} (eu-west-1)")),
        "{error}"
    );
    assert!(store
        .preview_update_ipam(&f.ipam_id, &drop_regions)
        .is_err());
    let keep_used = IpamUpdate {
        operating_regions: Some(vec!["eu-west-1".into()]),
        ..IpamUpdate::default()
    };
    store
        .preview_update_ipam(&f.ipam_id, &keep_used)
        .expect("preview");
    store
        .update_ipam(&f.ipam_id, &keep_used)
        .expect("an unused region may go");
    assert_consistent(store);
}

/// A utilization warning threshold is a percentage; an allocation pushing the pool past it
/// gets the warning with the figures, one that stays below (or starts above) gets none.
pub fn utilization_warnings_name_the_figures(store: &dyn Store) {
    let f = fixture(store);
    for bad in [0, 101] {
        refused(
            store,
            "a threshold that is not a percentage",
            || {
                store.create_pool(&NewPool {
                    utilization_warning_threshold: Some(bad),
                    ..NewPool::new(&f.private_scope, AddressFamily::Ipv4)
                })
            },
            |e| e.input() == Some("utilization_warning_threshold"),
        );
    }
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.9.0.0/24",
        NetmaskRule::default(),
    );
    store
        .update_pool(
            &pool,
            &PoolUpdate {
                utilization_warning_threshold: Some(Some(50)),
                ..PoolUpdate::default()
            },
        )
        .unwrap();
    allocate(store, &pool, Some(26), None);
    assert_eq!(
        store
            .preview_allocation_warning(&request(&pool, Some(27), None))
            .unwrap(),
        None,
        "25 % -> 37.5 % stays below 50 %"
    );
    let warning = store
        .preview_allocation_warning(&request(&pool, Some(25), None))
        .unwrap()
        .expect("25 % -> 75 % crosses 50 %");
    assert_eq!(
        (
            warning.before_percent,
            warning.after_percent,
            warning.largest_free
        ),
        (25.0, 75.0, Some(net("10.9.0.64/26")))
    );
    assert_eq!(warning.pool_cidrs, vec![net("10.9.0.0/24")]);
    assert!(store
        .preview_allocation_warning(&request(&pool, Some(33), None))
        .is_err());
    allocate(store, &pool, Some(25), None);
    assert_eq!(
        store
            .preview_allocation_warning(&request(&pool, Some(28), None))
            .unwrap(),
        None,
        "already past the threshold: no new warning"
    );
}

/// A pool with a release cooldown keeps released blocks unused: never in strict mode (an
/// explicit CIDR is refused with the time it frees), only when nothing else fits in soft mode;
/// cooling blocks count as used and free when their time is up.
pub fn released_blocks_cool_down(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.8.0.0/24",
        NetmaskRule::default(),
    );
    let set_cooldown = |seconds: u64, mode: CooldownMode| {
        store
            .update_pool(
                &pool,
                &PoolUpdate {
                    release_cooldown: Some(Some(ReleaseCooldown { seconds, mode })),
                    ..PoolUpdate::default()
                },
            )
            .unwrap()
    };
    set_cooldown(3600, CooldownMode::Strict);
    let first = store.allocate(&request(&pool, Some(26), None)).unwrap();
    store.release_allocation(&first.id).unwrap();
    let cooling = store.list_cooling_blocks(&pool).unwrap();
    assert_eq!(cooling.len(), 1);
    assert_eq!(cooling[0].cidr, net("10.8.0.0/26"));
    assert!(cooling[0].frees_at.ends_with('Z'), "{:?}", cooling[0]);
    assert_eq!(allocate(store, &pool, Some(26), None), "10.8.0.64/26");
    let error = refused(
        store,
        "an explicit cidr inside a cooling block, strict",
        || store.allocate(&request(&pool, None, Some("10.8.0.32/27"))),
        |e| matches!(e, Error::CoolingDown { .. }) && e.input() == Some("cidr"),
    );
    assert!(error.to_string().contains(&cooling[0].frees_at), "{error}");
    let usage = store.list_pool_cidrs(&pool).unwrap();
    assert_eq!(usage[0].used_addresses, 128, "cooling blocks count as used");
    assert_eq!(allocate(store, &pool, Some(25), None), "10.8.0.128/25");
    refused(
        store,
        "only a cooling block is left, strict",
        || store.allocate(&request(&pool, Some(26), None)),
        |e| matches!(e, Error::Exhausted { .. }),
    );
    set_cooldown(3600, CooldownMode::Soft);
    assert_eq!(
        allocate(store, &pool, Some(26), None),
        "10.8.0.0/26",
        "soft: reused when nothing else fits"
    );
    assert!(store.list_cooling_blocks(&pool).unwrap().is_empty());
    set_cooldown(1, CooldownMode::Strict);
    let last = store.list_allocations(&pool).unwrap()[0].clone();
    store.release_allocation(&last.id).unwrap();
    assert_eq!(store.list_cooling_blocks(&pool).unwrap().len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(store.list_cooling_blocks(&pool).unwrap().is_empty());
    assert_eq!(
        allocate(store, &pool, None, Some("10.8.0.0/26")),
        "10.8.0.0/26"
    );
    assert_consistent(store);
}

/// A top-level IPv6 pool of a private scope provisioned by size gets a fresh RFC 4193 prefix
/// (a /48 in fd00::/8, or a block inside a new one), disjoint from the scope's other CIDRs; a
/// public scope refuses.
pub fn generated_ula_prefixes(store: &dyn Store) {
    let f = fixture(store);
    let ula = net("fd00::/8");
    let mut seen: Vec<IpNet> = Vec::new();
    for len in [48, 48, 56, 64] {
        let pool = store
            .create_pool(&NewPool::new(&f.private_scope, AddressFamily::Ipv6))
            .unwrap();
        let preview = store
            .preview_pool_cidr(&pool.id, PoolCidrRequest::NetmaskLength(len))
            .unwrap();
        assert!(
            ula.contains(&preview) && preview.prefix_len() == len,
            "{preview}"
        );
        let cidr = store
            .provision_pool_cidr(&pool.id, PoolCidrRequest::NetmaskLength(len))
            .unwrap()
            .cidr;
        assert!(ula.contains(&cidr) && cidr.prefix_len() == len, "{cidr}");
        let its_48 = IpNet::new(cidr.network(), 48).unwrap().trunc();
        assert_eq!(
            cidr.network(),
            its_48.network(),
            "the first block of a new /48: {cidr}"
        );
        assert!(
            seen.iter()
                .all(|other| !crate::ipam::cidr::overlaps(other, &cidr)),
            "{cidr} overlaps one of {seen:?}"
        );
        seen.push(cidr);
    }
    let public = store
        .create_pool(&NewPool::new(&f.public_scope, AddressFamily::Ipv6))
        .unwrap();
    refused(
        store,
        "a generated prefix in a public scope",
        || store.provision_pool_cidr(&public.id, PoolCidrRequest::NetmaskLength(48)),
        |e| e.input() == Some("netmask_length") && e.to_string().contains("public scope"),
    );
    let private = store
        .create_pool(&NewPool::new(&f.private_scope, AddressFamily::Ipv6))
        .unwrap();
    refused(
        store,
        "a generated prefix larger than a /48",
        || store.provision_pool_cidr(&private.id, PoolCidrRequest::NetmaskLength(40)),
        |e| e.input() == Some("netmask_length") && e.to_string().contains("48 to 128"),
    );
    assert_consistent(store);
}

fn pool_cidr_rules(
    store: &dyn Store,
    top: &str,
    host_bits: &str,
    network: &str,
    other_family: &str,
    overlapping: &str,
    carve_len: u8,
) {
    let f = fixture(store);
    let family = AddressFamily::of(&net(top));
    let parent = top_pool(store, &f.private_scope, top, NetmaskRule::default());
    let e = refused(
        store,
        "host bits",
        || store.provision_pool_cidr(&parent, PoolCidrRequest::Cidr(host_bits.parse().unwrap())),
        |e| matches!(e, Error::HostBitsSet { .. }),
    );
    assert!(e.to_string().contains(network), "{e}");
    refused(
        store,
        "wrong family",
        || store.provision_pool_cidr(&parent, PoolCidrRequest::Cidr(net(other_family))),
        |e| matches!(e, Error::WrongFamily { .. }) && e.input() == Some("cidr"),
    );
    refused(
        store,
        "overlapping top-level cidr",
        || store.provision_pool_cidr(&parent, PoolCidrRequest::Cidr(net(overlapping))),
        |e| matches!(e, Error::Overlap { .. }),
    );
    // (an IPv6 pool of a private scope gets a generated ULA prefix instead: see
    // generated_ula_prefixes)
    if AddressFamily::of(&net(overlapping)) == AddressFamily::Ipv4 {
        refused(
            store,
            "carve without a source",
            || store.provision_pool_cidr(&parent, PoolCidrRequest::NetmaskLength(carve_len)),
            |e| matches!(e, Error::NoSourcePool { .. }) && e.input() == Some("netmask_length"),
        );
    }
    let child = store
        .create_pool(&NewPool {
            source_pool_id: Some(parent.clone()),
            ..NewPool::new(&f.private_scope, family)
        })
        .unwrap();
    let carved = store
        .provision_pool_cidr(&child.id, PoolCidrRequest::NetmaskLength(carve_len))
        .unwrap();
    assert!(net(top).contains(&carved.cidr));
    assert!(carved.parent_allocation_id.is_some());
    let parent_allocations = store.list_allocations(&parent).unwrap();
    assert_eq!(parent_allocations.len(), 1);
    assert_eq!(parent_allocations[0].cidr, carved.cidr);
    assert_eq!(
        parent_allocations[0].child_pool_cidr_id.as_deref(),
        Some(carved.id.as_str())
    );
    let e = refused(
        store,
        "release the allocation behind a child cidr",
        || store.release_allocation(&parent_allocations[0].id),
        |e| matches!(e, Error::BacksPoolCidr { .. }),
    );
    assert!(e.to_string().contains(&carved.id), "{e}");
    let e = refused(
        store,
        "explicit child cidr overlapping a sibling",
        || store.provision_pool_cidr(&child.id, PoolCidrRequest::Cidr(carved.cidr)),
        |e| matches!(e, Error::Overlap { .. }),
    );
    assert!(
        e.to_string().contains(&child.id),
        "the overlap names the child pool: {e}"
    );
    let usage = store.list_pool_cidrs(&parent).unwrap();
    assert_eq!(
        usage[0].used_addresses,
        crate::ipam::Block::of(&carved.cidr).size(family)
    );
    assert_eq!(
        usage[0].used_addresses + usage[0].free_addresses,
        usage[0].total_addresses
    );
    assert_eq!(store.get_pool_cidr(&carved.id).unwrap(), carved);
    refused(
        store,
        "missing pool cidr",
        || store.get_pool_cidr("ipam-pool-cidr-nope"),
        |e| {
            matches!(
                e,
                Error::NotFound {
                    kind: ObjectKind::PoolCidr,
                    ..
                }
            )
        },
    );
    assert_consistent(store);
}

/// Pool CIDR rules, IPv4.
pub fn pool_cidr_rules_ipv4(store: &dyn Store) {
    pool_cidr_rules(
        store,
        "10.0.0.0/8",
        "10.1.1.1/24",
        "10.1.1.0/24",
        "2001:db8::/32",
        "10.200.0.0/16",
        16,
    );
}

/// Pool CIDR rules, IPv6.
pub fn pool_cidr_rules_ipv6(store: &dyn Store) {
    pool_cidr_rules(
        store,
        "2001:db8::/32",
        "2001:db8::1/48",
        "2001:db8::/48",
        "10.0.0.0/8",
        "2001:db8:ff00::/40",
        48,
    );
}

/// RFC 1918, 100.64.0.0/10, fc00::/7 … are refused in a public scope, accepted in a private one.
pub fn public_scope_refuses_private_space(store: &dyn Store) {
    let f = fixture(store);
    for (family, cidr, range) in [
        (AddressFamily::Ipv4, "10.0.0.0/8", "10.0.0.0/8"),
        (AddressFamily::Ipv4, "172.16.0.0/16", "172.16.0.0/12"),
        (AddressFamily::Ipv4, "100.64.0.0/16", "100.64.0.0/10"),
        (AddressFamily::Ipv6, "fd00::/8", "fc00::/7"),
    ] {
        let pool = store
            .create_pool(&NewPool::new(&f.public_scope, family))
            .unwrap();
        let e = refused(
            store,
            "private space in public scope",
            || store.provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(net(cidr))),
            |e| matches!(e, Error::PrivateSpaceInPublicScope { .. }),
        );
        assert!(e.to_string().contains(range), "{e}");
        store.delete_pool(&pool.id, false).unwrap();
    }
    top_pool(
        store,
        &f.public_scope,
        "203.0.113.0/24",
        NetmaskRule::default(),
    );
    top_pool(
        store,
        &f.public_scope,
        "2600:1f00::/24",
        NetmaskRule::default(),
    );
    top_pool(
        store,
        &f.private_scope,
        "100.64.0.0/10",
        NetmaskRule::default(),
    );
    assert_consistent(store);
}

#[allow(clippy::too_many_arguments)]
fn allocation_rules(
    store: &dyn Store,
    top: &str,
    rule: NetmaskRule,
    first: &str,
    explicit: &str,
    inside_explicit: &str,
    outside: &str,
    host_bits: &str,
    other_family: &str,
    too_long: u8,
    too_short: u8,
) {
    let f = fixture(store);
    let required = tags(&[("cost-center", "42")]);
    let family = AddressFamily::of(&net(top));
    let pool = store
        .create_pool(&NewPool {
            netmask: rule,
            allocation_resource_tags: required.clone(),
            ..NewPool::new(&f.private_scope, family)
        })
        .unwrap();
    store
        .provision_pool_cidr(&pool.id, PoolCidrRequest::Cidr(net(top)))
        .unwrap();
    let ok = |netmask_length: Option<u8>, cidr: Option<&str>| AllocationRequest {
        tags: required.clone(),
        ..request(&pool.id, netmask_length, cidr)
    };
    // the default length
    let a = store.allocate(&ok(None, None)).unwrap();
    assert_eq!(a.cidr, net(first));
    let b = store.allocate(&ok(None, Some(explicit))).unwrap();
    assert_eq!(b.cidr, net(explicit));
    let e = refused(
        store,
        "overlap",
        || store.allocate(&ok(None, Some(inside_explicit))),
        |e| matches!(e, Error::Overlap { .. }) && e.input() == Some("cidr"),
    );
    assert!(
        e.to_string().contains(&b.id) && e.to_string().contains(explicit),
        "{e}"
    );
    let e = refused(
        store,
        "outside",
        || store.allocate(&ok(None, Some(outside))),
        |e| matches!(e, Error::OutsidePool { .. }),
    );
    assert!(
        e.to_string().contains(top) && e.to_string().contains(&pool.id),
        "{e}"
    );
    let e = refused(
        store,
        "host bits",
        || store.allocate(&ok(None, Some(host_bits))),
        |e| matches!(e, Error::HostBitsSet { .. }),
    );
    assert!(
        e.to_string().contains(&net(host_bits).trunc().to_string()),
        "{e}"
    );
    refused(
        store,
        "wrong family",
        || store.allocate(&ok(None, Some(other_family))),
        |e| matches!(e, Error::WrongFamily { .. }),
    );
    for len in [too_long, too_short] {
        let e = refused(
            store,
            "outside the guardrails",
            || store.allocate(&ok(Some(len), None)),
            |e| matches!(e, Error::NetmaskOutOfRange { .. }) && e.input() == Some("netmask_length"),
        );
        assert!(e.to_string().contains("largest block"), "{e}");
    }
    refused(
        store,
        "cidr and a different length",
        || store.allocate(&ok(Some(too_long), Some(explicit))),
        |e| matches!(e, Error::CidrLengthMismatch { .. }),
    );
    let e = refused(
        store,
        "missing required tags",
        || store.allocate(&request(&pool.id, None, None)),
        |e| matches!(e, Error::MissingRequiredTags { .. }) && e.input() == Some("tags"),
    );
    assert!(e.to_string().contains("cost-center"), "{e}");
    refused(
        store,
        "wrong tag value",
        || {
            store.allocate(&AllocationRequest {
                tags: tags(&[("cost-center", "7")]),
                ..request(&pool.id, None, None)
            })
        },
        |e| matches!(e, Error::MissingRequiredTags { .. }),
    );
    refused(
        store,
        "missing pool",
        || store.allocate(&request("ipam-pool-nope", None, None)),
        |e| {
            matches!(
                e,
                Error::NotFound {
                    kind: ObjectKind::Pool,
                    ..
                }
            )
        },
    );
    let no_default = store
        .create_pool(&NewPool::new(&f.private_scope, family))
        .unwrap();
    refused(
        store,
        "no length and no default",
        || store.allocate(&request(&no_default.id, None, None)),
        |e| matches!(e, Error::NoNetmaskLength { .. }),
    );
    refused(
        store,
        "pool without cidrs",
        || store.allocate(&request(&no_default.id, Some(too_long), None)),
        |e| {
            matches!(
                e,
                Error::Exhausted {
                    largest_free: None,
                    ..
                }
            )
        },
    );
    store.release_allocation(&a.id).unwrap();
    refused(
        store,
        "release twice",
        || store.release_allocation(&a.id),
        |e| {
            matches!(
                e,
                Error::NotFound {
                    kind: ObjectKind::Allocation,
                    ..
                }
            )
        },
    );
    assert_consistent(store);
}

/// Allocation rules, IPv4.
pub fn allocation_rules_ipv4(store: &dyn Store) {
    allocation_rules(
        store,
        "10.1.0.0/16",
        NetmaskRule {
            min: Some(18),
            max: Some(24),
            default: Some(20),
        },
        "10.1.0.0/20",
        "10.1.64.0/20",
        "10.1.64.0/24",
        "10.2.0.0/20",
        "10.1.1.1/24",
        "2001:db8::/64",
        25,
        17,
    );
}

/// Allocation rules, IPv6.
pub fn allocation_rules_ipv6(store: &dyn Store) {
    allocation_rules(
        store,
        "2001:db8::/48",
        NetmaskRule {
            min: Some(52),
            max: Some(64),
            default: Some(56),
        },
        "2001:db8::/56",
        "2001:db8:0:1000::/56",
        "2001:db8:0:1000::/64",
        "2001:db9::/56",
        "2001:db8::1/64",
        "10.0.0.0/24",
        65,
        51,
    );
}

/// Best fit fills the smallest hole first; a release frees the space at once.
pub fn best_fit_and_release(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/16",
        NetmaskRule::default(),
    );
    assert_eq!(allocate(store, &pool, Some(24), None), "10.0.0.0/24");
    assert_eq!(allocate(store, &pool, Some(20), None), "10.0.16.0/20");
    assert_eq!(allocate(store, &pool, Some(23), None), "10.0.2.0/23");
    assert_eq!(allocate(store, &pool, Some(25), None), "10.0.1.0/25");
    let list = store.list_allocations(&pool).unwrap();
    let taken = list.iter().find(|a| a.cidr == net("10.0.16.0/20")).unwrap();
    store.release_allocation(&taken.id).unwrap();
    assert_eq!(allocate(store, &pool, Some(20), None), "10.0.16.0/20");
    let v6 = top_pool(
        store,
        &f.private_scope,
        "2001:db8::/48",
        NetmaskRule::default(),
    );
    assert_eq!(allocate(store, &v6, Some(64), None), "2001:db8::/64");
    assert_eq!(allocate(store, &v6, Some(56), None), "2001:db8:0:100::/56");
    assert_eq!(allocate(store, &v6, Some(64), None), "2001:db8:0:1::/64");
    for allocation in store.list_allocations(&v6).unwrap() {
        store.release_allocation(&allocation.id).unwrap();
    }
    let usage = &store.list_pool_cidrs(&v6).unwrap()[0];
    assert_eq!((usage.used_addresses, usage.utilization_percent), (0, 0.0));
    assert_eq!(allocate(store, &v6, Some(48), None), "2001:db8::/48");
    assert_consistent(store);
}

/// Disallowed CIDRs are never handed out.
pub fn disallowed_cidrs_are_skipped(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/16",
        NetmaskRule::default(),
    );
    let req = AllocationRequest {
        disallowed_cidrs: vec![net("10.0.0.0/18"), net("10.0.64.0/24")],
        ..request(&pool, Some(24), None)
    };
    let made = store.allocate(&req).unwrap();
    assert_eq!(made.cidr, net("10.0.65.0/24"));
    // the request's disallowed CIDRs are kept with the allocation (import shows them)
    assert_eq!(made.disallowed_cidrs, req.disallowed_cidrs);
    assert_eq!(
        store.get_allocation(&made.id).unwrap().disallowed_cidrs,
        req.disallowed_cidrs
    );
    refused(
        store,
        "disallowed host bits",
        || {
            store.allocate(&AllocationRequest {
                disallowed_cidrs: vec!["10.0.0.1/24".parse().unwrap()],
                ..request(&pool, Some(24), None)
            })
        },
        |e| e.input() == Some("disallowed_cidrs"),
    );
    let e = refused(
        store,
        "everything disallowed",
        || {
            store.allocate(&AllocationRequest {
                disallowed_cidrs: vec![net("10.0.0.0/16")],
                ..request(&pool, Some(24), None)
            })
        },
        |e| matches!(e, Error::Exhausted { .. }),
    );
    assert!(
        e.to_string().contains("disallowed_cidrs (10.0.0.0/16)"),
        "{e}"
    );
    let v6 = top_pool(
        store,
        &f.private_scope,
        "2001:db8::/48",
        NetmaskRule::default(),
    );
    let req = AllocationRequest {
        disallowed_cidrs: vec![net("2001:db8::/56")],
        ..request(&v6, Some(64), None)
    };
    assert_eq!(
        store.allocate(&req).unwrap().cidr,
        net("2001:db8:0:100::/64")
    );
    assert_consistent(store);
}

/// `no free /20 in pool … (10.1.0.0/16): largest free block is /22 (10.1.64.0/22)`.
pub fn exhaustion_names_the_largest_free_block(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.1.0.0/16",
        NetmaskRule::default(),
    );
    for _ in 0..4 {
        allocate(store, &pool, Some(18), None);
    }
    let list = store.list_allocations(&pool).unwrap();
    let second = list.iter().find(|a| a.cidr == net("10.1.64.0/18")).unwrap();
    store.release_allocation(&second.id).unwrap();
    allocate(store, &pool, Some(19), None);
    allocate(store, &pool, Some(20), None);
    allocate(store, &pool, Some(21), None);
    allocate(store, &pool, Some(22), None);
    // free: 10.1.124.0/22
    let e = refused(
        store,
        "exhausted",
        || store.allocate(&request(&pool, Some(20), None)),
        |e| matches!(e, Error::Exhausted { .. }),
    );
    assert_eq!(
        e.to_string(),
        format!(
            "no free /20 in pool {pool} (10.1.0.0/16): largest free block is /22 (10.1.124.0/22)"
        )
    );
    assert_eq!(e.input(), Some("netmask_length"));
    let v6 = top_pool(
        store,
        &f.private_scope,
        "2001:db8::/56",
        NetmaskRule::default(),
    );
    allocate(store, &v6, Some(57), None);
    let e = refused(
        store,
        "exhausted v6",
        || store.allocate(&request(&v6, Some(56), None)),
        |e| matches!(e, Error::Exhausted { .. }),
    );
    assert!(
        e.to_string()
            .ends_with("largest free block is /57 (2001:db8:0:80::/57)"),
        "{e}"
    );
    assert_consistent(store);
}

/// Ten levels of nesting, each carving from its parent under the parent's guardrails.
pub fn nested_pools_ten_deep(store: &dyn Store) {
    let f = fixture(store);
    for (top, step) in [("10.0.0.0/8", 2u8), ("2001:db8::/32", 4u8)] {
        let family = AddressFamily::of(&net(top));
        let mut parent = top_pool(store, &f.private_scope, top, NetmaskRule::default());
        let mut len = net(top).prefix_len();
        for depth in 1..=10u32 {
            len += step;
            let rule = NetmaskRule {
                min: Some(len + step),
                max: Some(len + step + 1),
                default: None,
            };
            let child = store
                .create_pool(&NewPool {
                    source_pool_id: Some(parent.clone()),
                    netmask: rule,
                    ..NewPool::new(&f.private_scope, family)
                })
                .unwrap();
            assert_eq!(child.depth, depth);
            let cidr = store
                .provision_pool_cidr(&child.id, PoolCidrRequest::NetmaskLength(len))
                .unwrap();
            assert_eq!(cidr.cidr.prefix_len(), len);
            // the child's guardrails bind the grandchild's cidrs
            parent = child.id;
        }
        let leaf_len = len + step;
        let cidr = allocate(store, &parent, Some(leaf_len), None);
        assert!(net(top).contains(&net(&cidr)));
        let grandchild = store
            .create_pool(&NewPool {
                source_pool_id: Some(parent.clone()),
                ..NewPool::new(&f.private_scope, family)
            })
            .unwrap();
        refused(
            store,
            "parent guardrails bind child cidrs",
            || {
                store.provision_pool_cidr(
                    &grandchild.id,
                    PoolCidrRequest::NetmaskLength(leaf_len + 2),
                )
            },
            |e| matches!(e, Error::NetmaskOutOfRange { .. }),
        );
    }
    assert_consistent(store);
}

/// Non-empty pool CIDRs, pools, scopes and IPAMs are kept unless `cascade`.
pub fn deprovision_and_delete_refuse_unless_cascade(store: &dyn Store) {
    let f = fixture(store);
    let top = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/8",
        NetmaskRule::default(),
    );
    let child = store
        .create_pool(&NewPool {
            source_pool_id: Some(top.clone()),
            ..NewPool::new(&f.private_scope, AddressFamily::Ipv4)
        })
        .unwrap();
    let child_cidr = store
        .provision_pool_cidr(&child.id, PoolCidrRequest::Cidr(net("10.1.0.0/16")))
        .unwrap();
    let allocation = store.allocate(&request(&child.id, Some(24), None)).unwrap();
    let e = refused(
        store,
        "deprovision a used cidr",
        || store.deprovision_pool_cidr(&child_cidr.id, false),
        |e| {
            matches!(
                e,
                Error::NotEmpty {
                    kind: ObjectKind::PoolCidr,
                    ..
                }
            )
        },
    );
    // a pool cidr has no cascade: the advice is to release what it holds
    assert!(
        e.to_string().contains(&allocation.id) && !e.to_string().contains("cascade"),
        "{e}"
    );
    let e = refused(
        store,
        "delete a used pool",
        || store.delete_pool(&child.id, false),
        |e| {
            matches!(
                e,
                Error::NotEmpty {
                    kind: ObjectKind::Pool,
                    ..
                }
            )
        },
    );
    assert!(e.to_string().contains(&allocation.id), "{e}");
    let e = refused(
        store,
        "delete a parent pool",
        || store.delete_pool(&top, false),
        |e| matches!(e, Error::NotEmpty { .. }),
    );
    assert!(e.to_string().contains(&child.id), "{e}");
    let top_cidr = store.list_pool_cidrs(&top).unwrap()[0].pool_cidr.id.clone();
    let e = refused(
        store,
        "deprovision a parent cidr",
        || store.deprovision_pool_cidr(&top_cidr, false),
        |e| matches!(e, Error::NotEmpty { .. }),
    );
    assert!(e.to_string().contains(&child_cidr.id), "{e}");
    store.deprovision_pool_cidr(&child_cidr.id, true).unwrap();
    assert!(matches!(
        store.get_allocation(&allocation.id),
        Err(Error::NotFound { .. })
    ));
    // the space went back to the parent
    assert!(store.list_allocations(&top).unwrap().is_empty());
    assert_eq!(store.list_pool_cidrs(&top).unwrap()[0].used_addresses, 0);
    store
        .provision_pool_cidr(&child.id, PoolCidrRequest::Cidr(net("10.1.0.0/16")))
        .unwrap();
    store.allocate(&request(&child.id, Some(24), None)).unwrap();
    store.delete_pool(&top, true).unwrap();
    assert!(store.find_pools(&PoolFilter::default()).unwrap().is_empty());
    assert_consistent(store);
}

/// Previews return what the next call will do, or its exact error, and write nothing.
pub fn previews_match_and_write_nothing(store: &dyn Store) {
    let f = fixture(store);
    let top = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/16",
        NetmaskRule {
            min: Some(16),
            max: Some(28),
            default: Some(24),
        },
    );
    allocate(store, &top, Some(24), None);
    let before = snapshot(store);
    let req = request(&top, Some(26), None);
    let preview = store.preview_allocation(&req).unwrap();
    assert_eq!(preview, net("10.0.1.0/26"));
    let overlap = store
        .preview_allocation(&request(&top, None, Some("10.0.0.0/25")))
        .unwrap_err();
    assert!(matches!(overlap, Error::Overlap { .. }), "{overlap}");
    let guard = store
        .preview_allocation(&request(&top, Some(29), None))
        .unwrap_err();
    assert!(matches!(guard, Error::NetmaskOutOfRange { .. }), "{guard}");
    let child = store
        .create_pool(&NewPool {
            source_pool_id: Some(top.clone()),
            ..NewPool::new(&f.private_scope, AddressFamily::Ipv4)
        })
        .unwrap();
    let after_child = snapshot(store);
    assert_ne!(before, after_child);
    let carve = store
        .preview_pool_cidr(&child.id, PoolCidrRequest::NetmaskLength(20))
        .unwrap();
    assert_eq!(carve, net("10.0.16.0/20"));
    assert!(matches!(
        store.preview_pool_cidr(&child.id, PoolCidrRequest::NetmaskLength(8)),
        Err(Error::NetmaskOutOfRange { .. })
    ));
    assert_eq!(after_child, snapshot(store), "previews wrote something");
    assert_eq!(store.allocate(&req).unwrap().cidr, preview);
    assert_eq!(
        store
            .provision_pool_cidr(&child.id, PoolCidrRequest::NetmaskLength(20))
            .unwrap()
            .cidr,
        carve
    );
    assert_consistent(store);
}

/// Pools are found by tags, description, locale, family and scope.
pub fn find_pools_by_filters(store: &dyn Store) {
    let f = fixture(store);
    let make = |family, locale: Option<&str>, description: &str, pool_tags: Tags| {
        store
            .create_pool(&NewPool {
                locale: locale.map(str::to_string),
                description: description.into(),
                tags: pool_tags,
                ..NewPool::new(&f.private_scope, family)
            })
            .unwrap()
            .id
    };
    let prod = make(
        AddressFamily::Ipv4,
        Some("eu-west-1"),
        "production",
        tags(&[("env", "prod"), ("team", "net")]),
    );
    let dev = make(
        AddressFamily::Ipv4,
        Some("us-east-1"),
        "development",
        tags(&[("env", "dev"), ("team", "net")]),
    );
    let v6 = make(
        AddressFamily::Ipv6,
        Some("eu-west-1"),
        "production v6",
        tags(&[("env", "prod")]),
    );
    let ids = |filter: PoolFilter| -> Vec<String> {
        let mut ids: Vec<String> = store
            .find_pools(&filter)
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        ids(PoolFilter {
            tags: tags(&[("env", "prod")]),
            ..PoolFilter::default()
        }),
        sorted(vec![prod.clone(), v6.clone()])
    );
    assert_eq!(
        ids(PoolFilter {
            tags: tags(&[("team", "net")]),
            address_family: Some(AddressFamily::Ipv4),
            ..PoolFilter::default()
        }),
        sorted(vec![prod.clone(), dev.clone()])
    );
    assert_eq!(
        ids(PoolFilter {
            locale: Some("us-east-1".into()),
            ..PoolFilter::default()
        }),
        vec![dev.clone()]
    );
    assert_eq!(
        ids(PoolFilter {
            description: Some("production".into()),
            ..PoolFilter::default()
        }),
        vec![prod.clone()]
    );
    assert_eq!(
        ids(PoolFilter {
            scope_id: Some(f.public_scope.clone()),
            ..PoolFilter::default()
        }),
        Vec::<String>::new()
    );
    assert_eq!(ids(PoolFilter::default()).len(), 3);
}

/// Updates change what they should and still enforce the rules.
pub fn updates_keep_rules(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/16",
        NetmaskRule::default(),
    );
    let updated = store
        .update_pool(
            &pool,
            &PoolUpdate {
                description: Some("prod".into()),
                allocation_resource_tags: Some(tags(&[("owner", "a")])),
                netmask: Some(NetmaskRule {
                    min: Some(20),
                    max: Some(28),
                    default: Some(24),
                }),
                tags: Some(tags(&[("k", "v")])),
                auto_import: Some(true),
                publicly_advertisable: None,
                utilization_warning_threshold: Some(Some(80)),
                release_cooldown: None,
            },
        )
        .unwrap();
    assert_eq!(
        (
            updated.description.as_str(),
            updated.netmask.default,
            updated.auto_import
        ),
        ("prod", Some(24), true)
    );
    assert_eq!(updated.utilization_warning_threshold, Some(80));
    let allocation = store
        .allocate(&AllocationRequest {
            tags: tags(&[("owner", "a")]),
            ..request(&pool, None, None)
        })
        .unwrap();
    assert_eq!(allocation.cidr, net("10.0.0.0/24"));
    refused(
        store,
        "update drops a required tag",
        || {
            store.update_allocation(
                &allocation.id,
                &AllocationUpdate {
                    tags: Some(Tags::new()),
                    ..AllocationUpdate::default()
                },
            )
        },
        |e| matches!(e, Error::MissingRequiredTags { .. }),
    );
    let changed = store
        .update_allocation(
            &allocation.id,
            &AllocationUpdate {
                description: Some("vpc".into()),
                tags: Some(tags(&[("owner", "a"), ("x", "y")])),
                name: None,
            },
        )
        .unwrap();
    assert_eq!(changed.description, "vpc");
    assert_eq!(store.get_allocation(&allocation.id).unwrap(), changed);
    refused(
        store,
        "update a missing allocation",
        || store.update_allocation("ipam-alloc-nope", &AllocationUpdate::default()),
        |e| matches!(e, Error::NotFound { .. }),
    );
    assert_consistent(store);
}

/// Every mutation leaves an audit event with the store's actor.
pub fn audit_events_record_every_mutation(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/16",
        NetmaskRule::default(),
    );
    let allocation = store.allocate(&request(&pool, Some(24), None)).unwrap();
    store.release_allocation(&allocation.id).unwrap();
    let events = store.audit_events(0, 1000).unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "create_ipam",
            "create_scope",
            "create_scope",
            "create_pool",
            "provision",
            "allocate",
            "release"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert!(events
        .iter()
        .all(|e| !e.actor.is_empty() && !e.at.is_empty()));
    assert_eq!(events[5].object_id, allocation.id);
    assert_eq!(events[5].cidr, Some(net("10.0.0.0/24")));
    assert_eq!(
        store.audit_events(events[4].sequence, 1).unwrap(),
        vec![events[5].clone()]
    );
}

/// A batch commits whole or not at all.
pub fn allocate_many_is_all_or_nothing(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/24",
        NetmaskRule::default(),
    );
    let batch: Vec<AllocationRequest> = (0..4).map(|_| request(&pool, Some(26), None)).collect();
    let mut too_many = batch.clone();
    too_many.push(request(&pool, Some(26), None));
    refused(
        store,
        "a batch that does not fit",
        || store.allocate_many(&too_many),
        |e| matches!(e, Error::Exhausted { .. }),
    );
    let done = store.allocate_many(&batch).unwrap();
    let mut cidrs: Vec<String> = done.iter().map(|a| a.cidr.to_string()).collect();
    cidrs.sort();
    assert_eq!(
        cidrs,
        [
            "10.0.0.0/26",
            "10.0.0.128/26",
            "10.0.0.192/26",
            "10.0.0.64/26"
        ]
    );
    assert_consistent(store);
}

/// An id names one allocation for good: once released it is not found, even when the same
/// CIDR is handed out again (to a new id); ids never issued are not found either.
pub fn released_ids_never_resolve_again(store: &dyn Store) {
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/24",
        NetmaskRule::default(),
    );
    let first = store.allocate(&request(&pool, Some(28), None)).unwrap();
    store.release_allocation(&first.id).unwrap();
    let again = store.allocate(&request(&pool, Some(28), None)).unwrap();
    assert_eq!(again.cidr, first.cidr);
    assert_ne!(again.id, first.id, "a released id was issued again");
    {
        let released = first.id.as_str();
        refused(
            store,
            "read a released allocation",
            || store.get_allocation(released),
            |e| matches!(e, Error::NotFound { .. }),
        );
        refused(
            store,
            "release a released allocation",
            || store.release_allocation(released),
            |e| matches!(e, Error::NotFound { .. }),
        );
        refused(
            store,
            "update a released allocation",
            || store.update_allocation(released, &AllocationUpdate::default()),
            |e| matches!(e, Error::NotFound { .. }),
        );
    }
    assert_eq!(store.get_allocation(&again.id).unwrap(), again);
    // ids of other objects and ids never issued
    for id in [
        pool.as_str(),
        f.ipam_id.as_str(),
        "ipam-alloc-0000000000000000",
        "ipam-alloc-ffffffffffffffff",
        "ipam-alloc-",
        "x",
    ] {
        refused(
            store,
            "read an allocation that was never issued",
            || store.get_allocation(id),
            |e| matches!(e, Error::NotFound { .. }),
        );
    }
    // many cycles over the same space: every old id stays unknown
    let mut released = vec![first.id, again.id.clone()];
    store.release_allocation(&again.id).unwrap();
    for _ in 0..20 {
        let allocation = store.allocate(&request(&pool, Some(28), None)).unwrap();
        assert!(
            !released.contains(&allocation.id),
            "{} reissued",
            allocation.id
        );
        store.release_allocation(&allocation.id).unwrap();
        released.push(allocation.id);
    }
    for id in &released {
        assert!(
            matches!(store.get_allocation(id), Err(Error::NotFound { .. })),
            "{id} resolves after its release"
        );
    }
    assert_consistent(store);
}

/// The audit log tells an object deleted from this database from one never made in it, and an
/// empty database from one that holds something.
pub fn history_knows_what_was_made_here(store: &dyn Store) {
    let never = ObjectHistory::Unrecorded { empty: true };
    assert_eq!(store.history("ipam-pool-0123456789abcdef").unwrap(), never);
    assert_eq!(store.history("ipam-alloc-0123456789abcdef").unwrap(), never);
    let f = fixture(store);
    let pool = top_pool(
        store,
        &f.private_scope,
        "10.0.0.0/24",
        NetmaskRule::default(),
    );
    let allocation = store.allocate(&request(&pool, Some(26), None)).unwrap();
    let cidr_id = store.list_pool_cidrs(&pool).unwrap()[0]
        .pool_cidr
        .id
        .clone();
    store.release_allocation(&allocation.id).unwrap();
    store.delete_pool(&pool, false).unwrap();
    store.delete_ipam(&f.ipam_id, false).unwrap();
    for gone in [
        &f.ipam_id,
        &f.private_scope,
        &f.public_scope,
        &pool,
        &cidr_id,
        &allocation.id,
    ] {
        assert_eq!(
            store.history(gone).unwrap(),
            ObjectHistory::Recorded,
            "{gone}"
        );
    }
    let elsewhere = ObjectHistory::Unrecorded { empty: false };
    for made_elsewhere in [
        "ipam-pool-0123456789abcdef",
        "ipam-alloc-0123456789abcdef",
        "ipam-0123456789abcdef",
    ] {
        assert_eq!(
            store.history(made_elsewhere).unwrap(),
            elsewhere,
            "{made_elsewhere}"
        );
    }
}
