//! Activity kinds (研培活动类型): the full taxonomy of DOMAIN.md, each with a stable
//! code, its Chinese label, its family, and which fields its record requires or allows.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Field;

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $label:literal, $family:ident; )*) => {
        /// A kind of 研培 activity.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ActivityKind {
            $( $(#[$doc])* $variant, )*
        }

        impl ActivityKind {
            /// Every kind, in display order.
            pub const ALL: &'static [ActivityKind] = &[ $( ActivityKind::$variant, )* ];

            /// Stable code stored in databases and used on the command line.
            pub fn code(self) -> &'static str {
                match self { $( ActivityKind::$variant => $code, )* }
            }

            /// The label a user sees.
            pub fn label(self) -> &'static str {
                match self { $( ActivityKind::$variant => $label, )* }
            }

            /// The family the kind belongs to.
            pub fn family(self) -> Family {
                match self { $( ActivityKind::$variant => Family::$family, )* }
            }
        }
    };
}

kinds! {
    /// 听课: a lesson observed.
    LessonObservation = "lesson_observation", "听课", Observation;
    /// 评课: a lesson evaluated.
    LessonEvaluation = "lesson_evaluation", "评课", Evaluation;
    /// 研讨课: a staff member's research lesson after collective preparation.
    ResearchLesson = "research_lesson", "研讨课", Lesson;
    /// 达标课: a standards lesson.
    StandardLesson = "standard_lesson", "达标课", Lesson;
    /// 演示课: a demonstration lesson.
    DemonstrationLesson = "demonstration_lesson", "演示课", Lesson;
    /// 公开课: a teacher's open lesson.
    OpenLesson = "open_lesson", "公开课", Lesson;
    /// 示范课: a model lesson.
    ModelLesson = "model_lesson", "示范课", Lesson;
    /// 汇报课: a report lesson (often a new teacher's).
    ReportLesson = "report_lesson", "汇报课", Lesson;
    /// 优质课: a lesson in a quality-lesson competition.
    QualityLesson = "quality_lesson", "优质课", Lesson;
    /// 同课异构: several teachers teach the same topic.
    SameTopicLessons = "same_topic_lessons", "同课异构", SameTopic;
    /// 讲座: a lecture (专题讲座, 微讲座).
    Lecture = "lecture", "讲座", Talk;
    /// 集体备课: collective lesson preparation.
    CollectivePrep = "collective_prep", "集体备课", Prep;
    /// 说课: explaining a lesson design.
    LessonTalk = "lesson_talk", "说课", Prep;
    /// 案例分析: a case analysis.
    CaseAnalysis = "case_analysis", "案例分析", Talk;
    /// 教研组活动: a teaching-research group meeting (五定四有).
    GroupMeeting = "group_meeting", "教研组活动", Meeting;
    /// 课题: a research project with members and a lifecycle.
    ResearchProject = "research_project", "课题", Project;
    /// 理论文章.
    TheoryArticle = "theory_article", "理论文章", Writing;
    /// 经验总结.
    ExperienceSummary = "experience_summary", "经验总结", Writing;
    /// 课题总结.
    ProjectSummary = "project_summary", "课题总结", Writing;
    /// 调查报告.
    SurveyReport = "survey_report", "调查报告", Writing;
    /// 教学设计.
    TeachingDesign = "teaching_design", "教学设计", Writing;
    /// 案例反思.
    CaseReflection = "case_reflection", "案例反思", Writing;
    /// 教学叙事.
    TeachingNarrative = "teaching_narrative", "教学叙事", Writing;
    /// 教学随笔.
    TeachingEssay = "teaching_essay", "教学随笔", Writing;
    /// 论文: a paper.
    Paper = "paper", "论文", Writing;
    /// 蹲点日记: a staff member's on-site diary.
    OnsiteDiary = "onsite_diary", "蹲点日记", Writing;
    /// 教学反思.
    TeachingReflection = "teaching_reflection", "教学反思", Writing;
    /// 读书笔记.
    ReadingNotes = "reading_notes", "读书笔记", Writing;
    /// 蹲点: days a 教研员 spends stationed at the school.
    OnsiteDays = "onsite_days", "蹲点", Onsite;
    /// 视导: a 教研员's visit to the school.
    StaffVisit = "staff_visit", "视导", Visit;
    /// 现场会: an on-site meeting hosted by a member school for its alliance.
    SiteMeeting = "site_meeting", "现场会", SiteMeeting;
    /// 培训: a training session with attendance (考勤).
    Training = "training", "培训", Training;
    /// 送课下乡: a teacher of this school teaches at another school.
    LessonDelivery = "lesson_delivery", "送课下乡", Delivery;
}

