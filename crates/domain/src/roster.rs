//! The county roster as far as the core loop needs it: schools and alliances.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

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

    /// From the stable code.
    pub fn from_code(s: &str) -> Option<Area> {
        match s {
            "urban" => Some(Area::Urban),
            "rural" => Some(Area::Rural),
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
}

impl SchoolLevel {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            SchoolLevel::Primary => "primary",
            SchoolLevel::Junior => "junior",
        }
    }

    /// From the stable code.
    pub fn from_code(s: &str) -> Option<SchoolLevel> {
        match s {
            "primary" => Some(SchoolLevel::Primary),
            "junior" => Some(SchoolLevel::Junior),
            _ => None,
        }
    }

    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            SchoolLevel::Primary => "小学",
            SchoolLevel::Junior => "初中",
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
