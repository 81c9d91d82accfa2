//! Table tests of the batch decision: every case of issue 14, in microseconds.

use std::collections::HashMap;

use uuid::Uuid;
use yanpei_domain::{Activity, ActivityKind, Rev, SchoolCode, Semester, ancestry_of, example_draft};

use super::*;
use crate::decide::IncomingChange;

fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

fn node(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn caller(school: &str, n: u128) -> Caller {
    Caller { node: node(n), school: code(school), causal: true, roster: None }
}

fn origin(school: &str, n: u128) -> Origin {
    Origin { node: node(n), school: school.into() }
}

/// A 送课下乡 of `owner` naming `partners`, version 1.
fn shared(owner: &str, partners: &[&str]) -> Activity {
    let semester: Semester = "2024-2025-1".parse().unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2024, 10, 8).unwrap();
    let mut body = example_draft(ActivityKind::LessonDelivery, &code(owner));
    body.details.partner_schools = partners.iter().map(|p| code(p)).collect();
    body.details.attachments.clear();
    Activity::create(code(owner), semester, day, ActivityKind::LessonDelivery, body).unwrap()
}

fn record(owner: &str) -> Activity {
    let semester: Semester = "2024-2025-1".parse().unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2024, 10, 8).unwrap();
    let mut body = example_draft(ActivityKind::Lecture, &code(owner));
    body.details.attachments.clear();
    Activity::create(code(owner), semester, day, ActivityKind::Lecture, body).unwrap()
}

/// The next version of `base` with `notes`, and its ancestry.
fn edit(base: &Activity, base_anc: &[Rev], notes: &str) -> (Activity, Vec<Rev>) {
    let mut next = base.clone();
    next.version += 1;
    next.body.notes = Some(notes.into());
    (next, ancestry_of(base, base_anc))
}

fn delete(base: &Activity, base_anc: &[Rev]) -> (Activity, Vec<Rev>) {
    let mut next = base.clone();
    next.version += 1;
    next.deleted = true;
    (next, ancestry_of(base, base_anc))
}

fn change(seq: u64, (activity, ancestors): (Activity, Vec<Rev>)) -> IncomingChange {
    IncomingChange { seq, activity, ancestors, maker: None }
}

fn held_by(a: &Activity, ancestors: Vec<Rev>, by: Origin) -> HashMap<Uuid, Held> {
    HashMap::from([(a.id, Held { activity: a.clone(), ancestors, origin: by, losers: vec![] })])
}

#[test]
fn a_new_record_of_the_callers_school_applies() {
    let a = record("CGZ1");
    let d = decide(&caller("CGZ1", 1), HashMap::new(), &[change(1, (a.clone(), vec![]))]);
    assert_eq!((d.applied, d.unchanged, d.conflicts), (1, 0, 0));
    assert_eq!(d.writes.len(), 1);
    assert_eq!(d.writes[0].after, a);
    assert_eq!(d.writes[0].before, None);
    assert!(d.refused.is_empty() && d.lost.is_empty());
}

#[test]
fn an_edit_from_the_held_version_applies_and_keeps_the_lineage() {
    let v1 = record("CGZ1");
    let (v2, anc) = edit(&v1, &[], "二");
    let d =
        decide(&caller("CGZ1", 2), held_by(&v1, vec![], origin("CGZ1", 1)), &[change(5, (v2.clone(), anc))]);
    assert_eq!((d.applied, d.conflicts), (1, 0));
    assert_eq!(d.writes[0].after, v2);
    assert_eq!(d.writes[0].before.as_ref(), Some(&v1));
    assert_eq!(d.writes[0].ancestors, vec![Rev::of(&v1)]);
}

