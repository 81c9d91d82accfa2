//! `yanpei bench` and `yanpei load`: the benchmarks and the load test (crate yanpei-bench).

use std::path::PathBuf;

use anyhow::{Context, bail};
use yanpei_bench::{BenchOptions, LoadOptions, report};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
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
    std::fs::write(&a.out, report::markdown(&r)).with_context(|| format!("write {}", a.out.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("{}", report::table(&r.rows));
        println!("{}", report::load_table(&r.load));
        println!("已写入 {}（用时 {:.0} 秒）", a.out.display(), r.elapsed_secs);
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
