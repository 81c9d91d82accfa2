//! The quota policy: who must do how much of what, per semester or per month.

use serde::{Deserialize, Serialize};
use yanpei_domain::ActivityKind;

/// The policy shipped with yanpei: the figures of the source documents.
pub const DEFAULT_POLICY: &str = include_str!("../quotas.toml");

/// Who a quota applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Every 研培人员.
    Staff,
    /// 研培人员 with a 蹲点 assignment in the semester.
    StationedStaff,
    /// Every teacher.
    Teacher,
    /// Teachers in their first three years.
    NewTeacher,
}

impl Role {
    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            Role::Staff => "研培人员",
            Role::StationedStaff => "蹲点研培人员",
            Role::Teacher => "教师",
            Role::NewTeacher => "新教师（教龄三年内）",
        }
    }
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Records.
    #[default]
    Records,
    /// 蹲点 days.
    Days,
}

/// Who a record counts for under a quota: the one who did it (执行人: the observer, the
/// host, the author), the people listed as taking part (参与人员), or the teacher whose
/// lesson it was (授课教师).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountsFor {
    /// The record's 执行人.
    Actor,
    /// Each person listed among its 参与人员 (other than its 执行人).
    Participants,
    /// The teacher whose lesson it records (授课教师).
    Teacher,
}

impl CountsFor {
    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            CountsFor::Actor => "执行人",
            CountsFor::Participants => "参与人员",
            CountsFor::Teacher => "授课教师",
        }
    }
}

fn actor_only() -> Vec<CountsFor> {
    vec![CountsFor::Actor]
}

/// The period a target is per.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Per semester.
    #[default]
    Semester,
    /// Per month: the semester's target is the target times the semester's months.
    Month,
}

/// One quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Who it applies to.
    pub role: Role,
    /// What the report calls it.
    pub label: String,
    /// Kinds that count, by code.
    pub kinds: Vec<String>,
    /// Records or days.
    #[serde(default)]
    pub measure: Measure,
    /// Who a record counts for (default: its 执行人 only).
    #[serde(default = "actor_only")]
    pub counts_for: Vec<CountsFor>,
    /// How many per period.
    pub target: u32,
    /// Per semester or per month.
    #[serde(default)]
    pub period: Period,
    /// Where the figure comes from.
    #[serde(default)]
    pub source: String,
}

/// A county's quotas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaPolicy {
    /// Every quota.
    #[serde(rename = "quota")]
    pub quotas: Vec<Quota>,
}

/// The policy file is not usable; the message says where and why, in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not valid TOML or not the expected shape.
    #[error("考核指标文件格式有误：{0}")]
    Syntax(String),
    /// A quota names something that does not exist.
    #[error("第 {index} 条指标「{label}」：{reason}")]
    Quota {
        /// 1-based.
        index: usize,
        /// Its label.
        label: String,
        /// What is wrong.
        reason: String,
    },
}

impl QuotaPolicy {
    /// The shipped defaults.
    pub fn default_policy() -> QuotaPolicy {
        // The shipped file is checked by a test; an error here is a build defect.
        QuotaPolicy::parse(DEFAULT_POLICY).unwrap_or(QuotaPolicy { quotas: Vec::new() })
    }

    /// Parses and checks a policy file's text.
    pub fn parse(text: &str) -> Result<QuotaPolicy, PolicyError> {
        let policy: QuotaPolicy = toml::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        for (i, q) in policy.quotas.iter().enumerate() {
            let bad = |reason: String| PolicyError::Quota { index: i + 1, label: q.label.clone(), reason };
            if q.kinds.is_empty() {
                return Err(bad("kinds 不能为空".into()));
            }
            for k in &q.kinds {
                k.parse::<ActivityKind>().map_err(|e| bad(e.to_string()))?;
            }
            if q.counts_for.is_empty() {
                return Err(bad("counts_for 不能为空（不写则只算执行人）".into()));
            }
            if q.target == 0 {
                return Err(bad("target 须大于 0".into()));
            }
            if q.label.trim().is_empty() {
                return Err(bad("label 不能为空".into()));
            }
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_parses_and_carries_the_seeds_figures() {
        let p = QuotaPolicy::parse(DEFAULT_POLICY).unwrap();
        let target = |role: Role, label: &str| {
            p.quotas.iter().find(|q| q.role == role && q.label == label).map(|q| q.target)
        };
        assert_eq!(target(Role::StationedStaff, "听课"), Some(40));
        assert_eq!(target(Role::StationedStaff, "评课"), Some(10));
        assert_eq!(target(Role::Teacher, "听课"), Some(15));
        assert_eq!(target(Role::NewTeacher, "听课（每月）"), Some(12));
        assert_eq!(QuotaPolicy::default_policy(), p);
        // A 教研员 joins the school's group activities: meetings listing them count.
        let meeting = p.quotas.iter().find(|q| q.label == "参加教研组活动").unwrap();
        assert_eq!(meeting.counts_for, [CountsFor::Actor, CountsFor::Participants]);
        let observe = p.quotas.iter().find(|q| q.role == Role::Teacher && q.label == "听课").unwrap();
        assert_eq!(observe.counts_for, [CountsFor::Actor], "the observed teacher did not observe");
    }

    #[test]
    fn a_bad_kind_or_field_is_named() {
        let e = QuotaPolicy::parse("[[quota]]\nrole='teacher'\nlabel='听课'\nkinds=['听评课']\ntarget=3\n")
            .unwrap_err();
        assert!(e.to_string().contains("第 1 条指标「听课」"), "{e}");
        let e = QuotaPolicy::parse("[[quota]]\nrole='principal'\nlabel='x'\nkinds=['paper']\ntarget=1\n")
            .unwrap_err();
        assert!(matches!(e, PolicyError::Syntax(_)), "{e}");
    }
}
