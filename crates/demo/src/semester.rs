//! A plausible semester of activity at one school, generated from a seed.

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use yanpei_domain::roster::Roster;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, School, SchoolLevel, Semester, Term};

/// The semester the demo records: 2024-2025学年第一学期.
pub const DEMO_SEMESTER: Semester = Semester { start_year: 2024, term: Term::First };

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何",
    "高", "林", "罗",
];
const GIVEN: [&str; 16] =
    ["静", "丽", "敏", "伟", "芳", "军", "磊", "洋", "艳", "勇", "杰", "娟", "涛", "明", "霞", "平"];
const JUNIOR_SUBJECTS: [&str; 9] =
    ["语文", "数学", "英语", "物理", "化学", "道德与法治", "历史", "地理", "生物"];
const PRIMARY_SUBJECTS: [&str; 6] = ["语文", "数学", "英语", "科学", "道德与法治", "美术"];
const JUNIOR_GRADES: [&str; 3] = ["七年级", "八年级", "九年级"];
const PRIMARY_GRADES: [&str; 6] = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级"];
const TOPICS: [&str; 10] = [
    "大单元教学设计",
    "分层作业设计",
    "课堂提问的有效性",
    "小组合作学习",
    "新课标解读",
    "整本书阅读",
    "情境教学",
    "错题分析与讲评",
    "双减背景下的作业管理",
    "信息技术与学科融合",
];
const LESSONS: [&str; 8] = [
    "一元一次方程",
    "背影",
    "光的折射",
    "秋天的怀念",
    "分数的意义",
    "Unit 3 My friends",
    "化学式",
    "丝绸之路",
];

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

fn person(rng: &mut StdRng) -> String {
    format!("{}{}", pick(rng, &SURNAMES), pick(rng, &GIVEN))
}

/// A school day of the semester (Monday to Friday), inside the county's dates where it set them.
fn school_day(rng: &mut StdRng, roster: &Roster, semester: Semester) -> NaiveDate {
    let (first, last) = roster.calendar().dates(semester);
    let span = (last - first).num_days();
    loop {
        let d = first + TimeDelta::days(rng.random_range(0..=span));
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            return d;
        }
    }
}

/// The semester's records at a school: a reproducible function of `seed`.
///
/// The people are the school's teachers on the roster (invented names where
/// it lists none); the numbers loosely follow the seeds' quotas (every teacher
/// observes lessons, the group meets weekly).
pub fn semester_of_activity(roster: &Roster, school: &School, seed: u64) -> Vec<Activity> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (subjects, grades): (&[&str], &[&str]) = match school.level {
        SchoolLevel::Junior | SchoolLevel::NineYear | SchoolLevel::Senior => {
            (&JUNIOR_SUBJECTS, &JUNIOR_GRADES)
        }
        SchoolLevel::Primary => (&PRIMARY_SUBJECTS, &PRIMARY_GRADES),
    };
    let mut teachers: Vec<String> =
        roster.teachers.iter().filter(|t| t.school == school.code).map(|t| t.name.clone()).collect();
    if teachers.is_empty() {
        teachers = (0..rng.random_range(12..30)).map(|_| person(&mut rng)).collect();
    }
    let plan = [
        (ActivityKind::LessonObservation, rng.random_range(60..140)),
        (ActivityKind::LessonEvaluation, rng.random_range(15..40)),
        (ActivityKind::ResearchLesson, rng.random_range(4..12)),
        (ActivityKind::Lecture, rng.random_range(2..6)),
        (ActivityKind::GroupMeeting, rng.random_range(15..22)),
    ];
    let mut out = Vec::new();
    for (kind, n) in plan {
        for _ in 0..n {
            let actor = teachers[rng.random_range(0..teachers.len())].clone();
            let teacher = teachers[rng.random_range(0..teachers.len())].clone();
            let subject = pick(&mut rng, subjects).to_owned();
            let grade = pick(&mut rng, grades).to_owned();
            let body = match kind {
                ActivityKind::LessonObservation => ActivityDraft {
                    subject: Some(subject),
                    grade: Some(grade),
                    actor,
                    teacher: Some(teacher),
                    topic: Some(pick(&mut rng, &LESSONS).to_owned()),
                    duration_minutes: Some(45),
                    ..Default::default()
                },
                ActivityKind::LessonEvaluation => ActivityDraft {
                    subject: Some(subject),
                    grade: Some(grade),
                    actor,
                    teacher: Some(teacher),
                    topic: Some(pick(&mut rng, &LESSONS).to_owned()),
                    rating: Some(rng.random_range(70..=98)),
                    ..Default::default()
                },
                ActivityKind::ResearchLesson => ActivityDraft {
                    subject: Some(subject),
                    grade: Some(grade),
                    actor,
                    topic: Some(pick(&mut rng, &LESSONS).to_owned()),
                    duration_minutes: Some(45),
                    ..Default::default()
                },
                ActivityKind::Lecture => ActivityDraft {
                    actor,
                    topic: Some(pick(&mut rng, &TOPICS).to_owned()),
                    duration_minutes: Some(rng.random_range(40..=120)),
                    ..Default::default()
                },
                ActivityKind::GroupMeeting => ActivityDraft {
                    subject: Some(subject),
                    actor,
                    topic: Some(pick(&mut rng, &TOPICS).to_owned()),
                    duration_minutes: Some(rng.random_range(40..=90)),
                    ..Default::default()
                },
                // The plan above names the kinds it generates.
                _ => continue,
            };
            let date = school_day(&mut rng, roster, DEMO_SEMESTER);
            if let Ok(a) = Activity::create(school.code.clone(), DEMO_SEMESTER, date, kind, body) {
                out.push(a);
            }
        }
    }
    out.extend(teachers_writing(&mut rng, roster, school, &teachers));
    out.extend(staff_on_site(&mut rng, roster, school, &teachers));
    out.sort_by_key(|a| a.date);
    out
}

