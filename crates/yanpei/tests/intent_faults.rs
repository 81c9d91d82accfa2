//! The intent suite in CI (issue 15): a fixed block of seeded schedules, each with a
//! `yanpei hub serve` process, every person's action in an intent log, and every
//! fault kind injected; the checker reads the hub's database after the process
//! exited and judges it and the nodes against the log and the sync protocol's rules.
//! It asserts zero violations in every schedule and every fault kind injected in the
//! block. A failing seed replays with
//! `yanpei soak --intent --start SEED --seeds 1 --records 200`.
//!
//! The hub's disk fills on a tmpfs, so this test needs root (CI runs as root). The
//! same block runs with the hub on PostgreSQL (a fresh database per schedule).
#![allow(clippy::unwrap_used)] // a failure is a test failure

use yanpei_soak::{FaultKind, FaultTally, IntentOptions, run_intent_seed};
use yanpei_tests::{BinaryCopy, test_dir};

const BIN: &str = env!("CARGO_BIN_EXE_yanpei");

/// Records per schedule: small, so the block stays within a few minutes.
const RECORDS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intent_seeds_0_to_3() {
    let dir = test_dir("intent-faults");
    // The hub runs from a copy, removed when the test ends; the schedules' files stay for a look.
    let exe = BinaryCopy::of(BIN, &dir);
    let opts = IntentOptions::new(RECORDS, exe.path());
    run_block(&dir, &opts, 0..4, "").await;
}

/// The same suite with the hub process on PostgreSQL (a fresh database per schedule):
/// every kind but the disk-full one, which needs the hub's own small disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intent_seeds_0_to_2_on_postgres() {
    let Some(admin) = yanpei_test_kit::postgres_server("intent_seeds_0_to_2_on_postgres").await else {
        return;
    };
    let dir = test_dir("intent-faults-pg");
    let exe = BinaryCopy::of(BIN, &dir);
    let mut opts = IntentOptions::new(RECORDS, exe.path());
    opts.postgres = Some(admin.clone());
    run_block(&dir, &opts, 0..3, &format!(" --postgres {admin}")).await;
}

async fn run_block(dir: &std::path::Path, opts: &IntentOptions, seeds: std::ops::Range<u64>, engine: &str) {
    let mut faults = FaultTally::default();
    let mut failed = Vec::new();
    for seed in seeds {
        let report = run_intent_seed(seed, &dir.join(format!("seed-{seed}")), opts).await.unwrap();
        eprintln!(
            "seed {seed}: {} intents checked, {} ms, faults {:?}",
            report.verdict.intents_checked,
            report.millis,
            report
                .faults
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{} {n}", k.label()))
                .collect::<Vec<_>>()
        );
        assert!(report.verdict.intents_checked > 0, "seed {seed} checked nothing");
        if !report.verdict.is_clean() {
            for v in &report.verdict.violations {
                eprintln!("seed {seed}: {v}");
            }
            failed.push(format!(
                "seed {seed}: lost {}, duplicated {}, silently overwritten {}, extra {}, wrong winner {}, \
                 node mismatch {}, rollup mismatch {}, unrecorded refusal {} (replay: yanpei soak --intent --start {seed} --seeds 1 --records {RECORDS}{engine}; files in {})",
                report.verdict.lost,
                report.verdict.duplicated,
                report.verdict.silently_overwritten,
                report.verdict.extra,
                report.verdict.wrong_winner,
                report.verdict.node_mismatch,
                report.verdict.rollup_mismatch,
                report.verdict.unrecorded,
                report.dir
            ));
        }
        faults += &report.faults;
    }
    let on_postgres = opts.postgres.is_some();
    let missing: Vec<&str> = faults
        .missing()
        .iter()
        // PostgreSQL keeps its own disk (no disk-full or I/O-error faults for its files);
        // two hubs share only a PostgreSQL database.
        .filter(|k| match k {
            FaultKind::DiskFull | FaultKind::HubIoError => !on_postgres,
            FaultKind::TwoHubs => on_postgres,
            _ => true,
        })
        .map(|k| k.label())
        .collect();
    assert!(
        missing.is_empty(),
        "fault kinds never injected in the block: {missing:?} (disk full needs root for its tmpfs)"
    );
    assert!(failed.is_empty(), "the intent check failed:\n{}", failed.join("\n"));
}
