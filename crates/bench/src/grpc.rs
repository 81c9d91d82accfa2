//! The bench's one edge to the hub's gRPC types: a simulated node's nightly session
//! (handshake, push, pull, roster, finish) over the generated client, the county's count
//! asked as the operator, and the protobuf size of a batch. The rest of the crate sees
//! records, counts and durations, never a prost type.

use prost::Message;
use tonic::codec::CompressionEncoding;
use uuid::Uuid;
use yanpei_demo::DEMO_SEMESTER;
use yanpei_domain::Activity;
use yanpei_node::HubEndpoint;
use yanpei_proto::PROTOCOL_VERSION;
use yanpei_proto::pb::{
    self, query_service_client::QueryServiceClient, sync_service_client::SyncServiceClient,
};

use crate::BenchError;

/// A node's records encoded as wire changes once, numbered from 1 (before any clock starts).
pub(crate) struct WireChanges(Vec<pb::Change>);

impl WireChanges {
    /// `records` as changes with sequence numbers 1, 2, ... and no ancestors.
    pub(crate) fn of(records: &[Activity]) -> WireChanges {
        WireChanges(
            records
                .iter()
                .enumerate()
                .map(|(k, a)| pb::Change {
                    seq: k as u64 + 1,
                    activity: Some(pb::Activity::from(a)),
                    ..Default::default()
                })
                .collect(),
        )
    }

    /// How many changes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Their protobuf encoded length, summed change by change.
    pub(crate) fn encoded_len(&self) -> usize {
        self.0.iter().map(Message::encoded_len).sum()
    }
}

/// What one session moved.
#[derive(Default)]
pub(crate) struct SessionCounts {
    /// Records pushed.
    pub(crate) pushed: u64,
    /// Records pulled (other nodes' records of the same school).
    pub(crate) pulled: u64,
}

/// One simulated node's nightly session, as the agent runs it: handshake as `node_id`
/// of `school`, push `changes` in batches of 500 (each fully applied), pull every page
/// (validating each record), ask for the roster after `roster_version`, finish.
pub(crate) async fn night_session(
    endpoint: &HubEndpoint,
    node_id: Uuid,
    school: &str,
    changes: &WireChanges,
    roster_version: u64,
    compress: bool,
) -> Result<SessionCounts, String> {
    let channel = endpoint.connect().await.map_err(|e| format!("connect: {e}"))?;
    let mut client = SyncServiceClient::new(channel)
        .max_decoding_message_size(8 * 1024 * 1024)
        .max_encoding_message_size(8 * 1024 * 1024);
    if compress {
        client =
            client.send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip);
    }
    let call = |what: &'static str| move |s: tonic::Status| format!("{what}: {} {}", s.code(), s.message());
    let hello = client
        .handshake(pb::HandshakeRequest {
            protocol_version: PROTOCOL_VERSION,
            node_id: node_id.to_string(),
            school_code: school.to_owned(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
        .await
        .map_err(call("handshake"))?
        .into_inner();
    let mut out = SessionCounts::default();
    for batch in changes.0.chunks(500) {
        let last = batch.last().map(|c| c.seq).unwrap_or(0);
        let reply = client
            .push(pb::PushRequest { session_id: hello.session_id.clone(), changes: batch.to_vec() })
            .await
            .map_err(call("push"))?
            .into_inner();
        if reply.acked_seq != last || reply.applied as usize != batch.len() {
            return Err(format!(
                "push: acked {} applied {} for a batch of {} up to seq {last}",
                reply.acked_seq,
                reply.applied,
                batch.len()
            ));
        }
        out.pushed += batch.len() as u64;
    }
    let mut cursor = 0;
    loop {
        let page = client
            .pull(pb::PullRequest { session_id: hello.session_id.clone(), cursor, limit: 500 })
            .await
            .map_err(call("pull"))?
            .into_inner();
        for c in page.changes {
            let a = c.activity.ok_or("pull: a change without a record")?;
            Activity::try_from(a).map_err(|e| format!("pull: invalid record: {e}"))?;
            out.pulled += 1;
        }
        cursor = cursor.max(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    client
        .pull_roster(pb::PullRosterRequest {
            session_id: hello.session_id.clone(),
            known_version: roster_version,
        })
        .await
        .map_err(call("roster"))?;
    client
        .finish(pb::FinishRequest { session_id: hello.session_id.clone(), pull_cursor: cursor })
        .await
        .map_err(call("finish"))?;
    Ok(out)
}

/// Live records of the demo semester the hub counts, asked through `operator` (the
/// county operator's endpoint).
pub(crate) async fn county_total(operator: &HubEndpoint) -> Result<u64, BenchError> {
    let channel = operator.connect().await?;
    let reply = QueryServiceClient::new(channel)
        .stats(pb::StatsRequest {
            semester: Some(yanpei_proto::semester_to_pb(DEMO_SEMESTER)),
            scope: None,
            group_by: pb::GroupBy::Unspecified as i32,
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(reply.total)
}
