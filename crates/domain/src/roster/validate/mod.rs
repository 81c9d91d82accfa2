//! The roster's invariants: every problem a county clerk must fix before the
//! roster is loaded, each naming its sheet, row and column.

use std::collections::{HashMap, HashSet};

use super::{Area, PairingKind, PairingType, Roster, School, SchoolCode};

#[cfg(test)]
pub(crate) mod fixture;
mod sheet;

pub(super) use sheet::col;
use sheet::col::*;
pub use sheet::{Problem, SheetKind};

/// The most years of service (教龄) taken as plausible.
pub const MAX_YEARS_OF_SERVICE: u8 = 60;

/// Checks every invariant of the roster and returns every problem found,
/// ordered by sheet (in [`SheetKind::ALL`] order), then by row.
pub fn validate(roster: &Roster) -> Vec<Problem> {
    let mut v = Checker { roster, problems: Vec::new(), schools: HashMap::new() };
    for s in &roster.schools {
        v.schools.entry(&s.code).or_insert(s);
    }
    v.semesters();
    v.alliances();
    v.schools();
    v.pairings();
    v.subject_groups();
    v.staff();
    v.stationings();
    v.teachers();
    v.mentorships();
    let mut problems = v.problems;
    problems.sort_by_key(|p| (p.sheet, p.index));
    problems
}

struct Checker<'r> {
    roster: &'r Roster,
    problems: Vec<Problem>,
    /// Schools by code, first occurrence.
    schools: HashMap<&'r SchoolCode, &'r School>,
}

/// Remembers keys and tells whether one was seen before.
struct Seen<K>(HashSet<K>);

impl<K: std::hash::Hash + Eq> Seen<K> {
    fn new() -> Self {
        Seen(HashSet::new())
    }

    /// True when `key` was seen before.
    fn again(&mut self, key: K) -> bool {
        !self.0.insert(key)
    }
}

impl<'r> Checker<'r> {
    fn report(&mut self, sheet: SheetKind, index: usize, column: &'static str, message: String) {
        self.problems.push(Problem { sheet, index, column, message, first: None });
    }

