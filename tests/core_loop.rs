//! The core loop, whole-system: real hub over mutual TLS, real node agents with
//! their own SQLite stores, on both hub backends. Every number is exact.

use yanpei_node::{Fault, NodeError, SyncOptions};
use yanpei_proto::pb;
use yanpei_tests::proxy::CutProxy;
use yanpei_tests::{
    batch, handshake, hub_count, hub_counts, on_both_backends, raw_client, records, school, world,
};

/// Three schools record, one edits and one deletes; after one sync every live
/// record is counted once, the edit and the delete have reached the hub, and a
/// second node of a school pulls the same records back.
async fn every_record_counted_once(db: Option<String>) {
    let w = world("counted_once", db).await;
    let schools = [school("CGZ1"), school("T03Z1"), school("T09X1")];
    let sizes = [40usize, 25, 12];
    let mut agents = Vec::new();
    for (s, n) in schools.iter().zip(sizes) {
        let agent = w.node(s, "a").await.unwrap();
        agent.store().record_all(&records(s, n)).await.unwrap();
        agents.push(agent);
    }
    // School 0 edits one record; school 1 deletes two.
    let mut edited = agents[0].store().list(None, None).await.unwrap()[0].clone();
    edited.version += 1;
    edited.body.topic = Some("改：分层作业".into());
    agents[0].store().update(&edited).await.unwrap();
    for r in agents[1].store().list(None, None).await.unwrap().into_iter().take(2) {
        let mut gone = r;
        gone.version += 1;
        gone.deleted = true;
        agents[1].store().update(&gone).await.unwrap();
    }

    for a in &agents {
        let r = a.sync_once().await.unwrap();
        assert_eq!(r.applied, r.pushed, "first sync applies every change");
        assert_eq!(a.store().pending_count().await.unwrap(), 0, "outbox emptied after the ack");
    }
    let counts = hub_counts(&w).await;
    assert_eq!(counts.get("CGZ1"), Some(&40));
    assert_eq!(counts.get("T03Z1"), Some(&23));
    assert_eq!(counts.get("T09X1"), Some(&12));
    assert_eq!(counts.values().sum::<u64>(), 75);
    assert_eq!(w.hub_store.activity(edited.id).await.unwrap().unwrap(), edited);

    // The county's answer over gRPC, by kind: 75 live records, 15 of each kind minus deletes.
    let stats = w.query_stats(None, pb::GroupBy::Unspecified).await.unwrap();
    assert_eq!(stats.total, 75);
    // Per school over gRPC.
    let one = w
        .query_stats(Some(pb::scope::Target::SchoolCode("T03Z1".into())), pb::GroupBy::School)
        .await
        .unwrap();
    assert_eq!(one.total, 23);

    // A second node of school 0 (a reinstalled office PC) pulls the school's records back.
    let second = w.node(&schools[0], "b").await.unwrap();
    let r = second.sync_once().await.unwrap();
    assert_eq!((r.pushed, r.pulled), (0, 40));
    let mut mine: Vec<_> = agents[0].store().list(None, None).await.unwrap();
    let mut theirs: Vec<_> = second.store().list(None, None).await.unwrap();
    mine.sort_by_key(|a| a.id);
    theirs.sort_by_key(|a| a.id);
    assert_eq!(mine, theirs);
    // Syncing again moves nothing.
    let again = second.sync_once().await.unwrap();
    assert_eq!((again.pushed, again.pulled), (0, 0));

    // The ledger has one finished session per sync.
    let ledger = w.hub_store.ledger(Some(&schools[0]), 10).await.unwrap();
    assert_eq!(ledger.len(), 3);
    assert!(ledger.iter().all(|s| s.finished_at.is_some()));
}
on_both_backends!(every_record_counted_once);

