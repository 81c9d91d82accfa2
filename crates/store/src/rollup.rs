//! Rollups: live-record counts by school, kind and week, by person, by subject, by
//! subject and week, and between an owner school and each partner school it names,
//! changed in the same transaction that applies a batch (a new version adds its
//! contribution and takes away its predecessor's), so statistics and reports read
//! a few thousand rollup rows instead of scanning every record.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeDelta};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use yanpei_domain::{Activity, ActivityKind};

use crate::StoreError;
use crate::sql::{HubStore, sql};

/// (start_year, term, school, kind, Monday of the ISO week).
pub type WeekKey = (i32, i32, String, String, NaiveDate);
/// (start_year, term, school, 执行人, kind).
pub type PersonKey = (i32, i32, String, String, String);
/// (start_year, term, school, subject or "", kind).
pub type SubjectKey = (i32, i32, String, String, String);
/// (start_year, term, owner school, partner school, kind, Monday of the ISO week).
pub type PairKey = (i32, i32, String, String, String, NaiveDate);
/// (start_year, term, school, subject or "", kind, Monday of the ISO week).
pub type SubjectWeekKey = (i32, i32, String, String, String, NaiveDate);

/// Counts per week: live records, 蹲点 days, complete (五定四有) group meetings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeekCounts {
    /// Live records.
    pub n: i64,
    /// Sum of 蹲点 days.
    pub days: i64,
    /// Group meetings with all nine items of 五定四有.
    pub complete: i64,
}

/// Counts per person: live records and 蹲点 days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PersonCounts {
    /// Live records.
    pub n: i64,
    /// Sum of 蹲点 days.
    pub days: i64,
}

/// Counts per subject and week: live records, complete (五定四有) group meetings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjectWeekCounts {
    /// Live records.
    pub n: i64,
    /// Group meetings with all nine items of 五定四有.
    pub complete: i64,
}

/// Every rollup, or the changes to them one batch makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollups {
    /// By school, kind and week.
    pub week: BTreeMap<WeekKey, WeekCounts>,
    /// By person, school and kind.
    pub person: BTreeMap<PersonKey, PersonCounts>,
    /// By school, subject and kind.
    pub subject: BTreeMap<SubjectKey, i64>,
    /// By owner school, partner school, kind and week: live shared records, counted
    /// once per partner school the version names.
    pub pair: BTreeMap<PairKey, i64>,
    /// By school, subject, kind and week.
    pub subject_week: BTreeMap<SubjectWeekKey, SubjectWeekCounts>,
}

/// The Monday of the ISO week `d` falls in.
pub fn week_of(d: NaiveDate) -> NaiveDate {
    d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday()))
}

impl Rollups {
    /// The rollups of `records` computed from scratch (tombstones count nothing).
    pub fn recompute<'a>(records: impl IntoIterator<Item = &'a Activity>) -> Rollups {
        let mut r = Rollups::default();
        for a in records {
            r.add(a, 1);
        }
        r.without_zeros()
    }

    /// Adds (`sign` = 1) or takes away (`sign` = -1) one version's contribution.
    pub fn add(&mut self, a: &Activity, sign: i64) {
        if a.deleted {
            return;
        }
        let (y, t) = (i32::from(a.semester.start_year), i32::from(a.semester.term.number()));
        let school = a.school.to_string();
        let kind = a.kind.code().to_owned();
        let days =
            if a.kind == ActivityKind::OnsiteDays { i64::from(a.body.details.days.unwrap_or(0)) } else { 0 };
        let week = week_of(a.date);
        let complete = sign * i64::from(a.is_complete_meeting());
        let subject = a.body.subject.clone().unwrap_or_default();
        let w = self.week.entry((y, t, school.clone(), kind.clone(), week)).or_default();
        w.n += sign;
        w.days += sign * days;
        w.complete += complete;
        let p = self.person.entry((y, t, school.clone(), a.body.actor.clone(), kind.clone())).or_default();
        p.n += sign;
        p.days += sign * days;
        *self.subject.entry((y, t, school.clone(), subject.clone(), kind.clone())).or_default() += sign;
        let sw = self.subject_week.entry((y, t, school.clone(), subject, kind.clone(), week)).or_default();
        sw.n += sign;
        sw.complete += complete;
        // Validation keeps partner schools distinct and apart from the owner.
        for partner in &a.body.details.partner_schools {
            *self.pair.entry((y, t, school.clone(), partner.to_string(), kind.clone(), week)).or_default() +=
                sign;
        }
    }

    /// Drops entries that sum to nothing (a delta that cancelled out, an emptied row).
    pub fn without_zeros(mut self) -> Rollups {
        self.week.retain(|_, c| *c != WeekCounts::default());
        self.person.retain(|_, c| *c != PersonCounts::default());
        self.subject.retain(|_, n| *n != 0);
        self.pair.retain(|_, n| *n != 0);
        self.subject_week.retain(|_, c| *c != SubjectWeekCounts::default());
        self
    }

    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.week.is_empty()
            && self.person.is_empty()
            && self.subject.is_empty()
            && self.pair.is_empty()
            && self.subject_week.is_empty()
    }
}

