//! The whole taxonomy, shared records and conflicts, whole-system: real hub over
//! mutual TLS, real node agents, on both hub backends.

use yanpei_demo::DEMO_SEMESTER;
use yanpei_domain::{Activity, ActivityKind, Field, example_draft};
use yanpei_proto::pb::{self, query_service_client::QueryServiceClient};
use yanpei_tests::{batch, handshake, on_both_backends, raw_client, school, world};

fn day(n: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2024, 9, 9).unwrap() + chrono::TimeDelta::days(n)
}

async fn county_total(w: &yanpei_demo::DemoWorld) -> u64 {
    w.query_stats(None, pb::GroupBy::Unspecified).await.unwrap().total
}

/// Every kind is recorded, listed, edited and deleted at a node and reaches the hub.
async fn every_kind_round_trips(db: Option<String>) {
    let w = world("every_kind", db).await;
    let (own, partner) = (school("CGZ1"), school("T08Z1"));
    let node = w.node(&own, "office").await.unwrap();
    let mut recorded = Vec::new();
    let files = yanpei_tests::test_dir("every_kind_files");
    for (i, &kind) in ActivityKind::ALL.iter().enumerate() {
        let mut draft = example_draft(kind, &partner);
        // The example names an attached file: give the node one to send, since the hub
        // takes a record only after its attachments.
        for r in &mut draft.details.attachments {
            std::fs::write(files.join(&r.name), format!("{kind} 的附件").repeat(100)).unwrap();
            let got = node.attachments().unwrap().import(&files.join(&r.name)).unwrap();
            (r.sha256, r.size) = (got.digest.to_string(), got.size);
        }
        let a = Activity::create(own.clone(), DEMO_SEMESTER, day(i as i64), kind, draft).unwrap();
        node.store().record(&a).await.unwrap();
        recorded.push(a);
    }
    assert_eq!(node.store().list(None, None).await.unwrap().len(), ActivityKind::ALL.len());
    node.sync_once().await.unwrap();
    let stats = w.query_stats(None, pb::GroupBy::Unspecified).await.unwrap();
    assert_eq!(stats.total, ActivityKind::ALL.len() as u64);
    for &kind in ActivityKind::ALL {
        let n: u64 = stats
            .rows
            .iter()
            .filter(|r| r.kind == yanpei_proto::kind_to_pb(kind) as i32)
            .map(|r| r.count)
            .sum();
        assert_eq!(n, 1, "{kind} counted once");
    }
    for a in &recorded {
        assert_eq!(w.hub_store.activity(a.id).await.unwrap().as_ref(), Some(a), "{} reached the hub", a.kind);
    }
    let meetings = stats.rows.iter().find(|r| r.kind == pb::ActivityKind::GroupMeeting as i32).unwrap();
    assert_eq!((meetings.count, meetings.complete), (1, 1), "五定四有 counted apart");
    let meeting = recorded.iter().find(|a| a.kind == ActivityKind::GroupMeeting).unwrap();
    assert!(w.hub_store.activity(meeting.id).await.unwrap().unwrap().is_complete_meeting(), "五定四有 kept");

    // Edit every record, delete every third; the hub follows.
    for (i, a) in recorded.iter_mut().enumerate() {
        a.version += 1;
        a.set_text(Field::Notes, &format!("第{i}条已修改")).unwrap();
        a.deleted = i % 3 == 0;
        node.store().update(a).await.unwrap();
    }
    node.sync_once().await.unwrap();
    for a in &recorded {
        assert_eq!(
            w.hub_store.activity(a.id).await.unwrap().as_ref(),
            Some(a),
            "{} edit reached the hub",
            a.kind
        );
    }
    let live = recorded.iter().filter(|a| !a.deleted).count() as u64;
    assert_eq!(county_total(&w).await, live);
    assert_eq!(node.store().list(None, None).await.unwrap().len() as u64, live);
}
on_both_backends!(every_kind_round_trips);