/// Papers and reading notes by some of the school's teachers.
fn teachers_writing(
    rng: &mut StdRng,
    roster: &Roster,
    school: &School,
    teachers: &[String],
) -> Vec<Activity> {
    let mut out = Vec::new();
    let plan = [
        (ActivityKind::Paper, rng.random_range(2..8)),
        (ActivityKind::ReadingNotes, rng.random_range(8..30)),
    ];
    for (kind, n) in plan {
        for _ in 0..n {
            let body = ActivityDraft {
                actor: teachers[rng.random_range(0..teachers.len())].clone(),
                topic: Some(pick(rng, &TOPICS).to_owned()),
                ..Default::default()
            };
            let date = school_day(rng, roster, DEMO_SEMESTER);
            out.extend(Activity::create(school.code.clone(), DEMO_SEMESTER, date, kind, body).ok());
        }
    }
    out
}

/// What the 研培人员 stationed at the school this semester (蹲点) record there: on-site
/// days, lessons observed and evaluated, research lessons, group meetings, a research
/// topic and writing, in amounts that leave some of them behind their quotas.
fn staff_on_site(rng: &mut StdRng, roster: &Roster, school: &School, teachers: &[String]) -> Vec<Activity> {
    let mut out = Vec::new();
    let stationed = roster.stationings.iter().filter(|d| {
        d.semester == DEMO_SEMESTER && (d.rural_school == school.code || d.urban_school == school.code)
    });
    for d in stationed {
        let Some(staff) = roster.staff.iter().find(|s| s.id == d.staff) else { continue };
        let subject = staff.subjects.first().cloned().unwrap_or_else(|| "语文".to_owned());
        let plan = [
            (ActivityKind::OnsiteDays, rng.random_range(2..5)),
            (ActivityKind::LessonObservation, rng.random_range(12..28)),
            (ActivityKind::LessonEvaluation, rng.random_range(3..7)),
            (ActivityKind::ResearchLesson, rng.random_range(0..3)),
            (ActivityKind::GroupMeeting, rng.random_range(1..4)),
            (ActivityKind::ResearchProject, rng.random_range(0..2)),
            (ActivityKind::Paper, rng.random_range(0..2)),
            (ActivityKind::Lecture, rng.random_range(0..2)),
        ];
        for (kind, n) in plan {
            for _ in 0..n {
                let mut body = ActivityDraft { actor: staff.name.clone(), ..Default::default() };
                match kind.family() {
                    yanpei_domain::Family::Onsite => {
                        body.details.days = Some(rng.random_range(2..6));
                        body.subject = Some(subject.clone());
                    }
                    yanpei_domain::Family::Observation | yanpei_domain::Family::Evaluation => {
                        body.subject = Some(subject.clone());
                        body.teacher = Some(teachers[rng.random_range(0..teachers.len())].clone());
                        body.topic = Some(pick(rng, &LESSONS).to_owned());
                    }
                    yanpei_domain::Family::Lesson => {
                        body.subject = Some(subject.clone());
                        body.topic = Some(pick(rng, &LESSONS).to_owned());
                    }
                    yanpei_domain::Family::Project => {
                        body.topic = Some(format!("{subject}{}", pick(rng, &TOPICS)));
                        body.details.stage = Some(yanpei_domain::ProjectStage::Running);
                    }
                    _ => body.topic = Some(pick(rng, &TOPICS).to_owned()),
                }
                let date = school_day(rng, roster, DEMO_SEMESTER);
                out.extend(Activity::create(school.code.clone(), DEMO_SEMESTER, date, kind, body).ok());
            }
        }
    }
    out
}

