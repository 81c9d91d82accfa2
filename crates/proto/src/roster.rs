//! The roster part a node receives: domain roster <-> `pb::RosterPart`.

use chrono::NaiveDate;
use yanpei_domain::SchoolCode;
use yanpei_domain::roster::{
    Alliance, Area, Mentorship, Pairing, PairingKind, PairingType, Roster, School, SchoolLevel,
    SemesterDates, Staff, Stationing, SubjectGroup, Teacher,
};

use crate::{pb, semester_from_pb, semester_to_pb};

/// The roster (a school's part of it) at `version`, for the wire.
pub fn roster_to_pb(version: u64, r: &Roster) -> pb::RosterPart {
    let codes = |v: &[SchoolCode]| v.iter().map(ToString::to_string).collect();
    pb::RosterPart {
        version,
        county: r.county.clone(),
        semesters: r
            .semesters
            .iter()
            .map(|s| pb::RosterSemester {
                semester: Some(semester_to_pb(s.semester)),
                start: s.start.to_string(),
                end: s.end.to_string(),
            })
            .collect(),
        alliances: r
            .alliances
            .iter()
            .map(|a| pb::RosterAlliance {
                code: a.code.clone(),
                name: a.name.clone(),
                base_school: a.base_school.to_string(),
            })
            .collect(),
        schools: r
            .schools
            .iter()
            .map(|s| pb::RosterSchool {
                code: s.code.to_string(),
                name: s.name.clone(),
                township: s.township.clone(),
                area: s.area.code().into(),
                level: s.level.code().into(),
                alliance_code: s.alliance.clone(),
            })
            .collect(),
        pairings: r
            .pairings
            .iter()
            .map(|p| pb::RosterPairing {
                helper: p.helper.to_string(),
                partner: p.partner.to_string(),
                kind: p.kind.label().into(),
                pairing_type: p.pairing_type.label().into(),
            })
            .collect(),
        subject_groups: r
            .subject_groups
            .iter()
            .map(|g| pb::RosterSubjectGroup { subject: g.subject.clone(), leader: g.leader.clone() })
            .collect(),
        staff: r
            .staff
            .iter()
            .map(|s| pb::RosterStaff {
                id: s.id.clone(),
                name: s.name.clone(),
                subjects: s.subjects.clone(),
                schools: codes(&s.schools),
            })
            .collect(),
        stationings: r
            .stationings
            .iter()
            .map(|s| pb::RosterStationing {
                staff: s.staff.clone(),
                semester: Some(semester_to_pb(s.semester)),
                rural_school: s.rural_school.to_string(),
                urban_school: s.urban_school.to_string(),
            })
            .collect(),
        teachers: r
            .teachers
            .iter()
            .map(|t| pb::RosterTeacher {
                id: t.id.clone(),
                name: t.name.clone(),
                school: t.school.to_string(),
                subjects: t.subjects.clone(),
                group: t.group.clone(),
                backbone: t.backbone,
                subject_leader: t.subject_leader,
                years_of_service: u32::from(t.years_of_service),
            })
            .collect(),
        mentorships: r
            .mentorships
            .iter()
            .map(|m| pb::RosterMentorship { mentor: m.mentor.clone(), apprentice: m.apprentice.clone() })
            .collect(),
    }
}

fn code(s: &str, what: &str) -> Result<SchoolCode, String> {
    s.parse().map_err(|e| format!("{what}: {e}"))
}

fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("bad date {s:?}"))
}

/// A roster part from the wire, checked field by field.
pub fn roster_from_pb(p: pb::RosterPart) -> Result<(u64, Roster), String> {
    let roster = Roster {
        county: p.county,
        semesters: p.semesters.iter().map(semester_dates_from_pb).collect::<Result<_, String>>()?,
        alliances: p
            .alliances
            .into_iter()
            .map(|a| {
                Ok(Alliance { base_school: code(&a.base_school, "base_school")?, code: a.code, name: a.name })
            })
            .collect::<Result<_, String>>()?,
        schools: p.schools.into_iter().map(school_from_pb).collect::<Result<_, String>>()?,
        pairings: p.pairings.iter().map(pairing_from_pb).collect::<Result<_, String>>()?,
        subject_groups: p
            .subject_groups
            .into_iter()
            .map(|g| SubjectGroup { subject: g.subject, leader: g.leader })
            .collect(),
        staff: p.staff.into_iter().map(staff_from_pb).collect::<Result<_, String>>()?,
        stationings: p.stationings.iter().map(stationing_from_pb).collect::<Result<_, String>>()?,
        teachers: p.teachers.into_iter().map(teacher_from_pb).collect::<Result<_, String>>()?,
        mentorships: p
            .mentorships
            .into_iter()
            .map(|m| Mentorship { mentor: m.mentor, apprentice: m.apprentice })
            .collect(),
    };
    Ok((p.version, roster))
}

fn semester_dates_from_pb(s: &pb::RosterSemester) -> Result<SemesterDates, String> {
    Ok(SemesterDates {
        semester: semester_from_pb(s.semester.as_ref()).map_err(|e| e.to_string())?,
        start: date(&s.start)?,
        end: date(&s.end)?,
    })
}

fn school_from_pb(s: pb::RosterSchool) -> Result<School, String> {
    Ok(School {
        code: code(&s.code, "school")?,
        area: Area::from_code(&s.area).ok_or_else(|| format!("bad area {:?}", s.area))?,
        level: SchoolLevel::from_code(&s.level).ok_or_else(|| format!("bad level {:?}", s.level))?,
        name: s.name,
        township: s.township,
        alliance: s.alliance_code,
        evaluation: None,
    })
}

fn pairing_from_pb(x: &pb::RosterPairing) -> Result<Pairing, String> {
    Ok(Pairing {
        helper: code(&x.helper, "helper")?,
        partner: code(&x.partner, "partner")?,
        kind: PairingKind::parse(&x.kind).ok_or_else(|| format!("bad pairing kind {:?}", x.kind))?,
        pairing_type: PairingType::parse(&x.pairing_type)
            .ok_or_else(|| format!("bad pairing type {:?}", x.pairing_type))?,
    })
}

fn staff_from_pb(s: pb::RosterStaff) -> Result<Staff, String> {
    Ok(Staff {
        schools: s.schools.iter().map(|c| code(c, "staff school")).collect::<Result<_, String>>()?,
        id: s.id,
        name: s.name,
        subjects: s.subjects,
    })
}

fn stationing_from_pb(s: &pb::RosterStationing) -> Result<Stationing, String> {
    Ok(Stationing {
        staff: s.staff.clone(),
        semester: semester_from_pb(s.semester.as_ref()).map_err(|e| e.to_string())?,
        rural_school: code(&s.rural_school, "rural_school")?,
        urban_school: code(&s.urban_school, "urban_school")?,
    })
}

fn teacher_from_pb(t: pb::RosterTeacher) -> Result<Teacher, String> {
    Ok(Teacher {
        school: code(&t.school, "teacher school")?,
        years_of_service: u8::try_from(t.years_of_service).map_err(|_| "bad years of service")?,
        id: t.id,
        name: t.name,
        subjects: t.subjects,
        group: t.group,
        backbone: t.backbone,
        subject_leader: t.subject_leader,
    })
}
