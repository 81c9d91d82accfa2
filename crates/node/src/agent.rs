//! One sync session: handshake, push the outbox in batches, pull, finish.

use std::time::Duration;

use tonic::codec::CompressionEncoding;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;
use yanpei_attach::BlobDir;
use yanpei_domain::{Activity, Rev, SchoolCode};
use yanpei_proto::PROTOCOL_VERSION;
use yanpei_proto::pb::{
    self, attachment_service_client::AttachmentServiceClient, sync_service_client::SyncServiceClient,
};
use yanpei_store::decide::Origin;
use yanpei_store::node::{NodeStore, PulledRecord};

use crate::NodeError;

pub use yanpei_pki::TlsMaterial;

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
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.tls.ca_pem))
            .identity(Identity::from_pem(&self.tls.cert_pem, &self.tls.key_pem))
            .domain_name(self.server_name.clone());
        Endpoint::from_shared(self.url.clone())
            .map_err(|e| NodeError::Config(format!("中心地址「{}」无效：{e}", self.url)))?
            .tls_config(tls)
            .map_err(|e| NodeError::Config(format!("TLS 配置无效：{e}")))?
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .connect()
            .await
            .map_err(|e| NodeError::Transport(crate::reach::explain(&self.url, &self.server_name, &e)))
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

/// A fault to inject into one sync (for the fault tests; `None` in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// After the hub answers the n-th push (1-based), stop before marking the
    /// outbox, as a node that crashed between the hub's commit and seeing the ack.
    LoseAckOfPush(u32),
}

/// Tuning of one sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Changes per push (the hub accepts at most 1000).
    pub batch_size: u64,
    /// Pulled changes per page.
    pub pull_page: u32,
    /// Compress messages with gzip.
    pub compress: bool,
    /// A fault to inject.
    pub fault: Option<Fault>,
    /// Compare everything with the hub (anti-entropy) in this sync, whatever the
    /// handshake shows. Without it, the comparison runs when the handshake shows a
    /// discontinuity and once every [`RECONCILE_EVERY`].
    pub verify: bool,
}

/// How often a node compares all its records with the hub when nothing seems wrong.
pub const RECONCILE_EVERY: chrono::TimeDelta = chrono::TimeDelta::days(7);

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { batch_size: 500, pull_page: 500, compress: true, fault: None, verify: false }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Changes pushed (a re-send counts again).
    pub pushed: u64,
    /// Of those, changes that changed the hub.
    pub applied: u64,
    /// Of those, changes the hub already held.
    pub unchanged: u64,
    /// Push batches sent.
    pub batches: u32,
    /// Records pulled from the hub.
    pub pulled: u64,
    /// The highest sequence number the hub holds for this node.
    pub acked_seq: u64,
    /// The pull cursor reached.
    pub pull_cursor: u64,
    /// The roster version the node holds after the sync (0: none yet).
    pub roster_version: u64,
    /// Local versions replaced by the hub's winner of a conflict.
    pub replaced: u64,
    /// Open conflicts of records this school is involved in, as the hub reported them.
    pub open_conflicts: u64,
    /// Attachments uploaded (the hub did not hold them whole).
    pub attachments_uploaded: u64,
    /// Attachments the hub already held (sent before, or by another school).
    pub attachments_present: u64,
    /// Attachment bytes sent (chunks, a re-sent chunk counts again).
    pub attachment_bytes: u64,
    /// Changes the hub refused in this sync (kept quarantined at the node).
    pub refused: u64,
    /// Changes that met a concurrent version at the hub (the loser is kept there).
    pub conflicts: u64,
    /// Why this sync compared everything with the hub, if it did.
    pub reconciled: Option<Reconcile>,
    /// Records queued again because the hub lacked them or the version held here
    /// (anti-entropy, or a pulled version that does not descend from it).
    pub requeued: u64,
    /// Records received by the comparison (lacking or older here).
    pub repaired: u64,
    /// Shared records removed here because they no longer name this school.
    pub removed: u64,
    /// Whether the node renewed its certificate in this sync.
    pub renewed: bool,
}

/// Why a sync compared all records with the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconcile {
    /// Asked for (`node sync --verify`).
    Asked,
    /// The weekly check.
    Scheduled,
    /// The hub holds less than it acknowledged to this node (restored from an older copy).
    HubBehindAcks,
    /// This node's pull cursor is past the hub's counter, or not the one the hub recorded.
    CursorMismatch,
}

