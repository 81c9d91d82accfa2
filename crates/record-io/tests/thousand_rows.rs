//! Issue 4, point 5: a 1,000-row workbook with exactly three bad rows, imported into a real
//! node store. All or nothing stores none and names exactly those three rows in Chinese;
//! `Mode::Partial` stores the 997 and writes the three to the error workbook; fixed, the
//! rest imports cleanly; importing again never duplicates a record.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use rust_xlsxwriter::Workbook;
use yanpei_domain::roster::{Roster, Teacher};
use yanpei_domain::{ActivityKind, SchoolCode};
use yanpei_record_io::{Grid, Mode, columns, import_file, read_workbook};
use yanpei_store::node::NodeStore;
use yanpei_test_kit::fresh_sqlite;

fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

fn roster() -> Roster {
    let teacher = |id: &str, name: &str| Teacher {
        id: id.into(),
        name: name.into(),
        school: code("S01"),
        subjects: vec!["语文".into()],
        group: "语文组".into(),
        backbone: false,
        subject_leader: false,
        years_of_service: 5,
    };
    Roster {
        county: "示例县".into(),
        teachers: vec![teacher("T1", "李老师"), teacher("T2", "张老师")],
        ..Default::default()
    }
}

async fn node(prefix: &str) -> NodeStore {
    let s = NodeStore::open_or_init(&fresh_sqlite(prefix), &code("S01")).await.unwrap();
    s.set_roster(1, &roster()).await.unwrap();
    s
}

fn write(path: &Path, grids: &[Grid]) {
    let mut wb = Workbook::new();
    for g in grids {
        let ws = wb.add_worksheet();
        ws.set_name(&g.name).unwrap();
        for (r, row) in g.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                ws.write_string(r as u32, c as u16, cell).unwrap();
            }
        }
    }
    wb.save(path).unwrap();
}

/// A sheet of `kind` with `n` rows; `row(i, header)` gives the cell of row `i` under `header`.
fn sheet(kind: ActivityKind, n: usize, row: impl Fn(usize, &str) -> String) -> Grid {
    let headers: Vec<String> = columns(kind).into_iter().map(|c| c.header).collect();
    let mut rows = vec![headers.clone()];
    rows.extend((0..n).map(|i| headers.iter().map(|h| row(i, h.trim_end_matches('*'))).collect()));
    Grid { name: kind.label().into(), rows }
}

fn day(i: usize) -> String {
    let first = NaiveDate::from_ymd_opt(2024, 9, 2).unwrap();
    first.checked_add_days(Days::new((i % 120) as u64)).unwrap().to_string()
}

/// 600 听课, 300 讲座 and 100 培训 rows: 1,000 in all, distinct, every one valid.
fn workbook() -> Vec<Grid> {
    let observations = sheet(ActivityKind::LessonObservation, 600, |i, h| match h {
        "日期" => day(i),
        "听课人" => format!("听课教师{}", i % 7),
        "授课教师" => if i % 2 == 0 { "李老师" } else { "张老师" }.into(),
        "学科" => "语文".into(),
        "课题/主题" => format!("第 {i} 课"),
        "时长（分钟）" => "45".into(),
        _ => String::new(),
    });
    let lectures = sheet(ActivityKind::Lecture, 300, |i, h| match h {
        "日期" => day(i),
        "主讲人" => "王老师".into(),
        "课题/主题" => format!("专题讲座 {i}"),
        "时长（分钟）" => "90".into(),
        "形式" => "微讲座".into(),
        _ => String::new(),
    });
    let trainings = sheet(ActivityKind::Training, 100, |i, h| match h {
        "日期" => day(i),
        "组织者" => "赵主任".into(),
        "课题/主题" => format!("培训 {i}"),
        "应到人数" => "40".into(),
        "实到人数" => "38".into(),
        "缺席人员" => "周老师、吴老师".into(),
        _ => String::new(),
    });
    vec![observations, lectures, trainings]
}

fn set(grids: &mut [Grid], sheet: &str, row: usize, header: &str, value: &str) {
    let g = grids.iter_mut().find(|g| g.name == sheet).unwrap();
    let c = g.rows[0].iter().position(|h| h.trim_end_matches('*') == header).unwrap();
    g.rows[row - 1][c] = value.into();
}

/// The same workbook with three bad rows (spreadsheet row numbers): a teacher not on the
/// roster, a duration in words, more present than expected.
fn with_three_bad_rows() -> Vec<Grid> {
    let mut g = workbook();
    set(&mut g, "听课", 101, "授课教师", "陌生人");
    set(&mut g, "讲座", 251, "时长（分钟）", "九十");
    set(&mut g, "培训", 42, "实到人数", "45");
    g
}

