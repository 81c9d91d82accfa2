//! Report tables as .xlsx workbooks: Chinese headers, frozen header row, column widths
//! that fit the content (CJK characters counted double).

use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// One sheet: a name, headers and rows of cells.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Table {
    /// The sheet's name.
    pub name: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows; numbers are written as numbers.
    pub rows: Vec<Vec<Cell>>,
}

/// A cell; in JSON a string or a number, so a web page shows exactly what the workbook holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Number(n as f64)
    }
}

impl From<u64> for Cell {
    fn from(n: u64) -> Self {
        Cell::Number(n as f64)
    }
}

impl From<u32> for Cell {
    fn from(n: u32) -> Self {
        Cell::Number(f64::from(n))
    }
}

impl From<usize> for Cell {
    fn from(n: usize) -> Self {
        Cell::Number(n as f64)
    }
}

fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// The workbook's bytes.
pub fn to_xlsx(tables: &[Table]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    for t in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(&t.name)?;
        let mut widths: Vec<usize> = t.headers.iter().map(|h| display_width(h)).collect();
        for (c, h) in t.headers.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, h, &bold)?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, col) = (r as u32 + 1, c as u16);
                let w = match cell {
                    Cell::Text(s) => {
                        sheet.write_string(r, col, s)?;
                        display_width(s)
                    }
                    Cell::Number(n) => {
                        sheet.write_number(r, col, *n)?;
                        format!("{n}").len()
                    }
                };
                if let Some(m) = widths.get_mut(c) {
                    *m = (*m).max(w);
                }
            }
        }
        for (c, w) in widths.iter().enumerate() {
            sheet.set_column_width(c as u16, (*w as f64 + 2.0).min(60.0))?;
        }
        sheet.set_freeze_panes(1, 0)?;
    }
    book.save_to_buffer()
}

impl crate::Compliance {
    /// The report as tables: every person and quota, then the roll-up.
    pub fn tables(&self) -> Vec<Table> {
        let rows = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.role.label().into(),
                    r.person_id.clone().into(),
                    r.name.clone().into(),
                    r.schools.join("、").into(),
                    r.subjects.join("、").into(),
                    r.quota.clone().into(),
                    r.target.into(),
                    r.actual.into(),
                    r.missing.into(),
                    r.projected.into(),
                    (if r.actual >= r.target {
                        "已完成"
                    } else if r.on_pace {
                        "进度正常"
                    } else {
                        "落后"
                    })
                    .into(),
                ]
            })
            .collect();
        let rollup = self
            .rollup
            .iter()
            .map(|g| {
                vec![
                    g.dimension.into(),
                    g.code.clone().into(),
                    g.name.clone().into(),
                    g.people.into(),
                    g.behind.into(),
                    g.checks.into(),
                    g.checks_behind.into(),
                ]
            })
            .collect();
        let h = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect();
        vec![
            Table {
                name: "考核进度".into(),
                headers: h(&[
                    "角色",
                    "编号",
                    "姓名",
                    "学校",
                    "学科",
                    "指标",
                    "目标",
                    "已完成",
                    "尚缺",
                    "按进度预计",
                    "状态",
                ]),
                rows,
            },
            Table {
                name: "汇总".into(),
                headers: h(&["维度", "代码", "名称", "人数", "落后人数", "指标项", "落后项"]),
                rows: rollup,
            },
        ]
    }
}
