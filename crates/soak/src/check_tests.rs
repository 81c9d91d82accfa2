//! The checker on hand-made logs and hub states: each class of violation is found,
//! and the hub the spec describes passes.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::NaiveDate;
use uuid::Uuid;
use yanpei_domain::{Activity, ActivityKind, SchoolCode, example_draft};
use yanpei_store::rollup::Rollups;

use crate::check::{HubSnapshot, NodeSnapshot, check};
use crate::intent::{Action, Actor, EventKind, IntentLog, Outcome};

fn school() -> SchoolCode {
    "T02Z1".parse().unwrap()
}

fn actor(node: u128) -> Actor {
    Actor { node: format!("T02Z1-{node}"), node_id: Uuid::from_u128(node), school: school() }
}

fn record(day: u32) -> Activity {
    Activity::create(
        school(),
        yanpei_demo::DEMO_SEMESTER,
        NaiveDate::from_ymd_opt(2024, 10, day).unwrap(),
        ActivityKind::LessonObservation,
        example_draft(ActivityKind::LessonObservation, &school()),
    )
    .unwrap()
}

fn next(base: &Activity, note: &str, delete: bool) -> Activity {
    let mut a = base.clone();
    a.version += 1;
    a.deleted = delete;
    a.body.notes = Some(note.into());
    a
}

fn did(log: &mut IntentLog, who: u128, base: Option<&Activity>, made: &Activity) {
    let action = if base.is_none() { Action::Create } else { Action::Edit };
    let g = log.begin(&actor(who), action, vec![(base.cloned(), made.clone())]).unwrap();
    log.outcome(g, Outcome::Ok).unwrap();
}

fn hub(current: &[&Activity], conflicts: &[&Activity]) -> HubSnapshot {
    let records: BTreeMap<Uuid, Activity> = current.iter().map(|a| (a.id, (*a).clone())).collect();
    let rollups = Rollups::recompute(records.values());
    let mut counted = BTreeMap::new();
    for a in records.values().filter(|a| !a.deleted) {
        *counted.entry(a.school.to_string()).or_default() += 1;
    }
    HubSnapshot {
        records,
        conflicts: conflicts.iter().map(|a| (*a).clone()).collect(),
        rollups,
        rollups_were_empty: false,
        counted,
        ledger_rejections: String::new(),
    }
}

fn node(name: &str, held: &[&Activity]) -> NodeSnapshot {
    NodeSnapshot {
        name: name.into(),
        school: school(),
        records: held.iter().map(|a| (a.id, (*a).clone())).collect(),
        pending: 0,
        quarantined: Vec::new(),
        sync_errors: Vec::new(),
    }
}

/// A made v1; A edits v2a; B edits v2b, v3b from v1 (a stale base for A's edit).
fn stale_base() -> (IntentLog, Activity, Activity, Activity) {
    let mut log = IntentLog::in_memory();
    let v1 = record(8);
    let a2 = next(&v1, "A", false);
    let b2 = next(&v1, "B", false);
    let b3 = next(&b2, "B2", false);
    did(&mut log, 1, None, &v1);
    did(&mut log, 1, Some(&v1), &a2);
    did(&mut log, 2, Some(&v1), &b2);
    did(&mut log, 2, Some(&b2), &b3);
    (log, a2, b3, v1)
}

#[test]
fn the_spec_end_state_passes() {
    let (log, a2, b3, _) = stale_base();
    let v = check(&log, &hub(&[&b3], &[&a2]), &[node("a", &[&b3]), node("b", &[&b3])]);
    assert!(v.is_clean(), "{v:#?}");
    assert_eq!(v.intents_checked, 4);
}

#[test]
fn a_stale_edit_dropped_without_a_conflict_is_silently_overwritten() {
    let (log, _, b3, _) = stale_base();
    let v = check(&log, &hub(&[&b3], &[]), &[]);
    assert_eq!((v.silently_overwritten, v.lost), (1, 0), "{v:#?}");
}

#[test]
fn the_wrong_winner_and_a_hub_behind_are_named() {
    let (log, a2, b3, v1) = stale_base();
    let v = check(&log, &hub(&[&a2], &[&b3]), &[]);
    assert_eq!(v.wrong_winner, 1, "{v:#?}");
    let v = check(&log, &hub(&[&v1], &[]), &[]);
    assert_eq!(v.lost, 3, "{v:#?}");
}

