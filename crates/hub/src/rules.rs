//! The county's rules the hub keeps for every change it takes, whoever sent it (a node
//! that never synced its roster, a third-party client): the date inside its semester by
//! the county's calendar (the built-in one while the roster lists no semesters) and a
//! teacher named in the record not being, by the roster,
//! another school's teacher (an unknown name may be a teacher the roster has not caught
//! up with: a node that holds the roster asks about it before it records). A
//! change that breaks one is refused alone, with a Chinese reason the node shows beside
//! the quarantined record (`yanpei node returned`). Partner schools are the batch
//! decision's (`yanpei_store::decide`): whether one may be named depends on what the hub
//! holds and on every roster version, read in the batch's transaction.

use std::sync::Arc;

use tokio::sync::Mutex;
use yanpei_domain::roster::Roster;
use yanpei_domain::{Activity, Calendar};
use yanpei_store::hub::{HubStore, IncomingChange, Refusal};

use crate::HubError;

/// The current roster, read again only when its version moves.
#[derive(Default)]
pub(crate) struct Rules {
    cached: Mutex<Option<(u64, Arc<Roster>)>>,
}

impl Rules {
    /// Splits a batch's changes into those the rules let through and refusals.
    pub(crate) async fn check(
        &self,
        store: &HubStore,
        changes: Vec<IncomingChange>,
        mut refused: Vec<Refusal>,
    ) -> Result<(Vec<IncomingChange>, Vec<Refusal>), HubError> {
        let roster = self.roster(store).await?;
        let mut kept = Vec::with_capacity(changes.len());
        for c in changes {
            match judge(roster.as_deref(), &c.activity) {
                Ok(()) => kept.push(c),
                Err(reason) => refused.push(Refusal {
                    seq: c.seq,
                    activity_id: c.activity.id.to_string(),
                    reason,
                    owner: Some(c.activity.school.to_string()),
                }),
            }
        }
        Ok((kept, refused))
    }

    async fn roster(&self, store: &HubStore) -> Result<Option<Arc<Roster>>, HubError> {
        let version = store.roster_version().await?;
        if version == 0 {
            return Ok(None);
        }
        let mut cached = self.cached.lock().await;
        if let Some((v, r)) = cached.as_ref()
            && *v == version
        {
            return Ok(Some(r.clone()));
        }
        let Some((v, r)) = store.current_roster().await? else {
            return Ok(None);
        };
        let r = Arc::new(r);
        *cached = Some((v, r.clone()));
        Ok(Some(r))
    }
}

/// Whether one change keeps the county's rules, and if not why, in Chinese. A deletion
/// always passes: a record filed before the rules changed can always be withdrawn.
pub(crate) fn judge(roster: Option<&Roster>, a: &Activity) -> Result<(), String> {
    if a.deleted {
        return Ok(());
    }
    let Some(roster) = roster else {
        return Calendar::builtin().check_activity(a).map_err(|e| format!("记录不合规：{e}"));
    };
    roster
        .calendar()
        .check_activity(a)
        .and_then(|()| roster.check_teacher_school(a))
        .map_err(|e| format!("记录不合本县名册：{e}"))
}

#[cfg(test)]
mod tests {
    use yanpei_domain::roster::{SemesterDates, Teacher};
    use yanpei_domain::{ActivityDraft, ActivityKind, Area, School, SchoolCode, SchoolLevel, Semester, Term};

    use super::*;

    fn code(c: &str) -> SchoolCode {
        c.parse().unwrap()
    }

    fn school(c: &str, name: &str) -> School {
        School {
            code: code(c),
            name: name.into(),
            township: "城关镇".into(),
            area: Area::Urban,
            level: SchoolLevel::Primary,
            alliance: "L1".into(),
            evaluation: None,
        }
    }

    fn teacher(id: &str, name: &str, school: &str) -> Teacher {
        Teacher {
            id: id.into(),
            name: name.into(),
            school: code(school),
            subjects: vec!["语文".into()],
            group: "语文组".into(),
            backbone: false,
            subject_leader: false,
            years_of_service: 5,
        }
    }

    fn county() -> Roster {
        let first = Semester::new(2025, Term::First).unwrap();
        Roster {
            county: "测试县".into(),
            semesters: vec![SemesterDates {
                semester: first,
                start: "2025-08-30".parse().unwrap(),
                end: "2026-01-23".parse().unwrap(),
            }],
            schools: vec![school("A01", "城关一小"), school("B01", "河口小学")],
            teachers: vec![teacher("T1", "王静", "A01"), teacher("T2", "李敏", "B01")],
            ..Roster::default()
        }
    }

    fn record(date: &str, teacher: &str, semester: Semester) -> Activity {
        Activity {
            id: uuid::Uuid::now_v7(),
            school: code("A01"),
            semester,
            date: date.parse().unwrap(),
            kind: ActivityKind::LessonObservation,
            version: 1,
            deleted: false,
            body: ActivityDraft {
                subject: Some("语文".into()),
                actor: "张老师".into(),
                teacher: Some(teacher.into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_change_keeps_the_county_calendar_and_its_teachers() {
        let r = county();
        let first = Semester::new(2025, Term::First).unwrap();
        let previous = Semester::new(2024, Term::Second).unwrap();
        let mut gone = record("2026-01-28", "王静", first);
        gone.deleted = true;
        // (record, roster held, the refusal's telling words or None when it passes)
        let table: Vec<(Activity, Option<&Roster>, Option<&str>)> = vec![
            (record("2025-08-30", "王静", first), Some(&r), None),
            (record("2026-01-23", "王静", first), Some(&r), None),
            (record("2026-01-28", "王静", first), Some(&r), Some("本县规定的")),
            (record("2025-08-30", "王静", previous), Some(&r), Some("学期表中没有")),
            (record("2025-10-08", "李敏", first), Some(&r), Some("河口小学的教师，不是本校教师")),
            // A name the roster does not know may be a new teacher: the node asks, the hub takes it.
            (record("2025-10-08", "陌生人", first), Some(&r), None),
            (gone, Some(&r), None),
            // Before any roster: the built-in calendar.
            (record("2026-01-28", "陌生人", first), None, None),
            (record("2025-08-30", "王静", first), None, Some("不在2025-2026学年第一学期")),
        ];
        for (i, (a, roster, refusal)) in table.into_iter().enumerate() {
            let got = judge(roster, &a);
            match (refusal, got) {
                (None, got) => assert!(got.is_ok(), "case {i}: {got:?}"),
                (Some(words), Err(reason)) => assert!(reason.contains(words), "case {i}: {reason}"),
                (Some(words), Ok(())) => panic!("case {i} passes, expected a refusal with {words}"),
            }
        }
    }
}
