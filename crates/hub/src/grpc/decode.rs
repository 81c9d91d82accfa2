//! A client's view of the query answers: `TryFrom<pb::…Response>` into the typed answers
//! (`crate::model`), so `yanpei report` and `yanpei query` render them with the same
//! `crate::tables` as the dashboard. The inverse of the answers' `From` in `convert`.

use chrono::{DateTime, NaiveDate, Utc};
use yanpei_domain::roster::{PairingKind, PairingType};
use yanpei_domain::{ActivityKind, Family};
use yanpei_proto::pb;
use yanpei_report::pairs::{PairFamilyCount, PairKindCount, PairWeek, family_code, family_label};
use yanpei_report::{
    Compliance, ComplianceRow, Dimension, GapGroup, GapWeek, PairReport, PersonCount, Role, SchoolCoverage,
    Trend,
};

use crate::model::{
    ComplianceAnswer, CoverageAnswer, GapsAnswer, PairingsAnswer, SchoolSync, StatsAnswer, StatsRow,
    SyncStatusAnswer,
};

/// An answer a client could not read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadAnswer(String);

fn date(what: &str, text: &str) -> Result<NaiveDate, BadAnswer> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| BadAnswer(format!("{what} {text:?}: {e}")))
}

fn role(r: &str) -> Role {
    match r {
        "staff" => Role::Staff,
        "stationed_staff" => Role::StationedStaff,
        "new_teacher" => Role::NewTeacher,
        _ => Role::Teacher,
    }
}

impl TryFrom<pb::ComplianceResponse> for ComplianceAnswer {
    type Error = BadAnswer;