const ROWS_PER_STATEMENT: usize = 100;

/// Every rollup table, as `rebuild_rollups` empties them.
const ROLLUP_TABLES: [&str; 5] =
    ["rollup_week", "rollup_person", "rollup_subject", "rollup_pair", "rollup_subject_week"];

/// Adds `delta` to the stored rollups with multi-row `INSERT .. ON CONFLICT DO UPDATE`
/// (both engines), inside the caller's transaction.
pub(crate) async fn apply_delta(txn: &impl ConnectionTrait, delta: Rollups) -> Result<(), StoreError> {
    let delta = delta.without_zeros();
    let backend = txn.get_database_backend();
    let week: Vec<Vec<Value>> = delta
        .week
        .into_iter()
        .map(|((y, t, s, k, w), c)| {
            vec![
                y.into(),
                t.into(),
                s.into(),
                k.into(),
                w.into(),
                c.n.into(),
                c.days.into(),
                c.complete.into(),
            ]
        })
        .collect();
    upsert(
        txn,
        backend,
        "rollup_week",
        "start_year, term, school_code, kind, week, n, days, complete",
        "start_year, term, school_code, kind, week",
        "n = rollup_week.n + excluded.n, days = rollup_week.days + excluded.days, \
         complete = rollup_week.complete + excluded.complete",
        week,
    )
    .await?;
    let person: Vec<Vec<Value>> = delta
        .person
        .into_iter()
        .map(|((y, t, s, a, k), c)| {
            vec![y.into(), t.into(), s.into(), a.into(), k.into(), c.n.into(), c.days.into()]
        })
        .collect();
    upsert(
        txn,
        backend,
        "rollup_person",
        "start_year, term, school_code, actor, kind, n, days",
        "start_year, term, actor, school_code, kind",
        "n = rollup_person.n + excluded.n, days = rollup_person.days + excluded.days",
        person,
    )
    .await?;
    let subject: Vec<Vec<Value>> = delta
        .subject
        .into_iter()
        .map(|((y, t, s, sub, k), n)| vec![y.into(), t.into(), s.into(), sub.into(), k.into(), n.into()])
        .collect();
    upsert(
        txn,
        backend,
        "rollup_subject",
        "start_year, term, school_code, subject, kind, n",
        "start_year, term, school_code, subject, kind",
        "n = rollup_subject.n + excluded.n",
        subject,
    )
    .await?;
    let pair: Vec<Vec<Value>> = delta
        .pair
        .into_iter()
        .map(|((y, t, s, p, k, w), n)| {
            vec![y.into(), t.into(), s.into(), p.into(), k.into(), w.into(), n.into()]
        })
        .collect();
    upsert(
        txn,
        backend,
        "rollup_pair",
        "start_year, term, school_code, partner_code, kind, week, n",
        "start_year, term, school_code, partner_code, kind, week",
        "n = rollup_pair.n + excluded.n",
        pair,
    )
    .await?;
    let subject_week: Vec<Vec<Value>> = delta
        .subject_week
        .into_iter()
        .map(|((y, t, s, sub, k, w), c)| {
            vec![y.into(), t.into(), s.into(), sub.into(), k.into(), w.into(), c.n.into(), c.complete.into()]
        })
        .collect();
    upsert(
        txn,
        backend,
        "rollup_subject_week",
        "start_year, term, school_code, subject, kind, week, n, complete",
        "start_year, term, school_code, subject, kind, week",
        "n = rollup_subject_week.n + excluded.n, complete = rollup_subject_week.complete + excluded.complete",
        subject_week,
    )
    .await
}