#[test]
fn a_missing_record_is_lost_and_what_no_intent_made_is_extra() {
    let mut log = IntentLog::in_memory();
    let r = record(9);
    did(&mut log, 1, None, &r);
    let v = check(&log, &hub(&[], &[]), &[node("a", &[&r])]);
    assert_eq!((v.lost, v.node_mismatch), (1, 1), "{v:#?}");
    let stranger = record(10);
    let v = check(&log, &hub(&[&r, &stranger], &[]), &[]);
    assert_eq!(v.extra, 1, "{v:#?}");
    let twice = hub(&[&r], &[&r]);
    assert_eq!(check(&log, &twice, &[]).duplicated, 1);
}

#[test]
fn a_killed_write_may_be_all_or_nothing_but_not_half() {
    let mut log = IntentLog::in_memory();
    let (x, y) = (record(11), record(12));
    let g = log.begin(&actor(1), Action::Create, vec![(None, x.clone()), (None, y.clone())]).unwrap();
    log.outcome(g, Outcome::Unknown { why: "killed".into() }).unwrap();
    assert!(check(&log, &hub(&[], &[]), &[]).is_clean());
    assert!(check(&log, &hub(&[&x, &y], &[]), &[]).is_clean());
    assert_eq!(check(&log, &hub(&[&x], &[]), &[]).lost, 1);
}

#[test]
fn a_refused_foreign_record_at_the_hub_is_extra() {
    let mut log = IntentLog::in_memory();
    let mut r = record(13);
    r.school = "T05Z2".parse().unwrap();
    let g = log.begin(&actor(1), Action::ForeignCreate, vec![(None, r.clone())]).unwrap();
    log.outcome(g, Outcome::Ok).unwrap();
    // Refused and named in the ledger: clean.
    let mut noted = hub(&[], &[]);
    noted.ledger_rejections = format!("[\"序号 1（记录 {}）：本校节点只能新建本校的记录\"]", r.id);
    assert!(check(&log, &noted, &[]).is_clean());
    // Refused without a note in the ledger: an unrecorded refusal.
    assert_eq!(check(&log, &hub(&[], &[]), &[]).unrecorded, 1);
    // Held by the hub: extra.
    assert_eq!(check(&log, &hub(&[&r], &[]), &[]).extra, 1);
}

#[test]
fn a_loser_only_the_hub_held_may_vanish_with_a_restore() {
    let mut log = IntentLog::in_memory();
    let v1 = record(14);
    did(&mut log, 1, None, &v1);
    let backup_n = log.event(EventKind::BackupTaken, "copy").unwrap();
    let a2 = next(&v1, "A", false);
    let b2 = next(&v1, "B", true);
    did(&mut log, 1, Some(&v1), &a2);
    did(&mut log, 2, Some(&v1), &b2);
    log.event(EventKind::HubRestored { backup_n }, "restore").unwrap();
    let winner = if Uuid::from_u128(2) > Uuid::from_u128(1) { &b2 } else { &a2 };
    let v = check(&log, &hub(&[winner], &[]), &[]);
    assert!(v.is_clean(), "{v:#?}");
    assert_eq!(v.excused_by_restore, 1);
    // The winner's line is never excused.
    let v = check(&log, &hub(&[&v1], &[]), &[]);
    assert_eq!(v.lost, 1, "{v:#?}");
}

/// Two nodes delete one record from the same base (one version, two makers) while a
/// third edits it: the key ties, so either head may win, by which maker's copy reached
/// the hub first. The hub settled on the deletion; the edit lost to it before a restore
/// took the hub back to a copy without it, so only the hub had held the edit: excused,
/// not silently overwritten. (Seeds 393 and 976 of the 1,000-schedule SQLite run.)
#[test]
fn a_tie_the_hub_settled_excuses_the_other_line_with_a_restore() {
    let mut log = IntentLog::in_memory();
    let v1 = record(15);
    did(&mut log, 1, None, &v1);
    let backup_n = log.event(EventKind::BackupTaken, "copy").unwrap();
    let gone = next(&v1, "", true);
    let edit = next(&v1, "B", false);
    did(&mut log, 1, Some(&v1), &gone);
    did(&mut log, 2, Some(&v1), &edit);
    did(&mut log, 3, Some(&v1), &gone);
    log.event(EventKind::HubRestored { backup_n }, "restore").unwrap();
    let v = check(&log, &hub(&[&gone], &[]), &[]);
    assert!(v.is_clean(), "{v:#?}");
    assert_eq!(v.excused_by_restore, 1);
    // Without the restore the edit had to be kept.
    let mut plain = IntentLog::in_memory();
    did(&mut plain, 1, None, &v1);
    did(&mut plain, 1, Some(&v1), &gone);
    did(&mut plain, 2, Some(&v1), &edit);
    did(&mut plain, 3, Some(&v1), &gone);
    assert_eq!(check(&plain, &hub(&[&gone], &[]), &[]).silently_overwritten, 1);
    assert!(check(&plain, &hub(&[&gone], &[&edit]), &[]).is_clean());
}

