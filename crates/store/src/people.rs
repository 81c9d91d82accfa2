//! Who a semester's records name, up to a day: the 执行人, each of the 参与人员 and the
//! 授课教师, with the records and 蹲点 days they are named in. Read from the records
//! themselves (the person rollups have neither dates nor participants), for the reports
//! that count by a day before the semester's end or count people other than the 执行人.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use yanpei_domain::{ActivityKind, Details, Semester};

use crate::StoreError;
use crate::entity::hub_activity;
use crate::sql::HubStore;

/// As whom a record names a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NamedAs {
    /// Its 执行人.
    Actor,
    /// One of its 参与人员 (its 执行人 listed there too is named once, as the 执行人).
    Participant,
    /// The teacher whose lesson it records.
    Teacher,
}

/// The records one person is named in at one school, of one kind, as one of [`NamedAs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRow {
    /// The record's school.
    pub school: String,
    /// The person as recorded (a name or an id).
    pub person: String,
    /// As whom.
    pub named_as: NamedAs,
    /// The kind's code.
    pub kind: String,
    /// Live records.
    pub n: i64,
    /// Sum of 蹲点 days.
    pub days: i64,
}

/// One record's columns this read needs: school, kind, actor, teacher, details.
type Columns = (String, String, String, Option<String>, Option<String>);

/// Every person a record names, once each, with the role they are named in.
fn named(actor: &str, teacher: Option<&str>, details: &Details) -> Vec<(String, NamedAs)> {
    let mut out = vec![(actor.to_owned(), NamedAs::Actor)];
    for p in &details.participants {
        if p != actor && !out.iter().any(|(q, r)| q == p && *r == NamedAs::Participant) {
            out.push((p.clone(), NamedAs::Participant));
        }
    }
    out.extend(teacher.map(|t| (t.to_owned(), NamedAs::Teacher)));
    out
}

impl HubStore {
    /// The live records of `semester` dated up to `until`, of `kinds` (every kind when
    /// `None`), by the people they name.
    pub async fn people_named(
        &self,
        semester: Semester,
        until: NaiveDate,
        kinds: Option<&[ActivityKind]>,
    ) -> Result<Vec<NamedRow>, StoreError> {
        let mut q = hub_activity::Entity::find()
            .select_only()
            .columns([
                hub_activity::Column::SchoolCode,
                hub_activity::Column::Kind,
                hub_activity::Column::Actor,
                hub_activity::Column::Teacher,
                hub_activity::Column::Details,
            ])
            .filter(hub_activity::Column::StartYear.eq(i32::from(semester.start_year)))
            .filter(hub_activity::Column::Term.eq(i32::from(semester.term.number())))
            .filter(hub_activity::Column::Deleted.eq(false))
            .filter(hub_activity::Column::Date.lte(until));
        if let Some(kinds) = kinds {
            q = q.filter(hub_activity::Column::Kind.is_in(kinds.iter().map(|k| k.code())));
        }
        let rows: Vec<Columns> = q.into_tuple().all(&self.conn()).await?;
        let mut sums: BTreeMap<(String, String, NamedAs, String), (i64, i64)> = BTreeMap::new();
        for (school, kind, actor, teacher, details) in rows {
            let details: Details = match details.as_deref() {
                Some(text) => serde_json::from_str(text)
                    .map_err(|e| StoreError::Corrupt(format!("activity details at {school}: {e}")))?,
                None => Details::default(),
            };
            let days = if kind == ActivityKind::OnsiteDays.code() {
                i64::from(details.days.unwrap_or(0))
            } else {
                0
            };
            for (person, role) in named(&actor, teacher.as_deref(), &details) {
                let e = sums.entry((school.clone(), person, role, kind.clone())).or_default();
                e.0 += 1;
                e.1 += days;
            }
        }
        Ok(sums
            .into_iter()
            .map(|((school, person, named_as, kind), (n, days))| NamedRow {
                school,
                person,
                named_as,
                kind,
                n,
                days,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_names_its_actor_participants_and_teacher_once_each() {
        let details = Details {
            participants: vec!["杨刚".into(), "王静".into(), "杨刚".into(), "罗文博".into()],
            ..Details::default()
        };
        let got = named("王静", Some("唐洋"), &details);
        assert_eq!(
            got,
            [
                ("王静".to_owned(), NamedAs::Actor),
                ("杨刚".to_owned(), NamedAs::Participant),
                ("罗文博".to_owned(), NamedAs::Participant),
                ("唐洋".to_owned(), NamedAs::Teacher),
            ]
        );
    }
}
