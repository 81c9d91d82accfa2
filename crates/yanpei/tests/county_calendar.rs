//! A county whose semester is its own (30 August to 23 January), through the real binary:
//! a node files its records by the county's dates once it holds the roster, the hub
//! refuses what breaks the county's rules (dates outside its semesters, another school's
//! teacher) with a reason the node shows, and the reports count to the county's last day.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::{Cx, fresh_dir, fresh_postgres, serve};

/// The demo roster with the county's own semesters: 2025-08-30 to 2026-01-23, then
/// 2026-02-24 to 2026-07-10, its 蹲点 moved to the first of them.
fn county_roster(dir: &Path) -> PathBuf {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/roster");
    let out = dir.join("roster");
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(&demo).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let text = match path.file_name().unwrap().to_str().unwrap() {
            "学期.csv" => "学期,开始日期,结束日期\n2025-2026-1,2025-08-30,2026-01-23\n2025-2026-2,2026-02-24,2026-07-10\n".into(),
            "蹲点.csv" => text.replace("2024-2025-", "2025-2026-"),
            _ => text,
        };
        std::fs::write(out.join(path.file_name().unwrap()), text).unwrap();
    }
    out
}

fn observe(cx: &Cx, date: &str, teacher: &str, extra: &[&str]) -> Output {
    let args = [
        &["node", "record", "--kind", "听课", "--date", date, "--actor", "罗文博", "--teacher", teacher][..],
        &["--subject", "语文"],
        extra,
    ]
    .concat();
    cx.run(&args)
}

#[test]
fn a_county_with_its_own_semester_on_sqlite() {
    county_semester(Cx { dir: fresh_dir("calendar", "sqlite"), db: None });
}

#[test]
fn a_county_with_its_own_semester_on_postgres() {
    if let Some(url) = fresh_postgres("cli_calendar") {
        county_semester(Cx { dir: fresh_dir("calendar", "postgres"), db: Some(url) });
    }
}

fn county_semester(cx: Cx) {
    cx.ok(&["ca", "init", "--county", "示范县"]);
    cx.ok(&["ca", "issue-hub"]);
    cx.ok(&["ca", "issue-node", "--school", "CGZ1"]);
    cx.ok(&["ca", "issue-operator"]);
    let roster = county_roster(&cx.dir);
    cx.ok(&["roster", "validate", roster.to_str().unwrap()]);
    cx.ok(&["roster", "import", roster.to_str().unwrap()]);
    let (_hub, port) = serve(&cx);
    let url = format!("https://127.0.0.1:{port}");
    let node = ["--ca", "pki/ca.pem", "--cert", "pki/node-CGZ1.pem", "--key", "pki/node-CGZ1.key"];
    cx.ok(&[&["node", "init", "--school", "CGZ1", "--hub", &url][..], &node].concat());

    // Before its first sync the node knows no county dates: it files by the built-in
    // calendar, says the record is unchecked, and the hub checks it on arrival.
    let early = observe(&cx, "2026-01-28", "唐洋", &[]);
    assert!(early.status.success(), "{}", String::from_utf8_lossy(&early.stderr));
    assert!(String::from_utf8_lossy(&early.stdout).contains("未经名册核对"));
    // Another school's teacher, on the roster of T13Z1.
    assert!(observe(&cx, "2025-10-08", "王静", &[]).status.success());
    let synced = cx.ok(&["node", "sync"]);
    assert!(synced.contains("退回了 2 条记录"), "{synced}");
    let returned = cx.ok(&["node", "returned"]);
    assert!(
        returned.contains("不在本县规定的2025-2026学年第一学期（2025-08-30 至 2026-01-23）之内"),
        "{returned}"
    );
    assert!(returned.contains("教师「王静」是名册中") && returned.contains("不是本校教师"), "{returned}");

    // With the roster, 30 August is the county's first day of 2025-2026-1, with or
    // without --semester; 28 January is no semester of the county's at all.
    let first = observe(&cx, "2025-08-30", "唐洋", &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("2025-2026学年第一学期"));
    assert!(
        observe(&cx, "2025-08-30", "唐洋", &["--semester", "2025-2026-1", "--topic", "第二节"])
            .status
            .success()
    );
    let outside = observe(&cx, "2026-01-28", "唐洋", &[]);
    assert!(!outside.status.success());
    assert!(String::from_utf8_lossy(&outside.stderr).contains("不在本县规定的任何学期之内"));
    assert!(observe(&cx, "2025-10-08", "唐洋", &[]).status.success());
    assert!(observe(&cx, "2025-11-20", "唐洋", &[]).status.success());
    let synced = cx.ok(&["node", "sync"]);
    assert!(synced.contains("推送 4 条变更"), "{synced}");

    // The node's spreadsheet template dates its examples inside a county semester.
    cx.ok(&["node", "template", "t.xlsx", "--kind", "听课"]);
    let example_date = {
        use calamine::{Reader, open_workbook_auto};
        let mut book = open_workbook_auto(cx.dir.join("t.xlsx")).unwrap();
        let guide = book.worksheet_range("说明").unwrap();
        let row = guide.rows().find(|r| r.get(1).is_some_and(|c| c.to_string().starts_with("日期"))).unwrap();
        row[4].to_string()
    };
    assert!(
        ("2025-08-30"..="2026-01-23").contains(&example_date.as_str())
            || ("2026-02-24"..="2026-07-10").contains(&example_date.as_str()),
        "the example's date {example_date} is in no semester of the county"
    );

    let semester = ["--hub", &url, "--semester", "2025-2026-1"];
    let stats = cx.json(&[&["query", "stats"][..], &semester, &["--school", "CGZ1", "--json"]].concat());
    assert_eq!(stats["total"].as_u64(), Some(4), "{stats:#}");

    // An error from the hub reads in Chinese only: no English code description leaks.
    let missing = cx.run(&[&["query", "stats"][..], &semester, &["--school", "NOPE1"]].concat());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success() && err.contains("名册中没有学校 NOPE1"), "{err}");
    assert!(
        !err.contains("Some requested entity") && !err.contains("code:") && !err.contains("(error)"),
        "{err}"
    );

    // Without --as-of the report counts to the county's last day, not 31 January.
    let report =
        cx.json(&[&["report", "compliance"][..], &semester, &["--school", "CGZ1", "--json"]].concat());
    assert_eq!(report["as_of"], "2026-01-23", "{}", report["as_of"]);
    let report = cx.json(
        &[&["report", "compliance"][..], &semester, &["--school", "CGZ1", "--as-of", "2025-10-31", "--json"]]
            .concat(),
    );
    assert_eq!(report["as_of"], "2025-10-31");

    // The weeks run from the county's first week (2025-W35) to its last (2026-W04).
    let gaps = cx.json(&[&["report", "gaps"][..], &semester, &["--json"]].concat());
    let weeks: Vec<&str> = gaps["groups"][0]["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["iso_week"].as_str().unwrap())
        .collect();
    assert_eq!(
        (weeks.first().copied(), weeks.last().copied()),
        (Some("2025-W35"), Some("2026-W04")),
        "{weeks:?}"
    );
}
