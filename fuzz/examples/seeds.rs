//! Writes the seed corpora in `fuzz/seeds/<target>/` from real messages: records
//! of every kind, the demo county's roster (as a roster part and as its CSV
//! files, UTF-8 and GBK), requests and responses as a sync and a query send them.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds` (stable is fine).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use prost::Message;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, SchoolCode, Semester, Term};
use yanpei_fuzz::{HubRequest, NodeResponse, SHEET_SEPARATOR, sheet_names};
use yanpei_proto::pb;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("seeds").join(target);
    std::fs::create_dir_all(&dir).expect("create the seed folder");
    std::fs::write(dir.join(name), bytes).expect("write a seed");
}

fn records(school: &SchoolCode) -> Vec<Activity> {
    let semester = Semester::new(2024, Term::First).expect("a semester");
    ActivityKind::ALL
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let observed = matches!(kind, ActivityKind::LessonObservation | ActivityKind::LessonEvaluation);
            let body = ActivityDraft {
                subject: Some("数学".into()),
                grade: Some("八年级".into()),
                actor: "王静".into(),
                teacher: observed.then(|| "李敏".into()),
                topic: Some(format!("一次函数（第{i}课时）")),
                notes: (i % 2 == 0).then(|| "课后交流：学生参与度高".into()),
                rating: (*kind == ActivityKind::LessonEvaluation).then_some(88),
                duration_minutes: Some(45),
                ..Default::default()
            };
            let day = NaiveDate::from_ymd_opt(2024, 10, 9 + i as u32).expect("a date");
            Activity::create(school.clone(), semester, day, *kind, body).expect("a valid record")
        })
        .collect()
}

