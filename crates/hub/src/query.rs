//! The query RPCs: county statistics (by county, alliance, township, urban/rural or
//! school, optionally one subject and a range of ISO weeks) and the sync ledger.
//!
//! The county operator sees everything; a school's node sees its own school only.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, Weekday};
use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};
use yanpei_domain::{ActivityKind, Area, SchoolCode};
use yanpei_pki::Identity;
use yanpei_proto::pb::{self, query_service_server::QueryService};
use yanpei_proto::{kind_to_pb, semester_from_pb};
use yanpei_store::audit::AuditFilter;
use yanpei_store::hub::{HubStore, StatsFilter};

use crate::audit::{AuditSink, Note, Rows};
use crate::revocation::Revocations;
use crate::{HubError, auth, scope};

pub(crate) struct Query {
    pub(crate) store: HubStore,
    revoked: Arc<Revocations>,
    pub(crate) policy: yanpei_report::QuotaPolicy,
    audit: AuditSink,
}

impl Query {
    pub(crate) fn new(
        store: HubStore,
        revoked: Arc<Revocations>,
        audit: AuditSink,
        policy: yanpei_report::QuotaPolicy,
    ) -> Self {
        Query { store, revoked, policy, audit }
    }

    async fn county_stats(
        &self,
        who: Identity,
        note: &Note,
        r: pb::StatsRequest,
    ) -> Result<pb::StatsResponse, HubError> {
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
            pb::scope::Target::Township(name) => {
                let name = name.trim();
                if !schools.iter().any(|s| s.township == name) {
                    return Err(HubError::NotFound(format!("名册中没有乡镇「{name}」的学校")));
                }
                Some(schools.iter().filter(|s| s.township == name).map(|s| s.code.clone()).collect())
            }
            pb::scope::Target::Area(code) => {
                let area = Area::from_code(code.trim()).ok_or_else(|| {
                    HubError::InvalidArgument(format!(
                        "字段 scope.area（城乡）「{code}」无效：可选 urban（城镇）或 rural（乡镇）"
                    ))
                })?;
                Some(schools.iter().filter(|s| s.area == area).map(|s| s.code.clone()).collect())
            }
        };
        let subject = match r.subject.trim() {
            "" => None,
            s if s.chars().count() > 50 => {
                return Err(HubError::InvalidArgument("字段 subject（学科）过长：最多 50 个字".into()));
            }
            s => Some(s.to_owned()),
        };
        let from = week_start("from_week（起始周）", &r.from_week)?;
        let to = week_start("to_week（截止周）", &r.to_week)?;
        if let (Some(a), Some(b)) = (from, to)
            && a > b
        {
            return Err(HubError::InvalidArgument(format!(
                "字段 from_week（起始周）{} 晚于 to_week（截止周）{}",
                r.from_week, r.to_week
            )));
        }

        for school in in_scope.iter().flatten() {
            note.school(school);
        }
        scope::authorize(&scope::readable(&self.store, &who).await?, in_scope.as_deref())?;
        let filter = StatsFilter { semester, schools: in_scope, subject, from_week: from, to_week: to };
        let counts = self.store.stats(&filter).await?;
        let complete = self.store.complete_meetings(&filter).await?;

        let school_alliance: BTreeMap<&str, &str> =
            schools.iter().map(|s| (s.code.as_str(), s.alliance.as_str())).collect();
        let school_name: BTreeMap<&str, &str> =
            schools.iter().map(|s| (s.code.as_str(), s.name.as_str())).collect();
        let alliance_name: BTreeMap<&str, &str> =
            alliances.iter().map(|a| (a.code.as_str(), a.name.as_str())).collect();
        let group_by = pb::GroupBy::try_from(r.group_by).unwrap_or(pb::GroupBy::Unspecified);
        let mut grouped: BTreeMap<(String, ActivityKind), u64> = BTreeMap::new();
        let mut grouped_complete: BTreeMap<String, u64> = BTreeMap::new();
        let mut total = 0;
        for c in &counts {
            let key = match group_by {
                pb::GroupBy::Unspecified => String::new(),
                pb::GroupBy::School => c.school.clone(),
                pb::GroupBy::Alliance => {
                    school_alliance.get(c.school.as_str()).copied().unwrap_or("").to_owned()
                }
            };
            if c.kind == ActivityKind::GroupMeeting {
                *grouped_complete.entry(key.clone()).or_insert(0) +=
                    complete.get(c.school.as_str()).copied().unwrap_or(0);
            }
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
                let complete = if kind == ActivityKind::GroupMeeting {
                    grouped_complete.get(&group_code).copied().unwrap_or(0)
                } else {
                    0
                };
                pb::StatsRow { group_code, group_name, kind: kind_to_pb(kind) as i32, count, complete }
            })
            .collect();
        Ok(pb::StatsResponse { rows, total })
    }

    async fn session_ledger(
        &self,
        who: Identity,
        note: &Note,
        r: pb::SyncLedgerRequest,
    ) -> Result<pb::SyncLedgerResponse, HubError> {
        let school: Option<SchoolCode> = if r.school_code.is_empty() {
            None
        } else {
            Some(r.school_code.parse().map_err(|e| HubError::InvalidArgument(format!("{e}")))?)
        };
        if let Some(s) = &school {
            note.school(s);
        }
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

/// The Monday of the ISO week `text` names (`2024-W37`, or any day of it as YYYY-MM-DD);
/// `None` when empty.
pub(crate) fn week_start(field: &str, text: &str) -> Result<Option<NaiveDate>, HubError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad =
        || HubError::InvalidArgument(format!("字段 {field}「{text}」不是 2024-W37 或 YYYY-MM-DD 格式的周"));
    let day = match text.split_once(['W', 'w']) {
        Some((year, week)) => {
            let year: i32 = year.trim_end_matches('-').parse().map_err(|_| bad())?;
            let week: u32 = week.parse().map_err(|_| bad())?;
            NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?
        }
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?,
    };
    Ok(Some(yanpei_store::rollup::week_of(day)))
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
        note: &Note,
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
        for s in schools.iter().flatten() {
            note.school(s);
        }
        let limit = match r.limit {
            0 => 100,
            n => u64::from(n.min(500)),
        };
        let conflicts = self.store.conflicts(schools.as_deref(), !r.include_resolved, limit).await?;
        Ok(pb::ConflictsResponse { conflicts: conflicts.iter().map(conflict_to_pb).collect() })
    }
}

