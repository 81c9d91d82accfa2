//! Conversions between wire messages and domain types. Inbound conversions validate.

use chrono::{NaiveDate, NaiveTime};
use uuid::Uuid;
use yanpei_domain::{
    Activity, ActivityDraft, ActivityKind, AttachmentRef, Details, Field, ProjectStage, Semester, Term,
    ValidationError,
};

use crate::pb;

/// Every domain kind beside its wire kind.
const KINDS: [(ActivityKind, pb::ActivityKind); 33] = [
    (ActivityKind::LessonObservation, pb::ActivityKind::LessonObservation),
    (ActivityKind::LessonEvaluation, pb::ActivityKind::LessonEvaluation),
    (ActivityKind::ResearchLesson, pb::ActivityKind::ResearchLesson),
    (ActivityKind::Lecture, pb::ActivityKind::Lecture),
    (ActivityKind::GroupMeeting, pb::ActivityKind::GroupMeeting),
    (ActivityKind::StandardLesson, pb::ActivityKind::StandardLesson),
    (ActivityKind::DemonstrationLesson, pb::ActivityKind::DemonstrationLesson),
    (ActivityKind::OpenLesson, pb::ActivityKind::OpenLesson),
    (ActivityKind::ModelLesson, pb::ActivityKind::ModelLesson),
    (ActivityKind::ReportLesson, pb::ActivityKind::ReportLesson),
    (ActivityKind::QualityLesson, pb::ActivityKind::QualityLesson),
    (ActivityKind::SameTopicLessons, pb::ActivityKind::SameTopicLessons),
    (ActivityKind::CollectivePrep, pb::ActivityKind::CollectivePrep),
    (ActivityKind::LessonTalk, pb::ActivityKind::LessonTalk),
    (ActivityKind::CaseAnalysis, pb::ActivityKind::CaseAnalysis),
    (ActivityKind::ResearchProject, pb::ActivityKind::ResearchProject),
    (ActivityKind::TheoryArticle, pb::ActivityKind::TheoryArticle),
    (ActivityKind::ExperienceSummary, pb::ActivityKind::ExperienceSummary),
    (ActivityKind::ProjectSummary, pb::ActivityKind::ProjectSummary),
    (ActivityKind::SurveyReport, pb::ActivityKind::SurveyReport),
    (ActivityKind::TeachingDesign, pb::ActivityKind::TeachingDesign),
    (ActivityKind::CaseReflection, pb::ActivityKind::CaseReflection),
    (ActivityKind::TeachingNarrative, pb::ActivityKind::TeachingNarrative),
    (ActivityKind::TeachingEssay, pb::ActivityKind::TeachingEssay),
    (ActivityKind::Paper, pb::ActivityKind::Paper),
    (ActivityKind::OnsiteDiary, pb::ActivityKind::OnsiteDiary),
    (ActivityKind::TeachingReflection, pb::ActivityKind::TeachingReflection),
    (ActivityKind::ReadingNotes, pb::ActivityKind::ReadingNotes),
    (ActivityKind::OnsiteDays, pb::ActivityKind::OnsiteDays),
    (ActivityKind::StaffVisit, pb::ActivityKind::StaffVisit),
    (ActivityKind::SiteMeeting, pb::ActivityKind::SiteMeeting),
    (ActivityKind::Training, pb::ActivityKind::Training),
    (ActivityKind::LessonDelivery, pb::ActivityKind::LessonDelivery),
];

/// Domain kind to wire kind.
pub fn kind_to_pb(kind: ActivityKind) -> pb::ActivityKind {
    KINDS.iter().find(|(k, _)| *k == kind).map_or(pb::ActivityKind::Unspecified, |(_, p)| *p)
}

/// Wire kind (as the raw enum value) to domain kind.
pub fn kind_from_pb(raw: i32) -> Result<ActivityKind, ValidationError> {
    match pb::ActivityKind::try_from(raw) {
        Ok(pb::ActivityKind::Unspecified) => Err(ValidationError::new(Field::Kind, "未填写活动类型")),
        Ok(p) => KINDS
            .iter()
            .find(|(_, q)| *q == p)
            .map(|(k, _)| *k)
            .ok_or_else(|| ValidationError::new(Field::Kind, format!("活动类型编号 {raw} 不受支持"))),
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
            details: (!b.details.is_empty()).then(|| details_to_pb(&b.details)),
        }
    }
}

fn stage_to_pb(s: ProjectStage) -> pb::ProjectStage {
    match s {
        ProjectStage::Proposed => pb::ProjectStage::Proposed,
        ProjectStage::Running => pb::ProjectStage::Running,
        ProjectStage::Concluded => pb::ProjectStage::Concluded,
    }
}

