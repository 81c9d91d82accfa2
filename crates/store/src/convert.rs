//! Domain activity <-> entity rows. Rows read back are validated again: a
//! store file edited by hand must not feed bad records into sync.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, Details, Semester, Term};

use crate::StoreError;
use crate::entity::{hub_activity, node_activity};

fn corrupt(id: uuid::Uuid, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("activity {id}: {what}"))
}

/// The details column: `None` when nothing is filled in, so plain records stay lean.
pub(crate) fn details_json(d: &Details) -> Option<String> {
    if d.is_empty() { None } else { serde_json::to_string(d).ok() }
}

/// Generates the two conversions for an activity entity module with the common columns.
macro_rules! activity_conversions {
    ($module:ident, $to_row:ident, $from_row:ident) => {
        /// Row of a domain activity; extra columns are set by the caller.
        #[allow(clippy::needless_update)]
        pub(crate) fn $to_row(a: &Activity, now: DateTime<Utc>) -> $module::ActiveModel {
            let b = &a.body;
            $module::ActiveModel {
                id: Set(a.id),
                school_code: Set(a.school.to_string()),
                start_year: Set(i32::from(a.semester.start_year)),
                term: Set(i32::from(a.semester.term.number())),
                date: Set(a.date),
                kind: Set(a.kind.code().to_owned()),
                version: Set(i64::try_from(a.version).unwrap_or(i64::MAX)),
                deleted: Set(a.deleted),
                subject: Set(b.subject.clone()),
                grade: Set(b.grade.clone()),
                actor: Set(b.actor.clone()),
                teacher: Set(b.teacher.clone()),
                topic: Set(b.topic.clone()),
                notes: Set(b.notes.clone()),
                rating: Set(b.rating.map(i32::from)),
                duration_minutes: Set(b.duration_minutes.and_then(|m| i32::try_from(m).ok())),
                details: Set(details_json(&b.details)),
                updated_at: Set(now),
                ..Default::default()
            }
        }

        /// Domain activity of a row, validated.
        pub(crate) fn $from_row(m: $module::Model) -> Result<Activity, StoreError> {
            let id = m.id;
            let term = u32::try_from(m.term)
                .ok()
                .and_then(Term::from_number)
                .ok_or_else(|| corrupt(id, "bad term"))?;
            let semester = u16::try_from(m.start_year)
                .ok()
                .and_then(|y| Semester::new(y, term))
                .ok_or_else(|| corrupt(id, "bad start_year"))?;
            let kind: ActivityKind = m.kind.parse().map_err(|e| corrupt(id, e))?;
            let a = Activity {
                id,
                school: m.school_code.parse().map_err(|e| corrupt(id, e))?,
                semester,
                date: m.date,
                kind,
                version: u64::try_from(m.version).map_err(|_| corrupt(id, "negative version"))?,
                deleted: m.deleted,
                body: ActivityDraft {
                    subject: m.subject,
                    grade: m.grade,
                    actor: m.actor,
                    teacher: m.teacher,
                    topic: m.topic,
                    notes: m.notes,
                    rating: m.rating.and_then(|r| u8::try_from(r).ok()),
                    duration_minutes: m.duration_minutes.and_then(|d| u32::try_from(d).ok()),
                    details: match m.details.as_deref() {
                        None | Some("") => Details::default(),
                        Some(json) => serde_json::from_str(json).map_err(|e| corrupt(id, e))?,
                    },
                },
            };
            a.validate().map_err(|e| corrupt(id, e))?;
            Ok(a)
        }
    };
}

activity_conversions!(hub_activity, hub_row, from_hub_row);
activity_conversions!(node_activity, node_row, from_node_row);

/// A revision list as stored (a JSON array, newest first); `None` when empty.
pub(crate) fn revs_json(revs: &[yanpei_domain::Rev]) -> Option<String> {
    if revs.is_empty() { None } else { serde_json::to_string(revs).ok() }
}

/// A stored revision list; rows from before protocol 3 have none.
pub(crate) fn parse_revs(json: Option<&str>) -> Result<Vec<yanpei_domain::Rev>, StoreError> {
    match json {
        None | Some("") => Ok(Vec::new()),
        Some(j) => serde_json::from_str(j).map_err(|e| StoreError::Corrupt(format!("revision list: {e}"))),
    }
}