/// Re-sending a batch the hub already acknowledged changes nothing.
async fn replaying_an_acknowledged_batch_changes_nothing(db: Option<String>) {
    let w = world("replay", db).await;
    let s = school("T05Z2");
    let rs = records(&s, 30);
    let mut client = raw_client(&w, &s).await;
    let session = handshake(&mut client, &s).await;
    let first = client
        .push(pb::PushRequest { session_id: session.clone(), changes: batch(1, &rs) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.acked_seq, first.applied, first.unchanged), (30, 30, 0));
    let before = w.hub_store.activities_of(&s).await.unwrap();
    for _ in 0..3 {
        let again = client
            .push(pb::PushRequest { session_id: session.clone(), changes: batch(1, &rs) })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((again.acked_seq, again.applied, again.unchanged), (30, 0, 30));
    }
    // A replay that overlaps new changes applies only the new ones.
    let more = records(&s, 5);
    let mut overlap = batch(21, &rs[20..]);
    overlap.extend(batch(31, &more));
    let mixed = client
        .push(pb::PushRequest { session_id: session.clone(), changes: overlap })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((mixed.acked_seq, mixed.applied, mixed.unchanged), (35, 5, 10));
    let after = w.hub_store.activities_of(&s).await.unwrap();
    assert_eq!(after.len(), 35);
    for (id, a) in &before {
        assert_eq!(after.get(id), Some(a), "a replay changed {id}");
    }
    assert_eq!(hub_count(&w, &s).await, 35);
}
on_both_backends!(replaying_an_acknowledged_batch_changes_nothing);

/// A connection cut in the middle of a push leaves no half-written batch; the
/// next sync ends with the hub holding exactly the node's records.
async fn a_push_cut_midway_is_completed_by_the_next_sync(db: Option<String>) {
    let w = world("cut", db).await;
    let proxy = CutProxy::start(w.hub_addr).await.unwrap();
    let opts = SyncOptions { batch_size: 200, ..SyncOptions::default() };

    // Measure a whole sync of the same size through the proxy (another school).
    let probe_school = school("T06Z1");
    let probe = w.node_via(&probe_school, "probe", proxy.addr).await.unwrap();
    probe.store().record_all(&records(&probe_school, 600)).await.unwrap();
    let before = proxy.bytes_up();
    probe.sync_with(opts).await.unwrap();
    let whole = proxy.bytes_up() - before;
    assert!(whole > 10_000, "a 600-record sync sent only {whole} bytes");

    let s = school("T07Z1");
    let node = w.node_via(&s, "a", proxy.addr).await.unwrap();
    let mine = records(&s, 600);
    node.store().record_all(&mine).await.unwrap();
    proxy.cut_after(whole / 2);
    let err = node.sync_with(opts).await.unwrap_err();
    assert!(err.is_retryable(), "a cut connection is worth retrying: {err}");
    assert_eq!(proxy.cuts(), 1);

    // The hub holds whole batches only: everything the node saw acknowledged, and at most
    // the one batch whose request arrived whole but whose answer the cut swallowed.
    let held = hub_count(&w, &s).await;
    let acked = 600 - node.store().pending_count().await.unwrap();
    assert_eq!(held % 200, 0, "a batch was half-written: {held}");
    assert!(held == acked || held == acked + 200, "hub holds {held}, node saw {acked} acknowledged");
    assert!(acked < 600, "the cut came too late to test anything");

    proxy.cut_after(0);
    node.sync_with(opts).await.unwrap();
    assert_eq!(hub_count(&w, &s).await, 600);
    let at_hub = w.hub_store.activities_of(&s).await.unwrap();
    assert_eq!(at_hub.len(), 600);
    for a in &mine {
        assert_eq!(at_hub.get(&a.id), Some(a));
    }
    assert_eq!(node.store().pending_count().await.unwrap(), 0);
}
on_both_backends!(a_push_cut_midway_is_completed_by_the_next_sync);

