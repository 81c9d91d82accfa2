//! The intent suite's checker is checked (issue 15): each planted bug
//! (`yanpei_store::planted`, debug builds only) breaks one promise of the sync in the
//! hub process, and the same fixed block of seeds as `intent_faults.rs` must fail on it,
//! naming the seed. A bug the block does not catch fails this test.
//!
//! The hub's disk fills on a tmpfs, so this test needs root (CI runs as root).
#![allow(clippy::unwrap_used)] // a failure is a test failure

use yanpei_soak::{IntentOptions, run_intent_seed};
use yanpei_store::planted::Bug;
use yanpei_tests::{BinaryCopy, test_dir};

const BIN: &str = env!("CARGO_BIN_EXE_yanpei");

/// The same block as `intent_faults.rs`.
const SEEDS: std::ops::Range<u64> = 0..4;
const RECORDS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_bug_is_caught() {
    let dir = test_dir("planted-bugs");
    let exe = BinaryCopy::of(BIN, &dir);
    let mut missed = Vec::new();
    for bug in Bug::ALL {
        let mut opts = IntentOptions::new(RECORDS, exe.path());
        opts.planted = Some(bug.name().to_owned());
        let mut caught = None;
        for seed in SEEDS {
            let report =
                run_intent_seed(seed, &dir.join(format!("{}-seed-{seed}", bug.name())), &opts).await.unwrap();
            if !report.verdict.is_clean() {
                let first = report.verdict.violations.first().cloned().unwrap_or_default();
                caught = Some((seed, first));
                break;
            }
        }
        match caught {
            Some((seed, line)) => eprintln!(
                "planted {}: caught by seed {seed} (replay: YANPEI_PLANTED_BUG={} yanpei soak --intent --start {seed} --seeds 1 --records {RECORDS}): {line}",
                bug.name(),
                bug.name()
            ),
            None => missed.push(bug.name()),
        }
    }
    assert!(missed.is_empty(), "planted bugs the intent suite did not catch in seeds {SEEDS:?}: {missed:?}");
}
