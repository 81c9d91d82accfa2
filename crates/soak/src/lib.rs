//! The fault suite. Each schedule, chosen by a seed so any failure replays,
//! drives a real hub (mutual TLS, SQLite or PostgreSQL) and real node agents
//! through records, edits, deletes and syncs while injecting faults: streams
//! cut at random byte counts, acknowledgements lost after the hub committed,
//! already-acknowledged batches replayed, the hub stopped and restarted, and
//! node writes cancelled half-way. Then every node syncs until quiet, and the
//! checker verifies the invariant: **the hub holds exactly the union of the
//! nodes' records, each once, at its latest version**, and the county counts
//! equal a recount of the hub's rows.

mod proxy;
mod schedule;

pub use proxy::CutProxy;
pub use schedule::{FaultCounts, SeedReport, SoakError, run_seed};