/// A hub stopped (SIGTERM's path: stop accepting, let in-flight requests finish)
/// in the middle of a node's large push holds whole batches only, and after it
/// restarts the node's next sync completes the push exactly.
async fn a_hub_stopped_mid_push_keeps_whole_batches(db: Option<String>) {
    let mut w = world("stop_mid_push", db).await;
    let proxy = CutProxy::start(w.hub_addr).await.unwrap();
    let opts = SyncOptions { batch_size: 250, ..SyncOptions::default() };

    let probe_school = school("T11Z1");
    let probe = w.node_via(&probe_school, "probe", proxy.addr).await.unwrap();
    probe.store().record_all(&records(&probe_school, 1000)).await.unwrap();
    let before = proxy.bytes_up();
    probe.sync_with(opts).await.unwrap();
    let whole = proxy.bytes_up() - before;

    let s = school("T12Z1");
    let node = w.node_via(&s, "a", proxy.addr).await.unwrap();
    let mine = records(&s, 1000);
    node.store().record_all(&mine).await.unwrap();
    let start = proxy.bytes_up();
    let pushing = tokio::spawn({
        let node = node.clone();
        async move { node.sync_with(opts).await }
    });
    proxy.wait_for_bytes(start + whole / 2).await;
    w.stop_hub().await.unwrap();
    let outcome = pushing.await.unwrap();
    let held = hub_count(&w, &s).await;
    let acked = 1000 - node.store().pending_count().await.unwrap();
    eprintln!("stopped mid-push: hub holds {held}, node saw {acked} acknowledged, sync: {outcome:?}");
    assert_eq!(held % 250, 0, "a batch was half-written: {held}");
    assert!(held == acked || held == acked + 250, "hub holds {held}, node saw {acked} acknowledged");
    assert!(outcome.is_err() || held == 1000, "the sync reported success without finishing");

    w.start_hub().await.unwrap();
    let again = yanpei_node::Agent::new(node.store().clone(), w.node_endpoint_via(&s, w.hub_addr).unwrap());
    again.sync_with(opts).await.unwrap();
    let at_hub = w.hub_store.activities_of(&s).await.unwrap();
    assert_eq!(at_hub.len(), 1000);
    for a in &mine {
        assert_eq!(at_hub.get(&a.id), Some(a));
    }
}
on_both_backends!(a_hub_stopped_mid_push_keeps_whole_batches);

/// A node store put back from an older copy must not lose what is recorded
/// afterwards: either the numbers run past what the hub acknowledged and every
/// new record arrives (idempotence is by version, not by number), or the agent
/// refuses to sync and says how to recover; it never reports success while
/// dropping records.
async fn a_store_restored_from_an_old_copy_loses_nothing(db: Option<String>) {
    let w = world("restored", db).await;
    let s = school("T13X1");
    let node = w.node(&s, "a").await.unwrap();
    node.store().record_all(&records(&s, 2)).await.unwrap();
    node.sync_once().await.unwrap();
    let copy = w.node_store_path(&s, "copy");
    node.store().backup_to(&copy).await.unwrap();
    node.store().record_all(&records(&s, 2)).await.unwrap();
    node.sync_once().await.unwrap();
    assert_eq!(hub_count(&w, &s).await, 4);

    // The copy comes back (say, the office PC was restored from last week's backup).
    let restored = w.node(&s, "copy").await.unwrap();
    assert_eq!(restored.store().node_id(), node.store().node_id());
    let one = records(&s, 1);
    restored.store().record_all(&one).await.unwrap();
    let err = restored.sync_once().await.unwrap_err();
    assert!(matches!(err, NodeError::StoreBehindHub { hub_acked: 4, local_last: 3 }), "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("备份"), "{err}");

    // Two more records take its numbers past the hub's: now all three arrive.
    let two = records(&s, 2);
    restored.store().record_all(&two).await.unwrap();
    let r = restored.sync_once().await.unwrap();
    assert_eq!(r.applied, 3, "{r:?}");
    let at_hub = w.hub_store.activities_of(&s).await.unwrap();
    for a in one.iter().chain(&two) {
        assert_eq!(at_hub.get(&a.id), Some(a));
    }
    assert_eq!(hub_count(&w, &s).await, 7);
}
on_both_backends!(a_store_restored_from_an_old_copy_loses_nothing);

/// A node that crashed after the hub committed, before it saw the ack, re-sends
/// on its next sync and nothing doubles.
async fn a_lost_ack_is_resent_and_nothing_doubles(db: Option<String>) {
    let w = world("lost_ack", db).await;
    let s = school("T10Z1");
    let node = w.node(&s, "a").await.unwrap();
    node.store().record_all(&records(&s, 50)).await.unwrap();
    let opts = SyncOptions { batch_size: 20, fault: Some(Fault::LoseAckOfPush(2)), ..SyncOptions::default() };
    let err = node.sync_with(opts).await.unwrap_err();
    assert!(matches!(err, NodeError::Injected(_)));
    // The hub committed two batches; the node marked only the first.
    assert_eq!(hub_count(&w, &s).await, 40);
    assert_eq!(node.store().pending_count().await.unwrap(), 30);

    let r = node.sync_with(SyncOptions { batch_size: 20, ..SyncOptions::default() }).await.unwrap();
    assert_eq!(r.pushed, 30, "the unacknowledged batch is sent again");
    assert_eq!((r.applied, r.unchanged), (10, 20), "the re-sent batch changes nothing");
    assert_eq!(hub_count(&w, &s).await, 50);
    assert_eq!(w.hub_store.activities_of(&s).await.unwrap().len(), 50);
}
on_both_backends!(a_lost_ack_is_resent_and_nothing_doubles);

/// The standard health service and reflection are served (over the same mutual TLS).
/// Reflection answers in v1 and in v1alpha (older grpcurl, Python's grpcio-reflection),
/// and both list the yanpei services and the health service.
async fn health_and_reflection_are_served(db: Option<String>) {
    let w = world("health", db).await;
    let channel = w.operator_endpoint().unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "yanpei.v1.SyncService".into() })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    for (version, names) in
        [("v1", services_v1(channel.clone()).await), ("v1alpha", services_v1alpha(channel).await)]
    {
        for service in [
            "yanpei.v1.SyncService",
            "yanpei.v1.QueryService",
            "yanpei.v1.AccountService",
            "yanpei.v1.EnrollService",
            "grpc.health.v1.Health",
        ] {
            assert!(names.iter().any(|n| n == service), "{version} lists {service}: {names:?}");
        }
    }
}
on_both_backends!(health_and_reflection_are_served);

