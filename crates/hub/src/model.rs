//! The query API's own types: what each query and report is asked (already validated)
//! and what it answers, in domain and report terms. `Query` takes and returns these; the
//! gRPC edge (`crate::grpc`) converts them from and to the wire, and the dashboard and
//! `crate::tables` use them directly.

use chrono::{DateTime, NaiveDate, Utc};
use yanpei_domain::{ActivityKind, Area, SchoolCode, Semester};
use yanpei_report::{Compliance, Dimension, GapGroup, PairReport, SchoolCoverage};

/// Which schools a statistics query counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StatsScope {
    /// Whatever the caller may read: the county for the operator, the assigned schools
    /// for a 教研员, the own school for a principal or a node.
    #[default]
    Readable,
    /// The whole county.
    County,
    /// One alliance, by code.
    Alliance(String),
    /// One school.
    School(SchoolCode),
    /// The schools of one township.
    Township(String),
    /// Urban or rural schools.
    Area(Area),
}

/// How statistics rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// One group: the scope.
    #[default]
    None,
    /// By school.
    School,
    /// By alliance.
    Alliance,
}

/// A statistics query.
#[derive(Debug, Clone, Default)]
pub struct StatsQuery {
    /// One semester, or all.
    pub semester: Option<Semester>,
    /// The schools counted.
    pub scope: StatsScope,
    /// One subject, or all.
    pub subject: Option<String>,
    /// The Monday of the first week counted.
    pub from_week: Option<NaiveDate>,
    /// The Monday of the last week counted.
    pub to_week: Option<NaiveDate>,
    /// How rows are grouped.
    pub group_by: GroupBy,
}

/// One statistics row: a group and a kind.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRow {
    /// The group's code (empty when not grouped).
    pub group_code: String,
    /// The group's name (empty when not grouped).
    pub group_name: String,
    /// The activity kind.
    pub kind: ActivityKind,
    /// Live records.
    pub count: u64,
    /// Of 教研组活动, the complete 五定四有 meetings.
    pub complete: u64,
}

/// A statistics answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsAnswer {
    /// By group and kind.
    pub rows: Vec<StatsRow>,
    /// Every row's count.
    pub total: u64,
}

/// A sync ledger query.
#[derive(Debug, Clone, Default)]
pub struct LedgerQuery {
    /// One school, or every readable one.
    pub school: Option<SchoolCode>,
    /// At most this many sessions (0: the default).
    pub limit: u32,
}

/// An audit log query.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// One caller, or all.
    pub caller: Option<String>,
    /// One school, or all.
    pub school: Option<SchoolCode>,
    /// At most this many entries (0: the default).
    pub limit: u32,
}

/// A conflicts query.
#[derive(Debug, Clone, Default)]
pub struct ConflictsQuery {
    /// One school, or every readable one.
    pub school: Option<SchoolCode>,
    /// Resolved conflicts too.
    pub include_resolved: bool,
    /// At most this many (0: the default).
    pub limit: u32,
}

/// A compliance report query.
#[derive(Debug, Clone)]
pub struct ComplianceQuery {
    /// The semester.
    pub semester: Semester,
    /// The day measured (default: today, inside the semester).
    pub as_of: Option<NaiveDate>,
    /// One school, or every readable one.
    pub school: Option<SchoolCode>,
}

/// A compliance report and the schools whose numbers may be incomplete.
#[derive(Debug, Clone)]
pub struct ComplianceAnswer {
    /// The report.
    pub report: Compliance,
    /// Schools not synced for 48 hours.
    pub stale_schools: Vec<String>,
}

/// A coverage report query.
#[derive(Debug, Clone)]
pub struct CoverageQuery {
    /// The semester.
    pub semester: Semester,
    /// One school, or every readable one.
    pub school: Option<SchoolCode>,
}

/// A coverage report.
#[derive(Debug, Clone, Default)]
pub struct CoverageAnswer {
    /// One row per school.
    pub schools: Vec<SchoolCoverage>,
    /// Schools not synced for 48 hours.
    pub stale_schools: Vec<String>,
}

/// A sync completeness query.
#[derive(Debug, Clone, Default)]
pub struct SyncStatusQuery {
    /// A school not synced for this many days is stale (0: the default, 2).
    pub days: u32,
}

/// One school's sync state.
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolSync {
    /// Its code.
    pub school_code: String,
    /// Its name.
    pub name: String,
    /// Its last finished sync.
    pub last_sync: Option<DateTime<Utc>>,
    /// Synced in the last 24 hours.
    pub synced_last_day: bool,
    /// Not synced for the days asked.
    pub stale: bool,
}

/// Sync completeness, one row per school.
#[derive(Debug, Clone, Default)]
pub struct SyncStatusAnswer {
    /// The schools.
    pub schools: Vec<SchoolSync>,
}

/// A pairings report query.
#[derive(Debug, Clone)]
pub struct PairingsQuery {
    /// The semester.
    pub semester: Semester,
    /// One school's pairs, or every readable pair.
    pub school: Option<SchoolCode>,
    /// The day measured (default: today, inside the semester).
    pub as_of: Option<NaiveDate>,
}

/// A pairings report.
#[derive(Debug, Clone)]
pub struct PairingsAnswer {
    /// The semester.
    pub semester: Semester,
    /// The day measured.
    pub as_of: NaiveDate,
    /// One per pair.
    pub pairings: Vec<PairReport>,
    /// Schools not synced for 48 hours.
    pub stale_schools: Vec<String>,
}

/// A gaps report query.
#[derive(Debug, Clone)]
pub struct GapsQuery {
    /// The semester.
    pub semester: Semester,
    /// The dimensions compared (all when empty).
    pub dimensions: Vec<Dimension>,
    /// The schools compared (every readable one when empty).
    pub schools: Vec<SchoolCode>,
}

/// A gaps report.
#[derive(Debug, Clone)]
pub struct GapsAnswer {
    /// The semester.
    pub semester: Semester,
    /// One per group.
    pub groups: Vec<GapGroup>,
    /// Schools not synced for 48 hours.
    pub stale_schools: Vec<String>,
}