#[test]
fn rollups_and_counts_are_recomputed() {
    let mut log = IntentLog::in_memory();
    let r = record(15);
    did(&mut log, 1, None, &r);
    let mut h = hub(&[&r], &[]);
    h.rollups = Rollups::default();
    assert_eq!(check(&log, &h, &[]).rollup_mismatch, 1);
    let mut h = hub(&[&r], &[]);
    h.counted.insert(school().to_string(), 2);
    assert_eq!(check(&log, &h, &[]).duplicated, 1);
}

/// A made v1 naming a partner school (T09Z1) that no roster version has (`known` false)
/// or that the county removed (`known` true); A then edited or deleted it (v2), which the hub
/// refused and A keeps quarantined.
fn refused_for_a_partner(known: bool, delete: bool) -> (IntentLog, Activity, NodeSnapshot, HubSnapshot) {
    let mut log = IntentLog::in_memory();
    let partner: SchoolCode = "T09Z1".parse().unwrap();
    let mut schools = vec![school()];
    if known {
        schools.push(partner.clone());
    }
    log.event(EventKind::RosterImported { schools, semesters: vec![], removed: vec![] }, "roster").unwrap();
    let mut v1 = record(11);
    v1.body.details.partner_schools = vec![partner.clone()];
    did(&mut log, 1, None, &v1);
    if known {
        log.event(
            EventKind::RosterImported { schools: vec![school()], semesters: vec![], removed: vec![partner] },
            "removed",
        )
        .unwrap();
    }
    let v2 = next(&v1, "A", delete);
    did(&mut log, 1, Some(&v1), &v2);
    let mut at_hub = hub(&[&v1], &[]);
    at_hub.ledger_rejections = format!("{}: 相关学校不在县名册中", v1.id);
    let mut a = node("a", &[&v2]);
    a.quarantined = vec![(v2.clone(), "相关学校「T09Z1」不在县名册中".into())];
    (log, v1, a, at_hub)
}

#[test]
fn a_version_refused_for_a_partner_no_roster_had_is_kept_quarantined_not_lost() {
    let (log, v1, a, at_hub) = refused_for_a_partner(false, false);
    let v = check(&log, &at_hub, std::slice::from_ref(&a));
    assert!(v.is_clean(), "{v:#?}");
    assert_eq!(v.quarantined, 1);
    // Without the quarantine the edit is lost, and the node holds what the hub does not.
    let mut bare = a.clone();
    bare.quarantined.clear();
    let v = check(&log, &at_hub, &[bare]);
    assert_eq!((v.lost, v.node_mismatch), (1, 1), "{v:#?}");
    // A refusal the ledger does not name is unrecorded.
    let v = check(&log, &hub(&[&v1], &[]), &[a]);
    assert_eq!(v.unrecorded, 1, "{v:#?}");
}

#[test]
fn a_refused_deletion_or_a_refused_school_the_county_had_is_lost() {
    for (known, delete, why) in [(false, true, "a deletion"), (true, false, "names only schools")] {
        let (log, _, a, at_hub) = refused_for_a_partner(known, delete);
        let v = check(&log, &at_hub, &[a]);
        assert_eq!(v.lost, 1, "{v:#?}");
        assert!(v.violations.iter().any(|l| l.contains(why)), "{v:#?}");
    }
}

#[test]
fn a_version_dated_outside_the_county_semester_may_be_refused() {
    let mut log = IntentLog::in_memory();
    let (start, end) =
        (NaiveDate::from_ymd_opt(2024, 9, 1).unwrap(), NaiveDate::from_ymd_opt(2024, 10, 20).unwrap());
    let semesters =
        vec![yanpei_domain::roster::SemesterDates { semester: yanpei_demo::DEMO_SEMESTER, start, end }];
    log.event(EventKind::RosterImported { schools: vec![school()], semesters, removed: vec![] }, "roster")
        .unwrap();
    let v1 = record(11);
    did(&mut log, 1, None, &v1);
    // Dated past the county's last day: refused and quarantined, as the spec says.
    let mut late = next(&v1, "A", false);
    late.date = NaiveDate::from_ymd_opt(2024, 10, 25).unwrap();
    did(&mut log, 1, Some(&v1), &late);
    let mut at_hub = hub(&[&v1], &[]);
    at_hub.ledger_rejections = format!("{}: 日期不在本县规定的学期之内", v1.id);
    let mut a = node("a", &[&late]);
    a.quarantined = vec![(late.clone(), "日期不在本县规定的学期之内".into())];
    let v = check(&log, &at_hub, std::slice::from_ref(&a));
    assert!(v.is_clean(), "{v:#?}");
    assert_eq!(v.quarantined, 1);
    // Inside the semester the same refusal is a loss.
    let inside = next(&v1, "B", false);
    let mut log2 = IntentLog::in_memory();
    log2.event(
        EventKind::RosterImported {
            schools: vec![school()],
            semesters: vec![yanpei_domain::roster::SemesterDates {
                semester: yanpei_demo::DEMO_SEMESTER,
                start,
                end,
            }],
            removed: vec![],
        },
        "roster",
    )
    .unwrap();
    did(&mut log2, 1, None, &v1);
    did(&mut log2, 1, Some(&v1), &inside);
    a.quarantined = vec![(inside.clone(), "日期不在本县规定的学期之内".into())];
    a.records = [(inside.id, inside.clone())].into();
    let v = check(&log2, &at_hub, &[a]);
    assert_eq!(v.lost, 1, "{v:#?}");
}

