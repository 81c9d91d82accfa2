//! The fields of an activity record: their wire names and the labels a clerk sees.

use std::fmt;

macro_rules! fields {
    ($( $variant:ident = $name:literal, $label:literal; )*) => {
        /// A field of a record, for error messages, prompts and sheet headers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum Field {
            $( $variant, )*
        }

        impl Field {
            /// Every field, in the order a form shows them.
            pub const ALL: &'static [Field] = &[ $( Field::$variant, )* ];

            /// The wire and command-line name.
            pub fn name(self) -> &'static str {
                match self { $( Field::$variant => $name, )* }
            }

            /// The label a user sees.
            pub fn label(self) -> &'static str {
                match self { $( Field::$variant => $label, )* }
            }
        }
    };
}

fields! {
    Id = "id", "记录编号";
    School = "school_code", "学校代码";
    Semester = "semester", "学期";
    Date = "date", "日期";
    Kind = "kind", "活动类型";
    Version = "version", "版本";
    Actor = "actor", "执行人";
    Subject = "subject", "学科";
    Grade = "grade", "年级";
    Teacher = "teacher", "授课教师";
    Topic = "topic", "课题/主题";
    Rating = "rating", "评分";
    DurationMinutes = "duration_minutes", "时长（分钟）";
    StartTime = "start_time", "开始时间";
    Location = "location", "地点";
    Participants = "participants", "参与人员";
    PartnerSchools = "partner_schools", "相关学校";
    Content = "content", "内容";
    Form = "form", "形式";
    Record = "record", "活动记录";
    Summary = "summary", "小结";
    Evaluation = "evaluation", "考评";
    NextPlan = "next_plan", "下次活动安排";
    Stage = "stage", "课题阶段";
    Level = "level", "级别";
    Days = "days", "天数";
    Expected = "expected", "应到人数";
    Present = "present", "实到人数";
    Absentees = "absentees", "缺席人员";
    Publication = "publication", "发表/获奖";
    Attachments = "attachments", "附件";
    Notes = "notes", "备注";
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for Field {
    type Err = String;

    /// A field by its wire name or its Chinese label.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Field::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s || f.label() == s)
            .ok_or_else(|| format!("未知的字段「{s}」"))
    }
}
