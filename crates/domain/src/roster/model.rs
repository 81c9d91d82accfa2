//! The county roster's types: schools, alliances, pairings, subject groups, staff,
//! their assignments, teachers, mentorships and semesters.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Semester;

/// A school's code: 1 to 32 ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SchoolCode(String);

/// The text is not a valid school code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("学校代码「{0}」无效：须为 1 到 32 个英文字母、数字、- 或 _")]
pub struct BadSchoolCode(pub String);

impl SchoolCode {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SchoolCode {
    type Err = BadSchoolCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(SchoolCode(s.to_owned())) } else { Err(BadSchoolCode(s.to_owned())) }
    }
}

impl TryFrom<String> for SchoolCode {
    type Error = BadSchoolCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SchoolCode> for String {
    fn from(c: SchoolCode) -> String {
        c.0
    }
}

impl fmt::Display for SchoolCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Urban (城镇) or rural (乡镇).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// 城镇.
    Urban,
    /// 乡镇.
    Rural,
}

impl Area {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Area::Urban => "urban",
            Area::Rural => "rural",
        }
    }

    /// From the stable code or the Chinese label.
    pub fn from_code(s: &str) -> Option<Area> {
        match s {
            "urban" | "城镇" => Some(Area::Urban),
            "rural" | "乡镇" => Some(Area::Rural),
            _ => None,
        }
    }

    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            Area::Urban => "城镇",
            Area::Rural => "乡镇",
        }
    }
}

/// The school's level (学段).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchoolLevel {
    /// 小学.
    Primary,
    /// 初中.
    Junior,
    /// 九年一贯制.
    NineYear,
    /// 高中.
    Senior,
}

impl SchoolLevel {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            SchoolLevel::Primary => "primary",
            SchoolLevel::Junior => "junior",
            SchoolLevel::NineYear => "nine_year",
            SchoolLevel::Senior => "senior",
        }
    }

    /// From the stable code or the Chinese label.
    pub fn from_code(s: &str) -> Option<SchoolLevel> {
        [SchoolLevel::Primary, SchoolLevel::Junior, SchoolLevel::NineYear, SchoolLevel::Senior]
            .into_iter()
            .find(|l| l.code() == s || l.label() == s)
    }

    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            SchoolLevel::Primary => "小学",
            SchoolLevel::Junior => "初中",
            SchoolLevel::NineYear => "九年一贯制",
            SchoolLevel::Senior => "高中",
        }
    }
}

/// A school of the county.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct School {
    /// Its code.
    pub code: SchoolCode,
    /// Its name, e.g. 城关第一中学.
    pub name: String,
    /// The township (乡镇) or town it is in.
    pub township: String,
    /// Urban or rural.
    pub area: Area,
    /// Primary or junior high.
    pub level: SchoolLevel,
    /// Code of the alliance it belongs to (exactly one).
    pub alliance: String,
    /// The 综合评估 scores, where the county has evaluated the school.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
}

/// The county's comprehensive evaluation (综合评估) of a school, each 0..=100.
/// It decides which schools are strong and which weak, and so the pairings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// 领导班子工作业绩.
    pub leadership: u8,
    /// 教育教学管理水平.
    pub management: u8,
    /// 教师队伍整体素质.
    pub teachers: u8,
    /// 课程改革推进情况.
    pub curriculum_reform: u8,
    /// 教育教学质量.
    pub teaching_quality: u8,
}

impl Evaluation {
    /// The mean of the five scores.
    pub fn mean(&self) -> f64 {
        let sum = u32::from(self.leadership)
            + u32::from(self.management)
            + u32::from(self.teachers)
            + u32::from(self.curriculum_reform)
            + u32::from(self.teaching_quality);
        f64::from(sum) / 5.0
    }
}

/// How two schools are paired (结对子).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingKind {
    /// 强强联合: strong with strong, complementary.
    StrongWithStrong,
    /// 强弱帮扶: the strong school helps the weak one.
    StrongHelpsWeak,
}

impl PairingKind {
    /// The label a user sees (also accepted on import).
    pub fn label(self) -> &'static str {
        match self {
            PairingKind::StrongWithStrong => "强强联合",
            PairingKind::StrongHelpsWeak => "强弱帮扶",
        }
    }

    /// From the label or the code.
    pub fn parse(s: &str) -> Option<PairingKind> {
        match s {
            "强强联合" | "strong_with_strong" => Some(PairingKind::StrongWithStrong),
            "强弱帮扶" | "strong_helps_weak" => Some(PairingKind::StrongHelpsWeak),
            _ => None,
        }
    }
}

