//! The fault suites.
//!
//! **The store-level suite** (`run_seed`, `yanpei soak`, `tests/faults.rs`): each
//! schedule, chosen by a seed so any failure replays, drives a real hub (mutual TLS,
//! SQLite or PostgreSQL) and real node agents through records, edits, deletes and
//! syncs while injecting faults: streams cut at random byte counts, acknowledgements
//! lost after the hub committed, already-acknowledged batches replayed, the hub
//! stopped and restarted, and node writes cancelled half-way. Its checker compares
//! the hub with the union of the nodes' stores.
//!
//! **The intent suite** (`run_intent_seed`, `yanpei soak --intent`,
//! `crates/yanpei/tests/intent_faults.rs`, issue 15): every action a person takes is
//! appended to an intent log outside every store before it runs; the hub is a
//! `yanpei hub serve` process that is killed, frozen, starved of disk and restored
//! from an earlier copy; and the checker computes the expected end state from the
//! log and the sync protocol's rules alone, reading the hub's database from outside
//! after the process exited. See `README.md` in this crate.

mod check;
#[cfg(test)]
mod check_tests;
mod eio;
mod faults;
mod grpc;
mod hubdb;
mod inject;
mod intent;
mod node_write;
mod outside;
mod people;
mod proc;
mod proxy;
mod roster_change;
mod roster_versions;
mod schedule;
mod schedule_intent;
mod tree;
mod two_hubs;
mod wire;
mod world;

pub use check::{Class, HubSnapshot, NodeSnapshot, Verdict, check};
pub use faults::{FaultKind, FaultTally};
pub use intent::{Action, Actor, Event, EventKind, Intent, IntentLog, Outcome};
pub use node_write::{NodeWrite, WriteReport, node_write};
pub use outside::{read_hub, read_node};
pub use proxy::CutProxy;
pub use schedule::{FaultCounts, SeedReport, SoakError, run_seed};
pub use schedule_intent::{IntentOptions, IntentReport, run_intent_seed};
pub use tree::rev;
