//! The query API's requests from the wire (`TryFrom<pb::…Request>`, validating each field
//! with the message that names it) and its answers to the wire (`From<…> for
//! pb::…Response`).

use chrono::{NaiveDate, Weekday};
use yanpei_domain::{Area, SchoolCode, Semester};
use yanpei_proto::{kind_to_pb, pb, semester_from_pb};
use yanpei_report::pairs::{family_code, family_label};
use yanpei_report::week::iso_week;
use yanpei_report::{Dimension, PairReport};
use yanpei_store::Conflict;
use yanpei_store::audit::AuditRow;

use crate::HubError;
use crate::model::{
    AuditQuery, ComplianceAnswer, ComplianceQuery, ConflictsQuery, CoverageAnswer, CoverageQuery, GapsAnswer,
    GapsQuery, GroupBy, LedgerQuery, PairingsAnswer, PairingsQuery, StatsAnswer, StatsQuery, StatsScope,
    SyncStatusAnswer, SyncStatusQuery,
};
use crate::query::LedgerSession;

fn semester(s: Option<&pb::Semester>) -> Result<Semester, HubError> {
    semester_from_pb(s).map_err(|e| HubError::InvalidArgument(e.to_string()))
}

/// A school code as every query but the pairing reports reads it (empty: none).
fn school_code(text: &str) -> Result<Option<SchoolCode>, HubError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|e| HubError::InvalidArgument(format!("{e}")))
}

/// A school code as the pairing reports read it, naming the field.
fn school(field: &str, text: &str) -> Result<SchoolCode, HubError> {
    text.parse().map_err(|e| HubError::InvalidArgument(format!("字段 {field}（学校代码）：{e}")))
}

/// A YYYY-MM-DD `as_of` (empty: none).
fn as_of(text: &str) -> Result<Option<NaiveDate>, HubError> {
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| {
        HubError::InvalidArgument(format!("字段 as_of（统计截止日）「{text}」不是 YYYY-MM-DD 格式"))
    })
}

/// The Monday of the ISO week `text` names (`2024-W37`, or any day of it as YYYY-MM-DD);
/// `None` when empty.
pub(crate) fn week_start(field: &str, text: &str) -> Result<Option<NaiveDate>, HubError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad =
        || HubError::InvalidArgument(format!("字段 {field}「{text}」不是 2024-W37 或 YYYY-MM-DD 格式的周"));
    let day = match text.split_once(['W', 'w']) {
        Some((year, week)) => {
            let year: i32 = year.trim_end_matches('-').parse().map_err(|_| bad())?;
            let week: u32 = week.parse().map_err(|_| bad())?;
            NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?
        }
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?,
    };
    Ok(Some(yanpei_store::rollup::week_of(day)))
}

impl TryFrom<pb::StatsRequest> for StatsQuery {
    type Error = HubError;

    fn try_from(r: pb::StatsRequest) -> Result<Self, HubError> {
        let semester = r.semester.as_ref().map(|s| semester(Some(s))).transpose()?;
        let scope = match r.scope.and_then(|s| s.target) {
            None => StatsScope::Readable,
            Some(pb::scope::Target::County(_)) => StatsScope::County,
            Some(pb::scope::Target::AllianceCode(code)) => StatsScope::Alliance(code),
            Some(pb::scope::Target::SchoolCode(code)) => {
                StatsScope::School(code.parse().map_err(|e| HubError::InvalidArgument(format!("{e}")))?)
            }
            Some(pb::scope::Target::Township(name)) => StatsScope::Township(name.trim().to_owned()),
            Some(pb::scope::Target::Area(code)) => {
                StatsScope::Area(Area::from_code(code.trim()).ok_or_else(|| {
                    HubError::InvalidArgument(format!(
                        "字段 scope.area（城乡）「{code}」无效：可选 urban（城镇）或 rural（乡镇）"
                    ))
                })?)
            }
        };
        let subject = match r.subject.trim() {
            "" => None,
            s if s.chars().count() > 50 => {
                return Err(HubError::InvalidArgument("字段 subject（学科）过长：最多 50 个字".into()));
            }
            s => Some(s.to_owned()),
        };
        let from_week = week_start("from_week（起始周）", &r.from_week)?;
        let to_week = week_start("to_week（截止周）", &r.to_week)?;
        if let (Some(a), Some(b)) = (from_week, to_week)
            && a > b
        {
            return Err(HubError::InvalidArgument(format!(
                "字段 from_week（起始周）{} 晚于 to_week（截止周）{}",
                r.from_week, r.to_week
            )));
        }
        let group_by = match pb::GroupBy::try_from(r.group_by).unwrap_or(pb::GroupBy::Unspecified) {
            pb::GroupBy::Unspecified => GroupBy::None,
            pb::GroupBy::School => GroupBy::School,
            pb::GroupBy::Alliance => GroupBy::Alliance,
        };
        Ok(StatsQuery { semester, scope, subject, from_week, to_week, group_by })
    }
}

