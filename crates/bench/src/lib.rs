//! The load test and the benchmarks of issue 9.
//!
//! Everything here drives the real system: the hub runs as a separate
//! `yanpei hub serve` process (so its peak memory is its own), nodes talk to
//! it over mutual TLS with certificates from the county CA, and every
//! comparison is measured side by side in one run on the same machine:
//!
//! - [`load::run_load`]: many simulated nodes, each syncing a night's batch;
//! - [`bench::run_bench`]: hub ingest against direct SQLite writes and
//!   PostgreSQL `COPY`, against PouchDB replication, bytes on the wire, and the
//!   node agent's peak memory; [`report`] renders the table and `BENCHMARKS.md`;
//! - [`reports::run_reports`]: a hub filled with millions of records, the county
//!   overview and the compliance report from the rollups against the raw table.

pub mod bench;
mod direct;
mod error;
mod grpc;
mod hubproc;
pub mod load;
mod machine;
mod nodemem;
mod pouch;
mod procmem;
pub mod report;
pub mod reports;
mod wire;
mod world;

pub use bench::{BenchOptions, BenchReport, Row, run_bench};
pub use error::BenchError;
pub use load::{LoadOptions, LoadReport, run_load};
pub use machine::Machine;
pub use reports::{ReportsOptions, ReportsReport, run_reports};
