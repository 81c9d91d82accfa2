//! Quota compliance: every person's progress against each quota of the policy, what
//! is missing, and whether the present pace reaches the target by the semester's
//! end; with a supervisor roll-up by school, alliance and subject.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;
use yanpei_domain::roster::Roster;
use yanpei_domain::{ActivityKind, SchoolCode, Semester};

use crate::policy::{CountsFor, Measure, Period, QuotaPolicy, Role};

/// One rollup row of the semester: the records one person (by name or id, as recorded)
/// is named in at one school, and as whom (their 执行人, among the 参与人员, the 授课教师).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow {
    /// The school whose records they are.
    pub school: String,
    /// The person as recorded (a name, or an id).
    pub actor: String,
    /// As whom the records name them.
    pub named_as: CountsFor,
    /// The kind.
    pub kind: ActivityKind,
    /// Live records.
    pub n: i64,
    /// 蹲点 days.
    pub days: i64,
}

/// A person's progress against one quota.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplianceRow {
    /// The role the quota applies to.
    pub role: Role,
    /// Teacher id or staff id.
    pub person_id: String,
    /// Name.
    pub name: String,
    /// The teacher's school, or the staff member's 蹲点 schools.
    pub schools: Vec<String>,
    /// The teacher's subjects or the staff member's.
    pub subjects: Vec<String>,
    /// The quota's label.
    pub quota: String,
    /// The semester's target.
    pub target: i64,
    /// Done so far.
    pub actual: i64,
    /// Still missing (0 when met).
    pub missing: i64,
    /// What the present pace reaches by the semester's end.
    pub projected: i64,
    /// Met, or the pace reaches it.
    pub on_pace: bool,
}

/// One line of the supervisor roll-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonCount {
    /// 学校, 联合体 or 学科.
    pub dimension: &'static str,
    /// The group's code (a subject's name for subjects).
    pub code: String,
    /// The group's name.
    pub name: String,
    /// People with at least one quota.
    pub people: usize,
    /// People behind on at least one quota.
    pub behind: usize,
    /// Quota checks that are behind.
    pub checks_behind: usize,
    /// Quota checks in all.
    pub checks: usize,
}

/// The compliance report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compliance {
    /// The semester, e.g. 2024-2025学年第一学期.
    pub semester: String,
    /// The day progress is measured at.
    pub as_of: NaiveDate,
    /// The share of the semester elapsed by `as_of`, 0..=1.
    pub elapsed: f64,
    /// Every person and quota.
    pub rows: Vec<ComplianceRow>,
    /// The roll-up by school, alliance and subject.
    pub rollup: Vec<PersonCount>,
}

/// One person's totals by (school, kind, named as): (records, 蹲点 days).
type Done<'a> = BTreeMap<(&'a str, ActivityKind, CountsFor), (i64, i64)>;

struct Person<'a> {
    role: Role,
    id: &'a str,
    name: &'a str,
    /// Where their records count: the teacher's school; any school for staff.
    home: Option<&'a SchoolCode>,
    schools: Vec<String>,
    subjects: Vec<String>,
}

/// Whose staff (教研员) quota rows a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRows<'a> {
    /// None (a school's report).
    None,
    /// Every 教研员's (the county's whole report).
    All,
    /// One 教研员's own (the report a 教研员 reads: their schools and themselves).
    Own(&'a str),
}

impl StaffRows<'_> {
    fn includes(self, id: &str) -> bool {
        match self {
            StaffRows::None => false,
            StaffRows::All => true,
            StaffRows::Own(me) => me == id,
        }
    }
}

