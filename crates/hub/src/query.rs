//! The query RPCs: county statistics and the sync ledger.
//!
//! The county operator sees everything; a school's node sees its own school only.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};
use yanpei_domain::{ActivityKind, SchoolCode};
use yanpei_pki::Identity;
use yanpei_proto::pb::{self, query_service_server::QueryService};
use yanpei_proto::{kind_to_pb, semester_from_pb};
use yanpei_store::hub::{HubStore, StatsFilter};

use crate::revocation::Revocations;
use crate::{HubError, auth, scope};

pub(crate) struct Query {
    pub(crate) store: HubStore,
    revoked: Arc<Revocations>,
    pub(crate) policy: yanpei_report::QuotaPolicy,
}

impl Query {
    pub(crate) fn new(store: HubStore, revoked: Arc<Revocations>) -> Self {
        Query { store, revoked, policy: crate::report::default_policy() }
    }

    async fn county_stats(&self, who: Identity, r: pb::StatsRequest) -> Result<pb::StatsResponse, HubError> {
        let semester = r
            .semester
            .as_ref()
            .map(|s| semester_from_pb(Some(s)))
            .transpose()
            .map_err(|e| HubError::InvalidArgument(e.to_string()))?;
        let schools = self.store.schools().await?;
        let alliances = self.store.alliances().await?;
        let target = r.scope.and_then(|s| s.target).unwrap_or(pb::scope::Target::County(true));
        let in_scope: Option<Vec<SchoolCode>> = match &target {
            pb::scope::Target::County(_) => None,
            pb::scope::Target::AllianceCode(code) => {
                if !alliances.iter().any(|a| &a.code == code) {
                    return Err(HubError::NotFound(format!("没有代码为「{code}」的区域联合体")));
                }
                Some(schools.iter().filter(|s| &s.alliance == code).map(|s| s.code.clone()).collect())
            }
            pb::scope::Target::SchoolCode(code) => {
                let code: SchoolCode = code.parse().map_err(|e| HubError::InvalidArgument(format!("{e}")))?;
                if !schools.iter().any(|s| s.code == code) {
                    return Err(HubError::NotFound(format!("名册中没有学校 {code}")));
                }
                Some(vec![code])
            }
        };
        scope::authorize(&scope::readable(&self.store, &who).await?, in_scope.as_deref())?;
        let counts = self.store.stats(&StatsFilter { semester, schools: in_scope }).await?;

        let school_alliance: BTreeMap<&str, &str> =
            schools.iter().map(|s| (s.code.as_str(), s.alliance.as_str())).collect();
        let school_name: BTreeMap<&str, &str> =
            schools.iter().map(|s| (s.code.as_str(), s.name.as_str())).collect();
        let alliance_name: BTreeMap<&str, &str> =
            alliances.iter().map(|a| (a.code.as_str(), a.name.as_str())).collect();
        let group_by = pb::GroupBy::try_from(r.group_by).unwrap_or(pb::GroupBy::Unspecified);
        let mut grouped: BTreeMap<(String, ActivityKind), u64> = BTreeMap::new();
        let mut total = 0;
        for c in &counts {
            let key = match group_by {
                pb::GroupBy::Unspecified => String::new(),
                pb::GroupBy::School => c.school.clone(),
                pb::GroupBy::Alliance => {
                    school_alliance.get(c.school.as_str()).copied().unwrap_or("").to_owned()
                }
            };
            *grouped.entry((key, c.kind)).or_insert(0) += c.count;
            total += c.count;
        }
        let rows = grouped
            .into_iter()
            .map(|((group_code, kind), count)| {
                let group_name = match group_by {
                    pb::GroupBy::Unspecified => "",
                    pb::GroupBy::School => school_name.get(group_code.as_str()).copied().unwrap_or(""),
                    pb::GroupBy::Alliance => alliance_name.get(group_code.as_str()).copied().unwrap_or(""),
                }
                .to_owned();
                pb::StatsRow { group_code, group_name, kind: kind_to_pb(kind) as i32, count }
            })
            .collect();
        Ok(pb::StatsResponse { rows, total })
    }

