//! The fault suite in CI: 50 seeded schedules on SQLite and 10 on PostgreSQL,
//! each checked for the invariant (nothing lost, nothing twice, latest version,
//! counts equal a recount). A failing seed replays with `yanpei soak --start SEED --seeds 1`.

use yanpei_soak::{FaultCounts, SeedReport, run_seed};
use yanpei_tests::{fresh_postgres, test_dir};

async fn seeds(range: std::ops::Range<u64>, postgres: bool) -> Vec<SeedReport> {
    let mut out = Vec::new();
    for seed in range {
        let db = if postgres {
            match fresh_postgres("faults").await {
                Some(url) => Some(url),
                None => return out,
            }
        } else {
            None
        };
        let report = run_seed(seed, &test_dir(&format!("faults-{seed}")), db).await.unwrap();
        assert!(
            report.violations.is_empty() && report.lost == 0 && report.duplicated == 0,
            "seed {seed} broke the invariant: {report:#?}"
        );
        assert!(report.records_checked > 0, "seed {seed} checked nothing");
        out.push(report);
    }
    out
}

fn total(reports: &[SeedReport]) -> FaultCounts {
    let mut t = FaultCounts::default();
    for r in reports {
        t += r.faults;
    }
    t
}

macro_rules! block {
    ($name:ident, $range:expr, $pg:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let reports = seeds($range, $pg).await;
            if reports.is_empty() {
                return; // PostgreSQL absent outside CI: fresh_postgres said so loudly.
            }
            let t = total(&reports);
            eprintln!("{}: {} schedules, faults {t:?}", stringify!($name), reports.len());
            // Each block of schedules injects every kind of fault at least once.
            assert!(t.cuts > 0 && t.lost_acks > 0 && t.replays > 0 && t.hub_restarts > 0, "{t:?}");
        }
    };
}

block!(sqlite_seeds_0_to_9, 0..10, false);
block!(sqlite_seeds_10_to_19, 10..20, false);
block!(sqlite_seeds_20_to_29, 20..30, false);
block!(sqlite_seeds_30_to_39, 30..40, false);
block!(sqlite_seeds_40_to_49, 40..50, false);
block!(postgres_seeds_0_to_9, 0..10, true);
