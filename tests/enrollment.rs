//! A school joins, renews and replaces its machine without anyone carrying key files:
//! enrollment with a one-time code, renewal inside the window (clock injected), the node
//! id bound to the certificate, and a replacement machine. On SQLite and PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tonic::Code;
use uuid::Uuid;
use yanpei_demo::DemoWorld;
use yanpei_domain::SchoolCode;
use yanpei_hub::enroll::{DEFAULT_CODE_TTL, create_enrollment, replace_machine};
use yanpei_node::enroll::{enroll, fetch_ca};
use yanpei_node::{Agent, HubEndpoint, NodeError, Renewal, TlsMaterial};
use yanpei_pki::{HUB_DNS_NAME, fingerprint, node_id_of, pem_to_der, serial_of};
use yanpei_proto::pb::{self, sync_service_client::SyncServiceClient};
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;
use yanpei_tests::{hub_count, on_both_backends, records, school, world};

const DAY: i64 = 86_400;

fn url(w: &DemoWorld) -> String {
    format!("https://{}", w.hub_addr)
}

async fn code_for(w: &DemoWorld, s: &SchoolCode) -> String {
    create_enrollment(&w.hub_store, s, DEFAULT_CODE_TTL, chrono::Utc::now()).await.unwrap().0
}

/// Enrolls a fresh machine of `s` with `code`: its own store, its own key.
async fn enroll_machine(w: &DemoWorld, s: &SchoolCode, code: &str, name: &str) -> Agent {
    let (ca_pem, _) =
        fetch_ca(&url(w), HUB_DNS_NAME, Some(&fingerprint(w.ca.cert_pem()).unwrap())).await.unwrap();
    let node_id = Uuid::now_v7();
    let got = enroll(&url(w), HUB_DNS_NAME, &ca_pem, code, node_id).await.unwrap();
    assert_eq!(&got.school, s);
    assert_eq!(node_id_of(&pem_to_der(&got.tls.cert_pem).unwrap()).unwrap(), Some(node_id.to_string()));
    let path = w.dir.join("nodes").join(format!("{name}.sqlite"));
    let store = NodeStore::open_or_init_as(&sqlite_url(&path), &got.school, node_id).await.unwrap();
    Agent::new(store, endpoint(w, got.tls))
}

fn endpoint(w: &DemoWorld, tls: TlsMaterial) -> HubEndpoint {
    HubEndpoint { url: url(w), server_name: HUB_DNS_NAME.into(), tls }
}

fn refusal(e: NodeError) -> tonic::Status {
    match e {
        NodeError::Hub(s) => s,
        other => panic!("expected the hub's refusal, got {other}"),
    }
}

async fn issued(w: &DemoWorld) -> usize {
    w.hub_store.issued_certs().await.unwrap().len()
}

async fn enroll_sync_renew_and_revoke(db: Option<String>) {
    let w = world("enroll", db).await;
    let s = school("T03Z2");
    let (ca_pem, _) = fetch_ca(&url(&w), HUB_DNS_NAME, None).await.unwrap();
    assert_eq!(ca_pem.trim(), w.ca.cert_pem().trim(), "the hub's chain ends with the county CA");
    let wrong_print = fetch_ca(&url(&w), HUB_DNS_NAME, Some(&"ab".repeat(32))).await.unwrap_err();
    assert!(wrong_print.to_string().contains("指纹"), "{wrong_print}");

    // Wrong, used and expired codes are refused in Chinese, and nothing is issued.
    let wrong =
        refusal(enroll(&url(&w), HUB_DNS_NAME, &ca_pem, "ABCD-EFGH", Uuid::now_v7()).await.unwrap_err());
    assert_eq!(wrong.code(), Code::PermissionDenied);
    assert!(wrong.message().contains("注册码不正确"), "{}", wrong.message());
    let malformed = refusal(enroll(&url(&w), HUB_DNS_NAME, &ca_pem, "12", Uuid::now_v7()).await.unwrap_err());
    assert!(malformed.message().contains("注册码不正确"), "{}", malformed.message());
    let (expired, _) =
        create_enrollment(&w.hub_store, &s, chrono::TimeDelta::seconds(-1), chrono::Utc::now())
            .await
            .unwrap();
    let late = refusal(enroll(&url(&w), HUB_DNS_NAME, &ca_pem, &expired, Uuid::now_v7()).await.unwrap_err());
    assert_eq!(late.code(), Code::PermissionDenied);
    assert!(late.message().contains("过期"), "{}", late.message());
    assert_eq!(issued(&w).await, 0);

    let code = code_for(&w, &s).await;
    let node = enroll_machine(&w, &s, &code, "enrolled").await;
    assert_eq!(issued(&w).await, 1);
    let again = refusal(enroll(&url(&w), HUB_DNS_NAME, &ca_pem, &code, Uuid::now_v7()).await.unwrap_err());
    assert_eq!(again.code(), Code::PermissionDenied);
    assert!(again.message().contains("已经用过"), "{}", again.message());
    assert_eq!(issued(&w).await, 1, "a used code issues nothing");

    node.store().record_all(&records(&s, 5)).await.unwrap();
    let first = node.sync_once().await.unwrap();
    assert!(!first.renewed, "two years left: no renewal");
    assert_eq!(hub_count(&w, &s).await, 5);

    // 700 days later (the node's clock), inside the 60-day window: the node renews.
    let real = chrono::Utc::now().timestamp();
    let clock = Arc::new(AtomicI64::new(real + 700 * DAY));
    let c = clock.clone();
    let old_tls = node.current_tls();
    let node = node.with_renewal(Renewal {
        window_days: 60,
        now: Arc::new(move || c.load(Ordering::SeqCst)),
        files: None,
    });
    node.store().record_all(&records(&s, 2)).await.unwrap();
    let renewing = node.sync_once().await.unwrap();
    assert!(renewing.renewed);
    let new_tls = node.current_tls();
    assert_ne!(new_tls.key_pem, old_tls.key_pem, "a new key");
    let (old_der, new_der) = (pem_to_der(&old_tls.cert_pem).unwrap(), pem_to_der(&new_tls.cert_pem).unwrap());
    assert_ne!(serial_of(&old_der).unwrap(), serial_of(&new_der).unwrap());
    assert_eq!(node_id_of(&new_der).unwrap(), node_id_of(&old_der).unwrap(), "the same node id");
    assert_eq!(issued(&w).await, 2);
    assert_eq!(hub_count(&w, &s).await, 7);

    // Back to today: the next sync uses the new certificate and renews nothing.
    clock.store(real, Ordering::SeqCst);
    node.store().record_all(&records(&s, 1)).await.unwrap();
    let next = node.sync_once().await.unwrap();
    assert!(!next.renewed);
    assert_eq!(hub_count(&w, &s).await, 8);

    // The old certificate still works until it is revoked.
    let old = Agent::new(node.store().clone(), endpoint(&w, old_tls));
    old.sync_once().await.unwrap();
    std::fs::write(w.crl_path(), w.ca.crl_pem(&[serial_of(&old_der).unwrap()], 1, 30).unwrap()).unwrap();
    let revoked = refusal(old.sync_once().await.unwrap_err());
    assert_eq!(revoked.code(), Code::Unauthenticated);
    assert!(revoked.message().contains("吊销"), "{}", revoked.message());
    node.store().record_all(&records(&s, 1)).await.unwrap();
    node.sync_once().await.unwrap();
    assert_eq!(hub_count(&w, &s).await, 9, "every record counted once");
    assert_eq!(node.store().pending(10).await.unwrap().len(), 0);
}
on_both_backends!(enroll_sync_renew_and_revoke);

