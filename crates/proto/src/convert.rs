//! Conversions between wire messages and domain types. Inbound conversions validate.

use chrono::NaiveDate;
use uuid::Uuid;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, Field, Semester, Term, ValidationError};

use crate::pb;

/// Domain kind to wire kind.
pub fn kind_to_pb(kind: ActivityKind) -> pb::ActivityKind {
    match kind {
        ActivityKind::LessonObservation => pb::ActivityKind::LessonObservation,
        ActivityKind::LessonEvaluation => pb::ActivityKind::LessonEvaluation,
        ActivityKind::ResearchLesson => pb::ActivityKind::ResearchLesson,
        ActivityKind::Lecture => pb::ActivityKind::Lecture,
        ActivityKind::GroupMeeting => pb::ActivityKind::GroupMeeting,
    }
}

/// Wire kind (as the raw enum value) to domain kind.
pub fn kind_from_pb(raw: i32) -> Result<ActivityKind, ValidationError> {
    match pb::ActivityKind::try_from(raw) {
        Ok(pb::ActivityKind::LessonObservation) => Ok(ActivityKind::LessonObservation),
        Ok(pb::ActivityKind::LessonEvaluation) => Ok(ActivityKind::LessonEvaluation),
        Ok(pb::ActivityKind::ResearchLesson) => Ok(ActivityKind::ResearchLesson),
        Ok(pb::ActivityKind::Lecture) => Ok(ActivityKind::Lecture),
        Ok(pb::ActivityKind::GroupMeeting) => Ok(ActivityKind::GroupMeeting),
        Ok(pb::ActivityKind::Unspecified) => Err(ValidationError::new(Field::Kind, "未填写活动类型")),
        Err(_) => Err(ValidationError::new(
            Field::Kind,
            format!("未知的活动类型编号 {raw}（节点版本可能比中心新，请联系县进修学校）"),
        )),
    }
}

/// Domain semester to wire semester.
pub fn semester_to_pb(s: Semester) -> pb::Semester {
    pb::Semester { start_year: u32::from(s.start_year), term: u32::from(s.term.number()) }
}

/// Wire semester to domain semester.
pub fn semester_from_pb(s: Option<&pb::Semester>) -> Result<Semester, ValidationError> {
    let s = s.ok_or_else(|| ValidationError::new(Field::Semester, "未填写学期"))?;
    let term = Term::from_number(s.term)
        .ok_or_else(|| ValidationError::new(Field::Semester, format!("学期须为 1 或 2，收到 {}", s.term)))?;
    u16::try_from(s.start_year)
        .ok()
        .and_then(|y| Semester::new(y, term))
        .ok_or_else(|| ValidationError::new(Field::Semester, format!("学年 {} 不合理", s.start_year)))
}

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl From<&Activity> for pb::Activity {
    fn from(a: &Activity) -> Self {
        let b = &a.body;
        pb::Activity {
            id: a.id.to_string(),
            school_code: a.school.to_string(),
            semester: Some(semester_to_pb(a.semester)),
            date: a.date.format("%Y-%m-%d").to_string(),
            kind: kind_to_pb(a.kind) as i32,
            version: a.version,
            deleted: a.deleted,
            subject: b.subject.clone().unwrap_or_default(),
            grade: b.grade.clone().unwrap_or_default(),
            actor: b.actor.clone(),
            teacher: b.teacher.clone().unwrap_or_default(),
            topic: b.topic.clone().unwrap_or_default(),
            notes: b.notes.clone().unwrap_or_default(),
            rating: b.rating.map(u32::from).unwrap_or(0),
            duration_minutes: b.duration_minutes.unwrap_or(0),
        }
    }
}

impl TryFrom<pb::Activity> for Activity {
    type Error = ValidationError;

    /// Parses and validates every field; the first fault is returned.
    fn try_from(p: pb::Activity) -> Result<Self, Self::Error> {
        let id = Uuid::try_parse(&p.id)
            .map_err(|_| ValidationError::new(Field::Id, format!("「{}」不是合法的 UUID", p.id)))?;
        let school =
            p.school_code.parse().map_err(|e| ValidationError::new(Field::School, format!("{e}")))?;
        let semester = semester_from_pb(p.semester.as_ref())?;
        let date = NaiveDate::parse_from_str(&p.date, "%Y-%m-%d").map_err(|_| {
            ValidationError::new(Field::Date, format!("「{}」不是 YYYY-MM-DD 格式的日期", p.date))
        })?;
        let kind = kind_from_pb(p.kind)?;
        let rating = match p.rating {
            0 => None,
            r => Some(
                u8::try_from(r).map_err(|_| ValidationError::new(Field::Rating, "评分须在 1 到 100 之间"))?,
            ),
        };
        let activity = Activity {
            id,
            school,
            semester,
            date,
            kind,
            version: p.version,
            deleted: p.deleted,
            body: ActivityDraft {
                subject: opt(p.subject),
                grade: opt(p.grade),
                actor: p.actor,
                teacher: opt(p.teacher),
                topic: opt(p.topic),
                notes: opt(p.notes),
                rating,
                duration_minutes: (p.duration_minutes != 0).then_some(p.duration_minutes),
            },
        };
        activity.validate()?;
        Ok(activity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Activity {
        Activity::create(
            "S01".parse().unwrap(),
            Semester::new(2024, Term::Second).unwrap(),
            NaiveDate::from_ymd_opt(2025, 4, 2).unwrap(),
            ActivityKind::LessonEvaluation,
            ActivityDraft {
                subject: Some("数学".into()),
                grade: Some("八年级".into()),
                actor: "赵老师".into(),
                teacher: Some("钱老师".into()),
                topic: Some("一次函数".into()),
                rating: Some(92),
                duration_minutes: Some(45),
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let a = sample();
        let back = Activity::try_from(pb::Activity::from(&a)).unwrap();
        assert_eq!(a, back);
    }

    #[test]
    fn bad_wire_fields_are_named() {
        let mut p = pb::Activity::from(&sample());
        p.id = "not-a-uuid".into();
        assert_eq!(Activity::try_from(p).unwrap_err().field, Field::Id);

        let mut p = pb::Activity::from(&sample());
        p.kind = 99;
        assert_eq!(Activity::try_from(p).unwrap_err().field, Field::Kind);

        let mut p = pb::Activity::from(&sample());
        p.semester = None;
        assert_eq!(Activity::try_from(p).unwrap_err().field, Field::Semester);

        let mut p = pb::Activity::from(&sample());
        p.date = "2025/04/02".into();
        assert_eq!(Activity::try_from(p).unwrap_err().field, Field::Date);

        let mut p = pb::Activity::from(&sample());
        p.rating = 300;
        assert_eq!(Activity::try_from(p).unwrap_err().field, Field::Rating);
    }
}
