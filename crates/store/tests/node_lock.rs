//! A node store waits for its own write lock: `node record` while `node sync` writes
//! to the same file (another process, another connection) waits its turn instead of
//! failing with `database is locked`.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use chrono::NaiveDate;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, SchoolCode, Semester, Term};
use yanpei_store::node::{NodeStore, PulledRecord};
use yanpei_test_kit as testing;

fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

fn record(i: usize) -> Activity {
    Activity::create(
        code("S1"),
        Semester::new(2024, Term::First).unwrap(),
        NaiveDate::from_ymd_opt(2024, 10, 1 + (i % 28) as u32).unwrap(),
        ActivityKind::Lecture,
        ActivityDraft {
            actor: format!("教师{}", i % 7),
            topic: Some(format!("第{i}讲")),
            ..Default::default()
        },
    )
    .unwrap()
}

/// One handle runs a sync's writes in a loop (pulled pages, acknowledgements) while
/// the other records 32 activities, each in its own transaction: all 32 succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_during_a_sync_waits_for_the_lock() {
    let url = testing::fresh_sqlite("node_lock");
    let syncing = NodeStore::open_or_init(&url, &code("S1")).await.unwrap();
    let clerk = NodeStore::open(&url).await.unwrap();

    let sync = tokio::spawn(async move {
        let mut failures = Vec::new();
        for page in 0..60usize {
            let pulled: Vec<PulledRecord> = (0..40)
                .map(|i| PulledRecord {
                    activity: record(10_000 + page * 40 + i),
                    ancestors: vec![],
                    maker: None,
                    kept: vec![],
                })
                .collect();
            if let Err(e) = syncing.apply_pulled(&pulled, page as u64 + 1).await {
                failures.push(e.to_string());
            }
            let last = syncing.last_seq().await.unwrap();
            if let Err(e) = syncing.mark_acked(last).await {
                failures.push(e.to_string());
            }
        }
        (syncing, failures)
    });
    let mut recordings = Vec::new();
    for i in 0..32 {
        let clerk = clerk.clone();
        recordings.push(tokio::spawn(async move { clerk.record(&record(i)).await }));
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let mut failures = Vec::new();
    for r in recordings {
        if let Err(e) = r.await.unwrap() {
            failures.push(e.to_string());
        }
    }
    let (syncing, sync_failures) = sync.await.unwrap();
    assert!(failures.is_empty(), "{} of 32 recordings failed: {failures:?}", failures.len());
    assert!(sync_failures.is_empty(), "{} of 120 sync writes failed: {sync_failures:?}", sync_failures.len());
    assert_eq!(clerk.last_seq().await.unwrap(), 32);
    assert_eq!(syncing.all().await.unwrap().len(), 32 + 60 * 40);
}
