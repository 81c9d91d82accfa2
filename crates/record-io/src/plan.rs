//! From a workbook's grids to records: one record per row through the domain's own
//! parser (`Activity::set_text`) and rules (`validate`, `Roster::check_activity`), with
//! every bad row located by sheet, row and column. No I/O.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use uuid::{Builder, Uuid};
use yanpei_domain::roster::Roster;
use yanpei_domain::{
    Activity, ActivityDraft, ActivityKind, Calendar, Field, SchoolCode, Semester, Term, ValidationError,
};

use crate::book::Grid;
use crate::layout::{EXAMPLE_MARK, GUIDE_SHEET, Header, label, parse_header};

/// Where a row is: its sheet and the spreadsheet's row number (the header is usually row 1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowRef {
    /// The sheet's name.
    pub sheet: String,
    /// The row number as the spreadsheet shows it.
    pub row: usize,
}

impl fmt::Display for RowRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "工作表「{}」第 {} 行", self.sheet, self.row)
    }
}

/// Something wrong with a row (or, at the header row, with a sheet's columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Where.
    pub at: RowRef,
    /// The column's header as the sheet names it (e.g. 授课教师), or empty for the whole row.
    pub column: String,
    /// What is wrong, in Chinese.
    pub reason: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at)?;
        if !self.column.is_empty() {
            write!(f, "「{}」", self.column)?;
        }
        write!(f, "：{}", self.reason)
    }
}

/// A row that could not become a record, with its cells, for the error workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Where.
    pub at: RowRef,
    /// The row's cells as read.
    pub cells: Vec<String>,
    /// Every problem found in it.
    pub problems: Vec<RowProblem>,
}

/// What importing a workbook would do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Good rows that are new records.
    pub new: Vec<(RowRef, Activity)>,
    /// Rows already imported (same content) or already in the store (same 记录编号, unchanged).
    pub already: Vec<RowRef>,
    /// The template's example rows, skipped.
    pub examples: Vec<RowRef>,
    /// Rows that cannot be imported, in sheet and row order.
    pub bad: Vec<BadRow>,
    /// Problems with a sheet's columns: no row of such a sheet is read.
    pub sheet_problems: Vec<RowProblem>,
    /// The header row of each sheet that has bad rows, for the error workbook.
    pub headers: BTreeMap<String, Vec<String>>,
}

impl Plan {
    /// Every problem, sheets' first, then rows' in order.
    pub fn problems(&self) -> impl Iterator<Item = &RowProblem> {
        self.sheet_problems.iter().chain(self.bad.iter().flat_map(|b| b.problems.iter()))
    }

    /// Whether every row can be imported.
    pub fn is_clean(&self) -> bool {
        self.sheet_problems.is_empty() && self.bad.is_empty()
    }
}

/// What the importer checks rows against.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The node's school: every row becomes a record of it.
    pub school: &'a SchoolCode,
    /// The node's part of the roster, when it holds one.
    pub roster: Option<&'a Roster>,
    /// Every record the node holds (tombstones included), by id.
    pub existing: &'a BTreeMap<Uuid, Activity>,
}

/// The id a row's record gets: a UUIDv7 whose time is the activity's date and whose other
/// bits are the SHA-256 of the school, the kind and every filled-in field as normalised text.
/// The same content gives the same id, so importing the same sheet twice adds nothing.
pub fn content_id(a: &Activity) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"yanpei-record-io/1\0");
    h.update(a.school.as_str().as_bytes());
    h.update([0]);
    h.update(a.kind.code().as_bytes());
    for &f in Field::ALL {
        if matches!(f, Field::Id | Field::School | Field::Version | Field::Kind | Field::Attachments) {
            continue;
        }
        // Only filled-in fields: a field added to the domain later changes no existing id.
        let t = a.text(f);
        if !t.is_empty() {
            h.update([0x1e]);
            h.update(f.name().as_bytes());
            h.update([0x1f]);
            h.update(t.as_bytes());
        }
    }
    let digest = h.finalize();
    let mut rand = [0u8; 10];
    rand.copy_from_slice(&digest[..10]);
    let millis = a.date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0);
    Builder::from_unix_timestamp_millis(u64::try_from(millis).unwrap_or(0), &rand).into_uuid()
}

struct SheetLayout {
    columns: Vec<(usize, Field)>,
    kind: Option<ActivityKind>,
    /// Per column index, whether the header row names it.
    headed: Vec<bool>,
}

/// A column's letters as Excel shows them: 0 → A, 26 → AA.
pub(crate) fn column_letters(mut c: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(char::from(b'A' + (c % 26) as u8));
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    out.iter().rev().collect()
}

