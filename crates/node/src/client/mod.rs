//! The node crate's gRPC edge, and the only place in it that names a prost type: building the channel to the hub (rustls through tonic, the county CA, this
//! side's certificate or a login token), its time limits, which failures are worth
//! retrying, and typed calls: domain, store and report types in and out. The conversions
//! are the proto crate's (`From`/`TryFrom`), or, for the store's types the proto crate
//! does not know, this module's own (`wire`).
//!
//! - [`HubEndpoint`]: where the hub is and the mutual-TLS material a node presents.
//! - `SyncSession`: one sync session's calls (handshake, push, pull, roster, finish,
//!   anti-entropy, attachment upload, certificate renewal).
//! - [`enroll`](crate::enroll)'s calls: the CA read off the hub's TLS chain, `Enroll`.

mod chain;
mod sync;
mod wire;

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::NodeError;

pub use chain::fetch_ca;
pub(crate) use sync::{Hello, SyncSession, enroll_call};

pub use crate::error::retryable;
pub use yanpei_pki::TlsMaterial;

/// How long connecting to the hub may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one call may take (a sync's push of 1000 changes, a county report).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long an enrollment call may take.
pub const ENROLL_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest message a sync session sends or accepts.
pub(crate) const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// Where and how to reach the hub.
#[derive(Debug, Clone)]
pub struct HubEndpoint {
    /// `https://HOST:PORT`.
    pub url: String,
    /// The name the hub's certificate must carry (default [`yanpei_pki::HUB_DNS_NAME`]).
    pub server_name: String,
    /// Mutual TLS material.
    pub tls: TlsMaterial,
}

impl HubEndpoint {
    /// Opens a channel to the hub over mutual TLS.
    pub async fn connect(&self) -> Result<Channel, NodeError> {
        let identity = Some((self.tls.cert_pem.as_str(), self.tls.key_pem.as_str()));
        channel(&self.url, &self.server_name, &self.tls.ca_pem, identity, CALL_TIMEOUT).await
    }

    /// The first call's failure: a connection the hub cut in the TLS handshake (it refused
    /// this node's certificate: TLS 1.3 tells the client only then) says why, like
    /// [`HubEndpoint::connect`]; an answer of the hub's stays its answer.
    pub fn first_call(&self, status: tonic::Status) -> NodeError {
        if crate::reach::is_transport(&status) {
            return NodeError::Transport(crate::reach::explain(&self.url, &self.server_name, &status));
        }
        NodeError::from(status)
    }
}

/// A TLS channel to the hub at `url`, whose certificate must be the county CA's (`ca_pem`)
/// and carry `server_name`; this side presents `identity` (certificate and key PEM) when
/// given. A failed connection says why in Chinese (`crate::reach`).
pub(crate) async fn channel(
    url: &str,
    server_name: &str,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<Channel, NodeError> {
    let mut tls =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem)).domain_name(server_name);
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(url.to_owned())
        .map_err(|e| NodeError::Config(format!("中心地址「{url}」无效：{e}")))?
        .tls_config(tls)
        .map_err(|e| NodeError::Config(format!("TLS 配置无效：{e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .connect()
        .await
        .map_err(|e| NodeError::Transport(crate::reach::explain(url, server_name, &e)))
}

/// An error the hub's answer showed (it sent something no valid hub sends).
pub(crate) fn bad_answer(what: String) -> NodeError {
    NodeError::Hub(tonic::Status::internal(what))
}
