//! Coverage (整体覆盖，不留死角): schools no 研培人员 visited this semester, and the
//! subjects taught at a school that had no activity there.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use yanpei_domain::roster::Roster;
use yanpei_domain::{ActivityKind, SchoolCode};

/// One school's coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchoolCoverage {
    /// Code.
    pub school: String,
    /// Name.
    pub name: String,
    /// Its alliance's code.
    pub alliance: String,
    /// Records of staff visits: 视导 and 蹲点 records, and any record whose 执行人 is a 研培人员.
    pub staff_visits: i64,
    /// Subjects its teachers teach that had no activity recorded there.
    pub silent_subjects: Vec<String>,
}

/// Computes coverage for `schools` (all when `None`). `kinds` are the semester's live counts by
/// (school, kind); `people` by (school, 执行人) (any kind); `subjects` by (school, subject).
pub fn coverage(
    roster: &Roster,
    schools: Option<&BTreeSet<SchoolCode>>,
    kinds: &BTreeMap<(String, ActivityKind), i64>,
    people: &BTreeMap<(String, String), i64>,
    subjects: &BTreeMap<(String, String), i64>,
) -> Vec<SchoolCoverage> {
    let staff: BTreeSet<&str> = roster.staff.iter().flat_map(|s| [s.name.as_str(), s.id.as_str()]).collect();
    roster
        .schools
        .iter()
        .filter(|s| schools.is_none_or(|set| set.contains(&s.code)))
        .map(|s| {
            let code = s.code.to_string();
            let visit_kinds: i64 = [ActivityKind::StaffVisit, ActivityKind::OnsiteDays]
                .iter()
                .map(|k| kinds.get(&(code.clone(), *k)).copied().unwrap_or(0))
                .sum();
            let by_staff: i64 = people
                .iter()
                .filter(|((school, actor), _)| *school == code && staff.contains(actor.as_str()))
                .map(|(_, n)| *n)
                .sum();
            let taught: BTreeSet<&str> = roster
                .teachers
                .iter()
                .filter(|t| t.school == s.code)
                .flat_map(|t| t.subjects.iter().map(String::as_str))
                .collect();
            let silent_subjects = taught
                .into_iter()
                .filter(|sub| subjects.get(&(code.clone(), (*sub).to_owned())).copied().unwrap_or(0) <= 0)
                .map(str::to_owned)
                .collect();
            SchoolCoverage {
                school: code,
                name: s.name.clone(),
                alliance: s.alliance.clone(),
                // A 视导 by a staff member counts once, not as a kind and again as a person.
                staff_visits: visit_kinds.max(by_staff),
                silent_subjects,
            }
        })
        .collect()
}
