//! A small valid roster for the tests of the invariants and the tabular form.

use chrono::NaiveDate;

use crate::{
    Semester, Term,
    roster::{
        Alliance, Area, Evaluation, Mentorship, Pairing, PairingKind, PairingType, Roster, School,
        SchoolCode, SchoolLevel, SemesterDates, Staff, Stationing, SubjectGroup, Teacher,
    },
};

pub(crate) fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

pub(crate) fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn eval(x: u8) -> Option<Evaluation> {
    Some(Evaluation { leadership: x, management: x, teachers: x, curriculum_reform: x, teaching_quality: x })
}

fn school(c: &str, name: &str, area: Area, alliance: &str, e: Option<Evaluation>) -> School {
    let level = if area == Area::Urban { SchoolLevel::Junior } else { SchoolLevel::NineYear };
    School {
        code: code(c),
        name: name.into(),
        township: "城关镇".into(),
        area,
        level,
        alliance: alliance.into(),
        evaluation: e,
    }
}

pub(crate) fn pairing(h: &str, p: &str, kind: PairingKind, t: PairingType) -> Pairing {
    Pairing { helper: code(h), partner: code(p), kind, pairing_type: t }
}

pub(crate) fn teacher(id: &str, school: &str, years: u8) -> Teacher {
    Teacher {
        id: id.into(),
        name: format!("教师{id}"),
        school: code(school),
        subjects: vec!["语文".into()],
        group: "语文组".into(),
        backbone: years > 10,
        subject_leader: false,
        years_of_service: years,
    }
}

/// A small roster that breaks no invariant.
pub(crate) fn sample() -> Roster {
    let first = Semester::new(2024, Term::First).unwrap();
    let second = Semester::new(2024, Term::Second).unwrap();
    let (urban, rural) = (Area::Urban, Area::Rural);
    Roster {
        county: "示例县".into(),
        semesters: vec![
            SemesterDates { semester: first, start: day("2024-09-01"), end: day("2025-01-20") },
            SemesterDates { semester: second, start: day("2025-02-17"), end: day("2025-07-10") },
        ],
        alliances: vec![
            Alliance { code: "A1".into(), name: "城关联合体".into(), base_school: code("U1") },
            Alliance { code: "A2".into(), name: "东部联合体".into(), base_school: code("R1") },
        ],
        schools: vec![
            school("U1", "城关第一中学", urban, "A1", eval(90)),
            school("R1", "东岭中学", rural, "A2", eval(80)),
            school("R2", "西坡中学", rural, "A2", eval(60)),
            school("U2", "城关第二小学", urban, "A1", None),
        ],
        pairings: vec![
            pairing("U1", "R2", PairingKind::StrongHelpsWeak, PairingType::TownTownship),
            pairing("R1", "R2", PairingKind::StrongHelpsWeak, PairingType::TownshipTownship),
            pairing("U1", "R1", PairingKind::StrongWithStrong, PairingType::TownTownship),
            pairing("U2", "U1", PairingKind::StrongHelpsWeak, PairingType::TownTown),
        ],
        subject_groups: vec![
            SubjectGroup { subject: "语文".into(), leader: "S01".into() },
            SubjectGroup { subject: "数学".into(), leader: "S02".into() },
        ],
        staff: vec![
            Staff {
                id: "S01".into(),
                name: "张明".into(),
                subjects: vec!["语文".into()],
                schools: vec![code("U1"), code("R1")],
            },
            Staff {
                id: "S02".into(),
                name: "李华".into(),
                subjects: vec!["数学".into(), "物理".into()],
                schools: vec![code("R2"), code("U2")],
            },
        ],
        stationings: vec![
            Stationing {
                staff: "S01".into(),
                semester: first,
                rural_school: code("R1"),
                urban_school: code("U1"),
            },
            Stationing {
                staff: "S02".into(),
                semester: first,
                rural_school: code("R2"),
                urban_school: code("U2"),
            },
            Stationing {
                staff: "S01".into(),
                semester: second,
                rural_school: code("R2"),
                urban_school: code("U1"),
            },
        ],
        teachers: vec![teacher("T001", "U1", 20), teacher("T002", "R2", 2), teacher("T003", "U2", 8)],
        mentorships: vec![
            Mentorship { mentor: "T001".into(), apprentice: "T002".into() },
            Mentorship { mentor: "T001".into(), apprentice: "T003".into() },
        ],
    }
}
