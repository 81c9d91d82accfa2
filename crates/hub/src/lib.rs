//! The county hub: a gRPC server over mutual TLS that applies the nodes'
//! batches, hands them the changes that concern them, keeps the sync ledger
//! and answers county statistics.
//!
//! [`run`] takes a bound listener, the configuration and a shutdown future,
//! so tests start a real hub on `127.0.0.1:0`.

mod auth;
mod error;
mod query;
mod sync;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use yanpei_proto::pb::query_service_server::QueryServiceServer;
use yanpei_proto::pb::sync_service_server::SyncServiceServer;
use yanpei_store::hub::HubStore;

pub use error::HubError;

/// Largest message the hub decodes or sends (a full push batch is far smaller).
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

pub use yanpei_pki::TlsMaterial;

/// How the hub runs.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Database URL: `sqlite://PATH?mode=rwc` (default) or `postgres://...`.
    pub database_url: String,
    /// Mutual TLS material. The hub does not serve without it.
    pub tls: TlsMaterial,
}

/// Opens the database (running migrations), then serves until `shutdown` completes.
///
/// In-flight RPCs are allowed to finish when `shutdown` fires; each batch is
/// one transaction, so one cut short leaves nothing behind.
pub async fn run(
    listener: TcpListener,
    config: HubConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), HubError> {
    let store = HubStore::open(&config.database_url).await?;
    serve(listener, store, config.tls, shutdown).await
}

/// Serves an already opened store.
pub async fn serve(
    listener: TcpListener,
    store: HubStore,
    tls: TlsMaterial,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), HubError> {
    let tls_config = ServerTlsConfig::new()
        .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
        .client_ca_root(Certificate::from_pem(&tls.ca_pem))
        .timeout(Duration::from_secs(10));

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<SyncServiceServer<sync::Sync>>().await;
    health.set_serving::<QueryServiceServer<query::Query>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(yanpei_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| HubError::Startup(format!("reflection: {e}")))?;

    let sync = SyncServiceServer::new(sync::Sync::new(store.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let query = QueryServiceServer::new(query::Query::new(store))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let addr = listener.local_addr().map_err(|e| HubError::Startup(e.to_string()))?;
    tracing::info!(%addr, "hub serving gRPC over mutual TLS");
    Server::builder()
        .tls_config(tls_config)
        .map_err(|e| HubError::Startup(format!("TLS configuration: {e}")))?
        .add_service(health_service)
        .add_service(reflection)
        .add_service(sync)
        .add_service(query)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
        .map_err(|e| HubError::Startup(format!("server: {e}")))?;
    tracing::info!("hub stopped");
    Ok(())
}
