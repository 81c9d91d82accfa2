//! One sync session: handshake, push the outbox in batches, pull, finish.

use tracing::{Instrument, info, info_span, warn};
use yanpei_attach::BlobDir;
use yanpei_domain::Activity;
use yanpei_store::node::NodeStore;

use crate::NodeError;
use crate::client::{Hello, HubEndpoint, SyncSession};

pub use yanpei_pki::TlsMaterial;

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

    /// Connects and shakes hands: the session and the hub's answer, refused when the hub
    /// acknowledged changes this store never issued.
    async fn open(&self, opts: SyncOptions) -> Result<(SyncSession, Hello), NodeError> {
        let (hub, hello) =
            SyncSession::open(&self.endpoint(), self.store.node_id(), self.store.school(), opts.compress)
                .await?;
        tracing::Span::current().record("session_id", hello.session_id.as_str());
        let last_issued = self.store.last_seq().await?;
        if hello.acked_seq > last_issued {
            // The hub acknowledged changes this store never issued: the store is an
            // older copy (restored from a backup). Syncing it would reuse numbers.
            return Err(NodeError::StoreBehindHub { hub_acked: hello.acked_seq, local_last: last_issued });
        }
        Ok((hub, hello))
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
            let (mut hub, hello) = self.open(opts).await?;
            if !hello.causal() {
                return Ok(None);
            }
            let Some(why) = self.reconcile_reason(&hello, opts).await? else { return Ok(None) };
            warn!(reason = ?why, "comparing every record with the hub");
            self.reconcile(&mut hub, why, &mut SyncReport::default()).await?;
            Ok(Some(why))
        }
        .instrument(span)
        .await
    }

    async fn session(&self, opts: SyncOptions) -> Result<SyncReport, NodeError> {
        let (mut hub, hello) = self.open(opts).await?;
        let mut report = SyncReport { acked_seq: hello.acked_seq, ..SyncReport::default() };
        if hello.causal()
            && let Some(why) = self.reconcile_reason(&hello, opts).await?
        {
            warn!(reason = ?why, "comparing every record with the hub");
            self.reconcile(&mut hub, why, &mut report).await?;
        }
        self.push_outbox(&mut hub, opts, &mut report).await?;
        let cursor = self.pull_all(&mut hub, opts, &mut report).await?;
        self.pull_roster(&mut hub, &mut report).await?;
        let conflicts = hub.finish(cursor).await?;
        report.open_conflicts = conflicts.len() as u64;
        self.store.set_conflicts(&conflicts).await?;
        if !conflicts.is_empty() {
            warn!(open = conflicts.len(), "the hub reports conflicting edits; see `yanpei node conflicts`");
        }
        self.renew_if_due(&hub, &mut report).await;
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

    /// Pushes the outbox oldest first in batches, each batch's attachments first, and
    /// marks what the hub answered.
    async fn push_outbox(
        &self,
        hub: &mut SyncSession,
        opts: SyncOptions,
        report: &mut SyncReport,
    ) -> Result<(), NodeError> {
        loop {
            let pending = self.store.pending(opts.batch_size.clamp(1, 1000)).await?;
            if pending.is_empty() {
                return Ok(());
            }
            // A record's attachments reach the hub before the record.
            let records: Vec<&Activity> = pending.iter().map(|e| &e.activity).collect();
            let up = crate::attach::upload_referenced(hub, self.blobs.as_ref(), &records).await?;
            report.attachments_uploaded += up.files;
            report.attachments_present += up.present;
            report.attachment_bytes += up.bytes;
            let reply = hub.push(&pending).await?;
            report.batches += 1;
            report.pushed += pending.len() as u64;
            report.applied += u64::from(reply.applied);
            report.unchanged += u64::from(reply.unchanged);
            report.conflicts += u64::from(reply.conflicts);
            if opts.fault == Some(Fault::LoseAckOfPush(report.batches)) {
                return Err(NodeError::Injected("acknowledgement lost before the outbox was marked"));
            }
            for (seq, reason) in &reply.refused {
                warn!(seq, reason = %reason, "the hub refused a change; it is kept here until the record is edited");
            }
            report.refused += reply.refused.len() as u64;
            // Only what this push carried: an entry at or below `acked_seq` that it did not
            // carry may have been refused to another session of this node.
            let sent: Vec<u64> = pending.iter().map(|e| e.seq).collect();
            self.store.mark_answered(&sent, reply.acked_seq, &reply.refused).await?;
            report.acked_seq = reply.acked_seq;
        }
    }

    /// Pulls every page after the stored cursor; the cursor reached.
    async fn pull_all(
        &self,
        hub: &mut SyncSession,
        opts: SyncOptions,
        report: &mut SyncReport,
    ) -> Result<u64, NodeError> {
        let mut cursor = self.store.pull_cursor().await?;
        loop {
            let page = hub.pull(cursor, opts.pull_page).await?;
            report.pulled += page.records.len() as u64;
            let applied = self.store.apply_pulled_page(&page.records, &page.gone, page.next_cursor).await?;
            report.replaced += u64::from(applied.replaced);
            report.removed += u64::from(applied.removed);
            report.requeued += u64::from(applied.resent);
            cursor = cursor.max(page.next_cursor);
            if !page.has_more {
                break;
            }
        }
        report.pull_cursor = cursor;
        Ok(cursor)
    }

    /// Takes the school's part of a newer roster, if the hub holds one.
    async fn pull_roster(&self, hub: &mut SyncSession, report: &mut SyncReport) -> Result<(), NodeError> {
        let (known, _) = self.store.roster().await?;
        report.roster_version = known;
        if let Some((version, roster)) = hub.pull_roster(known).await? {
            self.store.set_roster(version, &roster).await?;
            info!(version, previous = known, "roster updated");
            report.roster_version = version;
        }
        Ok(())
    }

    /// Inside its renewal window the node renews its certificate; the old one keeps
    /// working meanwhile, so a failure waits for the next sync.
    async fn renew_if_due(&self, hub: &SyncSession, report: &mut SyncReport) {
        let Some(r) = self.renewal.as_deref() else { return };
        match crate::enroll::renew_if_due(r, self.current_tls(), self.store.node_id(), hub).await {
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

    /// Whether this sync must compare everything with the hub, and why.
    async fn reconcile_reason(
        &self,
        hello: &Hello,
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
        hub: &mut SyncSession,
        why: Reconcile,
        report: &mut SyncReport,
    ) -> Result<(), NodeError> {
        let answer = hub.reconcile_digests(self.store.digests().await?).await?;
        for period in &answer.periods {
            let held = self.store.period_revs(period).await?;
            let reply = hub.reconcile_period(period, &held).await?;
            let held: std::collections::HashSet<uuid::Uuid> =
                reply.records.iter().map(|r| r.activity.id).collect();
            // What the hub never saw goes again first, so the hub's version does not replace it here.
            report.requeued += u64::from(self.store.requeue(&reply.wanted, &held).await?);
            let applied = self.store.apply_reconciled(&reply.records, &reply.gone).await?;
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
            periods_differing = answer.periods.len(),
            requeued = report.requeued,
            repaired = report.repaired,
            removed = report.removed,
            "compared every record with the hub"
        );
        Ok(())
    }
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