fn main() {
    let school: SchoolCode = "CGZ1".parse().expect("a school code");
    let records = records(&school);
    let session = uuid::Uuid::now_v7().to_string();
    let semester = Some(pb::Semester { start_year: 2024, term: 1 });
    let changes: Vec<pb::Change> = records
        .iter()
        .enumerate()
        .map(|(i, a)| pb::Change { seq: i as u64 + 1, activity: Some(pb::Activity::from(a)), ancestors: vec![] })
        .collect();

    // Single activities.
    for (i, a) in records.iter().enumerate() {
        write("activity", &format!("kind-{i}"), &pb::Activity::from(a).encode_to_vec());
    }
    let mut deleted = pb::Activity::from(&records[0]);
    deleted.version = 3;
    deleted.deleted = true;
    write("activity", "tombstone", &deleted.encode_to_vec());

    // Requests to the hub.
    let hub = |r: HubRequest, name: &str, m: &dyn Fn() -> Vec<u8>| {
        let mut bytes = vec![r.selector()];
        bytes.extend(m());
        write("hub_requests", name, &bytes);
    };
    hub(HubRequest::Handshake, "handshake", &|| {
        pb::HandshakeRequest {
            protocol_version: yanpei_proto::PROTOCOL_VERSION,
            node_id: uuid::Uuid::now_v7().to_string(),
            school_code: school.to_string(),
            agent_version: "yanpei 0.1.0".into(),
        }
        .encode_to_vec()
    });
    hub(HubRequest::Push, "push", &|| {
        pb::PushRequest { session_id: session.clone(), changes: changes.clone() }.encode_to_vec()
    });
    hub(HubRequest::Pull, "pull", &|| {
        pb::PullRequest { session_id: session.clone(), cursor: 17, limit: 500 }.encode_to_vec()
    });
    hub(HubRequest::PullRoster, "pull_roster", &|| {
        pb::PullRosterRequest { session_id: session.clone(), known_version: 2 }.encode_to_vec()
    });
    hub(HubRequest::Finish, "finish", &|| {
        pb::FinishRequest { session_id: session.clone(), pull_cursor: 17 }.encode_to_vec()
    });
    for (name, target) in [
        ("stats-county", pb::scope::Target::County(true)),
        ("stats-alliance", pb::scope::Target::AllianceCode("LM1".into())),
        ("stats-school", pb::scope::Target::SchoolCode(school.to_string())),
    ] {
        hub(HubRequest::Stats, name, &|| {
            pb::StatsRequest {
                semester,
                scope: Some(pb::Scope { target: Some(target.clone()) }),
                group_by: pb::GroupBy::Alliance as i32,
                ..Default::default()
            }
            .encode_to_vec()
        });
    }
    hub(HubRequest::SyncLedger, "sync_ledger", &|| {
        pb::SyncLedgerRequest { school_code: school.to_string(), limit: 20 }.encode_to_vec()
    });
    hub(HubRequest::Audit, "audit", &|| {
        pb::AuditRequest { limit: 100, caller: "node:CGZ1".into(), school_code: school.to_string() }.encode_to_vec()
    });

    // Responses to a node.
    let roster_dir = root().join("../crates/demo/roster");
    let roster = yanpei_roster_io::load_roster(&roster_dir).expect("the demo roster");
    fn node(r: NodeResponse, name: &str, m: impl Message) {
        let mut bytes = vec![r.selector()];
        bytes.extend(m.encode_to_vec());
        write("node_responses", name, &bytes);
    }
    node(
        NodeResponse::Handshake,
        "handshake",
        pb::HandshakeResponse {
            session_id: session.clone(),
            acked_seq: 4,
            hub_protocol_version: yanpei_proto::PROTOCOL_VERSION,
            school_name: "城关镇第一初级中学".into(),
            ..Default::default()
        },
    );
    node(NodeResponse::Push, "push", pb::PushResponse { acked_seq: 5, applied: 4, unchanged: 1, ..Default::default() });
    node(
        NodeResponse::Pull,
        "pull",
        pb::PullResponse {
            changes: records
                .iter()
                .enumerate()
                .map(|(i, a)| pb::PulledChange {
                    cursor: i as u64 + 10,
                    activity: Some(pb::Activity::from(a)),
                    ancestors: vec![],
                    ..Default::default()
                })
                .collect(),
            next_cursor: 14,
            has_more: false,
            ..Default::default()
        },
    );
    node(
        NodeResponse::PullRoster,
        "pull_roster",
        pb::PullRosterResponse {
            changed: true,
            roster: Some(yanpei_proto::roster_to_pb(3, &roster.part_for(&school))),
        },
    );
    node(
        NodeResponse::Stats,
        "stats",
        pb::StatsResponse {
            rows: vec![pb::StatsRow {
                group_code: "LM1".into(),
                group_name: "城关联合体".into(),
                kind: 1,
                count: 12,
            }],
            total: 12,
        },
    );
    node(
        NodeResponse::SyncLedger,
        "sync_ledger",
        pb::SyncLedgerResponse {
            sessions: vec![pb::SyncSession {
                session_id: session.clone(),
                school_code: school.to_string(),
                started_at: "2024-10-09T01:23:45+08:00".into(),
                received: 5,
                applied: 4,
                rejections: vec!["第 5 条变更：日期：不在学期内".into()],
                ..Default::default()
            }],
        },
    );

    node(
        NodeResponse::Audit,
        "audit",
        pb::AuditResponse {
            entries: vec![pb::AuditEntry {
                id: 42,
                at: "2024-10-09T01:23:45+00:00".into(),
                caller: "node:CGZ1".into(),
                rpc: "/yanpei.v1.SyncService/Push".into(),
                schools: vec![school.to_string()],
                rows: 5,
                code: 7,
            }],
        },
    );

    // Roster CSV files, UTF-8 (as exported, with a BOM) and GBK (as Excel saves them).
    let files: Vec<Vec<u8>> = sheet_names()
        .iter()
        .map(|name| std::fs::read(roster_dir.join(format!("{name}.csv"))).unwrap_or_default())
        .collect();
    write("roster_csv", "demo-utf8", &files.join(&SHEET_SEPARATOR));
    let gbk: Vec<Vec<u8>> = files
        .iter()
        .map(|f| {
            let text = String::from_utf8_lossy(f);
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            encoding_rs::GBK.encode(text).0.into_owned()
        })
        .collect();
    write("roster_csv", "demo-gbk", &gbk.join(&SHEET_SEPARATOR));
    // A small one: the first rows of each sheet (it has problems, which is a path too).
    let small: Vec<Vec<u8>> = files
        .iter()
        .map(|f| f.split(|b| *b == b'\n').take(4).collect::<Vec<_>>().join(&b'\n'))
        .collect();
    write("roster_csv", "demo-head", &small.join(&SHEET_SEPARATOR));
    println!("seeds written under {}", Path::new(&root()).join("seeds").display());
}
