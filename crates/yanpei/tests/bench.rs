//! `yanpei bench --quick` and `yanpei load` end to end, as a user runs them: every
//! row of the table is produced (measured, or saying why it could not be), the
//! load test completes with zero errors and the hub counts every record. No
//! figure is asserted: speed is measured by the benchmark, not by tests.
#![allow(clippy::unwrap_used)] // test: a failure is a test failure

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_yanpei");

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("yanpei-tests").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn quick_bench_produces_every_row_and_writes_the_report() {
    let dir = work_dir("bench-quick");
    let out = dir.join("BENCHMARKS.md");
    let run = Command::new(BIN)
        .args(["bench", "--quick", "--json", "--postgres", &yanpei_test_kit::postgres_admin_url()])
        .arg("--out")
        .arg(&out)
        .arg("--dir")
        .arg(dir.join("work"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(run.status.success(), "yanpei bench --quick: {}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();

    let rows = report["rows"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "ingest_sqlite",
            "ingest_sqlite_4",
            "store_sqlite",
            "ingest_postgres",
            "pouchdb",
            "wire_plain",
            "wire_gzip",
            "node_memory"
        ]
    );
    let verdict =
        |id: &str| rows.iter().find(|r| r["id"] == id).unwrap()["verdict"].as_str().unwrap().to_owned();
    // What needs nothing but this repository is always measured.
    for id in ["ingest_sqlite", "ingest_sqlite_4", "store_sqlite", "wire_plain", "wire_gzip", "node_memory"] {
        assert!(!verdict(id).starts_with("不可用"), "{id}: {}", verdict(id));
    }
    // PostgreSQL is part of CI; elsewhere the row may say why it is missing, but it is there.
    if std::env::var_os("CI").is_some() {
        assert!(!verdict("ingest_postgres").starts_with("不可用"), "{}", verdict("ingest_postgres"));
    }
    for r in rows {
        assert!(!r["what"].as_str().unwrap().is_empty());
        let v = r["verdict"].as_str().unwrap();
        assert!(["达到", "未达到", "无目标"].contains(&v) || v.starts_with("不可用："), "{v}");
    }

    let load = report["load"].as_array().unwrap();
    assert_eq!(load.len(), 2);
    for l in load {
        let l = &l["Ok"];
        assert_eq!(l["errors"], 0, "{l}");
        let expected = l["nodes"].as_u64().unwrap() * l["records_per_node"].as_u64().unwrap();
        assert_eq!(l["hub_counted"].as_u64().unwrap(), expected);
        assert_eq!(l["records_pushed"].as_u64().unwrap(), expected);
        assert!(l["hub_peak_rss_bytes"].as_u64().unwrap() > 0);
    }

    let md = std::fs::read_to_string(&out).unwrap();
    assert!(md.contains("## 对比") && md.contains("## 负载测试") && md.contains("## 测法"));
    assert!(md.contains("yanpei bench --quick"), "the report names its command");
    for r in rows {
        assert!(md.contains(r["what"].as_str().unwrap()), "{} missing from BENCHMARKS.md", r["id"]);
    }
}

#[test]
fn load_test_completes_with_zero_errors_and_the_hub_counts_every_record() {
    let dir = work_dir("load");
    let run = Command::new(BIN)
        .args(["load", "--nodes", "30", "--records-per-node", "12", "--concurrency", "8", "--json"])
        .arg("--dir")
        .arg(&dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(run.status.success(), "yanpei load: {}", String::from_utf8_lossy(&run.stderr));
    let r: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(r["errors"], 0);
    assert_eq!(r["sessions_ok"], 30);
    assert_eq!(r["records_pushed"], 360);
    assert_eq!(r["hub_counted"], 360);
    // 30 nodes over 43 schools: no school has two nodes, so nobody pulls anything.
    assert_eq!(r["records_pulled"], 0);
    assert!(r["hub_peak_rss_bytes"].as_u64().unwrap() > 0);
}
