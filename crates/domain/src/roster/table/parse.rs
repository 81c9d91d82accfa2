//! Reading a roster from sheets: finding sheets and columns, and turning every
//! cell into its type, collecting every problem on the way.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{Sheet, TableProblem, col::*};
use crate::{
    Semester,
    roster::{
        Alliance, Area, Evaluation, Mentorship, Pairing, PairingKind, PairingType, Roster, School,
        SchoolCode, SchoolLevel, SemesterDates, SheetKind, Staff, Stationing, SubjectGroup, Teacher,
    },
};

/// The separators accepted between the items of a list.
const LIST_SEPARATORS: [char; 6] = ['、', ',', '，', ';', '；', '\n'];

/// A parsed roster and the spreadsheet row each item came from.
pub(super) struct Parsed {
    pub(super) roster: Roster,
    rows: HashMap<SheetKind, Vec<usize>>,
}

impl Parsed {
    /// The spreadsheet row of the item at `index` of `sheet`'s list.
    pub(super) fn row(&self, sheet: SheetKind, index: usize) -> usize {
        self.rows.get(&sheet).and_then(|rows| rows.get(index)).copied().unwrap_or(index + 2)
    }
}

/// Whether a workbook must have this sheet; the others may be left out (no rows).
fn sheet_required(kind: SheetKind) -> bool {
    !matches!(
        kind,
        SheetKind::Semesters | SheetKind::Stationings | SheetKind::Teachers | SheetKind::Mentorships
    )
}

/// Whether a sheet must have this column; a missing optional column reads as empty cells.
fn column_required(kind: SheetKind, column: &str) -> bool {
    let optional: &[&str] = match kind {
        SheetKind::Alliances => &[ALLIANCE_NAME],
        SheetKind::Schools => &[TOWNSHIP, LEADERSHIP, MANAGEMENT, TEACHER_QUALITY, REFORM, TEACHING_QUALITY],
        SheetKind::Staff => &[SUBJECT],
        SheetKind::Teachers => &[SUBJECTS_TAUGHT, GROUP, BACKBONE, SUBJECT_LEADER],
        _ => &[],
    };
    !optional.contains(&column)
}

pub(super) fn parse(sheets: &[Sheet], problems: &mut Vec<TableProblem>) -> Parsed {
    let mut rows = HashMap::new();
    let mut roster = Roster { county: county(sheets, problems), ..Roster::default() };
    macro_rules! read {
        ($kind:expr, $field:ident, $f:expr) => {{
            let (items, numbers): (Vec<_>, Vec<usize>) =
                Table::find(sheets, $kind, problems).each(problems, $f).into_iter().unzip();
            roster.$field = items;
            rows.insert($kind, numbers);
        }};
    }
    read!(SheetKind::Semesters, semesters, semester_dates);
    read!(SheetKind::Alliances, alliances, alliance);
    read!(SheetKind::Schools, schools, school);
    read!(SheetKind::Pairings, pairings, pairing);
    read!(SheetKind::SubjectGroups, subject_groups, subject_group);
    read!(SheetKind::Staff, staff, staff);
    read!(SheetKind::Stationings, stationings, stationing);
    read!(SheetKind::Teachers, teachers, teacher);
    read!(SheetKind::Mentorships, mentorships, mentorship);
    Parsed { roster, rows }
}

fn county(sheets: &[Sheet], problems: &mut Vec<TableProblem>) -> String {
    let table = Table::locate(sheets, COUNTY_SHEET, &[(COUNTY, true)], true, problems);
    let names = table.each(problems, |r| Some(r.text(COUNTY).to_owned()));
    if table.sheet.is_some() && table.complete && names.is_empty() {
        problems.push(problem(COUNTY_SHEET, 2, COUNTY, "请填写县名".to_owned()));
    }
    if let Some((_, row)) = names.get(1) {
        problems.push(problem(COUNTY_SHEET, *row, COUNTY, "「县」表只能填写一个县名".to_owned()));
    }
    names.into_iter().next().map(|(name, _)| name).unwrap_or_default()
}

