//! Roster files: a folder of CSV files, one per sheet (`学校.csv`, `结对.csv`, ...),
//! or one `.xlsx` workbook with the same sheets. Cells become
//! [`yanpei_domain::roster::Sheet`]s; parsing and validation are the domain's.
//!
//! CSV is read as UTF-8 (with or without BOM) or, failing that, as GBK — what
//! Excel on a Chinese Windows saves — and written as UTF-8 with a BOM so Excel
//! opens it in Chinese.

use std::fmt;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx, open_workbook};
use rust_xlsxwriter::{Format, Workbook};
use yanpei_domain::roster::{Roster, Sheet, TableProblem, roster_from_sheets};

/// What can go wrong reading or writing a roster file.
#[derive(Debug, thiserror::Error)]
pub enum RosterIoError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The path is neither a folder nor an .xlsx file.
    #[error("{0}: 名册须是一个装有 CSV 文件的文件夹，或一个 .xlsx 文件")]
    UnknownKind(PathBuf),
    /// The roster has problems; nothing was changed.
    #[error("名册有 {} 处问题，未作任何更改：\n{}", .0.len(), ProblemList(.0))]
    Invalid(Vec<LocatedProblem>),
}

fn file_err(path: &Path, e: impl fmt::Display) -> RosterIoError {
    RosterIoError::File { path: path.to_owned(), message: e.to_string() }
}

/// A roster problem with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedProblem {
    /// The file (for CSV, the sheet's own file).
    pub file: String,
    /// The problem, with sheet, row and column.
    pub problem: TableProblem,
}

impl fmt::Display for LocatedProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.problem;
        write!(f, "{} › 工作表「{}」第 {} 行", self.file, p.sheet, p.row)?;
        if !p.column.is_empty() {
            write!(f, "「{}」列", p.column)?;
        }
        write!(f, "：{}", p.message)
    }
}

struct ProblemList<'a>(&'a [LocatedProblem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

fn is_xlsx(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// Reads every sheet of a roster folder or workbook.
pub fn read_sheets(path: &Path) -> Result<Vec<Sheet>, RosterIoError> {
    if path.is_dir() {
        read_csv_dir(path)
    } else if is_xlsx(path) {
        read_xlsx(path)
    } else {
        Err(RosterIoError::UnknownKind(path.to_owned()))
    }
}

/// Reads and validates a roster: every problem is reported, with file, sheet, row and column.
pub fn load_roster(path: &Path) -> Result<Roster, RosterIoError> {
    let sheets = read_sheets(path)?;
    roster_from_sheets(&sheets).map_err(|problems| {
        RosterIoError::Invalid(
            problems
                .into_iter()
                .map(|problem| LocatedProblem { file: file_of(path, &problem.sheet), problem })
                .collect(),
        )
    })
}

fn file_of(path: &Path, sheet: &str) -> String {
    if path.is_dir() {
        path.join(format!("{sheet}.csv")).display().to_string()
    } else {
        path.display().to_string()
    }
}

/// Writes sheets as a folder of CSV files, or as a workbook if `path` ends in `.xlsx`.
pub fn write_sheets(path: &Path, sheets: &[Sheet]) -> Result<(), RosterIoError> {
    if is_xlsx(path) { write_xlsx(path, sheets) } else { write_csv_dir(path, sheets) }
}

/// Parses CSV text (UTF-8, BOM optional) into a sheet.
pub fn sheet_from_csv(name: &str, text: &str) -> Result<Sheet, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        rows.push(record.iter().map(|c| c.trim().to_owned()).collect());
    }
    Ok(Sheet { name: name.to_owned(), rows })
}

/// Parses the bytes of a CSV file (UTF-8 with or without BOM, else GBK) into a sheet:
/// what reading a roster folder does with each file.
pub fn sheet_from_csv_bytes(name: &str, bytes: &[u8]) -> Result<Sheet, String> {
    sheet_from_csv(name, &decode(bytes))
}

fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::GBK.decode(bytes).0.into_owned(),
    }
}

fn read_csv_dir(dir: &Path) -> Result<Vec<Sheet>, RosterIoError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| file_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
        .collect();
    entries.sort();
    let mut sheets = Vec::new();
    for path in entries {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = std::fs::read(&path).map_err(|e| file_err(&path, e))?;
        sheets.push(sheet_from_csv_bytes(&name, &bytes).map_err(|e| file_err(&path, e))?);
    }
    Ok(sheets)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => t.date().format("%Y-%m-%d").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.chars().take(10).collect(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn read_xlsx(path: &Path) -> Result<Vec<Sheet>, RosterIoError> {
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| file_err(path, e))?;
    let mut sheets = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).map_err(|e| file_err(path, e))?;
        // Keep the spreadsheet's own row numbers: pad rows above the used range.
        let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
        let first_col = range.start().map(|(_, c)| c as usize).unwrap_or(0);
        let mut rows: Vec<Vec<String>> = vec![Vec::new(); first_row];
        for row in range.rows() {
            let mut cells = vec![String::new(); first_col];
            cells.extend(row.iter().map(cell_text));
            rows.push(cells);
        }
        sheets.push(Sheet { name, rows });
    }
    Ok(sheets)
}