    async fn session_ledger(
        &self,
        who: Identity,
        r: pb::SyncLedgerRequest,
    ) -> Result<pb::SyncLedgerResponse, HubError> {
        let school: Option<SchoolCode> = if r.school_code.is_empty() {
            None
        } else {
            Some(r.school_code.parse().map_err(|e| HubError::InvalidArgument(format!("{e}")))?)
        };
        let requested = school.as_ref().map(std::slice::from_ref);
        scope::authorize(&scope::readable(&self.store, &who).await?, requested)?;
        let limit = match r.limit {
            0 => 50,
            n => u64::from(n),
        };
        let rows = self.store.ledger(school.as_ref(), limit).await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(pb::SyncLedgerResponse {
            sessions: rows
                .into_iter()
                .map(|s| pb::SyncSession {
                    session_id: s.id.to_string(),
                    node_id: s.node_id.to_string(),
                    school_code: s.school_code,
                    started_at: s.started_at.to_rfc3339(),
                    finished_at: s.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    received: count(s.received),
                    applied: count(s.applied),
                    unchanged: count(s.unchanged),
                    rejected: count(s.rejected),
                    rejections: serde_json_list(&s.rejections),
                    acked_seq: count(s.acked_seq),
                    pull_cursor: count(s.pull_cursor),
                })
                .collect(),
        })
    }
}

/// A conflict as the wire carries it.
pub(crate) fn conflict_to_pb(c: &yanpei_store::Conflict) -> pb::Conflict {
    pb::Conflict {
        id: c.id,
        activity_id: c.losing.id.to_string(),
        version: c.version,
        losing_school: c.losing_school.clone(),
        winning_school: c.winning_school.clone(),
        losing: Some(pb::Activity::from(&c.losing)),
        detected_at: c.detected_at.to_rfc3339(),
        resolved_version: c.resolved_version.unwrap_or(0),
    }
}

impl Query {
    async fn list_conflicts(
        &self,
        who: Identity,
        r: pb::ConflictsRequest,
    ) -> Result<pb::ConflictsResponse, HubError> {
        let readable = scope::readable(&self.store, &who).await?;
        let schools: Option<Vec<SchoolCode>> = if r.school_code.is_empty() {
            match &readable {
                scope::Readable::All => None,
                scope::Readable::Schools(s) => Some(s.iter().cloned().collect()),
            }
        } else {
            Some(vec![r.school_code.parse().map_err(|e| HubError::InvalidArgument(format!("{e}")))?])
        };
        scope::authorize(&readable, schools.as_deref())?;
        let limit = match r.limit {
            0 => 100,
            n => u64::from(n.min(500)),
        };
        let conflicts = self.store.conflicts(schools.as_deref(), !r.include_resolved, limit).await?;
        Ok(pb::ConflictsResponse { conflicts: conflicts.iter().map(conflict_to_pb).collect() })
    }
}

fn serde_json_list(text: &str) -> Vec<String> {
    // Stored as a JSON array of strings by the store; tolerate anything else as one line.
    let t = text.trim();
    if t == "[]" || t.is_empty() {
        return Vec::new();
    }
    match yanpei_store::parse_string_list(t) {
        Some(v) => v,
        None => vec![t.to_owned()],
    }
}

#[tonic::async_trait]
impl QueryService for Query {
    async fn stats(&self, req: Request<pb::StatsRequest>) -> Result<Response<pb::StatsResponse>, Status> {
        let who = auth::caller(&req, &self.revoked)?;
        let span = info_span!("stats", caller = ?who);
        self.county_stats(who, req.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn sync_ledger(
        &self,
        req: Request<pb::SyncLedgerRequest>,
    ) -> Result<Response<pb::SyncLedgerResponse>, Status> {
        let who = auth::caller(&req, &self.revoked)?;
        let span = info_span!("sync_ledger", caller = ?who);
        self.session_ledger(who, req.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn compliance(
        &self,
        req: Request<pb::ComplianceRequest>,
    ) -> Result<Response<pb::ComplianceResponse>, Status> {
        let who = auth::caller(&req, &self.revoked)?;
        let span = info_span!("compliance", caller = ?who);
        self.compliance_report(who, req.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn conflicts(
        &self,
        req: Request<pb::ConflictsRequest>,
    ) -> Result<Response<pb::ConflictsResponse>, Status> {
        let who = auth::caller(&req, &self.revoked)?;
        let span = info_span!("conflicts", caller = ?who);
        self.list_conflicts(who, req.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }
}
