//! The two answers measured, each from the rollups or from the raw `activity` table,
//! and the check that both sources agree before anything is timed.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use yanpei_domain::roster::Roster;
use yanpei_domain::{ActivityKind, Semester};
use yanpei_report::{Compliance, CountsFor, QuotaPolicy, RollupRow, compliance};
use yanpei_store::hub::{HubStore, StatsFilter};

use super::{db_err, placeholder};
use crate::BenchError;

/// Where an answer is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The rollup tables (what the hub answers from).
    Rollups,
    /// The raw `activity` table (a `GROUP BY` over every row).
    Raw,
}

/// The county overview as the hub's Stats RPC answers it grouped by alliance: live
/// records and complete meetings by alliance and kind, and the county total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// (alliance code, alliance name, kind) -> (records, complete meetings).
    pub rows: BTreeMap<(String, String, ActivityKind), (u64, u64)>,
    /// Live records in all.
    pub total: u64,
}

/// The county overview of `semester`, the way the hub computes it (schools and
/// alliances read, counts by school and kind, grouped by alliance), from `source`.
pub async fn county_overview(
    store: &HubStore,
    semester: Semester,
    source: Source,
) -> Result<Overview, BenchError> {
    let schools = store.schools().await?;
    let alliances = store.alliances().await?;
    let counts: Vec<(String, ActivityKind, u64, u64)> = match source {
        Source::Rollups => {
            let filter = StatsFilter { semester: Some(semester), schools: None, ..Default::default() };
            let complete = store.complete_meetings(&filter).await?;
            store
                .stats(&filter)
                .await?
                .into_iter()
                .map(|c| {
                    let m = if c.kind == ActivityKind::GroupMeeting {
                        complete.get(c.school.as_str()).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    (c.school, c.kind, c.count, m)
                })
                .collect()
        }
        Source::Raw => raw_counts(store, semester).await?,
    };
    let alliance_of: BTreeMap<&str, &str> =
        schools.iter().map(|s| (s.code.as_str(), s.alliance.as_str())).collect();
    let alliance_name: BTreeMap<&str, &str> =
        alliances.iter().map(|a| (a.code.as_str(), a.name.as_str())).collect();
    let mut rows: BTreeMap<(String, String, ActivityKind), (u64, u64)> = BTreeMap::new();
    let mut total = 0;
    for (school, kind, n, complete) in counts {
        let code = alliance_of.get(school.as_str()).copied().unwrap_or("");
        let name = alliance_name.get(code).copied().unwrap_or("");
        let e = rows.entry((code.to_owned(), name.to_owned(), kind)).or_default();
        e.0 += n;
        e.1 += complete;
        total += n;
    }
    Ok(Overview { rows, total })
}

/// The keys of `Details` whose presence makes a 教研组活动 complete (with a topic):
/// `Details` leaves out empty fields, so a key is there exactly when the item is.
const MEETING_KEYS: [&str; 8] =
    ["participants", "content", "start_time", "form", "record", "summary", "evaluation", "next_plan"];

/// Live records and complete meetings by school and kind, from the raw table.
async fn raw_counts(
    store: &HubStore,
    semester: Semester,
) -> Result<Vec<(String, ActivityKind, u64, u64)>, BenchError> {
    let db = store.connection();
    let backend = db.get_database_backend();
    let complete = match backend {
        DbBackend::Postgres => format!(
            "jsonb_exists_all(details::jsonb, ARRAY[{}])",
            MEETING_KEYS.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
        ),
        _ => MEETING_KEYS
            .iter()
            .map(|k| format!("json_type(details, '$.{k}') IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND "),
    };
    let text = format!(
        "SELECT school_code, kind, COUNT(*), \
         SUM(CASE WHEN kind = {p1} AND topic IS NOT NULL AND {complete} THEN 1 ELSE 0 END) \
         FROM activity WHERE start_year = {p2} AND term = {p3} AND deleted = {p4} \
         GROUP BY school_code, kind",
        p1 = placeholder(backend, 1),
        p2 = placeholder(backend, 2),
        p3 = placeholder(backend, 3),
        p4 = placeholder(backend, 4),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            text,
            [
                ActivityKind::GroupMeeting.code().into(),
                i32::from(semester.start_year).into(),
                i32::from(semester.term.number()).into(),
                false.into(),
            ],
        ))
        .await
        .map_err(db_err)?;
    rows.into_iter()
        .map(|r| {
            let (school, kind): (String, String) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
            let (n, complete): (i64, i64) = (r.try_get_by_index(2)?, r.try_get_by_index(3)?);
            let kind = kind.parse().map_err(|e| yanpei_store::StoreError::Corrupt(format!("{e}")))?;
            Ok((school, kind, u64::try_from(n).unwrap_or(0), u64::try_from(complete).unwrap_or(0)))
        })
        .collect::<Result<_, yanpei_store::StoreError>>()
        .map_err(BenchError::from)
}

/// The semester's per-person counts (records and 蹲点 days by school, 执行人 and kind),
/// from the raw table: what `rollup_person` holds, recomputed.
async fn raw_person_rows(store: &HubStore, semester: Semester) -> Result<Vec<RollupRow>, BenchError> {
    let db = store.connection();
    let backend = db.get_database_backend();
    let days = match backend {
        DbBackend::Postgres => "(details::jsonb ->> 'days')::bigint",
        _ => "json_extract(details, '$.days')",
    };
    let text = format!(
        "SELECT school_code, actor, kind, COUNT(*), \
         CAST(COALESCE(SUM(CASE WHEN kind = {p1} THEN {days} END), 0) AS BIGINT) \
         FROM activity WHERE start_year = {p2} AND term = {p3} AND deleted = {p4} \
         GROUP BY school_code, actor, kind",
        p1 = placeholder(backend, 1),
        p2 = placeholder(backend, 2),
        p3 = placeholder(backend, 3),
        p4 = placeholder(backend, 4),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            text,
            [
                ActivityKind::OnsiteDays.code().into(),
                i32::from(semester.start_year).into(),
                i32::from(semester.term.number()).into(),
                false.into(),
            ],
        ))
        .await
        .map_err(db_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get_by_index(2).map_err(yanpei_store::StoreError::from)?;
        let Ok(kind) = kind.parse::<ActivityKind>() else { continue };
        out.push(RollupRow {
            named_as: CountsFor::Actor,
            school: r.try_get_by_index(0).map_err(yanpei_store::StoreError::from)?,
            actor: r.try_get_by_index(1).map_err(yanpei_store::StoreError::from)?,
            kind,
            n: r.try_get_by_index(3).map_err(yanpei_store::StoreError::from)?,
            days: r.try_get_by_index(4).map_err(yanpei_store::StoreError::from)?,
        });
    }
    Ok(out)
}

