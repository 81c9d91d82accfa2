//! One sync session's calls, typed: the node's outbox, pulled records, the roster, the
//! hub's conflicts, anti-entropy and attachment chunks in the store's and the domain's
//! terms; and the enrollment service's calls.

use std::collections::BTreeMap;

use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use uuid::Uuid;
use yanpei_attach::Digest;
use yanpei_domain::roster::Roster;
use yanpei_domain::{Rev, SchoolCode};
use yanpei_proto::pb::{
    self, attachment_service_client::AttachmentServiceClient, enroll_service_client::EnrollServiceClient,
    sync_service_client::SyncServiceClient,
};
use yanpei_proto::{CAUSAL_PROTOCOL_VERSION, PROTOCOL_VERSION};
use yanpei_store::node::{OutboxEntry, PeriodDigest, PulledRecord};

use super::wire::{change_to_pb, conflict_from_pb, pulled_from_pb, record_ids};
use super::{ENROLL_TIMEOUT, HubEndpoint, MAX_MESSAGE, bad_answer, channel};
use crate::NodeError;

/// The hub's answer to a handshake.
#[derive(Debug, Clone)]
pub(crate) struct Hello {
    /// The session the hub opened.
    pub(crate) session_id: String,
    /// The highest sequence number the hub holds for this node.
    pub(crate) acked_seq: u64,
    /// The hub's change counter.
    pub(crate) hub_cursor: u64,
    /// The pull cursor this node reported at its last finished session.
    pub(crate) node_pull_cursor: u64,
    /// The protocol the hub speaks.
    pub(crate) hub_protocol_version: u32,
}

impl Hello {
    /// Whether the hub speaks the causal protocol (ancestors, anti-entropy).
    pub(crate) fn causal(&self) -> bool {
        self.hub_protocol_version >= CAUSAL_PROTOCOL_VERSION
    }
}

/// The hub's answer to one push.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pushed {
    /// The highest sequence number answered (refused ones included).
    pub(crate) acked_seq: u64,
    /// Changes that changed the hub.
    pub(crate) applied: u32,
    /// Changes the hub already held.
    pub(crate) unchanged: u32,
    /// Changes that met a concurrent version.
    pub(crate) conflicts: u32,
    /// Refused changes: (sequence number, the hub's reason).
    pub(crate) refused: Vec<(u64, String)>,
}

/// One page of pulled changes.
#[derive(Debug, Clone)]
pub(crate) struct PulledPage {
    /// The records.
    pub(crate) records: Vec<PulledRecord>,
    /// Shared records that no longer name this school.
    pub(crate) gone: Vec<Uuid>,
    /// The cursor after this page.
    pub(crate) next_cursor: u64,
    /// Whether more pages follow.
    pub(crate) has_more: bool,
}

/// The hub's answer to the digests: the periods that differ.
#[derive(Debug, Clone)]
pub(crate) struct Differing {
    /// The periods whose digests differ.
    pub(crate) periods: Vec<String>,
    /// The hub's counter as read before the comparison.
    pub(crate) as_of_cursor: u64,
}

/// The hub's answer for one differing period.
#[derive(Debug, Clone)]
pub(crate) struct PeriodAnswer {
    /// Records the hub wants sent again.
    pub(crate) wanted: Vec<Uuid>,
    /// The hub's versions of what this node lacks or holds older.
    pub(crate) records: Vec<PulledRecord>,
    /// Records no longer in the school's view.
    pub(crate) gone: Vec<Uuid>,
}

/// How much of a file the hub holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    /// Bytes the hub holds durably.
    pub(crate) received: u64,
    /// Whether it holds the whole file.
    pub(crate) complete: bool,
}

/// A sync session with the hub: its channel, its clients and its id.
#[derive(Debug)]
pub(crate) struct SyncSession {
    channel: Channel,
    sync: SyncServiceClient<Channel>,
    files: AttachmentServiceClient<Channel>,
    session_id: String,
}