impl From<StatsAnswer> for pb::StatsResponse {
    fn from(a: StatsAnswer) -> Self {
        pb::StatsResponse {
            rows: a
                .rows
                .into_iter()
                .map(|r| pb::StatsRow {
                    group_code: r.group_code,
                    group_name: r.group_name,
                    kind: kind_to_pb(r.kind) as i32,
                    count: r.count,
                    complete: r.complete,
                })
                .collect(),
            total: a.total,
        }
    }
}

impl TryFrom<pb::SyncLedgerRequest> for LedgerQuery {
    type Error = HubError;

    fn try_from(r: pb::SyncLedgerRequest) -> Result<Self, HubError> {
        Ok(LedgerQuery { school: school_code(&r.school_code)?, limit: r.limit })
    }
}

pub(super) fn ledger_to_pb(rows: Vec<LedgerSession>) -> pb::SyncLedgerResponse {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    pb::SyncLedgerResponse {
        sessions: rows
            .into_iter()
            .map(|s| pb::SyncSession {
                session_id: s.id.to_string(),
                node_id: s.node_id.to_string(),
                school_code: s.school_code,
                started_at: s.started_at.to_rfc3339(),
                finished_at: s.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                received: count(s.received),
                applied: count(s.applied),
                unchanged: count(s.unchanged),
                rejected: count(s.rejected),
                rejections: serde_json_list(&s.rejections),
                acked_seq: count(s.acked_seq),
                pull_cursor: count(s.pull_cursor),
            })
            .collect(),
    }
}

fn serde_json_list(text: &str) -> Vec<String> {
    // Stored as a JSON array of strings by the store; tolerate anything else as one line.
    let t = text.trim();
    if t == "[]" || t.is_empty() {
        return Vec::new();
    }
    match yanpei_store::parse_string_list(t) {
        Some(v) => v,
        None => vec![t.to_owned()],
    }
}

impl TryFrom<pb::AuditRequest> for AuditQuery {
    type Error = HubError;

    fn try_from(r: pb::AuditRequest) -> Result<Self, HubError> {
        Ok(AuditQuery {
            school: school_code(&r.school_code)?,
            caller: (!r.caller.is_empty()).then(|| r.caller.trim().to_owned()),
            limit: r.limit,
        })
    }
}

pub(super) fn audit_to_pb(rows: Vec<AuditRow>) -> pb::AuditResponse {
    pb::AuditResponse {
        entries: rows
            .into_iter()
            .map(|row| pb::AuditEntry {
                id: u64::try_from(row.id).unwrap_or(0),
                at: row.entry.at.to_rfc3339(),
                caller: row.entry.caller,
                rpc: row.entry.rpc,
                schools: row.entry.schools,
                rows: row.entry.rows,
                code: row.entry.code,
            })
            .collect(),
    }
}

impl TryFrom<pb::ConflictsRequest> for ConflictsQuery {
    type Error = HubError;

    fn try_from(r: pb::ConflictsRequest) -> Result<Self, HubError> {
        Ok(ConflictsQuery {
            school: school_code(&r.school_code)?,
            include_resolved: r.include_resolved,
            limit: r.limit,
        })
    }
}

/// A conflict as the wire carries it.
pub(crate) fn conflict_to_pb(c: &Conflict) -> pb::Conflict {
    pb::Conflict {
        id: c.id,
        activity_id: c.losing.id.to_string(),
        version: c.version,
        losing_school: c.losing_school.clone(),
        winning_school: c.winning_school.clone(),
        losing: Some(pb::Activity::from(&c.losing)),
        detected_at: c.detected_at.to_rfc3339(),
        resolved_version: c.resolved_version.unwrap_or(0),
    }
}

