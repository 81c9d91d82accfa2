//! The operator's path through the real binary where it used to break for a newcomer:
//! `node init` into a directory that does not exist yet, roster commands that find the
//! hub's database through its config file (and say so when there is none), output
//! piped into a reader that stops early, a second offline certificate for a school
//! that keeps the first, and `demo --serve` taking newcomers with its own CA.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use support::{BIN, fresh_dir, ok, run};

#[test]
fn node_init_makes_the_directory_of_its_store() {
    let dir = fresh_dir("operator", "init");
    ok(&dir, &["ca", "init", "--county", "示范县"]);
    ok(&dir, &["ca", "issue-node", "--school", "CGZ1"]);
    let store = "schools/cgz1/node.sqlite";
    let args = ["node", "init", "--store", store, "--school", "CGZ1", "--hub", "https://127.0.0.1:7443"];
    let keys = ["--ca", "pki/ca.pem", "--cert", "pki/node-CGZ1.pem", "--key", "pki/node-CGZ1.key"];
    let out = ok(&dir, &[&args[..], &keys].concat());
    assert!(out.contains("节点已就绪"), "{out}");
    assert!(dir.join(store).exists());
}

#[test]
fn roster_commands_use_the_hubs_config_and_never_invent_a_database() {
    let dir = fresh_dir("operator", "roster");
    // No hub here: reading says so, and creates nothing.
    for args in [&["roster", "show"][..], &["roster", "export", "out.xlsx"]] {
        let out = run(&dir, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("没有找到县中心数据库"), "{args:?}: {err}");
        assert!(err.contains("--config"), "{err}");
    }
    assert!(!dir.join("yanpei-hub.sqlite").exists(), "a read created the default database");

    // The hub's config file names its database; the roster commands follow it.
    std::fs::create_dir_all(dir.join("var")).unwrap();
    std::fs::write(dir.join("hub.toml"), "[hub]\ndatabase_url = \"sqlite://var/hub.sqlite?mode=rwc\"\n")
        .unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/roster");
    let imported = ok(&dir, &["roster", "import", "--config", "hub.toml", demo]);
    assert!(imported.contains("已导入名册第 1 版到 sqlite://var/hub.sqlite"), "{imported}");
    assert!(dir.join("var/hub.sqlite").exists() && !dir.join("yanpei-hub.sqlite").exists());
    let shown = Command::new(BIN)
        .current_dir(&dir)
        .env("YANPEI_HUB_CONFIG", "hub.toml")
        .env_remove("YANPEI_HUB_DB")
        .args(["roster", "show"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&shown.stdout).contains("第 1 版"), "the same env var as hub serve");
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    let dir = fresh_dir("operator", "pipe");
    let mut child = Command::new(BIN)
        .current_dir(&dir)
        .args(["node", "kinds"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // `| head -0`: the reader is gone before the first line
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert!(out.status.success(), "{:?}: {err}", out.status);
}

/// A second offline certificate for a school gets files of its own: the first stays byte
/// for byte (the school already uses it), and `ca list` shows both.
#[test]
fn a_second_node_certificate_keeps_the_first_and_both_are_listed() {
    let dir = fresh_dir("operator", "issue-twice");
    ok(&dir, &["ca", "init", "--county", "示范县"]);
    let first = ok(&dir, &["ca", "issue-node", "--school", "CGZ1"]);
    assert!(first.contains("node-CGZ1.pem"), "{first}");
    let pki = dir.join("pki");
    let (cert1, key1) = (
        std::fs::read(pki.join("node-CGZ1.pem")).unwrap(),
        std::fs::read(pki.join("node-CGZ1.key")).unwrap(),
    );

    let second = ok(&dir, &["ca", "issue-node", "--school", "CGZ1"]);
    assert!(second.contains("node-CGZ1-2.pem"), "{second}");
    assert_eq!(std::fs::read(pki.join("node-CGZ1.pem")).unwrap(), cert1, "the first certificate changed");
    assert_eq!(std::fs::read(pki.join("node-CGZ1.key")).unwrap(), key1, "the first key changed");
    let (cert2, key2) = (
        std::fs::read(pki.join("node-CGZ1-2.pem")).unwrap(),
        std::fs::read(pki.join("node-CGZ1-2.key")).unwrap(),
    );
    assert_ne!(cert1, cert2);
    assert_ne!(key1, key2);

    let listed = ok(&dir, &["ca", "list"]);
    let lines: Vec<&str> = listed.lines().filter(|l| l.contains("学校节点 CGZ1")).collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines.iter().any(|l| l.contains("node-CGZ1.pem")), "{listed}");
    assert!(lines.iter().any(|l| l.contains("node-CGZ1-2.pem")), "{listed}");
    // Two certificates, two serials.
    let serial = |l: &str| l.split_whitespace().nth(1).unwrap().to_owned();
    assert_ne!(serial(lines[0]), serial(lines[1]), "{listed}");
}

/// `yanpei demo --serve`, killed (and its directory removed) when dropped.
struct ServedDemo {
    child: std::process::Child,
    dir: PathBuf,
    hub: String,
}

impl Drop for ServedDemo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `yanpei demo --serve --dir DIR` and reads the hub's address off what it prints.
fn serve_demo(name: &str) -> ServedDemo {
    use std::io::{BufRead, BufReader};
    let dir = fresh_dir("operator", name).join("demo");
    let mut child = Command::new(BIN)
        .args(["demo", "--serve", "--dir"])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut demo = ServedDemo { child, dir, hub: String::new() };
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.trim().strip_prefix("中心：") {
            demo.hub = rest.split_whitespace().next().unwrap_or_default().to_owned();
        }
        if line.starts_with("按 Ctrl-C") {
            break;
        }
    }
    assert!(demo.hub.starts_with("https://127.0.0.1:"), "no hub address in:\n{printed}");
    assert!(printed.contains("ca.key"), "demo --serve says where the CA key is:\n{printed}");
    demo
}