/// Computes the report. `rows` are the semester's person rollups; `schools` limits
/// teachers to those schools (a 教研员's scope) and `staff` says whose staff quotas it adds.
pub fn compliance(
    roster: &Roster,
    policy: &QuotaPolicy,
    semester: Semester,
    as_of: NaiveDate,
    rows: &[RollupRow],
    schools: Option<&BTreeSet<SchoolCode>>,
    staff: StaffRows<'_>,
) -> Compliance {
    let (start, end) = roster.calendar().dates(semester);
    let span = (end - start).num_days() + 1;
    let elapsed = ((as_of - start).num_days() + 1).clamp(0, span) as f64 / span as f64;
    let months = ((span as f64) / 30.4).round().max(1.0) as i64;

    // Totals per actor, then (school, kind): looked up per person below by name and
    // by id, so the report costs one lookup per person, not a pass over every row.
    let done = totals(rows);
    let people = roster_people(roster, semester, schools, staff);

    // Each quota's kinds, parsed once.
    let quotas: Vec<(&crate::policy::Quota, Vec<ActivityKind>)> =
        policy.quotas.iter().map(|q| (q, q.kinds.iter().filter_map(|k| k.parse().ok()).collect())).collect();
    let mut out = Vec::new();
    for p in &people {
        for (q, kinds) in quotas.iter().filter(|(q, _)| q.role == p.role) {
            let mut actual = 0;
            // Records naming the person (by name or id, once where they are the same) as
            // someone the quota counts.
            let mine = done.get(p.name).into_iter().chain((p.id != p.name).then(|| done.get(p.id)).flatten());
            for ((school, kind, named_as), (n, days)) in mine.flatten() {
                let here = p.home.is_none_or(|h| h.as_str() == *school);
                if here && kinds.contains(kind) && q.counts_for.contains(named_as) {
                    actual += match q.measure {
                        Measure::Records => *n,
                        Measure::Days => *days,
                    };
                }
            }
            let target = i64::from(q.target) * if q.period == Period::Month { months } else { 1 };
            let projected = if elapsed > 0.0 { (actual as f64 / elapsed).floor() as i64 } else { actual };
            out.push(ComplianceRow {
                role: p.role,
                person_id: p.id.to_owned(),
                name: p.name.to_owned(),
                schools: p.schools.clone(),
                subjects: p.subjects.clone(),
                quota: q.label.clone(),
                target,
                actual,
                missing: (target - actual).max(0),
                projected,
                on_pace: actual >= target || projected >= target,
            });
        }
    }
    let rollup = roll_up(roster, &out);
    Compliance { semester: semester.to_string(), as_of, elapsed, rows: out, rollup }
}

/// Totals per actor, then (school, kind, named as).
fn totals(rows: &[RollupRow]) -> BTreeMap<&str, Done<'_>> {
    let mut done: BTreeMap<&str, Done<'_>> = BTreeMap::new();
    for r in rows {
        let e = done
            .entry(r.actor.as_str())
            .or_default()
            .entry((r.school.as_str(), r.kind, r.named_as))
            .or_default();
        e.0 += r.n;
        e.1 += r.days;
    }
    done
}

/// Everyone the report has rows for, in each role they hold: the staff `staff` includes
/// (stationed ones also as 蹲点 staff), then the teachers of `schools` (all without).
fn roster_people<'a>(
    roster: &'a Roster,
    semester: Semester,
    schools: Option<&BTreeSet<SchoolCode>>,
    staff: StaffRows<'_>,
) -> Vec<Person<'a>> {
    let in_scope = |s: &SchoolCode| schools.is_none_or(|set| set.contains(s));
    let mut people: Vec<Person<'_>> = Vec::new();
    for st in roster.staff.iter().filter(|st| staff.includes(&st.id)) {
        let stationed: Vec<String> = roster
            .stationings
            .iter()
            .filter(|d| d.staff == st.id && d.semester == semester)
            .flat_map(|d| [d.rural_school.to_string(), d.urban_school.to_string()])
            .collect();
        let base = Person {
            role: Role::Staff,
            id: &st.id,
            name: &st.name,
            home: None,
            schools: stationed.clone(),
            subjects: st.subjects.clone(),
        };
        if !stationed.is_empty() {
            people.push(Person {
                role: Role::StationedStaff,
                schools: stationed,
                subjects: st.subjects.clone(),
                ..base
            });
            people.push(Person {
                role: Role::Staff,
                id: &st.id,
                name: &st.name,
                home: None,
                schools: Vec::new(),
                subjects: st.subjects.clone(),
            });
        } else {
            people.push(base);
        }
    }
    for t in roster.teachers.iter().filter(|t| in_scope(&t.school)) {
        let mk = |role| Person {
            role,
            id: &t.id,
            name: &t.name,
            home: Some(&t.school),
            schools: vec![t.school.to_string()],
            subjects: t.subjects.clone(),
        };
        people.push(mk(Role::Teacher));
        if t.years_of_service < 3 {
            people.push(mk(Role::NewTeacher));
        }
    }
    people
}

