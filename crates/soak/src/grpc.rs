//! The soak's one edge to the hub's gRPC types: a raw push session as a node (a
//! handshake and one push, no finish), for the faults no node agent makes on its own
//! (replays, reordered deliveries, a record of another school). Everything else in the
//! crate sees the typed changes and answer below, never a prost type.

use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};
use yanpei_node::HubEndpoint;
use yanpei_proto::pb::{self, sync_service_client::SyncServiceClient};
use yanpei_store::decide::Origin;
use yanpei_store::node::OutboxEntry;

/// One change as it went on the wire: sequence number, record, ancestors, and its maker
/// when not the sender.
pub(crate) type Sent = (u64, Activity, Vec<String>, Option<Origin>);

/// An outbox entry as the node puts it on the wire.
pub(crate) fn sent(e: OutboxEntry) -> Sent {
    (e.seq, e.activity, e.ancestors.iter().map(ToString::to_string).collect(), e.maker)
}

/// The hub's answer to a push, as it sent it (its debug text is the wire message's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushResponse {
    /// Highest sequence number of the node now durable at the hub.
    pub(crate) acked_seq: u64,
    /// Changes that changed the hub's state.
    pub(crate) applied: u32,
    /// Changes already held.
    pub(crate) unchanged: u32,
    /// Changes that met a concurrent version of their record.
    pub(crate) conflicts: u32,
    /// Changes the hub refused.
    pub(crate) refused: Vec<Refusal>,
}

/// One change the hub refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// Its sequence number.
    pub(crate) seq: u64,
    /// Its record's id, as the hub wrote it.
    pub(crate) activity_id: String,
    /// The hub's reason.
    pub(crate) reason: String,
    /// The school the record belongs to (or claims to); empty when unknown.
    pub(crate) owner_school: String,
}

impl From<pb::PushResponse> for PushResponse {
    fn from(r: pb::PushResponse) -> Self {
        PushResponse {
            acked_seq: r.acked_seq,
            applied: r.applied,
            unchanged: r.unchanged,
            conflicts: r.conflicts,
            refused: r
                .refused
                .into_iter()
                .map(|f| Refusal {
                    seq: f.seq,
                    activity_id: f.activity_id,
                    reason: f.reason,
                    owner_school: f.owner_school,
                })
                .collect(),
        }
    }
}

/// Where a raw push session failed (each with the error's text).
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum RawPushError {
    /// Connecting to the hub.
    #[error("{0}")]
    Connect(String),
    /// The handshake.
    #[error("{0}")]
    Handshake(String),
    /// The push.
    #[error("{0}")]
    Push(String),
}

/// One push in a session of its own, as `node_id` of `school` (`agent` names the tool in
/// the handshake). No Finish: the session ends like a tool that went away (a Finish would
/// move the node's recorded pull cursor).
pub(crate) async fn raw_push(
    endpoint: &HubEndpoint,
    node_id: Uuid,
    school: &SchoolCode,
    agent: &str,
    changes: &[Sent],
) -> Result<PushResponse, RawPushError> {
    let channel = endpoint.connect().await.map_err(|e| RawPushError::Connect(e.to_string()))?;
    let mut client = SyncServiceClient::new(channel);
    let hello = client
        .handshake(pb::HandshakeRequest {
            protocol_version: yanpei_proto::PROTOCOL_VERSION,
            node_id: node_id.to_string(),
            school_code: school.to_string(),
            agent_version: agent.into(),
        })
        .await
        .map_err(|e| RawPushError::Handshake(e.to_string()))?
        .into_inner();
    let changes = changes
        .iter()
        .map(|(seq, a, ancestors, maker)| pb::Change {
            seq: *seq,
            activity: Some(pb::Activity::from(a)),
            ancestors: ancestors.clone(),
            maker_node: maker.as_ref().map(|m| m.node.to_string()).unwrap_or_default(),
            maker_school: maker.as_ref().map(|m| m.school.clone()).unwrap_or_default(),
        })
        .collect();
    let reply = client
        .push(pb::PushRequest { session_id: hello.session_id, changes })
        .await
        .map_err(|e| RawPushError::Push(e.to_string()))?
        .into_inner();
    Ok(reply.into())
}
