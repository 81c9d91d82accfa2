//! Workbooks as grids of text: reading every sheet of an .xlsx with the spreadsheet's
//! own row numbers, and writing sheets with a header row, widths and text columns.

use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook};
use rust_xlsxwriter::{Format, FormatAlign, Workbook};

use crate::RecordIoError;

/// One sheet as text. `rows[i]` is the spreadsheet's row `i + 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grid {
    /// The sheet's name.
    pub name: String,
    /// Cells as text, trimmed.
    pub rows: Vec<Vec<String>>,
}

/// A sheet to write.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutSheet {
    pub(crate) name: String,
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
    /// Rows (indexes into `rows`) shown as examples: grey italics.
    pub(crate) examples: Vec<usize>,
    /// Wrap long text and keep columns narrower (the 说明 sheet).
    pub(crate) prose: bool,
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> RecordIoError {
    RecordIoError::File { path: path.to_owned(), message: e.to_string() }
}

/// A cell as the text a clerk meant: dates as 2024-10-08, times of day as 14:30,
/// whole numbers without a decimal point.
pub(crate) fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
        Data::DateTime(dt) => match dt.as_datetime() {
            // A time of day alone is a fraction of a day.
            Some(t) if dt.as_f64() < 1.0 => t.time().format("%H:%M").to_string(),
            Some(t) => t.date().format("%Y-%m-%d").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Every sheet of a workbook.
pub fn read_workbook(path: &Path) -> Result<Vec<Grid>, RecordIoError> {
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| file_err(path, e))?;
    let mut grids = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).map_err(|e| file_err(path, e))?;
        // Keep the spreadsheet's own row numbers: pad rows above the used range.
        let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
        let first_col = range.start().map(|(_, c)| c as usize).unwrap_or(0);
        let mut rows: Vec<Vec<String>> = vec![Vec::new(); first_row];
        for row in range.rows() {
            let mut cells = vec![String::new(); first_col];
            cells.extend(row.iter().map(cell_text));
            while cells.last().is_some_and(String::is_empty) {
                cells.pop();
            }
            rows.push(cells);
        }
        grids.push(Grid { name, rows });
    }
    Ok(grids)
}

/// Writes grids whose first row is the header, e.g. a template a program filled in.
pub fn write_grids(path: &Path, grids: &[Grid]) -> Result<(), RecordIoError> {
    let sheets: Vec<OutSheet> = grids
        .iter()
        .map(|g| OutSheet {
            name: g.name.clone(),
            header: g.rows.first().cloned().unwrap_or_default(),
            rows: g.rows.iter().skip(1).cloned().collect(),
            ..Default::default()
        })
        .collect();
    write_workbook(path, &sheets)
}

/// Display width: a Chinese character takes two columns.
fn width(s: &str) -> f64 {
    s.lines()
        .map(|l| l.chars().map(|c| if c.is_ascii() { 1.0 } else { 2.0 }).sum::<f64>())
        .fold(0.0, f64::max)
}

/// Writes sheets: a bold header row (required columns, ending in `*`, in dark red) frozen
/// at the top, every column formatted as text so Excel keeps what the clerk types.
pub(crate) fn write_workbook(path: &Path, sheets: &[OutSheet]) -> Result<(), RecordIoError> {
    let e = |err: rust_xlsxwriter::XlsxError| file_err(path, err);
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_background_color("#DDEBF7").set_align(FormatAlign::Center);
    let required = header.clone().set_font_color("#9C0006");
    let text = Format::new().set_num_format("@");
    let wrapped = text.clone().set_text_wrap().set_align(FormatAlign::Top);
    let example = text.clone().set_italic().set_font_color("#808080");
    for sheet in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&sheet.name).map_err(e)?;
        let columns = sheet.rows.iter().map(Vec::len).chain([sheet.header.len()]).max().unwrap_or(0);
        for col in 0..columns {
            let c16 = u16::try_from(col).map_err(|err| file_err(path, err))?;
            let w = sheet
                .rows
                .iter()
                .filter_map(|r| r.get(col))
                .chain(sheet.header.get(col))
                .map(|s| width(s))
                .fold(8.0, f64::max);
            let max = if sheet.prose { 60.0 } else { 40.0 };
            ws.set_column_width(c16, (w + 2.0).min(max)).map_err(e)?;
            ws.set_column_format(c16, if sheet.prose { &wrapped } else { &text }).map_err(e)?;
        }
        for (c, h) in sheet.header.iter().enumerate() {
            let c16 = u16::try_from(c).map_err(|err| file_err(path, err))?;
            let f = if h.ends_with('*') { &required } else { &header };
            ws.write_string_with_format(0, c16, h, f).map_err(e)?;
        }
        if !sheet.header.is_empty() {
            ws.set_freeze_panes(1, 0).map_err(e)?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            let r32 = u32::try_from(r + 1).map_err(|err| file_err(path, err))?;
            let f = if sheet.examples.contains(&r) {
                &example
            } else if sheet.prose {
                &wrapped
            } else {
                &text
            };
            for (c, cell) in row.iter().enumerate() {
                let c16 = u16::try_from(c).map_err(|err| file_err(path, err))?;
                ws.write_string_with_format(r32, c16, cell, f).map_err(e)?;
            }
        }
    }
    wb.save(path).map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_dates_and_times_read_as_typed() {
        use calamine::{ExcelDateTime, ExcelDateTimeType};
        let date = Data::DateTime(ExcelDateTime::new(45573.0, ExcelDateTimeType::DateTime, false));
        assert_eq!(cell_text(&date), "2024-10-08");
        let time = Data::DateTime(ExcelDateTime::new(14.5 / 24.0, ExcelDateTimeType::DateTime, false));
        assert_eq!(cell_text(&time), "14:30");
        assert_eq!(cell_text(&Data::Float(45.0)), "45");
        assert_eq!(cell_text(&Data::String(" 语文 ".into())), "语文");
    }

    #[test]
    fn a_written_sheet_reads_back_with_row_numbers() {
        let dir = std::env::temp_dir().join(format!("yanpei-record-io-book-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.xlsx");
        let sheet = OutSheet {
            name: "听课".into(),
            header: vec!["日期*".into(), "听课人*".into(), "备注".into()],
            rows: vec![
                vec!["2024-10-08".into(), "王老师".into()],
                vec![],
                vec!["2024-10-09".into(), "李老师".into(), "x".into()],
            ],
            ..Default::default()
        };
        write_workbook(&path, &[sheet]).unwrap();
        let grids = read_workbook(&path).unwrap();
        assert_eq!(grids.len(), 1);
        assert_eq!(grids[0].rows[0], ["日期*", "听课人*", "备注"]);
        assert_eq!(grids[0].rows[1], ["2024-10-08", "王老师"]);
        assert!(grids[0].rows[2].is_empty());
        assert_eq!(grids[0].rows[3], ["2024-10-09", "李老师", "x"]);
    }
}