fn layout(grid: &Grid, header_row: usize, problems: &mut Vec<RowProblem>) -> SheetLayout {
    let at = RowRef { sheet: grid.name.clone(), row: header_row + 1 };
    let mut columns: Vec<(usize, Field)> = Vec::new();
    let headed = grid.rows[header_row].iter().map(|h| !h.trim().is_empty()).collect();
    for (c, text) in grid.rows[header_row].iter().enumerate() {
        match parse_header(text) {
            Some(Header::Field(f)) if columns.iter().any(|(_, g)| *g == f) => problems.push(RowProblem {
                at: at.clone(),
                column: text.clone(),
                reason: format!("「{}」列出现了两次", f.label()),
            }),
            Some(Header::Field(Field::School | Field::Version | Field::Attachments)) => {
                problems.push(RowProblem {
                    at: at.clone(),
                    column: text.clone(),
                    reason: "此列由系统填写，导入时不能填；请删去这一列".into(),
                })
            }
            Some(Header::Field(f)) => columns.push((c, f)),
            Some(Header::Ignored | Header::Blank) => {}
            None => problems.push(RowProblem {
                at: at.clone(),
                column: text.clone(),
                reason: "无法识别的列；各类型可用的列见「说明」工作表".into(),
            }),
        }
    }
    let kind = grid.name.parse::<ActivityKind>().ok();
    if kind.is_none() && !columns.iter().any(|(_, f)| *f == Field::Kind) {
        problems.push(RowProblem {
            at,
            column: String::new(),
            reason: format!(
                "工作表名「{}」不是活动类型，表中也没有「活动类型」列：请把工作表命名为活动类型（如 听课），或加一列「活动类型」",
                grid.name
            ),
        });
    }
    SheetLayout { columns, kind, headed }
}

fn cell(row: &[String], c: usize) -> &str {
    row.get(c).map(String::as_str).unwrap_or("")
}

/// Turns every sheet into records or located problems. Sheets named 说明 and empty
/// sheets are skipped; so are blank rows and the template's example rows.
pub fn plan(grids: &[Grid], ctx: &Context<'_>) -> Plan {
    let mut plan = Plan::default();
    let mut seen: HashMap<Uuid, RowRef> = HashMap::new();
    for grid in grids {
        if grid.name.trim() == GUIDE_SHEET {
            continue;
        }
        let Some(header_row) = grid.rows.iter().position(|r| r.iter().any(|c| !c.is_empty())) else {
            continue;
        };
        let before = plan.sheet_problems.len();
        let layout = layout(grid, header_row, &mut plan.sheet_problems);
        if plan.sheet_problems.len() > before {
            continue;
        }
        for (i, row) in grid.rows.iter().enumerate().skip(header_row + 1) {
            if row.iter().all(String::is_empty) {
                continue;
            }
            let at = RowRef { sheet: grid.name.clone(), row: i + 1 };
            let notes = layout.columns.iter().find(|(_, f)| *f == Field::Notes).map(|(c, _)| cell(row, *c));
            if notes.is_some_and(|n| n.starts_with(EXAMPLE_MARK)) {
                plan.examples.push(at);
                continue;
            }
            match read_row(row, &layout, &at, ctx, &mut seen) {
                Ok(Some(a)) => plan.new.push((at, a)),
                Ok(None) => plan.already.push(at),
                Err(problems) => {
                    plan.headers.entry(grid.name.clone()).or_insert_with(|| grid.rows[header_row].clone());
                    plan.bad.push(BadRow { at, cells: row.clone(), problems });
                }
            }
        }
    }
    plan
}

