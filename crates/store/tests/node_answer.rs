//! What a node does with the hub's answer to a push: it drops only what that push
//! carried. An entry the answer's `acked_seq` covers but the push did not carry may have
//! been refused to another session of the node (two syncs at once, a tool pushing as the
//! node), so it stays and goes again.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, SchoolCode, Semester, Term};
use yanpei_store::node::NodeStore;
use yanpei_test_kit as testing;

fn lecture(n: u32) -> Activity {
    let school: SchoolCode = "S1".parse().unwrap();
    Activity::create(
        school,
        Semester::new(2024, Term::First).unwrap(),
        NaiveDate::from_ymd_opt(2024, 10, n).unwrap(),
        ActivityKind::Lecture,
        ActivityDraft { actor: "教师".into(), topic: Some(format!("第{n}讲")), ..Default::default() },
    )
    .unwrap()
}

#[tokio::test]
async fn an_answer_drops_only_what_its_push_carried() {
    let store =
        NodeStore::open_or_init(&testing::fresh_sqlite("node_answer"), &"S1".parse().unwrap()).await.unwrap();
    for n in 1..=4 {
        store.record(&lecture(n)).await.unwrap();
    }
    let seqs: Vec<u64> = store.pending(10).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 4);
    // Another session carried seqs 3 and 4 and the hub refused 3; its answer has not
    // reached this node. This session carried 1 and 2; the hub's acknowledgement covers 4.
    store.mark_answered(&seqs[..2], seqs[3], &[]).await.unwrap();
    let left: Vec<u64> = store.pending(10).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(left, seqs[2..], "entries the push did not carry were dropped");
    // They go again; the hub answers the refusal again, and the node keeps it quarantined.
    store.mark_answered(&seqs[2..], seqs[3], &[(seqs[2], "相关学校代码有误".into())]).await.unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 0);
    let held = store.quarantined().await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].seq, seqs[2]);
}

#[tokio::test]
async fn a_refusal_of_a_version_the_record_moved_past_is_superseded() {
    let store =
        NodeStore::open_or_init(&testing::fresh_sqlite("node_answer"), &"S1".parse().unwrap()).await.unwrap();
    let v1 = lecture(5);
    store.record(&v1).await.unwrap();
    let sent: Vec<u64> = store.pending(10).await.unwrap().iter().map(|e| e.seq).collect();
    // v1 is on the wire when the clerk deletes the record; then the hub's refusal of v1 arrives.
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.deleted = true;
    store.update(&v2).await.unwrap();
    store.mark_answered(&sent, sent[0], &[(sent[0], "相关学校代码有误".into())]).await.unwrap();
    assert!(store.quarantined().await.unwrap().is_empty(), "the deletion supersedes the refused v1");
    let left = store.pending(10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].activity, v2);
    // After a hub restore lost the deletion, the comparison queues it again (no stale
    // refusal of v1 stands in its way).
    store.mark_answered(&[left[0].seq], left[0].seq, &[]).await.unwrap();
    assert_eq!(store.requeue(&[v1.id], &Default::default()).await.unwrap(), 1);
}