impl Query {
    /// The audit log, newest first: the county operator's alone (the scope layer
    /// lets only a caller who reads the whole county ask about it).
    async fn audit_log(
        &self,
        who: Identity,
        note: &Note,
        r: pb::AuditRequest,
    ) -> Result<pb::AuditResponse, HubError> {
        let school: Option<SchoolCode> = if r.school_code.is_empty() {
            None
        } else {
            Some(r.school_code.parse().map_err(|e| HubError::InvalidArgument(format!("{e}")))?)
        };
        if let Some(s) = &school {
            note.school(s);
        }
        scope::authorize(&scope::readable(&self.store, &who).await?, None)
            .map_err(|_| HubError::PermissionDenied("审计日志只有县管理员可以查询".into()))?;
        // Everything answered before this call is in the log it reads.
        self.audit.flush().await;
        let filter = AuditFilter {
            caller: (!r.caller.is_empty()).then(|| r.caller.trim().to_owned()),
            school: school.map(|s| s.to_string()),
            limit: match r.limit {
                0 => 50,
                n => u64::from(n),
            },
        };
        let rows = self.store.audit(&filter).await?;
        Ok(pb::AuditResponse {
            entries: rows
                .into_iter()
                .map(|row| pb::AuditEntry {
                    id: u64::try_from(row.id).unwrap_or(0),
                    at: row.entry.at.to_rfc3339(),
                    caller: row.entry.caller,
                    rpc: row.entry.rpc,
                    schools: row.entry.schools,
                    rows: row.entry.rows,
                    code: row.entry.code,
                })
                .collect(),
        })
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

/// Resolves the caller, runs the handler in a span, and notes the answer's rows.
macro_rules! query {
    ($self:ident, $req:ident, $name:literal, $method:ident) => {{
        let note = Note::of(&$req);
        let who = auth::caller(&$req, &$self.revoked)?;
        let span = info_span!($name, caller = ?who);
        let out = $self.$method(who, &note, $req.into_inner()).instrument(span).await?;
        note.rows(out.rows());
        Ok(Response::new(out))
    }};
}

#[tonic::async_trait]
impl QueryService for Query {
    async fn stats(&self, req: Request<pb::StatsRequest>) -> Result<Response<pb::StatsResponse>, Status> {
        query!(self, req, "stats", county_stats)
    }

    async fn sync_ledger(
        &self,
        req: Request<pb::SyncLedgerRequest>,
    ) -> Result<Response<pb::SyncLedgerResponse>, Status> {
        query!(self, req, "sync_ledger", session_ledger)
    }

    async fn audit(&self, req: Request<pb::AuditRequest>) -> Result<Response<pb::AuditResponse>, Status> {
        query!(self, req, "audit", audit_log)
    }

    async fn compliance(
        &self,
        req: Request<pb::ComplianceRequest>,
    ) -> Result<Response<pb::ComplianceResponse>, Status> {
        query!(self, req, "compliance", compliance_report)
    }

    async fn coverage(
        &self,
        req: Request<pb::CoverageRequest>,
    ) -> Result<Response<pb::CoverageResponse>, Status> {
        query!(self, req, "coverage", coverage_report)
    }

    async fn sync_status(
        &self,
        req: Request<pb::SyncStatusRequest>,
    ) -> Result<Response<pb::SyncStatusResponse>, Status> {
        query!(self, req, "sync_status", sync_status)
    }

    async fn conflicts(
        &self,
        req: Request<pb::ConflictsRequest>,
    ) -> Result<Response<pb::ConflictsResponse>, Status> {
        query!(self, req, "conflicts", list_conflicts)
    }

    async fn pairings(
        &self,
        req: Request<pb::PairingsRequest>,
    ) -> Result<Response<pb::PairingsResponse>, Status> {
        query!(self, req, "pairings", pairings_report)
    }

    async fn gaps(&self, req: Request<pb::GapsRequest>) -> Result<Response<pb::GapsResponse>, Status> {
        query!(self, req, "gaps", gaps_report)
    }
}
