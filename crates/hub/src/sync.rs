//! The sync RPCs: handshake, push, pull, finish.

use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;
use yanpei_domain::{Activity, MAX_ANCESTORS, Rev, SchoolCode};
use yanpei_proto::pb::{self, sync_service_server::SyncService};
use yanpei_proto::{CAUSAL_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
use yanpei_store::decide::Origin;
use yanpei_store::hub::{HubStore, IncomingChange, Pulled, Refusal, Session};

use crate::audit::{Note, Rows};
use crate::metrics::{Metrics, Rejection};
use crate::revocation::Revocations;
use crate::{HubError, auth};

/// Most changes one push may carry.
pub(crate) const MAX_BATCH: usize = 1000;

/// Default pull page.
const DEFAULT_PULL: u64 = 500;

pub(crate) struct Sync {
    store: HubStore,
    blobs: Option<yanpei_attach::BlobDir>,
    metrics: Arc<Metrics>,
    revoked: Arc<Revocations>,
    rules: crate::rules::Rules,
}

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

    async fn open(
        &self,
        school: SchoolCode,
        r: pb::HandshakeRequest,
    ) -> Result<pb::HandshakeResponse, HubError> {
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
        Ok(pb::HandshakeResponse {
            session_id: opened.session.to_string(),
            acked_seq: opened.acked_seq,
            hub_protocol_version: PROTOCOL_VERSION,
            school_name: name,
            hub_cursor: opened.hub_cursor,
            node_pull_cursor: opened.node_pull_cursor,
        })
    }

    async fn apply(&self, school: SchoolCode, r: pb::PushRequest) -> Result<pb::PushResponse, HubError> {
        let session = self.session(&school, &r.session_id).await?;
        let received = r.changes.len();
        let started = Instant::now();
        // Whole-batch checks (size, order, shape): a node that breaks them is broken; the
        // batch is refused whole. Record-level problems refuse only that change.
        let checked = match validate_batch(r.changes, session.protocol_version >= CAUSAL_PROTOCOL_VERSION) {
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
                Ok(pb::PushResponse {
                    acked_seq: out.acked_seq,
                    applied: out.applied,
                    unchanged: out.unchanged,
                    conflicts: out.conflicts,
                    refused: out
                        .refused
                        .into_iter()
                        .map(|r| pb::Refusal {
                            seq: r.seq,
                            activity_id: r.activity_id,
                            reason: r.reason,
                            owner_school: r.owner.unwrap_or_default(),
                        })
                        .collect(),
                })
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

    async fn changes_since(
        &self,
        school: SchoolCode,
        r: pb::PullRequest,
    ) -> Result<pb::PullResponse, HubError> {
        let session = self.session(&school, &r.session_id).await?;
        let limit = match r.limit {
            0 => DEFAULT_PULL,
            n => u64::from(n),
        };
        let (page, has_more) = self.store.pull(&session, r.cursor, limit).await?;
        let next_cursor = page.last().map(|p| p.cursor).unwrap_or(r.cursor);
        // A record that no longer names this school goes as its id only.
        let (mine, gone): (Vec<Pulled>, Vec<Pulled>) =
            page.into_iter().partition(|p| p.activity.involves(&school));
        Ok(pb::PullResponse {
            changes: mine.iter().map(pulled_to_pb).collect(),
            next_cursor,
            has_more,
            gone: gone.iter().map(|p| p.activity.id.to_string()).collect(),
        })
    }

    async fn roster_part(
        &self,
        school: SchoolCode,
        r: pb::PullRosterRequest,
    ) -> Result<pb::PullRosterResponse, HubError> {
        let _session = self.session(&school, &r.session_id).await?;
        let current = self.store.roster_version().await?;
        if current == 0 || current == r.known_version {
            return Ok(pb::PullRosterResponse { changed: false, roster: None });
        }
        let Some((version, roster)) = self.store.current_roster().await? else {
            return Ok(pb::PullRosterResponse { changed: false, roster: None });
        };
        info!(version, known = r.known_version, "roster part sent");
        Ok(pb::PullRosterResponse {
            changed: true,
            roster: Some(yanpei_proto::roster_to_pb(version, &roster.part_for(&school))),
        })
    }

    async fn close(&self, school: SchoolCode, r: pb::FinishRequest) -> Result<pb::FinishResponse, HubError> {
        let session = self.session(&school, &r.session_id).await?;
        self.store.finish_session(session.id, r.pull_cursor).await?;
        self.metrics.session_finished();
        let conflicts = self.store.conflicts(Some(std::slice::from_ref(&school)), true, 500).await?;
        info!(
            session_id = %session.id, pull_cursor = r.pull_cursor, open_conflicts = conflicts.len(),
            "sync session finished"
        );
        Ok(pb::FinishResponse { conflicts: conflicts.iter().map(crate::grpc::conflict_to_pb).collect() })
    }

    async fn digests(
        &self,
        school: SchoolCode,
        r: pb::ReconcileDigestsRequest,
    ) -> Result<pb::ReconcileDigestsResponse, HubError> {
        let session = self.session(&school, &r.session_id).await?;
        let (as_of, mine) = self.store.view_digests(&school).await?;
        let theirs: std::collections::BTreeMap<String, (u64, String)> =
            r.digests.into_iter().map(|d| (d.period, (d.count, d.digest))).collect();
        let mut differing: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for d in &mine {
            if theirs.get(&d.period) != Some(&(d.count, d.digest.clone())) {
                differing.insert(d.period.clone());
            }
        }
        let held: std::collections::BTreeSet<&String> = mine.iter().map(|d| &d.period).collect();
        differing.extend(theirs.keys().filter(|p| !held.contains(p)).cloned());
        info!(session_id = %session.id, periods = mine.len(), differing = differing.len(), as_of, "reconcile digests");
        Ok(pb::ReconcileDigestsResponse { differing: differing.into_iter().collect(), as_of_cursor: as_of })
    }

    async fn period(
        &self,
        school: SchoolCode,
        r: pb::ReconcilePeriodRequest,
    ) -> Result<pb::ReconcilePeriodResponse, HubError> {
        let session = self.session(&school, &r.session_id).await?;
        if r.held.len() > MAX_RECONCILE {
            return Err(HubError::InvalidArgument(format!(
                "一次对账最多 {MAX_RECONCILE} 条记录，收到 {} 条",
                r.held.len()
            )));
        }
        let mut held = std::collections::BTreeMap::new();
        for (i, e) in r.held.into_iter().enumerate() {
            let id = Uuid::try_parse(&e.activity_id).map_err(|_| {
                HubError::InvalidArgument(format!(
                    "第 {} 条：activity_id「{}」不是合法的 UUID",
                    i + 1,
                    e.activity_id
                ))
            })?;
            let rev: Rev =
                e.rev.parse().map_err(|err| HubError::InvalidArgument(format!("第 {} 条：{err}", i + 1)))?;
            held.insert(id, rev);
        }
        let answer = self.store.reconcile_period(&school, &r.period, &held).await?;
        info!(
            session_id = %session.id, period = %r.period, wanted = answer.wanted.len(),
            sent = answer.records.len(), gone = answer.gone.len(), "reconcile period"
        );
        Ok(pb::ReconcilePeriodResponse {
            wanted: answer.wanted.iter().map(ToString::to_string).collect(),
            records: answer.records.iter().map(pulled_to_pb).collect(),
            gone: answer.gone.iter().map(ToString::to_string).collect(),
        })
    }
}

/// Most records one `ReconcilePeriod` may list (a month of one school's records).
const MAX_RECONCILE: usize = 50_000;

fn pulled_to_pb(p: &Pulled) -> pb::PulledChange {
    pb::PulledChange {
        cursor: p.cursor,
        activity: Some(pb::Activity::from(&p.activity)),
        ancestors: p.ancestors.iter().map(ToString::to_string).collect(),
        maker_node: p.origin.node.to_string(),
        maker_school: p.origin.school.clone(),
        kept: p.kept.iter().map(ToString::to_string).collect(),
    }
}

/// Checks a whole batch before anything is written: at most [`MAX_BATCH`] changes,
/// sequence numbers strictly increasing, each with a record (or the batch is refused
/// whole); a record that does not decode or validate, or whose ancestors are not
/// revisions not newer than the version (nor the version itself), is refused alone.
/// Ownership is the store's decision.
fn validate_batch(
    changes: Vec<pb::Change>,
    causal: bool,
) -> Result<(Vec<IncomingChange>, Vec<Refusal>), HubError> {
    if changes.len() > MAX_BATCH {
        return Err(HubError::InvalidArgument(format!(
            "一批最多 {MAX_BATCH} 条变更，收到 {} 条",
            changes.len()
        )));
    }
    let mut out = Vec::with_capacity(changes.len());
    let mut refused = Vec::new();
    let mut last_seq = 0u64;
    for (i, c) in changes.into_iter().enumerate() {
        let n = i + 1;
        if c.seq <= last_seq {
            return Err(HubError::InvalidArgument(format!(
                "第 {n} 条变更：字段 seq（序号）{} 必须大于前一条的 {last_seq}",
                c.seq
            )));
        }
        last_seq = c.seq;
        let p = c.activity.ok_or_else(|| {
            HubError::InvalidArgument(format!("第 {n} 条变更（seq {}）：字段 activity（记录）缺失", c.seq))
        })?;
        let id = p.id.clone();
        let owner = p.school_code.clone();
        let refuse = |reason: String| Refusal {
            seq: c.seq,
            activity_id: id.clone(),
            reason,
            owner: Some(owner.clone()),
        };
        let activity = match Activity::try_from(p) {
            Ok(a) => a,
            Err(e) => {
                refused.push(refuse(format!("记录内容不合规：{e}")));
                continue;
            }
        };
        if !causal && !c.ancestors.is_empty() {
            return Err(HubError::InvalidArgument(format!(
                "第 {n} 条变更：协议 2 的节点不应发送 ancestors，请升级节点程序"
            )));
        }
        let ancestors: Result<Vec<Rev>, _> = c.ancestors.iter().map(|r| r.parse::<Rev>()).collect();
        match ancestors {
            // A version descends from older ones; the lineage the hub keeps may also name a
            // concurrent version of the same number that lost to an ancestor, never a newer one.
            Ok(a)
                if a.len() <= MAX_ANCESTORS
                    && a.iter().all(|r| r.version() <= activity.version)
                    && !a.contains(&Rev::of(&activity)) =>
            {
                match maker_from_pb(&c.maker_node, &c.maker_school) {
                    Ok(maker) => out.push(IncomingChange { seq: c.seq, activity, ancestors: a, maker }),
                    Err(why) => refused.push(refuse(why)),
                }
            }
            Ok(_) => refused.push(refuse(format!(
                "记录的来源版本（ancestors）不对：最多 {MAX_ANCESTORS} 个，不能晚于第 {} 版，也不能包含它自己",
                activity.version
            ))),
            Err(e) => refused.push(refuse(format!("记录的来源版本（ancestors）不对：{e}"))),
        }
    }
    Ok((out, refused))
}

/// The maker a change names: both fields empty (the sender made it) or a node id and a
/// school code.
fn maker_from_pb(node: &str, school: &str) -> Result<Option<Origin>, String> {
    if node.is_empty() && school.is_empty() {
        return Ok(None);
    }
    let node =
        Uuid::parse_str(node).map_err(|_| format!("记录的制作节点（maker_node）不是有效的编号：{node:?}"))?;
    let school =
        school.parse::<SchoolCode>().map_err(|e| format!("记录的制作学校（maker_school）不对：{e}"))?;
    Ok(Some(Origin { node, school: school.to_string() }))
}

/// Runs one RPC inside a span that carries the caller's school.
/// The caller's school, the request's and the answer's rows go to the call's audit note.
macro_rules! rpc {
    ($self:ident, $req:ident, $name:literal, $method:ident) => {{
        let note = Note::of(&$req);
        let school = auth::node_school(&$req, &$self.revoked)?;
        note.school(&school);
        let span = info_span!($name, school_code = %school);
        let inner = $req.into_inner();
        note.rows(inner.rows());
        let out = $self.$method(school, inner).instrument(span).await?;
        note.rows(out.rows());
        for s in crate::audit::Involves::schools(&out) {
            note.school(s);
        }
        Ok(Response::new(out))
    }};
}

#[tonic::async_trait]
impl SyncService for Sync {
    async fn handshake(
        &self,
        req: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        // An enrolled node's certificate names its node id: no other id may use it.
        crate::enroll::check_handshake(&req)?;
        rpc!(self, req, "handshake", open)
    }

    async fn push(&self, req: Request<pb::PushRequest>) -> Result<Response<pb::PushResponse>, Status> {
        rpc!(self, req, "push", apply)
    }

    async fn pull(&self, req: Request<pb::PullRequest>) -> Result<Response<pb::PullResponse>, Status> {
        rpc!(self, req, "pull", changes_since)
    }

    async fn pull_roster(
        &self,
        req: Request<pb::PullRosterRequest>,
    ) -> Result<Response<pb::PullRosterResponse>, Status> {
        rpc!(self, req, "pull_roster", roster_part)
    }

    async fn finish(&self, req: Request<pb::FinishRequest>) -> Result<Response<pb::FinishResponse>, Status> {
        rpc!(self, req, "finish", close)
    }

    async fn reconcile_digests(
        &self,
        req: Request<pb::ReconcileDigestsRequest>,
    ) -> Result<Response<pb::ReconcileDigestsResponse>, Status> {
        rpc!(self, req, "reconcile_digests", digests)
    }

    async fn reconcile_period(
        &self,
        req: Request<pb::ReconcilePeriodRequest>,
    ) -> Result<Response<pb::ReconcilePeriodResponse>, Status> {
        rpc!(self, req, "reconcile_period", period)
    }
}