/// Families of kinds that share the shape of their record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// 听课.
    Observation,
    /// 评课.
    Evaluation,
    /// A lesson taught (研讨课 … 优质课).
    Lesson,
    /// 同课异构.
    SameTopic,
    /// 讲座, 案例分析.
    Talk,
    /// 集体备课, 说课.
    Prep,
    /// 教研组活动.
    Meeting,
    /// 课题.
    Project,
    /// Articles, papers, diaries, reflections, reading notes.
    Writing,
    /// 蹲点.
    Onsite,
    /// 视导.
    Visit,
    /// 现场会.
    SiteMeeting,
    /// 培训.
    Training,
    /// 送课下乡.
    Delivery,
}

/// Fields every record may carry, whatever its kind.
const COMMON: &[Field] = &[
    Field::Id,
    Field::School,
    Field::Semester,
    Field::Date,
    Field::Kind,
    Field::Version,
    Field::Actor,
    Field::Notes,
    Field::Location,
    Field::Participants,
    Field::PartnerSchools,
    Field::Attachments,
    Field::DurationMinutes,
    Field::StartTime,
];

impl Family {
    /// Every family, in the order reports list them.
    pub const ALL: [Family; 14] = [
        Family::Observation,
        Family::Evaluation,
        Family::Lesson,
        Family::SameTopic,
        Family::Talk,
        Family::Prep,
        Family::Meeting,
        Family::Project,
        Family::Writing,
        Family::Onsite,
        Family::Visit,
        Family::SiteMeeting,
        Family::Training,
        Family::Delivery,
    ];

    /// The label a user sees in reports and charts.
    pub fn label(self) -> &'static str {
        match self {
            Family::Observation => "听课",
            Family::Evaluation => "评课",
            Family::Lesson => "上课",
            Family::SameTopic => "同课异构",
            Family::Talk => "讲座",
            Family::Prep => "备课说课",
            Family::Meeting => "教研组活动",
            Family::Project => "课题研究",
            Family::Writing => "撰写",
            Family::Onsite => "蹲点",
            Family::Visit => "视导",
            Family::SiteMeeting => "现场会",
            Family::Training => "培训",
            Family::Delivery => "送课下乡",
        }
    }

    /// Fields a record of this family must fill in (besides the 执行人).
    pub fn required(self) -> &'static [Field] {
        match self {
            Family::Observation | Family::Evaluation => &[Field::Teacher, Field::Subject],
            Family::Lesson | Family::Prep => &[Field::Subject, Field::Topic],
            Family::SameTopic => &[Field::Subject, Field::Topic, Field::Participants],
            Family::Talk | Family::Meeting | Family::Writing | Family::SiteMeeting => &[Field::Topic],
            Family::Project => &[Field::Topic, Field::Stage],
            Family::Onsite => &[Field::Days],
            Family::Visit => &[],
            Family::Training => &[Field::Topic, Field::Expected, Field::Present],
            Family::Delivery => &[Field::Subject, Field::Topic, Field::PartnerSchools],
        }
    }

    /// Fields a record of this family may fill in beyond the required ones and [`COMMON`].
    fn optional(self) -> &'static [Field] {
        match self {
            Family::Observation => &[Field::Grade, Field::Topic],
            Family::Evaluation => &[Field::Grade, Field::Topic, Field::Rating],
            Family::Lesson => &[Field::Grade, Field::Rating, Field::Teacher],
            Family::SameTopic => &[Field::Grade],
            Family::Talk => &[Field::Subject, Field::Form],
            Family::Prep => &[Field::Grade, Field::Content],
            Family::Meeting => &[
                Field::Subject,
                Field::Content,
                Field::Form,
                Field::Record,
                Field::Summary,
                Field::Evaluation,
                Field::NextPlan,
            ],
            Family::Project => &[Field::Subject, Field::Level, Field::Summary],
            Family::Writing => &[Field::Subject, Field::Publication, Field::Grade],
            Family::Onsite => &[Field::Topic, Field::Subject, Field::Content],
            Family::Visit => &[Field::Topic, Field::Subject, Field::Content, Field::Summary],
            Family::SiteMeeting => &[Field::Content, Field::Form, Field::Summary],
            Family::Training => &[Field::Content, Field::Form, Field::Absentees, Field::Subject],
            Family::Delivery => &[Field::Grade, Field::Teacher],
        }
    }

    /// Whether a record of this family may carry `field`.
    pub fn allows(self, field: Field) -> bool {
        COMMON.contains(&field) || self.required().contains(&field) || self.optional().contains(&field)
    }

    /// What the 执行人 is called for this family, for prompts and messages.
    pub fn actor_label(self) -> &'static str {
        match self {
            Family::Observation => "听课人",
            Family::Evaluation => "评课人",
            Family::Lesson | Family::Delivery => "授课人",
            Family::SameTopic => "组织人",
            Family::Talk => "主讲人",
            Family::Prep => "主备人",
            Family::Meeting | Family::SiteMeeting => "主持人",
            Family::Project => "课题主持人",
            Family::Writing => "作者",
            Family::Onsite | Family::Visit => "教研员",
            Family::Training => "组织者",
        }
    }
}