/// Which kinds of school a pairing joins, by area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingType {
    /// 城镇—乡镇.
    TownTownship,
    /// 乡镇—乡镇.
    TownshipTownship,
    /// 城镇—城镇.
    TownTown,
}

impl PairingType {
    /// The label a user sees (also accepted on import).
    pub fn label(self) -> &'static str {
        match self {
            PairingType::TownTownship => "城镇—乡镇",
            PairingType::TownshipTownship => "乡镇—乡镇",
            PairingType::TownTown => "城镇—城镇",
        }
    }

    /// From the label (with — or -) or the code.
    pub fn parse(s: &str) -> Option<PairingType> {
        match s.replace(['-', '－', '–'], "—").as_str() {
            "城镇—乡镇" | "乡镇—城镇" | "town_township" => Some(PairingType::TownTownship),
            "乡镇—乡镇" | "township_township" => Some(PairingType::TownshipTownship),
            "城镇—城镇" | "town_town" => Some(PairingType::TownTown),
            _ => None,
        }
    }

    /// The type two areas make.
    pub fn of(a: Area, b: Area) -> PairingType {
        match (a, b) {
            (Area::Urban, Area::Urban) => PairingType::TownTown,
            (Area::Rural, Area::Rural) => PairingType::TownshipTownship,
            _ => PairingType::TownTownship,
        }
    }
}

/// Two paired schools (联姻结对子). `helper` helps `partner`; in a 强强联合 pair the
/// direction says who leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pairing {
    /// The school that helps (or leads).
    pub helper: SchoolCode,
    /// The school helped.
    pub partner: SchoolCode,
    /// 强强联合 or 强弱帮扶.
    pub kind: PairingKind,
    /// 城镇—乡镇 or 乡镇—乡镇 (or 城镇—城镇); must agree with the schools' areas.
    pub pairing_type: PairingType,
}

/// A subject research group (研培学科组), led by that subject's 教研员.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectGroup {
    /// The subject, e.g. 语文.
    pub subject: String,
    /// The leader's staff id.
    pub leader: String,
}

/// A member of the research staff (教研员/研培人员) and the schools assigned to them (包校).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    /// Staff id (工号), unique in the county.
    pub id: String,
    /// Name.
    pub name: String,
    /// Subjects they research.
    pub subjects: Vec<String>,
    /// Schools assigned to them (分工包校).
    pub schools: Vec<SchoolCode>,
}

/// A semester's 蹲点 (on-site stationing) assignment: one rural and one urban school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stationing {
    /// The staff member.
    pub staff: String,
    /// The semester.
    pub semester: Semester,
    /// The rural (乡镇) school.
    pub rural_school: SchoolCode,
    /// The urban (城镇) school.
    pub urban_school: SchoolCode,
}

/// A teacher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Teacher {
    /// Teacher id (教师编号), unique in the county.
    pub id: String,
    /// Name.
    pub name: String,
    /// School.
    pub school: SchoolCode,
    /// Subjects taught.
    pub subjects: Vec<String>,
    /// The school's teaching-research group (教研组) they belong to, e.g. 语文组.
    pub group: String,
    /// 骨干教师.
    pub backbone: bool,
    /// 学科带头人.
    pub subject_leader: bool,
    /// Years of service (教龄); teachers in their first three years have their own quotas.
    pub years_of_service: u8,
}

/// A mentor–apprentice pairing (青蓝工程).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mentorship {
    /// The mentor's teacher id.
    pub mentor: String,
    /// The apprentice's teacher id.
    pub apprentice: String,
}

/// A semester with the county's own dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SemesterDates {
    /// The semester.
    pub semester: Semester,
    /// First day.
    pub start: chrono::NaiveDate,
    /// Last day.
    pub end: chrono::NaiveDate,
}

/// A county's whole roster. Each list keeps the order of its sheet, so a
/// problem can name the row it came from and export round-trips.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// The county's name.
    pub county: String,
    /// Semesters and their dates.
    pub semesters: Vec<SemesterDates>,
    /// Regional alliances.
    pub alliances: Vec<Alliance>,
    /// Schools.
    pub schools: Vec<School>,
    /// Paired schools.
    pub pairings: Vec<Pairing>,
    /// Subject research groups.
    pub subject_groups: Vec<SubjectGroup>,
    /// Research staff with their assigned schools.
    pub staff: Vec<Staff>,
    /// 蹲点 assignments per semester.
    pub stationings: Vec<Stationing>,
    /// Teachers.
    pub teachers: Vec<Teacher>,
    /// Mentor–apprentice pairings.
    pub mentorships: Vec<Mentorship>,
}

/// A regional alliance (区域联合体), led by a base school (基地校) that is a member of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alliance {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The base school leading it.
    pub base_school: SchoolCode,
}
