//! The report benchmark of issue 5 (point 4): a hub filled with millions of records,
//! the county overview and the quota-compliance report answered from the rollups and
//! the same answers computed from the raw `activity` table, side by side in one run.
//!
//! The hub database is made by the hub's own migrations and holds the demo roster;
//! the records are the demo county's generator's (`semester_of_activity`, every school
//! of the roster, successive seeds), a third of the 教研组活动 made complete (五定四有),
//! one in 89 edited (version 2) and one in 97 deleted (a version-2 tombstone). They
//! are written by each engine's bulk path with the hub's own row conversion
//! (`activity_row`), the rollups are then rebuilt by `HubStore::rebuild_rollups`, and
//! before anything is timed every rollup answer is checked equal to its raw answer
//! and the county total to the live records written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Value;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, Iterable, Statement};
use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;
use yanpei_domain::roster::Roster;
use yanpei_domain::{Activity, ActivityKind, Semester};
use yanpei_report::{Compliance, CountsFor, QuotaPolicy, RollupRow, compliance};
use yanpei_store::entity::hub_activity;
use yanpei_store::hub::{HubStore, StatsFilter, activity_row};
use yanpei_store::sqlite_url;

use crate::direct::{copy_field, sqlite_value};
use crate::world::{drop_postgres, fresh_postgres};
use crate::{BenchError, Machine};

/// What to run.
#[derive(Debug, Clone)]
pub struct ReportsOptions {
    /// Records to fill each hub with.
    pub records: u64,
    /// Measure SQLite.
    pub sqlite: bool,
    /// Measure PostgreSQL on a fresh database of this server (an admin URL).
    pub postgres: Option<String>,
    /// Where the SQLite file goes.
    pub dir: PathBuf,
    /// Timed runs of each rollup answer (after two warm-up runs).
    pub runs: usize,
    /// Timed runs of each raw answer at most (after one warm-up run).
    pub raw_runs: usize,
    /// Fewer raw runs (but at least 3) when they would take longer than this.
    pub raw_budget: Duration,
    /// Keep the filled databases (default: deleted at the end).
    pub keep: bool,
    /// The command line, for the report.
    pub command: String,
}

/// Median, p90 and extremes of some timed runs.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Timed runs.
    pub runs: usize,
    /// Median, milliseconds.
    pub median_ms: f64,
    /// 90th percentile (nearest rank), milliseconds.
    pub p90_ms: f64,
    /// Fastest, milliseconds.
    pub min_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
}

impl Timing {
    fn of(mut ds: Vec<Duration>) -> Timing {
        ds.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let n = ds.len();
        if n == 0 {
            return Timing { runs: 0, median_ms: 0.0, p90_ms: 0.0, min_ms: 0.0, max_ms: 0.0 };
        }
        let p90 = (n * 9).div_ceil(10).clamp(1, n) - 1;
        Timing {
            runs: n,
            median_ms: ms(ds[n / 2]),
            p90_ms: ms(ds[p90]),
            min_ms: ms(ds[0]),
            max_ms: ms(ds[n - 1]),
        }
    }
}

/// One answer from the rollups against the same answer from the raw table.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// From the rollups.
    pub rollup: Timing,
    /// From the raw table.
    pub raw: Timing,
    /// Raw median / rollup median.
    pub ratio: f64,
    /// Rows in the answer (groups of the overview; person-quota rows of the report).
    pub answer_rows: usize,
}

impl Pair {
    /// Both aims of issue 5: under 50 ms at the median and at least 100 times faster.
    pub fn met(&self) -> bool {
        self.rollup.median_ms < 50.0 && self.ratio >= 100.0
    }
}

