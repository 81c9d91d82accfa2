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

/// The template's example: a tiny county that passes validation as written (two
/// schools of one alliance, a pair, a 教研员 covering both, a mentor and an
/// apprentice), showing how each cell is written; the clerk replaces it with
/// their own.
pub(super) fn example() -> Roster {
    let code = |s: &str| SchoolCode::try_from(s.to_owned()).unwrap_or_else(|_| unreachable!());
    let semester = Semester { start_year: 2024, term: Term::First };
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let school = |c: &str, name: &str, township: &str, area, level, scores: [u8; 5]| School {
        code: code(c),
        name: name.to_owned(),
        township: township.to_owned(),
        area,
        level,
        alliance: "LH1".to_owned(),
        evaluation: Some(Evaluation {
            leadership: scores[0],
            management: scores[1],
            teachers: scores[2],
            curriculum_reform: scores[3],
            teaching_quality: scores[4],
        }),
    };
    let teacher = |id: &str, name: &str, backbone, years| Teacher {
        id: id.to_owned(),
        name: name.to_owned(),
        school: code("CGZ1"),
        subjects: vec!["语文".to_owned()],
        group: "语文组".to_owned(),
        backbone,
        subject_leader: false,
        years_of_service: years,
    };
    Roster {
        county: "示范县".to_owned(),
        semesters: vec![SemesterDates { semester, start: date(2024, 9, 1), end: date(2025, 1, 20) }],
        alliances: vec![Alliance {
            code: "LH1".to_owned(),
            name: "城关区域联合体".to_owned(),
            base_school: code("CGZ1"),
        }],
        schools: vec![
            school(
                "CGZ1",
                "城关镇中心学校",
                "城关镇",
                Area::Urban,
                SchoolLevel::NineYear,
                [90, 88, 92, 85, 91],
            ),
            school(
                "HKX1",
                "河口乡中心学校",
                "河口乡",
                Area::Rural,
                SchoolLevel::Primary,
                [78, 75, 80, 72, 76],
            ),
        ],
        pairings: vec![Pairing {
            helper: code("CGZ1"),
            partner: code("HKX1"),
            kind: PairingKind::StrongHelpsWeak,
            pairing_type: PairingType::TownTownship,
        }],
        subject_groups: vec![SubjectGroup { subject: "语文".to_owned(), leader: "JY01".to_owned() }],
        staff: vec![Staff {
            id: "JY01".to_owned(),
            name: "张伟".to_owned(),
            subjects: vec!["语文".to_owned()],
            schools: vec![code("CGZ1"), code("HKX1")],
        }],
        stationings: vec![Stationing {
            staff: "JY01".to_owned(),
            semester,
            rural_school: code("HKX1"),
            urban_school: code("CGZ1"),
        }],
        teachers: vec![teacher("JS0001", "王静", true, 12), teacher("JS0002", "李敏", false, 2)],
        mentorships: vec![Mentorship { mentor: "JS0001".to_owned(), apprentice: "JS0002".to_owned() }],
    }
}
