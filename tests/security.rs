//! Mutual TLS at the hub: a revoked certificate is refused on its next call
//! without a restart; a certificate from another CA, an expired one, or none
//! at all never gets a session. Limits, per-caller rate limits, the
//! insecure-dev mode and the audit log.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use yanpei_hub::{RateLimit, ServeOptions, Transport};
use yanpei_node::{Agent, HubEndpoint, NodeError, TlsMaterial};
use yanpei_pki::{CountyCa, HUB_DNS_NAME, pem_to_der, serial_of};
use yanpei_proto::pb;
use yanpei_tests::{on_both_backends, records, school, world};

async fn a_revoked_node_is_refused_without_a_restart(db: Option<String>) {
    let w = world("revoked", db).await;
    let (s, other) = (school("T03Z2"), school("T03X1"));
    let node = w.node(&s, "a").await.unwrap();
    let neighbour = w.node(&other, "a").await.unwrap();
    node.store().record_all(&records(&s, 3)).await.unwrap();
    node.sync_once().await.unwrap();

    // A second certificate for the school works; then the county revokes it, the hub running on.
    let revoked_node = Agent::new(node.store().clone(), w.node_endpoint_via(&s, w.hub_addr).unwrap());
    revoked_node.sync_once().await.unwrap();
    let serial = serial_of(&pem_to_der(&revoked_node.hub_tls().cert_pem).unwrap()).unwrap();
    std::fs::write(w.crl_path(), w.ca.crl_pem(&[serial], 1, 30).unwrap()).unwrap();

    node.store().record_all(&records(&s, 2)).await.unwrap();
    let err = revoked_node.sync_once().await.unwrap_err();
    let NodeError::Hub(status) = &err else { panic!("expected a refusal, got {err}") };
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("吊销"), "{}", status.message());
    // Nothing of the refused sync was stored; others are unaffected.
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 3);
    neighbour.sync_once().await.unwrap();
    // A newly issued certificate for the same school works again.
    node.sync_once().await.unwrap();
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 5);
}
on_both_backends!(a_revoked_node_is_refused_without_a_restart);

fn endpoint_with(w: &yanpei_demo::DemoWorld, tls: TlsMaterial) -> HubEndpoint {
    HubEndpoint { url: format!("https://{}", w.hub_addr), server_name: HUB_DNS_NAME.into(), tls }
}