/// The figures of one engine.
#[derive(Debug, Clone, Serialize)]
pub struct BackendFigures {
    /// SQLite or PostgreSQL.
    pub backend: String,
    /// Rows written (tombstones included).
    pub records: u64,
    /// Live records (the county total both answers must show).
    pub live: u64,
    /// Generating and writing the rows, seconds.
    pub fill_secs: f64,
    /// `rebuild_rollups`, seconds.
    pub rollup_secs: f64,
    /// Database size after the fill, bytes.
    pub db_bytes: u64,
    /// The county overview (by alliance and kind, with complete meetings).
    pub overview: Pair,
    /// The quota-compliance report of the whole county.
    pub compliance: Pair,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct ReportsReport {
    /// When it started (UTC, RFC 3339).
    pub date: String,
    /// The command line.
    pub command: String,
    /// The machine (its load average at the end).
    pub machine: Machine,
    /// Load average when it started.
    pub load_avg_start: String,
    /// Records per hub.
    pub records: u64,
    /// The roster's size, for the report.
    pub roster: String,
    /// Each engine measured.
    pub backends: Vec<BackendFigures>,
    /// Wall time of the whole run, seconds.
    pub elapsed_secs: f64,
}

/// Runs the benchmark on every engine asked for.
pub async fn run_reports(opts: &ReportsOptions) -> Result<ReportsReport, BenchError> {
    let started = Instant::now();
    let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let load_avg_start = crate::machine::load_avg();
    let roster = yanpei_demo::demo_roster()
        .map_err(|e| BenchError::Check(format!("the demo roster does not load: {e:?}")))?;
    let policy = QuotaPolicy::default_policy();
    std::fs::create_dir_all(&opts.dir).map_err(BenchError::io(format!("create {}", opts.dir.display())))?;
    let mut backends = Vec::new();
    if opts.sqlite {
        let path = opts.dir.join("reports.sqlite");
        for f in sqlite_files(&path) {
            let _ = std::fs::remove_file(f);
        }
        let url = sqlite_url(&path);
        let result = measure(opts, &roster, &policy, &url, Engine::Sqlite(&path)).await;
        if !opts.keep {
            for f in sqlite_files(&path) {
                let _ = std::fs::remove_file(f);
            }
        }
        backends.push(result?);
    }
    if let Some(admin) = &opts.postgres {
        let url = fresh_postgres(admin, "reports").await?;
        let result = measure(opts, &roster, &policy, &url, Engine::Postgres).await;
        if !opts.keep {
            drop_postgres(admin, &url).await;
        }
        backends.push(result?);
    }
    Ok(ReportsReport {
        date,
        command: opts.command.clone(),
        machine: Machine::detect(),
        load_avg_start,
        records: opts.records,
        roster: format!(
            "{} 所学校、{} 个联合体、{} 名研培人员、{} 名教师",
            roster.schools.len(),
            roster.alliances.len(),
            roster.staff.len(),
            roster.teachers.len()
        ),
        backends,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

fn sqlite_files(path: &Path) -> Vec<PathBuf> {
    let s = path.display().to_string();
    vec![path.to_owned(), PathBuf::from(format!("{s}-wal")), PathBuf::from(format!("{s}-shm"))]
}

#[derive(Clone, Copy)]
enum Engine<'a> {
    Sqlite(&'a Path),
    Postgres,
}

/// The semester the demo records and the day the compliance report is measured at
/// (fixed, so every run answers the same question).
fn semester_and_day(roster: &Roster) -> (Semester, NaiveDate) {
    let semester = yanpei_demo::DEMO_SEMESTER;
    let (start, end) = roster
        .semesters
        .iter()
        .find(|s| s.semester == semester)
        .map(|s| (s.start, s.end))
        .unwrap_or_else(|| semester.dates());
    (semester, start + (end - start) / 2)
}

async fn measure(
    opts: &ReportsOptions,
    roster: &Roster,
    policy: &QuotaPolicy,
    url: &str,
    engine: Engine<'_>,
) -> Result<BackendFigures, BenchError> {
    let backend = match engine {
        Engine::Sqlite(_) => "SQLite",
        Engine::Postgres => "PostgreSQL",
    };
    let store = HubStore::open(url).await?;
    store.replace_roster(roster, "bench").await?;

    tracing::info!(backend, records = opts.records, "filling the hub");
    let t = Instant::now();
    let live = match engine {
        Engine::Sqlite(path) => fill_sqlite(path, roster, opts.records).await?,
        Engine::Postgres => fill_postgres(&store, roster, opts.records).await?,
    };
    set_counter(&store, opts.records).await?;
    let fill_secs = t.elapsed().as_secs_f64();
    if matches!(engine, Engine::Postgres) {
        // What autovacuum does after a bulk load anyway; without it the planner guesses.
        store.connection().execute_unprepared("VACUUM ANALYZE activity").await.map_err(db_err)?;
    }
    tracing::info!(backend, fill_secs, live, "filled; rebuilding the rollups");
    let t = Instant::now();
    store.rebuild_rollups().await?;
    let rollup_secs = t.elapsed().as_secs_f64();
    let db_bytes = match engine {
        Engine::Sqlite(path) => {
            sqlite_files(path).iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum()
        }
        Engine::Postgres => {
            let row = store
                .connection()
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_database_size(current_database())",
                ))
                .await
                .map_err(db_err)?
                .ok_or_else(|| BenchError::Check("pg_database_size answered nothing".into()))?;
            let n: i64 = row.try_get_by_index(0).map_err(yanpei_store::StoreError::from)?;
            u64::try_from(n).unwrap_or(0)
        }
    };
    tracing::info!(backend, rollup_secs, db_bytes, "checking rollup answers against raw answers");

    let (semester, as_of) = semester_and_day(roster);
    check(&store, roster, policy, semester, as_of, live).await?;

    tracing::info!(backend, "timing the county overview");
    let overview = time_pair(
        opts,
        || async { Ok(county_overview(&store, semester, Source::Rollups).await?.rows.len()) },
        || async { Ok(county_overview(&store, semester, Source::Raw).await?.rows.len()) },
    )
    .await?;
    tracing::info!(backend, "timing the compliance report");
    let compliance = time_pair(
        opts,
        || async {
            Ok(compliance_report(&store, policy, semester, as_of, Source::Rollups).await?.rows.len())
        },
        || async { Ok(compliance_report(&store, policy, semester, as_of, Source::Raw).await?.rows.len()) },
    )
    .await?;
    store.connection().clone().close().await.map_err(yanpei_store::StoreError::from)?;
    Ok(BackendFigures {
        backend: backend.to_owned(),
        records: opts.records,
        live,
        fill_secs,
        rollup_secs,
        db_bytes,
        overview,
        compliance,
    })
}

/// Two warm-up runs of the rollup answer and `runs` timed ones; one warm-up run of
/// the raw answer (which also says how long one takes) and as many timed ones as fit
/// the budget, at least 3 and at most `raw_runs`.
async fn time_pair<F, G, FF, GF>(opts: &ReportsOptions, rollup: F, raw: G) -> Result<Pair, BenchError>
where
    F: Fn() -> FF,
    G: Fn() -> GF,
    FF: std::future::Future<Output = Result<usize, BenchError>>,
    GF: std::future::Future<Output = Result<usize, BenchError>>,
{
    let mut answer_rows = 0;
    for _ in 0..2 {
        answer_rows = rollup().await?;
    }
    let mut fast = Vec::with_capacity(opts.runs);
    for _ in 0..opts.runs.max(1) {
        let t = Instant::now();
        rollup().await?;
        fast.push(t.elapsed());
    }
    let t = Instant::now();
    raw().await?;
    let one = t.elapsed();
    let fit = (opts.raw_budget.as_secs_f64() / one.as_secs_f64().max(1e-6)) as usize;
    let n = opts.raw_runs.min(fit.max(3)).max(1);
    let mut slow = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        raw().await?;
        slow.push(t.elapsed());
    }
    let (rollup, raw) = (Timing::of(fast), Timing::of(slow));
    let ratio = if rollup.median_ms > 0.0 { raw.median_ms / rollup.median_ms } else { f64::INFINITY };
    Ok(Pair { rollup, raw, ratio, answer_rows })
}

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

fn db_err(e: sea_orm::DbErr) -> BenchError {
    BenchError::Store(yanpei_store::StoreError::from(e))
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() }
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

/// Records per bulk write (and per generated chunk).
const CHUNK: usize = 100_000;

/// Generates the records, in chunks, on a thread of its own; the receiver writes them.
/// Returns the channel and a handle answering how many of them are live.
fn generate(roster: &Roster, n: u64) -> (mpsc::Receiver<Vec<Activity>>, tokio::task::JoinHandle<u64>) {
    let (tx, rx) = mpsc::channel::<Vec<Activity>>(2);
    let roster = roster.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let schools = roster.schools.clone();
        let mut made: u64 = 0;
        let mut live: u64 = 0;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut round: u64 = 0;
        'outer: loop {
            for (i, school) in schools.iter().enumerate() {
                let seed = round * 1_000_003 + i as u64;
                for mut a in yanpei_demo::semester_of_activity(&roster, school, seed) {
                    if made == n {
                        break 'outer;
                    }
                    vary(&mut a, made);
                    live += u64::from(!a.deleted);
                    made += 1;
                    chunk.push(a);
                    if chunk.len() == CHUNK {
                        if tx.blocking_send(std::mem::take(&mut chunk)).is_err() {
                            return live;
                        }
                        chunk.reserve(CHUNK);
                    }
                }
            }
            round += 1;
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        live
    });
    (rx, handle)
}