    fn try_from(r: pb::ComplianceResponse) -> Result<Self, BadAnswer> {
        let report = Compliance {
            semester: r.semester,
            as_of: date("report date", &r.as_of)?,
            elapsed: r.elapsed,
            rows: r
                .rows
                .into_iter()
                .map(|c| ComplianceRow {
                    role: role(&c.role),
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
            rollup: r
                .groups
                .into_iter()
                .map(|g| PersonCount {
                    dimension: match g.dimension.as_str() {
                        "学校" => "学校",
                        "联合体" => "联合体",
                        _ => "学科",
                    },
                    code: g.code,
                    name: g.name,
                    people: g.people as usize,
                    behind: g.behind as usize,
                    checks_behind: g.checks_behind as usize,
                    checks: g.checks as usize,
                })
                .collect(),
        };
        Ok(ComplianceAnswer { report, stale_schools: r.stale_schools })
    }
}

impl From<pb::CoverageResponse> for CoverageAnswer {
    fn from(r: pb::CoverageResponse) -> Self {
        CoverageAnswer {
            schools: r
                .schools
                .into_iter()
                .map(|c| SchoolCoverage {
                    school: c.school_code,
                    name: c.name,
                    alliance: c.alliance_code,
                    staff_visits: c.staff_visits,
                    silent_subjects: c.silent_subjects,
                })
                .collect(),
            stale_schools: r.stale_schools,
        }
    }
}

impl TryFrom<pb::SyncStatusResponse> for SyncStatusAnswer {
    type Error = BadAnswer;

    fn try_from(r: pb::SyncStatusResponse) -> Result<Self, BadAnswer> {
        let schools = r
            .schools
            .into_iter()
            .map(|s| {
                let last_sync = if s.last_sync.is_empty() {
                    None
                } else {
                    Some(
                        DateTime::parse_from_rfc3339(&s.last_sync)
                            .map_err(|e| BadAnswer(format!("last sync {:?}: {e}", s.last_sync)))?
                            .with_timezone(&Utc),
                    )
                };
                Ok(SchoolSync {
                    school_code: s.school_code,
                    name: s.name,
                    last_sync,
                    synced_last_day: s.synced_last_day,
                    stale: s.stale,
                })
            })
            .collect::<Result<_, BadAnswer>>()?;
        Ok(SyncStatusAnswer { schools })
    }
}

impl TryFrom<pb::StatsResponse> for StatsAnswer {
    type Error = BadAnswer;

    fn try_from(r: pb::StatsResponse) -> Result<Self, BadAnswer> {
        let rows = r
            .rows
            .into_iter()
            .map(|row| {
                Ok(StatsRow {
                    kind: yanpei_proto::kind_from_pb(row.kind).map_err(|e| BadAnswer(e.to_string()))?,
                    group_code: row.group_code,
                    group_name: row.group_name,
                    count: row.count,
                    complete: row.complete,
                })
            })
            .collect::<Result<_, BadAnswer>>()?;
        Ok(StatsAnswer { rows, total: r.total })
    }
}

fn family(code: &str) -> Result<Family, BadAnswer> {
    Family::ALL
        .iter()
        .copied()
        .find(|f| family_code(*f) == code)
        .ok_or_else(|| BadAnswer(format!("unknown family {code:?}")))
}

fn pairing(p: pb::PairingReport) -> Result<PairReport, BadAnswer> {
    let kind = PairingKind::parse(&p.kind).ok_or_else(|| BadAnswer(format!("pairing kind {:?}", p.kind)))?;
    let pairing_type = PairingType::parse(&p.pairing_type)
        .ok_or_else(|| BadAnswer(format!("pairing type {:?}", p.pairing_type)))?
        .label();
    let kinds = p
        .kinds
        .into_iter()
        .map(|k| {
            Ok(PairKindCount {
                kind: k.kind.parse::<ActivityKind>().map_err(|e| BadAnswer(e.to_string()))?,
                from_helper: k.from_helper,
                from_partner: k.from_partner,
            })
        })
        .collect::<Result<_, BadAnswer>>()?;
    let families = p
        .families
        .into_iter()
        .map(|f| {
            let family = family(&f.family)?;
            Ok(PairFamilyCount { family, label: family_label(family), total: f.total })
        })
        .collect::<Result<_, BadAnswer>>()?;
    let weeks = p
        .weeks
        .into_iter()
        .map(|w| {
            Ok(PairWeek {
                week: date("week", &w.week)?,
                helper: w.helper,
                partner: w.partner,
                cross: w.cross,
            })
        })
        .collect::<Result<_, BadAnswer>>()?;
    Ok(PairReport {
        helper: p.helper_code,
        helper_name: p.helper_name,
        partner: p.partner_code,
        partner_name: p.partner_name,
        kind,
        pairing_type,
        from_helper: p.from_helper,
        from_partner: p.from_partner,
        total: p.total,
        kinds,
        families,
        weeks,
        trend: p.trend.map(|t| Trend {
            weeks: t.weeks as usize,
            weak_recent: t.weak_recent,
            weak_previous: t.weak_previous,
            strong_recent: t.strong_recent,
            strong_previous: t.strong_previous,
            weak_rising: t.weak_rising,
            catching_up: t.catching_up,
        }),
    })
}

impl TryFrom<pb::PairingsResponse> for PairingsAnswer {
    type Error = BadAnswer;

    fn try_from(r: pb::PairingsResponse) -> Result<Self, BadAnswer> {
        Ok(PairingsAnswer {
            semester: r.semester.parse().map_err(|e| BadAnswer(format!("{e}")))?,
            as_of: date("as of", &r.as_of)?,
            pairings: r.pairings.into_iter().map(pairing).collect::<Result<_, _>>()?,
            stale_schools: r.stale_schools,
        })
    }
}

impl TryFrom<pb::GapsResponse> for GapsAnswer {
    type Error = BadAnswer;

    fn try_from(r: pb::GapsResponse) -> Result<Self, BadAnswer> {
        let groups = r
            .groups
            .into_iter()
            .map(|g| {
                Ok(GapGroup {
                    dimension: Dimension::parse(&g.dimension)
                        .ok_or_else(|| BadAnswer(format!("dimension {:?}", g.dimension)))?,
                    code: g.code,
                    name: g.name,
                    schools: g.schools,
                    total: g.total,
                    per_school: g.per_school,
                    weeks: g
                        .weeks
                        .into_iter()
                        .map(|w| {
                            Ok(GapWeek {
                                week: date("week", &w.week)?,
                                count: w.count,
                                per_school: w.per_school,
                            })
                        })
                        .collect::<Result<_, BadAnswer>>()?,
                })
            })
            .collect::<Result<_, BadAnswer>>()?;
        Ok(GapsAnswer {
            semester: r.semester.parse().map_err(|e| BadAnswer(format!("{e}")))?,
            groups,
            stale_schools: r.stale_schools,
        })
    }
}
