//! The roster's tabular form: the workbook a county clerk fills in, one sheet
//! per list with a header row of Chinese column names. Pure functions; reading
//! and writing the file itself is another crate's business.

use std::fmt;

use super::{Roster, SheetKind, validate, validate::col};

mod parse;
mod write;

#[cfg(test)]
mod tests;

/// One sheet of the workbook: `rows[0]` is the header row, the rest are data rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sheet {
    /// The sheet's name, e.g. 学校.
    pub name: String,
    /// The header row, then the data rows, as text.
    pub rows: Vec<Vec<String>>,
}

/// A problem found reading the workbook, located as a spreadsheet shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProblem {
    /// The sheet's name.
    pub sheet: String,
    /// The 1-based spreadsheet row: the header is row 1, the first data row is
    /// row 2. Row 0 means the sheet as a whole (e.g. a missing sheet).
    pub row: usize,
    /// The column's Chinese header, or "" for the whole row or sheet.
    pub column: String,
    /// What is wrong, in Chinese.
    pub message: String,
}

impl fmt::Display for TableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "「{}」", self.sheet)?;
        if self.row > 0 {
            write!(f, "第 {} 行", self.row)?;
        }
        if !self.column.is_empty() {
            write!(f, "「{}」列", self.column)?;
        }
        write!(f, "：{}", self.message)
    }
}

/// The name of the first sheet, holding the county's name.
pub const COUNTY_SHEET: &str = col::COUNTY_SHEET;

/// The workbook of a roster: the sheet 县 (header 县名, one row with the
/// county's name), then one sheet per [`SheetKind`] in order, named by
/// [`SheetKind::title`] with the headers of [`SheetKind::columns`].
///
/// Lists are joined with 、, flags written 是/否, semesters as their code
/// (2024-2025-1), dates as YYYY-MM-DD, an evaluation as its five scores or five
/// empty cells.
pub fn roster_to_sheets(r: &Roster) -> Vec<Sheet> {
    write::sheets(r)
}

/// Reads a roster from its workbook and validates it.
///
/// Sheets are found by name (unknown sheets are ignored; 学期, 蹲点, 教师 and
/// 师徒结对 may be left out), columns by header in any order (unknown columns
/// are ignored), blank rows are skipped and cells trimmed. Lists in a cell may
/// be separated by 、 , ， ; or ；. Every cell-level problem is collected; only
/// a workbook without any is then checked by [`validate`], whose problems are
/// reported at the spreadsheet row the item came from. The problems come
/// sorted by sheet (in workbook order), row and column.
pub fn roster_from_sheets(sheets: &[Sheet]) -> Result<Roster, Vec<TableProblem>> {
    let mut problems = Vec::new();
    let parsed = parse::parse(sheets, &mut problems);
    if problems.is_empty() {
        for p in validate(&parsed.roster) {
            problems.push(TableProblem {
                sheet: p.sheet.title().to_owned(),
                row: parsed.row(p.sheet, p.index),
                column: p.column.to_owned(),
                message: match p.first {
                    Some(first) => format!("{}（第 {} 行已用过）", p.message, parsed.row(p.sheet, first)),
                    None => p.message,
                },
            });
        }
        if problems.is_empty() {
            return Ok(parsed.roster);
        }
    }
    problems.sort_by_key(|p| {
        let sheet = SheetKind::ALL.iter().find(|k| k.title() == p.sheet);
        let sheet_rank = match sheet {
            _ if p.sheet == COUNTY_SHEET => 0,
            Some(k) => 1 + *k as usize,
            None => usize::MAX,
        };
        let columns = sheet.map_or(&[col::COUNTY][..], |k| k.columns());
        let column_rank = match columns.iter().position(|c| *c == p.column) {
            _ if p.column.is_empty() => 0,
            Some(i) => 1 + i,
            None => usize::MAX,
        };
        (sheet_rank, p.row, column_rank)
    });
    Err(problems)
}

/// The empty workbook a clerk fills in: every sheet with its header row and one
/// example row showing how cells are written.
pub fn template() -> Vec<Sheet> {
    write::sheets(&write::example())
}
