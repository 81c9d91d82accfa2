//! Roster versions a schedule imports: the demo county's roster without some schools.

use std::collections::BTreeSet;

use yanpei_domain::SchoolCode;
use yanpei_domain::roster::Roster;

/// `roster` without the schools in `removed` and everything that names them.
pub(crate) fn without(roster: &Roster, removed: &BTreeSet<SchoolCode>) -> Roster {
    let mut r = roster.clone();
    let gone_teachers: BTreeSet<String> =
        r.teachers.iter().filter(|t| removed.contains(&t.school)).map(|t| t.id.clone()).collect();
    r.schools.retain(|s| !removed.contains(&s.code));
    r.pairings.retain(|p| !removed.contains(&p.helper) && !removed.contains(&p.partner));
    r.teachers.retain(|t| !removed.contains(&t.school));
    for s in &mut r.staff {
        s.schools.retain(|c| !removed.contains(c));
    }
    r.stationings.retain(|st| !removed.contains(&st.rural_school) && !removed.contains(&st.urban_school));
    r.mentorships.retain(|m| !gone_teachers.contains(&m.mentor) && !gone_teachers.contains(&m.apprentice));
    r
}

/// Schools of `roster` that may leave it in a schedule: not among `schedule`'s
/// schools and leading no alliance.
pub(crate) fn removable(roster: &Roster, schedule: &[SchoolCode]) -> Vec<SchoolCode> {
    roster
        .schools
        .iter()
        .map(|s| s.code.clone())
        .filter(|c| !schedule.contains(c) && !roster.alliances.iter().any(|a| &a.base_school == c))
        .collect()
}