/// The semester's cross-school activity of every pairing (结对子): the helping school's
/// teachers deliver lessons (送课下乡), lecture and prepare lessons together with the school
/// helped, which now and then returns the visit. Each record is owned by the school that
/// recorded it and names the other as a partner school. A reproducible function of `seed`.
pub fn pairing_activity(roster: &Roster, seed: u64) -> Vec<Activity> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let teacher_of = |rng: &mut StdRng, school: &yanpei_domain::SchoolCode| {
        let names: Vec<&str> =
            roster.teachers.iter().filter(|t| &t.school == school).map(|t| t.name.as_str()).collect();
        if names.is_empty() { person(rng) } else { pick(rng, &names).to_owned() }
    };
    for p in &roster.pairings {
        let visits = [
            (&p.helper, &p.partner, rng.random_range(6..12)),
            (&p.partner, &p.helper, rng.random_range(2..5)),
        ];
        for (owner, partner, n) in visits {
            for i in 0..n {
                let kind =
                    [ActivityKind::LessonDelivery, ActivityKind::CollectivePrep, ActivityKind::Lecture]
                        [i % 3];
                let mut body = ActivityDraft {
                    actor: teacher_of(&mut rng, owner),
                    subject: (kind != ActivityKind::Lecture)
                        .then(|| pick(&mut rng, &JUNIOR_SUBJECTS).to_owned()),
                    topic: Some(pick(&mut rng, &TOPICS).to_owned()),
                    ..Default::default()
                };
                body.details.partner_schools = vec![partner.clone()];
                let date = school_day(&mut rng, roster, DEMO_SEMESTER);
                if let Ok(a) = Activity::create(owner.clone(), DEMO_SEMESTER, date, kind, body) {
                    out.push(a);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo_roster;

    #[test]
    fn every_generated_record_is_valid_for_the_roster_and_the_plan_is_met() {
        let roster = demo_roster().unwrap();
        for (i, school) in roster.schools.iter().enumerate() {
            let records = semester_of_activity(&roster, school, i as u64);
            assert!(records.len() >= 96, "{}: {}", school.code, records.len());
            for r in &records {
                r.validate().unwrap();
                roster.check_activity(r).unwrap();
                assert_eq!(r.school, school.code);
            }
        }
    }

    #[test]
    fn every_pair_has_cross_school_activity_in_both_directions() {
        let roster = demo_roster().unwrap();
        let records = pairing_activity(&roster, 9001);
        for p in &roster.pairings {
            let from = |a: &yanpei_domain::SchoolCode, b: &yanpei_domain::SchoolCode| {
                records
                    .iter()
                    .filter(|r| &r.school == a && r.body.details.partner_schools == [b.clone()])
                    .count()
            };
            assert!(from(&p.helper, &p.partner) >= 6, "{} -> {}", p.helper, p.partner);
            assert!(from(&p.partner, &p.helper) >= 2, "{} -> {}", p.partner, p.helper);
        }
        for r in &records {
            r.validate().unwrap();
            roster.check_activity(r).unwrap();
            assert!(DEMO_SEMESTER.contains(r.date));
        }
        // Ids are UUIDv7 (time-ordered); everything else is a function of the seed.
        let shape = |rs: &[Activity]| -> Vec<_> {
            rs.iter().map(|r| (r.school.clone(), r.date, r.kind, r.body.clone())).collect()
        };
        assert_eq!(shape(&records), shape(&pairing_activity(&roster, 9001)), "reproducible");
    }
}
