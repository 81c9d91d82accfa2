//! The pairings and gaps reports: week-by-week reads of the rollups (the pair rollup and
//! the week rollup), computed by `yanpei_report`, through the same scope layer as every
//! query. Typed requests in, report types out; the gRPC edge and the dashboard call
//! `pairings_report` and `gaps_report`.

use std::collections::BTreeSet;

use chrono::Utc;
use yanpei_domain::{ActivityKind, SchoolCode};
use yanpei_pki::Identity;
use yanpei_report::week::semester_span;
use yanpei_report::{Dimension, PairCount};

use crate::audit::Note;
use crate::model::{GapsAnswer, GapsQuery, PairingsAnswer, PairingsQuery};
use crate::query::Query;
use crate::report::STALE_AFTER_HOURS;
use crate::{HubError, scope};

impl Query {
    /// The pairings report: every pair that involves a school the caller may read (both
    /// schools of a pair see it), or the pairs of the one school asked for, which the
    /// caller must be able to read.
    pub(crate) async fn pairings_report(
        &self,
        who: Identity,
        note: &Note,
        r: PairingsQuery,
    ) -> Result<PairingsAnswer, HubError> {
        let PairingsQuery { semester, school: asked, as_of } = r;
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
        // Pairs that involve a readable school; of those, the asked school's.
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
        Ok(PairingsAnswer { semester, as_of, pairings: report, stale_schools })
    }

    /// The gaps report over the schools asked for (all the caller may read when none).
    pub(crate) async fn gaps_report(
        &self,
        who: Identity,
        note: &Note,
        r: GapsQuery,
    ) -> Result<GapsAnswer, HubError> {
        let GapsQuery { semester, dimensions, schools: asked } = r;
        let dimensions: Vec<Dimension> =
            if dimensions.is_empty() { Dimension::ALL.to_vec() } else { dimensions };
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
        Ok(GapsAnswer {
            semester,
            groups: gaps.groups,
            stale_schools: self.stale(&roster, schools.as_ref(), STALE_AFTER_HOURS).await?,
        })
    }
}