#[test]
fn a_refused_version_never_competes_for_the_winner() {
    let mut log = IntentLog::in_memory();
    let (start, end) =
        (NaiveDate::from_ymd_opt(2024, 9, 1).unwrap(), NaiveDate::from_ymd_opt(2024, 10, 20).unwrap());
    let semesters =
        vec![yanpei_domain::roster::SemesterDates { semester: yanpei_demo::DEMO_SEMESTER, start, end }];
    log.event(EventKind::RosterImported { schools: vec![school()], semesters, removed: vec![] }, "roster")
        .unwrap();
    let v1 = record(11);
    did(&mut log, 1, None, &v1);
    // B deletes; C edits from the same base with a date past the semester. By the key C
    // would win (same version, higher node id), but the hub refused C's version.
    let gone = next(&v1, "B", true);
    did(&mut log, 2, Some(&v1), &gone);
    let mut late = next(&v1, "C", false);
    late.date = NaiveDate::from_ymd_opt(2024, 11, 2).unwrap();
    did(&mut log, 3, Some(&v1), &late);
    let mut at_hub = hub(&[&gone], &[]);
    at_hub.ledger_rejections = format!("{}: 日期不在本县规定的学期之内", v1.id);
    let mut c = node("c", &[&late]);
    c.quarantined = vec![(late.clone(), "日期不在本县规定的学期之内".into())];
    let v = check(&log, &at_hub, &[c]);
    assert!(v.is_clean(), "{v:#?}");
    assert_eq!((v.quarantined, v.wrong_winner), (1, 0));
}

#[test]
fn a_winner_the_hub_never_kept_is_judged_by_the_loss_rules_not_as_a_wrong_winner() {
    // B edits v2b, C edits v2c (the key's winner) and then v3c past the semester (refused,
    // quarantined at C); a restore took v2c from the hub, which holds v2b.
    let mut log = IntentLog::in_memory();
    let (start, end) =
        (NaiveDate::from_ymd_opt(2024, 9, 1).unwrap(), NaiveDate::from_ymd_opt(2024, 10, 20).unwrap());
    let semesters =
        vec![yanpei_domain::roster::SemesterDates { semester: yanpei_demo::DEMO_SEMESTER, start, end }];
    log.event(EventKind::RosterImported { schools: vec![school()], semesters, removed: vec![] }, "roster")
        .unwrap();
    let v1 = record(11);
    did(&mut log, 1, None, &v1);
    let b2 = next(&v1, "B", false);
    did(&mut log, 2, Some(&v1), &b2);
    let c2 = next(&v1, "C", false);
    did(&mut log, 3, Some(&v1), &c2);
    log.event(EventKind::BackupTaken, "backup").unwrap();
    log.event(EventKind::HubRestored { backup_n: 0 }, "restore").unwrap();
    let mut c3 = next(&c2, "C2", false);
    c3.date = NaiveDate::from_ymd_opt(2024, 11, 2).unwrap();
    did(&mut log, 3, Some(&c2), &c3);
    let mut at_hub = hub(&[&b2], &[]);
    at_hub.ledger_rejections = format!("{}: 日期不在本县规定的学期之内", v1.id);
    let mut c = node("c", &[&c3]);
    c.quarantined = vec![(c3.clone(), "日期不在本县规定的学期之内".into())];
    let v = check(&log, &at_hub, std::slice::from_ref(&c));
    assert_eq!(v.wrong_winner, 0, "{v:#?}");
    assert!(v.is_clean(), "{v:#?}");
    // Had the hub kept v2c as a loser, v2b as current is the wrong winner.
    let mut kept = hub(&[&b2], &[&c2]);
    kept.ledger_rejections = at_hub.ledger_rejections.clone();
    let v = check(&log, &kept, &[c]);
    assert_eq!(v.wrong_winner, 1, "{v:#?}");
}
