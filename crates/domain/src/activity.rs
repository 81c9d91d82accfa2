//! An activity record and the rules every record obeys, wherever it comes from.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::details::Details;
use crate::validation::ValidationError;
use crate::{ActivityKind, Field, SchoolCode, Semester};

/// One 研培 activity in its full state at `version`.
///
/// Created at a school's node with a UUIDv7 id and version 1; every edit or
/// delete makes a new version; a delete keeps the record as a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// UUIDv7 assigned at capture.
    pub id: Uuid,
    /// The school it belongs to.
    pub school: SchoolCode,
    /// The semester it counts in.
    pub semester: Semester,
    /// The day it happened.
    pub date: NaiveDate,
    /// What it was.
    pub kind: ActivityKind,
    /// 1, then one more per edit or delete.
    pub version: u64,
    /// A tombstone.
    pub deleted: bool,
    /// The content of the record.
    #[serde(flatten)]
    pub body: ActivityDraft,
}

/// The fields a clerk fills in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityDraft {
    /// 学科.
    pub subject: Option<String>,
    /// 年级.
    pub grade: Option<String>,
    /// Who did it: observer, evaluator, teacher of the lesson, lecturer or host.
    pub actor: String,
    /// The teacher whose lesson was observed or evaluated.
    pub teacher: Option<String>,
    /// Lesson topic, lecture title or meeting theme.
    pub topic: Option<String>,
    /// Free text.
    pub notes: Option<String>,
    /// 1..=100, where the kind has one (评课, 达标课, 优质课…).
    pub rating: Option<u8>,
    /// Minutes.
    pub duration_minutes: Option<u32>,
    /// Everything else a kind may record (五定四有, 课题 stage, attendance, partner schools, attachments…).
    #[serde(default, skip_serializing_if = "Details::is_empty")]
    pub details: Details,
}

const SHORT: usize = 64;
const TITLE: usize = 200;
const NOTES: usize = 4000;

fn check_len(field: Field, value: Option<&str>, max: usize) -> Result<(), ValidationError> {
    if let Some(v) = value {
        crate::validation::check_controls(field, v, max >= NOTES)?;
    }
    match value {
        Some(v) if v.chars().count() > max => {
            Err(ValidationError::new(field, format!("不能超过 {max} 个字")))
        }
        Some(v) if v.trim().is_empty() => Err(ValidationError::new(field, "不能是空白；不填请省略")),
        _ => Ok(()),
    }
}

impl Activity {
    /// A new record (version 1) with a fresh UUIDv7, validated.
    pub fn create(
        school: SchoolCode,
        semester: Semester,
        date: NaiveDate,
        kind: ActivityKind,
        body: ActivityDraft,
    ) -> Result<Activity, ValidationError> {
        let activity =
            Activity { id: Uuid::now_v7(), school, semester, date, kind, version: 1, deleted: false, body };
        activity.validate()?;
        Ok(activity)
    }

