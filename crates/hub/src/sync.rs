//! The sync RPCs: handshake, push, pull, finish.

use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};
use yanpei_proto::pb::{self, sync_service_server::SyncService};
use yanpei_proto::{MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
use yanpei_store::hub::{HubStore, IncomingChange, Session};

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
}

impl Sync {
    pub(crate) fn new(
        store: HubStore,
        blobs: Option<yanpei_attach::BlobDir>,
        metrics: Arc<Metrics>,
        revoked: Arc<Revocations>,
    ) -> Self {
        Sync { store, blobs, metrics, revoked }
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
        let (session_id, acked) =
            self.store.open_session(node_id, &school, r.protocol_version, &agent).await?;
        info!(%session_id, %node_id, acked_seq = acked, "sync session opened");
        self.metrics.session_opened();
        Ok(pb::HandshakeResponse {
            session_id: session_id.to_string(),
            acked_seq: acked,
            hub_protocol_version: PROTOCOL_VERSION,
            school_name: name,
        })
    }

    async fn apply(&self, school: SchoolCode, r: pb::PushRequest) -> Result<pb::PushResponse, HubError> {
        let session = self.session(&school, &r.session_id).await?;
        let received = r.changes.len();
        let started = Instant::now();
        let checked = match validate_batch(&school, r.changes) {
            Ok(changes) => self.check_partners(changes).await,
            Err(e) => Err(e),
        };
        // A record's attachments reach the hub before the record.
        let checked = match checked {
            Ok(changes) => crate::attach::check_batch(self.blobs.as_ref(), &changes).await.map(|()| changes),
            Err(e) => Err(e),
        };
        match checked {
            Ok(changes) => {
                let out = self.store.apply_batch(&session, &changes).await?;
                self.metrics.batch_applied(out.applied, out.unchanged, started.elapsed());
                info!(
                    session_id = %session.id, received, applied = out.applied,
                    unchanged = out.unchanged, acked_seq = out.acked_seq, "batch applied"
                );
                Ok(pb::PushResponse {
                    acked_seq: out.acked_seq,
                    applied: out.applied,
                    unchanged: out.unchanged,
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
        let next_cursor = page.last().map(|(c, _)| *c).unwrap_or(r.cursor);
        Ok(pb::PullResponse {
            changes: page
                .iter()
                .map(|(cursor, a)| pb::PulledChange {
                    cursor: *cursor,
                    activity: Some(pb::Activity::from(a)),
                })
                .collect(),
            next_cursor,
            has_more,
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
        Ok(pb::FinishResponse { conflicts: conflicts.iter().map(crate::query::conflict_to_pb).collect() })
    }

    /// Partner schools named in a batch must be schools of the county roster.
    async fn check_partners(&self, changes: Vec<IncomingChange>) -> Result<Vec<IncomingChange>, HubError> {
        if changes.iter().all(|c| c.activity.body.details.partner_schools.is_empty()) {
            return Ok(changes);
        }
        let known: std::collections::BTreeSet<SchoolCode> =
            self.store.schools().await?.into_iter().map(|s| s.code).collect();
        for (i, c) in changes.iter().enumerate() {
            if let Some(p) = c.activity.body.details.partner_schools.iter().find(|p| !known.contains(*p)) {
                return Err(HubError::InvalidArgument(format!(
                    "第 {} 条变更（记录 {}）：字段 partner_schools（相关学校）中的「{p}」不在县名册中；整批未写入",
                    i + 1,
                    c.activity.id
                )));
            }
        }
        Ok(changes)
    }
}

/// Checks a whole batch before anything is written: every change valid, sequence
/// numbers strictly increasing, every record involving the caller's school.
fn validate_batch(school: &SchoolCode, changes: Vec<pb::Change>) -> Result<Vec<IncomingChange>, HubError> {
    if changes.len() > MAX_BATCH {
        return Err(HubError::InvalidArgument(format!(
            "一批最多 {MAX_BATCH} 条变更，收到 {} 条",
            changes.len()
        )));
    }
    let mut out = Vec::with_capacity(changes.len());
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
        let activity = Activity::try_from(p).map_err(|e| {
            HubError::InvalidArgument(format!("第 {n} 条变更（seq {}，记录 {id}）：{e}", c.seq))
        })?;
        if !activity.involves(school) {
            return Err(HubError::PermissionDenied(format!(
                "第 {n} 条变更（记录 {id}）属于学校 {}，且未注明本校为相关学校：本节点证书只允许写入涉及学校 {school} 的记录；整批未写入",
                activity.school
            )));
        }
        out.push(IncomingChange { seq: c.seq, activity });
    }
    Ok(out)
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
        Ok(Response::new(out))
    }};
}

#[tonic::async_trait]
impl SyncService for Sync {
    async fn handshake(
        &self,
        req: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
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
}
