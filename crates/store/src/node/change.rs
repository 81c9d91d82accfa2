//! The node's rule for a person's change of a stored record: an edit or a deletion makes
//! the next version of the record as the store holds it, and a deleted record takes
//! neither. Pure: the caller reads the record, and after an edit's fields are set it
//! validates the record and checks it against the roster.

use uuid::Uuid;
use yanpei_domain::Activity;

/// Why the node refuses a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefused {
    /// No record has this id here.
    #[error("没有编号为 {0} 的记录")]
    Missing(Uuid),
    /// An edit of a deleted record.
    #[error("记录 {0} 已删除，不能修改")]
    EditDeleted(Uuid),
    /// A deletion of a deleted record.
    #[error("记录 {0} 已经删除")]
    DeleteDeleted(Uuid),
}

/// The next version of record `id` (held as `current`) for an edit to fill in.
pub fn begin_edit(id: Uuid, current: Option<Activity>) -> Result<Activity, ChangeRefused> {
    let mut next = current.ok_or(ChangeRefused::Missing(id))?;
    if next.deleted {
        return Err(ChangeRefused::EditDeleted(id));
    }
    next.version += 1;
    Ok(next)
}

/// The next version of record `id` (held as `current`) that deletes it: a tombstone, so
/// the deletion syncs like any version.
pub fn delete(id: Uuid, current: Option<Activity>) -> Result<Activity, ChangeRefused> {
    let mut next = current.ok_or(ChangeRefused::Missing(id))?;
    if next.deleted {
        return Err(ChangeRefused::DeleteDeleted(id));
    }
    next.version += 1;
    next.deleted = true;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use yanpei_domain::{ActivityDraft, ActivityKind, SchoolCode, Semester};

    use super::*;

    fn record(version: u64, deleted: bool) -> Activity {
        Activity {
            id: Uuid::nil(),
            school: "S001".parse::<SchoolCode>().unwrap(),
            semester: "2024-2025-1".parse::<Semester>().unwrap(),
            date: NaiveDate::from_ymd_opt(2024, 10, 8).unwrap(),
            kind: ActivityKind::LessonObservation,
            version,
            deleted,
            body: ActivityDraft::default(),
        }
    }

    #[test]
    fn a_change_makes_the_next_version_of_a_live_record_only() {
        let id = Uuid::nil();
        type Rule = fn(Uuid, Option<Activity>) -> Result<Activity, ChangeRefused>;
        type Want = Result<(u64, bool), ChangeRefused>;
        let cases: [(&str, Rule, Option<Activity>, Want); 6] = [
            ("edit a live record", begin_edit, Some(record(3, false)), Ok((4, false))),
            ("edit a deleted record", begin_edit, Some(record(3, true)), Err(ChangeRefused::EditDeleted(id))),
            ("edit a missing record", begin_edit, None, Err(ChangeRefused::Missing(id))),
            ("delete a live record", delete, Some(record(1, false)), Ok((2, true))),
            ("delete a deleted record", delete, Some(record(2, true)), Err(ChangeRefused::DeleteDeleted(id))),
            ("delete a missing record", delete, None, Err(ChangeRefused::Missing(id))),
        ];
        for (what, rule, current, want) in cases {
            let got = rule(id, current).map(|a| (a.version, a.deleted));
            assert_eq!(got, want, "{what}");
        }
        assert_eq!(ChangeRefused::EditDeleted(id).to_string(), format!("记录 {id} 已删除，不能修改"));
    }
}
