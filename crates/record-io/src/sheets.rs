//! The workbooks this crate writes: a template per kind with its 说明 sheet, the export
//! of a school's records, and the error workbook of a partial import.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use uuid::Uuid;
use yanpei_domain::{Activity, ActivityKind, Field, SchoolCode, Semester, example_draft};

use crate::RecordIoError;
use crate::book::{OutSheet, write_workbook};
use crate::layout::{EXAMPLE_MARK, GUIDE_SHEET, REASON_HEADER, SOURCE_ROW_HEADER, columns, help};
use crate::plan::Plan;

const GENERAL: &[&str] = &[
    "每种活动类型一个工作表，工作表名就是活动类型；一行一条记录，从表头下一行起填写。",
    "列名后带 * 的必须填写，其余可不填；请不要改动表头。日期写成 2024-10-08，时间写成 14:30。",
    "灰色斜体的示例行（备注以「【示例】」开头）导入时跳过，可以删去，也可以留着。",
    "名单类的列（参与人员、缺席人员、相关学校）多项用 、 或逗号分隔；相关学校填学校代码。",
    "导入：yanpei node import 文件.xlsx。只要有一行出错就不导入任何记录，并列出每个出错的工作表、行号、列和原因。",
    "加 --partial 则导入正确的行，出错的行连同「错误原因」写入 文件.errors.xlsx，改正后再导入那个文件即可。",
    "重复导入同一张表不会重复记录：记录编号按行的内容生成，内容完全相同的行只记一次。导出的表带「记录编号」列，再导入时只核对不新增。",
];

/// The 说明 sheet: general rules, then every column of every kind with how to fill it in
/// and the example's value.
fn guide(kinds: &[ActivityKind], examples: &[(ActivityKind, Activity)]) -> OutSheet {
    let mut rows: Vec<Vec<String>> = GENERAL
        .iter()
        .enumerate()
        .map(|(i, t)| vec!["总说明".into(), (i + 1).to_string(), String::new(), (*t).into()])
        .collect();
    for &kind in kinds {
        let family = kind.family();
        let example = examples.iter().find(|(k, _)| *k == kind).map(|(_, a)| a);
        for c in columns(kind) {
            let sample = match (c.field, example) {
                (Field::Notes | Field::Semester, _) | (_, None) => String::new(),
                (f, Some(a)) => a.text(f),
            };
            let required = if c.required { "必填" } else { "" };
            rows.push(vec![
                kind.label().into(),
                c.header.trim_end_matches('*').into(),
                required.into(),
                help(family, c.field),
                sample,
            ]);
        }
    }
    OutSheet {
        name: GUIDE_SHEET.into(),
        header: ["工作表", "列", "必填", "填写说明", "示例"].map(String::from).to_vec(),
        rows,
        prose: true,
        ..Default::default()
    }
}

fn example(kind: ActivityKind, partner: &SchoolCode, date: NaiveDate) -> Option<Activity> {
    let semester = Semester::containing(date)?;
    let school: SchoolCode =
        if partner.as_str() == "EXAMPLE" { "EXAMPLE2" } else { "EXAMPLE" }.parse().ok()?;
    Some(Activity {
        id: Uuid::nil(),
        school,
        semester,
        date,
        kind,
        version: 1,
        deleted: false,
        body: example_draft(kind, partner),
    })
}

/// Writes a template: the 说明 sheet, then one sheet per kind with exactly the columns the
/// kind allows (required ones marked `*`) and one grey example row dated `date`, marked
/// 【示例】 in 备注 so the importer skips it. `partner` fills the example's 相关学校.
pub fn write_template(
    path: &Path,
    kinds: &[ActivityKind],
    partner: &SchoolCode,
    date: NaiveDate,
) -> Result<(), RecordIoError> {
    let examples: Vec<(ActivityKind, Activity)> =
        kinds.iter().filter_map(|&k| example(k, partner, date).map(|a| (k, a))).collect();
    let mut sheets = vec![guide(kinds, &examples)];
    for &kind in kinds {
        let cols = columns(kind);
        let mut sheet = OutSheet {
            name: kind.label().into(),
            header: cols.iter().map(|c| c.header.clone()).collect(),
            ..Default::default()
        };
        if let Some((_, a)) = examples.iter().find(|(k, _)| *k == kind) {
            let row = cols
                .iter()
                .map(|c| match c.field {
                    Field::Notes => format!("{EXAMPLE_MARK}导入时跳过此行，请在下面各行填写"),
                    Field::Semester => String::new(),
                    f => a.text(f),
                })
                .collect();
            sheet.rows.push(row);
            sheet.examples.push(0);
        }
        sheets.push(sheet);
    }
    write_workbook(path, &sheets)
}

