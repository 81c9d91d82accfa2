//! The hub's gRPC services as one router part: each service with its compression and
//! message limits, the health service (with its reporter, so the storage watcher can
//! flip the sync service to NOT_SERVING) and reflection in both versions.

use tonic::codec::CompressionEncoding;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use yanpei_proto::pb::account_service_server::AccountServiceServer;
use yanpei_proto::pb::attachment_service_server::AttachmentServiceServer;
use yanpei_proto::pb::enroll_service_server::EnrollServiceServer;
use yanpei_proto::pb::query_service_server::QueryServiceServer;
use yanpei_proto::pb::sync_service_server::SyncServiceServer;

use crate::accounts::Accounts;
use crate::attach::Attachments;
use crate::enroll::Enroll;
use crate::query::Query;
use crate::sync::Sync;
use crate::{HubError, MAX_MESSAGE_BYTES};

/// Small requests only: a login or a certificate request.
const SMALL_MESSAGE_BYTES: usize = 64 * 1024;

/// The cores the services answer with.
pub(crate) struct Cores {
    pub sync: Sync,
    pub query: Query,
    pub attachments: Attachments,
    pub accounts: Accounts,
    pub enroll: Enroll,
}

/// Every service of the gRPC port, marked SERVING, with the health reporter.
pub(crate) async fn routes(cores: Cores) -> Result<(RoutesBuilder, HealthReporter), HubError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<SyncServiceServer<Sync>>().await;
    health.set_serving::<QueryServiceServer<Query>>().await;
    health.set_serving::<AttachmentServiceServer<Attachments>>().await;
    health.set_serving::<AccountServiceServer<super::accounts::AccountGrpc>>().await;
    health.set_serving::<EnrollServiceServer<Enroll>>().await;
    // Reflection in both versions: older grpcurl releases and Python's grpcio-reflection ask v1alpha.
    let reflection_v1 = reflection().build_v1().map_err(|e| HubError::Startup(format!("reflection: {e}")))?;
    let reflection_v1alpha =
        reflection().build_v1alpha().map_err(|e| HubError::Startup(format!("reflection v1alpha: {e}")))?;
    let mut routes = RoutesBuilder::default();
    routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            SyncServiceServer::new(cores.sync)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            QueryServiceServer::new(cores.query)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        // Chunks are not compressed (photos and documents are already); a chunk is far below the limit.
        .add_service(
            AttachmentServiceServer::new(cores.attachments)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            AccountServiceServer::new(super::accounts::AccountGrpc(cores.accounts))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(SMALL_MESSAGE_BYTES)
                .max_encoding_message_size(SMALL_MESSAGE_BYTES),
        )
        .add_service(
            EnrollServiceServer::new(cores.enroll)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(SMALL_MESSAGE_BYTES)
                .max_encoding_message_size(SMALL_MESSAGE_BYTES),
        );
    Ok((routes, health))
}

/// Sets the sync service's health (and the server's as a whole, "").
pub(crate) async fn set_sync_health(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status(<SyncServiceServer<Sync> as tonic::server::NamedService>::NAME, status).await;
    health.set_service_status("", status).await;
}

/// What reflection describes: yanpei's services, the health service and both versions of
/// reflection itself, so either version lists every service the port answers.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(yanpei_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}
