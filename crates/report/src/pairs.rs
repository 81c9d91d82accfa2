//! Pairings (联姻结对子): cross-school activity between the two schools of every pair
//! (records owned by one that name the other as a partner school, either way), by kind,
//! family and in total; and for 强弱帮扶 pairs the weak school's weekly activity beside
//! the strong school's, with whether its recent weeks are rising and the gap closing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, TimeDelta};
use serde::Serialize;
use yanpei_domain::roster::{PairingKind, Roster};
use yanpei_domain::{ActivityKind, Family, SchoolCode, Semester};

use crate::week::semester_weeks;

/// Weeks compared in a trend: the last `TREND_WEEKS` whole weeks against the ones before.
pub const TREND_WEEKS: usize = 4;

/// Cross-school records owned by `school` naming `partner`, of one kind in one week (a rollup row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairCount {
    /// The owner school.
    pub school: String,
    /// The partner school named.
    pub partner: String,
    /// The kind.
    pub kind: ActivityKind,
    /// Monday of the ISO week.
    pub week: NaiveDate,
    /// Live records.
    pub n: i64,
}

/// Cross-school records of one kind between a pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairKindCount {
    /// The kind.
    pub kind: ActivityKind,
    /// Owned by the helper (strong) school, naming the partner.
    pub from_helper: i64,
    /// Owned by the partner (weak) school, naming the helper.
    pub from_partner: i64,
}

/// Cross-school records of one family between a pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairFamilyCount {
    /// The family.
    pub family: Family,
    /// Its label.
    pub label: &'static str,
    /// Both directions.
    pub total: i64,
}

/// One week of a pair: each school's activity (any record of its own) and the cross-school records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairWeek {
    /// Monday of the ISO week.
    pub week: NaiveDate,
    /// The helper school's live records that week.
    pub helper: i64,
    /// The partner school's live records that week.
    pub partner: i64,
    /// Cross-school records between them that week, both directions.
    pub cross: i64,
}

/// The weak school's recent weeks against the weeks before, beside the strong school's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// Whole weeks in each window (0: too few whole weeks yet to say).
    pub weeks: usize,
    /// The weak school's mean records per week over the last `weeks` whole weeks.
    pub weak_recent: f64,
    /// ... and over the `weeks` before them.
    pub weak_previous: f64,
    /// The strong school's, over the same recent weeks.
    pub strong_recent: f64,
    /// ... and the weeks before them.
    pub strong_previous: f64,
    /// The weak school's recent weeks are above the ones before.
    pub weak_rising: bool,
    /// The gap to the strong school narrowed (weak over strong is higher than before).
    pub catching_up: bool,
}

/// One pairing's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairReport {
    /// The helping (strong, or leading) school.
    pub helper: String,
    /// Its name.
    pub helper_name: String,
    /// The school helped.
    pub partner: String,
    /// Its name.
    pub partner_name: String,
    /// 强强联合 or 强弱帮扶.
    pub kind: PairingKind,
    /// 城镇—乡镇 etc.
    pub pairing_type: &'static str,
    /// Cross-school records owned by the helper.
    pub from_helper: i64,
    /// Cross-school records owned by the partner.
    pub from_partner: i64,
    /// Both directions.
    pub total: i64,
    /// By kind (kinds with none left out).
    pub kinds: Vec<PairKindCount>,
    /// By family (families with none left out).
    pub families: Vec<PairFamilyCount>,
    /// Every week of the semester.
    pub weeks: Vec<PairWeek>,
    /// 强弱帮扶 only: the weak (partner) school's trend.
    pub trend: Option<Trend>,
}

/// A family's label.
pub fn family_label(f: Family) -> &'static str {
    match f {
        Family::Observation => "听课",
        Family::Evaluation => "评课",
        Family::Lesson => "上课（研讨课、公开课等）",
        Family::SameTopic => "同课异构",
        Family::Talk => "讲座与案例分析",
        Family::Prep => "集体备课与说课",
        Family::Meeting => "教研组活动",
        Family::Project => "课题",
        Family::Writing => "文章",
        Family::Onsite => "蹲点",
        Family::Visit => "视导",
        Family::SiteMeeting => "现场会",
        Family::Training => "培训",
        Family::Delivery => "送课下乡",
    }
}

