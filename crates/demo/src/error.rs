//! What can stop the demo.

use yanpei_hub::HubError;
use yanpei_hub::grpc::decode::BadAnswer;
use yanpei_node::NodeError;
use yanpei_pki::PkiError;
use yanpei_store::StoreError;

/// What can stop the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Certificates.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A node.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The hub.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// A query.
    #[error("query failed: {0}")]
    Query(#[from] tonic::Status),
    /// An answer of the hub's that could not be read.
    #[error("the hub's answer could not be read: {0}")]
    Answer(#[from] BadAnswer),
    /// Files and sockets.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}
