//! What a school's node needs of the roster, and the checks it makes offline.

use std::collections::BTreeSet;

use crate::{Activity, Calendar, Field, SchoolCode, ValidationError};

use super::Roster;

impl Roster {
    /// The part of the roster that concerns `school`: its own entry (the other
    /// schools by name only), its alliance, its pairings, the staff assigned to it
    /// or stationed at it, its teachers and their mentorships, the subject
    /// groups and the semesters.
    pub fn part_for(&self, school: &SchoolCode) -> Roster {
        let own = self.schools.iter().find(|s| &s.code == school);
        let alliance = own.map(|s| s.alliance.as_str());
        let alliances: Vec<_> =
            self.alliances.iter().filter(|a| Some(a.code.as_str()) == alliance).cloned().collect();
        let pairings: Vec<_> =
            self.pairings.iter().filter(|p| &p.helper == school || &p.partner == school).cloned().collect();
        let stationings: Vec<_> = self
            .stationings
            .iter()
            .filter(|s| &s.rural_school == school || &s.urban_school == school)
            .cloned()
            .collect();
        // Every school of the county, so a clerk can name the partner school of a
        // 送课 or the guests of a 现场会 offline; other schools' evaluations are the
        // county's business and stay out.
        let schools: Vec<_> = self
            .schools
            .iter()
            .cloned()
            .map(|mut s| {
                if &s.code != school {
                    s.evaluation = None;
                }
                s
            })
            .collect();
        let stationed: BTreeSet<&str> = stationings.iter().map(|s| s.staff.as_str()).collect();
        let staff = self
            .staff
            .iter()
            .filter(|s| s.schools.contains(school) || stationed.contains(s.id.as_str()))
            .cloned()
            .map(|mut s| {
                s.schools.retain(|c| c == school);
                s
            })
            .collect();
        let teachers: Vec<_> = self.teachers.iter().filter(|t| &t.school == school).cloned().collect();
        let ids: BTreeSet<&str> = teachers.iter().map(|t| t.id.as_str()).collect();
        let mentorships = self
            .mentorships
            .iter()
            .filter(|m| ids.contains(m.mentor.as_str()) && ids.contains(m.apprentice.as_str()))
            .cloned()
            .collect();
        Roster {
            county: self.county.clone(),
            semesters: self.semesters.clone(),
            alliances,
            schools,
            pairings,
            subject_groups: self.subject_groups.clone(),
            staff,
            stationings,
            teachers,
            mentorships,
        }
    }

    /// The county's calendar: its semester list, or the built-in one where it has none.
    pub fn calendar(&self) -> Calendar {
        Calendar::of(&self.semesters)
    }

    /// Checks a record against the roster, as a node does offline and the hub does for
    /// every change it takes: the date inside its semester by the county's calendar,
    /// partner schools on the roster, and that a teacher named in the record teaches at
    /// that school (where the roster lists its teachers).
    pub fn check_activity(&self, a: &Activity) -> Result<(), ValidationError> {
        self.calendar().check_activity(a)?;
        let teachers: Vec<_> = self.teachers.iter().filter(|t| t.school == a.school).collect();
        if let Some(other) =
            a.body.details.partner_schools.iter().find(|p| !self.schools.iter().any(|s| &s.code == *p))
        {
            return Err(ValidationError::new(
                Field::PartnerSchools,
                format!("名册中没有学校「{other}」：请核对学校代码（yanpei node roster 可查看全县学校）"),
            ));
        }
        if let Some(name) = &a.body.teacher
            && !teachers.is_empty()
            && !teachers.iter().any(|t| &t.name == name || &t.id == name)
        {
            self.check_teacher_school(a)?;
            return Err(ValidationError::new(
                Field::Teacher,
                format!("名册中本校没有教师「{name}」：请核对姓名，或请县进修学校更新名册"),
            ));
        }
        Ok(())
    }

