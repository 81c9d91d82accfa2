//! Writing a roster as sheets, and the template's example.

use chrono::NaiveDate;

use super::{Sheet, col};
use crate::{
    Semester, Term,
    roster::{
        Alliance, Area, Evaluation, Mentorship, Pairing, PairingKind, PairingType, Roster, School,
        SchoolCode, SchoolLevel, SemesterDates, SheetKind, Staff, Stationing, SubjectGroup, Teacher,
    },
};

/// The separator written between the items of a list.
pub(super) const LIST_SEPARATOR: &str = "、";

pub(super) fn sheets(r: &Roster) -> Vec<Sheet> {
    let county = Sheet {
        name: col::COUNTY_SHEET.to_owned(),
        rows: vec![header(&[col::COUNTY]), vec![r.county.clone()]],
    };
    let rest = SheetKind::ALL.into_iter().map(|kind| {
        let mut rows = vec![header(kind.columns())];
        rows.extend(data(r, kind));
        Sheet { name: kind.title().to_owned(), rows }
    });
    std::iter::once(county).chain(rest).collect()
}

fn header(columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| (*c).to_owned()).collect()
}

fn list<T: ToString>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(LIST_SEPARATOR)
}

fn flag(b: bool) -> String {
    if b { "是" } else { "否" }.to_owned()
}

fn scores(e: Option<Evaluation>) -> [String; 5] {
    match e {
        Some(e) => [e.leadership, e.management, e.teachers, e.curriculum_reform, e.teaching_quality]
            .map(|s| s.to_string()),
        None => Default::default(),
    }
}

/// The data rows of one sheet, in the order of [`SheetKind::columns`].
fn data(r: &Roster, kind: SheetKind) -> Vec<Vec<String>> {
    match kind {
        SheetKind::Semesters => r
            .semesters
            .iter()
            .map(|s| vec![s.semester.code(), s.start.to_string(), s.end.to_string()])
            .collect(),
        SheetKind::Alliances => r
            .alliances
            .iter()
            .map(|a| vec![a.code.clone(), a.name.clone(), a.base_school.to_string()])
            .collect(),
        SheetKind::Schools => r
            .schools
            .iter()
            .map(|s| {
                let mut row = vec![
                    s.code.to_string(),
                    s.name.clone(),
                    s.township.clone(),
                    s.area.label().to_owned(),
                    s.level.label().to_owned(),
                    s.alliance.clone(),
                ];
                row.extend(scores(s.evaluation));
                row
            })
            .collect(),
        SheetKind::Pairings => r
            .pairings
            .iter()
            .map(|p| {
                vec![
                    p.helper.to_string(),
                    p.partner.to_string(),
                    p.kind.label().to_owned(),
                    p.pairing_type.label().to_owned(),
                ]
            })
            .collect(),
        SheetKind::SubjectGroups => {
            r.subject_groups.iter().map(|g| vec![g.subject.clone(), g.leader.clone()]).collect()
        }
        SheetKind::Staff => r
            .staff
            .iter()
            .map(|s| vec![s.id.clone(), s.name.clone(), list(&s.subjects), list(&s.schools)])
            .collect(),
        SheetKind::Stationings => r
            .stationings
            .iter()
            .map(|s| {
                vec![
                    s.staff.clone(),
                    s.semester.code(),
                    s.rural_school.to_string(),
                    s.urban_school.to_string(),
                ]
            })
            .collect(),
        SheetKind::Teachers => r
            .teachers
            .iter()
            .map(|t| {
                vec![
                    t.id.clone(),
                    t.name.clone(),
                    t.school.to_string(),
                    list(&t.subjects),
                    t.group.clone(),
                    flag(t.backbone),
                    flag(t.subject_leader),
                    t.years_of_service.to_string(),
                ]
            })
            .collect(),
        SheetKind::Mentorships => {
            r.mentorships.iter().map(|m| vec![m.mentor.clone(), m.apprentice.clone()]).collect()
        }
    }
}

/// The template's example: one row per sheet, showing how each cell is
/// written. It refers to schools and teachers the clerk replaces with their own.
pub(super) fn example() -> Roster {
    let code = |s: &str| SchoolCode::try_from(s.to_owned()).unwrap_or_else(|_| unreachable!());
    let semester = Semester { start_year: 2024, term: Term::First };
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    Roster {
        county: "示例县".to_owned(),
        semesters: vec![SemesterDates { semester, start: date(2024, 9, 1), end: date(2025, 1, 20) }],
        alliances: vec![Alliance {
            code: "LH1".to_owned(),
            name: "城关区域联合体".to_owned(),
            base_school: code("CG01"),
        }],
        schools: vec![School {
            code: code("CG01"),
            name: "城关第一中学".to_owned(),
            township: "城关镇".to_owned(),
            area: Area::Urban,
            level: SchoolLevel::Junior,
            alliance: "LH1".to_owned(),
            evaluation: Some(Evaluation {
                leadership: 90,
                management: 88,
                teachers: 92,
                curriculum_reform: 85,
                teaching_quality: 91,
            }),
        }],
        pairings: vec![Pairing {
            helper: code("CG01"),
            partner: code("DL02"),
            kind: PairingKind::StrongHelpsWeak,
            pairing_type: PairingType::TownTownship,
        }],
        subject_groups: vec![SubjectGroup { subject: "语文".to_owned(), leader: "JY001".to_owned() }],
        staff: vec![Staff {
            id: "JY001".to_owned(),
            name: "张明".to_owned(),
            subjects: vec!["语文".to_owned()],
            schools: vec![code("CG01"), code("DL02")],
        }],
        stationings: vec![Stationing {
            staff: "JY001".to_owned(),
            semester,
            rural_school: code("DL02"),
            urban_school: code("CG01"),
        }],
        teachers: vec![Teacher {
            id: "JS0001".to_owned(),
            name: "王芳".to_owned(),
            school: code("CG01"),
            subjects: vec!["语文".to_owned(), "道德与法治".to_owned()],
            group: "语文组".to_owned(),
            backbone: true,
            subject_leader: false,
            years_of_service: 12,
        }],
        mentorships: vec![Mentorship { mentor: "JS0001".to_owned(), apprentice: "JS0002".to_owned() }],
    }
}
