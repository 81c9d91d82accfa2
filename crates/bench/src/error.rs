//! What stops a benchmark from running at all.

use yanpei_node::NodeError;
use yanpei_pki::PkiError;
use yanpei_store::StoreError;

/// A benchmark or load test that could not run (not a slow figure: those are reported).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Certificates.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A node agent.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A direct SQLite write (the baseline).
    #[error("direct SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A direct PostgreSQL write (the baseline).
    #[error("direct PostgreSQL: {0}")]
    Postgres(String),
    /// A gRPC call that must work.
    #[error("gRPC: {0}")]
    Grpc(#[from] tonic::Status),
    /// Files, sockets and processes.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// A child process (the hub, a node) misbehaved.
    #[error("{0}")]
    Process(String),
    /// The run's own check failed: what was measured is not what it claims.
    #[error("check failed: {0}")]
    Check(String),
}

impl BenchError {
    /// An I/O error with what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |e| BenchError::Io(what, e)
    }
}
