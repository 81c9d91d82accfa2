//! The reports of the query API: quota compliance, coverage and sync completeness,
//! computed from the rollups and the current roster, through the same scope layer as
//! every query. Typed requests in, report types out.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use yanpei_domain::{ActivityKind, SchoolCode, Semester};
use yanpei_pki::Identity;
use yanpei_report::{CountsFor, RollupRow, StaffRows, compliance};
use yanpei_store::people::{NamedAs, NamedRow};

use crate::audit::Note;
use crate::model::{
    ComplianceAnswer, ComplianceQuery, CoverageAnswer, CoverageQuery, SchoolSync, SyncStatusAnswer,
    SyncStatusQuery,
};
use crate::query::Query;
use crate::{HubError, scope};

/// A school whose last finished sync is older than this is stale in reports.
pub(crate) const STALE_AFTER_HOURS: i64 = 48;

impl Query {
    pub(crate) async fn compliance_report(
        &self,
        who: Identity,
        note: &Note,
        r: ComplianceQuery,
    ) -> Result<ComplianceAnswer, HubError> {
        let semester = r.semester;
        let schools = self.report_scope(&who, note, r.school.as_ref()).await?;
        let roster = self.roster().await?;
        let (first, last) = roster.calendar().dates(semester);
        let as_of = r.as_of.unwrap_or_else(|| Utc::now().date_naive().clamp(first, last));
        let rows = self.person_rows(semester, as_of.min(last), last).await?;
        // Staff quotas: the operator's whole-county report has every 教研员's; a 教研员's
        // report over their schools has their own; a school's report has none.
        let staff = match &who {
            Identity::Operator { .. } if r.school.is_none() => StaffRows::All,
            Identity::Staff { id } if r.school.is_none() => StaffRows::Own(id),
            _ => StaffRows::None,
        };
        let report = compliance(&roster, &self.policy, semester, as_of, &rows, schools.as_ref(), staff);

        let stale_schools = self.stale(&roster, schools.as_ref(), STALE_AFTER_HOURS).await?;
        Ok(ComplianceAnswer { report, stale_schools })
    }
}

