//! The school's node agent: a local store that works offline, and the sync
//! client that delivers its outbox to the hub and brings back what concerns it.
//!
//! The outbox is the contract: an entry leaves it only after the hub has
//! acknowledged a sequence number at or above it, so a cut connection or a
//! crash at any point re-sends rather than loses, and the hub's idempotent
//! apply makes the re-send harmless.

mod agent;
mod attach;
pub mod client;
pub mod enroll;
mod error;
pub mod reach;
mod schedule;

pub use agent::{Agent, Fault, RECONCILE_EVERY, Reconcile, SyncOptions, SyncReport, TlsMaterial};
pub use attach::attach_files;
pub use client::HubEndpoint;
pub use enroll::{Enrolled, Renewal};
pub use error::NodeError;
pub use schedule::{Backoff, Clock, Schedule, Syncer, SystemClock, run_daemon, run_daemon_with};
pub use yanpei_attach::BlobDir;
