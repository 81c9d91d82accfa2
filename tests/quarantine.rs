//! A refused record is quarantined, not a wall (issue 14): the hub refuses one record,
//! the rest of the outbox syncs, the node keeps the refused one with the hub's reason,
//! and once the school edits it, it syncs.

use chrono::NaiveDate;
use yanpei_demo::DEMO_SEMESTER;
use yanpei_domain::{Activity, ActivityKind, example_draft};
use yanpei_tests::{hub_count, on_both_backends, records, school, world};

async fn a_refused_record_waits_at_the_node_and_the_rest_syncs(db: Option<String>) {
    let w = world("quarantine", db).await;
    let s = school("T06Z1");
    let node = w.node(&s, "a").await.unwrap();
    // A 送课下乡 naming a school the county roster does not have, among ordinary records.
    let mut draft = example_draft(ActivityKind::LessonDelivery, &school("NOWHERE"));
    draft.details.attachments.clear();
    let day = NaiveDate::from_ymd_opt(2024, 10, 15).unwrap();
    let bad = Activity::create(s.clone(), DEMO_SEMESTER, day, ActivityKind::LessonDelivery, draft).unwrap();
    let before = records(&s, 5);
    let after = records(&s, 5);
    node.store().record_all(&before).await.unwrap();
    node.store().record(&bad).await.unwrap();
    node.store().record_all(&after).await.unwrap();

    let report = node.sync_once().await.expect("a refused record must not fail the sync");
    assert_eq!(report.refused, 1, "{report:?}");
    assert_eq!(hub_count(&w, &s).await, 10, "the records around the refused one did not sync");
    assert_eq!(w.hub_store.activity(bad.id).await.unwrap(), None, "the hub stored the refused record");
    assert_eq!(node.store().pending_count().await.unwrap(), 0, "the outbox still waits on something");
    let held = node.store().quarantined().await.unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].activity, bad);
    assert!(held[0].reason.contains("NOWHERE") && held[0].reason.contains("相关学校"), "{}", held[0].reason);
    assert!(node.store().get(bad.id).await.unwrap().is_some(), "the refused record left the school's store");

    // More records and more syncs: the refused one neither blocks nor is sent again.
    node.store().record_all(&records(&s, 3)).await.unwrap();
    let again = node.sync_once().await.unwrap();
    assert_eq!((again.refused, again.pushed), (0, 3), "{again:?}");
    assert_eq!(hub_count(&w, &s).await, 13);
    assert_eq!(node.store().quarantined().await.unwrap().len(), 1);

    // The clerk corrects the partner school: the new version replaces the quarantined one and syncs.
    let mut fixed = bad.clone();
    fixed.version = 2;
    fixed.body.details.partner_schools = vec![school("T06Z2")];
    fixed.validate().unwrap();
    node.store().update(&fixed).await.unwrap();
    assert!(
        node.store().quarantined().await.unwrap().is_empty(),
        "the edit did not replace the quarantined change"
    );
    let last = node.sync_once().await.unwrap();
    assert_eq!(last.refused, 0, "{last:?}");
    assert_eq!(
        w.hub_store.activity(bad.id).await.unwrap(),
        Some(fixed),
        "the corrected record is not at the hub"
    );
    assert_eq!(hub_count(&w, &s).await, 14);

    // The county sees the refusal in the ledger, with its reason.
    let ledger = w.hub_store.ledger(Some(&s), 10).await.unwrap();
    assert!(
        ledger.iter().any(|e| e.rejected == 1 && e.rejections.contains("NOWHERE")),
        "the ledger does not name the refusal: {:?}",
        ledger.iter().map(|e| (e.rejected, &e.rejections)).collect::<Vec<_>>()
    );
}
on_both_backends!(a_refused_record_waits_at_the_node_and_the_rest_syncs);