fn roll_up(roster: &Roster, rows: &[ComplianceRow]) -> Vec<PersonCount> {
    // (dimension, code) -> (name, people, people behind, checks behind, checks)
    type Acc = (String, BTreeSet<String>, BTreeSet<String>, usize, usize);
    let mut groups: BTreeMap<(&'static str, String), Acc> = BTreeMap::new();
    let schools: BTreeMap<&str, &yanpei_domain::School> =
        roster.schools.iter().map(|s| (s.code.as_str(), s)).collect();
    let alliances: BTreeMap<&str, &str> =
        roster.alliances.iter().map(|a| (a.code.as_str(), a.name.as_str())).collect();
    let school_name = |c: &str| schools.get(c).map(|s| s.name.clone());
    let alliance_of = |c: &str| schools.get(c).map(|s| s.alliance.clone());
    let alliance_name = |a: &str| alliances.get(a).map(|n| (*n).to_owned()).unwrap_or_default();
    for r in rows {
        let mut keys: Vec<(&'static str, String, String)> = Vec::new();
        for s in &r.schools {
            keys.push(("学校", s.clone(), school_name(s).unwrap_or_default()));
            if let Some(a) = alliance_of(s) {
                keys.push(("联合体", a.clone(), alliance_name(&a)));
            }
        }
        for sub in &r.subjects {
            keys.push(("学科", sub.clone(), sub.clone()));
        }
        // One person however many roles name them (a new teacher is also a teacher).
        let staff = matches!(r.role, Role::Staff | Role::StationedStaff);
        let person = format!("{}:{}", if staff { "staff" } else { "teacher" }, r.person_id);
        let behind = r.actual < r.target;
        for (dim, code, name) in keys.into_iter().collect::<BTreeSet<_>>() {
            let e =
                groups.entry((dim, code)).or_insert_with(|| (name, BTreeSet::new(), BTreeSet::new(), 0, 0));
            e.1.insert(person.clone());
            e.4 += 1;
            if behind {
                e.2.insert(person.clone());
                e.3 += 1;
            }
        }
    }
    groups
        .into_iter()
        .map(|((dimension, code), (name, people, behind, checks_behind, checks))| PersonCount {
            dimension,
            code,
            name,
            people: people.len(),
            behind: behind.len(),
            checks_behind,
            checks,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use yanpei_domain::Term;
    use yanpei_domain::roster::{SemesterDates, Staff, Stationing, Teacher};

    use super::*;

    fn code(c: &str) -> SchoolCode {
        c.parse().unwrap()
    }

    fn county() -> Roster {
        let semester = Semester::new(2025, Term::First).unwrap();
        Roster {
            county: "测试县".into(),
            semesters: vec![SemesterDates {
                semester,
                start: "2025-08-30".parse().unwrap(),
                end: "2026-01-23".parse().unwrap(),
            }],
            staff: vec![Staff {
                id: "JY01".into(),
                name: "杨刚".into(),
                subjects: vec!["语文".into()],
                schools: vec![],
            }],
            stationings: vec![Stationing {
                staff: "JY01".into(),
                semester,
                rural_school: code("R1"),
                urban_school: code("U1"),
            }],
            teachers: vec![Teacher {
                id: "T1".into(),
                name: "王静".into(),
                school: code("R1"),
                subjects: vec!["语文".into()],
                group: "语文组".into(),
                backbone: false,
                subject_leader: false,
                years_of_service: 10,
            }],
            ..Roster::default()
        }
    }

    fn row(school: &str, person: &str, named_as: CountsFor, kind: ActivityKind, n: i64) -> RollupRow {
        RollupRow { school: school.into(), actor: person.into(), named_as, kind, n, days: 0 }
    }

    #[test]
    fn each_quota_counts_the_people_its_policy_names() {
        let policy = QuotaPolicy::default_policy();
        let semester = Semester::new(2025, Term::First).unwrap();
        use ActivityKind::{GroupMeeting as Meeting, LessonObservation as Observe};
        use CountsFor::{Actor, Participants, Teacher as Observed};
        let rows = [
            // 杨刚 hosts one meeting and joins three at his 蹲点 schools.
            row("R1", "杨刚", Actor, Meeting, 1),
            row("R1", "杨刚", Participants, Meeting, 2),
            row("U1", "JY01", Participants, Meeting, 1),
            // 王静 observes 5 lessons and is observed 7 times: being observed is no 听课.
            row("R1", "王静", Actor, Observe, 5),
            row("R1", "王静", Observed, Observe, 7),
            // Listed at a meeting is not observing.
            row("R1", "王静", Participants, Meeting, 3),
        ];
        let report = compliance(
            &county(),
            &policy,
            semester,
            "2026-01-23".parse().unwrap(),
            &rows,
            None,
            StaffRows::All,
        );
        let actual = |id: &str, quota: &str| {
            report.rows.iter().find(|r| r.person_id == id && r.quota == quota).map(|r| r.actual)
        };
        // (person, quota, counted)
        let table = [("JY01", "参加教研组活动", 4), ("T1", "听课", 5), ("JY01", "听课", 0)];
        for (id, quota, want) in table {
            assert_eq!(actual(id, quota), Some(want), "{id} {quota}");
        }
        assert_eq!(report.as_of.to_string(), "2026-01-23");
        assert!((report.elapsed - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_new_teacher_is_one_person_in_the_roll_up() {
        let mut roster = county();
        roster.teachers[0].years_of_service = 2;
        let policy = QuotaPolicy::default_policy();
        let semester = Semester::new(2025, Term::First).unwrap();
        let report =
            compliance(&roster, &policy, semester, "2026-01-23".parse().unwrap(), &[], None, StaffRows::None);
        let roles: BTreeSet<Role> =
            report.rows.iter().filter(|r| r.person_id == "T1").map(|r| r.role).collect();
        assert!(roles.len() > 1, "T1 has quotas as a teacher and as a new teacher: {roles:?}");
        let school = report.rollup.iter().find(|g| g.dimension == "学校" && g.code == "R1").unwrap();
        assert_eq!((school.people, school.behind), (1, 1), "{school:?}");
    }

    #[test]
    fn staff_rows_are_the_countys_or_a_staff_members_own() {
        let mut roster = county();
        roster.staff.push(Staff {
            id: "JY02".into(),
            name: "李红".into(),
            subjects: vec![],
            schools: vec![],
        });
        let policy = QuotaPolicy::default_policy();
        let semester = Semester::new(2025, Term::First).unwrap();
        let as_of = "2026-01-23".parse().unwrap();
        let staff_in = |staff| {
            let report = compliance(&roster, &policy, semester, as_of, &[], None, staff);
            let ids: BTreeSet<String> = report
                .rows
                .iter()
                .filter(|r| r.person_id.starts_with("JY"))
                .map(|r| r.person_id.clone())
                .collect();
            ids.into_iter().collect::<Vec<_>>()
        };
        // (whose staff rows, staff people in the report)
        let table: [(StaffRows<'_>, &[&str]); 4] = [
            (StaffRows::None, &[]),
            (StaffRows::All, &["JY01", "JY02"]),
            (StaffRows::Own("JY02"), &["JY02"]),
            (StaffRows::Own("JY99"), &[]),
        ];
        for (staff, want) in table {
            assert_eq!(staff_in(staff), want, "{staff:?}");
        }
    }
}
