//! A hub whose database fills up: the push that does not fit is refused as UNAVAILABLE
//! (the node retries later) with nothing written, health answers NOT_SERVING while the
//! hub cannot write, and once room is freed (no restart) health is SERVING again and
//! the same sync goes through.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use yanpei_hub::{ServeOptions, Transport};
use yanpei_node::NodeError;
use yanpei_store::{StorageFault, execute};
use yanpei_tests::{records, school, test_dir, world};

/// Pages the hub's database may hold (4 KiB each): far more than the demo county needs.
const CAP: u64 = 8000;

/// Another hub over the world's store, probing every 200 ms while it cannot write.
async fn hub_probing_fast(w: &yanpei_demo::DemoWorld) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cert = w.ca.issue_hub(&[]).unwrap();
    let transport = Transport::MutualTls(yanpei_hub::TlsMaterial {
        ca_pem: w.ca.cert_pem().into(),
        cert_pem: cert.cert_pem,
        key_pem: cert.key_pem,
    });
    let options = ServeOptions {
        crl: Some(w.crl_path()),
        probe_interval: Duration::from_millis(200),
        ..ServeOptions::new(transport)
    };
    let store = w.hub_store.clone();
    tokio::spawn(async move { yanpei_hub::serve(listener, store, options, std::future::pending()).await });
    addr
}

async fn health(w: &yanpei_demo::DemoWorld, addr: SocketAddr, service: &str) -> ServingStatus {
    let mut endpoint = w.operator_endpoint().unwrap();
    endpoint.url = format!("https://{addr}");
    let mut client = HealthClient::new(endpoint.connect().await.unwrap());
    let status =
        client.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner().status;
    ServingStatus::try_from(status).unwrap()
}

/// Waits up to `limit` for both the sync service and the server ("") to answer `want`.
async fn until_health(w: &yanpei_demo::DemoWorld, addr: SocketAddr, want: ServingStatus, limit: Duration) {
    let start = Instant::now();
    loop {
        let sync = health(w, addr, "yanpei.v1.SyncService").await;
        let server = health(w, addr, "").await;
        if sync == want && server == want {
            return;
        }
        assert!(start.elapsed() < limit, "health is {sync:?} / {server:?}, not {want:?}, after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fills the database to its cap with rows of about one page each, largest chunks first.
async fn fill_to_cap(db: &yanpei_store::DatabaseConnection) {
    execute(db, "CREATE TABLE filler (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)").await.unwrap();
    for chunk in [1000, 100, 10, 1] {
        loop {
            let sql = format!(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {chunk}) \
                 INSERT INTO filler (pad) SELECT zeroblob(3500) FROM n"
            );
            match execute(db, &sql).await {
                Ok(()) => {}
                Err(e) => {
                    assert_eq!(e.storage_fault(), Some(StorageFault::Full), "{e}");
                    break;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hub_is_not_serving_until_room_is_freed() {
    let path = test_dir("full_hub_db").join("hub.sqlite");
    let capped = format!("{}&max_page_count={CAP}", yanpei_store::sqlite_url(&path));
    let w = world("full_hub", Some(capped.clone())).await;
    let addr = hub_probing_fast(&w).await;
    until_health(&w, addr, ServingStatus::Serving, Duration::from_secs(5)).await;

    // Another process fills the disk, then frees about 30 pages: room for a handshake
    // and its ledger rows, not for a batch, nor for the probe's reservation.
    let other = yanpei_store::connect(&capped).await.unwrap();
    fill_to_cap(&other).await;
    execute(&other, "DELETE FROM filler WHERE id IN (SELECT id FROM filler ORDER BY id DESC LIMIT 30)")
        .await
        .unwrap();

    let s = school("T05Z2");
    let node = w.node_via(&s, "a", addr).await.unwrap();
    node.store().record_all(&records(&s, 600)).await.unwrap();
    let err = node.sync_once().await.unwrap_err();
    let NodeError::Hub(status) = &err else { panic!("expected the hub's refusal, got {err}") };
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(node.store().pending_count().await.unwrap(), 600, "nothing was acknowledged");
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 0, "nothing of the batch was written");

    until_health(&w, addr, ServingStatus::NotServing, Duration::from_secs(5)).await;
    // Probes every 200 ms cannot reserve their room: still not serving a second later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    until_health(&w, addr, ServingStatus::NotServing, Duration::ZERO).await;

    // Room is freed; the hub was not restarted.
    execute(&other, "DELETE FROM filler").await.unwrap();
    until_health(&w, addr, ServingStatus::Serving, Duration::from_secs(10)).await;
    node.sync_once().await.unwrap();
    assert_eq!(node.store().pending_count().await.unwrap(), 0);
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 600);
}
