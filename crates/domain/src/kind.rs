//! Activity kinds (研培活动类型) with their stable codes and Chinese labels.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A kind of 研培 activity. The full taxonomy of DOMAIN.md grows here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// 听课: a lesson observed.
    LessonObservation,
    /// 评课: a lesson evaluated.
    LessonEvaluation,
    /// 研讨课: a research lesson after collective preparation.
    ResearchLesson,
    /// 讲座: a lecture.
    Lecture,
    /// 教研组活动: a teaching-research group meeting.
    GroupMeeting,
}

impl ActivityKind {
    /// Every kind, in display order.
    pub const ALL: [ActivityKind; 5] = [
        ActivityKind::LessonObservation,
        ActivityKind::LessonEvaluation,
        ActivityKind::ResearchLesson,
        ActivityKind::Lecture,
        ActivityKind::GroupMeeting,
    ];

    /// Stable code stored in databases and used on the command line.
    pub fn code(self) -> &'static str {
        match self {
            ActivityKind::LessonObservation => "lesson_observation",
            ActivityKind::LessonEvaluation => "lesson_evaluation",
            ActivityKind::ResearchLesson => "research_lesson",
            ActivityKind::Lecture => "lecture",
            ActivityKind::GroupMeeting => "group_meeting",
        }
    }

    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            ActivityKind::LessonObservation => "听课",
            ActivityKind::LessonEvaluation => "评课",
            ActivityKind::ResearchLesson => "研讨课",
            ActivityKind::Lecture => "讲座",
            ActivityKind::GroupMeeting => "教研组活动",
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
#[error("未知的活动类型「{0}」，可选：听课、评课、研讨课、讲座、教研组活动")]
pub struct UnknownKind(pub String);

impl FromStr for ActivityKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        ActivityKind::ALL
            .into_iter()
            .find(|k| k.code() == s || k.label() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_labels_and_round_trips() {
        for kind in ActivityKind::ALL {
            assert_eq!(kind.code().parse::<ActivityKind>(), Ok(kind));
            assert_eq!(kind.label().parse::<ActivityKind>(), Ok(kind));
        }
        assert!("听评课".parse::<ActivityKind>().is_err());
    }
}
