//! The sheet logic end to end without a store: template → rows → plan, export → re-import.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use uuid::Uuid;
use yanpei_domain::{Activity, ActivityKind, Field, SchoolCode, Semester, example_draft};

use crate::book::{Grid, read_workbook};
use crate::layout::{GUIDE_SHEET, columns};
use crate::plan::{Context, plan};
use crate::sheets::{errors_path, write_errors, write_records, write_template};

fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yanpei-record-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 10, 9).unwrap()
}

fn ctx<'a>(school: &'a SchoolCode, existing: &'a BTreeMap<Uuid, Activity>) -> Context<'a> {
    Context { school, roster: None, existing }
}

/// A kind's sheet with a header and one row per draft, as a clerk would fill it.
fn filled(kind: ActivityKind, rows: &[Vec<(Field, String)>]) -> Grid {
    let cols = columns(kind);
    let mut grid =
        Grid { name: kind.label().into(), rows: vec![cols.iter().map(|c| c.header.clone()).collect()] };
    for r in rows {
        grid.rows.push(
            cols.iter()
                .map(|c| r.iter().find(|(f, _)| *f == c.field).map(|(_, t)| t.clone()).unwrap_or_default())
                .collect(),
        );
    }
    grid
}

fn example_row(kind: ActivityKind) -> Vec<(Field, String)> {
    let a = Activity {
        id: Uuid::now_v7(),
        school: code("S01"),
        semester: Semester::containing(date()).unwrap(),
        date: date(),
        kind,
        version: 1,
        deleted: false,
        body: example_draft(kind, &code("S02")),
    };
    columns(kind).iter().map(|c| (c.field, a.text(c.field))).collect()
}

#[test]
fn the_template_has_every_kind_a_guide_and_only_skipped_examples() {
    let path = temp("template.xlsx");
    write_template(&path, ActivityKind::ALL, &code("S02"), date()).unwrap();
    let grids = read_workbook(&path).unwrap();
    assert_eq!(grids[0].name, GUIDE_SHEET);
    assert_eq!(grids.len(), ActivityKind::ALL.len() + 1);
    let observation = grids.iter().find(|g| g.name == "听课").unwrap();
    assert_eq!(&observation.rows[0][..4], ["日期*", "听课人*", "授课教师*", "学科*"]);
    let guide = &grids[0];
    assert!(
        guide
            .rows
            .iter()
            .any(|r| r.first().is_some_and(|c| c == "听课") && r[1] == "授课教师" && r[2] == "必填")
    );
    let (school, existing) = (code("S01"), BTreeMap::new());
    let p = plan(&grids, &ctx(&school, &existing));
    assert!(p.is_clean(), "{:?}", p.problems().collect::<Vec<_>>());
    assert!(p.new.is_empty());
    assert_eq!(p.examples.len(), ActivityKind::ALL.len());
    assert!(p.examples.iter().all(|r| r.row == 2));
}

#[test]
fn every_kind_imports_from_its_sheet_and_the_same_rows_give_the_same_ids() {
    let grids: Vec<Grid> = ActivityKind::ALL.iter().map(|&k| filled(k, &[example_row(k)])).collect();
    let (school, existing) = (code("S01"), BTreeMap::new());
    let first = plan(&grids, &ctx(&school, &existing));
    assert!(first.is_clean(), "{:?}", first.problems().collect::<Vec<_>>());
    assert_eq!(first.new.len(), ActivityKind::ALL.len());
    for (_, a) in &first.new {
        assert_eq!(a.id.get_version_num(), 7);
        assert_eq!(a.school, school);
        a.validate().unwrap();
    }
    let again = plan(&grids, &ctx(&school, &existing));
    let ids = |p: &crate::Plan| p.new.iter().map(|(_, a)| a.id).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&again));
    // Once stored, the same sheet adds nothing.
    let stored: BTreeMap<Uuid, Activity> = first.new.iter().map(|(_, a)| (a.id, a.clone())).collect();
    let third = plan(&grids, &ctx(&school, &stored));
    assert!(third.new.is_empty() && third.is_clean());
    assert_eq!(third.already.len(), ActivityKind::ALL.len());
}

