//! Bulk entry of activity records from spreadsheets: a template per kind (`write_template`),
//! the import of a clerk's workbook with every bad row located by sheet, row and column
//! (`import_file`), and the export of a school's records in the same layout (`export_file`).
//!
//! Cells are parsed by the domain (`Activity::set_text`) and records checked by its rules
//! (`Activity::validate`, `Roster::check_activity`): this crate only lays them out.
//! A row's record id is derived from its content ([`content_id`]), so importing the same
//! sheet twice stores nothing the second time.

mod book;
mod layout;
mod plan;
mod sheets;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use yanpei_domain::{Activity, ActivityKind, Semester};
use yanpei_store::StoreError;
use yanpei_store::node::NodeStore;

pub use book::{Grid, read_workbook, write_grids};
pub use layout::{
    Column, EXAMPLE_MARK, GUIDE_SHEET, Header, REASON_HEADER, SOURCE_ROW_HEADER, columns, help, label,
    parse_header,
};
pub use plan::{BadRow, Context, Plan, RowProblem, RowRef, content_id, plan};
pub use sheets::{errors_path, write_errors, write_records, write_template};

/// What can go wrong reading or writing a workbook, or storing what it holds.
#[derive(Debug, thiserror::Error)]
pub enum RecordIoError {
    /// A file could not be read or written.
    #[error("{path}：{message}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The node's store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How an import treats bad rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Store nothing unless every row is good.
    AllOrNothing,
    /// Store the good rows; write the bad ones to the error workbook.
    Partial,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// What the workbook held, row by row.
    pub plan: Plan,
    /// Records stored (in one transaction).
    pub stored: usize,
    /// The error workbook written (partial import with bad rows).
    pub errors_file: Option<PathBuf>,
}

/// Imports a workbook into a node's store. Every row is read and checked first; then, in
/// one transaction, either every new record is stored (no problems, or `Mode::Partial`) or
/// none. A sheet whose columns cannot be read stores nothing in either mode.
pub async fn import_file(store: &NodeStore, path: &Path, mode: Mode) -> Result<ImportReport, RecordIoError> {
    let grids = read_workbook(path)?;
    let (_, roster) = store.roster().await?;
    let existing = store.all().await?;
    let ctx = Context { school: store.school(), roster: roster.as_ref(), existing: &existing };
    let plan = plan(&grids, &ctx);
    let readable = plan.sheet_problems.is_empty();
    let store_good = plan.is_clean() || (mode == Mode::Partial && readable);
    let mut stored = 0;
    if store_good && !plan.new.is_empty() {
        let records: Vec<Activity> = plan.new.iter().map(|(_, a)| a.clone()).collect();
        store.record_all(&records).await?;
        stored = records.len();
    }
    let mut errors_file = None;
    if mode == Mode::Partial && readable && !plan.bad.is_empty() {
        let out = errors_path(path);
        write_errors(&out, &plan)?;
        errors_file = Some(out);
    }
    tracing::info!(
        file = %path.display(), stored, bad_rows = plan.bad.len(), already = plan.already.len(),
        sheet_problems = plan.sheet_problems.len(), "sheet import"
    );
    Ok(ImportReport { plan, stored, errors_file })
}

/// Exports the school's own live records (optionally of one semester) to a workbook in the
/// template's layout plus 记录编号. Answers the count per kind.
pub async fn export_file(
    store: &NodeStore,
    path: &Path,
    semester: Option<Semester>,
) -> Result<Vec<(ActivityKind, usize)>, RecordIoError> {
    let records: Vec<Activity> =
        store.list(semester, None).await?.into_iter().filter(|a| &a.school == store.school()).collect();
    write_records(path, &records)
}