fn problem(sheet: &str, row: usize, column: &str, message: String) -> TableProblem {
    TableProblem { sheet: sheet.to_owned(), row, column: column.to_owned(), message }
}

fn semester_dates(r: &mut Row<'_, '_>) -> Option<SemesterDates> {
    let semester = r.semester(TERM);
    let start = r.date(START);
    let end = r.date(END);
    Some(SemesterDates { semester: semester?, start: start?, end: end? })
}

fn alliance(r: &mut Row<'_, '_>) -> Option<Alliance> {
    let base_school = r.school(BASE_SCHOOL)?;
    Some(Alliance { code: r.text(ALLIANCE).to_owned(), name: r.text(ALLIANCE_NAME).to_owned(), base_school })
}

fn school(r: &mut Row<'_, '_>) -> Option<School> {
    let code = r.school(SCHOOL);
    let area = r.label(AREA, Area::from_code, "城镇 或 乡镇");
    let level = r.label(LEVEL, SchoolLevel::from_code, "小学、初中、九年一贯制 或 高中");
    let evaluation = r.evaluation();
    Some(School {
        code: code?,
        name: r.text(SCHOOL_NAME).to_owned(),
        township: r.text(TOWNSHIP).to_owned(),
        area: area?,
        level: level?,
        alliance: r.text(ALLIANCE).to_owned(),
        evaluation: evaluation?,
    })
}

fn pairing(r: &mut Row<'_, '_>) -> Option<Pairing> {
    let helper = r.school(HELPER);
    let partner = r.school(PARTNER);
    let kind = r.label(KIND, PairingKind::parse, "强强联合 或 强弱帮扶");
    let pairing_type = r.label(PAIRING_TYPE, PairingType::parse, "城镇—乡镇、乡镇—乡镇 或 城镇—城镇");
    Some(Pairing { helper: helper?, partner: partner?, kind: kind?, pairing_type: pairing_type? })
}

fn subject_group(r: &mut Row<'_, '_>) -> Option<SubjectGroup> {
    Some(SubjectGroup { subject: r.text(SUBJECT).to_owned(), leader: r.text(LEADER).to_owned() })
}

fn staff(r: &mut Row<'_, '_>) -> Option<Staff> {
    let schools = r.schools(ASSIGNED)?;
    Some(Staff {
        id: r.text(STAFF).to_owned(),
        name: r.text(NAME).to_owned(),
        subjects: r.list(SUBJECT),
        schools,
    })
}

fn stationing(r: &mut Row<'_, '_>) -> Option<Stationing> {
    let semester = r.semester(TERM);
    let rural_school = r.school(RURAL);
    let urban_school = r.school(URBAN);
    Some(Stationing {
        staff: r.text(STAFF).to_owned(),
        semester: semester?,
        rural_school: rural_school?,
        urban_school: urban_school?,
    })
}

fn teacher(r: &mut Row<'_, '_>) -> Option<Teacher> {
    let school = r.school(SCHOOL);
    let backbone = r.flag(BACKBONE);
    let subject_leader = r.flag(SUBJECT_LEADER);
    let years = match r.number(YEARS, 60)? {
        Some(years) => Some(years),
        None => r.fail(YEARS, "请填写教龄（整数年）".to_owned()),
    };
    Some(Teacher {
        id: r.text(TEACHER).to_owned(),
        name: r.text(NAME).to_owned(),
        school: school?,
        subjects: r.list(SUBJECTS_TAUGHT),
        group: r.text(GROUP).to_owned(),
        backbone: backbone?,
        subject_leader: subject_leader?,
        years_of_service: years?,
    })
}

fn mentorship(r: &mut Row<'_, '_>) -> Option<Mentorship> {
    Some(Mentorship { mentor: r.text(MENTOR).to_owned(), apprentice: r.text(APPRENTICE).to_owned() })
}