/// A node agent: its store and its hub.
#[derive(Debug, Clone)]
pub struct Agent {
    store: NodeStore,
    pub(crate) hub: HubEndpoint,
    blobs: Option<BlobDir>,
    /// When to renew the certificate (`crate::enroll`), and the renewed one once it is.
    pub(crate) renewal: Option<std::sync::Arc<crate::Renewal>>,
    pub(crate) renewed: std::sync::Arc<std::sync::Mutex<Option<TlsMaterial>>>,
}

impl Agent {
    /// An agent over an opened store, without local attachments (see [`Agent::with_attachments`]).
    pub fn new(store: NodeStore, hub: HubEndpoint) -> Agent {
        Agent { store, hub, blobs: None, renewal: None, renewed: Default::default() }
    }

    /// The same agent, finding attached files in `blobs` (`BlobDir::beside_node_store`).
    pub fn with_attachments(mut self, blobs: BlobDir) -> Agent {
        self.blobs = Some(blobs);
        self
    }

    /// Where this agent keeps attached files, if anywhere.
    pub fn attachments(&self) -> Option<&BlobDir> {
        self.blobs.as_ref()
    }

    /// The local store.
    pub fn store(&self) -> &NodeStore {
        &self.store
    }

    /// The TLS material this agent presents to the hub.
    pub fn hub_tls(&self) -> &TlsMaterial {
        &self.hub.tls
    }

    /// Syncs once with default options.
    pub async fn sync_once(&self) -> Result<SyncReport, NodeError> {
        self.sync_with(SyncOptions::default()).await
    }

    /// Syncs once: handshake, push every outbox entry, pull every relevant change, finish.
    pub async fn sync_with(&self, opts: SyncOptions) -> Result<SyncReport, NodeError> {
        let span = info_span!(
            "sync_session",
            school_code = %self.store.school(),
            node_id = %self.store.node_id(),
            session_id = tracing::field::Empty,
        );
        self.session(opts).instrument(span).await
    }