#[test]
fn an_edit_and_a_delete_from_a_stale_base_are_kept_as_conflicts() {
    // Node B (id 2) made v2 and v3 and synced first; node A (id 1) edits (or deletes) from v1.
    let v1 = record("CGZ1");
    let (b2, b2_anc) = edit(&v1, &[], "B二");
    let (b3, b3_anc) = edit(&b2, &b2_anc, "B三");
    for stale in [edit(&v1, &[], "A二"), delete(&v1, &[])] {
        let d = decide(
            &caller("CGZ1", 1),
            held_by(&b3, b3_anc.clone(), origin("CGZ1", 2)),
            &[change(9, stale.clone())],
        );
        assert_eq!(d.conflicts, 1, "a stale-base change is a conflict, not 'unchanged'");
        assert_eq!(d.lost.len(), 1);
        assert_eq!(d.lost[0].activity, stale.0, "the stale change is kept in full");
        assert_eq!(d.lost[0].lost_by, origin("CGZ1", 1));
        // B's v3 stays current and is re-stamped so A pulls it.
        assert_eq!(d.writes.len(), 1);
        assert_eq!(d.writes[0].after, b3);
    }
}

#[test]
fn the_winner_does_not_depend_on_arrival_order() {
    let v1 = record("CGZ1");
    let (a2, a2_anc) = edit(&v1, &[], "A二");
    let (b2, b2_anc) = edit(&v1, &[], "B二");
    let (b3, b3_anc) = edit(&b2, &b2_anc, "B三");
    let base = || held_by(&v1, vec![], origin("CGZ1", 9));
    // B first, then A.
    let d1 = decide(
        &caller("CGZ1", 2),
        base(),
        &[change(1, (b2.clone(), b2_anc.clone())), change(2, (b3.clone(), b3_anc.clone()))],
    );
    let after_b = held_by(&b3, d1.writes[0].ancestors.clone(), origin("CGZ1", 2));
    let d2 = decide(&caller("CGZ1", 1), after_b, &[change(1, (a2.clone(), a2_anc.clone()))]);
    assert_eq!(d2.writes[0].after, b3);
    assert_eq!(d2.lost[0].activity, a2);
    // A first, then B (both of B's versions in one batch).
    let d3 = decide(&caller("CGZ1", 1), base(), &[change(1, (a2.clone(), a2_anc))]);
    let after_a = held_by(&a2, d3.writes[0].ancestors.clone(), origin("CGZ1", 1));
    let d4 = decide(
        &caller("CGZ1", 2),
        after_a,
        &[change(1, (b2.clone(), b2_anc)), change(2, (b3.clone(), b3_anc))],
    );
    assert_eq!(d4.writes.last().unwrap().after, b3, "the same version is current in both orders");
    // A's v2 is kept (open) in both orders; B's v2, which lost to A's v2 for a moment, is
    // resolved by B's own v3, made from it.
    let open: Vec<&Activity> =
        d4.lost.iter().filter(|l| l.resolved_by.is_none()).map(|l| &l.activity).collect();
    assert_eq!(open, vec![&a2]);
}

#[test]
fn equal_versions_from_two_nodes_pick_the_owner_then_the_greater_node() {
    let v1 = shared("CGZ1", &["T08Z1"]);
    let (own, own_anc) = edit(&v1, &[], "本校");
    let (partner, partner_anc) = edit(&v1, &[], "结对校");
    // The partner's version arrives second and loses to the owner's, though its node id is greater.
    let d = decide(
        &caller("T08Z1", 99),
        held_by(&own, own_anc.clone(), origin("CGZ1", 1)),
        &[change(1, (partner.clone(), partner_anc.clone()))],
    );
    assert_eq!(d.lost[0].activity, partner);
    // The owner's version arrives second and wins.
    let d = decide(
        &caller("CGZ1", 1),
        held_by(&partner, partner_anc, origin("T08Z1", 99)),
        &[change(1, (own.clone(), own_anc))],
    );
    assert_eq!(d.writes[0].after, own);
    assert_eq!(d.lost[0].activity, partner);
    // Two nodes of the owner school: the greater node id wins.
    let (x, x_anc) = edit(&v1, &[], "甲");
    let (y, y_anc) = edit(&v1, &[], "乙");
    let d =
        decide(&caller("CGZ1", 5), held_by(&x, x_anc, origin("CGZ1", 4)), &[change(1, (y.clone(), y_anc))]);
    assert_eq!(d.writes[0].after, y);
    assert_eq!(d.lost[0].activity, x);
}