/// Writes records, one sheet per kind (in the taxonomy's order) with the template's columns
/// and a last 记录编号 column, oldest first; then the 说明 sheet. Answers the count per kind.
pub fn write_records(path: &Path, records: &[Activity]) -> Result<Vec<(ActivityKind, usize)>, RecordIoError> {
    let mut sheets = Vec::new();
    let mut counts = Vec::new();
    for &kind in ActivityKind::ALL {
        let mut of_kind: Vec<&Activity> = records.iter().filter(|a| a.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        of_kind.sort_by_key(|a| (a.date, a.id));
        let mut cols: Vec<Field> = columns(kind).iter().map(|c| c.field).collect();
        cols.push(Field::Id);
        let mut header: Vec<String> = columns(kind).into_iter().map(|c| c.header).collect();
        header.push(Field::Id.label().into());
        let rows = of_kind.iter().map(|a| cols.iter().map(|&f| a.text(f)).collect()).collect();
        sheets.push(OutSheet { name: kind.label().into(), header, rows, ..Default::default() });
        counts.push((kind, of_kind.len()));
    }
    let kinds: Vec<ActivityKind> = counts.iter().map(|(k, _)| *k).collect();
    sheets.push(guide(&kinds, &[]));
    write_workbook(path, &sheets)?;
    Ok(counts)
}

/// Where a partial import of `path` writes its bad rows: `x.xlsx` → `x.errors.xlsx`; an
/// error workbook being re-imported is rewritten in place with the rows still bad.
pub fn errors_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = if stem.ends_with(".errors") { format!("{stem}.xlsx") } else { format!("{stem}.errors.xlsx") };
    path.with_file_name(name)
}

/// Writes the bad rows of `plan`, each sheet with its original header plus 错误原因 and 原行号,
/// so the clerk can fix them there and import that file.
pub fn write_errors(path: &Path, plan: &Plan) -> Result<(), RecordIoError> {
    let mut sheets: Vec<OutSheet> = Vec::new();
    for bad in &plan.bad {
        let sheet = match sheets.iter().position(|s| s.name == bad.at.sheet) {
            Some(i) => &mut sheets[i],
            None => {
                let mut header = plan.headers.get(&bad.at.sheet).cloned().unwrap_or_default();
                header.retain(|h| h != REASON_HEADER && h != SOURCE_ROW_HEADER);
                header.extend([REASON_HEADER.to_owned(), SOURCE_ROW_HEADER.to_owned()]);
                sheets.push(OutSheet { name: bad.at.sheet.clone(), header, ..Default::default() });
                let last = sheets.len() - 1;
                &mut sheets[last]
            }
        };
        let width = sheet.header.len() - 2;
        let original = plan.headers.get(&bad.at.sheet).cloned().unwrap_or_default();
        // Drop the old reason columns of a re-imported error workbook.
        let mut cells: Vec<String> = bad
            .cells
            .iter()
            .enumerate()
            .filter(|(i, _)| original.get(*i).is_none_or(|h| h != REASON_HEADER && h != SOURCE_ROW_HEADER))
            .map(|(_, c)| c.clone())
            .collect();
        cells.resize(width, String::new());
        let reasons: Vec<String> =
            bad.problems
                .iter()
                .map(|p| {
                    if p.column.is_empty() {
                        p.reason.clone()
                    } else {
                        format!("{}：{}", p.column, p.reason)
                    }
                })
                .collect();
        cells.push(reasons.join("；"));
        cells.push(bad.at.row.to_string());
        sheet.rows.push(cells);
    }
    write_workbook(path, &sheets)
}
