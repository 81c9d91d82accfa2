//! The yanpei wire protocol, generated from `proto/yanpei/v1/*.proto` (sync, attachments).
//!
//! Prost types stop at the edge: the hub and the node convert them into
//! `yanpei-domain` types (validating on the way in) before anything else sees them.

/// Generated messages and gRPC stubs of `yanpei.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("yanpei.v1");
}

/// The protocol version this build speaks; sent in every handshake.
/// 3: changes carry their ancestors (causal conflicts), refusals are per change,
/// anti-entropy (`ReconcileDigests`, `ReconcilePeriod`).
pub const PROTOCOL_VERSION: u32 = 3;

/// The first protocol version whose changes carry their ancestors.
pub const CAUSAL_PROTOCOL_VERSION: u32 = 3;

/// The oldest node protocol version the hub still accepts.
pub const MIN_PROTOCOL_VERSION: u32 = 2;

/// Encoded `FileDescriptorSet` of the protocol, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("yanpei_descriptor");

mod convert;
pub use convert::{kind_from_pb, kind_to_pb, semester_from_pb, semester_to_pb};

mod roster;
pub use roster::{roster_from_pb, roster_to_pb};