    /// Checks every rule of the record itself; the first broken one is returned.
    /// Whether the date lies inside its semester is the calendar's rule
    /// ([`crate::Calendar::check_activity`]): the county decides the dates.
    ///
    /// A tombstone is checked like a live record: it carries the last state.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.id.get_version_num() != 7 {
            return Err(ValidationError::new(Field::Id, "记录编号必须是 UUIDv7"));
        }
        if self.version == 0 || self.version > i64::MAX as u64 {
            return Err(ValidationError::new(Field::Version, "版本号必须从 1 开始递增"));
        }
        let family = self.kind.family();
        let b = &self.body;
        if b.actor.trim().is_empty() {
            return Err(ValidationError::new(
                Field::Actor,
                format!("{}记录必须填写执行人（{}）", self.kind, family.actor_label()),
            ));
        }
        check_len(Field::Actor, Some(&b.actor), SHORT)?;
        check_len(Field::Subject, b.subject.as_deref(), SHORT)?;
        check_len(Field::Grade, b.grade.as_deref(), SHORT)?;
        check_len(Field::Teacher, b.teacher.as_deref(), SHORT)?;
        check_len(Field::Topic, b.topic.as_deref(), TITLE)?;
        check_len(Field::Notes, b.notes.as_deref(), NOTES)?;
        for &field in Field::ALL {
            let set = self.is_set(field);
            if set && !family.allows(field) {
                return Err(ValidationError::new(
                    field,
                    format!("{}记录没有「{}」这一项，请删去", self.kind, field.label()),
                ));
            }
            if !set && family.required().contains(&field) {
                return Err(ValidationError::new(
                    field,
                    format!("{}记录必须填写{}", self.kind, field.label()),
                ));
            }
        }
        if let Some(r) = b.rating
            && !(1..=100).contains(&r)
        {
            return Err(ValidationError::new(Field::Rating, "评分须在 1 到 100 之间"));
        }
        if let Some(m) = b.duration_minutes
            && !(1..=24 * 60).contains(&m)
        {
            return Err(ValidationError::new(Field::DurationMinutes, "时长须在 1 到 1440 分钟之间"));
        }
        b.details.validate(&self.school)
    }

    /// Whether the record fills in `field`.
    pub fn is_set(&self, field: Field) -> bool {
        let b = &self.body;
        match field {
            Field::Id
            | Field::School
            | Field::Semester
            | Field::Date
            | Field::Kind
            | Field::Version
            | Field::Actor => true,
            Field::Subject => b.subject.is_some(),
            Field::Grade => b.grade.is_some(),
            Field::Teacher => b.teacher.is_some(),
            Field::Topic => b.topic.is_some(),
            Field::Notes => b.notes.is_some(),
            Field::Rating => b.rating.is_some(),
            Field::DurationMinutes => b.duration_minutes.is_some(),
            other => b.details.is_set(other),
        }
    }

    /// Every school the record involves: its own first, then its partner schools.
    /// A shared record is visible at each of them and counted once, under its own school.
    pub fn schools(&self) -> impl Iterator<Item = &SchoolCode> {
        std::iter::once(&self.school).chain(self.body.details.partner_schools.iter())
    }

    /// Whether `school` is one of the schools the record involves.
    pub fn involves(&self, school: &SchoolCode) -> bool {
        self.schools().any(|s| s == school)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Term;

    fn observation() -> Activity {
        Activity::create(
            "S01".parse().unwrap(),
            Semester::new(2024, Term::First).unwrap(),
            NaiveDate::from_ymd_opt(2024, 10, 8).unwrap(),
            ActivityKind::LessonObservation,
            ActivityDraft {
                subject: Some("语文".into()),
                actor: "王老师".into(),
                teacher: Some("李老师".into()),
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn a_complete_observation_is_valid_and_v7() {
        let a = observation();
        assert_eq!(a.id.get_version_num(), 7);
        assert_eq!(a.version, 1);
    }

    #[test]
    fn each_rule_names_its_field() {
        type Breaker = Box<dyn Fn(&mut Activity)>;
        let cases: Vec<(Field, Breaker)> = vec![
            (Field::Id, Box::new(|a| a.id = Uuid::nil())),
            (Field::Version, Box::new(|a| a.version = 0)),
            (Field::Actor, Box::new(|a| a.body.actor = " ".into())),
            (Field::Teacher, Box::new(|a| a.body.teacher = Some("李\0老师".into()))),
            (Field::Topic, Box::new(|a| a.body.topic = Some("背影\u{1b}[2J".into()))),
            (Field::Teacher, Box::new(|a| a.body.teacher = None)),
            (Field::Subject, Box::new(|a| a.body.subject = Some(String::new()))),
            (Field::Rating, Box::new(|a| a.body.rating = Some(90))),
            (Field::Days, Box::new(|a| a.body.details.days = Some(3))),
            (Field::PartnerSchools, Box::new(|a| a.body.details.partner_schools = vec![a.school.clone()])),
            (Field::DurationMinutes, Box::new(|a| a.body.duration_minutes = Some(0))),
            (Field::Notes, Box::new(|a| a.body.notes = Some("很".repeat(4001)))),
        ];
        for (field, break_it) in cases {
            let mut a = observation();
            break_it(&mut a);
            let err = a.validate().unwrap_err();
            assert_eq!(err.field, field, "{err}");
            // People read the field's Chinese name, never its code.
            let shown = err.to_string();
            assert!(shown.starts_with(&format!("{}：", field.label())), "{shown}");
            assert!(!shown.contains(field.name()), "{shown}");
        }
    }

    #[test]
    fn kind_specific_requirements() {
        let mut a = observation();
        a.kind = ActivityKind::Lecture;
        assert_eq!(a.validate().unwrap_err().field, Field::Teacher, "a lecture has no observed teacher");
        a.body.teacher = None;
        assert_eq!(a.validate().unwrap_err().field, Field::Topic);
        a.body.topic = Some("新课标下的大单元教学".into());
        assert!(a.validate().is_ok());
        a.kind = ActivityKind::LessonEvaluation;
        a.body.teacher = Some("李老师".into());
        a.body.rating = Some(101);
        assert_eq!(a.validate().unwrap_err().field, Field::Rating);
        a.body.rating = Some(88);
        assert!(a.validate().is_ok());
    }

    #[test]
    fn serde_round_trip() {
        let a = observation();
        let json = serde_json::to_string(&a).unwrap();
        let back: Activity = serde_json::from_str(&json).unwrap();
        assert_eq!(a, back);
    }
}