#[test]
fn identical_content_from_two_nodes_is_not_a_conflict() {
    let v1 = record("CGZ1");
    let (same, anc) = edit(&v1, &[], "同样的修改");
    let d = decide(
        &caller("CGZ1", 2),
        held_by(&same, anc.clone(), origin("CGZ1", 1)),
        &[change(3, (same.clone(), anc))],
    );
    assert_eq!((d.applied, d.unchanged, d.conflicts), (0, 1, 0));
    assert!(d.writes.is_empty() && d.lost.is_empty());
}

#[test]
fn a_replay_changes_nothing_even_after_newer_versions() {
    let v1 = record("CGZ1");
    let (v2, v2_anc) = edit(&v1, &[], "二");
    let (v3, v3_anc) = edit(&v2, &v2_anc, "三");
    let held = || held_by(&v3, v3_anc.clone(), origin("CGZ1", 1));
    let d = decide(
        &caller("CGZ1", 1),
        held(),
        &[
            change(1, (v1.clone(), vec![])),
            change(2, (v2.clone(), v2_anc.clone())),
            change(3, (v3.clone(), v3_anc.clone())),
        ],
    );
    assert_eq!((d.applied, d.unchanged, d.conflicts), (0, 3, 0));
    assert!(d.writes.is_empty());
}

#[test]
fn a_kept_loser_sent_again_is_a_replay() {
    let v1 = record("CGZ1");
    let (a2, a2_anc) = edit(&v1, &[], "A");
    let (b2, b2_anc) = edit(&v1, &[], "B");
    let mut held = held_by(&b2, b2_anc, origin("CGZ1", 2));
    if let Some(h) = held.get_mut(&v1.id) {
        h.losers.push(KeptLoser { id: 7, rev: Rev::of(&a2), open: true });
    }
    let d = decide(&caller("CGZ1", 1), held, &[change(1, (a2, a2_anc))]);
    assert_eq!((d.unchanged, d.conflicts), (1, 0));
}

#[test]
fn a_resolution_made_from_both_versions_closes_the_conflict() {
    let v1 = record("CGZ1");
    let (a2, _) = edit(&v1, &[], "A");
    let (b2, b2_anc) = edit(&v1, &[], "B");
    let mut held = held_by(&b2, b2_anc.clone(), origin("CGZ1", 2));
    if let Some(h) = held.get_mut(&v1.id) {
        h.losers.push(KeptLoser { id: 7, rev: Rev::of(&a2), open: true });
    }
    // The clerk takes A's content as version 3, made from B's v2 and A's v2.
    let mut fix = a2.clone();
    fix.version = 3;
    let mut anc = ancestry_of(&b2, &b2_anc);
    anc.insert(1, Rev::of(&a2));
    let d = decide(&caller("CGZ1", 1), held, &[change(1, (fix.clone(), anc))]);
    assert_eq!((d.applied, d.conflicts), (1, 0));
    assert_eq!(d.resolved, vec![(7, 3)]);
    assert_eq!(d.writes[0].after, fix);
}

#[test]
fn a_plain_edit_does_not_resolve_a_conflict_it_never_saw() {
    let v1 = record("CGZ1");
    let (a2, _) = edit(&v1, &[], "A");
    let (b2, b2_anc) = edit(&v1, &[], "B");
    let mut held = held_by(&b2, b2_anc.clone(), origin("CGZ1", 2));
    if let Some(h) = held.get_mut(&v1.id) {
        h.losers.push(KeptLoser { id: 7, rev: Rev::of(&a2), open: true });
    }
    let d = decide(&caller("CGZ1", 2), held, &[change(1, edit(&b2, &b2_anc, "B三"))]);
    assert_eq!(d.applied, 1);
    assert!(d.resolved.is_empty());
}

