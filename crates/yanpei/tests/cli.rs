//! The `yanpei` binary as a user runs it: the demo, then a hub and a node set up
//! by hand from the README's commands, with records made, changed, deleted and synced.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_yanpei");

fn yanpei(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(dir).env_remove("RUST_LOG").output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = yanpei(dir, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "yanpei {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("yanpei-tests").join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn demo_json_reports_equal_nonzero_totals() {
    let dir = fresh_dir("demo");
    let out = ok(&dir, &["demo", "--json", "--dir", dir.join("run").to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let nodes = report["nodes_recorded"].as_u64().unwrap();
    let hub = report["hub_counted"].as_u64().unwrap();
    assert!(nodes > 0);
    assert_eq!(nodes, hub);
    assert_eq!(report["schools"].as_u64(), Some(43));
    assert_eq!(report["by_alliance"].as_array().unwrap().len(), 5);
    let by_school_hub: u64 =
        report["by_school"].as_array().unwrap().iter().map(|s| s["hub_counted"].as_u64().unwrap()).sum();
    assert_eq!(by_school_hub, hub);
}

struct Hub(Child);

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_hub_and_a_node_set_up_by_hand() {
    let dir = fresh_dir("manual");
    ok(&dir, &["ca", "init", "--county", "示范县"]);
    ok(&dir, &["ca", "issue-hub"]);
    ok(&dir, &["ca", "issue-node", "--school", "CGZ1"]);
    ok(&dir, &["ca", "issue-operator"]);
    let demo_roster = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/roster");
    ok(&dir, &["roster", "validate", demo_roster]);
    ok(&dir, &["roster", "import", demo_roster]);

    // A config file with a mistyped key is refused, naming the key.
    std::fs::write(
        dir.join("bad.toml"),
        "[hub]\nlisten = \"127.0.0.1:0\"\nmetrics_lisen = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let bad = yanpei(&dir, &["hub", "check-config", "--config", "bad.toml"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("metrics_lisen"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::write(
        dir.join("hub.toml"),
        "[hub]\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\nshutdown_grace_secs = 5\n",
    )
    .unwrap();
    ok(&dir, &["hub", "check-config", "--config", "hub.toml"]);

    let mut hub = Hub(Command::new(BIN)
        .args(["hub", "serve", "--config", "hub.toml", "--log-format", "json"])
        .current_dir(&dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    // Wait until the hub says where it serves, then keep draining its log.
    let mut log = BufReader::new(hub.0.stderr.take().unwrap()).lines();
    let addr_of = |line: &str| -> std::net::SocketAddr {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        entry["fields"]["addr"].as_str().unwrap().parse().unwrap()
    };
    let mut metrics_addr = None;
    let port = loop {
        let line = log.next().expect("the hub exited before serving").unwrap();
        if line.contains("serving Prometheus metrics") {
            metrics_addr = Some(addr_of(&line));
        }
        if line.contains("hub serving gRPC") {
            break addr_of(&line).port();
        }
    };
    let metrics_addr = metrics_addr.expect("metrics are served before gRPC starts");
    let (tx, hub_log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in log.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    let url = format!("https://127.0.0.1:{port}");
    ok(
        &dir,
        &[
            "node",
            "init",
            "--school",
            "CGZ1",
            "--hub",
            &url,
            "--ca",
            "pki/ca.pem",
            "--cert",
            "pki/node-CGZ1.pem",
            "--key",
            "pki/node-CGZ1.key",
        ],
    );
    let recorded = ok(
        &dir,
        &[
            "node",
            "record",
            "--kind",
            "听课",
            "--date",
            "2024-10-09",
            "--actor",
            "王静",
            "--teacher",
            "李敏",
            "--subject",
            "语文",
            "--topic",
            "背影",
        ],
    );
    assert!(recorded.contains("已记录"), "{recorded}");
    ok(
        &dir,
        &[
            "node",
            "record",
            "--kind",
            "讲座",
            "--date",
            "2024-11-20",
            "--actor",
            "张伟",
            "--topic",
            "大单元教学设计",
        ],
    );

    // A record missing a required field is refused with the field named, in Chinese.
    let bad = yanpei(
        &dir,
        &["node", "record", "--kind", "听课", "--date", "2024-10-09", "--actor", "王静", "--subject", "语文"],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("teacher") && err.contains("授课教师"), "{err}");

    let listed: serde_json::Value = serde_json::from_str(&ok(&dir, &["node", "list", "--json"])).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let lecture = rows.iter().find(|r| r["kind"] == "lecture").unwrap()["id"].as_str().unwrap().to_owned();
    let observation =
        rows.iter().find(|r| r["kind"] == "lesson_observation").unwrap()["id"].as_str().unwrap().to_owned();
    ok(&dir, &["node", "edit", &observation, "--topic", "背影（第二课时）"]);
    ok(&dir, &["node", "delete", &lecture]);

    let synced = ok(&dir, &["node", "sync"]);
    assert!(synced.contains("推送 4 条变更"), "{synced}");

    // The node now knows its place in the county, offline.
    let mine = ok(&dir, &["node", "roster"]);
    assert!(mine.contains("城关第一中学") && mine.contains("城东区域联合体"), "{mine}");
    assert!(mine.contains("结对") && mine.contains("研培人员"), "{mine}");
    // ...and refuses a record naming a teacher who is not on its roster.
    let stranger = yanpei(
        &dir,
        &[
            "node",
            "record",
            "--kind",
            "听课",
            "--date",
            "2024-10-10",
            "--actor",
            "某人",
            "--teacher",
            "查无此人",
            "--subject",
            "语文",
        ],
    );
    assert!(!stranger.status.success());
    assert!(String::from_utf8_lossy(&stranger.stderr).contains("名册中本校没有教师"));

    let stats: serde_json::Value = serde_json::from_str(&ok(
        &dir,
        &["query", "stats", "--hub", &url, "--semester", "2024-2025-1", "--school", "CGZ1", "--json"],
    ))
    .unwrap();
    assert_eq!(stats["total"].as_u64(), Some(1));
    assert_eq!(stats["rows"][0]["kind_label"], "听课");

    let ledger: serde_json::Value =
        serde_json::from_str(&ok(&dir, &["query", "ledger", "--hub", &url, "--json"])).unwrap();
    let last = &ledger.as_array().unwrap()[0];
    assert_eq!(last["school_code"], "CGZ1");
    assert_eq!(last["received"].as_u64(), Some(4));

    // Prometheus metrics count what happened.
    let metrics = http_get(metrics_addr, "/metrics");
    assert!(metrics.contains("yanpei_records_applied_total 4\n"), "{metrics}");
    assert!(metrics.contains("yanpei_sync_sessions_finished_total 1\n"), "{metrics}");
    assert!(metrics.contains("yanpei_nodes_not_synced{days=\"1\"} 0\n"), "{metrics}");

    // SIGTERM stops the hub cleanly.
    let pid = hub.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = hub.0.wait().unwrap();
    assert!(status.success(), "hub exited with {status}");
    let lines: Vec<String> = hub_log.iter().collect();
    assert!(lines.iter().any(|l| l.contains("hub stopped")), "{lines:?}");
}

/// A plain HTTP/1.1 GET on loopback.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}
