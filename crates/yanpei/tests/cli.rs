//! The `yanpei` binary as a user runs it: the demo, then a hub and a node set up
//! by hand from the README's commands, with records made, changed, deleted and synced.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::{Cx, Hub, fresh_dir, fresh_postgres};

#[test]
fn demo_json_reports_equal_nonzero_totals() {
    let dir = fresh_dir("cli", "demo");
    let cx = Cx { dir: dir.clone(), db: None };
    let out = cx.ok(&["demo", "--json", "--dir", dir.join("run").to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let nodes = report["nodes_recorded"].as_u64().unwrap();
    let hub = report["hub_counted"].as_u64().unwrap();
    assert!(nodes > 0);
    assert_eq!(nodes, hub);
    assert_eq!(report["schools"].as_u64(), Some(43));
    assert_eq!(report["by_alliance"].as_array().unwrap().len(), 5);
    let accounts: Vec<&str> =
        report["accounts"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(accounts, ["admin", "jy01", "xz-cgz1"]);
    let by_school_hub: u64 =
        report["by_school"].as_array().unwrap().iter().map(|s| s["hub_counted"].as_u64().unwrap()).sum();
    assert_eq!(by_school_hub, hub);
}

#[test]
fn a_hub_and_a_node_set_up_by_hand_on_sqlite() {
    set_up_by_hand(Cx { dir: fresh_dir("cli", "manual-sqlite"), db: None });
}

#[test]
fn a_hub_and_a_node_set_up_by_hand_on_postgres() {
    if let Some(url) = fresh_postgres("cli_manual") {
        set_up_by_hand(Cx { dir: fresh_dir("cli", "manual-postgres"), db: Some(url) });
    }
}

fn set_up_by_hand(cx: Cx) {
    let dir = cx.dir.clone();
    cx.ok(&["ca", "init", "--county", "示范县"]);
    cx.ok(&["ca", "issue-hub"]);
    cx.ok(&["ca", "issue-node", "--school", "CGZ1"]);
    cx.ok(&["ca", "issue-operator"]);
    let demo_roster = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/roster");
    cx.ok(&["roster", "validate", demo_roster]);
    cx.ok(&["roster", "import", demo_roster]);

    // A config file with a mistyped key is refused, naming the key.
    std::fs::write(
        dir.join("bad.toml"),
        "[hub]\nlisten = \"127.0.0.1:0\"\nmetrics_lisen = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let bad = cx.run(&["hub", "check-config", "--config", "bad.toml"]);
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
    cx.ok(&["hub", "check-config", "--config", "hub.toml"]);
    // insecure_dev needs no certificates, and the check says loudly what it means.
    std::fs::write(dir.join("dev.toml"), "[hub]\ninsecure_dev = true\nca = \"nowhere.pem\"\n").unwrap();
    let dev = cx.ok(&["hub", "check-config", "--config", "dev.toml"]);
    assert!(dev.contains("警告") && dev.contains("insecure_dev"), "{dev}");

    let mut hub = Hub(cx
        .command()
        .args(["hub", "serve", "--config", "hub.toml", "--log-format", "json"])
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
    cx.ok(&[
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
    ]);
    let recorded = cx.ok(&[
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
    ]);
    assert!(recorded.contains("已记录"), "{recorded}");
    cx.ok(&[
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
    ]);

    // A record missing a required field is refused with the field named, in Chinese only.
    let bad = cx.run(&[
        "node",
        "record",
        "--kind",
        "听课",
        "--date",
        "2024-10-09",
        "--actor",
        "王静",
        "--subject",
        "语文",
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("授课教师：") && !err.contains("teacher"), "{err}");

    let listed: serde_json::Value = serde_json::from_str(&cx.ok(&["node", "list", "--json"])).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let lecture = rows.iter().find(|r| r["kind"] == "lecture").unwrap()["id"].as_str().unwrap().to_owned();
    let observation =
        rows.iter().find(|r| r["kind"] == "lesson_observation").unwrap()["id"].as_str().unwrap().to_owned();
    cx.ok(&["node", "edit", &observation, "--topic", "背影（第二课时）"]);
    cx.ok(&["node", "delete", &lecture]);

    let synced = cx.ok(&["node", "sync"]);
    assert!(synced.contains("推送 4 条变更"), "{synced}");

    // The node now knows its place in the county, offline.
    let mine = cx.ok(&["node", "roster"]);
    assert!(mine.contains("城关第一中学") && mine.contains("城东区域联合体"), "{mine}");
    assert!(mine.contains("结对") && mine.contains("研培人员"), "{mine}");
    // ...and refuses a record naming a teacher who is not on its roster.
    let stranger = cx.run(&[
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
    ]);
    assert!(!stranger.status.success());
    assert!(String::from_utf8_lossy(&stranger.stderr).contains("名册中本校没有教师"));

    let stats: serde_json::Value = serde_json::from_str(&cx.ok(&[
        "query",
        "stats",
        "--hub",
        &url,
        "--semester",
        "2024-2025-1",
        "--school",
        "CGZ1",
        "--json",
    ]))
    .unwrap();
    assert_eq!(stats["total"].as_u64(), Some(1));
    assert_eq!(stats["rows"][0]["kind_label"], "听课");

    let ledger: serde_json::Value =
        serde_json::from_str(&cx.ok(&["query", "ledger", "--hub", &url, "--json"])).unwrap();
    let last = &ledger.as_array().unwrap()[0];
    assert_eq!(last["school_code"], "CGZ1");
    assert_eq!(last["received"].as_u64(), Some(4));

    // The audit log has the node's push: who, which RPC, which school, how many rows, the outcome.
    let audit: serde_json::Value = serde_json::from_str(&cx.ok(&[
        "query",
        "audit",
        "--hub",
        &url,
        "--caller",
        "node:CGZ1",
        "--limit",
        "100",
        "--json",
    ]))
    .unwrap();
    let push = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rpc"] == "/yanpei.v1.SyncService/Push")
        .unwrap_or_else(|| panic!("no push in {audit:#}"));
    assert_eq!((push["schools"][0].as_str(), push["rows"].as_u64()), (Some("CGZ1"), Some(4)));
    assert_eq!(push["outcome"], "成功");
    let lines = cx.ok(&["query", "audit", "--hub", &url, "--limit", "5"]);
    assert!(lines.lines().any(|l| l.contains("operator:") && l.contains("SyncLedger")), "{lines}");

    // People's accounts, made on the hub machine against its database; a weak password is refused.
    let add = ["account", "add", "--config", "hub.toml", "--username", "xz-cgz1", "--name", "城关一中校长"];
    let principal = [&add[..], &["--role", "principal", "--school", "CGZ1", "--password-stdin"]].concat();
    let weak = cx.with_stdin(&principal, "short\n");
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("密码太短"),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );
    let made = String::from_utf8_lossy(&cx.with_stdin(&principal, "xz-secret-1\n").stdout).into_owned();
    assert!(made.contains("已创建账号") && made.contains("校长"), "{made}");
    let listed = cx.ok(&["account", "list", "--config", "hub.toml", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["username"], "xz-cgz1");
    assert_eq!(
        (listed[0]["role"].as_str(), listed[0]["subject"].as_str()),
        (Some("principal"), Some("CGZ1"))
    );
    // The principal logs in without a certificate; the token file is theirs alone.
    let login = ["login", "--hub", &url, "--ca", "pki/ca.pem", "--user", "xz-cgz1", "--password-stdin"];
    let login = [&login[..], &["--token-file", "xz.token"]].concat();
    let bad = cx.with_stdin(&login, "wrong-password\n");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("用户名或密码错误"));
    let out = cx.with_stdin(&login, "xz-secret-1\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("xz.token")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mine: serde_json::Value = serde_json::from_str(&cx.ok(&[
        "query",
        "stats",
        "--hub",
        &url,
        "--token-file",
        "xz.token",
        "--school",
        "CGZ1",
        "--json",
    ]))
    .unwrap();
    assert_eq!(mine["total"].as_u64(), Some(1));
    // Without a scope, the principal's statistics are their school's.
    let unscoped: serde_json::Value = serde_json::from_str(&cx.ok(&[
        "query",
        "stats",
        "--hub",
        &url,
        "--token-file",
        "xz.token",
        "--json",
    ]))
    .unwrap();
    assert_eq!(unscoped["total"].as_u64(), Some(1), "{unscoped}");
    let theirs = cx.run(&["query", "stats", "--hub", &url, "--token-file", "xz.token", "--school", "T03Z2"]);
    assert!(!theirs.status.success());
    assert!(
        String::from_utf8_lossy(&theirs.stderr).contains("无权查询"),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    cx.ok(&["account", "disable", "--config", "hub.toml", "xz-cgz1"]);
    let disabled = cx.run(&["query", "stats", "--hub", &url, "--token-file", "xz.token", "--school", "CGZ1"]);
    assert!(!disabled.status.success());

    // The quota-compliance report, as JSON and as a workbook with Chinese headers.
    let xlsx = cx.dir.join("考核进度.xlsx");
    let report: serde_json::Value = serde_json::from_str(&cx.ok(&[
        "report",
        "compliance",
        "--hub",
        &url,
        "--semester",
        "2024-2025-1",
        "--as-of",
        "2024-11-15",
        "--json",
        "--xlsx",
        xlsx.to_str().unwrap(),
    ]))
    .unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["quota"] == "听课" && r["missing"].as_i64() == Some(15)),
        "teachers behind"
    );
    {
        use calamine::{Reader, open_workbook_auto};
        let mut book = open_workbook_auto(&xlsx).unwrap();
        assert_eq!(book.sheet_names(), ["考核进度", "汇总"]);
        let sheet = book.worksheet_range("考核进度").unwrap();
        let headers: Vec<String> = sheet.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(&headers[..3], ["角色", "编号", "姓名"]);
        assert!(headers.contains(&"尚缺".to_owned()) && headers.contains(&"按进度预计".to_owned()));
        assert_eq!(sheet.rows().count() - 1, rows.len(), "the same rows as the JSON");
        let first: Vec<String> = sheet.rows().nth(1).unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(first[2], rows[0]["name"].as_str().unwrap());
        assert_eq!(first[8], rows[0]["missing"].to_string());
    }

    // The new scopes and reports from the command line: the one record is CGZ1's (城镇, 城关镇).
    let sem = ["--hub", url.as_str(), "--semester", "2024-2025-1"];
    let stats: serde_json::Value = serde_json::from_str(
        &cx.ok(&[&["query", "stats"], &sem[..], &["--area", "城镇", "--json"]].concat()),
    )
    .unwrap();
    assert_eq!(stats["total"].as_u64(), Some(1));
    let args =
        [&["query", "stats"], &sem[..], &["--township", "城关镇", "--subject", "语文", "--json"]].concat();
    let stats: serde_json::Value = serde_json::from_str(&cx.ok(&args)).unwrap();
    assert_eq!(stats["total"].as_u64(), Some(1));
    let gaps: serde_json::Value =
        serde_json::from_str(&cx.ok(&[&["report", "gaps"], &sem[..], &["--by", "area", "--json"]].concat()))
            .unwrap();
    let groups = gaps["groups"].as_array().unwrap();
    let urban = groups.iter().find(|g| g["code"] == "urban").unwrap();
    assert_eq!((urban["total"].as_i64(), groups.len()), (Some(1), 2));
    let pairs = cx.ok(&[&["report", "pairings"], &sem[..], &["--school", "CGZ1"]].concat());
    assert!(pairs.contains("城关第一中学（CGZ1）") && pairs.contains("强弱帮扶"), "{pairs}");
    assert!(pairs.contains("共 2 对结对学校"), "{pairs}");

    // Prometheus metrics count what happened.
    let metrics = http_get(metrics_addr, "/metrics");
    assert!(metrics.contains("yanpei_records_applied_total 4\n"), "{metrics}");
    assert!(metrics.contains("yanpei_sync_sessions_finished_total 1\n"), "{metrics}");
    assert!(metrics.contains("yanpei_nodes_not_synced{days=\"1\"} 0\n"), "{metrics}");

    // The county revokes the school's certificate: the running hub refuses its next sync.
    cx.ok(&["ca", "revoke", "--cert", "pki/node-CGZ1.pem"]);
    let listed = cx.ok(&["ca", "list"]);
    assert!(listed.lines().any(|l| l.contains("node-CGZ1.pem") && l.contains("已吊销")), "{listed}");
    let refused = cx.run(&["node", "sync"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("吊销"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

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

/// The example config in `deploy/` starts a hub (its paths overridden by the
/// environment, as a packager would), and SIGTERM stops it cleanly.
#[test]
fn the_example_config_starts_a_hub() {
    let cx = Cx { dir: fresh_dir("cli", "example-config"), db: None };
    cx.ok(&["ca", "init"]);
    cx.ok(&["ca", "issue-hub"]);
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/hub.toml.example");
    let pki = cx.dir.join("pki");
    let mut hub = Hub(cx
        .command()
        .args(["hub", "serve", "--config", example, "--log-format", "json"])
        .env("RUST_LOG", "info")
        .env("YANPEI_HUB_DB", format!("sqlite://{}/hub.sqlite?mode=rwc", cx.dir.display()))
        .env("YANPEI_HUB_LISTEN", "127.0.0.1:0")
        .env("YANPEI_HUB_METRICS_LISTEN", "127.0.0.1:0")
        .env("YANPEI_HUB_CA", pki.join("ca.pem"))
        .env("YANPEI_HUB_CERT", pki.join("hub.pem"))
        .env("YANPEI_HUB_KEY", pki.join("hub.key"))
        .env("YANPEI_HUB_ATTACHMENTS", cx.dir.join("attachments"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    let mut log = BufReader::new(hub.0.stderr.take().unwrap()).lines();
    let mut lines = Vec::new();
    loop {
        let line = log.next().unwrap_or_else(|| panic!("the hub exited: {lines:?}")).unwrap();
        let serving = line.contains("hub serving gRPC");
        lines.push(line);
        if serving {
            break;
        }
    }
    assert!(lines.iter().any(|l| l.contains("serving Prometheus metrics")), "{lines:?}");
    let pid = hub.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(hub.0.wait().unwrap().success());
}

/// A county's own quota policy: `check-config` reads it and says how many quotas it holds;
/// a quota naming an unknown kind is refused with the file and the quota named.
#[test]
fn a_county_quota_file_is_checked() {
    let cx = Cx { dir: fresh_dir("cli", "quotas"), db: None };
    cx.ok(&["ca", "init"]);
    cx.ok(&["ca", "issue-hub"]);
    let quotas = cx.dir.join("quotas.toml");
    std::fs::write(
        &quotas,
        "[[quota]]\nrole = 'teacher'\nlabel = '听课'\nkinds = ['lesson_observation']\ntarget = 20\n",
    )
    .unwrap();
    let config = cx.dir.join("hub.toml");
    std::fs::write(&config, format!("[hub]\nquotas = {:?}\n", quotas.display().to_string())).unwrap();
    let out = cx.ok(&["hub", "check-config", "--config", config.to_str().unwrap()]);
    assert!(out.contains("考核指标") && out.contains("（1 项）"), "{out}");
    std::fs::write(&quotas, "[[quota]]\nrole = 'teacher'\nlabel = '听课'\nkinds = ['听评课']\ntarget = 20\n")
        .unwrap();
    let bad = cx.run(&["hub", "check-config", "--config", config.to_str().unwrap()]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("hub.quotas") && err.contains("第 1 条指标「听课」"), "{err}");
}
