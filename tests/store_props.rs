//! Property tests through the SQLite store: the conformance suite's nested-pool sequences
//! (random provision / allocate / release / deprovision across three levels of nested pools
//! never break containment or overlap, free + used space always equals provisioned space),
//! drawn by proptest so that a failure shrinks to a short sequence.

use proptest::prelude::*;
use tfipam::store::conformance::sequences::{run_nested_sequence, Op};
use tfipam::store::{SqliteOptions, SqliteStore};

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..3, 2u8..10).prop_map(|(level, extra)| Op::Allocate { level, extra }),
        2 => (0usize..3, 2u8..10, any::<u16>()).prop_map(|(level, extra, slot)| Op::Explicit { level, extra, slot }),
        2 => (1usize..3, 1u8..6).prop_map(|(level, extra)| Op::Provision { level, extra }),
        3 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Deprovision { pick }),
    ]
}

fn run(top: &str, ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(dir.path().join("props.db"), SqliteOptions::new("props")).unwrap();
    run_nested_sequence(&store, top, &ops);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn ipv4_nested_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 1..40)) {
        run("10.0.0.0/16", ops);
    }

    #[test]
    fn ipv6_nested_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 1..40)) {
        run("2001:db8::/48", ops);
    }
}