/// Makes the `k`-th record one of the variants the hub holds: a third of the group
/// meetings complete (all nine items of 五定四有), one in 89 edited, one in 97 deleted.
fn vary(a: &mut Activity, k: u64) {
    if a.kind == ActivityKind::GroupMeeting && k.is_multiple_of(3) {
        let d = &mut a.body.details;
        d.participants = vec!["组长".into(), "组员".into()];
        d.content = Some("集体备课".into());
        d.start_time = chrono::NaiveTime::from_hms_opt(14, 30, 0);
        d.form = Some("研讨".into());
        d.record = Some("记录".into());
        d.summary = Some("小结".into());
        d.evaluation = Some("良好".into());
        d.next_plan = Some("下周同一时间".into());
    }
    if k.is_multiple_of(89) {
        a.version = 2;
    }
    if k.is_multiple_of(97) {
        a.version = 2;
        a.deleted = true;
    }
}

/// The hub's row values for `a`, in `hub_activity::Column` order.
fn row_values(a: &Activity, origin: Uuid, change_seq: i64, now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    let mut row = activity_row(a, origin, change_seq, now);
    row.origin_school = Set(Some(a.school.to_string()));
    hub_activity::Column::iter().map(|c| row.get(c).into_value().unwrap_or(Value::Bool(None))).collect()
}