pub(super) fn conflicts_to_pb(conflicts: Vec<Conflict>) -> pb::ConflictsResponse {
    pb::ConflictsResponse { conflicts: conflicts.iter().map(conflict_to_pb).collect() }
}

impl TryFrom<pb::ComplianceRequest> for ComplianceQuery {
    type Error = HubError;

    fn try_from(r: pb::ComplianceRequest) -> Result<Self, HubError> {
        Ok(ComplianceQuery {
            semester: semester(r.semester.as_ref())?,
            school: school_code(&r.school_code)?,
            as_of: as_of(&r.as_of)?,
        })
    }
}

/// A role's code on the wire.
pub(crate) fn role_code(r: yanpei_report::Role) -> &'static str {
    match r {
        yanpei_report::Role::Staff => "staff",
        yanpei_report::Role::StationedStaff => "stationed_staff",
        yanpei_report::Role::Teacher => "teacher",
        yanpei_report::Role::NewTeacher => "new_teacher",
    }
}

impl From<ComplianceAnswer> for pb::ComplianceResponse {
    fn from(a: ComplianceAnswer) -> Self {
        let report = a.report;
        pb::ComplianceResponse {
            semester: report.semester,
            as_of: report.as_of.to_string(),
            elapsed: report.elapsed,
            rows: report
                .rows
                .into_iter()
                .map(|c| pb::ComplianceRow {
                    role: role_code(c.role).to_owned(),
                    role_label: c.role.label().to_owned(),
                    person_id: c.person_id,
                    name: c.name,
                    schools: c.schools,
                    subjects: c.subjects,
                    quota: c.quota,
                    target: c.target,
                    actual: c.actual,
                    missing: c.missing,
                    projected: c.projected,
                    on_pace: c.on_pace,
                })
                .collect(),
            groups: report
                .rollup
                .into_iter()
                .map(|g| pb::ComplianceGroup {
                    dimension: g.dimension.to_owned(),
                    code: g.code,
                    name: g.name,
                    people: u32::try_from(g.people).unwrap_or(u32::MAX),
                    behind: u32::try_from(g.behind).unwrap_or(u32::MAX),
                    checks: u32::try_from(g.checks).unwrap_or(u32::MAX),
                    checks_behind: u32::try_from(g.checks_behind).unwrap_or(u32::MAX),
                })
                .collect(),
            stale_schools: a.stale_schools,
        }
    }
}

impl TryFrom<pb::CoverageRequest> for CoverageQuery {
    type Error = HubError;

    fn try_from(r: pb::CoverageRequest) -> Result<Self, HubError> {
        Ok(CoverageQuery { semester: semester(r.semester.as_ref())?, school: school_code(&r.school_code)? })
    }
}

impl From<CoverageAnswer> for pb::CoverageResponse {
    fn from(a: CoverageAnswer) -> Self {
        pb::CoverageResponse {
            schools: a
                .schools
                .into_iter()
                .map(|c| pb::SchoolCoverage {
                    school_code: c.school,
                    name: c.name,
                    alliance_code: c.alliance,
                    staff_visits: c.staff_visits,
                    silent_subjects: c.silent_subjects,
                })
                .collect(),
            stale_schools: a.stale_schools,
        }
    }
}

impl TryFrom<pb::SyncStatusRequest> for SyncStatusQuery {
    type Error = HubError;

    fn try_from(r: pb::SyncStatusRequest) -> Result<Self, HubError> {
        Ok(SyncStatusQuery { days: r.days })
    }
}

impl From<SyncStatusAnswer> for pb::SyncStatusResponse {
    fn from(a: SyncStatusAnswer) -> Self {
        pb::SyncStatusResponse {
            schools: a
                .schools
                .into_iter()
                .map(|s| pb::SchoolSync {
                    school_code: s.school_code,
                    name: s.name,
                    last_sync: s.last_sync.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    synced_last_day: s.synced_last_day,
                    stale: s.stale,
                })
                .collect(),
        }
    }
}

impl TryFrom<pb::PairingsRequest> for PairingsQuery {
    type Error = HubError;