async fn upsert(
    txn: &impl ConnectionTrait,
    backend: DbBackend,
    table: &str,
    columns: &str,
    key: &str,
    update: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let Some(width) = chunk.first().map(Vec::len) else { continue };
        let one = format!("({})", vec!["?"; width].join(", "));
        let text = format!(
            "INSERT INTO {table} ({columns}) VALUES {} ON CONFLICT ({key}) DO UPDATE SET {update}",
            vec![one; chunk.len()].join(", ")
        );
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        txn.execute_raw(Statement::from_sql_and_values(backend, sql(backend, &text), values)).await?;
    }
    Ok(())
}

impl HubStore {
    /// Every rollup as stored (entries that sum to nothing left out).
    pub async fn rollups(&self) -> Result<Rollups, StoreError> {
        read_rollups(&self.conn()).await
    }

    /// Rebuilds every rollup from the raw records, in one transaction: after an upgrade
    /// from a version without rollups, or as a repair. It first takes the counter row
    /// lock, as a batch does, so no batch changes records or rollups meanwhile.
    pub async fn rebuild_rollups(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        crate::sql::bump_counter(&txn, 0).await?;
        rebuild_rollups_in(&txn).await?;
        txn.commit().await
    }
}

/// Empties every rollup and fills it again from the raw records, inside `txn` (which
/// holds the counter row lock).
pub(crate) async fn rebuild_rollups_in(txn: &impl ConnectionTrait) -> Result<(), StoreError> {
    for table in ROLLUP_TABLES {
        txn.execute_unprepared(&format!("DELETE FROM {table}")).await?;
    }
    let mut all = Rollups::default();
    let mut after: Option<uuid::Uuid> = None;
    loop {
        let page = crate::sql::page_by_id(txn, after, 5000).await?;
        let Some(last) = page.last().map(|a| a.id) else { break };
        for a in &page {
            all.add(a, 1);
        }
        after = Some(last);
    }
    apply_delta(txn, all).await
}

async fn read_rollups(db: &impl ConnectionTrait) -> Result<Rollups, StoreError> {
    let backend = db.get_database_backend();
    let q = |text: &str| Statement::from_string(backend, text.to_owned());
    let mut out = Rollups::default();
    for row in db
        .query_all_raw(q(
            "SELECT start_year, term, school_code, kind, week, n, days, complete FROM rollup_week",
        ))
        .await?
    {
        out.week.insert(
            (
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
                row.try_get_by_index(4)?,
            ),
            WeekCounts {
                n: row.try_get_by_index(5)?,
                days: row.try_get_by_index(6)?,
                complete: row.try_get_by_index(7)?,
            },
        );
    }
    for row in db
        .query_all_raw(q("SELECT start_year, term, school_code, actor, kind, n, days FROM rollup_person"))
        .await?
    {
        out.person.insert(
            (
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
                row.try_get_by_index(4)?,
            ),
            PersonCounts { n: row.try_get_by_index(5)?, days: row.try_get_by_index(6)? },
        );
    }
    for row in db
        .query_all_raw(q("SELECT start_year, term, school_code, subject, kind, n FROM rollup_subject"))
        .await?
    {
        out.subject.insert(
            (
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
                row.try_get_by_index(4)?,
            ),
            row.try_get_by_index(5)?,
        );
    }
    for row in db
        .query_all_raw(q(
            "SELECT start_year, term, school_code, partner_code, kind, week, n FROM rollup_pair",
        ))
        .await?
    {
        out.pair.insert(
            (
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
                row.try_get_by_index(4)?,
                row.try_get_by_index(5)?,
            ),
            row.try_get_by_index(6)?,
        );
    }
    for row in db
        .query_all_raw(q(
            "SELECT start_year, term, school_code, subject, kind, week, n, complete FROM rollup_subject_week",
        ))
        .await?
    {
        out.subject_week.insert(
            (
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
                row.try_get_by_index(4)?,
                row.try_get_by_index(5)?,
            ),
            SubjectWeekCounts { n: row.try_get_by_index(6)?, complete: row.try_get_by_index(7)? },
        );
    }
    Ok(out.without_zeros())
}