fn columns() -> Vec<&'static str> {
    use sea_orm::IdenStatic;
    hub_activity::Column::iter().map(|c| c.as_str()).collect()
}

/// Writes `n` records into the hub's SQLite file with one prepared `INSERT`, 100,000
/// rows per transaction, `synchronous=OFF` for the load. Returns the live records.
async fn fill_sqlite(path: &Path, roster: &Roster, n: u64) -> Result<u64, BenchError> {
    let (mut rx, generator) = generate(roster, n);
    let path = path.to_owned();
    let writer = tokio::task::spawn_blocking(move || -> Result<(), BenchError> {
        let mut conn = rusqlite::Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.pragma_update(None, "cache_size", -262_144)?;
        let cols = columns();
        let sql = format!(
            "INSERT INTO activity ({}) VALUES ({})",
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        );
        let origin = Uuid::now_v7();
        let now = chrono::Utc::now();
        let mut seq: i64 = 0;
        while let Some(chunk) = rx.blocking_recv() {
            let txn = conn.transaction()?;
            {
                let mut stmt = txn.prepare(&sql)?;
                for a in &chunk {
                    seq += 1;
                    let values = row_values(a, origin, seq, now)
                        .iter()
                        .map(sqlite_value)
                        .collect::<Result<Vec<_>, _>>()?;
                    stmt.execute(rusqlite::params_from_iter(values.iter()))?;
                }
            }
            txn.commit()?;
            if seq % 1_000_000 == 0 {
                tracing::info!(rows = seq, "SQLite fill");
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(())
    });
    let written = writer.await.map_err(|e| BenchError::Process(format!("the SQLite writer failed: {e}")))?;
    let live = generator.await.map_err(|e| BenchError::Process(format!("the generator failed: {e}")))?;
    written?;
    Ok(live)
}

/// Writes `n` records into the hub's PostgreSQL database with `COPY ... FROM STDIN`,
/// 100,000 rows per statement (each its own transaction). Returns the live records.
async fn fill_postgres(store: &HubStore, roster: &Roster, n: u64) -> Result<u64, BenchError> {
    use sea_orm::sqlx;
    let pg = |e: sqlx::Error| BenchError::Postgres(e.to_string());
    let (mut rx, generator) = generate(roster, n);
    let mut conn = store.connection().get_postgres_connection_pool().acquire().await.map_err(pg)?;
    sqlx::query("SET synchronous_commit TO off").execute(&mut *conn).await.map_err(pg)?;
    let statement = format!("COPY activity ({}) FROM STDIN", columns().join(", "));
    let origin = Uuid::now_v7();
    let now = chrono::Utc::now();
    let mut seq: i64 = 0;
    let mut data = String::with_capacity(CHUNK * 400);
    while let Some(chunk) = rx.recv().await {
        data.clear();
        for a in &chunk {
            seq += 1;
            for (i, v) in row_values(a, origin, seq, now).iter().enumerate() {
                if i > 0 {
                    data.push('\t');
                }
                copy_field(v, &mut data)?;
            }
            data.push('\n');
        }
        let mut copy = conn.copy_in_raw(&statement).await.map_err(pg)?;
        for part in data.as_bytes().chunks(1 << 20) {
            copy.send(part).await.map_err(pg)?;
        }
        let copied = copy.finish().await.map_err(pg)?;
        if usize::try_from(copied).ok() != Some(chunk.len()) {
            return Err(BenchError::Check(format!("COPY wrote {copied} rows, not {}", chunk.len())));
        }
        if seq % 1_000_000 == 0 {
            tracing::info!(rows = seq, "PostgreSQL fill");
        }
    }
    sqlx::query("SET synchronous_commit TO on").execute(&mut *conn).await.map_err(pg)?;
    drop(conn);
    generator.await.map_err(|e| BenchError::Process(format!("the generator failed: {e}")))
}

/// Moves the hub's change counter past the rows written, as applying them would have.
async fn set_counter(store: &HubStore, n: u64) -> Result<(), BenchError> {
    let db = store.connection();
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE counter SET value = {} WHERE name = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [i64::try_from(n).unwrap_or(i64::MAX).into(), "change_seq".into()],
    ))
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Where the report benchmark's section begins in `BENCHMARKS.md` (`yanpei bench`
/// rewrites the rest of the file and keeps this section as it is).
pub const SECTION_BEGIN: &str = "<!-- yanpei bench reports: begin -->";
/// Where it ends.
pub const SECTION_END: &str = "<!-- yanpei bench reports: end -->";

/// The report benchmark's section of `existing` (markers included), if it has one.
pub fn section_of(existing: &str) -> Option<&str> {
    let start = existing.find(SECTION_BEGIN)?;
    let end = existing[start..].find(SECTION_END)? + start + SECTION_END.len();
    Some(&existing[start..end])
}

/// `existing` with its report benchmark section replaced by `section` (appended if it had none).
pub fn splice(existing: &str, section: &str) -> String {
    match section_of(existing) {
        Some(old) => existing.replacen(old, section.trim_end(), 1),
        None => format!("{}\n\n{}\n", existing.trim_end(), section.trim_end()),
    }
}

fn ms(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1} 秒", x / 1000.0)
    } else if x >= 100.0 {
        format!("{x:.0} ms")
    } else {
        format!("{x:.2} ms")
    }
}

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / (1024.0 * 1024.0);
    if m >= 1024.0 { format!("{:.2} GiB", m / 1024.0) } else { format!("{m:.0} MiB") }
}