/// The stable code of a family (as serde writes it).
pub fn family_code(f: Family) -> &'static str {
    match f {
        Family::Observation => "observation",
        Family::Evaluation => "evaluation",
        Family::Lesson => "lesson",
        Family::SameTopic => "same_topic",
        Family::Talk => "talk",
        Family::Prep => "prep",
        Family::Meeting => "meeting",
        Family::Project => "project",
        Family::Writing => "writing",
        Family::Onsite => "onsite",
        Family::Visit => "visit",
        Family::SiteMeeting => "site_meeting",
        Family::Training => "training",
        Family::Delivery => "delivery",
    }
}

/// Computes the report for every pairing that involves a school of `schools` (all
/// pairings when `None`): both schools of a pair see the pair, its cross-school records
/// and both schools' weekly counts, which is what pairing is for. `pairs` are the semester's pair rollup rows; `weekly` each
/// school's live records by week; the trend reads the whole weeks ending by `as_of`.
pub fn pairings(
    roster: &Roster,
    semester: Semester,
    as_of: NaiveDate,
    schools: Option<&BTreeSet<SchoolCode>>,
    pairs: &[PairCount],
    weekly: &BTreeMap<(String, NaiveDate), i64>,
) -> Vec<PairReport> {
    let name = |c: &SchoolCode| {
        roster.schools.iter().find(|s| &s.code == c).map(|s| s.name.clone()).unwrap_or_default()
    };
    let seen = pairs.iter().map(|p| p.week).chain(weekly.keys().map(|(_, w)| *w));
    let weeks = semester_weeks(roster, semester, seen);
    let whole: Vec<NaiveDate> = weeks.iter().copied().filter(|w| *w + TimeDelta::days(6) <= as_of).collect();
    roster
        .pairings
        .iter()
        .filter(|p| schools.is_none_or(|set| set.contains(&p.helper) || set.contains(&p.partner)))
        .map(|p| {
            let (h, w) = (p.helper.as_str(), p.partner.as_str());
            let mut kinds: BTreeMap<ActivityKind, (i64, i64)> = BTreeMap::new();
            let mut cross: BTreeMap<NaiveDate, i64> = BTreeMap::new();
            for c in pairs {
                let from_helper = c.school == h && c.partner == w;
                if !(from_helper || (c.school == w && c.partner == h)) {
                    continue;
                }
                let e = kinds.entry(c.kind).or_default();
                if from_helper {
                    e.0 += c.n;
                } else {
                    e.1 += c.n;
                }
                *cross.entry(c.week).or_default() += c.n;
            }
            kinds.retain(|_, (a, b)| *a != 0 || *b != 0);
            let mut families: BTreeMap<Family, i64> = BTreeMap::new();
            for (k, (a, b)) in &kinds {
                *families.entry(k.family()).or_default() += a + b;
            }
            let count = |school: &str, week: &NaiveDate| {
                weekly.get(&(school.to_owned(), *week)).copied().unwrap_or(0)
            };
            let weeks: Vec<PairWeek> = weeks
                .iter()
                .map(|week| PairWeek {
                    week: *week,
                    helper: count(h, week),
                    partner: count(w, week),
                    cross: cross.get(week).copied().unwrap_or(0),
                })
                .collect();
            let trend = (p.kind == PairingKind::StrongHelpsWeak).then(|| {
                let series = |school: &str| whole.iter().map(|wk| count(school, wk)).collect::<Vec<_>>();
                trend(&series(w), &series(h))
            });
            let from_helper = kinds.values().map(|(a, _)| a).sum();
            let from_partner = kinds.values().map(|(_, b)| b).sum();
            PairReport {
                helper: h.to_owned(),
                helper_name: name(&p.helper),
                partner: w.to_owned(),
                partner_name: name(&p.partner),
                kind: p.kind,
                pairing_type: p.pairing_type.label(),
                from_helper,
                from_partner,
                total: from_helper + from_partner,
                kinds: kinds
                    .into_iter()
                    .map(|(kind, (from_helper, from_partner))| PairKindCount {
                        kind,
                        from_helper,
                        from_partner,
                    })
                    .collect(),
                families: families
                    .into_iter()
                    .map(|(family, total)| PairFamilyCount { family, label: family_label(family), total })
                    .collect(),
                weeks,
                trend,
            }
        })
        .collect()
}

