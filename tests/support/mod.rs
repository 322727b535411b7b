//! Shared helpers for the integration tests. Each test crate includes this with `mod support;`,
//! so not every helper is used by every crate.
#![allow(dead_code)]

pub mod grpc;
pub mod ipam;
pub mod netns;
pub mod postgres;
pub mod terraform;
