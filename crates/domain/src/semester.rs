//! Semesters (学期): a school year (学年) and a term, a first-class period.

use std::{fmt, str::FromStr};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// The term of a school year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Term {
    /// 第一学期: September to January.
    First,
    /// 第二学期: February to August.
    Second,
}

impl Term {
    /// 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            Term::First => 1,
            Term::Second => 2,
        }
    }

    /// From 1 or 2.
    pub fn from_number(n: u32) -> Option<Term> {
        match n {
            1 => Some(Term::First),
            2 => Some(Term::Second),
            _ => None,
        }
    }
}

/// A semester: 2024-2025学年第一学期 is `Semester { start_year: 2024, term: First }`.
///
/// The default calendar: the first term runs from 1 September to 31 January,
/// the second from 1 February to 31 August, so every date has one semester.
/// Counties with other dates configure them with the roster (a later issue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Semester {
    /// First calendar year of the school year.
    pub start_year: u16,
    /// The term.
    pub term: Term,
}

/// Years outside this range are taken as typing mistakes.
const YEARS: std::ops::RangeInclusive<u16> = 2000..=2100;

impl Semester {
    /// A semester, if the year is plausible (2000..=2100).
    pub fn new(start_year: u16, term: Term) -> Option<Semester> {
        YEARS.contains(&start_year).then_some(Semester { start_year, term })
    }

    /// The semester a date falls in under the default calendar.
    pub fn containing(date: NaiveDate) -> Option<Semester> {
        let year = u16::try_from(date.year()).ok()?;
        let (start_year, term) = match date.month() {
            9..=12 => (year, Term::First),
            1 => (year.checked_sub(1)?, Term::First),
            _ => (year.checked_sub(1)?, Term::Second),
        };
        Semester::new(start_year, term)
    }

    /// First and last day, inclusive.
    pub fn dates(self) -> (NaiveDate, NaiveDate) {
        let y = i32::from(self.start_year);
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN);
        match self.term {
            Term::First => (ymd(y, 9, 1), ymd(y + 1, 1, 31)),
            Term::Second => (ymd(y + 1, 2, 1), ymd(y + 1, 8, 31)),
        }
    }

    /// Whether the date lies inside this semester.
    pub fn contains(self, date: NaiveDate) -> bool {
        let (first, last) = self.dates();
        first <= date && date <= last
    }

    /// The compact code, `2024-2025-1`.
    pub fn code(self) -> String {
        format!("{}-{}-{}", self.start_year, self.start_year + 1, self.term.number())
    }
}

impl fmt::Display for Semester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let term = match self.term {
            Term::First => "第一学期",
            Term::Second => "第二学期",
        };
        write!(f, "{}-{}学年{}", self.start_year, self.start_year + 1, term)
    }
}

/// The text is not a semester.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("无法识别的学期「{0}」，请写成 2024-2025-1 或 2024-2025学年第一学期")]
pub struct BadSemester(pub String);

impl FromStr for Semester {
    type Err = BadSemester;

    /// Accepts `2024-2025-1`, `2024-2025-2` and `2024-2025学年第一学期` / `第二学期`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadSemester(s.to_owned());
        let t = s.trim();
        let (years, term) = if let Some((years, term)) = t.split_once("学年") {
            let term = match term {
                "第一学期" => Term::First,
                "第二学期" => Term::Second,
                _ => return Err(bad()),
            };
            (years, term)
        } else {
            let (years, term) = t.rsplit_once('-').ok_or_else(bad)?;
            let n: u32 = term.parse().map_err(|_| bad())?;
            (years, Term::from_number(n).ok_or_else(bad)?)
        };
        let (a, b) = years.split_once('-').ok_or_else(bad)?;
        let a: u16 = a.parse().map_err(|_| bad())?;
        let b: u16 = b.parse().map_err(|_| bad())?;
        if b != a.wrapping_add(1) {
            return Err(bad());
        }
        Semester::new(a, term).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn parses_both_spellings() {
        let s = Semester::new(2024, Term::First);
        assert_eq!("2024-2025-1".parse().ok(), s);
        assert_eq!("2024-2025学年第一学期".parse().ok(), s);
        assert_eq!(s.map(|s| s.to_string()).as_deref(), Some("2024-2025学年第一学期"));
        assert_eq!(s.map(Semester::code).as_deref(), Some("2024-2025-1"));
        assert!("2024-2026-1".parse::<Semester>().is_err());
        assert!("2024-2025-3".parse::<Semester>().is_err());
        assert!("1066-1067-1".parse::<Semester>().is_err());
    }

    #[test]
    fn every_date_has_exactly_the_semester_that_contains_it() {
        let mut date = d(2023, 1, 1);
        while date < d(2027, 1, 1) {
            let s = Semester::containing(date);
            assert!(s.is_some_and(|s| s.contains(date)), "{date}");
            date = date.succ_opt().unwrap_or(NaiveDate::MAX);
        }
        let first = Semester::new(2024, Term::First);
        assert_eq!(Semester::containing(d(2025, 1, 31)), first);
        assert_ne!(Semester::containing(d(2025, 2, 1)), first);
    }
}
