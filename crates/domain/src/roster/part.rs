//! What a school's node needs of the roster, and the checks it makes offline.

use std::collections::BTreeSet;

use crate::{Activity, Field, SchoolCode, ValidationError};

use super::Roster;

impl Roster {
    /// The part of the roster that concerns `school`: its own entry, its
    /// alliance and base school, its pair partners, the staff assigned to it
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
        let mut wanted: BTreeSet<&SchoolCode> = BTreeSet::from([school]);
        wanted.extend(alliances.iter().map(|a| &a.base_school));
        wanted.extend(pairings.iter().flat_map(|p| [&p.helper, &p.partner]));
        let schools: Vec<_> = self
            .schools
            .iter()
            .filter(|s| wanted.contains(&s.code))
            .cloned()
            .map(|mut s| {
                // Other schools' evaluations are the county's business.
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

    /// Checks a record against the roster, as a node does offline: the
    /// semester's dates (where the county set them) and that a teacher named
    /// in the record teaches at that school (where the roster lists its teachers).
    pub fn check_activity(&self, a: &Activity) -> Result<(), ValidationError> {
        if let Some(s) = self.semesters.iter().find(|s| s.semester == a.semester)
            && !(s.start <= a.date && a.date <= s.end)
        {
            return Err(ValidationError::new(
                Field::Date,
                format!("日期 {} 不在本县规定的{}（{} 至 {}）之内", a.date, a.semester, s.start, s.end),
            ));
        }
        let teachers: Vec<_> = self.teachers.iter().filter(|t| t.school == a.school).collect();
        if let Some(name) = &a.body.teacher
            && !teachers.is_empty()
            && !teachers.iter().any(|t| &t.name == name || &t.id == name)
        {
            return Err(ValidationError::new(
                Field::Teacher,
                format!("名册中本校没有教师「{name}」：请核对姓名，或请县进修学校更新名册"),
            ));
        }
        Ok(())
    }
}
