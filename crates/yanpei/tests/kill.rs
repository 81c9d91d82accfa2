//! The hub as a real process, killed in the middle of a large push: with SIGKILL
//! (no chance to clean up) and with SIGTERM (graceful). Either way the hub's
//! database holds whole batches only, and after a restart the node's next sync
//! ends with the hub holding exactly the node's records.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use yanpei_node::{Agent, HubEndpoint, SyncOptions, TlsMaterial};
use yanpei_store::hub::HubStore;
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;
use yanpei_tests::proxy::CutProxy;
use yanpei_tests::{records, school, test_dir};

use support::{BIN, Hub, ok};

const DEMO_ROSTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/roster");

/// Starts `yanpei hub serve` on a free port of loopback and waits until it serves.
fn start_hub(dir: &Path) -> (Hub, SocketAddr) {
    support::start_hub(
        Command::new(BIN)
            .args([
                "hub",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--shutdown-grace-secs",
                "20",
            ])
            .current_dir(dir)
            .env("RUST_LOG", "info"),
    )
}

fn endpoint(dir: &Path, code: &str, addr: SocketAddr) -> HubEndpoint {
    let read = |f: &str| std::fs::read_to_string(dir.join("pki").join(f)).unwrap();
    HubEndpoint {
        url: format!("https://{addr}"),
        server_name: yanpei_pki::HUB_DNS_NAME.into(),
        tls: TlsMaterial {
            ca_pem: read("ca.pem"),
            cert_pem: read(&format!("node-{code}.pem")),
            key_pem: read(&format!("node-{code}.key")),
        },
    }
}

async fn kill_mid_push(signal: &str) {
    let dir: PathBuf = test_dir(&format!("kill-{signal}"));
    let code = "T05Z1";
    for args in [
        &["ca", "init"][..],
        &["ca", "issue-hub"],
        &["ca", "issue-node", "--school", code],
        &["roster", "import", DEMO_ROSTER],
    ] {
        ok(&dir, args);
    }
    let (mut hub, addr) = start_hub(&dir);
    let proxy = CutProxy::start(addr).await.unwrap();

    let s = school(code);
    let store = NodeStore::open_or_init(&sqlite_url(&dir.join("node.sqlite")), &s).await.unwrap();
    let mine = records(&s, 3000);
    store.record_all(&mine).await.unwrap();
    let agent = Agent::new(store.clone(), endpoint(&dir, code, proxy.addr));
    let opts = SyncOptions { batch_size: 200, compress: false, ..SyncOptions::default() };
    let pushing = tokio::spawn(async move { agent.sync_with(opts).await });
    // Kill once about a third of the records have gone up the wire.
    proxy.wait_for_bytes(3000 * 250 / 3).await;
    let pid = hub.0.id().to_string();
    assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    let status = hub.0.wait().unwrap();
    let outcome = pushing.await.unwrap();
    assert!(outcome.is_err(), "the sync cannot have finished");
    if signal == "-TERM" {
        assert!(status.success(), "a graceful stop exits 0: {status}");
    }

    // The database after the kill: whole batches, and everything the node saw acknowledged.
    let hub_db = HubStore::open(&sqlite_url(&dir.join("yanpei-hub.sqlite"))).await.unwrap();
    let held = hub_db.activities_of(&s).await.unwrap().len() as u64;
    let acked = 3000 - store.pending_count().await.unwrap();
    eprintln!("{signal}: hub holds {held}, node saw {acked} acknowledged");
    assert_eq!(held % 200, 0, "a batch was half-written: {held}");
    assert!(held == acked || held == acked + 200, "hub {held}, acknowledged {acked}");
    assert!(held < 3000);
    drop(hub_db);

    // Restart the hub process; the node's next sync completes the push exactly.
    let (_hub, addr) = start_hub(&dir);
    let again = Agent::new(store.clone(), endpoint(&dir, code, addr));
    again.sync_with(opts).await.unwrap();
    let hub_db = HubStore::open(&sqlite_url(&dir.join("yanpei-hub.sqlite"))).await.unwrap();
    let at_hub = hub_db.activities_of(&s).await.unwrap();
    assert_eq!(at_hub.len(), 3000);
    for a in &mine {
        assert_eq!(at_hub.get(&a.id), Some(a));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_push_keeps_whole_batches_and_the_next_sync_completes() {
    kill_mid_push("-KILL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_push_keeps_whole_batches_and_the_next_sync_completes() {
    kill_mid_push("-TERM").await;
}