#[test]
fn partner_added_removed_and_replaced() {
    let v1 = shared("CGZ1", &["T08Z1"]);
    // The owner replaces the partner: applies.
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.body.details.partner_schools = vec![code("T01Z1")];
    let v2_anc = ancestry_of(&v1, &[]);
    let d = decide(
        &caller("CGZ1", 1),
        held_by(&v1, vec![], origin("CGZ1", 1)),
        &[change(1, (v2.clone(), v2_anc.clone()))],
    );
    assert_eq!(d.applied, 1);
    // The removed partner's edit, made from v1, is refused: v2 no longer names it.
    let d = decide(
        &caller("T08Z1", 8),
        held_by(&v2, v2_anc.clone(), origin("CGZ1", 1)),
        &[change(4, edit(&v1, &[], "T08Z1 的修改"))],
    );
    assert_eq!(
        d.refused,
        vec![Refused { seq: 4, id: v1.id, reason: RefusalReason::NotNamed { owner: "CGZ1".into() } }]
    );
    assert!(d.writes.is_empty() && d.lost.is_empty());
    // The added partner may edit from the version naming it.
    let d = decide(
        &caller("T01Z1", 3),
        held_by(&v2, v2_anc.clone(), origin("CGZ1", 1)),
        &[change(1, edit(&v2, &v2_anc, "T01Z1 的修改"))],
    );
    assert_eq!(d.applied, 1);
    // Adding T08Z1 back lets it write again.
    let mut v3 = v2.clone();
    v3.version = 3;
    v3.body.details.partner_schools = vec![code("T01Z1"), code("T08Z1")];
    let v3_anc = ancestry_of(&v2, &v2_anc);
    let d = decide(
        &caller("T08Z1", 8),
        held_by(&v3, v3_anc.clone(), origin("CGZ1", 1)),
        &[change(5, edit(&v3, &v3_anc, "又可以改"))],
    );
    assert_eq!(d.applied, 1);
}

#[test]
fn a_foreign_owner_is_refused_and_the_rest_of_the_batch_applies() {
    let theirs = shared("T05Z2", &["T05Z1"]);
    let mine = record("T05Z1");
    let d = decide(
        &caller("T05Z1", 1),
        HashMap::new(),
        &[change(1, (theirs.clone(), vec![])), change(2, (mine.clone(), vec![]))],
    );
    assert_eq!(
        d.refused,
        vec![Refused {
            seq: 1,
            id: theirs.id,
            reason: RefusalReason::ForeignCreate { owner: code("T05Z2") }
        }]
    );
    assert_eq!(d.applied, 1);
    assert_eq!(d.writes.len(), 1);
    assert_eq!(d.writes[0].after, mine);
    // A change that names another owner than the held record is refused too.
    let mut moved = mine.clone();
    moved.version = 2;
    moved.school = code("T05Z2");
    let d = decide(
        &caller("T05Z1", 1),
        held_by(&mine, vec![], origin("T05Z1", 1)),
        &[change(3, (moved, ancestry_of(&mine, &[])))],
    );
    assert!(matches!(d.refused[0].reason, RefusalReason::OwnerChange { .. }));
}

#[test]
fn protocol_2_nodes_keep_the_version_number_rule() {
    let v1 = record("CGZ1");
    let (v2, _) = edit(&v1, &[], "二");
    let old = Caller { causal: false, ..caller("CGZ1", 1) };
    let d = decide(&old, held_by(&v1, vec![], origin("CGZ1", 2)), &[change(1, (v2.clone(), vec![]))]);
    assert_eq!(d.applied, 1);
    assert_eq!(d.writes[0].ancestors, vec![Rev::of(&v1)]);
    // An older version number is unchanged (the old rule), an equal one from elsewhere conflicts.
    let d = decide(&old, held_by(&v2, vec![], origin("CGZ1", 2)), &[change(1, (v1.clone(), vec![]))]);
    assert_eq!((d.unchanged, d.conflicts), (1, 0));
    let (other2, _) = edit(&v1, &[], "另一个二");
    let d = decide(&old, held_by(&v2, vec![], origin("CGZ1", 2)), &[change(1, (other2, vec![]))]);
    assert_eq!(d.conflicts, 1);
}