/// Whether a handshake over `channel` is refused. (Under TLS 1.3 the client may finish
/// its side of the TLS handshake before the hub rejects its certificate, so the refusal
/// shows on the first call.)
async fn refused(channel: Result<tonic::transport::Channel, impl std::fmt::Debug>) -> bool {
    let Ok(channel) = channel else { return true };
    let mut client = pb::sync_service_client::SyncServiceClient::new(channel);
    client
        .handshake(pb::HandshakeRequest {
            protocol_version: yanpei_proto::PROTOCOL_VERSION,
            node_id: uuid::Uuid::now_v7().to_string(),
            school_code: "CGZ1".into(),
            agent_version: "test".into(),
        })
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ca_expired_and_missing_certificates_are_refused() {
    let w = world("bad_certs", None).await;
    let s = school("CGZ1");

    // Signed by another county's CA.
    let stranger = CountyCa::generate("别的县").unwrap();
    let cert = stranger.issue_node(&s).unwrap();
    let tls = TlsMaterial { ca_pem: w.ca.cert_pem().into(), cert_pem: cert.cert_pem, key_pem: cert.key_pem };
    assert!(refused(endpoint_with(&w, tls).connect().await).await, "a foreign CA's certificate got through");

    // Expired yesterday.
    let now = time::OffsetDateTime::now_utc();
    let cert =
        w.ca.issue_node_valid(&s, now - time::Duration::days(400), now - time::Duration::days(1)).unwrap();
    let tls = TlsMaterial { ca_pem: w.ca.cert_pem().into(), cert_pem: cert.cert_pem, key_pem: cert.key_pem };
    assert!(refused(endpoint_with(&w, tls).connect().await).await, "an expired certificate got through");

    // No client certificate at all.
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(w.ca.cert_pem()))
        .domain_name(HUB_DNS_NAME);
    let channel = Endpoint::from_shared(format!("https://{}", w.hub_addr)).unwrap().tls_config(tls).unwrap();
    let channel = channel.connect().await;
    // With client certificates optional (people log in with tokens), a connection without
    // one completes TLS, and its calls get no identity: UNAUTHENTICATED, never a session.
    if let Ok(c) = &channel {
        let mut client = pb::sync_service_client::SyncServiceClient::new(c.clone());
        let status = client.handshake(hello("CGZ1")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    assert!(refused(channel).await, "a connection without a client certificate got through");
    // None of them opened a session.
    assert!(w.hub_store.ledger(None, 10).await.unwrap().is_empty());

    // The hub keeps serving good nodes.
    let good = w.node(&s, "a").await.unwrap();
    good.store().record_all(&records(&s, 1)).await.unwrap();
    good.sync_once().await.unwrap();
}

/// An oversized push and a compressed push that expands past the limit are both
/// RESOURCE_EXHAUSTED, nothing is stored, and the hub keeps serving other nodes.
async fn oversized_and_compression_bombs_are_resource_exhausted(db: Option<String>) {
    use tonic::codec::CompressionEncoding;
    use yanpei_tests::{batch, handshake};

    let w = world("limits", db).await;
    let s = school("T06Z2");
    let channel = w.node_endpoint_via(&s, w.hub_addr).unwrap().connect().await.unwrap();
    let mut client =
        pb::sync_service_client::SyncServiceClient::new(channel).max_encoding_message_size(64 * 1024 * 1024);
    let session = handshake(&mut client, &s).await;

    // About 12 MB: 1,000 records with 4,000-character notes.
    let mut big = records(&s, 1000);
    for a in &mut big {
        a.body.notes = Some("研".repeat(4000));
    }
    let status = client
        .push(pb::PushRequest { session_id: session.clone(), changes: batch(1, &big) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // The same, gzip-compressed to a small message that expands past the limit.
    let mut zipped = client.clone().send_compressed(CompressionEncoding::Gzip);
    let status = zipped
        .push(pb::PushRequest { session_id: session.clone(), changes: batch(1, &big) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 0);

    // The hub keeps serving.
    let other = school("T06X1");
    let node = w.node(&other, "a").await.unwrap();
    node.store().record_all(&records(&other, 3)).await.unwrap();
    node.sync_once().await.unwrap();
    assert_eq!(yanpei_tests::hub_count(&w, &other).await, 3);
}
on_both_backends!(oversized_and_compression_bombs_are_resource_exhausted);

/// A 教研员 reads only the schools the roster assigns them: another school is
/// PERMISSION_DENIED (not an empty answer); once the roster assigns it, the same
/// query succeeds.
async fn a_staff_member_reads_only_assigned_schools(db: Option<String>) {
    let w = world("staff_scope", db).await;
    let mut roster = yanpei_demo::demo_roster().unwrap();
    let staff = roster.staff.iter().find(|s| s.id == "JY01").unwrap().clone();
    let assigned = staff.schools[0].clone();
    let other = roster.schools.iter().map(|s| s.code.clone()).find(|c| !staff.schools.contains(c)).unwrap();
    let node = w.node(&assigned, "a").await.unwrap();
    node.store().record_all(&records(&assigned, 4)).await.unwrap();
    node.sync_once().await.unwrap();

    let channel = w.staff_endpoint("JY01").unwrap().connect().await.unwrap();
    let mut query = pb::query_service_client::QueryServiceClient::new(channel);
    let ask = |code: &yanpei_domain::SchoolCode| pb::StatsRequest {
        semester: None,
        scope: Some(pb::Scope { target: Some(pb::scope::Target::SchoolCode(code.to_string())) }),
        group_by: 0,
        ..Default::default()
    };
    assert_eq!(query.stats(ask(&assigned)).await.unwrap().into_inner().total, 4);
    let status = query.stats(ask(&other)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains(other.as_str()), "{}", status.message());
    let county = pb::StatsRequest {
        scope: Some(pb::Scope { target: Some(pb::scope::Target::County(true)) }),
        ..Default::default()
    };
    assert_eq!(query.stats(county).await.unwrap_err().code(), Code::PermissionDenied);
    // Without a scope the 教研员 reads the assigned schools, as every other query answers.
    assert_eq!(query.stats(pb::StatsRequest::default()).await.unwrap().into_inner().total, 4);
    let ledger = pb::SyncLedgerRequest { school_code: other.to_string(), limit: 5 };
    assert_eq!(query.sync_ledger(ledger).await.unwrap_err().code(), Code::PermissionDenied);

    // The county assigns the other school to JY01 too: the same query now answers (0 records).
    for s in &mut roster.staff {
        if s.id == "JY01" {
            s.schools.push(other.clone());
        }
    }
    assert!(yanpei_domain::roster::validate(&roster).is_empty());
    w.hub_store.replace_roster(&roster, "测试").await.unwrap();
    assert_eq!(query.stats(ask(&other)).await.unwrap().into_inner().total, 0);
}
on_both_backends!(a_staff_member_reads_only_assigned_schools);

/// Starts another hub over the world's database (mutual TLS or insecure-dev), on a fresh port; it
/// runs until the test ends.
async fn hub_with(w: &yanpei_demo::DemoWorld, tls: bool, rate_limit: RateLimit) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let transport = match tls {
        true => {
            let cert = w.ca.issue_hub(&[]).unwrap();
            Transport::MutualTls(yanpei_hub::TlsMaterial {
                ca_pem: w.ca.cert_pem().into(),
                cert_pem: cert.cert_pem,
                key_pem: cert.key_pem,
            })
        }
        false => Transport::InsecureDev,
    };
    let options = ServeOptions { crl: Some(w.crl_path()), rate_limit, ..ServeOptions::new(transport) };
    let store = w.hub_store.clone();
    tokio::spawn(async move { yanpei_hub::serve(listener, store, options, std::future::pending()).await });
    addr
}

/// A node over the rate limit gets RESOURCE_EXHAUSTED with a message to retry later
/// (its agent treats that as retryable), while another node is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_rate_limit_is_shed_and_other_nodes_are_served() {
    let w = world("rate_limit", None).await;
    let addr = hub_with(&w, true, RateLimit { per_second: 1, burst: 5 }).await;
    let (greedy, other) = (school("T05Z2"), school("T05X1"));
    let channel = w.node_endpoint_via(&greedy, addr).unwrap().connect().await.unwrap();
    let mut client = pb::sync_service_client::SyncServiceClient::new(channel);
    let session = yanpei_tests::handshake(&mut client, &greedy).await;

    // The burst (the handshake was the first of five) is served; then the bucket is empty.
    let pull = || pb::PullRequest { session_id: session.clone(), cursor: 0, limit: 10 };
    for _ in 0..4 {
        client.pull(pull()).await.unwrap();
    }
    let mut shed = None;
    for _ in 0..20 {
        if let Err(status) = client.pull(pull()).await {
            shed = Some(status);
            break;
        }
    }
    let status = shed.expect("20 requests at once past a burst of 5 at 1/s were all served");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("稍后重试"), "{}", status.message());
    assert!(NodeError::from(status).is_retryable());

    // Another school's node has its own bucket: a whole sync goes through.
    let node = w.node_via(&other, "a", addr).await.unwrap();
    node.store().record_all(&records(&other, 3)).await.unwrap();
    node.sync_once().await.unwrap();
    assert_eq!(yanpei_tests::hub_count(&w, &other).await, 3);
}

fn as_dev<T>(message: T, identity: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert(yanpei_hub::DEV_IDENTITY_HEADER, identity.parse().unwrap());
    req
}

fn hello(school: &str) -> pb::HandshakeRequest {
    pb::HandshakeRequest {
        protocol_version: yanpei_proto::PROTOCOL_VERSION,
        node_id: uuid::Uuid::now_v7().to_string(),
        school_code: school.into(),
        agent_version: "test".into(),
    }
}

/// A hub serves plain HTTP/2 only when started insecure-dev; there the dev header names
/// the caller. A normal hub has no plaintext path, and over TLS the header changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_only_with_insecure_dev() {
    let w = world("insecure_dev", None).await;

    // The normal hub (mutual TLS) does not speak plaintext at all.
    let plain = Endpoint::from_shared(format!("http://{}", w.hub_addr)).unwrap();
    if let Ok(channel) = plain.connect().await {
        let mut client = pb::sync_service_client::SyncServiceClient::new(channel);
        let refused = client.handshake(as_dev(hello("CGZ1"), "node:CGZ1")).await.unwrap_err();
        assert_ne!(refused.code(), Code::Ok);
    }
    // Over TLS the dev header is ignored: the certificate says CGZ1, so claiming T03Z2 is refused.
    let mut tls = yanpei_tests::raw_client(&w, &school("CGZ1")).await;
    let status = tls.handshake(as_dev(hello("T03Z2"), "node:T03Z2")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // An insecure-dev hub: plaintext, identity from the header, none without it.
    let addr = hub_with(&w, false, RateLimit::UNLIMITED).await;
    let channel = Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut sync = pb::sync_service_client::SyncServiceClient::new(channel.clone());
    sync.handshake(as_dev(hello("T03Z2"), "node:T03Z2")).await.unwrap();
    let status = sync.handshake(hello("T03Z2")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let mut query = pb::query_service_client::QueryServiceClient::new(channel);
    let county = pb::StatsRequest {
        scope: Some(pb::Scope { target: Some(pb::scope::Target::County(true)) }),
        ..Default::default()
    };
    query.stats(as_dev(county.clone(), "operator:dev")).await.unwrap();
    let status = query.stats(as_dev(county, "node:T03Z2")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

/// Every RPC is in the audit log — who, which RPC, which schools, how many rows, the
/// outcome — and only the operator may read it.
async fn every_rpc_is_audited_and_only_the_operator_reads_the_log(db: Option<String>) {
    let w = world("audit", db).await;
    let (s, other) = (school("T03Z2"), school("T03X1"));
    let node = w.node(&s, "a").await.unwrap();
    node.store().record_all(&records(&s, 3)).await.unwrap();
    node.sync_once().await.unwrap();
    // A push of another school's records: each is refused, named with that school.
    let mut raw = yanpei_tests::raw_client(&w, &s).await;
    let session = yanpei_tests::handshake(&mut raw, &s).await;
    let foreign =
        pb::PushRequest { session_id: session, changes: yanpei_tests::batch(1, &records(&other, 2)) };
    assert_eq!(raw.push(foreign).await.unwrap().into_inner().refused.len(), 2);

    // A 教研员 and a node may not read the log.
    let staff = w.staff_endpoint("JY01").unwrap().connect().await.unwrap();
    let ask = |limit| pb::AuditRequest { limit, caller: String::new(), school_code: String::new() };
    let mut staff = pb::query_service_client::QueryServiceClient::new(staff);
    assert_eq!(staff.audit(ask(10)).await.unwrap_err().code(), Code::PermissionDenied);
    let node_channel = w.node_endpoint_via(&s, w.hub_addr).unwrap().connect().await.unwrap();
    let mut as_node = pb::query_service_client::QueryServiceClient::new(node_channel);
    assert_eq!(as_node.audit(ask(10)).await.unwrap_err().code(), Code::PermissionDenied);

    // The operator reads it all, newest first, including the refusals just made.
    let operator = w.operator_endpoint().unwrap().connect().await.unwrap();
    let mut operator = pb::query_service_client::QueryServiceClient::new(operator);
    let log = operator.audit(ask(100)).await.unwrap().into_inner().entries;
    let find = |caller: &str, rpc: &str, code: i32| {
        log.iter()
            .find(|e| e.caller == caller && e.rpc.ends_with(rpc) && e.code == code)
            .unwrap_or_else(|| panic!("no {caller} {rpc} {code} in {log:#?}"))
    };
    let node_name = format!("node:{s}");
    let pushes: Vec<_> =
        log.iter().filter(|e| e.caller == node_name && e.rpc.ends_with("SyncService/Push")).collect();
    assert!(
        pushes.iter().any(|e| e.code == 0 && e.schools == vec![s.to_string()] && e.rows == 3),
        "the node's own push is not in the log as it was: {pushes:#?}"
    );
    assert!(
        pushes.iter().any(|e| e.code == 0 && e.schools.contains(&other.to_string()) && e.rows == 2),
        "the refused push does not name the other school: {pushes:#?}"
    );
    for rpc in ["Handshake", "Pull", "PullRoster", "Finish"] {
        find(&node_name, &format!("SyncService/{rpc}"), 0);
    }
    find("staff:JY01", "QueryService/Audit", Code::PermissionDenied as i32);
    assert!(log.windows(2).all(|p| p[0].id > p[1].id), "not newest first");
    assert!(log.iter().all(|e| chrono::DateTime::parse_from_rfc3339(&e.at).is_ok()));

    // Filters: by caller, by school.
    let mine = pb::AuditRequest { limit: 100, caller: "staff:JY01".into(), school_code: String::new() };
    let mine = operator.audit(mine).await.unwrap().into_inner().entries;
    assert!(!mine.is_empty() && mine.iter().all(|e| e.caller == "staff:JY01"));
    let about = pb::AuditRequest { limit: 100, caller: String::new(), school_code: s.to_string() };
    let about = operator.audit(about).await.unwrap().into_inner().entries;
    assert!(!about.is_empty() && about.iter().all(|e| e.schools.contains(&s.to_string())));
}
on_both_backends!(every_rpc_is_audited_and_only_the_operator_reads_the_log);