/// The weak school's last whole weeks against the ones before, beside the strong school's.
/// Each window is `TREND_WEEKS` long, or half the whole weeks there are when fewer.
pub fn trend(weak: &[i64], strong: &[i64]) -> Trend {
    let n = TREND_WEEKS.min(weak.len().min(strong.len()) / 2);
    let mean = |xs: &[i64]| if xs.is_empty() { 0.0 } else { xs.iter().sum::<i64>() as f64 / xs.len() as f64 };
    let windows = |xs: &[i64]| {
        let end = xs.len();
        (mean(&xs[end - n..end]), mean(&xs[end - 2 * n..end - n]))
    };
    let (weak_recent, weak_previous) = windows(weak);
    let (strong_recent, strong_previous) = windows(strong);
    // Weak over strong, now and before (a strong school with none: the weak school's share is whole).
    let share = |w: f64, s: f64| if w + s == 0.0 { 0.0 } else { w / (w + s) };
    Trend {
        weeks: n,
        weak_recent,
        weak_previous,
        strong_recent,
        strong_previous,
        weak_rising: n > 0 && weak_recent > weak_previous,
        catching_up: n > 0 && share(weak_recent, strong_recent) > share(weak_previous, strong_previous),
    }
}

#[cfg(test)]
mod tests {
    use yanpei_domain::roster::{Pairing, PairingType};
    use yanpei_domain::{Area, School, SchoolLevel, Term};

    use super::*;