    /// Connects and shakes hands: the channel, the sync client and the hub's answer,
    /// refused when the hub acknowledged changes this store never issued.
    async fn open(
        &self,
        opts: SyncOptions,
    ) -> Result<(Channel, SyncServiceClient<Channel>, pb::HandshakeResponse), NodeError> {
        let channel = self.endpoint().connect().await?;
        let mut client = SyncServiceClient::new(channel.clone())
            .max_decoding_message_size(8 * 1024 * 1024)
            .max_encoding_message_size(8 * 1024 * 1024);
        if opts.compress {
            client = client
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        let hello = client
            .handshake(pb::HandshakeRequest {
                protocol_version: PROTOCOL_VERSION,
                node_id: self.store.node_id().to_string(),
                school_code: self.store.school().to_string(),
                agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .await
            .map_err(|s| self.endpoint().first_call(s))?
            .into_inner();
        tracing::Span::current().record("session_id", hello.session_id.as_str());
        let last_issued = self.store.last_seq().await?;
        if hello.acked_seq > last_issued {
            // The hub acknowledged changes this store never issued: the store is an
            // older copy (restored from a backup). Syncing it would reuse numbers.
            return Err(NodeError::StoreBehindHub { hub_acked: hello.acked_seq, local_last: last_issued });
        }
        Ok((channel, client, hello))
    }

    /// The checks every sync makes before it pushes, and nothing else: a session whose
    /// handshake shows a discontinuity (the hub restored from an older copy) compares
    /// every record with the hub, queuing again what the hub lacks. Returns why it
    /// compared, if it did. A sync does this itself; this is for a caller that delivers
    /// this node's changes by other means (the fault suite's reordered deliveries).
    pub async fn check_continuity(&self) -> Result<Option<Reconcile>, NodeError> {
        let span = info_span!(
            "sync_session",
            school_code = %self.store.school(),
            node_id = %self.store.node_id(),
            session_id = tracing::field::Empty,
        );
        async {
            let opts = SyncOptions::default();
            let (_, mut client, hello) = self.open(opts).await?;
            if hello.hub_protocol_version < yanpei_proto::CAUSAL_PROTOCOL_VERSION {
                return Ok(None);
            }
            let Some(why) = self.reconcile_reason(&hello, opts).await? else { return Ok(None) };
            warn!(reason = ?why, "comparing every record with the hub");
            self.reconcile(&mut client, &hello, why, &mut SyncReport::default()).await?;
            Ok(Some(why))
        }
        .instrument(span)
        .await
    }

    async fn session(&self, opts: SyncOptions) -> Result<SyncReport, NodeError> {
        let (channel, mut client, hello) = self.open(opts).await?;
        let renew_over = channel.clone();
        let mut files = AttachmentServiceClient::new(channel);
        let mut report = SyncReport { acked_seq: hello.acked_seq, ..SyncReport::default() };
        if hello.hub_protocol_version >= yanpei_proto::CAUSAL_PROTOCOL_VERSION
            && let Some(why) = self.reconcile_reason(&hello, opts).await?
        {
            warn!(reason = ?why, "comparing every record with the hub");
            self.reconcile(&mut client, &hello, why, &mut report).await?;
        }

        loop {
            let pending = self.store.pending(opts.batch_size.clamp(1, 1000)).await?;
            if pending.is_empty() {
                break;
            }
            // A record's attachments reach the hub before the record.
            let records: Vec<&Activity> = pending.iter().map(|e| &e.activity).collect();
            let up = crate::attach::upload_referenced(&mut files, self.blobs.as_ref(), &records).await?;
            report.attachments_uploaded += up.files;
            report.attachments_present += up.present;
            report.attachment_bytes += up.bytes;
            let changes: Vec<pb::Change> = pending
                .iter()
                .map(|e| pb::Change {
                    seq: e.seq,
                    activity: Some(pb::Activity::from(&e.activity)),
                    ancestors: e.ancestors.iter().map(ToString::to_string).collect(),
                    maker_node: e.maker.as_ref().map(|m| m.node.to_string()).unwrap_or_default(),
                    maker_school: e.maker.as_ref().map(|m| m.school.clone()).unwrap_or_default(),
                })
                .collect();
            let n = changes.len() as u64;
            let reply = client
                .push(pb::PushRequest { session_id: hello.session_id.clone(), changes })
                .await?
                .into_inner();
            report.batches += 1;
            report.pushed += n;
            report.applied += u64::from(reply.applied);
            report.unchanged += u64::from(reply.unchanged);
            report.conflicts += u64::from(reply.conflicts);
            if opts.fault == Some(Fault::LoseAckOfPush(report.batches)) {
                return Err(NodeError::Injected("acknowledgement lost before the outbox was marked"));
            }
            let refused: Vec<(u64, String)> = reply.refused.into_iter().map(|r| (r.seq, r.reason)).collect();
            for (seq, reason) in &refused {
                warn!(seq, reason = %reason, "the hub refused a change; it is kept here until the record is edited");
            }
            report.refused += refused.len() as u64;
            // Only what this push carried: an entry at or below `acked_seq` that it did not
            // carry may have been refused to another session of this node.
            let sent: Vec<u64> = pending.iter().map(|e| e.seq).collect();
            self.store.mark_answered(&sent, reply.acked_seq, &refused).await?;
            report.acked_seq = reply.acked_seq;
        }

        let mut cursor = self.store.pull_cursor().await?;
        loop {
            let page = client
                .pull(pb::PullRequest { session_id: hello.session_id.clone(), cursor, limit: opts.pull_page })
                .await?
                .into_inner();
            let records = page.changes.into_iter().map(pulled_from_pb).collect::<Result<Vec<_>, _>>()?;
            report.pulled += records.len() as u64;
            let gone = record_ids(page.gone)?;
            let applied = self.store.apply_pulled_page(&records, &gone, page.next_cursor).await?;
            report.replaced += u64::from(applied.replaced);
            report.removed += u64::from(applied.removed);
            report.requeued += u64::from(applied.resent);
            cursor = cursor.max(page.next_cursor);
            if !page.has_more {
                break;
            }
        }
        report.pull_cursor = cursor;

        let (known, _) = self.store.roster().await?;
        let reply = client
            .pull_roster(pb::PullRosterRequest { session_id: hello.session_id.clone(), known_version: known })
            .await?
            .into_inner();
        report.roster_version = known;
        if let (true, Some(part)) = (reply.changed, reply.roster) {
            let (version, roster) = yanpei_proto::roster_from_pb(part).map_err(|e| {
                NodeError::Hub(tonic::Status::internal(format!("hub sent an invalid roster: {e}")))
            })?;
            self.store.set_roster(version, &roster).await?;
            info!(version, previous = known, "roster updated");
            report.roster_version = version;
        }
        let done = client
            .finish(pb::FinishRequest { session_id: hello.session_id.clone(), pull_cursor: cursor })
            .await?
            .into_inner();
        let conflicts = done.conflicts.into_iter().map(conflict_from_pb).collect::<Result<Vec<_>, _>>()?;
        report.open_conflicts = conflicts.len() as u64;
        self.store.set_conflicts(&conflicts).await?;
        if !conflicts.is_empty() {
            warn!(open = conflicts.len(), "the hub reports conflicting edits; see `yanpei node conflicts`");
        }
        // Inside its renewal window the node renews its certificate; the old one keeps
        // working meanwhile, so a failure waits for the next sync.
        if let Some(r) = self.renewal.as_deref() {
            match crate::enroll::renew_if_due(r, self.current_tls(), self.store.node_id(), renew_over).await {
                Ok(Some(new)) => {
                    *self.renewed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(new);
                    report.renewed = true;
                }
                Ok(None) => {}
                Err(e) => {
                    warn!(error = %e, "certificate renewal failed; the current certificate stays in use")
                }
            }
        }
        if self.store.last_reconcile().await?.is_none() {
            // The weekly comparison's clock starts at the first sync.
            self.store.set_last_reconcile(chrono::Utc::now()).await?;
        }
        info!(
            pushed = report.pushed,
            applied = report.applied,
            unchanged = report.unchanged,
            refused = report.refused,
            conflicts = report.conflicts,
            pulled = report.pulled,
            acked_seq = report.acked_seq,
            "sync finished"
        );
        Ok(report)
    }

    /// Whether this sync must compare everything with the hub, and why.
    async fn reconcile_reason(
        &self,
        hello: &pb::HandshakeResponse,
        opts: SyncOptions,
    ) -> Result<Option<Reconcile>, NodeError> {
        let local_acked = self.store.acked_seq().await?;
        let cursor = self.store.pull_cursor().await?;
        Ok(if hello.acked_seq < local_acked {
            Some(Reconcile::HubBehindAcks)
        } else if cursor > hello.hub_cursor || cursor != hello.node_pull_cursor {
            Some(Reconcile::CursorMismatch)
        } else if opts.verify {
            Some(Reconcile::Asked)
        } else {
            match self.store.last_reconcile().await? {
                Some(at) if chrono::Utc::now() - at >= RECONCILE_EVERY => Some(Reconcile::Scheduled),
                _ => None,
            }
        })
    }

    /// Anti-entropy: compares per-period digests of what this node holds with the
    /// hub's view of its school, then the records of each differing period; queues
    /// again what the hub lacks, takes what this node lacks or holds older, drops
    /// what no longer concerns its school. After a discontinuity the pull cursor
    /// moves to the hub's counter as it was before the comparison.
    async fn reconcile(
        &self,
        client: &mut SyncServiceClient<Channel>,
        hello: &pb::HandshakeResponse,
        why: Reconcile,
        report: &mut SyncReport,
    ) -> Result<(), NodeError> {
        let digests = self.store.digests().await?;
        let answer = client
            .reconcile_digests(pb::ReconcileDigestsRequest {
                session_id: hello.session_id.clone(),
                digests: digests
                    .into_iter()
                    .map(|d| pb::PeriodDigest { period: d.period, count: d.count, digest: d.digest })
                    .collect(),
            })
            .await?
            .into_inner();
        for period in &answer.differing {
            let held = self.store.period_revs(period).await?;
            let reply = client
                .reconcile_period(pb::ReconcilePeriodRequest {
                    session_id: hello.session_id.clone(),
                    period: period.clone(),
                    held: held
                        .iter()
                        .map(|(id, rev)| pb::RecordRev { activity_id: id.to_string(), rev: rev.to_string() })
                        .collect(),
                })
                .await?
                .into_inner();
            let wanted = record_ids(reply.wanted)?;
            let records = reply.records.into_iter().map(pulled_from_pb).collect::<Result<Vec<_>, _>>()?;
            let held: std::collections::HashSet<uuid::Uuid> = records.iter().map(|r| r.activity.id).collect();
            // What the hub never saw goes again first, so the hub's version does not replace it here.
            report.requeued += u64::from(self.store.requeue(&wanted, &held).await?);
            let applied = self.store.apply_reconciled(&records, &record_ids(reply.gone)?).await?;
            report.repaired += u64::from(applied.applied);
            report.removed += u64::from(applied.removed);
            report.requeued += u64::from(applied.resent);
        }
        if matches!(why, Reconcile::HubBehindAcks | Reconcile::CursorMismatch) {
            self.store.reset_pull_cursor(answer.as_of_cursor).await?;
        }
        self.store.set_last_reconcile(chrono::Utc::now()).await?;
        report.reconciled = Some(why);
        info!(
            periods_differing = answer.differing.len(),
            requeued = report.requeued,
            repaired = report.repaired,
            removed = report.removed,
            "compared every record with the hub"
        );
        Ok(())
    }
}

/// Record ids the hub sent, checked like anything from the network.
fn record_ids(v: Vec<String>) -> Result<Vec<uuid::Uuid>, NodeError> {
    v.iter()
        .map(|s| {
            uuid::Uuid::try_parse(s).map_err(|_| {
                NodeError::Hub(tonic::Status::internal(format!("hub sent an invalid record id {s:?}")))
            })
        })
        .collect()
}

/// A record the hub sent, checked like anything from the network.
fn pulled_from_pb(c: pb::PulledChange) -> Result<PulledRecord, NodeError> {
    let bad =
        |what: String| NodeError::Hub(tonic::Status::internal(format!("hub sent an invalid record: {what}")));
    let p = c.activity.ok_or_else(|| bad("no record".into()))?;
    let activity = Activity::try_from(p).map_err(|e| bad(e.to_string()))?;
    let ancestors = c
        .ancestors
        .iter()
        .map(|r| r.parse::<Rev>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let kept = c
        .kept
        .iter()
        .map(|r| r.parse::<Rev>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    // Hubs before the maker was sent leave it empty: the version is then sent again in
    // this node's name, as before.
    let maker = match (c.maker_node.as_str(), c.maker_school.as_str()) {
        ("", "") => None,
        (node, school) => Some(Origin {
            node: Uuid::parse_str(node).map_err(|e| bad(format!("maker_node: {e}")))?,
            school: school.parse::<SchoolCode>().map_err(|e| bad(format!("maker_school: {e}")))?.to_string(),
        }),
    };
    Ok(PulledRecord { activity, ancestors, maker, kept })
}

/// A conflict the hub reported, checked like any record it sends.
fn conflict_from_pb(c: pb::Conflict) -> Result<yanpei_store::Conflict, NodeError> {
    let bad = |what: String| {
        NodeError::Hub(tonic::Status::internal(format!("hub sent an invalid conflict: {what}")))
    };
    let losing = c.losing.ok_or_else(|| bad("no losing version".into()))?;
    let losing = Activity::try_from(losing).map_err(|e| bad(e.to_string()))?;
    let detected_at = chrono::DateTime::parse_from_rfc3339(&c.detected_at)
        .map_err(|e| bad(e.to_string()))?
        .with_timezone(&chrono::Utc);
    Ok(yanpei_store::Conflict {
        id: c.id,
        version: c.version,
        losing_school: c.losing_school,
        winning_school: c.winning_school,
        losing,
        detected_at,
        resolved_version: (c.resolved_version != 0).then_some(c.resolved_version),
    })
}

impl Agent {
    /// The same agent, renewing its certificate during a sync as `renewal` says.
    pub fn with_renewal(mut self, renewal: crate::Renewal) -> Agent {
        self.renewal = Some(std::sync::Arc::new(renewal));
        self
    }

    /// The TLS material the agent presents now (renewed, or as it started).
    pub fn current_tls(&self) -> TlsMaterial {
        let renewed = self.renewed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        renewed.clone().unwrap_or_else(|| self.hub_tls().clone())
    }

    pub(crate) fn endpoint(&self) -> crate::HubEndpoint {
        let mut hub = self.hub.clone();
        hub.tls = self.current_tls();
        hub
    }
}