    /// The rule the hub keeps whatever a node knew: a teacher named in the record who is,
    /// by the roster, another school's teacher and not one of the record's school. (A name
    /// the roster does not know at all may be a teacher the roster has not caught up with;
    /// a node holding the roster asks about it before recording.)
    pub fn check_teacher_school(&self, a: &Activity) -> Result<(), ValidationError> {
        let Some(name) = &a.body.teacher else {
            return Ok(());
        };
        let is = |t: &&super::Teacher| &t.name == name || &t.id == name;
        if self.teachers.iter().filter(|t| t.school == a.school).any(|t| is(&t)) {
            return Ok(());
        }
        match self.teachers.iter().find(|t| is(t)) {
            Some(t) => {
                let other = self
                    .schools
                    .iter()
                    .find(|s| s.code == t.school)
                    .map_or(t.school.to_string(), |s| s.name.clone());
                Err(ValidationError::new(
                    Field::Teacher,
                    format!("教师「{name}」是名册中{other}的教师，不是本校教师：请核对授课教师"),
                ))
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::validate::fixture::{code, day, sample};
    use crate::{ActivityDraft, ActivityKind, Semester, Term};

    use super::*;

    #[test]
    fn a_school_sees_its_alliance_base_partners_staff_and_own_teachers() {
        let r = sample();
        let part = r.part_for(&code("R2"));
        assert_eq!(part.alliances.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), ["A2"]);
        let schools: Vec<_> = part.schools.iter().map(|s| s.code.as_str()).collect();
        // Every school, by name, so partner schools can be named offline.
        assert_eq!(schools, r.schools.iter().map(|s| s.code.as_str()).collect::<Vec<_>>());
        assert!(part.schools.iter().filter(|s| s.code.as_str() != "R2").all(|s| s.evaluation.is_none()));
        assert!(part.schools.iter().find(|s| s.code.as_str() == "R2").unwrap().evaluation.is_some());
        assert_eq!(part.pairings.len(), 2);
        // S02 is assigned to R2; S01 is stationed there in the second term.
        let staff: Vec<_> = part.staff.iter().map(|s| (s.id.as_str(), s.schools.len())).collect();
        assert_eq!(staff, [("S01", 0), ("S02", 1)]);
        assert_eq!(part.teachers.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T002"]);
        assert!(part.mentorships.is_empty(), "the mentor teaches at another school");
        assert_eq!(part.semesters, r.semesters);
    }

    fn observation(teacher: &str, date: &str) -> Activity {
        Activity::create(
            code("R2"),
            Semester::new(2024, Term::First).unwrap(),
            day(date),
            ActivityKind::LessonObservation,
            ActivityDraft {
                subject: Some("语文".into()),
                actor: "听课人".into(),
                teacher: Some(teacher.into()),
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn records_are_checked_against_the_roster() {
        let r = sample().part_for(&code("R2"));
        assert!(r.check_activity(&observation("教师T002", "2024-10-08")).is_ok());
        assert!(r.check_activity(&observation("T002", "2024-10-08")).is_ok(), "by id too");
        let e = r.check_activity(&observation("陌生人", "2024-10-08")).unwrap_err();
        assert_eq!(e.field, Field::Teacher);
        assert!(e.reason.contains("名册中本校没有教师"), "{e}");
        // The whole roster (as the hub holds it) names the school another teacher is from.
        let e = sample().check_activity(&observation("教师T001", "2024-10-08")).unwrap_err();
        assert_eq!(e.field, Field::Teacher);
        assert!(e.reason.contains("不是本校教师"), "{e}");
        // Inside the default calendar, but after the county's last day of term.
        let e = r.check_activity(&observation("教师T002", "2025-01-25")).unwrap_err();
        assert_eq!(e.field, Field::Date);
        let mut shared = observation("教师T002", "2024-10-08");
        shared.body.details.partner_schools = vec![code("U1")];
        assert!(r.check_activity(&shared).is_ok());
        shared.body.details.partner_schools = vec![code("NOPE")];
        assert_eq!(r.check_activity(&shared).unwrap_err().field, Field::PartnerSchools);
    }
}
