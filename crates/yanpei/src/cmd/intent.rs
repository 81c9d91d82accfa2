//! `yanpei soak --intent`: run many intent-suite schedules, print faults by kind,
//! intents checked and violations by class, and a replay command per failing seed.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use yanpei_soak::{FaultKind, FaultTally, IntentOptions, IntentReport, run_intent_seed};

pub(crate) struct Args {
    pub(crate) seeds: u64,
    pub(crate) start: u64,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) json: bool,
    pub(crate) records: usize,
    pub(crate) tmpfs: bool,
    pub(crate) faults: Option<Vec<String>>,
    pub(crate) reliability: Option<PathBuf>,
    pub(crate) jobs: usize,
    pub(crate) postgres: Option<String>,
}

/// Totals over the schedules of one run.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Totals {
    pub(crate) schedules: u64,
    pub(crate) records_asked: u64,
    pub(crate) records_checked: u64,
    pub(crate) intents_logged: u64,
    pub(crate) intents_checked: u64,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    pub(crate) silently_overwritten: u64,
    pub(crate) extra: u64,
    pub(crate) wrong_winner: u64,
    pub(crate) node_mismatch: u64,
    pub(crate) rollup_mismatch: u64,
    pub(crate) unrecorded: u64,
    pub(crate) excused_by_restore: u64,
    pub(crate) quarantined: u64,
    pub(crate) faults: FaultTally,
    pub(crate) failed_seeds: Vec<u64>,
    pub(crate) replay: Vec<String>,
    pub(crate) seconds: f64,
}

impl Totals {
    fn add(&mut self, r: &IntentReport) {
        let v = &r.verdict;
        self.schedules += 1;
        self.records_asked += r.records as u64;
        self.records_checked += v.records_checked;
        self.intents_logged += v.intents_logged;
        self.intents_checked += v.intents_checked;
        self.lost += v.lost;
        self.duplicated += v.duplicated;
        self.silently_overwritten += v.silently_overwritten;
        self.extra += v.extra;
        self.wrong_winner += v.wrong_winner;
        self.node_mismatch += v.node_mismatch;
        self.rollup_mismatch += v.rollup_mismatch;
        self.unrecorded += v.unrecorded;
        self.excused_by_restore += v.excused_by_restore;
        self.quarantined += v.quarantined;
        self.faults += &r.faults;
    }
}

/// Runs the schedules and prints the totals; the caller records them (`reliability`) and
/// fails the command when a seed failed.
pub(crate) async fn run(a: &Args) -> anyhow::Result<Totals> {
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("yanpei-intent-{}", std::process::id())));
    let mut opts = IntentOptions::new(a.records, std::env::current_exe().context("find the yanpei binary")?);
    opts.small_disk = a.tmpfs;
    opts.postgres = a.postgres.clone();
    if let Some(names) = &a.faults {
        opts.kinds = names
            .iter()
            .filter(|n| n.as_str() != "none")
            .map(|n| FaultKind::from_name(n).with_context(|| format!("--faults: no fault kind {n:?}")))
            .collect::<anyhow::Result<_>>()?;
    }
    let started = Instant::now();
    let mut t = Totals::default();
    let replay = |a: &Args, seed: u64| {
        let only = match &a.faults {
            Some(f) => format!(" --faults {}", f.join(",")),
            None => String::new(),
        };
        let engine = a.postgres.as_ref().map(|u| format!(" --postgres {u}")).unwrap_or_default();
        format!(
            "yanpei soak --intent --start {seed} --seeds 1 --records {}{}{engine}{only}",
            a.records,
            if a.tmpfs { "" } else { " --no-tmpfs" }
        )
    };
    // Up to `jobs` schedules at once, each with its own hub process and directory.
    let mut running = tokio::task::JoinSet::new();
    let mut next = a.start;
    let end = a.start + a.seeds;
    loop {
        while running.len() < a.jobs.max(1) && next < end {
            let (seed, dir, opts) = (next, dir.join(format!("seed-{next}")), opts.clone());
            running.spawn(async move { (seed, run_intent_seed(seed, &dir, &opts).await) });
            next += 1;
        }
        let Some(done) = running.join_next().await else { break };
        let (seed, outcome) = done.context("a schedule's task ended abnormally")?;
        let report = match outcome {
            Ok(r) => r,
            Err(e) => {
                // A schedule that could not run to its check is a failure too; the others go on.
                eprintln!("seed {seed}: the schedule stopped: {e}");
                t.failed_seeds.push(seed);
                t.replay.push(replay(a, seed));
                continue;
            }
        };
        t.add(&report);
        if a.json {
            println!("{}", serde_json::to_string(&report)?);
        }
        if !report.verdict.is_clean() {
            for v in &report.verdict.violations {
                eprintln!("seed {seed}: {v}");
            }
            t.failed_seeds.push(seed);
            t.replay.push(replay(a, seed));
        }
        for n in &report.notes {
            eprintln!("seed {seed}: note: {n}");
        }
    }
    t.failed_seeds.sort_unstable();
    t.replay.sort();
    t.seconds = started.elapsed().as_secs_f64();
    if a.json {
        println!("{}", serde_json::json!({ "summary": t }));
    } else {
        print_totals(a, &t, &dir);
    }
    Ok(t)
}

fn print_totals(a: &Args, t: &Totals, dir: &std::path::Path) {
    println!(
        "意图核对（intent suite）{} 个场景（种子 {}..{}），每个约 {} 条记录，用时 {:.0} 秒，文件在 {}",
        t.schedules,
        a.start,
        a.start + a.seeds,
        a.records,
        t.seconds,
        dir.display()
    );
    let faults: Vec<String> = t.faults.iter().map(|(k, n)| format!("{} {n}", k.label())).collect();
    println!("注入故障（faults by kind）：{}", faults.join("，"));
    println!(
        "核对意图（intents checked）{} 条（共记录 {} 条意图），记录 {} 条",
        t.intents_checked, t.intents_logged, t.records_checked
    );
    println!(
        "丢失 lost {}，重复 duplicated {}，静默覆盖 silently overwritten {}，多出 extra {}，\
         胜者不符 wrong winner {}，节点不符 node mismatch {}，统计不符 rollup mismatch {}，\
         拒收未入台账 unrecorded refusal {}",
        t.lost,
        t.duplicated,
        t.silently_overwritten,
        t.extra,
        t.wrong_winner,
        t.node_mismatch,
        t.rollup_mismatch,
        t.unrecorded
    );
    if t.excused_by_restore > 0 {
        println!("恢复备份后只在中心存在过的落选版本 {} 条（不计为丢失）", t.excused_by_restore);
    }
    if t.quarantined > 0 {
        println!(
            "中心按县里规则退回、节点留存待改的版本 {} 条（相关学校代码从未在县名册中，或日期不在本县学期内）",
            t.quarantined
        );
    }
    for r in &t.replay {
        println!("重放（replay）：{r}");
    }
}