impl fmt::Display for ActivityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The text was neither a kind's code nor its Chinese label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知的活动类型「{0}」，可选：{list}", list = all_labels())]
pub struct UnknownKind(pub String);

fn all_labels() -> String {
    ActivityKind::ALL.iter().map(|k| k.label()).collect::<Vec<_>>().join("、")
}

impl FromStr for ActivityKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        ActivityKind::ALL
            .iter()
            .copied()
            .find(|k| k.code() == s || k.label() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn parses_codes_and_labels_and_round_trips() {
        for &kind in ActivityKind::ALL {
            assert_eq!(kind.code().parse::<ActivityKind>(), Ok(kind));
            assert_eq!(kind.label().parse::<ActivityKind>(), Ok(kind));
        }
        let err = "听评课".parse::<ActivityKind>().unwrap_err().to_string();
        assert!(err.contains("送课下乡") && err.contains("读书笔记"), "{err}");
    }

    #[test]
    fn every_kind_has_a_family_in_all_and_family_labels_are_unique() {
        let labels: BTreeSet<_> = Family::ALL.iter().map(|f| f.label()).collect();
        assert_eq!(labels.len(), Family::ALL.len());
        for k in ActivityKind::ALL {
            assert!(Family::ALL.contains(&k.family()), "{k:?}");
        }
    }

    #[test]
    fn codes_and_labels_are_unique_and_cover_the_domain() {
        let codes: BTreeSet<_> = ActivityKind::ALL.iter().map(|k| k.code()).collect();
        let labels: BTreeSet<_> = ActivityKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(codes.len(), ActivityKind::ALL.len());
        assert_eq!(labels.len(), ActivityKind::ALL.len());
        // DOMAIN.md, "Activities to record".
        for label in [
            "听课",
            "评课",
            "研讨课",
            "达标课",
            "演示课",
            "公开课",
            "示范课",
            "汇报课",
            "优质课",
            "同课异构",
            "讲座",
            "集体备课",
            "说课",
            "案例分析",
            "教研组活动",
            "课题",
            "理论文章",
            "经验总结",
            "课题总结",
            "调查报告",
            "教学设计",
            "案例反思",
            "教学叙事",
            "教学随笔",
            "论文",
            "蹲点日记",
            "教学反思",
            "读书笔记",
            "蹲点",
            "现场会",
            "培训",
            "送课下乡",
        ] {
            assert!(labels.contains(label), "{label} missing");
        }
    }

    #[test]
    fn required_fields_are_allowed() {
        for &kind in ActivityKind::ALL {
            for &f in kind.family().required() {
                assert!(kind.family().allows(f), "{kind} requires {f:?} but does not allow it");
            }
        }
    }
}
