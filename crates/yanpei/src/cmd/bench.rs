//! `yanpei bench` and `yanpei load`: the benchmarks and the load test (crate yanpei-bench).

use std::path::PathBuf;

use anyhow::{Context, bail};
use yanpei_bench::{BenchOptions, LoadOptions, ReportsOptions, report};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    what: Option<BenchCommand>,
    /// Small sizes (seconds): checks that every row is produced; the figures mean little.
    #[arg(long)]
    quick: bool,
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// PostgreSQL admin URL for the PostgreSQL rows (a fresh database per measurement).
    #[arg(long, env = "YANPEI_BENCH_POSTGRES", default_value = DEFAULT_POSTGRES)]
    postgres: String,
    /// Skip the PostgreSQL rows.
    #[arg(long)]
    no_postgres: bool,
    /// The PouchDB script's folder [default: crates/bench/pouchdb of the source tree].
    #[arg(long)]
    pouchdb_dir: Option<PathBuf>,
    /// Working directory [default: a fresh one under the temp dir, removed afterwards].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print the whole report as JSON instead of the tables (BENCHMARKS.md is written either way).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Fill a hub with N records; time the county overview and the compliance report from the
    /// rollups against the raw table, on SQLite and PostgreSQL; write a section of BENCHMARKS.md.
    Reports(ReportsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backends {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, clap::Args)]
struct ReportsArgs {
    /// Records to fill each hub with.
    #[arg(long, default_value_t = 10_000_000)]
    records: u64,
    /// Which engines to measure.
    #[arg(long, value_enum, default_value_t = Backends::Both)]
    backend: Backends,
    /// PostgreSQL admin URL (a fresh database is made and dropped).
    #[arg(long, env = "YANPEI_BENCH_POSTGRES", default_value = DEFAULT_POSTGRES)]
    postgres: String,
    /// Timed runs of each answer from the rollups.
    #[arg(long, default_value_t = 21)]
    runs: usize,
    /// Timed runs of each answer from the raw table, at most.
    #[arg(long, default_value_t = 21)]
    raw_runs: usize,
    /// Fewer raw runs (at least 3) when they would take longer than this many seconds.
    #[arg(long, default_value_t = 120)]
    raw_budget_secs: u64,
    /// The file whose report section to write (the rest of it is kept).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Do not write the file, only print.
    #[arg(long)]
    no_write: bool,
    /// Working directory for the SQLite file [default: a fresh one under the temp dir, removed afterwards].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the filled databases.
    #[arg(long)]
    keep: bool,
    /// Print the report as JSON instead of the tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LoadArgs {
    /// Simulated nodes.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Records each node pushes (its night's batch).
    #[arg(long, default_value_t = 30)]
    records_per_node: usize,
    /// Sessions in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Run the hub on a fresh database of this PostgreSQL server (admin URL) instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
    /// Send uncompressed messages (the agent compresses by default).
    #[arg(long)]
    no_compress: bool,
    /// Working directory [default: a fresh one under the temp dir, removed afterwards].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// The command line as typed, for the report.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("yanpei {}", args.join(" "))
}

/// A working directory: the one given (kept), or a fresh temporary one (removed).
fn work_dir(given: Option<PathBuf>, what: &str) -> (PathBuf, bool) {
    match given {
        Some(d) => (d, false),
        None => {
            let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
            (std::env::temp_dir().join(format!("yanpei-{what}-{stamp}-{}", std::process::id())), true)
        }
    }
}

pub(crate) async fn bench(a: BenchArgs) -> anyhow::Result<()> {
    if let Some(BenchCommand::Reports(r)) = a.what {
        return reports(r).await;
    }
    let (dir, remove) = work_dir(a.dir, "bench");
    let opts = BenchOptions {
        exe: std::env::current_exe().context("find the yanpei binary")?,
        dir: dir.clone(),
        quick: a.quick,
        postgres: (!a.no_postgres).then_some(a.postgres),
        pouchdb_dir: a.pouchdb_dir,
        command: command_line(),
    };
    let result = yanpei_bench::run_bench(&opts).await;
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let r = result.context("run the benchmarks")?;
    // The report benchmark's section is measured by its own command: keep it.
    let mut md = report::markdown(&r);
    if let Some(section) =
        std::fs::read_to_string(&a.out).ok().as_deref().and_then(yanpei_bench::reports::section_of)
    {
        md = yanpei_bench::reports::splice(&md, section);
    }
    std::fs::write(&a.out, md).with_context(|| format!("write {}", a.out.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("{}", report::table(&r.rows));
        println!("{}", report::load_table(&r.load));
        println!("已写入 {}（用时 {:.0} 秒）", a.out.display(), r.elapsed_secs);
    }
    Ok(())
}

async fn reports(a: ReportsArgs) -> anyhow::Result<()> {
    let (dir, remove) = work_dir(a.dir, "reports");
    let opts = ReportsOptions {
        records: a.records,
        sqlite: a.backend != Backends::Postgres,
        postgres: (a.backend != Backends::Sqlite).then_some(a.postgres),
        dir: dir.clone(),
        runs: a.runs,
        raw_runs: a.raw_runs,
        raw_budget: std::time::Duration::from_secs(a.raw_budget_secs),
        keep: a.keep,
        command: command_line(),
    };
    let result = yanpei_bench::run_reports(&opts).await;
    if remove && !a.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let r = result.context("run the report benchmark")?;
    if !a.no_write {
        let old = std::fs::read_to_string(&a.out).unwrap_or_default();
        let md = yanpei_bench::reports::splice(&old, &yanpei_bench::reports::markdown_section(&r));
        std::fs::write(&a.out, md).with_context(|| format!("write {}", a.out.display()))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("{}", yanpei_bench::reports::table(&r));
        println!("{}", yanpei_bench::reports::fill_table(&r));
        if !a.no_write {
            println!("已写入 {} 的报表一节（用时 {:.0} 秒）", a.out.display(), r.elapsed_secs);
        }
    }
    Ok(())
}

pub(crate) async fn load(a: LoadArgs) -> anyhow::Result<()> {
    let (dir, remove) = work_dir(a.dir, "load");
    let opts = LoadOptions {
        exe: std::env::current_exe().context("find the yanpei binary")?,
        dir: dir.clone(),
        nodes: a.nodes,
        records_per_node: a.records_per_node,
        concurrency: a.concurrency,
        compress: !a.no_compress,
        postgres: a.postgres,
    };
    let result = yanpei_bench::run_load(&opts).await;
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let r = result.context("run the load test")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", report::load_summary(&r));
    }
    if r.errors > 0 {
        bail!("{} 个会话失败", r.errors);
    }
    Ok(())
}
