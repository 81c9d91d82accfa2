//! The report benchmark's code path end to end at a small size, on SQLite and
//! PostgreSQL: the hub is filled by the bulk path, the rollups rebuilt, and every
//! answer from the rollups checked equal to the same answer from the raw table
//! (the benchmark fails otherwise). No figure is asserted: speed is measured by
//! `yanpei bench reports`, not by tests.
#![allow(clippy::unwrap_used)] // test: a failure is a test failure

use std::time::Duration;

use yanpei_bench::reports::{Source, check, compliance_report, county_overview};
use yanpei_bench::{ReportsOptions, run_reports};

fn options(dir: &std::path::Path, postgres: Option<String>) -> ReportsOptions {
    ReportsOptions {
        records: 20_000,
        sqlite: true,
        postgres,
        dir: dir.to_owned(),
        runs: 3,
        raw_runs: 3,
        raw_budget: Duration::from_secs(5),
        keep: false,
        command: "test".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_and_rollup_answers_agree_on_both_backends() {
    let dir = std::env::temp_dir().join("yanpei-tests").join(format!("reports-{}", std::process::id()));
    // The benchmark makes and drops its own PostgreSQL database; it needs the server only.
    let postgres = yanpei_test_kit::postgres_server("raw_and_rollup_answers_agree_on_both_backends").await;
    let r = run_reports(&options(&dir, postgres.clone())).await.unwrap();
    assert_eq!(r.backends.len(), if postgres.is_some() { 2 } else { 1 });
    for b in &r.backends {
        assert_eq!(b.records, 20_000);
        // One in 97 is a tombstone (k = 0, 97, ...).
        assert_eq!(b.live, 20_000 - 20_000u64.div_ceil(97));
        assert!(b.db_bytes > 0);
        for p in [&b.overview, &b.compliance] {
            assert_eq!(p.rollup.runs, 3);
            assert!(p.raw.runs >= 1 && p.raw.runs <= 3);
            assert!(p.answer_rows > 0);
        }
    }
    // The databases are gone unless asked to keep them.
    assert!(!dir.join("reports.sqlite").exists());
    let md = yanpei_bench::reports::markdown_section(&r);
    assert!(md.contains("全县概况") && md.contains("考核进度报表") && md.contains("SQLite"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_section_replaces_itself_and_keeps_the_rest() {
    use yanpei_bench::reports::{SECTION_BEGIN, SECTION_END, section_of, splice};
    let first = format!("{SECTION_BEGIN}\none\n{SECTION_END}\n");
    let file = splice("# title\n\nbody\n", &first);
    assert!(file.starts_with("# title\n\nbody\n"));
    assert_eq!(section_of(&file), Some(first.trim_end()));
    let second = format!("{SECTION_BEGIN}\ntwo\n{SECTION_END}\n");
    let file = splice(&file, &second);
    assert!(file.contains("two") && !file.contains("one") && file.contains("body"));
    assert_eq!(file.matches(SECTION_BEGIN).count(), 1);
}

/// A mismatch is caught: a hub whose rollups lost a record fails the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_rollup_fails_the_check() {
    use sea_orm::ConnectionTrait;
    let url = yanpei_test_kit::fresh_sqlite("reports_wrong");
    let store = yanpei_store::hub::HubStore::open(&url).await.unwrap();
    let roster = yanpei_demo::demo_roster().unwrap();
    store.replace_roster(&roster, "test").await.unwrap();
    // A school with a stationed staff member (蹲点 days) and one complete meeting.
    let semester = yanpei_demo::DEMO_SEMESTER;
    let stationed = roster.stationings.iter().find(|d| d.semester == semester).unwrap();
    let school = roster.schools.iter().find(|s| s.code == stationed.rural_school).unwrap();
    let mut records = yanpei_demo::semester_of_activity(&roster, school, 7);
    let meeting = records.iter_mut().find(|a| a.kind == yanpei_domain::ActivityKind::GroupMeeting).unwrap();
    let d = &mut meeting.body.details;
    d.participants = vec!["甲".into(), "乙".into()];
    d.content = Some("内容".into());
    d.start_time = chrono::NaiveTime::from_hms_opt(14, 0, 0);
    d.form = Some("研讨".into());
    d.record = Some("记录".into());
    d.summary = Some("小结".into());
    d.evaluation = Some("良好".into());
    d.next_plan = Some("下次".into());
    assert!(meeting.is_complete_meeting());
    let live = records.len() as u64;
    let session = {
        let node = uuid::Uuid::now_v7();
        let (id, _) = store.open_session(node, &school.code, 2, "test").await.unwrap();
        store.session(id).await.unwrap().unwrap()
    };
    let changes: Vec<_> = records
        .into_iter()
        .enumerate()
        .map(|(i, activity)| yanpei_store::hub::IncomingChange {
            seq: i as u64 + 1,
            activity,
            ancestors: vec![],
            maker: None,
        })
        .collect();
    store.apply_batch(&session, &changes).await.unwrap();
    let policy = yanpei_report::QuotaPolicy::default_policy();
    let as_of = chrono::NaiveDate::from_ymd_opt(2024, 11, 1).unwrap();
    // Applied through the hub, the answers agree.
    check(&store, &roster, &policy, semester, as_of, live).await.unwrap();
    let fast = county_overview(&store, semester, Source::Rollups).await.unwrap();
    assert_eq!(fast, county_overview(&store, semester, Source::Raw).await.unwrap());
    assert_eq!(fast.total, live);
    assert_eq!(
        compliance_report(&store, &policy, semester, as_of, Source::Rollups).await.unwrap(),
        compliance_report(&store, &policy, semester, as_of, Source::Raw).await.unwrap()
    );
    // One person's count off by one in the rollups: the check says so.
    store
        .connection()
        .execute_unprepared(
            "UPDATE rollup_person SET n = n + 1 WHERE rowid = (SELECT MIN(rowid) FROM rollup_person)",
        )
        .await
        .unwrap();
    let err = check(&store, &roster, &policy, semester, as_of, live).await.unwrap_err();
    assert!(err.to_string().contains("person rollups"), "{err}");
}
