//! What people read instead of codes: schools and alliances by name, weeks as the dates
//! they span (`9月2日–8日`), and the filters above a page with named choices.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use yanpei_domain::SchoolCode;
use yanpei_domain::roster::Roster;

use super::view::{Choice, Filter, Params};

/// A school's name (its code only if the roster does not know it).
pub(super) fn school(roster: &Roster, code: &str) -> String {
    roster
        .schools
        .iter()
        .find(|s| s.code.as_str() == code)
        .map(|s| s.name.clone())
        .unwrap_or_else(|| code.into())
}

/// Several schools' names, joined with 、.
pub(super) fn schools(roster: &Roster, codes: &[String]) -> String {
    codes.iter().map(|c| school(roster, c)).collect::<Vec<_>>().join("、")
}

/// An alliance's name (its code only if the roster does not know it).
pub(super) fn alliance(roster: &Roster, code: &str) -> String {
    roster.alliances.iter().find(|a| a.code == code).map(|a| a.name.clone()).unwrap_or_else(|| code.into())
}

/// The week starting `monday` as the dates it spans: `9月2日–8日`, `9月30日–10月6日`.
pub(super) fn week(monday: NaiveDate) -> String {
    let sunday = monday + chrono::Days::new(6);
    if sunday.month() == monday.month() {
        format!("{}月{}日–{}日", monday.month(), monday.day(), sunday.day())
    } else {
        format!("{}月{}日–{}月{}日", monday.month(), monday.day(), sunday.month(), sunday.day())
    }
}

/// Weeks as labels; a week cut by the semester's first day `first` or by `until` (today,
/// or the semester's last day once it is over) is marked as not whole, and the note says so.
pub(super) fn weeks(mondays: &[NaiveDate], first: NaiveDate, until: NaiveDate) -> (Vec<String>, String) {
    let mut note = String::new();
    let labels = mondays
        .iter()
        .map(|m| {
            let sunday = *m + chrono::Days::new(6);
            if *m < first && first <= sunday {
                format!("{}（不足一周）", week(*m))
            } else if *m <= until && until < sunday {
                note =
                    format!("{}只统计到{}月{}日，不足一周，数字偏低。", week(*m), until.month(), until.day());
                format!("{}（不足一周）", week(*m))
            } else {
                week(*m)
            }
        })
        .collect();
    (labels, note)
}

/// Whether the week starting `monday` is inside the range asked for.
pub(super) fn in_range(monday: NaiveDate, p: &Params) -> bool {
    let last = monday + chrono::Days::new(6);
    p.from.is_none_or(|f| last >= f) && p.to.is_none_or(|t| monday <= t)
}

fn all(label: &str) -> Choice {
    Choice { value: String::new(), label: label.into() }
}

/// The schools the caller may read (`None`: all).
pub(super) fn school_filter(roster: &Roster, scope: Option<&BTreeSet<SchoolCode>>, p: &Params) -> Filter {
    let mut options = vec![all("全部学校")];
    options.extend(
        roster
            .schools
            .iter()
            .filter(|s| scope.is_none_or(|set| set.contains(&s.code)))
            .map(|s| Choice { value: s.code.to_string(), label: s.name.clone() }),
    );
    let value = p.school.as_ref().map(ToString::to_string).unwrap_or_default();
    Filter { name: "school", label: "学校", options, value }
}

/// The alliances with a school the caller may read.
pub(super) fn alliance_filter(roster: &Roster, scope: Option<&BTreeSet<SchoolCode>>, p: &Params) -> Filter {
    let mut options = vec![all("全部联合体")];
    options.extend(
        roster
            .alliances
            .iter()
            .filter(|a| {
                roster
                    .schools
                    .iter()
                    .any(|s| s.alliance == a.code && scope.is_none_or(|set| set.contains(&s.code)))
            })
            .map(|a| Choice { value: a.code.clone(), label: a.name.clone() }),
    );
    Filter { name: "alliance", label: "联合体", options, value: p.alliance.clone().unwrap_or_default() }
}

/// The county's subjects (its subject groups').
pub(super) fn subject_filter(roster: &Roster, p: &Params) -> Filter {
    let mut options = vec![all("全部学科")];
    let subjects: BTreeSet<&str> = roster.subject_groups.iter().map(|g| g.subject.as_str()).collect();
    options.extend(subjects.into_iter().map(|s| Choice { value: s.into(), label: s.into() }));
    Filter { name: "subject", label: "学科", options, value: p.subject.clone().unwrap_or_default() }
}

/// Whether to list every quota, the open ones, or those that will fall short.
pub(super) fn status_filter(p: &Params) -> Filter {
    let options = vec![
        all("全部指标"),
        Choice { value: "open".into(), label: "未完成".into() },
        Choice { value: "behind".into(), label: "按进度将落后".into() },
    ];
    Filter { name: "status", label: "状态", options, value: p.status.clone().unwrap_or_default() }
}

/// The first and last week shown, chosen among `mondays`.
pub(super) fn week_filters(mondays: &[NaiveDate], p: &Params) -> [Filter; 2] {
    let choices = |label: &str| {
        let mut v = vec![all(label)];
        v.extend(mondays.iter().map(|m| Choice { value: m.to_string(), label: week(*m) }));
        v
    };
    let monday = |d: Option<NaiveDate>| {
        d.map(|d| (d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))).to_string())
            .unwrap_or_default()
    };
    [
        Filter { name: "from", label: "起始周", options: choices("从学期初"), value: monday(p.from) },
        Filter { name: "to", label: "截止周", options: choices("到最近一周"), value: monday(p.to) },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_read_as_dates_and_the_unfinished_week_is_marked() {
        assert_eq!(week(d("2024-09-02")), "9月2日–8日");
        assert_eq!(week(d("2024-09-30")), "9月30日–10月6日");
        assert_eq!(week(d("2024-12-30")), "12月30日–1月5日");
        let (labels, note) = weeks(&[d("2024-09-02"), d("2024-09-09")], d("2024-09-02"), d("2024-09-11"));
        assert_eq!(labels, ["9月2日–8日", "9月9日–15日（不足一周）"]);
        assert!(note.contains("9月9日–15日只统计到9月11日"), "{note}");
        // A semester ending on a Monday: its last week is one day.
        let (labels, _) = weeks(&[d("2025-01-13"), d("2025-01-20")], d("2024-09-01"), d("2025-01-20"));
        assert_eq!(labels, ["1月13日–19日", "1月20日–26日（不足一周）"]);
        // Counted to a Sunday: the week is whole.
        // A semester starting on a Sunday: its first week is one day.
        let (labels, _) = weeks(&[d("2024-08-26"), d("2024-09-02")], d("2024-09-01"), d("2024-09-20"));
        assert_eq!(labels, ["8月26日–9月1日（不足一周）", "9月2日–8日"]);
        let (labels, note) = weeks(&[d("2024-09-02")], d("2024-09-02"), d("2024-09-08"));
        assert_eq!((labels[0].as_str(), note.as_str()), ("9月2日–8日", ""));
    }

    #[test]
    fn a_week_range_keeps_the_weeks_it_touches() {
        let p = Params { from: Some(d("2024-09-11")), to: Some(d("2024-09-16")), ..Default::default() };
        let kept: Vec<bool> = ["2024-09-02", "2024-09-09", "2024-09-16", "2024-09-23"]
            .iter()
            .map(|m| in_range(d(m), &p))
            .collect();
        assert_eq!(kept, [false, true, true, false]);
        assert!(in_range(d("2030-01-07"), &Params::default()));
    }
}
