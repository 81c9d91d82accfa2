//! 五定四有: the completeness rule for a 教研组活动 (seed 002). A proper meeting fixes
//! its theme, people, content, time and form, and has a record, a summary, an
//! evaluation and the next meeting's plan. Missing items are not errors: the record
//! says which are missing, and statistics count complete and incomplete meetings apart.

use std::fmt;

use crate::{Activity, ActivityKind};

/// One of the nine items of 五定四有.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MeetingItem {
    /// 定主题.
    Theme,
    /// 定人员.
    People,
    /// 定内容.
    Content,
    /// 定时间.
    Time,
    /// 定形式.
    Form,
    /// 有记录.
    Record,
    /// 有小结.
    Summary,
    /// 有考评.
    Evaluation,
    /// 有下次活动安排.
    NextPlan,
}

impl MeetingItem {
    /// The nine, in the order the rule names them.
    pub const ALL: [MeetingItem; 9] = [
        MeetingItem::Theme,
        MeetingItem::People,
        MeetingItem::Content,
        MeetingItem::Time,
        MeetingItem::Form,
        MeetingItem::Record,
        MeetingItem::Summary,
        MeetingItem::Evaluation,
        MeetingItem::NextPlan,
    ];

    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            MeetingItem::Theme => "定主题",
            MeetingItem::People => "定人员",
            MeetingItem::Content => "定内容",
            MeetingItem::Time => "定时间",
            MeetingItem::Form => "定形式",
            MeetingItem::Record => "有记录",
            MeetingItem::Summary => "有小结",
            MeetingItem::Evaluation => "有考评",
            MeetingItem::NextPlan => "有下次活动安排",
        }
    }

    fn present_in(self, a: &Activity) -> bool {
        let (b, d) = (&a.body, &a.body.details);
        match self {
            MeetingItem::Theme => b.topic.is_some(),
            MeetingItem::People => !d.participants.is_empty(),
            MeetingItem::Content => d.content.is_some(),
            MeetingItem::Time => d.start_time.is_some(),
            MeetingItem::Form => d.form.is_some(),
            MeetingItem::Record => d.record.is_some(),
            MeetingItem::Summary => d.summary.is_some(),
            MeetingItem::Evaluation => d.evaluation.is_some(),
            MeetingItem::NextPlan => d.next_plan.is_some(),
        }
    }
}

impl fmt::Display for MeetingItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Activity {
    /// For a 教研组活动, the items of 五定四有 it lacks (empty: complete); `None` for other kinds.
    pub fn meeting_missing(&self) -> Option<Vec<MeetingItem>> {
        (self.kind == ActivityKind::GroupMeeting)
            .then(|| MeetingItem::ALL.into_iter().filter(|i| !i.present_in(self)).collect())
    }

    /// A 教研组活动 with all nine items of 五定四有.
    pub fn is_complete_meeting(&self) -> bool {
        self.meeting_missing().is_some_and(|m| m.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveTime};

    use super::*;
    use crate::{ActivityDraft, Semester, Term};

    fn meeting() -> Activity {
        Activity::create(
            "S01".parse().unwrap(),
            Semester::new(2024, Term::First).unwrap(),
            NaiveDate::from_ymd_opt(2024, 10, 9).unwrap(),
            ActivityKind::GroupMeeting,
            ActivityDraft {
                actor: "周组长".into(), topic: Some("作业设计".into()), ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn a_bare_meeting_lacks_eight_items_and_a_full_one_none() {
        let mut a = meeting();
        assert_eq!(a.meeting_missing().unwrap().len(), 8);
        assert!(!a.is_complete_meeting());
        let d = &mut a.body.details;
        d.participants = vec!["张".into(), "李".into()];
        d.content = Some("分层作业".into());
        d.start_time = NaiveTime::from_hms_opt(14, 30, 0);
        d.form = Some("研讨".into());
        d.record = Some("记录…".into());
        d.summary = Some("小结…".into());
        d.evaluation = Some("良好".into());
        assert_eq!(a.meeting_missing().unwrap(), vec![MeetingItem::NextPlan]);
        a.body.details.next_plan = Some("下周三：命题研讨".into());
        assert!(a.validate().is_ok());
        assert!(a.is_complete_meeting());
    }

    #[test]
    fn other_kinds_have_no_checklist() {
        let mut a = meeting();
        a.kind = ActivityKind::Lecture;
        assert_eq!(a.meeting_missing(), None);
    }
}
