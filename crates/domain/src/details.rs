//! What a record holds beyond the common fields: 五定四有 of a group meeting, a
//! 课题's stage, 蹲点 days, 培训 attendance, partner schools and attachments.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::validation::ValidationError;
use crate::{Field, SchoolCode};

/// The largest attachment a record may reference: 64 MiB.
pub const MAX_ATTACHMENT_BYTES: u64 = 64 * 1024 * 1024;
/// At most this many attachments per record.
pub const MAX_ATTACHMENTS: usize = 20;
/// At most this many participants, absentees or partner schools per record.
pub const MAX_PEOPLE: usize = 500;

/// The kind-specific part of a record. Every field is optional here; which ones a
/// kind requires or allows is [`crate::kind::Family`]'s business.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Details {
    /// 开始时间 (定时间 of a group meeting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<NaiveTime>,
    /// 地点.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// 参与人员: members of a meeting or 课题, teachers of a 同课异构.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
    /// Other schools the record involves (送课下乡's receiving school, a 现场会's guests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partner_schools: Vec<SchoolCode>,
    /// 内容.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// 形式 (专题讲座, 微讲座, 线上, 沙龙…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// 活动记录.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// 小结.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// 考评.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<String>,
    /// 下次活动安排.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_plan: Option<String>,
    /// 课题阶段.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<ProjectStage>,
    /// 级别 (校级, 县级, 市级, 省级).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// 蹲点 days this record covers, 1..=31.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// 应到人数.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<u32>,
    /// 实到人数.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<u32>,
    /// 缺席人员.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absentees: Vec<String>,
    /// Where an article was published or what it won.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publication: Option<String>,
    /// Evidence files, by content hash.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
}

/// The lifecycle of a 课题.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStage {
    /// 立项.
    Proposed,
    /// 研究中.
    Running,
    /// 结题.
    Concluded,
}

impl ProjectStage {
    /// Every stage, in order.
    pub const ALL: [ProjectStage; 3] =
        [ProjectStage::Proposed, ProjectStage::Running, ProjectStage::Concluded];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            ProjectStage::Proposed => "proposed",
            ProjectStage::Running => "running",
            ProjectStage::Concluded => "concluded",
        }
    }

    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            ProjectStage::Proposed => "立项",
            ProjectStage::Running => "研究中",
            ProjectStage::Concluded => "结题",
        }
    }
}

impl fmt::Display for ProjectStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for ProjectStage {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        ProjectStage::ALL.into_iter().find(|p| p.code() == s || p.label() == s).ok_or_else(|| {
            ValidationError::new(Field::Stage, format!("未知的课题阶段「{s}」，可选：立项、研究中、结题"))
        })
    }
}

/// An evidence file a record refers to: the file itself travels separately, by hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// SHA-256 of the content, 64 lowercase hex digits.
    pub sha256: String,
    /// The file name the clerk gave it.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

impl AttachmentRef {
    /// Checks the hash, the name and the size.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let hex =
            self.sha256.len() == 64 && self.sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex {
            return Err(ValidationError::new(Field::Attachments, "附件的 SHA-256 须为 64 位小写十六进制"));
        }
        let name_ok = !self.name.trim().is_empty()
            && self.name.chars().count() <= 200
            && !self.name.contains(['/', '\\', '\0']);
        if !name_ok {
            return Err(ValidationError::new(
                Field::Attachments,
                format!("附件文件名「{}」无效：须为 1 到 200 个字，不含 / 或 \\", self.name),
            ));
        }
        if self.size == 0 || self.size > MAX_ATTACHMENT_BYTES {
            return Err(ValidationError::new(
                Field::Attachments,
                format!(
                    "附件「{}」大小 {} 字节不合要求：须在 1 字节到 {} MB 之间",
                    self.name,
                    self.size,
                    MAX_ATTACHMENT_BYTES / 1024 / 1024
                ),
            ));
        }
        Ok(())
    }
}

const TEXT: usize = 4000;
const SHORT: usize = 64;

fn check_text(field: Field, value: Option<&str>, max: usize) -> Result<(), ValidationError> {
    if let Some(v) = value {
        crate::validation::check_controls(field, v, max >= TEXT)?;
    }
    match value {
        Some(v) if v.chars().count() > max => {
            Err(ValidationError::new(field, format!("不能超过 {max} 个字")))
        }
        Some(v) if v.trim().is_empty() => Err(ValidationError::new(field, "不能是空白；不填请省略")),
        _ => Ok(()),
    }
}

