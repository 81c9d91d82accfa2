//! The sheets of a roster, their Chinese column headers, and a problem found
//! in one of them.

use std::fmt;

/// The sheets of a roster, in the order of its tabular form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SheetKind {
    /// 学期.
    Semesters,
    /// 区域联合体.
    Alliances,
    /// 学校.
    Schools,
    /// 结对.
    Pairings,
    /// 学科组.
    SubjectGroups,
    /// 研培人员.
    Staff,
    /// 蹲点.
    Stationings,
    /// 教师.
    Teachers,
    /// 师徒结对.
    Mentorships,
}

impl SheetKind {
    /// Every sheet, in order.
    pub const ALL: [SheetKind; 9] = [
        SheetKind::Semesters,
        SheetKind::Alliances,
        SheetKind::Schools,
        SheetKind::Pairings,
        SheetKind::SubjectGroups,
        SheetKind::Staff,
        SheetKind::Stationings,
        SheetKind::Teachers,
        SheetKind::Mentorships,
    ];

    /// The sheet's Chinese name.
    pub fn title(self) -> &'static str {
        match self {
            SheetKind::Semesters => "学期",
            SheetKind::Alliances => "区域联合体",
            SheetKind::Schools => "学校",
            SheetKind::Pairings => "结对",
            SheetKind::SubjectGroups => "学科组",
            SheetKind::Staff => "研培人员",
            SheetKind::Stationings => "蹲点",
            SheetKind::Teachers => "教师",
            SheetKind::Mentorships => "师徒结对",
        }
    }

    /// The sheet's column headers, in the order the tabular form writes them.
    pub fn columns(self) -> &'static [&'static str] {
        use col::*;
        match self {
            SheetKind::Semesters => &[TERM, START, END],
            SheetKind::Alliances => &[ALLIANCE, ALLIANCE_NAME, BASE_SCHOOL],
            SheetKind::Schools => &[
                SCHOOL,
                SCHOOL_NAME,
                TOWNSHIP,
                AREA,
                LEVEL,
                ALLIANCE,
                LEADERSHIP,
                MANAGEMENT,
                TEACHER_QUALITY,
                REFORM,
                TEACHING_QUALITY,
            ],
            SheetKind::Pairings => &[HELPER, PARTNER, KIND, PAIRING_TYPE],
            SheetKind::SubjectGroups => &[SUBJECT, LEADER],
            SheetKind::Staff => &[STAFF, NAME, SUBJECT, ASSIGNED],
            SheetKind::Stationings => &[STAFF, TERM, RURAL, URBAN],
            SheetKind::Teachers => {
                &[TEACHER, NAME, SCHOOL, SUBJECTS_TAUGHT, GROUP, BACKBONE, SUBJECT_LEADER, YEARS]
            }
            SheetKind::Mentorships => &[MENTOR, APPRENTICE],
        }
    }
}

impl fmt::Display for SheetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// The Chinese column headers, shared by the invariants and the tabular form.
pub(in crate::roster) mod col {
    pub(crate) const COUNTY_SHEET: &str = "县";
    pub(crate) const COUNTY: &str = "县名";
    pub(crate) const TERM: &str = "学期";
    pub(crate) const START: &str = "开始日期";
    pub(crate) const END: &str = "结束日期";
    pub(crate) const ALLIANCE: &str = "联合体代码";
    pub(crate) const ALLIANCE_NAME: &str = "联合体名称";
    pub(crate) const BASE_SCHOOL: &str = "基地校代码";
    pub(crate) const SCHOOL: &str = "学校代码";
    pub(crate) const SCHOOL_NAME: &str = "学校名称";
    pub(crate) const TOWNSHIP: &str = "乡镇";
    pub(crate) const AREA: &str = "城乡";
    pub(crate) const LEVEL: &str = "学段";
    pub(crate) const LEADERSHIP: &str = "领导班子";
    pub(crate) const MANAGEMENT: &str = "管理水平";
    pub(crate) const TEACHER_QUALITY: &str = "教师素质";
    pub(crate) const REFORM: &str = "课改推进";
    pub(crate) const TEACHING_QUALITY: &str = "教学质量";
    pub(crate) const HELPER: &str = "帮扶校代码";
    pub(crate) const PARTNER: &str = "受援校代码";
    pub(crate) const KIND: &str = "结对方式";
    pub(crate) const PAIRING_TYPE: &str = "结对类型";
    pub(crate) const SUBJECT: &str = "学科";
    pub(crate) const LEADER: &str = "组长工号";
    pub(crate) const STAFF: &str = "工号";
    pub(crate) const NAME: &str = "姓名";
    pub(crate) const ASSIGNED: &str = "包校学校代码";
    pub(crate) const RURAL: &str = "农村学校代码";
    pub(crate) const URBAN: &str = "城区学校代码";
    pub(crate) const TEACHER: &str = "教师编号";
    pub(crate) const SUBJECTS_TAUGHT: &str = "任教学科";
    pub(crate) const GROUP: &str = "教研组";
    pub(crate) const BACKBONE: &str = "骨干教师";
    pub(crate) const SUBJECT_LEADER: &str = "学科带头人";
    pub(crate) const YEARS: &str = "教龄";
    pub(crate) const MENTOR: &str = "师傅编号";
    pub(crate) const APPRENTICE: &str = "徒弟编号";
}

/// One broken invariant of a roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The sheet of the offending item.
    pub sheet: SheetKind,
    /// The item's index in its list (its data row, counting from 0).
    pub index: usize,
    /// The Chinese header of the offending column.
    pub column: &'static str,
    /// What is wrong, in Chinese, naming the codes involved.
    pub message: String,
    /// The index of the item this one repeats, where it is a repeat.
    pub first: Option<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "「{}」第 {} 条「{}」：{}", self.sheet.title(), self.index + 1, self.column, self.message)?;
        match self.first {
            Some(first) => write!(f, "（第 {} 条已用过）", first + 1),
            None => Ok(()),
        }
    }
}