/// The running demo takes newcomers with the README's commands and its own CA: an
/// operator certificate issued from `DIR/pki` queries the demo hub, and a school enrolled
/// with a code from `ca enroll` against the demo's database syncs.
#[test]
fn the_served_demo_takes_a_new_operator_and_a_new_node() {
    let demo = serve_demo("demo-newcomer");
    let dir = demo.dir.clone();
    let key = dir.join("pki/ca.key");
    assert!(key.is_file(), "the demo keeps its CA key in DIR/pki");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    ok(&dir, &["ca", "issue-operator", "--name", "newcomer"]);
    ok(&dir, &["ca", "issue-staff", "--id", "JY02"]);
    let stats = ok(
        &dir,
        &[
            "query",
            "stats",
            "--hub",
            &demo.hub,
            "--cert",
            "pki/operator-newcomer.pem",
            "--key",
            "pki/operator-newcomer.key",
            "--json",
        ],
    );
    let total = serde_json::from_str::<serde_json::Value>(&stats).unwrap()["total"].as_u64().unwrap();
    assert!(total > 0, "{stats}");
    let staff = ok(
        &dir,
        &[
            "query",
            "stats",
            "--hub",
            &demo.hub,
            "--cert",
            "pki/staff-JY02.pem",
            "--key",
            "pki/staff-JY02.key",
        ],
    );
    assert!(staff.contains("合计"), "{staff}");

    // A new machine for a school: a one-time code from the demo's database, then the school's commands.
    let db = format!("sqlite://{}?mode=rwc", dir.join("hub.sqlite").display());
    let slip = ok(&dir, &["ca", "enroll", "--db", &db, "--school", "T03Z1", "--hub", &demo.hub]);
    let command = slip.lines().find_map(|l| l.trim().strip_prefix("yanpei ")).unwrap();
    let school = dir.join("new-school");
    std::fs::create_dir_all(&school).unwrap();
    let mut args: Vec<&str> = command.split_whitespace().collect();
    args.extend(["--store", "node.sqlite"]);
    let enrolled = ok(&school, &args);
    assert!(enrolled.contains("注册成功：学校 T03Z1"), "{enrolled}");
    let synced = ok(&school, &["node", "sync", "--store", "node.sqlite"]);
    assert!(!synced.is_empty());
}