#[test]
fn a_batch_with_several_versions_of_one_record_writes_it_once_with_the_first_before() {
    let v1 = record("CGZ1");
    let (v2, v2_anc) = edit(&v1, &[], "二");
    let (v3, v3_anc) = edit(&v2, &v2_anc, "三");
    let d = decide(
        &caller("CGZ1", 1),
        HashMap::new(),
        &[change(1, (v1.clone(), vec![])), change(2, (v2, v2_anc)), change(3, (v3.clone(), v3_anc))],
    );
    assert_eq!(d.applied, 3);
    assert_eq!(d.writes.len(), 1);
    assert_eq!(d.writes[0].before, None);
    assert_eq!(d.writes[0].after, v3);
}

#[test]
fn a_version_sent_again_by_another_node_ranks_as_its_makers() {
    // Nodes 1 and 3 of CGZ1; node 2 made b2 and node 3 made c2, both from v1. The hub
    // ranked c2 first (node 3 > node 2), then was restored from a copy holding b2 alone.
    // Node 1, which had pulled c2, sends it again in node 3's name: c2 must win again.
    let v1 = record("CGZ1");
    let (b2, b2_anc) = edit(&v1, &[], "B二");
    let c2 = edit(&v1, &[], "C二");
    let held = || held_by(&b2, b2_anc.clone(), origin("CGZ1", 2));
    let again = |maker: Option<Origin>| IncomingChange { maker, ..change(4, c2.clone()) };

    let d = decide(&caller("CGZ1", 1), held(), &[again(Some(origin("CGZ1", 3)))]);
    assert_eq!(d.writes[0].after, c2.0, "ranked as node 3's, c2 wins as it did before the restore");
    assert_eq!(d.writes[0].origin, origin("CGZ1", 3));
    assert_eq!(d.lost[0].activity, b2);
    assert_eq!((d.lost[0].lost_by.clone(), d.lost[0].won_by.clone()), (origin("CGZ1", 2), origin("CGZ1", 3)));

    // In the sender's name (node 1) it would lose: the winner would depend on who delivered it.
    let d = decide(&caller("CGZ1", 1), held(), &[again(None)]);
    assert_eq!(d.writes[0].after, b2);
    assert_eq!(d.lost[0].lost_by, origin("CGZ1", 1));

    // A maker of a school the version does not involve, or the nil node, is not believed.
    for claim in [origin("T01Z1", 9), origin("CGZ1", 0)] {
        let d = decide(&caller("CGZ1", 1), held(), &[again(Some(claim.clone()))]);
        assert_eq!(d.lost[0].lost_by, origin("CGZ1", 1), "{claim:?} is ignored: ranked as the sender's");
    }
    // A partner school named by the version may be its maker.
    let s1 = shared("CGZ1", &["T01Z1"]);
    let (p2, p2_anc) = edit(&s1, &[], "T01Z1 改");
    let d = decide(
        &caller("CGZ1", 1),
        HashMap::new(),
        &[IncomingChange { maker: Some(origin("T01Z1", 7)), ..change(1, (p2.clone(), p2_anc)) }],
    );
    assert_eq!(d.writes[0].origin, origin("T01Z1", 7));
}