#[test]
fn bad_cells_are_reported_by_row_and_chinese_header() {
    let kind = ActivityKind::LessonObservation;
    let mut bad_teacher = example_row(kind);
    bad_teacher.retain(|(f, _)| *f != Field::Teacher);
    let mut bad_date = example_row(kind);
    bad_date.iter_mut().find(|(f, _)| *f == Field::Date).unwrap().1 = "十月八日".into();
    let mut two_bad = example_row(kind);
    two_bad.iter_mut().find(|(f, _)| *f == Field::DurationMinutes).unwrap().1 = "四十五".into();
    two_bad.iter_mut().find(|(f, _)| *f == Field::StartTime).unwrap().1 = "下午".into();
    let grid = filled(kind, &[example_row(kind), bad_teacher, bad_date, two_bad, example_row(kind)]);
    let (school, existing) = (code("S01"), BTreeMap::new());
    let p = plan(&[grid], &ctx(&school, &existing));
    assert_eq!(p.new.len(), 1);
    let rows: Vec<usize> = p.bad.iter().map(|b| b.at.row).collect();
    assert_eq!(rows, [3, 4, 5, 6]);
    assert_eq!(p.bad[0].problems[0].column, "授课教师");
    assert!(p.bad[0].problems[0].reason.contains("听课记录必须填写授课教师"), "{:?}", p.bad[0]);
    assert_eq!(p.bad[1].problems[0].column, "日期");
    assert_eq!(p.bad[2].problems.len(), 2, "every bad cell of a row is reported");
    assert!(p.bad[3].problems[0].reason.contains("第 2 行内容完全相同"), "{:?}", p.bad[3]);
    let shown = p.bad[0].problems[0].to_string();
    assert_eq!(shown, "工作表「听课」第 3 行「授课教师」：听课记录必须填写授课教师");
}

#[test]
fn unknown_columns_and_sheets_stop_the_sheet() {
    let mut grid = filled(ActivityKind::Lecture, &[example_row(ActivityKind::Lecture)]);
    grid.rows[0].push("心得".into());
    let other = Grid { name: "Sheet1".into(), rows: vec![vec!["日期".into()], vec!["2024-10-09".into()]] };
    let empty = Grid { name: "Sheet2".into(), rows: vec![] };
    let (school, existing) = (code("S01"), BTreeMap::new());
    let p = plan(&[grid, other, empty], &ctx(&school, &existing));
    assert_eq!(p.sheet_problems.len(), 2, "{:?}", p.sheet_problems);
    assert_eq!(p.sheet_problems[0].column, "心得");
    assert!(p.sheet_problems[1].reason.contains("不是活动类型"));
    assert!(p.new.is_empty());
}

#[test]
fn a_mixed_sheet_says_the_kind_per_row() {
    let grid = Grid {
        name: "记录".into(),
        rows: vec![
            vec![
                "活动类型".into(),
                "日期".into(),
                "执行人".into(),
                "课题/主题".into(),
                "授课教师".into(),
                "学科".into(),
            ],
            vec!["讲座".into(), "2024-10-09".into(), "王老师".into(), "大单元教学".into()],
            vec![
                "听课".into(),
                "2024-10-10".into(),
                "王老师".into(),
                String::new(),
                "李老师".into(),
                "语文".into(),
            ],
            vec!["听评课".into(), "2024-10-10".into(), "王老师".into()],
        ],
    };
    let (school, existing) = (code("S01"), BTreeMap::new());
    let p = plan(&[grid], &ctx(&school, &existing));
    let kinds: Vec<ActivityKind> = p.new.iter().map(|(_, a)| a.kind).collect();
    assert_eq!(kinds, [ActivityKind::Lecture, ActivityKind::LessonObservation]);
    assert_eq!(p.bad.len(), 1);
    assert_eq!(p.bad[0].problems[0].column, "活动类型");
}

