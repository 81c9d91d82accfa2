//! Bad input gets the right status, a message that names the record and the
//! field, and changes nothing.

use tonic::Code;
use yanpei_proto::pb;
use yanpei_tests::{batch, handshake, hub_count, on_both_backends, raw_client, records, school, world};

/// A bad record is refused alone (protocol 3): the answer names the record, its
/// sequence number and the field, nothing of it is stored, the good records of the
/// batch are, and the ledger says why. A malformed batch (sequence numbers out of
/// order) is still refused whole with INVALID_ARGUMENT.
async fn an_invalid_record_is_refused_alone(db: Option<String>) {
    let w = world("invalid", db).await;
    let s = school("T02Z1");
    let mut client = raw_client(&w, &s).await;
    let session = handshake(&mut client, &s).await;

    type Breaker = fn(&mut pb::Activity);
    let cases: [(&str, Breaker, &str); 5] = [
        ("unknown kind", |a| a.kind = 42, "活动类型"),
        ("missing required field", |a| a.actor = String::new(), "执行人"),
        ("date outside the semester", |a| a.date = "2025-03-15".into(), "日期"),
        ("malformed UUID", |a| a.id = "1234-not-a-uuid".into(), "记录编号"),
        ("missing semester", |a| a.semester = None, "学期"),
    ];
    let mut stored = 0;
    for (n, (what, break_it, field)) in cases.into_iter().enumerate() {
        let good = records(&s, 3);
        let first = 1 + 3 * n as u64;
        let mut changes = batch(first, &good);
        let bad = changes[1].activity.as_mut().unwrap();
        break_it(bad);
        let bad_id = bad.id.clone();
        let reply =
            client.push(pb::PushRequest { session_id: session.clone(), changes }).await.unwrap().into_inner();
        assert_eq!(reply.refused.len(), 1, "{what}: {reply:?}");
        let r = &reply.refused[0];
        assert_eq!((r.seq, r.activity_id.as_str()), (first + 1, bad_id.as_str()), "{what}: {r:?}");
        assert!(
            r.reason.contains(&format!("{field}：")),
            "{what}: reason does not name {field}: {}",
            r.reason
        );
        assert_eq!(reply.applied, 2, "{what}: the good records of the batch were not stored");
        assert_eq!(reply.acked_seq, first + 2, "{what}: the refused change was not answered");
        stored += 2;
        assert_eq!(hub_count(&w, &s).await, stored, "{what}: the refused record was stored");
    }
    // Sequence numbers must increase.
    let good = records(&s, 2);
    let mut changes = batch(20, &good);
    changes[1].seq = 20;
    let status = client.push(pb::PushRequest { session_id: session.clone(), changes }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("seq"));

    assert_eq!(hub_count(&w, &s).await, stored, "part of a malformed batch was stored");
    let ledger = w.hub_store.ledger(Some(&s), 1).await.unwrap();
    assert_eq!(ledger[0].rejected, 5 + 2);
    assert_eq!(ledger[0].applied, 10);
    assert!(ledger[0].rejections.contains("日期："), "{}", ledger[0].rejections);

    // The same session still accepts a good batch afterwards.
    let ok = client
        .push(pb::PushRequest { session_id: session, changes: batch(30, &records(&s, 3)) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.applied, 3);
}
on_both_backends!(an_invalid_record_is_refused_alone);

/// A node may create only its own school's records: another school's is refused
/// (named in the answer, with the school's name), nothing of it is stored, and the
/// node's own records of the same batch are.
async fn another_schools_records_are_refused(db: Option<String>) {
    let w = world("permission", db).await;
    let (mine, theirs) = (school("T04Z1"), school("T04Z2"));
    let mut client = raw_client(&w, &mine).await;
    let session = handshake(&mut client, &mine).await;
    let mut changes = batch(1, &records(&mine, 2));
    changes.extend(batch(3, &records(&theirs, 1)));
    let reply = client.push(pb::PushRequest { session_id: session, changes }).await.unwrap().into_inner();
    assert_eq!(reply.refused.len(), 1, "{reply:?}");
    assert_eq!(reply.refused[0].seq, 3);
    assert_eq!(reply.refused[0].owner_school, "T04Z2");
    assert!(reply.refused[0].reason.contains("T04Z2"), "{}", reply.refused[0].reason);
    assert_eq!(hub_count(&w, &mine).await, 2);
    assert_eq!(hub_count(&w, &theirs).await, 0);

    // Claiming another school in the handshake is refused too: the certificate decides.
    let status = client
        .handshake(pb::HandshakeRequest {
            protocol_version: yanpei_proto::PROTOCOL_VERSION,
            node_id: uuid::Uuid::now_v7().to_string(),
            school_code: theirs.to_string(),
            agent_version: "test".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // And a school node may not read the county's statistics...
    let channel = w.node_endpoint_via(&mine, w.hub_addr).unwrap().connect().await.unwrap();
    let mut query = pb::query_service_client::QueryServiceClient::new(channel);
    let county = pb::StatsRequest {
        scope: Some(pb::Scope { target: Some(pb::scope::Target::County(true)) }),
        ..Default::default()
    };
    let status = query.stats(county).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // ...without a scope it gets its own school's, as every other query answers.
    assert_eq!(query.stats(pb::StatsRequest::default()).await.unwrap().into_inner().total, 2);
    // ...but may read its own school's.
    let own = query
        .stats(pb::StatsRequest {
            semester: None,
            scope: Some(pb::Scope { target: Some(pb::scope::Target::SchoolCode(mine.to_string())) }),
            group_by: 0,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(own.into_inner().total, 2);
}
on_both_backends!(another_schools_records_are_refused);

/// An outdated node is told to upgrade; a bad session id is refused clearly.
async fn an_outdated_node_is_told_to_upgrade(db: Option<String>) {
    let w = world("outdated", db).await;
    let s = school("CGX1");
    let mut client = raw_client(&w, &s).await;
    let status = client
        .handshake(pb::HandshakeRequest {
            protocol_version: 0,
            node_id: uuid::Uuid::now_v7().to_string(),
            school_code: s.to_string(),
            agent_version: "0.0.1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("升级"), "{}", status.message());

    let status =
        client.push(pb::PushRequest { session_id: "nonsense".into(), changes: vec![] }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = client
        .push(pb::PushRequest { session_id: uuid::Uuid::now_v7().to_string(), changes: vec![] })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}
on_both_backends!(an_outdated_node_is_told_to_upgrade);

/// A school that is not on the roster cannot sync.
async fn a_school_off_the_roster_cannot_sync(db: Option<String>) {
    let w = world("off_roster", db).await;
    let s = school("NOWHERE1");
    let mut client = raw_client(&w, &s).await;
    let status = client
        .handshake(pb::HandshakeRequest {
            protocol_version: yanpei_proto::PROTOCOL_VERSION,
            node_id: uuid::Uuid::now_v7().to_string(),
            school_code: s.to_string(),
            agent_version: "test".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("名册"));
}
on_both_backends!(a_school_off_the_roster_cannot_sync);
