//! The query API: county statistics (by county, alliance, township, urban/rural or
//! school, optionally one subject and a range of ISO weeks), the sync ledger, conflicts
//! and the audit log. Typed requests in, domain and report types out (`crate::model`);
//! the gRPC edge (`crate::grpc`) and the dashboard both call these methods.
//!
//! The county operator sees everything; a school's node sees its own school only.

use std::collections::BTreeMap;
use std::sync::Arc;

use yanpei_domain::{ActivityKind, SchoolCode};
use yanpei_pki::Identity;
use yanpei_store::Conflict;
use yanpei_store::audit::{AuditFilter, AuditRow};
use yanpei_store::hub::{HubStore, StatsFilter};

use crate::audit::{AuditSink, Note};
use crate::model::{
    AuditQuery, ConflictsQuery, GroupBy, LedgerQuery, StatsAnswer, StatsQuery, StatsRow, StatsScope,
};
use crate::revocation::Revocations;
use crate::{HubError, scope};

/// A sync session as the ledger holds it.
pub(crate) type LedgerSession = yanpei_store::entity::hub_sync_session::Model;

pub(crate) struct Query {
    pub(crate) store: HubStore,
    pub(crate) revoked: Arc<Revocations>,
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

    /// County statistics over a scope, grouped as asked.
    pub(crate) async fn county_stats(
        &self,
        who: Identity,
        note: &Note,
        r: StatsQuery,
    ) -> Result<StatsAnswer, HubError> {
        let semester = r.semester;
        let schools = self.store.schools().await?;
        let alliances = self.store.alliances().await?;
        let readable = scope::readable(&self.store, &who).await?;
        let in_scope: Option<Vec<SchoolCode>> = match &r.scope {
            StatsScope::Readable => match &readable {
                scope::Readable::All => None,
                scope::Readable::Schools(set) => Some(set.iter().cloned().collect()),
            },
            StatsScope::County => None,
            StatsScope::Alliance(code) => {
                if !alliances.iter().any(|a| &a.code == code) {
                    return Err(HubError::NotFound(format!("没有代码为「{code}」的区域联合体")));
                }
                Some(schools.iter().filter(|s| &s.alliance == code).map(|s| s.code.clone()).collect())
            }
            StatsScope::School(code) => {
                if !schools.iter().any(|s| &s.code == code) {
                    return Err(HubError::NotFound(format!("名册中没有学校 {code}")));
                }
                Some(vec![code.clone()])
            }
            StatsScope::Township(name) => {
                if !schools.iter().any(|s| &s.township == name) {
                    return Err(HubError::NotFound(format!("名册中没有乡镇「{name}」的学校")));
                }
                Some(schools.iter().filter(|s| &s.township == name).map(|s| s.code.clone()).collect())
            }
            StatsScope::Area(area) => {
                Some(schools.iter().filter(|s| s.area == *area).map(|s| s.code.clone()).collect())
            }
        };
        let (subject, from, to) = (r.subject, r.from_week, r.to_week);
        for school in in_scope.iter().flatten() {
            note.school(school);
        }
        scope::authorize(&readable, in_scope.as_deref())?;
        let filter = StatsFilter { semester, schools: in_scope, subject, from_week: from, to_week: to };
        let counts = self.store.stats(&filter).await?;
        let complete = self.store.complete_meetings(&filter).await?;

        let school_alliance: BTreeMap<&str, &str> =
            schools.iter().map(|s| (s.code.as_str(), s.alliance.as_str())).collect();
        let school_name: BTreeMap<&str, &str> =
            schools.iter().map(|s| (s.code.as_str(), s.name.as_str())).collect();
        let alliance_name: BTreeMap<&str, &str> =
            alliances.iter().map(|a| (a.code.as_str(), a.name.as_str())).collect();
        let group_by = r.group_by;
        let mut grouped: BTreeMap<(String, ActivityKind), u64> = BTreeMap::new();
        let mut grouped_complete: BTreeMap<String, u64> = BTreeMap::new();
        let mut total = 0;
        for c in &counts {
            let key = match group_by {
                GroupBy::None => String::new(),
                GroupBy::School => c.school.clone(),
                GroupBy::Alliance => school_alliance.get(c.school.as_str()).copied().unwrap_or("").to_owned(),
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
                    GroupBy::None => "",
                    GroupBy::School => school_name.get(group_code.as_str()).copied().unwrap_or(""),
                    GroupBy::Alliance => alliance_name.get(group_code.as_str()).copied().unwrap_or(""),
                }
                .to_owned();
                let complete = if kind == ActivityKind::GroupMeeting {
                    grouped_complete.get(&group_code).copied().unwrap_or(0)
                } else {
                    0
                };
                StatsRow { group_code, group_name, kind, count, complete }
            })
            .collect();
        Ok(StatsAnswer { rows, total })
    }

    /// The sync ledger, newest first.
    pub(crate) async fn session_ledger(
        &self,
        who: Identity,
        note: &Note,
        r: LedgerQuery,
    ) -> Result<Vec<LedgerSession>, HubError> {
        let school = r.school;
        if let Some(s) = &school {
            note.school(s);
        }
        let requested = school.as_ref().map(std::slice::from_ref);
        scope::authorize(&scope::readable(&self.store, &who).await?, requested)?;
        let limit = match r.limit {
            0 => 50,
            n => u64::from(n),
        };
        Ok(self.store.ledger(school.as_ref(), limit).await?)
    }
}

impl Query {
    /// Conflicts of the readable schools (or the one asked for), newest first.
    pub(crate) async fn list_conflicts(
        &self,
        who: Identity,
        note: &Note,
        r: ConflictsQuery,
    ) -> Result<Vec<Conflict>, HubError> {
        let readable = scope::readable(&self.store, &who).await?;
        let schools: Option<Vec<SchoolCode>> = match r.school {
            None => match &readable {
                scope::Readable::All => None,
                scope::Readable::Schools(s) => Some(s.iter().cloned().collect()),
            },
            Some(s) => Some(vec![s]),
        };
        scope::authorize(&readable, schools.as_deref())?;
        for s in schools.iter().flatten() {
            note.school(s);
        }
        let limit = match r.limit {
            0 => 100,
            n => u64::from(n.min(500)),
        };
        Ok(self.store.conflicts(schools.as_deref(), !r.include_resolved, limit).await?)
    }
}

impl Query {
    /// The audit log, newest first: the county operator's alone (the scope layer
    /// lets only a caller who reads the whole county ask about it).
    pub(crate) async fn audit_log(
        &self,
        who: Identity,
        note: &Note,
        r: AuditQuery,
    ) -> Result<Vec<AuditRow>, HubError> {
        let school = r.school;
        if let Some(s) = &school {
            note.school(s);
        }
        scope::authorize(&scope::readable(&self.store, &who).await?, None)
            .map_err(|_| HubError::PermissionDenied("审计日志只有县管理员可以查询".into()))?;
        // Everything answered before this call is in the log it reads.
        self.audit.flush().await;
        let filter = AuditFilter {
            caller: r.caller,
            school: school.map(|s| s.to_string()),
            limit: match r.limit {
                0 => 50,
                n => u64::from(n),
            },
        };
        Ok(self.store.audit(&filter).await?)
    }
}