    fn try_from(r: pb::PairingsRequest) -> Result<Self, HubError> {
        let semester = semester(r.semester.as_ref())?;
        let school =
            if r.school_code.is_empty() { None } else { Some(school("school_code", &r.school_code)?) };
        Ok(PairingsQuery { semester, school, as_of: as_of(&r.as_of)? })
    }
}

impl From<PairingsAnswer> for pb::PairingsResponse {
    fn from(a: PairingsAnswer) -> Self {
        pb::PairingsResponse {
            semester: a.semester.to_string(),
            as_of: a.as_of.to_string(),
            pairings: a.pairings.into_iter().map(pairing_to_pb).collect(),
            stale_schools: a.stale_schools,
        }
    }
}

fn pairing_to_pb(p: PairReport) -> pb::PairingReport {
    pb::PairingReport {
        helper_code: p.helper,
        helper_name: p.helper_name,
        partner_code: p.partner,
        partner_name: p.partner_name,
        kind: match p.kind {
            yanpei_domain::roster::PairingKind::StrongWithStrong => "strong_with_strong",
            yanpei_domain::roster::PairingKind::StrongHelpsWeak => "strong_helps_weak",
        }
        .to_owned(),
        kind_label: p.kind.label().to_owned(),
        pairing_type: p.pairing_type.to_owned(),
        from_helper: p.from_helper,
        from_partner: p.from_partner,
        total: p.total,
        kinds: p
            .kinds
            .into_iter()
            .map(|k| pb::PairKindCount {
                kind: k.kind.code().to_owned(),
                kind_label: k.kind.label().to_owned(),
                family: family_code(k.kind.family()).to_owned(),
                family_label: family_label(k.kind.family()).to_owned(),
                from_helper: k.from_helper,
                from_partner: k.from_partner,
            })
            .collect(),
        families: p
            .families
            .into_iter()
            .map(|f| pb::PairFamilyCount {
                family: family_code(f.family).to_owned(),
                family_label: f.label.to_owned(),
                total: f.total,
            })
            .collect(),
        weeks: p
            .weeks
            .into_iter()
            .map(|w| pb::PairWeek {
                week: w.week.to_string(),
                iso_week: iso_week(w.week),
                helper: w.helper,
                partner: w.partner,
                cross: w.cross,
            })
            .collect(),
        trend: p.trend.map(|t| pb::PairTrend {
            weeks: u32::try_from(t.weeks).unwrap_or(u32::MAX),
            weak_recent: t.weak_recent,
            weak_previous: t.weak_previous,
            strong_recent: t.strong_recent,
            strong_previous: t.strong_previous,
            weak_rising: t.weak_rising,
            catching_up: t.catching_up,
        }),
    }
}

impl TryFrom<pb::GapsRequest> for GapsQuery {
    type Error = HubError;

    fn try_from(r: pb::GapsRequest) -> Result<Self, HubError> {
        let semester = semester(r.semester.as_ref())?;
        let dimensions = if r.dimension.is_empty() {
            Vec::new()
        } else {
            vec![Dimension::parse(r.dimension.trim()).ok_or_else(|| {
                HubError::InvalidArgument(format!(
                    "字段 dimension（对比维度）「{}」无效：可选 area（城乡）、township（乡镇）、alliance（联合体）",
                    r.dimension
                ))
            })?]
        };
        let schools = r.school_codes.iter().map(|c| school("school_codes", c)).collect::<Result<_, _>>()?;
        Ok(GapsQuery { semester, dimensions, schools })
    }
}

impl From<GapsAnswer> for pb::GapsResponse {
    fn from(a: GapsAnswer) -> Self {
        pb::GapsResponse {
            semester: a.semester.to_string(),
            groups: a
                .groups
                .into_iter()
                .map(|g| pb::GapGroup {
                    dimension: g.dimension.code().to_owned(),
                    dimension_label: g.dimension.label().to_owned(),
                    code: g.code,
                    name: g.name,
                    schools: g.schools,
                    total: g.total,
                    per_school: g.per_school,
                    weeks: g
                        .weeks
                        .into_iter()
                        .map(|w| pb::GapWeek {
                            week: w.week.to_string(),
                            iso_week: iso_week(w.week),
                            count: w.count,
                            per_school: w.per_school,
                        })
                        .collect(),
                })
                .collect(),
            stale_schools: a.stale_schools,
        }
    }
}