/// The timing table (Markdown, readable as plain text).
pub fn table(r: &ReportsReport) -> String {
    let mut out = String::from(
        "| 数据库 | 报表 | 汇总表 中位数 | 汇总表 p90 | 原始表 中位数 | 原始表 p90 | 倍数（原始/汇总） | 目标 | 结论 |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for b in &r.backends {
        for (what, p) in [("全县概况（按联合体×类别）", &b.overview), ("考核进度报表（全县）", &b.compliance)]
        {
            out.push_str(&format!(
                "| {} | {}，{} 行 | {}（{} 次） | {} | {}（{} 次） | {} | {:.0}× | < 50 ms 且 ≥ 100× | {} |\n",
                b.backend,
                what,
                p.answer_rows,
                ms(p.rollup.median_ms),
                p.rollup.runs,
                ms(p.rollup.p90_ms),
                ms(p.raw.median_ms),
                p.raw.runs,
                ms(p.raw.p90_ms),
                p.ratio,
                if p.met() { "达到" } else { "未达到" },
            ));
        }
    }
    out
}

/// The fill table.
pub fn fill_table(r: &ReportsReport) -> String {
    let mut out = String::from(
        "| 数据库 | 记录行数（含删除） | 有效记录 | 填充用时 | 填充速度 | 重建汇总表 | 库大小 |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for b in &r.backends {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} 秒 | {:.0} 条/秒 | {:.0} 秒 | {} |\n",
            b.backend,
            b.records,
            b.live,
            b.fill_secs,
            b.records as f64 / b.fill_secs.max(1e-9),
            b.rollup_secs,
            mib(b.db_bytes),
        ));
    }
    out
}