fn details_to_pb(d: &Details) -> pb::ActivityDetails {
    pb::ActivityDetails {
        start_time: d.start_time.map(|t| t.format("%H:%M").to_string()).unwrap_or_default(),
        location: d.location.clone().unwrap_or_default(),
        participants: d.participants.clone(),
        partner_schools: d.partner_schools.iter().map(ToString::to_string).collect(),
        content: d.content.clone().unwrap_or_default(),
        form: d.form.clone().unwrap_or_default(),
        record: d.record.clone().unwrap_or_default(),
        summary: d.summary.clone().unwrap_or_default(),
        evaluation: d.evaluation.clone().unwrap_or_default(),
        next_plan: d.next_plan.clone().unwrap_or_default(),
        stage: d.stage.map_or(pb::ProjectStage::Unspecified, stage_to_pb) as i32,
        level: d.level.clone().unwrap_or_default(),
        days: d.days.unwrap_or(0),
        expected: d.expected.unwrap_or(0),
        present: d.present.unwrap_or(0),
        absentees: d.absentees.clone(),
        publication: d.publication.clone().unwrap_or_default(),
        attachments: d
            .attachments
            .iter()
            .map(|a| pb::AttachmentRef { sha256: a.sha256.clone(), name: a.name.clone(), size: a.size })
            .collect(),
    }
}

fn nonzero(v: u32) -> Option<u32> {
    (v != 0).then_some(v)
}

fn details_from_pb(p: pb::ActivityDetails) -> Result<Details, ValidationError> {
    let start_time =
        match p.start_time.as_str() {
            "" => None,
            t => Some(NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| {
                ValidationError::new(Field::StartTime, format!("「{t}」不是 HH:MM 格式的时间"))
            })?),
        };
    let stage = match pb::ProjectStage::try_from(p.stage) {
        Ok(pb::ProjectStage::Unspecified) => None,
        Ok(pb::ProjectStage::Proposed) => Some(ProjectStage::Proposed),
        Ok(pb::ProjectStage::Running) => Some(ProjectStage::Running),
        Ok(pb::ProjectStage::Concluded) => Some(ProjectStage::Concluded),
        Err(_) => {
            return Err(ValidationError::new(Field::Stage, format!("未知的课题阶段编号 {}", p.stage)));
        }
    };
    let partner_schools = p
        .partner_schools
        .iter()
        .map(|c| c.parse().map_err(|e| ValidationError::new(Field::PartnerSchools, format!("{e}"))))
        .collect::<Result<_, _>>()?;
    Ok(Details {
        start_time,
        location: opt(p.location),
        participants: p.participants,
        partner_schools,
        content: opt(p.content),
        form: opt(p.form),
        record: opt(p.record),
        summary: opt(p.summary),
        evaluation: opt(p.evaluation),
        next_plan: opt(p.next_plan),
        stage,
        level: opt(p.level),
        days: nonzero(p.days),
        expected: nonzero(p.expected),
        present: (p.expected != 0 || p.present != 0).then_some(p.present),
        absentees: p.absentees,
        publication: opt(p.publication),
        attachments: p
            .attachments
            .into_iter()
            .map(|a| AttachmentRef { sha256: a.sha256, name: a.name, size: a.size })
            .collect(),
    })
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
                details: p.details.map(details_from_pb).transpose()?.unwrap_or_default(),
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
    fn every_kind_round_trips_with_its_example_details() {
        let partner = "S02".parse().unwrap();
        for &kind in ActivityKind::ALL {
            let a = Activity::create(
                "S01".parse().unwrap(),
                Semester::new(2024, Term::Second).unwrap(),
                NaiveDate::from_ymd_opt(2025, 4, 2).unwrap(),
                kind,
                yanpei_domain::example_draft(kind, &partner),
            )
            .unwrap();
            let wire = pb::Activity::from(&a);
            assert_eq!(kind_from_pb(wire.kind), Ok(kind));
            assert_eq!(Activity::try_from(wire).unwrap(), a, "{kind}");
        }
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

        // A UUID, but not a UUIDv7 (sync.proto: "any other UUID version is refused").
        let mut p = pb::Activity::from(&sample());
        p.id = "1b4e28ba-2fa1-41d2-883f-0016d3cca427".into();
        assert_eq!(Activity::try_from(p).unwrap_err().field, Field::Id);
    }

    /// The table of required fields in sync.proto's comment (for third-party clients) is
    /// the domain's: every kind listed once, with exactly its family's required fields.
    #[test]
    fn the_proto_comment_lists_each_kinds_required_fields() {
        let proto = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto/yanpei/v1/sync.proto"));
        let table = proto
            .split_once("a record requires")
            .and_then(|(_, rest)| rest.split_once("// Every record may also carry"))
            .map(|(table, _)| table)
            .expect("sync.proto's table of required fields");
        let mut listed: Vec<(ActivityKind, Vec<String>)> = Vec::new();
        for line in table.lines().filter_map(|l| l.trim().strip_prefix("//   ")) {
            let (kinds, fields) = line.split_once(": ").expect(line);
            let mut fields: Vec<String> = fields
                .split(", ")
                .filter(|f| *f != "-")
                .map(|f| f.trim_start_matches("details.").to_owned())
                .collect();
            fields.sort();
            for label in kinds.split(", ") {
                let kind: ActivityKind = label.parse().expect(label);
                listed.push((kind, fields.clone()));
            }
        }
        for &kind in ActivityKind::ALL {
            let rows: Vec<&Vec<String>> = listed.iter().filter(|(k, _)| *k == kind).map(|(_, f)| f).collect();
            assert_eq!(rows.len(), 1, "{kind} is listed once");
            let mut want: Vec<String> =
                kind.family().required().iter().map(|f| f.name().to_owned()).collect();
            want.sort();
            assert_eq!(rows[0], &want, "{kind}'s required fields");
        }
    }
}