    /// Reports when the school does not exist; returns it when it does.
    fn school(
        &mut self,
        sheet: SheetKind,
        index: usize,
        column: &'static str,
        code: &SchoolCode,
    ) -> Option<&'r School> {
        let found = self.schools.get(code).copied();
        if found.is_none() {
            self.report(sheet, index, column, format!("学校代码「{code}」在「学校」表中不存在"));
        }
        found
    }

    fn semesters(&mut self) {
        let k = SheetKind::Semesters;
        let mut seen = Seen::new();
        for (i, s) in self.roster.semesters.iter().enumerate() {
            if seen.again(s.semester) {
                self.report(k, i, TERM, format!("学期「{}」重复", s.semester));
                continue;
            }
            if s.start > s.end {
                self.report(
                    k,
                    i,
                    END,
                    format!("{}的结束日期 {} 早于开始日期 {}", s.semester, s.end, s.start),
                );
                continue;
            }
            let earlier = self.roster.semesters[..i].iter().find(|o| {
                o.semester != s.semester && o.start <= o.end && o.start <= s.end && s.start <= o.end
            });
            if let Some(o) = earlier {
                let message = format!(
                    "{}（{} 至 {}）与{}（{} 至 {}）的日期重叠",
                    s.semester, s.start, s.end, o.semester, o.start, o.end
                );
                self.report(k, i, START, message);
            }
        }
    }

    fn alliances(&mut self) {
        let k = SheetKind::Alliances;
        let mut seen = Seen::new();
        for (i, a) in self.roster.alliances.iter().enumerate() {
            if a.code.is_empty() {
                self.report(k, i, ALLIANCE, "联合体代码不能为空".to_owned());
            } else if seen.again(a.code.as_str()) {
                self.report(k, i, ALLIANCE, format!("联合体代码「{}」重复", a.code));
            }
            if !self.roster.schools.iter().any(|s| s.alliance == a.code) {
                self.report(k, i, ALLIANCE, format!("联合体「{}」没有任何成员学校", a.code));
            }
            if let Some(base) = self.school(k, i, BASE_SCHOOL, &a.base_school)
                && base.alliance != a.code
            {
                let message = format!(
                    "基地校「{}」（{}）属于联合体「{}」，不是联合体「{}」的成员",
                    base.code, base.name, base.alliance, a.code
                );
                self.report(k, i, BASE_SCHOOL, message);
            }
        }
    }

    fn schools(&mut self) {
        let k = SheetKind::Schools;
        let alliances: HashSet<&str> = self.roster.alliances.iter().map(|a| a.code.as_str()).collect();
        let covered: HashSet<&SchoolCode> = self.roster.staff.iter().flat_map(|s| &s.schools).collect();
        let mut seen = Seen::new();
        for (i, s) in self.roster.schools.iter().enumerate() {
            if seen.again(&s.code) {
                let first = self.roster.schools.iter().position(|o| o.code == s.code);
                self.report(k, i, SCHOOL, format!("学校代码「{}」重复", s.code));
                if let Some(p) = self.problems.last_mut() {
                    p.first = first;
                }
            }
            if s.name.trim().is_empty() {
                self.report(k, i, SCHOOL_NAME, format!("学校「{}」的名称不能为空", s.code));
            }
            if !alliances.contains(s.alliance.as_str()) {
                let message =
                    format!("学校「{}」的联合体代码「{}」在「区域联合体」表中不存在", s.code, s.alliance);
                self.report(k, i, ALLIANCE, message);
            }
            if let Some(e) = s.evaluation {
                let scores = [
                    (LEADERSHIP, e.leadership),
                    (MANAGEMENT, e.management),
                    (TEACHER_QUALITY, e.teachers),
                    (REFORM, e.curriculum_reform),
                    (TEACHING_QUALITY, e.teaching_quality),
                ];
                for (column, score) in scores.into_iter().filter(|&(_, score)| score > 100) {
                    let message =
                        format!("学校「{}」的评分「{column}」为 {score}，须在 0 到 100 之间", s.code);
                    self.report(k, i, column, message);
                }
            }
            if !covered.contains(&s.code) {
                let message =
                    format!("学校「{}」（{}）没有分配给任何研培人员包校，不能留死角", s.code, s.name);
                self.report(k, i, SCHOOL, message);
            }
        }
    }

    fn pairings(&mut self) {
        let k = SheetKind::Pairings;
        let mut seen = Seen::new();
        for (i, p) in self.roster.pairings.iter().enumerate() {
            let helper = self.school(k, i, HELPER, &p.helper);
            let partner = self.school(k, i, PARTNER, &p.partner);
            if p.helper == p.partner {
                self.report(k, i, PARTNER, format!("学校「{}」不能与自己结对", p.helper));
                continue;
            }
            let pair = if p.helper < p.partner { (&p.helper, &p.partner) } else { (&p.partner, &p.helper) };
            if seen.again(pair) {
                let message = format!("学校「{}」与「{}」的结对重复", p.helper, p.partner);
                self.report(k, i, HELPER, message);
            }
            let (Some(helper), Some(partner)) = (helper, partner) else { continue };
            let actual = PairingType::of(helper.area, partner.area);
            if actual != p.pairing_type {
                let message = format!(
                    "「{}」是{}学校、「{}」是{}学校，结对类型应为「{}」而不是「{}」",
                    helper.code,
                    helper.area.label(),
                    partner.code,
                    partner.area.label(),
                    actual.label(),
                    p.pairing_type.label()
                );
                self.report(k, i, PAIRING_TYPE, message);
            }
            if p.kind == PairingKind::StrongHelpsWeak
                && let (Some(h), Some(w)) = (helper.evaluation, partner.evaluation)
                && h.mean() < w.mean()
            {
                let message = format!(
                    "强弱帮扶须由强校帮扶弱校：帮扶校「{}」的评估均分 {:.1} 低于受援校「{}」的 {:.1}",
                    helper.code,
                    h.mean(),
                    partner.code,
                    w.mean()
                );
                self.report(k, i, KIND, message);
            }
        }
    }

    fn subject_groups(&mut self) {
        let k = SheetKind::SubjectGroups;
        let staff: HashSet<&str> = self.roster.staff.iter().map(|s| s.id.as_str()).collect();
        let mut seen = Seen::new();
        for (i, g) in self.roster.subject_groups.iter().enumerate() {
            if g.subject.is_empty() {
                self.report(k, i, SUBJECT, "学科不能为空".to_owned());
            } else if seen.again(g.subject.as_str()) {
                self.report(k, i, SUBJECT, format!("学科「{}」的学科组重复", g.subject));
            }
            if !staff.contains(g.leader.as_str()) {
                let message =
                    format!("{}学科组的组长工号「{}」在「研培人员」表中不存在", g.subject, g.leader);
                self.report(k, i, LEADER, message);
            }
        }
    }

    fn staff(&mut self) {
        let k = SheetKind::Staff;
        let mut seen = Seen::new();
        for (i, s) in self.roster.staff.iter().enumerate() {
            if s.id.is_empty() {
                self.report(k, i, STAFF, "工号不能为空".to_owned());
            } else if seen.again(s.id.as_str()) {
                self.report(k, i, STAFF, format!("工号「{}」重复", s.id));
            }
            if s.name.trim().is_empty() {
                self.report(k, i, NAME, format!("研培人员「{}」的姓名不能为空", s.id));
            }
            let mut assigned = Seen::new();
            for code in &s.schools {
                if assigned.again(code) {
                    let message = format!("研培人员「{}」的包校学校「{code}」重复", s.id);
                    self.report(k, i, ASSIGNED, message);
                } else {
                    self.school(k, i, ASSIGNED, code);
                }
            }
        }
    }

    fn stationings(&mut self) {
        let k = SheetKind::Stationings;
        let staff: HashSet<&str> = self.roster.staff.iter().map(|s| s.id.as_str()).collect();
        let semesters = &self.roster.semesters;
        let mut seen = Seen::new();
        for (i, st) in self.roster.stationings.iter().enumerate() {
            if !staff.contains(st.staff.as_str()) {
                self.report(k, i, STAFF, format!("工号「{}」在「研培人员」表中不存在", st.staff));
            }
            if !semesters.is_empty() && !semesters.iter().any(|s| s.semester == st.semester) {
                self.report(k, i, TERM, format!("学期「{}」在「学期」表中不存在", st.semester));
            }
            if seen.again((st.staff.as_str(), st.semester)) {
                let message = format!("研培人员「{}」在{}有不止一条蹲点安排", st.staff, st.semester);
                self.report(k, i, TERM, message);
            }
            for (column, code, wanted) in
                [(RURAL, &st.rural_school, Area::Rural), (URBAN, &st.urban_school, Area::Urban)]
            {
                if let Some(s) = self.school(k, i, column, code)
                    && s.area != wanted
                {
                    let message = format!(
                        "蹲点的{column}须为{}学校，「{}」（{}）是{}学校",
                        wanted.label(),
                        s.code,
                        s.name,
                        s.area.label()
                    );
                    self.report(k, i, column, message);
                }
            }
        }
    }

    fn teachers(&mut self) {
        let k = SheetKind::Teachers;
        let mut seen = Seen::new();
        for (i, t) in self.roster.teachers.iter().enumerate() {
            if t.id.is_empty() {
                self.report(k, i, TEACHER, "教师编号不能为空".to_owned());
            } else if seen.again(t.id.as_str()) {
                self.report(k, i, TEACHER, format!("教师编号「{}」重复", t.id));
            }
            if t.name.trim().is_empty() {
                self.report(k, i, NAME, format!("教师「{}」的姓名不能为空", t.id));
            }
            self.school(k, i, SCHOOL, &t.school);
            if t.years_of_service > MAX_YEARS_OF_SERVICE {
                let message = format!(
                    "教师「{}」的教龄 {} 年不合理，须在 0 到 {MAX_YEARS_OF_SERVICE} 之间",
                    t.id, t.years_of_service
                );
                self.report(k, i, YEARS, message);
            }
        }
    }

    fn mentorships(&mut self) {
        let k = SheetKind::Mentorships;
        let teachers: HashSet<&str> = self.roster.teachers.iter().map(|t| t.id.as_str()).collect();
        let mut seen = Seen::new();
        for (i, m) in self.roster.mentorships.iter().enumerate() {
            for (column, id) in [(MENTOR, &m.mentor), (APPRENTICE, &m.apprentice)] {
                if !teachers.contains(id.as_str()) {
                    self.report(k, i, column, format!("教师编号「{id}」在「教师」表中不存在"));
                }
            }
            if m.mentor == m.apprentice {
                self.report(k, i, APPRENTICE, format!("教师「{}」不能做自己的徒弟", m.mentor));
            } else if seen.again((m.mentor.as_str(), m.apprentice.as_str())) {
                let message = format!("师傅「{}」与徒弟「{}」的结对重复", m.mentor, m.apprentice);
                self.report(k, i, APPRENTICE, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{fixture::*, *};
    use crate::{
        Semester, Term,
        roster::{Alliance, SubjectGroup},
    };

    /// The (sheet, index, column) of every problem.
    fn spots(r: &Roster) -> Vec<(SheetKind, usize, &'static str)> {
        validate(r).into_iter().map(|p| (p.sheet, p.index, p.column)).collect()
    }

    /// Breaks the sample and expects exactly these problems.
    fn expect(change: impl FnOnce(&mut Roster), want: &[(SheetKind, usize, &'static str)]) {
        let mut r = sample();
        change(&mut r);
        let problems = validate(&r);
        assert_eq!(spots(&r), want, "{problems:#?}");
        assert!(problems.iter().all(|p| !p.message.is_empty()));
    }

    #[test]
    fn the_sample_roster_is_valid() {
        assert_eq!(validate(&sample()), vec![]);
    }

    #[test]
    fn alliance_codes_are_unique() {
        expect(
            |r| {
                r.alliances
                    .push(Alliance { code: "A1".into(), name: "重复".into(), base_school: code("U2") })
            },
            &[(SheetKind::Alliances, 2, ALLIANCE)],
        );
    }

    #[test]
    fn an_alliance_base_school_exists_and_is_a_member() {
        expect(|r| r.alliances[0].base_school = code("X9"), &[(SheetKind::Alliances, 0, BASE_SCHOOL)]);
        expect(|r| r.alliances[1].base_school = code("U2"), &[(SheetKind::Alliances, 1, BASE_SCHOOL)]);
    }

    #[test]
    fn an_alliance_has_members() {
        expect(
            |r| r.alliances.push(Alliance { code: "A3".into(), name: "空".into(), base_school: code("U2") }),
            &[(SheetKind::Alliances, 2, ALLIANCE), (SheetKind::Alliances, 2, BASE_SCHOOL)],
        );
    }

    #[test]
    fn school_codes_are_unique_and_names_present() {
        expect(
            |r| {
                let mut dup = r.schools[1].clone();
                dup.name = " ".into();
                r.schools.push(dup);
            },
            &[(SheetKind::Schools, 4, SCHOOL), (SheetKind::Schools, 4, SCHOOL_NAME)],
        );
        let mut r = sample();
        r.schools.push(r.schools[1].clone());
        let again = validate(&r).into_iter().find(|p| p.column == SCHOOL).unwrap();
        assert_eq!(again.first, Some(1), "the repeat names the row the code first appeared in");
        assert!(again.to_string().contains("第 2 条已用过"), "{again}");
    }

    #[test]
    fn a_school_alliance_exists() {
        expect(|r| r.schools[3].alliance = "A9".into(), &[(SheetKind::Schools, 3, ALLIANCE)]);
        expect(|r| r.schools[2].alliance = "A1".into(), &[]);
    }

    #[test]
    fn evaluation_scores_are_at_most_100() {
        expect(
            |r| {
                let e = r.schools[0].evaluation.as_mut().unwrap();
                e.teachers = 101;
                e.teaching_quality = 250;
            },
            &[(SheetKind::Schools, 0, TEACHER_QUALITY), (SheetKind::Schools, 0, TEACHING_QUALITY)],
        );
    }

    #[test]
    fn paired_schools_exist_and_differ() {
        expect(|r| r.pairings[1].helper = code("X1"), &[(SheetKind::Pairings, 1, HELPER)]);
        expect(|r| r.pairings[1].partner = code("X2"), &[(SheetKind::Pairings, 1, PARTNER)]);
        expect(|r| r.pairings[0].partner = code("U1"), &[(SheetKind::Pairings, 0, PARTNER)]);
    }

    #[test]
    fn a_pair_appears_once_in_either_direction() {
        expect(
            |r| {
                r.pairings.push(pairing("R2", "U1", PairingKind::StrongWithStrong, PairingType::TownTownship))
            },
            &[(SheetKind::Pairings, 4, HELPER)],
        );
    }

    #[test]
    fn pairing_type_agrees_with_areas() {
        expect(
            |r| r.pairings[1].pairing_type = PairingType::TownTownship,
            &[(SheetKind::Pairings, 1, PAIRING_TYPE)],
        );
    }

    #[test]
    fn the_strong_school_helps_the_weak_one() {
        expect(
            |r| {
                r.pairings.push(pairing(
                    "R2",
                    "R1",
                    PairingKind::StrongHelpsWeak,
                    PairingType::TownshipTownship,
                ))
            },
            &[(SheetKind::Pairings, 4, HELPER), (SheetKind::Pairings, 4, KIND)],
        );
        // 强强联合 is never compared; without both evaluations (U2 has none) nothing is.
        expect(
            |r| r.pairings[2] = pairing("R1", "U1", PairingKind::StrongWithStrong, PairingType::TownTownship),
            &[],
        );
        expect(
            |r| r.pairings[3] = pairing("U2", "U1", PairingKind::StrongHelpsWeak, PairingType::TownTown),
            &[],
        );
    }

    #[test]
    fn subject_groups_are_unique_and_led_by_staff() {
        expect(
            |r| r.subject_groups.push(SubjectGroup { subject: "语文".into(), leader: "S99".into() }),
            &[(SheetKind::SubjectGroups, 2, SUBJECT), (SheetKind::SubjectGroups, 2, LEADER)],
        );
    }

    #[test]
    fn staff_ids_are_unique_and_their_schools_exist_once() {
        expect(
            |r| {
                let mut dup = r.staff[0].clone();
                dup.schools = vec![code("R2"), code("X1"), code("R2")];
                r.staff.push(dup);
            },
            &[(SheetKind::Staff, 2, STAFF), (SheetKind::Staff, 2, ASSIGNED), (SheetKind::Staff, 2, ASSIGNED)],
        );
    }

    #[test]
    fn stationings_name_known_staff_semesters_and_schools_of_the_right_area() {
        expect(|r| r.stationings[0].staff = "S77".into(), &[(SheetKind::Stationings, 0, STAFF)]);
        expect(
            |r| r.stationings[1].semester = Semester::new(2025, Term::First).unwrap(),
            &[(SheetKind::Stationings, 1, TERM)],
        );
        expect(|r| r.stationings[1].rural_school = code("U1"), &[(SheetKind::Stationings, 1, RURAL)]);
        expect(|r| r.stationings[1].urban_school = code("R1"), &[(SheetKind::Stationings, 1, URBAN)]);
        expect(|r| r.stationings[1].urban_school = code("X1"), &[(SheetKind::Stationings, 1, URBAN)]);
        // Without a semester list any semester will do.
        expect(
            |r| {
                r.semesters.clear();
                r.stationings[1].semester = Semester::new(2030, Term::First).unwrap();
            },
            &[],
        );
    }

    #[test]
    fn one_stationing_per_staff_and_semester() {
        expect(
            |r| r.stationings[2].semester = r.stationings[0].semester,
            &[(SheetKind::Stationings, 2, TERM)],
        );
    }

    #[test]
    fn every_school_is_covered_by_staff() {
        expect(|r| r.staff[1].schools.retain(|c| c.as_str() != "U2"), &[(SheetKind::Schools, 3, SCHOOL)]);
        let mut r = sample();
        r.staff[1].schools.clear();
        let problems = validate(&r);
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.contains("R2") && problems[0].message.contains("西坡中学"));
    }

    #[test]
    fn teachers_are_unique_at_known_schools_with_plausible_service() {
        expect(|r| r.teachers.push(teacher("T002", "R1", 5)), &[(SheetKind::Teachers, 3, TEACHER)]);
        expect(|r| r.teachers[0].school = code("X1"), &[(SheetKind::Teachers, 0, SCHOOL)]);
        expect(|r| r.teachers[2].years_of_service = 61, &[(SheetKind::Teachers, 2, YEARS)]);
        expect(|r| r.teachers[2].years_of_service = 60, &[]);
    }

    #[test]
    fn mentorships_join_two_known_different_teachers_once() {
        expect(|r| r.mentorships[0].mentor = "T404".into(), &[(SheetKind::Mentorships, 0, MENTOR)]);
        expect(|r| r.mentorships[1].apprentice = "T001".into(), &[(SheetKind::Mentorships, 1, APPRENTICE)]);
        expect(|r| r.mentorships.push(r.mentorships[0].clone()), &[(SheetKind::Mentorships, 2, APPRENTICE)]);
    }

    #[test]
    fn semesters_are_unique_ordered_and_disjoint() {
        expect(|r| r.semesters.push(r.semesters[0]), &[(SheetKind::Semesters, 2, TERM)]);
        expect(|r| r.semesters[1].end = day("2025-02-01"), &[(SheetKind::Semesters, 1, END)]);
        expect(|r| r.semesters[1].start = day("2025-01-20"), &[(SheetKind::Semesters, 1, START)]);
        // Counties set their own dates: outside the default calendar is fine.
        expect(|r| r.semesters[0].start = day("2024-08-20"), &[]);
    }

    #[test]
    fn problems_come_in_sheet_then_row_order() {
        let mut r = sample();
        r.mentorships[0].mentor = "T404".into();
        r.semesters[1].end = day("2025-02-01");
        r.teachers[1].school = code("X1");
        r.teachers[0].school = code("X1");
        let sheets: Vec<_> = spots(&r).into_iter().map(|(s, i, _)| (s, i)).collect();
        assert_eq!(
            sheets,
            [
                (SheetKind::Semesters, 1),
                (SheetKind::Teachers, 0),
                (SheetKind::Teachers, 1),
                (SheetKind::Mentorships, 0)
            ]
        );
    }
}