/// One person rollup row of a semester, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    /// The school whose records they are.
    pub school: String,
    /// The 执行人.
    pub actor: String,
    /// The kind's code.
    pub kind: String,
    /// Live records.
    pub n: i64,
    /// 蹲点 days.
    pub days: i64,
}

impl HubStore {
    /// Semesters with at least one live record, newest first (from the week rollup).
    pub async fn semesters_with_records(&self) -> Result<Vec<yanpei_domain::Semester>, StoreError> {
        let backend = self.conn().get_database_backend();
        let rows = self
            .conn()
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT DISTINCT start_year, term FROM rollup_week WHERE n <> 0".to_owned(),
            ))
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let (year, term): (i32, i32) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
            let semester = u16::try_from(year)
                .ok()
                .zip(u32::try_from(term).ok().and_then(yanpei_domain::Term::from_number))
                .and_then(|(y, t)| yanpei_domain::Semester::new(y, t))
                .ok_or_else(|| StoreError::Corrupt(format!("rollup_week holds semester {year}-{term}")))?;
            out.push(semester);
        }
        out.sort_by(|a, b| b.cmp(a));
        Ok(out)
    }
}

impl HubStore {
    /// The semester's person rollups (rows that sum to nothing left out).
    pub async fn person_rollups(
        &self,
        semester: yanpei_domain::Semester,
    ) -> Result<Vec<PersonRow>, StoreError> {
        let backend = self.conn().get_database_backend();
        let rows = self
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "SELECT school_code, actor, kind, n, days FROM rollup_person \
                     WHERE start_year = ? AND term = ? AND (n <> 0 OR days <> 0)",
                ),
                [i32::from(semester.start_year).into(), i32::from(semester.term.number()).into()],
            ))
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(PersonRow {
                    school: r.try_get_by_index(0)?,
                    actor: r.try_get_by_index(1)?,
                    kind: r.try_get_by_index(2)?,
                    n: r.try_get_by_index(3)?,
                    days: r.try_get_by_index(4)?,
                })
            })
            .collect()
    }

    /// When each school last finished a sync session.
    pub async fn last_sync_by_school(
        &self,
    ) -> Result<BTreeMap<String, chrono::DateTime<chrono::Utc>>, StoreError> {
        use crate::entity::hub_sync_session;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        let rows: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = hub_sync_session::Entity::find()
            .select_only()
            .column(hub_sync_session::Column::SchoolCode)
            .column_as(hub_sync_session::Column::FinishedAt.max(), "last")
            .filter(hub_sync_session::Column::FinishedAt.is_not_null())
            .group_by(hub_sync_session::Column::SchoolCode)
            .into_tuple()
            .all(&self.conn())
            .await?;
        Ok(rows.into_iter().filter_map(|(s, t)| t.map(|t| (s, t))).collect())
    }
}

impl HubStore {
    /// The semester's subject rollups: live records by (school, subject), any kind.
    pub async fn subject_totals(
        &self,
        semester: yanpei_domain::Semester,
    ) -> Result<BTreeMap<(String, String), i64>, StoreError> {
        let backend = self.conn().get_database_backend();
        let rows = self
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "SELECT school_code, subject, CAST(SUM(n) AS BIGINT) FROM rollup_subject \
                     WHERE start_year = ? AND term = ? GROUP BY school_code, subject",
                ),
                [i32::from(semester.start_year).into(), i32::from(semester.term.number()).into()],
            ))
            .await?;
        rows.into_iter()
            .map(|r| Ok(((r.try_get_by_index(0)?, r.try_get_by_index(1)?), r.try_get_by_index(2)?)))
            .collect()
    }
}
