//! The weeks of a semester, as the week-by-week reports list them: ISO weeks, each
//! named by its Monday.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, TimeDelta};
use yanpei_domain::Semester;
use yanpei_domain::roster::Roster;

/// The Monday of the ISO week `d` falls in.
pub fn monday(d: NaiveDate) -> NaiveDate {
    d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday()))
}

/// The ISO week's name, e.g. `2024-W37`.
pub fn iso_week(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The semester's first and last day: the county's dates where the roster sets them.
pub fn semester_span(roster: &Roster, semester: Semester) -> (NaiveDate, NaiveDate) {
    roster.calendar().dates(semester)
}

/// Every week of the semester (by its Monday, in order), and any other week `seen` in the
/// data, so that week-by-week rows always add up to the semester's totals.
pub fn semester_weeks(
    roster: &Roster,
    semester: Semester,
    seen: impl IntoIterator<Item = NaiveDate>,
) -> Vec<NaiveDate> {
    let (start, end) = semester_span(roster, semester);
    let mut weeks: BTreeSet<NaiveDate> = seen.into_iter().map(monday).collect();
    let mut w = monday(start);
    while w <= end {
        weeks.insert(w);
        w += TimeDelta::days(7);
    }
    weeks.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use yanpei_domain::Term;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn weeks_run_monday_to_monday_over_the_semester_and_keep_stray_weeks() {
        let s = Semester::new(2024, Term::First).unwrap();
        let weeks = semester_weeks(&Roster::default(), s, [day(2025, 3, 5)]);
        // 2024-09-01 is a Sunday: its week began on Monday 2024-08-26.
        assert_eq!(weeks.first(), Some(&day(2024, 8, 26)));
        assert_eq!(weeks[weeks.len() - 2], day(2025, 1, 27));
        assert_eq!(weeks.last(), Some(&day(2025, 3, 3)), "a week seen in the data is kept");
        assert!(weeks.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(iso_week(day(2024, 9, 9)), "2024-W37");
        assert_eq!(iso_week(day(2024, 12, 30)), "2025-W01");
    }
}
