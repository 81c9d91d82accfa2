//! Gaps (城乡强弱差距): urban against rural, township against township, alliance against
//! alliance, week by week over the semester. Groups differ in size, so each week and the
//! semester carry both the group's total and the mean per school of the group.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;
use yanpei_domain::roster::Roster;
use yanpei_domain::{School, SchoolCode, Semester};

use crate::week::semester_weeks;

/// What schools are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// 城镇 against 乡镇.
    Area,
    /// One township (乡镇) against another.
    Township,
    /// One regional alliance (区域联合体) against another.
    Alliance,
}

impl Dimension {
    /// All three, in report order.
    pub const ALL: [Dimension; 3] = [Dimension::Area, Dimension::Township, Dimension::Alliance];

    /// Stable code (wire, command line).
    pub fn code(self) -> &'static str {
        match self {
            Dimension::Area => "area",
            Dimension::Township => "township",
            Dimension::Alliance => "alliance",
        }
    }

    /// The label a user sees.
    pub fn label(self) -> &'static str {
        match self {
            Dimension::Area => "城乡",
            Dimension::Township => "乡镇",
            Dimension::Alliance => "联合体",
        }
    }

    /// From the code or the label.
    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.code() == s || d.label() == s)
    }

    /// The group a school belongs to: (code, name).
    fn group_of(self, s: &School, roster: &Roster) -> (String, String) {
        match self {
            Dimension::Area => (s.area.code().to_owned(), s.area.label().to_owned()),
            Dimension::Township => (s.township.clone(), s.township.clone()),
            Dimension::Alliance => {
                let name = roster.alliances.iter().find(|a| a.code == s.alliance).map(|a| a.name.clone());
                (s.alliance.clone(), name.unwrap_or_else(|| s.alliance.clone()))
            }
        }
    }
}

/// One week of a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapWeek {
    /// Monday of the ISO week.
    pub week: NaiveDate,
    /// Live records of the group's schools that week.
    pub count: i64,
    /// `count` over the group's schools.
    pub per_school: f64,
}

/// One group: its schools' activity week by week and over the semester.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapGroup {
    /// What it groups by.
    pub dimension: Dimension,
    /// The group's code (area code, township name, alliance code).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Schools in the group (within the report's scope).
    pub schools: Vec<String>,
    /// Live records over the semester.
    pub total: i64,
    /// `total` over the group's schools.
    pub per_school: f64,
    /// Every week of the semester, in order.
    pub weeks: Vec<GapWeek>,
}

/// The gaps report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gaps {
    /// The weeks (Mondays) every group lists.
    pub weeks: Vec<NaiveDate>,
    /// Groups by dimension, then code.
    pub groups: Vec<GapGroup>,
}

/// Computes the gaps over the roster's schools in `schools` (all when `None`), grouped
/// by each of `dimensions`. `weekly` is each school's live records by week (any kind).
pub fn gaps(
    roster: &Roster,
    semester: Semester,
    dimensions: &[Dimension],
    schools: Option<&BTreeSet<SchoolCode>>,
    weekly: &BTreeMap<(String, NaiveDate), i64>,
) -> Gaps {
    let members: Vec<&School> =
        roster.schools.iter().filter(|s| schools.is_none_or(|set| set.contains(&s.code))).collect();
    let weeks = semester_weeks(roster, semester, weekly.keys().map(|(_, w)| *w));
    let mut groups = Vec::new();
    for &d in dimensions.iter().collect::<BTreeSet<_>>() {
        let mut by_group: BTreeMap<(String, String), Vec<&School>> = BTreeMap::new();
        for s in &members {
            by_group.entry(d.group_of(s, roster)).or_default().push(s);
        }
        for ((code, name), group) in by_group {
            let size = group.len() as f64;
            let codes: Vec<String> = group.iter().map(|s| s.code.to_string()).collect();
            let weeks: Vec<GapWeek> = weeks
                .iter()
                .map(|w| {
                    let count: i64 =
                        codes.iter().map(|c| weekly.get(&(c.clone(), *w)).copied().unwrap_or(0)).sum();
                    GapWeek { week: *w, count, per_school: count as f64 / size }
                })
                .collect();
            let total: i64 = weeks.iter().map(|w| w.count).sum();
            groups.push(GapGroup {
                dimension: d,
                code,
                name,
                schools: codes,
                total,
                per_school: total as f64 / size,
                weeks,
            });
        }
    }
    Gaps { weeks, groups }
}