/// A sheet found by name, with the position of each column it has.
struct Table<'s> {
    name: &'static str,
    sheet: Option<&'s Sheet>,
    at: HashMap<&'static str, usize>,
    /// Every required column is there, so its rows can be read.
    complete: bool,
}

impl<'s> Table<'s> {
    fn find(sheets: &'s [Sheet], kind: SheetKind, problems: &mut Vec<TableProblem>) -> Table<'s> {
        let columns: Vec<_> = kind.columns().iter().map(|&c| (c, column_required(kind, c))).collect();
        Table::locate(sheets, kind.title(), &columns, sheet_required(kind), problems)
    }

    fn locate(
        sheets: &'s [Sheet],
        name: &'static str,
        columns: &[(&'static str, bool)],
        required: bool,
        problems: &mut Vec<TableProblem>,
    ) -> Table<'s> {
        let mut found = sheets.iter().filter(|s| s.name.trim() == name);
        let sheet = found.next();
        let more = found.count();
        let mut table = Table { name, sheet, at: HashMap::new(), complete: true };
        let Some(sheet) = sheet else {
            if required {
                problems.push(problem(name, 0, "", format!("缺少工作表「{name}」")));
            }
            return table;
        };
        if more > 0 {
            let message = format!("有 {} 个名为「{name}」的工作表，只读取第一个", more + 1);
            problems.push(problem(name, 0, "", message));
        }
        let header = sheet.rows.first().map(Vec::as_slice).unwrap_or_default();
        for (i, cell) in header.iter().enumerate() {
            let Some(&(column, _)) = columns.iter().find(|(c, _)| *c == cell.trim()) else { continue };
            if table.at.insert(column, i).is_some() {
                problems.push(problem(name, 1, column, format!("表头中「{column}」列出现了不止一次")));
            }
        }
        for &(column, required) in columns {
            if required && !table.at.contains_key(column) {
                problems.push(problem(name, 1, column, format!("表头缺少「{column}」列")));
                table.complete = false;
            }
        }
        table
    }

    /// Reads each non-blank data row with `f`, keeping what it read and the
    /// row's spreadsheet number. Reads nothing if a required column is missing.
    fn each<T>(
        &self,
        problems: &mut Vec<TableProblem>,
        mut f: impl FnMut(&mut Row<'_, '_>) -> Option<T>,
    ) -> Vec<(T, usize)> {
        let Some(sheet) = self.sheet.filter(|_| self.complete) else { return Vec::new() };
        let mut out = Vec::new();
        for (i, cells) in sheet.rows.iter().enumerate().skip(1) {
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let number = i + 1;
            let mut row = Row { table: self, cells, number, problems: &mut *problems };
            if let Some(item) = f(&mut row) {
                out.push((item, number));
            }
        }
        out
    }
}

/// One data row being read.
struct Row<'t, 'p> {
    table: &'t Table<'t>,
    cells: &'t [String],
    number: usize,
    problems: &'p mut Vec<TableProblem>,
}

impl Row<'_, '_> {
    /// The trimmed cell, "" when the column or cell is absent.
    fn text(&self, column: &str) -> &str {
        self.table.at.get(column).and_then(|&i| self.cells.get(i)).map_or("", |c| c.trim())
    }

    /// Records a problem in this row; always `None`, so it can end a parse.
    fn fail<T>(&mut self, column: &str, message: String) -> Option<T> {
        self.problems.push(problem(self.table.name, self.number, column, message));
        None
    }

    /// A required cell's text, or a problem when it is empty.
    fn required(&mut self, column: &str) -> Option<String> {
        let text = self.text(column).to_owned();
        if text.is_empty() { self.fail(column, format!("请填写「{column}」")) } else { Some(text) }
    }

    fn list(&self, column: &str) -> Vec<String> {
        split(self.text(column)).map(str::to_owned).collect()
    }

    fn school(&mut self, column: &str) -> Option<SchoolCode> {
        let text = self.required(column)?;
        match text.parse() {
            Ok(code) => Some(code),
            Err(e) => self.fail(column, e.to_string()),
        }
    }

    fn schools(&mut self, column: &str) -> Option<Vec<SchoolCode>> {
        let text = self.text(column).to_owned();
        let (good, bad): (Vec<_>, Vec<_>) =
            split(&text).map(|c| c.parse::<SchoolCode>()).partition(Result::is_ok);
        if bad.is_empty() {
            return Some(good.into_iter().flatten().collect());
        }
        let bad: Vec<_> = bad.into_iter().filter_map(Result::err).map(|e| format!("「{}」", e.0)).collect();
        let message =
            format!("学校代码{}无效：须为 1 到 32 个英文字母、数字、- 或 _，多个代码用、分隔", bad.join(""));
        self.fail(column, message)
    }

    fn semester(&mut self, column: &str) -> Option<Semester> {
        let text = self.required(column)?;
        match text.parse() {
            Ok(s) => Some(s),
            Err(e) => self.fail(column, e.to_string()),
        }
    }

    fn date(&mut self, column: &str) -> Option<NaiveDate> {
        let text = self.required(column)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => self.fail(column, format!("日期「{text}」无效，请写成 YYYY-MM-DD，如 2024-09-01")),
        }
    }

    fn label<T>(&mut self, column: &str, parse: fn(&str) -> Option<T>, allowed: &str) -> Option<T> {
        let text = self.required(column)?;
        match parse(&text) {
            Some(v) => Some(v),
            None => self.fail(column, format!("「{text}」不是有效的{column}，应为 {allowed}")),
        }
    }

    /// 是/否, Y/N, true/false or 1/0; empty is 否.
    fn flag(&mut self, column: &str) -> Option<bool> {
        match self.text(column).to_lowercase().as_str() {
            "是" | "y" | "yes" | "true" | "1" => Some(true),
            "否" | "n" | "no" | "false" | "0" | "" => Some(false),
            other => {
                let message = format!("「{other}」无法识别，「{column}」请填 是 或 否");
                self.fail(column, message)
            }
        }
    }

    /// A whole number up to 255 (an `85.0` from a spreadsheet is 85), or
    /// `Some(None)` when empty; `None` with a problem when it is not one.
    fn number(&mut self, column: &str, max: u8) -> Option<Option<u8>> {
        let text = self.text(column).to_owned();
        if text.is_empty() {
            return Some(None);
        }
        let whole = match text.split_once('.') {
            Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
            _ => text.as_str(),
        };
        if !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = whole.parse::<u8>()
        {
            return Some(Some(n));
        }
        self.fail(column, format!("「{text}」不是有效的{column}，须为 0 到 {max} 的整数"))
    }

    /// The five scores: all empty is no evaluation, all filled is one, a mix is a problem.
    fn evaluation(&mut self) -> Option<Option<Evaluation>> {
        let columns = [LEADERSHIP, MANAGEMENT, TEACHER_QUALITY, REFORM, TEACHING_QUALITY];
        let scores = columns.map(|c| self.number(c, 100));
        let scores: [Option<u8>; 5] = scores.into_iter().collect::<Option<Vec<_>>>()?.try_into().ok()?;
        match scores {
            [None, None, None, None, None] => Some(None),
            [
                Some(leadership),
                Some(management),
                Some(teachers),
                Some(curriculum_reform),
                Some(teaching_quality),
            ] => Some(Some(Evaluation {
                leadership,
                management,
                teachers,
                curriculum_reform,
                teaching_quality,
            })),
            _ => {
                for (c, _) in columns.iter().zip(scores).filter(|(_, s)| s.is_none()) {
                    self.fail::<()>(c, "综合评估的五项评分须全部填写或全部留空，此项未填".to_owned());
                }
                None
            }
        }
    }
}

/// The non-empty, trimmed items of a list cell.
fn split(text: &str) -> impl Iterator<Item = &str> {
    text.split(LIST_SEPARATORS).map(str::trim).filter(|s| !s.is_empty())
}