/// The services reflection v1 lists.
async fn services_v1(channel: tonic::transport::Channel) -> Vec<String> {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut client = ServerReflectionClient::new(channel);
    let mut stream = client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let reply = stream.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply {reply:?}");
    };
    list.service.into_iter().map(|s| s.name).collect()
}

/// The services reflection v1alpha lists.
async fn services_v1alpha(channel: tonic::transport::Channel) -> Vec<String> {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut client = ServerReflectionClient::new(channel);
    let reply = client.server_reflection_info(tokio_stream::iter([request])).await;
    let mut stream = reply.unwrap_or_else(|s| panic!("v1alpha reflection answered {s:?}")).into_inner();
    let reply = stream.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply {reply:?}");
    };
    list.service.into_iter().map(|s| s.name).collect()
}

/// Login and enrollment take and send gzip like every other service: a compressed login
/// succeeds, and its answer comes back compressed.
async fn login_and_enroll_speak_gzip(db: Option<String>) {
    use tonic::codec::CompressionEncoding::Gzip;
    use yanpei_proto::pb::{
        account_service_client::AccountServiceClient, enroll_service_client::EnrollServiceClient,
    };

    let w = world("login_gzip", db).await;
    yanpei_demo::create_demo_accounts(&w.hub_store, &yanpei_demo::demo_roster().unwrap()).await.unwrap();
    let channel = w.operator_endpoint().unwrap().connect().await.unwrap();
    let mut accounts =
        AccountServiceClient::new(channel.clone()).send_compressed(Gzip).accept_compressed(Gzip);
    let reply = accounts
        .login(pb::LoginRequest { username: "admin".into(), password: "demo-admin-pass".into() })
        .await
        .unwrap_or_else(|s| panic!("a gzip-compressed Login: {s:?}"));
    assert_eq!(reply.metadata().get("grpc-encoding").and_then(|v| v.to_str().ok()), Some("gzip"));
    assert!(!reply.into_inner().token.is_empty());

    // A compressed enrollment with a wrong code reaches the handler and is refused by it.
    let mut enroll = EnrollServiceClient::new(channel).send_compressed(Gzip).accept_compressed(Gzip);
    let refused = enroll
        .enroll(pb::EnrollRequest { code: "AAAA-BBBB".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_ne!(refused.code(), tonic::Code::Unimplemented, "{refused:?}");
}
on_both_backends!(login_and_enroll_speak_gzip);