fn write_csv_dir(dir: &Path, sheets: &[Sheet]) -> Result<(), RosterIoError> {
    std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    for sheet in sheets {
        let path = dir.join(format!("{}.csv", sheet.name));
        let mut out = Vec::from("\u{feff}".as_bytes());
        {
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(&mut out);
            for row in &sheet.rows {
                w.write_record(row).map_err(|e| file_err(&path, e))?;
            }
            w.flush().map_err(|e| file_err(&path, e))?;
        }
        std::fs::write(&path, out).map_err(|e| file_err(&path, e))?;
    }
    Ok(())
}

fn write_xlsx(path: &Path, sheets: &[Sheet]) -> Result<(), RosterIoError> {
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_background_color("#DDEBF7");
    for sheet in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&sheet.name).map_err(|e| file_err(path, e))?;
        let columns = sheet.rows.iter().map(Vec::len).max().unwrap_or(0);
        for col in 0..columns {
            // Width from the longest cell; a Chinese character counts double.
            let width = sheet
                .rows
                .iter()
                .filter_map(|r| r.get(col))
                .map(|c| c.chars().map(|ch| if ch.is_ascii() { 1.0 } else { 2.0 }).sum::<f64>())
                .fold(6.0, f64::max);
            let col16 = u16::try_from(col).map_err(|e| file_err(path, e))?;
            ws.set_column_width(col16, (width + 2.0).min(60.0)).map_err(|e| file_err(path, e))?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            let r32 = u32::try_from(r).map_err(|e| file_err(path, e))?;
            for (c, cell) in row.iter().enumerate() {
                let c16 = u16::try_from(c).map_err(|e| file_err(path, e))?;
                if r == 0 {
                    ws.write_string_with_format(r32, c16, cell, &header)
                } else {
                    ws.write_string(r32, c16, cell)
                }
                .map_err(|e| file_err(path, e))?;
            }
        }
    }
    wb.save(path).map_err(|e| file_err(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(name: &str, rows: &[&[&str]]) -> Sheet {
        Sheet {
            name: name.into(),
            rows: rows.iter().map(|r| r.iter().map(|c| (*c).to_owned()).collect()).collect(),
        }
    }

    fn temp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("yanpei-roster-io-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn csv_and_xlsx_round_trip_cells() {
        let sheets = vec![
            sheet(
                "学校",
                &[
                    &["学校代码", "学校名称", "教学质量"],
                    &["CGZ1", "城关第一中学", "92"],
                    &["T01Z1", "平安第一中学, 分校", ""],
                ],
            ),
            sheet("结对", &[&["帮扶校代码", "受援校代码"], &["CGZ1", "T01Z1"]]),
        ];
        let dir = temp("csv");
        write_sheets(&dir, &sheets).unwrap();
        assert_eq!(read_sheets(&dir).unwrap().len(), 2);
        let back = read_sheets(&dir).unwrap();
        let school = back.iter().find(|s| s.name == "学校").unwrap();
        assert_eq!(school.rows, sheets[0].rows);

        let book = temp("book.xlsx");
        write_sheets(&book, &sheets).unwrap();
        let back = read_sheets(&book).unwrap();
        assert_eq!(back.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["学校", "结对"]);
        // Trailing empty cells are not kept by a workbook; compare what matters.
        assert_eq!(back[0].rows[1], ["CGZ1", "城关第一中学", "92"]);
        assert_eq!(back[0].rows[2][..2], ["T01Z1", "平安第一中学, 分校"]);
    }

    #[test]
    fn gbk_csv_from_excel_is_read() {
        let dir = temp("gbk");
        std::fs::create_dir_all(&dir).unwrap();
        let (bytes, _, _) = encoding_rs::GBK.encode("学校代码,学校名称\r\nCGZ1,城关第一中学\r\n");
        std::fs::write(dir.join("学校.csv"), &bytes).unwrap();
        let sheets = read_sheets(&dir).unwrap();
        assert_eq!(sheets[0].rows[1], ["CGZ1", "城关第一中学"]);
    }

    #[test]
    fn a_file_that_is_neither_is_refused() {
        let p = temp("roster.txt");
        std::fs::write(&p, "x").unwrap();
        assert!(matches!(read_sheets(&p), Err(RosterIoError::UnknownKind(_))));
    }
}
