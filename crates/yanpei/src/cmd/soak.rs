//! `yanpei soak`: run many fault schedules and report what was injected and checked.
//! `yanpei soak --intent`: the intent suite (a hub process, an intent log, a checker
//! that reads the hub from outside), see `intent.rs`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use yanpei_soak::{FaultCounts, run_seed};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How many schedules.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// The first seed (a failing seed replays with `--start SEED --seeds 1`).
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Run the hubs on PostgreSQL: an admin URL; each schedule gets a fresh database
    /// (with --intent: dropped after its check; disk-full faults run on SQLite only).
    #[arg(long)]
    postgres: Option<String>,
    /// Working directory (default: a fresh one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// JSON output, one report per schedule.
    #[arg(long)]
    json: bool,
    /// Run the intent suite: the hub as a `yanpei hub serve` process, every person's
    /// action in an intent log, and a checker that judges the hub's database (read
    /// after the process exited) against the log and the sync protocol's rules.
    #[arg(long)]
    intent: bool,
    /// With --intent: about how many records each schedule creates.
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// With --intent: keep the hub's database on the normal disk (no tmpfs, no disk-full faults).
    #[arg(long)]
    no_tmpfs: bool,
    /// With --intent: inject only these kinds (comma-separated: cut-up, cut-down, delay,
    /// hub-stall, lost-ack, replay, reorder, two-sessions, hub-kill, hub-kill-mid-push,
    /// node-write-cancelled, node-kill-mid-sync, disk-full, hub-restore, sibling-edits, partner-change,
    /// foreign-owner, roster-change, node-kill-mid-write, node-disk-full; `none` for people at work
    /// only) [default: all].
    #[arg(long, value_delimiter = ',')]
    faults: Option<Vec<String>>,
    /// With --intent: add this run's figures (date, machine, command, schedules, records,
    /// faults by kind, violations by class) at the top of the Reliability file FILE.
    #[arg(long, value_name = "FILE")]
    reliability: Option<PathBuf>,
    /// With --intent: how many schedules run at once (each its own hub process and
    /// directory; a schedule mostly waits on its processes).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    jobs: u64,
    /// Internal (the intent suite's node process): apply the node writes in INPUT to the
    /// node store STORE, printing each as it commits.
    #[arg(long, hide = true, num_args = 2, value_names = ["STORE", "INPUT"])]
    node_write: Option<Vec<PathBuf>>,
}

pub(crate) async fn run(a: Args) -> anyhow::Result<()> {
    if let Some([store, input]) = a.node_write.as_deref() {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // Each report is flushed as its write commits: the schedule kills this process at any moment.
        return yanpei_soak::node_write(store, input, |r| {
            let _ = writeln!(out, "{}", r.line());
            let _ = out.flush();
        })
        .await
        .map_err(Into::into);
    }
    if a.intent {
        let args = super::intent::Args {
            seeds: a.seeds,
            start: a.start,
            dir: a.dir,
            json: a.json,
            records: a.records,
            tmpfs: !a.no_tmpfs,
            faults: a.faults,
            reliability: a.reliability,
            jobs: usize::try_from(a.jobs).unwrap_or(1),
            postgres: a.postgres,
        };
        let t = super::intent::run(&args).await?;
        if let Some(file) = &args.reliability {
            super::reliability::record(file, &args, &t)
                .with_context(|| format!("写入 {} 失败", file.display()))?;
        }
        if !t.failed_seeds.is_empty() {
            bail!("the intent check failed for seeds {:?}", t.failed_seeds);
        }
        return Ok(());
    }
    let dir =
        a.dir.unwrap_or_else(|| std::env::temp_dir().join(format!("yanpei-soak-{}", std::process::id())));
    let (mut faults, mut checked, mut lost, mut duplicated, mut mismatched) =
        (FaultCounts::default(), 0, 0, 0, 0);
    let mut failed = Vec::new();
    for seed in a.start..a.start + a.seeds {
        let db = match &a.postgres {
            None => None,
            Some(admin) => Some(fresh_database(admin, seed).await?),
        };
        let report = run_seed(seed, &dir.join(format!("seed-{seed}")), db).await?;
        if a.json {
            println!("{}", serde_json::to_string(&report)?);
        }
        faults += report.faults;
        checked += report.records_checked;
        lost += report.lost;
        duplicated += report.duplicated;
        mismatched += report.count_mismatches;
        if !report.violations.is_empty() {
            for v in &report.violations {
                eprintln!("seed {seed}: {v}");
            }
            failed.push(seed);
        }
    }
    if !a.json {
        println!("故障演练 {} 个场景（种子 {}..{}）", a.seeds, a.start, a.start + a.seeds);
        println!(
            "注入故障：断流 {}，确认丢失 {}，重放 {}，中心重启 {}，节点写入中断 {}",
            faults.cuts, faults.lost_acks, faults.replays, faults.hub_restarts, faults.node_crashes
        );
        println!("核对记录 {checked} 条；丢失 {lost}，重复 {duplicated}，统计不符 {mismatched}");
    }
    if !failed.is_empty() {
        bail!("the invariant broke for seeds {failed:?}");
    }
    Ok(())
}

/// A fresh database on the PostgreSQL server at `admin` for one schedule.
async fn fresh_database(admin: &str, seed: u64) -> anyhow::Result<String> {
    use yanpei_store::DatabaseConnection;
    let db: DatabaseConnection = yanpei_store::connect(admin).await?;
    let name = format!("yanpei_soak_{}_{seed}", std::process::id());
    yanpei_store::execute(&db, &format!("DROP DATABASE IF EXISTS \"{name}\"")).await?;
    yanpei_store::execute(&db, &format!("CREATE DATABASE \"{name}\"")).await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or_else(|| admin.to_owned());
    Ok(format!("{base}/{name}"))
}
