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

mod answers;
mod fill;
mod render;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::Serialize;
use yanpei_domain::Semester;
use yanpei_domain::roster::Roster;
use yanpei_report::QuotaPolicy;
use yanpei_store::hub::HubStore;
use yanpei_store::sqlite_url;

pub use self::answers::{Overview, Source, check, compliance_report, county_overview};
use self::fill::{fill_postgres, fill_sqlite, set_counter};
pub use self::render::{SECTION_BEGIN, SECTION_END, fill_table, markdown_section, section_of, splice, table};
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

fn db_err(e: sea_orm::DbErr) -> BenchError {
    BenchError::Store(yanpei_store::StoreError::from(e))
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() }
}
