//! The sync RPCs' core: handshake, push, pull, finish and the anti-entropy comparison,
//! over typed requests and answers. The gRPC edge (`grpc::sync`) decodes the wire
//! messages into these and encodes the answers.

use std::sync::Arc;
use std::time::Instant;

use tracing::{info, warn};
use uuid::Uuid;
use yanpei_domain::roster::Roster;
use yanpei_domain::{Rev, SchoolCode};
use yanpei_proto::{CAUSAL_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
use yanpei_store::Conflict;
use yanpei_store::hub::{ApplyOutcome, HubStore, IncomingChange, Pulled, Refusal, Session};
use yanpei_store::reconcile::PeriodAnswer;

use crate::HubError;
use crate::metrics::{Metrics, Rejection};
use crate::revocation::Revocations;

/// Most changes one push may carry.
pub(crate) const MAX_BATCH: usize = 1000;

/// Default pull page.
const DEFAULT_PULL: u64 = 500;

pub(crate) struct Sync {
    store: HubStore,
    blobs: Option<yanpei_attach::BlobDir>,
    metrics: Arc<Metrics>,
    pub(crate) revoked: Arc<Revocations>,
    rules: crate::rules::Rules,
}

/// A node's handshake.
#[derive(Debug, Clone)]
pub(crate) struct Hello {
    pub node_id: String,
    pub school_code: String,
    pub protocol_version: u32,
    pub agent_version: String,
}

/// The session a handshake opened.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub session_id: Uuid,
    pub acked_seq: u64,
    pub hub_protocol_version: u32,
    pub school_name: String,
    pub hub_cursor: u64,
    pub node_pull_cursor: u64,
}

/// A page of what changed since a cursor.
#[derive(Debug, Clone)]
pub(crate) struct PullPage {
    /// Records that name the school.
    pub changes: Vec<Pulled>,
    pub next_cursor: u64,
    pub has_more: bool,
    /// Records that no longer name the school: their ids only.
    pub gone: Vec<Uuid>,
}

/// One period's digest as the node holds it.
#[derive(Debug, Clone)]
pub(crate) struct PeriodDigest {
    pub period: String,
    pub count: u64,
    pub digest: String,
}

/// What a batch's whole-batch checks and decoding left: the changes to apply and those
/// refused alone. Given whether the session speaks the causal protocol.
pub(crate) type Decoded = Result<(Vec<IncomingChange>, Vec<Refusal>), HubError>;

impl Sync {
    pub(crate) fn new(
        store: HubStore,
        blobs: Option<yanpei_attach::BlobDir>,
        metrics: Arc<Metrics>,
        revoked: Arc<Revocations>,
    ) -> Self {
        Sync { store, blobs, metrics, revoked, rules: Default::default() }
    }