async fn person_rows(
    store: &HubStore,
    semester: Semester,
    source: Source,
) -> Result<Vec<RollupRow>, BenchError> {
    match source {
        Source::Raw => raw_person_rows(store, semester).await,
        Source::Rollups => Ok(store
            .person_rollups(semester)
            .await?
            .into_iter()
            .filter_map(|p| {
                Some(RollupRow {
                    named_as: CountsFor::Actor,
                    kind: p.kind.parse::<ActivityKind>().ok()?,
                    school: p.school,
                    actor: p.actor,
                    n: p.n,
                    days: p.days,
                })
            })
            .collect()),
    }
}

/// The county's quota-compliance report the way the hub computes it for the operator
/// (the current roster read, the semester's person counts, the report computed), from `source`.
pub async fn compliance_report(
    store: &HubStore,
    policy: &QuotaPolicy,
    semester: Semester,
    as_of: NaiveDate,
    source: Source,
) -> Result<Compliance, BenchError> {
    let t = Instant::now();
    let (_, roster) =
        store.current_roster().await?.ok_or_else(|| BenchError::Check("the hub has no roster".into()))?;
    let t1 = t.elapsed();
    let rows = person_rows(store, semester, source).await?;
    let t2 = t.elapsed();
    let c = compliance(&roster, policy, semester, as_of, &rows, None, yanpei_report::StaffRows::All);
    tracing::debug!(?t1, ?t2, t3 = ?t.elapsed(), "compliance phases");
    Ok(c)
}

/// Every rollup answer equals its raw answer, and the county total is the live records written.
pub async fn check(
    store: &HubStore,
    roster: &Roster,
    policy: &QuotaPolicy,
    semester: Semester,
    as_of: NaiveDate,
    live: u64,
) -> Result<(), BenchError> {
    let filter = StatsFilter { semester: Some(semester), schools: None, ..Default::default() };
    let key = |v: Vec<yanpei_store::hub::SchoolKindCount>| -> BTreeMap<(String, ActivityKind), u64> {
        v.into_iter().filter(|c| c.count > 0).map(|c| ((c.school, c.kind), c.count)).collect()
    };
    let (stats, stats_raw) = (key(store.stats(&filter).await?), key(store.stats_raw(&filter).await?));
    if stats != stats_raw {
        return Err(BenchError::Check(format!(
            "stats from the rollups ({} groups) differ from stats_raw ({} groups)",
            stats.len(),
            stats_raw.len()
        )));
    }
    let fast = county_overview(store, semester, Source::Rollups).await?;
    let slow = county_overview(store, semester, Source::Raw).await?;
    if fast != slow {
        return Err(BenchError::Check(format!(
            "the county overview from the rollups ({} records) differs from the raw one ({} records)",
            fast.total, slow.total
        )));
    }
    if fast.total != live {
        return Err(BenchError::Check(format!(
            "the county overview counts {} records, but {live} live ones were written",
            fast.total
        )));
    }
    if !fast.rows.values().any(|(_, complete)| *complete > 0) {
        return Err(BenchError::Check(
            "no complete 教研组活动 counted: the check would miss a wrong count".into(),
        ));
    }
    let sum = |rows: Vec<RollupRow>| -> BTreeMap<(String, String, ActivityKind), (i64, i64)> {
        let mut m: BTreeMap<_, (i64, i64)> = BTreeMap::new();
        for r in rows {
            let e = m.entry((r.school, r.actor, r.kind)).or_default();
            e.0 += r.n;
            e.1 += r.days;
        }
        m.retain(|_, v| *v != (0, 0));
        m
    };
    let people = sum(person_rows(store, semester, Source::Rollups).await?);
    let people_raw = sum(person_rows(store, semester, Source::Raw).await?);
    if people != people_raw {
        return Err(BenchError::Check(format!(
            "person rollups ({} rows) differ from the raw per-person counts ({} rows)",
            people.len(),
            people_raw.len()
        )));
    }
    if !people.values().any(|(_, days)| *days > 0) {
        return Err(BenchError::Check("no 蹲点 days counted: the check would miss a wrong sum".into()));
    }
    let report = compliance_report(store, policy, semester, as_of, Source::Rollups).await?;
    let report_raw = compliance_report(store, policy, semester, as_of, Source::Raw).await?;
    if report != report_raw {
        return Err(BenchError::Check(
            "the compliance report from the rollups differs from the raw one".into(),
        ));
    }
    if report.rows.len() < roster.teachers.len() || !report.rows.iter().any(|r| r.actual > 0) {
        return Err(BenchError::Check(format!(
            "the compliance report has {} rows for {} teachers, none with progress",
            report.rows.len(),
            roster.teachers.len()
        )));
    }
    Ok(())
}