const BAD: [(&str, usize, &str, &str); 3] = [
    ("听课", 101, "授课教师", "名册中本校没有教师「陌生人」"),
    ("讲座", 251, "时长（分钟）", "「九十」不是整数"),
    ("培训", 42, "实到人数", "实到 45 人多于应到 40 人"),
];

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yanpei-record-io-1000-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn assert_exactly_the_three(report: &yanpei_record_io::ImportReport) {
    let p = &report.plan;
    assert!(p.sheet_problems.is_empty(), "{:?}", p.sheet_problems);
    let found: Vec<(&str, usize, &str)> =
        p.problems().map(|x| (x.at.sheet.as_str(), x.at.row, x.column.as_str())).collect();
    let expected: Vec<(&str, usize, &str)> = BAD.iter().map(|(s, r, c, _)| (*s, *r, *c)).collect();
    assert_eq!(found, expected);
    for (problem, (sheet, row, column, reason)) in p.problems().zip(BAD) {
        assert!(problem.reason.contains(reason), "{problem}");
        assert!(
            problem.to_string().starts_with(&format!("工作表「{sheet}」第 {row} 行「{column}」：")),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn three_bad_rows_in_a_thousand_store_none_until_fixed() {
    let s = node("sheet-all-or-nothing").await;
    let path = temp("all.xlsx");
    write(&path, &with_three_bad_rows());

    let report = import_file(&s, &path, Mode::AllOrNothing).await.unwrap();
    assert_exactly_the_three(&report);
    assert_eq!(report.plan.new.len(), 997);
    assert_eq!(report.stored, 0);
    assert!(report.errors_file.is_none());
    assert!(s.all().await.unwrap().is_empty(), "nothing stored");
    assert_eq!(s.pending_count().await.unwrap(), 0);

    write(&path, &workbook());
    let report = import_file(&s, &path, Mode::AllOrNothing).await.unwrap();
    assert!(report.plan.is_clean());
    assert_eq!(report.stored, 1000);
    assert_eq!(s.list(None, None).await.unwrap().len(), 1000);
    assert_eq!(s.pending_count().await.unwrap(), 1000, "every record is in the outbox");

    let again = import_file(&s, &path, Mode::AllOrNothing).await.unwrap();
    assert_eq!((again.stored, again.plan.already.len()), (0, 1000), "a re-import adds nothing");
    assert_eq!(s.list(None, None).await.unwrap().len(), 1000);
}

#[tokio::test]
async fn partial_stores_the_997_and_the_three_are_fixed_in_the_error_workbook() {
    let s = node("sheet-partial").await;
    let path = temp("partial.xlsx");
    write(&path, &with_three_bad_rows());

    let report = import_file(&s, &path, Mode::Partial).await.unwrap();
    assert_exactly_the_three(&report);
    assert_eq!(report.stored, 997);
    assert_eq!(s.list(None, None).await.unwrap().len(), 997);
    let observed = s.list(None, Some(ActivityKind::LessonObservation)).await.unwrap();
    let first = observed.iter().find(|a| a.body.topic.as_deref() == Some("第 0 课")).unwrap();
    assert_eq!((first.body.teacher.as_deref(), first.body.duration_minutes), (Some("李老师"), Some(45)));

    // Importing the same file again stores nothing twice.
    let again = import_file(&s, &path, Mode::Partial).await.unwrap();
    assert_eq!((again.stored, again.plan.already.len(), again.plan.bad.len()), (0, 997, 3));
    assert_eq!(s.list(None, None).await.unwrap().len(), 997);

    let errors = report.errors_file.clone().unwrap();
    assert!(errors.to_string_lossy().ends_with("partial.errors.xlsx"));
    let mut grids = read_workbook(&errors).unwrap();
    let rows: Vec<(String, String)> = grids
        .iter()
        .flat_map(|g| g.rows[1..].iter().map(|r| (g.name.clone(), r.last().cloned().unwrap_or_default())))
        .collect();
    let expected: Vec<(String, String)> =
        BAD.iter().map(|(s, r, _, _)| (s.to_string(), r.to_string())).collect();
    assert_eq!(rows, expected, "the three bad rows, with their original row numbers");
    for g in &grids {
        let reason = g.rows[0].iter().position(|h| h == "错误原因").unwrap();
        assert!(!g.rows[1][reason].is_empty());
    }

    set(&mut grids, "听课", 2, "授课教师", "张老师"); // row 101 is i = 99: 张老师
    set(&mut grids, "讲座", 2, "时长（分钟）", "90");
    set(&mut grids, "培训", 2, "实到人数", "38");
    write(&errors, &grids);
    let fixed = import_file(&s, &errors, Mode::AllOrNothing).await.unwrap();
    assert!(fixed.plan.is_clean(), "{:?}", fixed.plan.problems().collect::<Vec<_>>());
    assert_eq!(fixed.stored, 3);
    assert_eq!(s.list(None, None).await.unwrap().len(), 1000);

    // The corrected original now holds nothing new either.
    write(&path, &workbook());
    let whole = import_file(&s, &path, Mode::AllOrNothing).await.unwrap();
    assert_eq!((whole.stored, whole.plan.already.len()), (0, 1000));
}