#[cfg(test)]
mod tests {
    use yanpei_domain::{Alliance, Area, SchoolLevel, Term};

    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, m, d).unwrap()
    }

    fn roster() -> Roster {
        let school = |c: &str, township: &str, area, alliance: &str| School {
            code: c.parse().unwrap(),
            name: format!("{c}校"),
            township: township.into(),
            area,
            level: SchoolLevel::Junior,
            alliance: alliance.into(),
            evaluation: None,
        };
        Roster {
            alliances: vec![
                Alliance { code: "A".into(), name: "东片".into(), base_school: "U1".parse().unwrap() },
                Alliance { code: "B".into(), name: "西片".into(), base_school: "R2".parse().unwrap() },
            ],
            schools: vec![
                school("U1", "城关镇", Area::Urban, "A"),
                school("R1", "河口乡", Area::Rural, "A"),
                school("R2", "河口乡", Area::Rural, "B"),
                school("R3", "山前乡", Area::Rural, "B"),
            ],
            ..Roster::default()
        }
    }

    #[test]
    fn groups_sum_their_schools_week_by_week_with_a_mean_per_school() {
        let weekly = BTreeMap::from([
            (("U1".to_owned(), day(9, 9)), 9),
            (("R1".to_owned(), day(9, 9)), 1),
            (("R2".to_owned(), day(9, 9)), 2),
            (("R3".to_owned(), day(9, 16)), 6),
        ]);
        let semester = Semester::new(2024, Term::First).unwrap();
        let g = gaps(&roster(), semester, &Dimension::ALL, None, &weekly);
        let find =
            |d: Dimension, code: &str| g.groups.iter().find(|x| x.dimension == d && x.code == code).unwrap();
        let urban = find(Dimension::Area, "urban");
        let rural = find(Dimension::Area, "rural");
        assert_eq!((urban.name.as_str(), urban.total, urban.per_school), ("城镇", 9, 9.0));
        assert_eq!((rural.schools.len(), rural.total, rural.per_school), (3, 9, 3.0));
        let w = rural.weeks.iter().find(|w| w.week == day(9, 9)).unwrap();
        assert_eq!((w.count, w.per_school), (3, 1.0));
        assert_eq!(find(Dimension::Township, "河口乡").total, 3);
        assert_eq!(find(Dimension::Township, "山前乡").weeks.iter().map(|w| w.count).sum::<i64>(), 6);
        let west = find(Dimension::Alliance, "B");
        assert_eq!((west.name.as_str(), west.total, west.per_school), ("西片", 8, 4.0));
        // Every group lists every week; the groups of one dimension add up to the county.
        assert!(g.groups.iter().all(|x| x.weeks.len() == g.weeks.len()));
        for d in Dimension::ALL {
            assert_eq!(g.groups.iter().filter(|x| x.dimension == d).map(|x| x.total).sum::<i64>(), 18);
        }
    }

    #[test]
    fn a_scope_keeps_only_its_schools_and_one_dimension_only_its_groups() {
        let weekly = BTreeMap::from([(("U1".to_owned(), day(9, 9)), 9), (("R1".to_owned(), day(9, 9)), 1)]);
        let semester = Semester::new(2024, Term::First).unwrap();
        let scope: BTreeSet<SchoolCode> = ["R1".parse().unwrap(), "R3".parse().unwrap()].into();
        let g = gaps(&roster(), semester, &[Dimension::Area], Some(&scope), &weekly);
        assert_eq!(g.groups.len(), 1);
        assert_eq!(g.groups[0].schools, ["R1", "R3"]);
        assert_eq!((g.groups[0].total, g.groups[0].per_school), (1, 0.5));
        assert_eq!(Dimension::parse("乡镇"), Some(Dimension::Township));
        assert_eq!(Dimension::parse("township"), Some(Dimension::Township));
        assert_eq!(Dimension::parse("county"), None);
    }
}