fn check_names(field: Field, names: &[String]) -> Result<(), ValidationError> {
    if names.len() > MAX_PEOPLE {
        return Err(ValidationError::new(field, format!("最多 {MAX_PEOPLE} 人")));
    }
    let mut seen = BTreeSet::new();
    for n in names {
        check_text(field, Some(n), SHORT)?;
        if !seen.insert(n.trim()) {
            return Err(ValidationError::new(field, format!("「{n}」重复出现")));
        }
    }
    Ok(())
}

impl Details {
    /// Nothing filled in.
    pub fn is_empty(&self) -> bool {
        self == &Details::default()
    }

    /// Whether `field` is filled in. Fields that do not live here are never set here.
    pub fn is_set(&self, field: Field) -> bool {
        match field {
            Field::StartTime => self.start_time.is_some(),
            Field::Location => self.location.is_some(),
            Field::Participants => !self.participants.is_empty(),
            Field::PartnerSchools => !self.partner_schools.is_empty(),
            Field::Content => self.content.is_some(),
            Field::Form => self.form.is_some(),
            Field::Record => self.record.is_some(),
            Field::Summary => self.summary.is_some(),
            Field::Evaluation => self.evaluation.is_some(),
            Field::NextPlan => self.next_plan.is_some(),
            Field::Stage => self.stage.is_some(),
            Field::Level => self.level.is_some(),
            Field::Days => self.days.is_some(),
            Field::Expected => self.expected.is_some(),
            Field::Present => self.present.is_some(),
            Field::Absentees => !self.absentees.is_empty(),
            Field::Publication => self.publication.is_some(),
            Field::Attachments => !self.attachments.is_empty(),
            _ => false,
        }
    }

    /// Checks values (which fields a kind may carry is checked by the caller).
    pub(crate) fn validate(&self, own_school: &SchoolCode) -> Result<(), ValidationError> {
        check_text(Field::Location, self.location.as_deref(), 200)?;
        check_text(Field::Content, self.content.as_deref(), TEXT)?;
        check_text(Field::Form, self.form.as_deref(), SHORT)?;
        check_text(Field::Record, self.record.as_deref(), TEXT)?;
        check_text(Field::Summary, self.summary.as_deref(), TEXT)?;
        check_text(Field::Evaluation, self.evaluation.as_deref(), TEXT)?;
        check_text(Field::NextPlan, self.next_plan.as_deref(), TEXT)?;
        check_text(Field::Level, self.level.as_deref(), SHORT)?;
        check_text(Field::Publication, self.publication.as_deref(), 200)?;
        check_names(Field::Participants, &self.participants)?;
        check_names(Field::Absentees, &self.absentees)?;
        if self.partner_schools.len() > MAX_PEOPLE {
            return Err(ValidationError::new(Field::PartnerSchools, format!("最多 {MAX_PEOPLE} 所学校")));
        }
        let mut seen = BTreeSet::new();
        for s in &self.partner_schools {
            if s == own_school {
                return Err(ValidationError::new(
                    Field::PartnerSchools,
                    format!("相关学校不能是本校（{s}）；只填其他学校"),
                ));
            }
            if !seen.insert(s) {
                return Err(ValidationError::new(Field::PartnerSchools, format!("学校 {s} 重复出现")));
            }
        }
        if let Some(d) = self.days
            && !(1..=31).contains(&d)
        {
            return Err(ValidationError::new(Field::Days, "蹲点天数须在 1 到 31 之间；更长请分段记录"));
        }
        if let Some(e) = self.expected
            && !(1..=100_000).contains(&e)
        {
            return Err(ValidationError::new(Field::Expected, "应到人数须在 1 到 100000 之间"));
        }
        if let (Some(e), Some(p)) = (self.expected, self.present) {
            if p > e {
                return Err(ValidationError::new(Field::Present, format!("实到 {p} 人多于应到 {e} 人")));
            }
            if self.absentees.len() > (e - p) as usize {
                return Err(ValidationError::new(
                    Field::Absentees,
                    format!("缺席 {} 人，多于应到减实到（{} 人）", self.absentees.len(), e - p),
                ));
            }
        }
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(ValidationError::new(
                Field::Attachments,
                format!("每条记录最多 {MAX_ATTACHMENTS} 个附件"),
            ));
        }
        let mut hashes = BTreeSet::new();
        for a in &self.attachments {
            a.validate()?;
            if !hashes.insert(&a.sha256) {
                return Err(ValidationError::new(Field::Attachments, format!("附件「{}」重复", a.name)));
            }
        }
        Ok(())
    }
}