    /// The open session `id` of the calling school.
    async fn session(&self, school: &SchoolCode, id: &str) -> Result<Session, HubError> {
        let id = Uuid::try_parse(id)
            .map_err(|_| HubError::InvalidArgument(format!("session_id「{id}」不是合法的 UUID")))?;
        let session = self
            .store
            .session(id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("没有同步会话 {id}，请重新握手")))?;
        if &session.school != school {
            return Err(HubError::PermissionDenied(format!("同步会话 {id} 不属于学校 {school}")));
        }
        if session.finished {
            return Err(HubError::FailedPrecondition(format!("同步会话 {id} 已结束，请重新握手")));
        }
        Ok(session)
    }

    pub(crate) async fn open(&self, school: SchoolCode, r: Hello) -> Result<Opened, HubError> {
        if r.protocol_version < MIN_PROTOCOL_VERSION {
            return Err(HubError::FailedPrecondition(format!(
                "节点协议版本 {} 已过时，中心要求至少 {MIN_PROTOCOL_VERSION}：请升级本校的 yanpei 节点程序",
                r.protocol_version
            )));
        }
        if r.protocol_version > PROTOCOL_VERSION {
            return Err(HubError::FailedPrecondition(format!(
                "节点协议版本 {} 比中心（{PROTOCOL_VERSION}）新：请县进修学校升级中心程序",
                r.protocol_version
            )));
        }
        let node_id = Uuid::try_parse(&r.node_id)
            .map_err(|_| HubError::InvalidArgument(format!("node_id「{}」不是合法的 UUID", r.node_id)))?;
        if r.school_code != school.as_str() {
            return Err(HubError::PermissionDenied(format!(
                "本节点证书属于学校 {school}，不能以学校「{}」的身份同步",
                r.school_code
            )));
        }
        let name = self.store.school_name(&school).await?.ok_or_else(|| {
            HubError::FailedPrecondition(format!("学校 {school} 不在县名册中，请县进修学校先登记该校"))
        })?;
        let agent: String = r.agent_version.chars().take(64).collect();
        let opened = self.store.open_session_full(node_id, &school, r.protocol_version, &agent).await?;
        info!(
            session_id = %opened.session, %node_id, acked_seq = opened.acked_seq,
            hub_cursor = opened.hub_cursor, protocol = r.protocol_version, "sync session opened"
        );
        self.metrics.session_opened();
        Ok(Opened {
            session_id: opened.session,
            acked_seq: opened.acked_seq,
            hub_protocol_version: PROTOCOL_VERSION,
            school_name: name,
            hub_cursor: opened.hub_cursor,
            node_pull_cursor: opened.node_pull_cursor,
        })
    }

    /// Applies a batch of `received` changes in session `session_id`; `decode` runs the
    /// whole-batch checks and decodes the changes, given whether the session is causal.
    pub(crate) async fn apply(
        &self,
        school: SchoolCode,
        session_id: &str,
        received: usize,
        decode: impl FnOnce(bool) -> Decoded,
    ) -> Result<ApplyOutcome, HubError> {
        let session = self.session(&school, session_id).await?;
        let started = Instant::now();
        // Whole-batch checks (size, order, shape): a node that breaks them is broken; the
        // batch is refused whole. Record-level problems refuse only that change.
        let checked = match decode(session.protocol_version >= CAUSAL_PROTOCOL_VERSION) {
            Ok((changes, refused)) => self.rules.check(&self.store, changes, refused).await,
            Err(e) => Err(e),
        };
        // A record's attachments reach the hub before the record (retryable: the batch waits).
        let checked = match checked {
            Ok((changes, refused)) => {
                crate::attach::check_batch(self.blobs.as_ref(), &changes).await.map(|()| (changes, refused))
            }
            Err(e) => Err(e),
        };
        match checked {
            Ok((changes, refused)) => {
                let out = self.store.apply_batch_with(&session, &changes, refused).await?;
                self.metrics.batch_applied(out.applied, out.unchanged, started.elapsed());
                self.metrics.changes_judged(out.refused.len(), out.conflicts);
                info!(
                    session_id = %session.id, received, applied = out.applied, unchanged = out.unchanged,
                    conflicts = out.conflicts, refused = out.refused.len(), acked_seq = out.acked_seq,
                    "batch applied"
                );
                Ok(out)
            }
            Err(e) => {
                warn!(session_id = %session.id, received, error = %e, "batch rejected");
                let why = match e {
                    HubError::PermissionDenied(_) => Rejection::Permission,
                    _ => Rejection::Invalid,
                };
                self.metrics.batch_rejected(why);
                if let Err(le) = self.store.record_rejection(session.id, received, &e.to_string()).await {
                    warn!(error = %le, "could not record the rejection in the ledger");
                }
                Err(e)
            }
        }
    }

    /// Up to `limit` (0: the default page) changes after `cursor`.
    pub(crate) async fn changes_since(
        &self,
        school: SchoolCode,
        session_id: &str,
        cursor: u64,
        limit: u32,
    ) -> Result<PullPage, HubError> {
        let session = self.session(&school, session_id).await?;
        let limit = match limit {
            0 => DEFAULT_PULL,
            n => u64::from(n),
        };
        let (page, has_more) = self.store.pull(&session, cursor, limit).await?;
        let next_cursor = page.last().map(|p| p.cursor).unwrap_or(cursor);
        // A record that no longer names this school goes as its id only.
        let (mine, gone): (Vec<Pulled>, Vec<Pulled>) =
            page.into_iter().partition(|p| p.activity.involves(&school));
        Ok(PullPage {
            changes: mine,
            next_cursor,
            has_more,
            gone: gone.iter().map(|p| p.activity.id).collect(),
        })
    }

    /// The school's part of the roster with its version, unless the node knows it already.
    pub(crate) async fn roster_part(
        &self,
        school: SchoolCode,
        session_id: &str,
        known_version: u64,
    ) -> Result<Option<(u64, Roster)>, HubError> {
        let _session = self.session(&school, session_id).await?;
        let current = self.store.roster_version().await?;
        if current == 0 || current == known_version {
            return Ok(None);
        }
        let Some((version, roster)) = self.store.current_roster().await? else {
            return Ok(None);
        };
        info!(version, known = known_version, "roster part sent");
        Ok(Some((version, roster.part_for(&school))))
    }

    /// Ends the session at `pull_cursor`; answers the school's open conflicts.
    pub(crate) async fn close(
        &self,
        school: SchoolCode,
        session_id: &str,
        pull_cursor: u64,
    ) -> Result<Vec<Conflict>, HubError> {
        let session = self.session(&school, session_id).await?;
        self.store.finish_session(session.id, pull_cursor).await?;
        self.metrics.session_finished();
        let conflicts = self.store.conflicts(Some(std::slice::from_ref(&school)), true, 500).await?;
        info!(
            session_id = %session.id, pull_cursor, open_conflicts = conflicts.len(),
            "sync session finished"
        );
        Ok(conflicts)
    }

    /// The periods whose digests differ from the node's, and the cursor they are as of.
    pub(crate) async fn digests(
        &self,
        school: SchoolCode,
        session_id: &str,
        digests: Vec<PeriodDigest>,
    ) -> Result<(Vec<String>, u64), HubError> {
        let session = self.session(&school, session_id).await?;
        let (as_of, mine) = self.store.view_digests(&school).await?;
        let theirs: std::collections::BTreeMap<String, (u64, String)> =
            digests.into_iter().map(|d| (d.period, (d.count, d.digest))).collect();
        let mut differing: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for d in &mine {
            if theirs.get(&d.period) != Some(&(d.count, d.digest.clone())) {
                differing.insert(d.period.clone());
            }
        }
        let held: std::collections::BTreeSet<&String> = mine.iter().map(|d| &d.period).collect();
        differing.extend(theirs.keys().filter(|p| !held.contains(p)).cloned());
        info!(session_id = %session.id, periods = mine.len(), differing = differing.len(), as_of, "reconcile digests");
        Ok((differing.into_iter().collect(), as_of))
    }

    /// Compares one period: `held` is (activity id, revision) as the node holds them.
    pub(crate) async fn period(
        &self,
        school: SchoolCode,
        session_id: &str,
        period: &str,
        held: Vec<(String, String)>,
    ) -> Result<PeriodAnswer, HubError> {
        let session = self.session(&school, session_id).await?;
        if held.len() > MAX_RECONCILE {
            return Err(HubError::InvalidArgument(format!(
                "一次对账最多 {MAX_RECONCILE} 条记录，收到 {} 条",
                held.len()
            )));
        }
        let mut parsed = std::collections::BTreeMap::new();
        for (i, (activity_id, rev)) in held.into_iter().enumerate() {
            let id = Uuid::try_parse(&activity_id).map_err(|_| {
                HubError::InvalidArgument(format!(
                    "第 {} 条：activity_id「{}」不是合法的 UUID",
                    i + 1,
                    activity_id
                ))
            })?;
            let rev: Rev =
                rev.parse().map_err(|err| HubError::InvalidArgument(format!("第 {} 条：{err}", i + 1)))?;
            parsed.insert(id, rev);
        }
        let answer = self.store.reconcile_period(&school, period, &parsed).await?;
        info!(
            session_id = %session.id, period = %period, wanted = answer.wanted.len(),
            sent = answer.records.len(), gone = answer.gone.len(), "reconcile period"
        );
        Ok(answer)
    }
}

/// Most records one `ReconcilePeriod` may list (a month of one school's records).
const MAX_RECONCILE: usize = 50_000;
