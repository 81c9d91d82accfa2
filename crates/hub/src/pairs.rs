//! The pairings and gaps reports over gRPC: week-by-week reads of the rollups (the pair
//! rollup and the week rollup), computed by `yanpei_report`, through the same scope
//! layer as every query. The web dashboard calls `pairings_report` and `gaps_report`
//! in-process.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use yanpei_domain::{ActivityKind, SchoolCode, Semester};
use yanpei_pki::Identity;
use yanpei_proto::pb;
use yanpei_proto::semester_from_pb;
use yanpei_report::pairs::{family_code, family_label};
use yanpei_report::week::{iso_week, semester_span};
use yanpei_report::{Dimension, PairCount};

use crate::audit::Note;
use crate::query::Query;
use crate::report::STALE_AFTER_HOURS;
use crate::{HubError, scope};

fn semester(s: Option<&pb::Semester>) -> Result<Semester, HubError> {
    semester_from_pb(s).map_err(|e| HubError::InvalidArgument(e.to_string()))
}

fn school(field: &str, text: &str) -> Result<SchoolCode, HubError> {
    text.parse().map_err(|e| HubError::InvalidArgument(format!("字段 {field}（学校代码）：{e}")))
}

impl Query {
    /// The pairings report: every pair whose two schools the caller may read (or the pairs
    /// of the one school asked for, which the caller must be able to read).
    pub(crate) async fn pairings_report(
        &self,
        who: Identity,
        note: &Note,
        r: pb::PairingsRequest,
    ) -> Result<pb::PairingsResponse, HubError> {
        let semester = semester(r.semester.as_ref())?;
        let asked =
            if r.school_code.is_empty() { None } else { Some(school("school_code", &r.school_code)?) };
        let as_of = if r.as_of.is_empty() {
            None
        } else {
            Some(NaiveDate::parse_from_str(&r.as_of, "%Y-%m-%d").map_err(|_| {
                HubError::InvalidArgument(format!(
                    "字段 as_of（统计截止日）「{}」不是 YYYY-MM-DD 格式",
                    r.as_of
                ))
            })?)
        };
        let readable = scope::readable(&self.store, &who).await?;
        if let Some(s) = &asked {
            note.school(s);
            scope::authorize(&readable, Some(std::slice::from_ref(s)))?;
        }
        let roster = self.roster().await?;
        if let Some(s) = &asked
            && !roster.schools.iter().any(|x| &x.code == s)
        {
            return Err(HubError::NotFound(format!("名册中没有学校 {s}")));
        }
        let as_of = as_of.unwrap_or_else(|| {
            let (first, last) = semester_span(&roster, semester);
            Utc::now().date_naive().clamp(first, last)
        });
        // Pairs whose two schools are readable; of those, the asked school's.
        let mut schools: BTreeSet<SchoolCode> = match &readable {
            scope::Readable::All => roster.schools.iter().map(|s| s.code.clone()).collect(),
            scope::Readable::Schools(s) => s.clone(),
        };
        if let Some(s) = &asked {
            let paired: BTreeSet<SchoolCode> = roster
                .pairings
                .iter()
                .filter(|p| &p.helper == s || &p.partner == s)
                .flat_map(|p| [p.helper.clone(), p.partner.clone()])
                .collect();
            schools.retain(|c| paired.contains(c));
        }
        let pairs: Vec<PairCount> = self
            .store
            .pair_rollups(semester)
            .await?
            .into_iter()
            .filter_map(|p| {
                Some(PairCount {
                    kind: p.kind.parse::<ActivityKind>().ok()?,
                    school: p.school,
                    partner: p.partner,
                    week: p.week,
                    n: p.n,
                })
            })
            .collect();
        let weekly = self.store.weekly_totals(semester).await?;
        let mut report = yanpei_report::pairings(&roster, semester, as_of, Some(&schools), &pairs, &weekly);
        if let Some(s) = &asked {
            report.retain(|p| p.helper == s.as_str() || p.partner == s.as_str());
        }
        let involved: BTreeSet<SchoolCode> = roster
            .pairings
            .iter()
            .filter(|p| {
                report.iter().any(|x| x.helper == p.helper.as_str() && x.partner == p.partner.as_str())
            })
            .flat_map(|p| [p.helper.clone(), p.partner.clone()])
            .collect();
        for s in &involved {
            note.school(s);
        }
        let stale_schools = self.stale(&roster, Some(&involved), STALE_AFTER_HOURS).await?;
        Ok(pb::PairingsResponse {
            semester: semester.to_string(),
            as_of: as_of.to_string(),
            pairings: report.into_iter().map(pairing_to_pb).collect(),
            stale_schools,
        })
    }

    /// The gaps report over the schools asked for (all the caller may read when none).
    pub(crate) async fn gaps_report(
        &self,
        who: Identity,
        note: &Note,
        r: pb::GapsRequest,
    ) -> Result<pb::GapsResponse, HubError> {
        let semester = semester(r.semester.as_ref())?;
        let dimensions: Vec<Dimension> = if r.dimension.is_empty() {
            Dimension::ALL.to_vec()
        } else {
            vec![Dimension::parse(r.dimension.trim()).ok_or_else(|| {
                HubError::InvalidArgument(format!(
                    "字段 dimension（对比维度）「{}」无效：可选 area（城乡）、township（乡镇）、alliance（联合体）",
                    r.dimension
                ))
            })?]
        };
        let asked: Vec<SchoolCode> =
            r.school_codes.iter().map(|c| school("school_codes", c)).collect::<Result<_, _>>()?;
        let readable = scope::readable(&self.store, &who).await?;
        let requested: Option<Vec<SchoolCode>> = if asked.is_empty() {
            match &readable {
                scope::Readable::All => None,
                scope::Readable::Schools(s) => Some(s.iter().cloned().collect()),
            }
        } else {
            Some(asked)
        };
        for s in requested.iter().flatten() {
            note.school(s);
        }
        scope::authorize(&readable, requested.as_deref())?;
        let roster = self.roster().await?;
        if let Some(missing) =
            requested.iter().flatten().find(|s| !roster.schools.iter().any(|x| &x.code == *s))
        {
            return Err(HubError::NotFound(format!("名册中没有学校 {missing}")));
        }
        let schools: Option<BTreeSet<SchoolCode>> = requested.map(|v| v.into_iter().collect());
        let weekly = self.store.weekly_totals(semester).await?;
        let gaps = yanpei_report::gaps(&roster, semester, &dimensions, schools.as_ref(), &weekly);
        Ok(pb::GapsResponse {
            semester: semester.to_string(),
            groups: gaps
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
            stale_schools: self.stale(&roster, schools.as_ref(), STALE_AFTER_HOURS).await?,
        })
    }
}

fn pairing_to_pb(p: yanpei_report::PairReport) -> pb::PairingReport {
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