    fn code(s: &str) -> SchoolCode {
        s.parse().unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn roster() -> Roster {
        let school = |c: &str, area| School {
            code: code(c),
            name: format!("{c}校"),
            township: "城关镇".into(),
            area,
            level: SchoolLevel::Junior,
            alliance: "A".into(),
            evaluation: None,
        };
        Roster {
            schools: vec![school("U1", Area::Urban), school("R1", Area::Rural), school("R2", Area::Rural)],
            pairings: vec![
                Pairing {
                    helper: code("U1"),
                    partner: code("R1"),
                    kind: PairingKind::StrongHelpsWeak,
                    pairing_type: PairingType::TownTownship,
                },
                Pairing {
                    helper: code("R1"),
                    partner: code("R2"),
                    kind: PairingKind::StrongWithStrong,
                    pairing_type: PairingType::TownshipTownship,
                },
            ],
            ..Roster::default()
        }
    }

    fn row(school: &str, partner: &str, kind: ActivityKind, week: NaiveDate, n: i64) -> PairCount {
        PairCount { school: school.into(), partner: partner.into(), kind, week, n }
    }

    #[test]
    fn counts_both_directions_by_kind_family_and_week_and_ignores_other_schools() {
        let w1 = day(2024, 9, 9);
        let w2 = day(2024, 9, 16);
        let pairs = [
            row("U1", "R1", ActivityKind::LessonDelivery, w1, 3),
            row("U1", "R1", ActivityKind::OpenLesson, w2, 1),
            row("R1", "U1", ActivityKind::LessonObservation, w2, 2),
            // Another pair, and a school naming a school it is not paired with.
            row("R1", "R2", ActivityKind::Lecture, w1, 5),
            row("U1", "R2", ActivityKind::Lecture, w1, 7),
        ];
        let semester = Semester::new(2024, Term::First).unwrap();
        let out = pairings(&roster(), semester, day(2025, 1, 31), None, &pairs, &BTreeMap::new());
        assert_eq!(out.len(), 2);
        let p = &out[0];
        assert_eq!((p.helper.as_str(), p.partner.as_str(), p.helper_name.as_str()), ("U1", "R1", "U1校"));
        assert_eq!((p.from_helper, p.from_partner, p.total), (4, 2, 6));
        assert_eq!(
            p.kinds,
            vec![
                PairKindCount { kind: ActivityKind::LessonObservation, from_helper: 0, from_partner: 2 },
                PairKindCount { kind: ActivityKind::OpenLesson, from_helper: 1, from_partner: 0 },
                PairKindCount { kind: ActivityKind::LessonDelivery, from_helper: 3, from_partner: 0 },
            ]
        );
        let fam: Vec<(&str, i64)> = p.families.iter().map(|f| (f.label, f.total)).collect();
        assert_eq!(fam, [("听课", 2), ("上课（研讨课、公开课等）", 1), ("送课下乡", 3)]);
        let cross: i64 = p.weeks.iter().map(|w| w.cross).sum();
        assert_eq!(cross, 6);
        assert_eq!(p.weeks.iter().find(|w| w.week == w2).map(|w| w.cross), Some(3));
        assert!(p.trend.is_some(), "a 强弱帮扶 pair has a trend");
        let q = &out[1];
        assert_eq!((q.total, q.trend.is_none()), (5, true));

        // A scope sees the pairs that involve one of its schools, whoever the partner is.
        // (scope, the pairs it sees as (helper, partner))
        type Seen<'a> = &'a [(&'a str, &'a str)];
        let table: [(&[&str], Seen<'_>); 4] = [
            (&["U1"], &[("U1", "R1")]),
            (&["R2"], &[("R1", "R2")]),
            (&["R1"], &[("U1", "R1"), ("R1", "R2")]),
            (&["XX"], &[]),
        ];
        for (scope, want) in table {
            let only: BTreeSet<SchoolCode> = scope.iter().map(|c| code(c)).collect();
            let scoped =
                pairings(&roster(), semester, day(2025, 1, 31), Some(&only), &pairs, &BTreeMap::new());
            let got: Vec<(&str, &str)> =
                scoped.iter().map(|p| (p.helper.as_str(), p.partner.as_str())).collect();
            assert_eq!(got, want, "{scope:?}");
        }
    }

    #[test]
    fn weekly_activity_sits_beside_and_the_trend_reads_whole_weeks_only() {
        let semester = Semester::new(2024, Term::First).unwrap();
        let mut weekly = BTreeMap::new();
        // Ten whole weeks from 2024-09-02: the weak school rises 1..=10, the strong one stays at 20.
        for i in 0..10 {
            let w = day(2024, 9, 2) + TimeDelta::days(7 * i);
            weekly.insert(("R1".to_owned(), w), i + 1);
            weekly.insert(("U1".to_owned(), w), 20);
        }
        // The week of as_of is not whole: its big number is not part of the trend.
        weekly.insert(("R1".to_owned(), day(2024, 11, 11)), 0);
        weekly.insert(("U1".to_owned(), day(2024, 11, 11)), 500);
        let out = pairings(&roster(), semester, day(2024, 11, 13), None, &[], &weekly);
        let p = &out[0];
        let w = p.weeks.iter().find(|w| w.week == day(2024, 9, 9)).unwrap();
        assert_eq!((w.helper, w.partner, w.cross), (20, 2, 0));
        let t = p.trend.clone().unwrap();
        assert_eq!(t.weeks, TREND_WEEKS);
        // Whole weeks before 2024-11-13 begin 2024-08-26 (0), 09-02 (1) ... 11-04 (10).
        assert_eq!((t.weak_recent, t.weak_previous), (8.5, 4.5));
        assert_eq!((t.strong_recent, t.strong_previous), (20.0, 20.0));
        assert!(t.weak_rising && t.catching_up);
    }

    #[test]
    fn a_trend_needs_two_windows_and_falls_as_well_as_rises() {
        let t = trend(&[5], &[5]);
        assert_eq!(t.weeks, 0);
        assert!(!t.weak_rising && !t.catching_up);
        let t = trend(&[9, 9, 1, 1], &[3, 3, 3, 3]);
        assert_eq!((t.weeks, t.weak_recent, t.weak_previous), (2, 1.0, 9.0));
        assert!(!t.weak_rising && !t.catching_up);
        // Rising, but the strong school rose faster: not catching up.
        let t = trend(&[1, 2], &[1, 10]);
        assert!(t.weak_rising && !t.catching_up);
    }
}
