//! The calendar a date meets a semester by: the county's own (the roster's 学期 sheet)
//! when it lists semesters, the built-in one (September–January, February–August)
//! otherwise. Every place that files a date under a semester, checks a record's date or
//! bounds a report asks the calendar, never [`Semester::containing`] directly.

use chrono::NaiveDate;

use crate::roster::SemesterDates;
use crate::{Activity, Field, Semester, ValidationError};

/// The semesters a county keeps (empty: the built-in calendar).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    county: Vec<SemesterDates>,
}

impl Calendar {
    /// The built-in calendar, for a county (or a node) without a semester list.
    pub fn builtin() -> Calendar {
        Calendar::default()
    }

    /// The county's calendar from its roster's semester list (empty: the built-in one).
    pub fn of(semesters: &[SemesterDates]) -> Calendar {
        Calendar { county: semesters.to_vec() }
    }

    /// Whether the county's own semesters decide (rather than the built-in calendar).
    pub fn is_county(&self) -> bool {
        !self.county.is_empty()
    }

    /// The semester a date falls in: the county's that contains it, or none when the
    /// county lists semesters and the date lies outside them all.
    pub fn containing(&self, date: NaiveDate) -> Option<Semester> {
        if self.county.is_empty() {
            return Semester::containing(date);
        }
        self.county.iter().find(|s| s.start <= date && date <= s.end).map(|s| s.semester)
    }

    /// A semester's first and last day: the county's where it lists the semester,
    /// the built-in ones otherwise.
    pub fn dates(&self, semester: Semester) -> (NaiveDate, NaiveDate) {
        self.county
            .iter()
            .find(|s| s.semester == semester)
            .map(|s| (s.start, s.end))
            .unwrap_or_else(|| semester.dates())
    }

    /// The semester a date is filed under, or a message saying why it has none.
    pub fn file(&self, date: NaiveDate) -> Result<Semester, ValidationError> {
        self.containing(date).ok_or_else(|| {
            let reason = if self.is_county() {
                format!("日期 {date} 不在本县规定的任何学期之内（本县学期：{}）", self.listing())
            } else {
                format!("日期 {date} 不在任何学期内")
            };
            ValidationError::new(Field::Date, reason)
        })
    }

    /// Whether a date lies inside the semester it is filed under, by this calendar.
    pub fn check(&self, semester: Semester, date: NaiveDate) -> Result<(), ValidationError> {
        if self.is_county() && !self.county.iter().any(|s| s.semester == semester) {
            return Err(ValidationError::new(
                Field::Semester,
                format!("本县名册的学期表中没有{semester}（本县学期：{}）", self.listing()),
            ));
        }
        let (first, last) = self.dates(semester);
        if first <= date && date <= last {
            return Ok(());
        }
        let whose = if self.is_county() { "本县规定的" } else { "" };
        Err(ValidationError::new(
            Field::Date,
            format!("日期 {date} 不在{whose}{semester}（{first} 至 {last}）之内"),
        ))
    }

    /// A record's date against its semester.
    pub fn check_activity(&self, a: &Activity) -> Result<(), ValidationError> {
        self.check(a.semester, a.date)
    }

    /// A date a template's example row can carry: `today` when a semester holds it,
    /// else the first day of the latest semester begun by then (or of the first one),
    /// so the example always passes this calendar's check.
    pub fn example_date(&self, today: NaiveDate) -> NaiveDate {
        if self.containing(today).is_some() {
            return today;
        }
        let begun = self.county.iter().filter(|s| s.start <= today).max_by_key(|s| s.start);
        begun.or_else(|| self.county.iter().min_by_key(|s| s.start)).map_or(today, |s| s.start)
    }

    fn listing(&self) -> String {
        let items: Vec<String> =
            self.county.iter().map(|s| format!("{} {} 至 {}", s.semester, s.start, s.end)).collect();
        items.join("；")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Term;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn county() -> Calendar {
        let first = Semester::new(2025, Term::First).unwrap();
        let second = Semester::new(2025, Term::Second).unwrap();
        Calendar::of(&[
            SemesterDates { semester: first, start: d("2025-08-30"), end: d("2026-01-23") },
            SemesterDates { semester: second, start: d("2026-02-24"), end: d("2026-07-10") },
        ])
    }

    #[test]
    fn an_example_date_lies_in_a_semester_of_the_calendar() {
        // (today, example date by the county, by the built-in calendar)
        let table = [
            ("2025-10-09", "2025-10-09", "2025-10-09"),
            ("2026-02-01", "2025-08-30", "2026-02-01"), // between the county's semesters
            ("2026-08-15", "2026-02-24", "2026-08-15"), // after the last
            ("2025-03-01", "2025-08-30", "2025-03-01"), // before the first
        ];
        for (today, by_county, builtin) in table {
            let example = county().example_date(d(today));
            assert_eq!(example, d(by_county), "{today}");
            assert!(county().containing(example).is_some());
            assert_eq!(Calendar::builtin().example_date(d(today)), d(builtin), "{today}");
        }
    }

    #[test]
    fn the_county_semesters_decide_where_a_date_belongs() {
        let c = county();
        let first = Semester::new(2025, Term::First);
        let second = Semester::new(2025, Term::Second);
        // (date, semester by the county, semester by the built-in calendar)
        let table = [
            ("2025-08-29", None, Semester::new(2024, Term::Second)),
            ("2025-08-30", first, Semester::new(2024, Term::Second)),
            ("2025-09-01", first, first),
            ("2026-01-23", first, first),
            ("2026-01-24", None, first),
            ("2026-02-23", None, second),
            ("2026-02-24", second, second),
            ("2026-07-11", None, second),
        ];
        for (date, by_county, builtin) in table {
            assert_eq!(c.containing(d(date)), by_county, "{date}");
            assert_eq!(Calendar::builtin().containing(d(date)), builtin, "{date}");
            assert_eq!(c.file(d(date)).ok(), by_county, "{date}");
        }
        assert!(c.file(d("2026-01-24")).unwrap_err().reason.contains("2025-08-30 至 2026-01-23"));
    }

    #[test]
    fn checks_and_dates_follow_the_county() {
        let c = county();
        let first = Semester::new(2025, Term::First).unwrap();
        assert_eq!(c.dates(first), (d("2025-08-30"), d("2026-01-23")));
        assert_eq!(Calendar::builtin().dates(first), (d("2025-09-01"), d("2026-01-31")));
        assert!(c.check(first, d("2025-08-30")).is_ok());
        assert!(Calendar::builtin().check(first, d("2025-08-30")).is_err());
        let late = c.check(first, d("2026-01-28")).unwrap_err();
        assert_eq!(late.field, Field::Date);
        assert!(late.reason.contains("本县规定的"), "{late}");
        assert!(Calendar::builtin().check(first, d("2026-01-28")).is_ok());
        // A semester the county does not list is refused, whatever its built-in dates.
        let unlisted = c.check(Semester::new(2030, Term::First).unwrap(), d("2030-10-08")).unwrap_err();
        assert_eq!(unlisted.field, Field::Semester);
        assert!(
            Calendar::builtin().check(Semester::new(2030, Term::First).unwrap(), d("2030-10-08")).is_ok()
        );
    }
}