impl SyncSession {
    /// Connects over mutual TLS and shakes hands as node `node_id` of `school`.
    pub(crate) async fn open(
        hub: &HubEndpoint,
        node_id: Uuid,
        school: &SchoolCode,
        compress: bool,
    ) -> Result<(SyncSession, Hello), NodeError> {
        let channel = hub.connect().await?;
        let mut sync = SyncServiceClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        if compress {
            sync =
                sync.send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip);
        }
        let hello = sync
            .handshake(pb::HandshakeRequest {
                protocol_version: PROTOCOL_VERSION,
                node_id: node_id.to_string(),
                school_code: school.to_string(),
                agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .await
            .map_err(|s| hub.first_call(s))?
            .into_inner();
        let files = AttachmentServiceClient::new(channel.clone());
        let hello = Hello {
            session_id: hello.session_id,
            acked_seq: hello.acked_seq,
            hub_cursor: hello.hub_cursor,
            node_pull_cursor: hello.node_pull_cursor,
            hub_protocol_version: hello.hub_protocol_version,
        };
        Ok((SyncSession { channel, sync, files, session_id: hello.session_id.clone() }, hello))
    }

    /// Pushes outbox entries; the hub's answer.
    pub(crate) async fn push(&mut self, entries: &[OutboxEntry]) -> Result<Pushed, NodeError> {
        let changes = entries.iter().map(change_to_pb).collect();
        let reply = self
            .sync
            .push(pb::PushRequest { session_id: self.session_id.clone(), changes })
            .await?
            .into_inner();
        Ok(Pushed {
            acked_seq: reply.acked_seq,
            applied: reply.applied,
            unchanged: reply.unchanged,
            conflicts: reply.conflicts,
            refused: reply.refused.into_iter().map(|r| (r.seq, r.reason)).collect(),
        })
    }

    /// The changes after `cursor`, at most `limit`.
    pub(crate) async fn pull(&mut self, cursor: u64, limit: u32) -> Result<PulledPage, NodeError> {
        let page = self
            .sync
            .pull(pb::PullRequest { session_id: self.session_id.clone(), cursor, limit })
            .await?
            .into_inner();
        Ok(PulledPage {
            records: page.changes.into_iter().map(pulled_from_pb).collect::<Result<_, _>>()?,
            gone: record_ids(page.gone)?,
            next_cursor: page.next_cursor,
            has_more: page.has_more,
        })
    }

    /// The school's part of the roster, if the hub holds a newer one than `known`.
    pub(crate) async fn pull_roster(&mut self, known: u64) -> Result<Option<(u64, Roster)>, NodeError> {
        let reply = self
            .sync
            .pull_roster(pb::PullRosterRequest { session_id: self.session_id.clone(), known_version: known })
            .await?
            .into_inner();
        match (reply.changed, reply.roster) {
            (true, Some(part)) => yanpei_proto::roster_from_pb(part)
                .map(Some)
                .map_err(|e| bad_answer(format!("hub sent an invalid roster: {e}"))),
            _ => Ok(None),
        }
    }

    /// Ends the session at `pull_cursor`; the open conflicts of the school's records.
    pub(crate) async fn finish(
        &mut self,
        pull_cursor: u64,
    ) -> Result<Vec<yanpei_store::Conflict>, NodeError> {
        let done = self
            .sync
            .finish(pb::FinishRequest { session_id: self.session_id.clone(), pull_cursor })
            .await?
            .into_inner();
        done.conflicts.into_iter().map(conflict_from_pb).collect()
    }

    /// Anti-entropy: this node's per-period digests; the periods that differ.
    pub(crate) async fn reconcile_digests(
        &mut self,
        digests: Vec<PeriodDigest>,
    ) -> Result<Differing, NodeError> {
        let answer = self
            .sync
            .reconcile_digests(pb::ReconcileDigestsRequest {
                session_id: self.session_id.clone(),
                digests: digests
                    .into_iter()
                    .map(|d| pb::PeriodDigest { period: d.period, count: d.count, digest: d.digest })
                    .collect(),
            })
            .await?
            .into_inner();
        Ok(Differing { periods: answer.differing, as_of_cursor: answer.as_of_cursor })
    }

    /// Anti-entropy: what this node holds of `period`; what the hub wants and sends.
    pub(crate) async fn reconcile_period(
        &mut self,
        period: &str,
        held: &BTreeMap<Uuid, Rev>,
    ) -> Result<PeriodAnswer, NodeError> {
        let reply = self
            .sync
            .reconcile_period(pb::ReconcilePeriodRequest {
                session_id: self.session_id.clone(),
                period: period.to_owned(),
                held: held
                    .iter()
                    .map(|(id, rev)| pb::RecordRev { activity_id: id.to_string(), rev: rev.to_string() })
                    .collect(),
            })
            .await?
            .into_inner();
        Ok(PeriodAnswer {
            wanted: record_ids(reply.wanted)?,
            records: reply.records.into_iter().map(pulled_from_pb).collect::<Result<_, _>>()?,
            gone: record_ids(reply.gone)?,
        })
    }

    /// How much of the file `sha256` (hex) of `size` bytes the hub holds.
    pub(crate) async fn attachment_status(&mut self, sha256: &str, size: u64) -> Result<Held, NodeError> {
        let s = self
            .files
            .attachment_status(pb::AttachmentStatusRequest { sha256: sha256.to_string(), size })
            .await?
            .into_inner();
        Ok(Held { received: s.received, complete: s.complete })
    }

    /// Sends one chunk of the file `sha256` at `offset`; how much the hub now holds.
    pub(crate) async fn put_chunk(
        &mut self,
        sha256: &Digest,
        size: u64,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Held, NodeError> {
        let chunk_sha256 = Digest::of(&data).to_string();
        let p = self
            .files
            .put_chunk(pb::PutChunkRequest { sha256: sha256.to_string(), size, offset, data, chunk_sha256 })
            .await?
            .into_inner();
        Ok(Held { received: p.received, complete: p.complete })
    }

    /// Renews this node's certificate from `csr_pem` (over this session's channel, by the
    /// current certificate); the new certificate's PEM.
    pub(crate) async fn renew(&self, csr_pem: String) -> Result<String, NodeError> {
        let reply =
            EnrollServiceClient::new(self.channel.clone()).renew(pb::RenewRequest { csr_pem }).await?;
        Ok(reply.into_inner().cert_pem)
    }
}

/// What the hub answered an enrollment: (school, its name, CA PEM, certificate PEM).
pub(crate) type EnrollAnswer = (SchoolCode, String, String, String);

/// Enrolls node `node_id` with the one-time `code` and the request `csr_pem`, at the hub
/// at `url` checked against `ca_pem` (no client certificate yet).
pub(crate) async fn enroll_call(
    url: &str,
    server_name: &str,
    ca_pem: &str,
    code: &str,
    node_id: Uuid,
    csr_pem: String,
) -> Result<EnrollAnswer, NodeError> {
    let channel = channel(url, server_name, ca_pem, None, ENROLL_TIMEOUT).await?;
    let reply = EnrollServiceClient::new(channel)
        .enroll(pb::EnrollRequest { code: code.to_owned(), node_id: node_id.to_string(), csr_pem })
        .await?
        .into_inner();
    let school = reply.school_code.parse().map_err(|e| bad_answer(format!("中心返回的学校代码无效：{e}")))?;
    Ok((school, reply.school_name, reply.ca_pem, reply.cert_pem))
}