async fn a_handshake_must_use_the_certificates_node_id(db: Option<String>) {
    let w = world("node-id", db).await;
    let s = school("T05Z2");
    let node = enroll_machine(&w, &s, &code_for(&w, &s).await, "bound").await;
    node.store().record_all(&records(&s, 4)).await.unwrap();
    assert_eq!(node.sync_once().await.unwrap().acked_seq, 4);

    let channel = node.current_tls();
    let mut client = SyncServiceClient::new(endpoint(&w, channel).connect().await.unwrap());
    let hello = |node_id: String| pb::HandshakeRequest {
        protocol_version: yanpei_proto::PROTOCOL_VERSION,
        node_id,
        school_code: s.to_string(),
        agent_version: "test".into(),
    };
    let other = client.handshake(hello(Uuid::now_v7().to_string())).await.unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    assert!(other.message().contains("节点编号"), "{}", other.message());
    // The certificate's own id: the acknowledgement is that node's.
    let own = client.handshake(hello(node.store().node_id().to_string())).await.unwrap().into_inner();
    assert_eq!(own.acked_seq, 4);

    // A certificate from before enrollment names no node id and keeps today's behaviour.
    let mut legacy =
        SyncServiceClient::new(w.node_endpoint_via(&s, w.hub_addr).unwrap().connect().await.unwrap());
    let fresh = legacy.handshake(hello(Uuid::now_v7().to_string())).await.unwrap().into_inner();
    assert_eq!(fresh.acked_seq, 0);
}
on_both_backends!(a_handshake_must_use_the_certificates_node_id);

async fn replacing_a_schools_machine(db: Option<String>) {
    let w = world("replace", db).await;
    let s = school("T06Z1");
    let old = enroll_machine(&w, &s, &code_for(&w, &s).await, "old-machine").await;
    old.store().record_all(&records(&s, 6)).await.unwrap();
    old.sync_once().await.unwrap();
    assert_eq!(hub_count(&w, &s).await, 6);

    // One step: a new code for the school, and the old machine's certificates to revoke.
    let (code, _, to_revoke) =
        replace_machine(&w.hub_store, &s, None, DEFAULT_CODE_TTL, chrono::Utc::now()).await.unwrap();
    assert_eq!(to_revoke.len(), 1);
    assert_eq!(to_revoke[0].node_id, old.store().node_id().to_string());
    let serials: Vec<Vec<u8>> = to_revoke.iter().map(|c| hex_bytes(&c.serial)).collect();
    std::fs::write(w.crl_path(), w.ca.crl_pem(&serials, 1, 30).unwrap()).unwrap();

    let new = enroll_machine(&w, &s, &code, "new-machine").await;
    assert_ne!(new.store().node_id(), old.store().node_id());
    let first = new.sync_once().await.unwrap();
    assert_eq!(first.pulled, 6, "the new machine receives the school's records");
    assert_eq!(new.store().list(None, None).await.unwrap().len(), 6);
    let refused = refusal(old.sync_once().await.unwrap_err());
    assert_eq!(refused.code(), Code::Unauthenticated);

    new.store().record_all(&records(&s, 3)).await.unwrap();
    let second = new.sync_once().await.unwrap();
    assert_eq!(second.acked_seq, 3, "the new node's own acknowledgements start at its own first change");
    assert_eq!(hub_count(&w, &s).await, 9, "counts stay exact");
    assert_eq!(issued(&w).await, 2);
}
on_both_backends!(replacing_a_schools_machine);

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}
