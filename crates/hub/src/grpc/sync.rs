//! `SyncService`: the wire face of [`crate::sync::Sync`]. Each RPC resolves the calling
//! school from its certificate, decodes the request (a batch's whole-batch checks and
//! each change's decoding happen here, so the core sees only domain types), runs the
//! typed core in a span carrying the school, encodes the answer and notes the rows and
//! schools for the audit log.

use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};
use uuid::Uuid;
use yanpei_domain::{Activity, MAX_ANCESTORS, Rev, SchoolCode};
use yanpei_proto::pb::{self, sync_service_server::SyncService};
use yanpei_store::decide::Origin;
use yanpei_store::hub::{ApplyOutcome, IncomingChange, Pulled, Refusal};

use super::rows::{Involves, Rows};
use crate::audit::Note;
use crate::sync::{Decoded, Hello, MAX_BATCH, Opened, PeriodDigest, PullPage, Sync};
use crate::{HubError, auth};

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
fn validate_batch(changes: Vec<pb::Change>, causal: bool) -> Decoded {
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

/// Runs one RPC inside a span that carries the caller's school: `$call` is the typed
/// core's answer for the decoded request, `$encode` makes it the wire answer. The
/// caller's school, the request's and the answer's rows go to the call's audit note.
macro_rules! rpc {
    ($self:ident, $req:ident, $name:literal, |$school:ident, $r:ident| $call:expr, $encode:expr) => {{
        let note = Note::of(&$req);
        let $school = auth::node_school(&$req, &$self.revoked)?;
        note.school(&$school);
        let span = info_span!($name, school_code = %$school);
        let $r = $req.into_inner();
        note.rows($r.rows());
        let answer = async { $call }.instrument(span).await?;
        let out = $encode(answer);
        note.rows(out.rows());
        for s in Involves::schools(&out) {
            note.school(s);
        }
        Ok(Response::new(out))
    }};
}

fn opened_to_pb(o: Opened) -> pb::HandshakeResponse {
    pb::HandshakeResponse {
        session_id: o.session_id.to_string(),
        acked_seq: o.acked_seq,
        hub_protocol_version: o.hub_protocol_version,
        school_name: o.school_name,
        hub_cursor: o.hub_cursor,
        node_pull_cursor: o.node_pull_cursor,
    }
}

fn outcome_to_pb(out: ApplyOutcome) -> pb::PushResponse {
    pb::PushResponse {
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
    }
}

fn page_to_pb(p: PullPage) -> pb::PullResponse {
    pb::PullResponse {
        changes: p.changes.iter().map(pulled_to_pb).collect(),
        next_cursor: p.next_cursor,
        has_more: p.has_more,
        gone: p.gone.iter().map(ToString::to_string).collect(),
    }
}

fn roster_to_pb(part: Option<(u64, yanpei_domain::roster::Roster)>) -> pb::PullRosterResponse {
    match part {
        Some((version, roster)) => pb::PullRosterResponse {
            changed: true,
            roster: Some(yanpei_proto::roster_to_pb(version, &roster)),
        },
        None => pb::PullRosterResponse { changed: false, roster: None },
    }
}

#[tonic::async_trait]
impl SyncService for Sync {
    async fn handshake(
        &self,
        req: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        // An enrolled node's certificate names its node id: no other id may use it.
        super::enroll::check_handshake(&req)?;
        rpc!(
            self,
            req,
            "handshake",
            |school, r| {
                let hello = Hello {
                    node_id: r.node_id,
                    school_code: r.school_code,
                    protocol_version: r.protocol_version,
                    agent_version: r.agent_version,
                };
                self.open(school, hello).await
            },
            opened_to_pb
        )
    }

    async fn push(&self, req: Request<pb::PushRequest>) -> Result<Response<pb::PushResponse>, Status> {
        rpc!(
            self,
            req,
            "push",
            |school, r| {
                let received = r.changes.len();
                self.apply(school, &r.session_id, received, |causal| validate_batch(r.changes, causal)).await
            },
            outcome_to_pb
        )
    }

    async fn pull(&self, req: Request<pb::PullRequest>) -> Result<Response<pb::PullResponse>, Status> {
        rpc!(
            self,
            req,
            "pull",
            |school, r| self.changes_since(school, &r.session_id, r.cursor, r.limit).await,
            page_to_pb
        )
    }

    async fn pull_roster(
        &self,
        req: Request<pb::PullRosterRequest>,
    ) -> Result<Response<pb::PullRosterResponse>, Status> {
        rpc!(
            self,
            req,
            "pull_roster",
            |school, r| self.roster_part(school, &r.session_id, r.known_version).await,
            roster_to_pb
        )
    }

    async fn finish(&self, req: Request<pb::FinishRequest>) -> Result<Response<pb::FinishResponse>, Status> {
        rpc!(
            self,
            req,
            "finish",
            |school, r| self.close(school, &r.session_id, r.pull_cursor).await,
            |conflicts: Vec<yanpei_store::Conflict>| pb::FinishResponse {
                conflicts: conflicts.iter().map(super::conflict_to_pb).collect()
            }
        )
    }

    async fn reconcile_digests(
        &self,
        req: Request<pb::ReconcileDigestsRequest>,
    ) -> Result<Response<pb::ReconcileDigestsResponse>, Status> {
        rpc!(
            self,
            req,
            "reconcile_digests",
            |school, r| {
                let digests = r
                    .digests
                    .into_iter()
                    .map(|d| PeriodDigest { period: d.period, count: d.count, digest: d.digest })
                    .collect();
                self.digests(school, &r.session_id, digests).await
            },
            |(differing, as_of_cursor)| pb::ReconcileDigestsResponse { differing, as_of_cursor }
        )
    }

    async fn reconcile_period(
        &self,
        req: Request<pb::ReconcilePeriodRequest>,
    ) -> Result<Response<pb::ReconcilePeriodResponse>, Status> {
        rpc!(
            self,
            req,
            "reconcile_period",
            |school, r| {
                let held = r.held.into_iter().map(|e| (e.activity_id, e.rev)).collect();
                self.period(school, &r.session_id, &r.period, held).await
            },
            |a: yanpei_store::reconcile::PeriodAnswer| pb::ReconcilePeriodResponse {
                wanted: a.wanted.iter().map(ToString::to_string).collect(),
                records: a.records.iter().map(pulled_to_pb).collect(),
                gone: a.gone.iter().map(ToString::to_string).collect(),
            }
        )
    }
}
