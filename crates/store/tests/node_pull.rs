//! What a node does with what the hub sends: versions that descend from an unsent
//! change deliver it; other unsent changes keep the local version; a record that no
//! longer names the school leaves the store.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, SchoolCode, Semester, Term, ancestry_of};
use yanpei_store::node::{NodeStore, PulledRecord};
use yanpei_test_kit as testing;

fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

fn lecture(n: u32) -> Activity {
    Activity::create(
        code("S1"),
        Semester::new(2024, Term::First).unwrap(),
        NaiveDate::from_ymd_opt(2024, 10, n).unwrap(),
        ActivityKind::Lecture,
        ActivityDraft { actor: "教师".into(), topic: Some(format!("第{n}讲")), ..Default::default() },
    )
    .unwrap()
}

fn next(a: &Activity, notes: &str) -> Activity {
    let mut b = a.clone();
    b.version += 1;
    b.body.notes = Some(notes.into());
    b
}

#[tokio::test]
async fn a_pulled_descendant_delivers_the_unsent_change_it_was_made_from() {
    let store = NodeStore::open_or_init(&testing::fresh_sqlite("node_pull"), &code("S1")).await.unwrap();
    let v1 = lecture(1);
    store.record(&v1).await.unwrap();
    let v2 = next(&v1, "本节点的修改");
    store.update(&v2).await.unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 2);

    // Another node's v3, made from our v2 (the hub has v1 and v2): both entries are delivered.
    let v3 = next(&v2, "另一节点在其上修改");
    let ancestors = ancestry_of(&v2, &ancestry_of(&v1, &[]));
    let out = store
        .apply_pulled(&[PulledRecord { activity: v3.clone(), ancestors, maker: None, kept: vec![] }], 5)
        .await
        .unwrap();
    assert_eq!(out.applied, 1);
    assert_eq!(store.pending_count().await.unwrap(), 0, "entries the hub holds were kept");
    assert_eq!(store.get(v1.id).await.unwrap(), Some(v3));
}

#[tokio::test]
async fn an_unsent_change_the_hub_has_not_seen_keeps_the_local_version() {
    let store = NodeStore::open_or_init(&testing::fresh_sqlite("node_pull"), &code("S1")).await.unwrap();
    let v1 = lecture(2);
    store.record(&v1).await.unwrap();
    store.mark_acked(1).await.unwrap();
    let mine = next(&v1, "本节点");
    store.update(&mine).await.unwrap();
    // The hub's v2 from another node, made from v1: concurrent with ours, which must reach the hub.
    let theirs = next(&v1, "另一节点");
    let out = store
        .apply_pulled(
            &[PulledRecord { activity: theirs, ancestors: ancestry_of(&v1, &[]), maker: None, kept: vec![] }],
            7,
        )
        .await
        .unwrap();
    assert_eq!(out.unchanged, 1);
    assert_eq!(store.pending_count().await.unwrap(), 1);
    assert_eq!(store.get(v1.id).await.unwrap(), Some(mine));
}

#[tokio::test]
async fn a_record_gone_from_the_view_leaves_the_store() {
    let store = NodeStore::open_or_init(&testing::fresh_sqlite("node_pull"), &code("S1")).await.unwrap();
    let v1 = lecture(3);
    store.record(&v1).await.unwrap();
    store.mark_acked(1).await.unwrap();
    let out = store.apply_pulled_page(&[], &[v1.id], 9).await.unwrap();
    assert_eq!(out.removed, 1);
    assert_eq!(store.get(v1.id).await.unwrap(), None);
    assert_eq!(store.pull_cursor().await.unwrap(), 9);
}

#[tokio::test]
async fn a_version_sent_again_names_its_maker_and_an_own_edit_names_none() {
    use yanpei_store::decide::Origin;
    let store = NodeStore::open_or_init(&testing::fresh_sqlite("node_pull"), &code("S1")).await.unwrap();
    let v1 = lecture(4);
    let maker = Origin { node: uuid::Uuid::from_u128(3), school: "S1".into() };
    store
        .apply_pulled(
            &[PulledRecord {
                activity: v1.clone(),
                ancestors: vec![],
                maker: Some(maker.clone()),
                kept: vec![],
            }],
            3,
        )
        .await
        .unwrap();
    // The hub asks for it again (restored from an older copy): it goes in its maker's name.
    let queued = store.requeue(&[v1.id], &Default::default()).await.unwrap();
    assert_eq!(queued, 1);
    let pending = store.pending(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].maker, Some(maker), "sent again in the maker's name, not this node's");
    store.mark_acked(pending[0].seq).await.unwrap();

    // This node's own edit of it is this node's.
    let v2 = next(&v1, "本节点修改");
    store.update(&v2).await.unwrap();
    assert_eq!(store.pending(10).await.unwrap()[0].maker, None);
    store.mark_acked(store.pending(10).await.unwrap()[0].seq).await.unwrap();
    store.requeue(&[v1.id], &Default::default()).await.unwrap();
    assert_eq!(store.pending(10).await.unwrap()[0].maker, None, "the stored version is now this node's own");
}

#[tokio::test]
async fn a_pulled_winner_keeping_the_local_version_replaces_it_and_its_lineage_leaves_the_loser_out() {
    let store = NodeStore::open_or_init(&testing::fresh_sqlite("node_pull"), &code("S1")).await.unwrap();
    let v1 = lecture(5);
    store.record(&v1).await.unwrap();
    let mine = next(&v1, "本节点");
    store.update(&mine).await.unwrap();
    store.mark_acked(2).await.unwrap();
    // The hub's winner, another node's v2 from v1, keeps ours as the losing version.
    let theirs = next(&v1, "另一节点");
    let kept = vec![yanpei_domain::Rev::of(&mine)];
    let pulled =
        PulledRecord { activity: theirs.clone(), ancestors: ancestry_of(&v1, &[]), maker: None, kept };
    let out = store.apply_pulled(&[pulled], 8).await.unwrap();
    assert_eq!((out.applied, out.replaced, out.resent), (1, 1, 0));
    assert_eq!(store.get(v1.id).await.unwrap(), Some(theirs));
    // Sent again (a restored hub asks), its lineage is the winner's own: v1, not our loser.
    assert_eq!(store.requeue(&[v1.id], &Default::default()).await.unwrap(), 1);
    let pending = store.pending(10).await.unwrap();
    assert_eq!(pending.last().unwrap().ancestors, ancestry_of(&v1, &[]));
}

#[tokio::test]
async fn a_pulled_version_that_neither_descends_from_nor_keeps_the_local_one_sends_it_again() {
    let store = NodeStore::open_or_init(&testing::fresh_sqlite("node_pull"), &code("S1")).await.unwrap();
    let v1 = lecture(6);
    store.record(&v1).await.unwrap();
    let mine = next(&v1, "本节点");
    store.update(&mine).await.unwrap();
    // Both acknowledged; then the hub was restored from a copy that lacks our v2, and
    // another node's v2 from v1 reached it.
    store.mark_acked(2).await.unwrap();
    let theirs = next(&v1, "另一节点");
    let pulled =
        PulledRecord { activity: theirs, ancestors: ancestry_of(&v1, &[]), maker: None, kept: vec![] };
    let out = store.apply_pulled(&[pulled], 9).await.unwrap();
    assert_eq!((out.applied, out.resent), (0, 1));
    assert_eq!(store.get(v1.id).await.unwrap(), Some(mine.clone()), "ours stays until the hub judges it");
    let pending = store.pending(10).await.unwrap();
    assert_eq!(pending.iter().map(|e| &e.activity).collect::<Vec<_>>(), vec![&mine], "ours goes again");
}
