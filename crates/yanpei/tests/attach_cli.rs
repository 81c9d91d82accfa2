//! `yanpei node attach` as a clerk runs it: files added to a record, kept once by content
//! beside the store, listed with the record; an over-limit file refused, naming it and the limit.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

mod support;

use support::{fresh_dir, ok, run};

#[test]
fn a_clerk_attaches_files_to_a_record() {
    let dir = fresh_dir("cli", "attach");
    ok(&dir, &["ca", "init", "--county", "示范县"]);
    ok(&dir, &["ca", "issue-node", "--school", "CGZ1"]);
    let pki = |f: &str| format!("pki/{f}");
    ok(
        &dir,
        &[
            "node",
            "init",
            "--school",
            "CGZ1",
            "--hub",
            "https://127.0.0.1:1",
            "--ca",
            &pki("ca.pem"),
            "--cert",
            &pki("node-CGZ1.pem"),
            "--key",
            &pki("node-CGZ1.key"),
        ],
    );
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
    let listed: serde_json::Value = serde_json::from_str(&ok(&dir, &["node", "list", "--json"])).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_owned();

    std::fs::write(dir.join("讲座照片.jpg"), vec![7u8; 300_000]).unwrap();
    std::fs::write(dir.join("照片副本.jpg"), vec![7u8; 300_000]).unwrap();
    std::fs::write(dir.join("讲稿.docx"), b"PK lecture notes").unwrap();
    let added = ok(&dir, &["node", "attach", &id, "讲座照片.jpg", "讲稿.docx"]);
    assert!(
        added.contains("已添加附件（第 2 版") && added.contains("附件 2 个（讲座照片.jpg、讲稿.docx）"),
        "{added}"
    );
    // The same content again changes nothing, and is not stored twice.
    let again = ok(&dir, &["node", "attach", &id, "照片副本.jpg"]);
    assert!(again.contains("未改动"), "{again}");
    let stored: usize = std::fs::read_dir(dir.join("yanpei-node.sqlite.attachments"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().len() == 2)
        .map(|fan| std::fs::read_dir(fan.path()).unwrap().count())
        .sum();
    assert_eq!(stored, 2);
    let list = ok(&dir, &["node", "list"]);
    assert!(list.contains("附件 2 个") && list.contains("待同步变更 2 条"), "{list}");

    // Over the limit: refused before anything is written, naming the file and the limit.
    std::fs::File::create(dir.join("整堂课录像.mp4")).unwrap().set_len(65 * 1024 * 1024).unwrap();
    let big = run(&dir, &["node", "attach", &id, "整堂课录像.mp4"]);
    assert!(!big.status.success());
    let err = String::from_utf8_lossy(&big.stderr);
    assert!(err.contains("整堂课录像.mp4") && err.contains("超过附件上限 64 MB"), "{err}");
    assert!(ok(&dir, &["node", "list"]).contains("待同步变更 2 条"));
}