/// A 送课下乡 recorded at school A appears at school B after both sync and is counted once;
/// a school cannot create a record that does not involve it, nor name an unknown school.
async fn a_delivery_is_shared_and_counted_once(db: Option<String>) {
    let w = world("delivery", db).await;
    let (a_school, b_school) = (school("CGZ1"), school("T08Z1"));
    let a = w.node(&a_school, "a").await.unwrap();
    let b = w.node(&b_school, "b").await.unwrap();
    let delivery = Activity::create(
        a_school.clone(),
        DEMO_SEMESTER,
        day(10),
        ActivityKind::LessonDelivery,
        example_draft(ActivityKind::LessonDelivery, &b_school),
    )
    .unwrap();
    a.store().record(&delivery).await.unwrap();
    a.sync_once().await.unwrap();
    assert_eq!(b.store().get(delivery.id).await.unwrap(), None);
    let r = b.sync_once().await.unwrap();
    assert_eq!(r.pulled, 1);
    assert_eq!(b.store().get(delivery.id).await.unwrap(), Some(delivery.clone()), "visible at the partner");
    assert_eq!(county_total(&w).await, 1, "one canonical record, counted once");
    let by_school = w.query_stats(None, pb::GroupBy::School).await.unwrap();
    let at =
        |code: &str| by_school.rows.iter().filter(|r| r.group_code == code).map(|r| r.count).sum::<u64>();
    assert_eq!((at("CGZ1"), at("T08Z1")), (1, 0), "counted under its own school");

    // School B tries to create a record of school CGZ2 that does not name B: refused, nothing stored.
    let mut client = raw_client(&w, &b_school).await;
    let session = handshake(&mut client, &b_school).await;
    let foreign = Activity::create(
        school("CGZ2"),
        DEMO_SEMESTER,
        day(11),
        ActivityKind::LessonDelivery,
        example_draft(ActivityKind::LessonDelivery, &school("T13Z1")),
    )
    .unwrap();
    let reply = client
        .push(pb::PushRequest {
            session_id: session.clone(),
            changes: batch(1, std::slice::from_ref(&foreign)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.refused.len(), 1, "{reply:?}");
    assert_eq!(reply.refused[0].owner_school, "CGZ2");
    assert_eq!(w.hub_store.activity(foreign.id).await.unwrap(), None);

    // Naming a school the roster does not know: refused, naming the field and the code.
    let unknown = Activity::create(
        b_school.clone(),
        DEMO_SEMESTER,
        day(12),
        ActivityKind::LessonDelivery,
        example_draft(ActivityKind::LessonDelivery, &school("NOWHERE")),
    )
    .unwrap();
    let reply = client
        .push(pb::PushRequest { session_id: session, changes: batch(2, std::slice::from_ref(&unknown)) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.refused.len(), 1, "{reply:?}");
    let why = &reply.refused[0].reason;
    assert!(why.contains("相关学校") && why.contains("NOWHERE"), "{why}");
    assert_eq!(w.hub_store.activity(unknown.id).await.unwrap(), None);
}
on_both_backends!(a_delivery_is_shared_and_counted_once);

/// Two schools edit the same shared record before syncing: whichever syncs first, the
/// record's own school wins; the loser is kept; both schools and the county see the
/// conflict; resolving it at the losing school syncs and closes it everywhere.
async fn concurrent_edits_are_reported_and_resolved(db: Option<String>) {
    let w = world("conflicts", db).await;
    let (a_school, b_school) = (school("CGZ1"), school("T08Z1"));
    let a = w.node(&a_school, "a").await.unwrap();
    let b = w.node(&b_school, "b").await.unwrap();
    let mut shared = Vec::new();
    for i in 0..2 {
        let r = Activity::create(
            a_school.clone(),
            DEMO_SEMESTER,
            day(20 + i),
            ActivityKind::LessonDelivery,
            example_draft(ActivityKind::LessonDelivery, &b_school),
        )
        .unwrap();
        a.store().record(&r).await.unwrap();
        shared.push(r);
    }
    a.sync_once().await.unwrap();
    b.sync_once().await.unwrap();

    // Both edit both records to version 2.
    let edit = |r: &Activity, topic: &str| {
        let mut n = r.clone();
        n.version += 1;
        n.body.topic = Some(topic.into());
        n
    };
    for r in &shared {
        a.store().update(&edit(r, "A校改的课题")).await.unwrap();
        b.store().update(&edit(r, "B校改的课题")).await.unwrap();
    }
    // A syncs first here; the_winner_does_not_depend_on_arrival_order reverses it.
    let ra = a.sync_once().await.unwrap();
    assert_eq!(ra.open_conflicts, 0);
    let rb = b.sync_once().await.unwrap();
    assert_eq!(rb.open_conflicts, 2, "B sees both conflicts");
    assert_eq!(rb.replaced, 2, "B's versions were replaced by the winners");
    for r in &shared {
        let held = w.hub_store.activity(r.id).await.unwrap().unwrap();
        assert_eq!(held.body.topic.as_deref(), Some("A校改的课题"), "the record's own school wins");
        assert_eq!(b.store().get(r.id).await.unwrap().unwrap(), held, "B now holds the winner");
    }
    let ra = a.sync_once().await.unwrap();
    assert_eq!(ra.open_conflicts, 2, "A sees them too");
    assert_eq!(a.store().conflicts().await.unwrap().len(), 2);

    // The county sees them, with the losing version kept in full.
    let mut q = QueryServiceClient::new(w.operator_endpoint().unwrap().connect().await.unwrap());
    let listed = q
        .conflicts(pb::ConflictsRequest { school_code: String::new(), include_resolved: false, limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .conflicts;
    assert_eq!(listed.len(), 2);
    for c in &listed {
        assert_eq!((c.winning_school.as_str(), c.losing_school.as_str()), ("CGZ1", "T08Z1"));
        assert_eq!(c.losing.as_ref().unwrap().topic, "B校改的课题", "nothing lost");
    }

    // B resolves record 0 by taking its own (losing) version; record 1 keeps the winner.
    let taken = b.store().resolve_conflict(shared[0].id, true).await.unwrap();
    assert_eq!((taken.version, taken.body.topic.as_deref()), (3, Some("B校改的课题")));
    b.store().resolve_conflict(shared[1].id, false).await.unwrap();
    let rb = b.sync_once().await.unwrap();
    assert_eq!(rb.open_conflicts, 0);
    let ra = a.sync_once().await.unwrap();
    assert_eq!(ra.open_conflicts, 0);
    assert_eq!(a.store().get(shared[0].id).await.unwrap().unwrap(), taken, "the resolution reached A");
    let all = q
        .conflicts(pb::ConflictsRequest { school_code: String::new(), include_resolved: true, limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .conflicts;
    assert!(all.iter().all(|c| c.resolved_version == 3), "{all:?}");
    assert_eq!(county_total(&w).await, 2, "still two records, each once");
}
on_both_backends!(concurrent_edits_are_reported_and_resolved);

/// The winner does not depend on who syncs first: B (the partner) pushing its edit
/// before A still ends with A's version kept and B's kept as the loser.
async fn the_winner_does_not_depend_on_arrival_order(db: Option<String>) {
    let w = world("conflict_order", db).await;
    let (a_school, b_school) = (school("CGZ1"), school("T08Z1"));
    let a = w.node(&a_school, "a").await.unwrap();
    let b = w.node(&b_school, "b").await.unwrap();
    let r = Activity::create(
        a_school.clone(),
        DEMO_SEMESTER,
        day(30),
        ActivityKind::SiteMeeting,
        example_draft(ActivityKind::SiteMeeting, &b_school),
    )
    .unwrap();
    a.store().record(&r).await.unwrap();
    a.sync_once().await.unwrap();
    b.sync_once().await.unwrap();
    let mut mine = r.clone();
    mine.version = 2;
    mine.body.topic = Some("A的主题".into());
    let mut theirs = r.clone();
    theirs.version = 2;
    theirs.body.topic = Some("B的主题".into());
    a.store().update(&mine).await.unwrap();
    b.store().update(&theirs).await.unwrap();
    b.sync_once().await.unwrap();
    assert_eq!(w.hub_store.activity(r.id).await.unwrap().unwrap().body.topic.as_deref(), Some("B的主题"));
    let ra = a.sync_once().await.unwrap();
    assert_eq!(ra.open_conflicts, 1);
    assert_eq!(w.hub_store.activity(r.id).await.unwrap().unwrap(), mine, "A's version replaced B's");
    let rb = b.sync_once().await.unwrap();
    assert_eq!((rb.replaced, rb.open_conflicts), (1, 1));
    assert_eq!(b.store().get(r.id).await.unwrap().unwrap(), mine);
    let c = &b.store().conflicts().await.unwrap()[0];
    assert_eq!(c.losing, theirs, "B's edit is kept, not lost");
}
on_both_backends!(the_winner_does_not_depend_on_arrival_order);