/// The section of `BENCHMARKS.md` (between the markers).
pub fn markdown_section(r: &ReportsReport) -> String {
    let m = &r.machine;
    let mut out = format!("{SECTION_BEGIN}\n## 报表：{} 条记录时汇总表对原始表\n\n", r.records);
    out.push_str(
        "本节由 `yanpei bench reports` 生成（`yanpei bench` 重写本文件其余部分时原样保留本节）。\
         问题 5 第 4 点的目标：全县概况与考核进度报表在 1000 万条记录时中位数 < 50 ms，\
         且比同一答案直接从原始表计算快 100 倍以上，SQLite 与 PostgreSQL 都要达到。\n\n",
    );
    out.push_str(&format!("- 日期：{}\n", r.date));
    out.push_str(&format!("- 命令：`{}`\n", r.command));
    out.push_str(&format!(
        "- 机器：{}，{} 个逻辑核，内存 {:.1} GiB，{}\n",
        m.cpu,
        m.cores,
        m.memory_bytes as f64 / (1024.0 * 1024.0 * 1024.0),
        m.os
    ));
    out.push_str(&format!(
        "- 机器负载（1/5/15 分钟平均）：开始时 {}，结束时 {}（{} 核，多人共用，其他会话的构建可能同时在跑）\n",
        r.load_avg_start, m.load_avg, m.cores
    ));
    out.push_str(&format!("- 总用时：{:.0} 秒\n\n", r.elapsed_secs));
    out.push_str(&format!("### 计时\n\n{}\n", table(r)));
    out.push_str(&format!("### 填充\n\n{}\n", fill_table(r)));
    out.push_str(&REPORTS_METHOD.replace("{roster}", &r.roster));
    out.push_str(SECTION_END);
    out.push('\n');
    out
}

const REPORTS_METHOD: &str = "\
### 测法

- **库**：新建的中心数据库（SQLite 文件；PostgreSQL 上一个新库），由中心自己的迁移建表（含索引），\
导入示范县名册（{roster}）。
- **记录**：示范县的记录生成器（`semester_of_activity`，与 `yanpei demo` 相同），依次为每所学校、\
每个种子生成 2024-2025 学年第一学期的记录（听课、评课、研讨课、讲座、教研组活动、论文、读书笔记，\
蹲点研培人员的蹲点天数、听评课、课题等），直到凑够条数：记录分布在各校、各执行人、各类别和学期各周。\
其中三分之一的教研组活动填全五定四有，每 89 条有 1 条为修改过的第 2 版，每 97 条有 1 条为删除（第 2 版墓碑）。\
每条都是中心会接受的记录（领域校验通过），用中心自己的行转换（`activity_row`）写入。
- **批量写入**（不经同步协议，1000 万条经 gRPC 太慢）：SQLite 用 rusqlite 预编译 INSERT，\
每 10 万行一个事务，写入期间 `synchronous=OFF`；PostgreSQL 用 `COPY activity FROM STDIN`，\
每 10 万行一条，`synchronous_commit=off`，写完 `VACUUM ANALYZE activity`（自动清理本来也会做）。\
随后 `HubStore::rebuild_rollups` 重建全部汇总表（表中“重建汇总表”）。
- **核对**（计时之前，不相等即失败）：`stats` 与 `stats_raw` 相等；两种全县概况相等，总数等于写入的有效记录数，\
且有完整的教研组活动被计入；按人汇总（`rollup_person`）与原始表按学校×执行人×类别的 GROUP BY 相等（含蹲点天数），\
且有蹲点天数；两种考核进度报表完全相等。
- **全县概况**：与中心 Stats RPC 按联合体分组时相同的计算：读学校与联合体，按学校×类别取有效记录数与完整的\
教研组活动数，再按联合体×类别归并。汇总表一方为 `stats` + `complete_meetings`（读 `rollup_week`）；\
原始表一方为对 `activity` 的一条 GROUP BY（学期、未删除，同时数出五定四有九项俱全的教研组活动：\
SQLite 用 `json_type`，PostgreSQL 用 `jsonb_exists_all`）。
- **考核进度报表**：与中心 Compliance RPC 对县运营者（全县、含研培人员）相同的计算：读当前名册，\
取本学期按人计数，用默认考核标准（`quotas.toml`）算出每人每项的进度、缺额、进度预测和按学校/联合体/学科的汇总；\
统计截止日固定为学期中点。汇总表一方读 `rollup_person`（`person_rollups`）；原始表一方为对 `activity` 按\
学校×执行人×类别的一条 GROUP BY（蹲点天数从 details 的 JSON 取出求和）。计时含读名册与报表计算，不只是 SQL。
- **计时**：同一进程、同一连接池，先汇总表后原始表依次测量。汇总表答案先热身 2 次再计时；原始表答案先热身 1 次，\
再按预算（默认 120 秒）计时，至少 3 次、至多与汇总表相同次数：表中写明各自的次数。中位数与 p90（最近秩）。
";