/// One row: `Ok(Some)` a new record, `Ok(None)` one the node already has.
fn read_row(
    row: &[String],
    layout: &SheetLayout,
    at: &RowRef,
    ctx: &Context<'_>,
    seen: &mut HashMap<Uuid, RowRef>,
) -> Result<Option<Activity>, Vec<RowProblem>> {
    let problem =
        |column: &str, reason: String| RowProblem { at: at.clone(), column: column.to_owned(), reason };
    let value = |f: Field| layout.columns.iter().find(|(_, g)| *g == f).map(|(c, _)| cell(row, *c));
    let kind = match value(Field::Kind).filter(|k| !k.is_empty()) {
        Some(k) => {
            k.parse::<ActivityKind>().map_err(|e| vec![problem(Field::Kind.label(), e.to_string())])?
        }
        None => layout.kind.ok_or_else(|| vec![problem(Field::Kind.label(), "请填写活动类型".into())])?,
    };
    let header = |f: Field| label(kind.family(), f).to_owned();
    let unheaded = unheaded_cells(row, layout, &problem);
    if !unheaded.is_empty() {
        return Err(unheaded);
    }

    // A row exported with its 记录编号 is checked against the record the node holds.
    if let Some(id) = value(Field::Id).filter(|t| !t.is_empty()) {
        return read_exported_row(id, row, layout, ctx, &problem, &header);
    }

    let date = value(Field::Date).unwrap_or("");
    if date.is_empty() {
        return Err(vec![problem(&header(Field::Date), format!("{kind}记录必须填写日期"))]);
    }
    // The 日期 cell sets the real date and semester before anything is checked.
    let (Some(semester), Some(day)) = (Semester::new(2000, Term::First), NaiveDate::from_ymd_opt(2000, 9, 1))
    else {
        return Err(vec![problem("", "内部错误：无法建立学期".into())]);
    };
    let mut a = Activity {
        id: Uuid::nil(),
        school: ctx.school.clone(),
        semester,
        date: day,
        kind,
        version: 1,
        deleted: false,
        body: ActivityDraft::default(),
    };
    let calendar = ctx.roster.map(Roster::calendar).unwrap_or_default();
    let mut errors = Vec::new();
    fill(&mut a, row, layout, &calendar, &mut errors, &header);
    if !errors.is_empty() {
        return Err(errors.into_iter().map(|(c, r)| problem(&c, r)).collect());
    }
    a.id = content_id(&a);
    let column = |e: &ValidationError| {
        if layout.columns.iter().any(|(_, f)| *f == e.field) {
            header(e.field)
        } else {
            e.field.label().to_owned()
        }
    };
    a.validate().map_err(|e| vec![problem(&column(&e), e.reason.clone())])?;
    match ctx.roster {
        Some(r) => r.check_activity(&a),
        None => calendar.check_activity(&a),
    }
    .map_err(|e| vec![problem(&column(&e), e.reason.clone())])?;
    if ctx.existing.contains_key(&a.id) {
        return Ok(None);
    }
    if let Some(first) = seen.get(&a.id) {
        return Err(vec![problem("", format!("与{first}内容完全相同；同一条记录只导入一次"))]);
    }
    seen.insert(a.id, at.clone());
    Ok(Some(a))
}

/// A problem for every cell with content under no header.
fn unheaded_cells(
    row: &[String],
    layout: &SheetLayout,
    problem: &impl Fn(&str, String) -> RowProblem,
) -> Vec<RowProblem> {
    row.iter()
        .enumerate()
        .filter(|(c, v)| !v.is_empty() && !layout.headed.get(*c).copied().unwrap_or(false))
        .map(|(c, _)| {
            problem("", format!("{} 列有内容但没有表头，无法导入；请补上表头或删去内容", column_letters(c)))
        })
        .collect()
}

/// A row exported with its 记录编号 (`id`): `Ok(None)` when it equals the record the
/// node holds, else the problem (no such record, or content that differs from it).
fn read_exported_row(
    id: &str,
    row: &[String],
    layout: &SheetLayout,
    ctx: &Context<'_>,
    problem: &impl Fn(&str, String) -> RowProblem,
    header: &impl Fn(Field) -> String,
) -> Result<Option<Activity>, Vec<RowProblem>> {
    let col = header(Field::Id);
    let id = Uuid::try_parse(id).map_err(|_| vec![problem(&col, format!("「{id}」不是记录编号"))])?;
    let Some(stored) = ctx.existing.get(&id) else {
        return Err(vec![problem(&col, format!("本节点没有编号为 {id} 的记录；新增记录请把记录编号留空"))]);
    };
    let mut a = stored.clone();
    let calendar = ctx.roster.map(Roster::calendar).unwrap_or_default();
    let mut errors = Vec::new();
    fill(&mut a, row, layout, &calendar, &mut errors, header);
    if !errors.is_empty() {
        return Err(errors.into_iter().map(|(c, r)| problem(&c, r)).collect());
    }
    if &a == stored {
        Ok(None)
    } else {
        Err(vec![problem(
            &col,
            format!(
                "记录 {id} 已在本节点，本行内容与它不同：导入只新增记录，修改已有记录请用 yanpei node edit，或清空记录编号作为新记录导入"
            ),
        )])
    }
}

/// Sets every column's field from its cell: 日期 first (it works out the 学期 by the
/// county's calendar), then 学期 (a filled-in 学期 wins), then the rest in column order.
/// Collects every cell's error.
fn fill(
    a: &mut Activity,
    row: &[String],
    layout: &SheetLayout,
    calendar: &Calendar,
    errors: &mut Vec<(String, String)>,
    header: &dyn Fn(Field) -> String,
) {
    let rank = |f: Field| match f {
        Field::Date => 0,
        Field::Semester => 1,
        _ => 2,
    };
    let mut cols: Vec<&(usize, Field)> =
        layout.columns.iter().filter(|(_, f)| !matches!(f, Field::Id | Field::Kind)).collect();
    cols.sort_by_key(|(c, f)| (rank(*f), *c));
    for &&(c, f) in &cols {
        let text = cell(row, c);
        if f == Field::Semester && text.is_empty() {
            continue;
        }
        if let Err(e) = a.set_text_in(calendar, f, text) {
            errors.push((header(f), e.reason));
        }
    }
}