#[test]
fn a_partner_school_no_roster_ever_had_is_refused_only_where_a_version_newly_names_it() {
    // No roster version of the county ever had T09Z1 (a mistyped code, say).
    let roster: std::collections::BTreeSet<SchoolCode> = ["CGZ1", "T01Z1", "T08Z1"].map(code).into();
    let me = Caller { roster: Some(roster), ..caller("CGZ1", 1) };
    let off =
        |seq, id| Refused { seq, id, reason: RefusalReason::PartnerOffRoster { school: code("T09Z1") } };
    // A new record naming it: refused; the rest of the batch applies.
    let new = shared("CGZ1", &["T01Z1", "T09Z1"]);
    let fine = shared("CGZ1", &["T01Z1"]);
    let d =
        decide(&me, HashMap::new(), &[change(1, (new.clone(), vec![])), change(2, (fine.clone(), vec![]))]);
    assert_eq!(d.refused, vec![off(1, new.id)]);
    assert_eq!(d.applied, 1);
    // A held record that already names it: an edit keeping it applies, and so does its deletion.
    let v1 = shared("CGZ1", &["T09Z1"]);
    let held = || held_by(&v1, vec![], origin("CGZ1", 1));
    let d = decide(&me, held(), &[change(3, edit(&v1, &[], "改备注"))]);
    assert_eq!((d.applied, d.refused.len()), (1, 0));
    let d = decide(&me, held(), &[change(3, delete(&v1, &[]))]);
    assert_eq!((d.applied, d.refused.len()), (1, 0));
    // An edit adding it to a record that did not name it: refused.
    let (mut added, anc) = edit(&fine, &[], "加一所学校");
    added.body.details.partner_schools.push(code("T09Z1"));
    let d = decide(&me, held_by(&fine, vec![], origin("CGZ1", 1)), &[change(4, (added, anc))]);
    assert_eq!(d.refused, vec![off(4, fine.id)]);
    // A deletion is never refused for its partners, even as the first version the hub sees.
    let mut gone = new.clone();
    gone.deleted = true;
    let d = decide(&me, HashMap::new(), &[change(5, (gone, vec![]))]);
    assert_eq!((d.applied, d.refused.len()), (1, 0));
}

/// A version that loses is kept as a loser and never named as an ancestor of the winner,
/// whichever arrives first: a lineage travels with the record (nodes send it again after
/// a restore) while the kept losers stay at the hub, so a loser named as an ancestor would
/// make a restored hub take that version as held when it no longer keeps it.
#[test]
fn a_losing_version_is_kept_never_named_as_an_ancestor() {
    let v1 = record("CGZ1");
    let (a2, a2_anc) = edit(&v1, &[], "A二");
    let (b2, b2_anc) = edit(&v1, &[], "B二");
    let base = || held_by(&v1, vec![], origin("CGZ1", 9));
    // (first in, second in): node 2's version wins either way.
    let orders = [
        ((caller("CGZ1", 1), a2.clone(), a2_anc.clone()), (caller("CGZ1", 2), b2.clone(), b2_anc.clone())),
        ((caller("CGZ1", 2), b2.clone(), b2_anc.clone()), (caller("CGZ1", 1), a2.clone(), a2_anc.clone())),
    ];
    for ((c1, x1, x1_anc), (c2, x2, x2_anc)) in orders {
        let d1 = decide(&c1, base(), &[change(1, (x1.clone(), x1_anc))]);
        let after = held_by(&x1, d1.writes[0].ancestors.clone(), c1_origin(&c1));
        let d2 = decide(&c2, after, &[change(1, (x2.clone(), x2_anc))]);
        let last = d2.writes.last().unwrap();
        assert_eq!(last.after, b2, "the greater node id wins");
        assert_eq!(last.ancestors, vec![Rev::of(&v1)], "only the winner's own lineage");
        assert_eq!(d2.lost.iter().map(|l| &l.activity).collect::<Vec<_>>(), vec![&a2], "A's v2 is kept");
    }
}

fn c1_origin(c: &Caller) -> Origin {
    Origin { node: c.node, school: c.school.to_string() }
}