#[test]
fn an_export_reimports_as_already_there_and_an_edited_row_is_refused() {
    let grids: Vec<Grid> = ActivityKind::ALL.iter().map(|&k| filled(k, &[example_row(k)])).collect();
    let school = code("S01");
    let none = BTreeMap::new();
    let records: Vec<Activity> = plan(&grids, &ctx(&school, &none)).new.into_iter().map(|(_, a)| a).collect();
    let stored: BTreeMap<Uuid, Activity> = records.iter().map(|a| (a.id, a.clone())).collect();
    let path = temp("export.xlsx");
    let counts = write_records(&path, &records).unwrap();
    assert_eq!(counts.len(), ActivityKind::ALL.len());
    let mut back = read_workbook(&path).unwrap();
    let p = plan(&back, &ctx(&school, &stored));
    assert!(p.is_clean(), "{:?}", p.problems().collect::<Vec<_>>());
    assert_eq!(p.already.len(), records.len());
    assert!(p.new.is_empty());
    let sheet = back.iter_mut().find(|g| g.name == "讲座").unwrap();
    let topic = sheet.rows[0].iter().position(|h| h.starts_with("课题/主题")).unwrap();
    sheet.rows[1][topic] = "另一个题目".into();
    let p = plan(&back, &ctx(&school, &stored));
    assert_eq!(p.bad.len(), 1);
    assert_eq!(p.bad[0].problems[0].column, "记录编号");
}

#[test]
fn the_error_workbook_keeps_the_bad_rows_and_reimports_once_fixed() {
    let kind = ActivityKind::Training;
    let mut bad = example_row(kind);
    bad.iter_mut().find(|(f, _)| *f == Field::Present).unwrap().1 = "50".into();
    let grid = filled(kind, &[example_row(kind), bad]);
    let (school, existing) = (code("S01"), BTreeMap::new());
    let p = plan(&[grid], &ctx(&school, &existing));
    assert_eq!((p.new.len(), p.bad.len()), (1, 1));
    let source = temp("training.xlsx");
    let out = errors_path(&source);
    assert!(out.to_string_lossy().ends_with("training.errors.xlsx"));
    assert_eq!(errors_path(&out), out, "an error workbook is rewritten in place");
    write_errors(&out, &p).unwrap();
    let mut back = read_workbook(&out).unwrap();
    assert_eq!(back[0].rows[0].last().map(String::as_str), Some("原行号"));
    assert_eq!(back[0].rows[1].last().map(String::as_str), Some("3"));
    let reason = &back[0].rows[1][back[0].rows[1].len() - 2];
    assert!(reason.starts_with("实到人数：实到 50 人多于应到 40 人"), "{reason}");
    // Fixed in the error workbook, it imports cleanly: the reason columns are ignored.
    let present = back[0].rows[0].iter().position(|h| h.starts_with("实到人数")).unwrap();
    back[0].rows[1][present] = "39".into();
    let p = plan(&back, &ctx(&school, &existing));
    assert!(p.is_clean(), "{:?}", p.problems().collect::<Vec<_>>());
    assert_eq!(p.new.len(), 1);
}

#[test]
fn a_cell_under_no_header_is_a_bad_row_not_a_silent_loss() {
    let kind = ActivityKind::Lecture;
    let mut grid = filled(kind, &[example_row(kind)]);
    let width = grid.rows[0].len();
    grid.rows[1].push("多出来的内容".into());
    let (school, existing) = (code("S01"), BTreeMap::new());
    let p = plan(&[grid], &ctx(&school, &existing));
    assert_eq!(p.bad.len(), 1);
    let letters = crate::plan::column_letters(width);
    assert!(
        p.bad[0].problems[0].reason.starts_with(&format!("{letters} 列有内容但没有表头")),
        "{:?}",
        p.bad[0]
    );
    assert_eq!(crate::plan::column_letters(0), "A");
    assert_eq!(crate::plan::column_letters(25), "Z");
    assert_eq!(crate::plan::column_letters(26), "AA");
    assert_eq!(crate::plan::column_letters(27 * 26), "AAA");
}