impl Query {
    /// Who the semester's records name up to `until` (the semester's last day or before),
    /// as the quota policy counts them: from the person rollups while `until` is the
    /// semester's end and only 执行人 count, else (and for the people a quota counts
    /// besides the 执行人: 参与人员, 授课教师) from the records themselves.
    async fn person_rows(
        &self,
        semester: Semester,
        until: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<RollupRow>, HubError> {
        let others: Vec<ActivityKind> = self
            .policy
            .quotas
            .iter()
            .filter(|q| q.counts_for.iter().any(|c| *c != CountsFor::Actor))
            .flat_map(|q| q.kinds.iter().filter_map(|k| k.parse::<ActivityKind>().ok()))
            .collect();
        let row = |n: NamedRow| {
            Some(RollupRow {
                kind: n.kind.parse::<ActivityKind>().ok()?,
                named_as: match n.named_as {
                    NamedAs::Actor => CountsFor::Actor,
                    NamedAs::Participant => CountsFor::Participants,
                    NamedAs::Teacher => CountsFor::Teacher,
                },
                school: n.school,
                actor: n.person,
                n: n.n,
                days: n.days,
            })
        };
        if until < last {
            return Ok(self
                .store
                .people_named(semester, until, None)
                .await?
                .into_iter()
                .filter_map(row)
                .collect());
        }
        let mut rows: Vec<RollupRow> = self
            .store
            .person_rollups(semester)
            .await?
            .into_iter()
            .filter_map(|p| {
                Some(RollupRow {
                    school: p.school,
                    actor: p.actor,
                    named_as: CountsFor::Actor,
                    kind: p.kind.parse::<ActivityKind>().ok()?,
                    n: p.n,
                    days: p.days,
                })
            })
            .collect();
        if !others.is_empty() {
            let named = self.store.people_named(semester, until, Some(&others)).await?;
            rows.extend(named.into_iter().filter(|n| n.named_as != NamedAs::Actor).filter_map(row));
        }
        Ok(rows)
    }

    /// The schools a report covers: the one asked for, or all the caller may read (`None`: county).
    pub(crate) async fn report_scope(
        &self,
        who: &Identity,
        note: &Note,
        school: Option<&SchoolCode>,
    ) -> Result<Option<BTreeSet<SchoolCode>>, HubError> {
        let readable = scope::readable(&self.store, who).await?;
        let requested: Option<Vec<SchoolCode>> = match school {
            None => match &readable {
                scope::Readable::All => None,
                scope::Readable::Schools(s) => Some(s.iter().cloned().collect()),
            },
            Some(s) => Some(vec![s.clone()]),
        };
        scope::authorize(&readable, requested.as_deref())?;
        for s in requested.iter().flatten() {
            note.school(s);
        }
        Ok(requested.map(|v| v.into_iter().collect()))
    }

    pub(crate) async fn roster(&self) -> Result<yanpei_domain::roster::Roster, HubError> {
        self.store
            .current_roster()
            .await?
            .map(|(_, r)| r)
            .ok_or_else(|| HubError::FailedPrecondition("县名册尚未导入：请先 yanpei roster import".into()))
    }

    pub(crate) async fn stale(
        &self,
        roster: &yanpei_domain::roster::Roster,
        schools: Option<&BTreeSet<SchoolCode>>,
        hours: i64,
    ) -> Result<Vec<String>, HubError> {
        let last = self.store.last_sync_by_school().await?;
        let cutoff = Utc::now() - chrono::TimeDelta::hours(hours);
        Ok(roster
            .schools
            .iter()
            .filter(|s| schools.is_none_or(|set| set.contains(&s.code)))
            .filter(|s| last.get(s.code.as_str()).is_none_or(|t| *t < cutoff))
            .map(|s| s.code.to_string())
            .collect())
    }

    pub(crate) async fn coverage_report(
        &self,
        who: Identity,
        note: &Note,
        r: CoverageQuery,
    ) -> Result<CoverageAnswer, HubError> {
        let semester = r.semester;
        let schools = self.report_scope(&who, note, r.school.as_ref()).await?;
        let roster = self.roster().await?;
        let mut kinds = std::collections::BTreeMap::new();
        let filter = yanpei_store::hub::StatsFilter { semester: Some(semester), ..Default::default() };
        for c in self.store.stats(&filter).await? {
            *kinds.entry((c.school, c.kind)).or_insert(0) += i64::try_from(c.count).unwrap_or(i64::MAX);
        }
        let mut people = std::collections::BTreeMap::new();
        for p in self.store.person_rollups(semester).await? {
            *people.entry((p.school, p.actor)).or_insert(0) += p.n;
        }
        let subjects = self.store.subject_totals(semester).await?;
        let rows = yanpei_report::coverage(&roster, schools.as_ref(), &kinds, &people, &subjects);
        Ok(CoverageAnswer {
            schools: rows,
            stale_schools: self.stale(&roster, schools.as_ref(), STALE_AFTER_HOURS).await?,
        })
    }

    pub(crate) async fn sync_status(
        &self,
        who: Identity,
        note: &Note,
        r: SyncStatusQuery,
    ) -> Result<SyncStatusAnswer, HubError> {
        let schools = self.report_scope(&who, note, None).await?;
        let roster = self.roster().await?;
        let days = i64::from(if r.days == 0 { 2 } else { r.days.min(365) });
        let last = self.store.last_sync_by_school().await?;
        let now = Utc::now();
        Ok(SyncStatusAnswer {
            schools: roster
                .schools
                .iter()
                .filter(|s| schools.as_ref().is_none_or(|set| set.contains(&s.code)))
                .map(|s| {
                    let t = last.get(s.code.as_str());
                    SchoolSync {
                        school_code: s.code.to_string(),
                        name: s.name.clone(),
                        last_sync: t.copied(),
                        synced_last_day: t.is_some_and(|t| now - *t < chrono::TimeDelta::hours(24)),
                        stale: t.is_none_or(|t| now - *t >= chrono::TimeDelta::days(days)),
                    }
                })
                .collect(),
        })
    }
}
