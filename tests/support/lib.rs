//! Shared helpers of the whole-system tests: a world (CA, hub on
//! `127.0.0.1:0` over mutual TLS, node agents with their own SQLite stores)
//! on SQLite or PostgreSQL, record generators, and a proxy that cuts streams.

pub mod web;

/// The loopback proxy that cuts streams (shared with the fault suite).
pub mod proxy {
    pub use yanpei_soak::CutProxy;
}

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::NaiveDate;
use yanpei_demo::{DEMO_SEMESTER, DemoWorld, demo_roster, start_world};
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, SchoolCode};
use yanpei_proto::pb::{self, sync_service_client::SyncServiceClient};
use yanpei_store::hub::StatsFilter;

pub use yanpei_test_kit::fresh_postgres;

static WORLDS: AtomicU32 = AtomicU32::new(0);

/// A fresh directory for one test.
pub fn test_dir(name: &str) -> PathBuf {
    let n = WORLDS.fetch_add(1, Ordering::Relaxed);
    let stamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir =
        std::env::temp_dir().join("yanpei-tests").join(format!("{name}-{}-{n}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running world with the demo county's roster; the hub's database is a
/// SQLite file, or the PostgreSQL database `db` when given.
pub async fn world(name: &str, db: Option<String>) -> DemoWorld {
    start_world(&test_dir(name), &demo_roster().unwrap(), db).await.unwrap()
}

/// A school code.
pub fn school(code: &str) -> SchoolCode {
    code.parse().unwrap()
}

/// `n` valid records of the demo semester at `school`, of every kind in turn.
pub fn records(school: &SchoolCode, n: usize) -> Vec<Activity> {
    (0..n)
        .map(|i| {
            // The five kinds of the first protocol; tests/taxonomy.rs walks the whole list.
            let kind = ActivityKind::ALL[i % 5];
            let day =
                NaiveDate::from_ymd_opt(2024, 9, 2).unwrap() + chrono::TimeDelta::days((i % 140) as i64);
            let body = ActivityDraft {
                subject: Some("数学".into()),
                grade: Some("八年级".into()),
                actor: format!("教师{}", i % 17),
                teacher: matches!(kind, ActivityKind::LessonObservation | ActivityKind::LessonEvaluation)
                    .then(|| format!("教师{}", (i + 5) % 17)),
                topic: Some(format!("第{i}课")),
                rating: (kind == ActivityKind::LessonEvaluation).then_some(85),
                ..Default::default()
            };
            Activity::create(school.clone(), DEMO_SEMESTER, day, kind, body).unwrap()
        })
        .collect()
}

/// Live records the hub counts, by school.
pub async fn hub_counts(world: &DemoWorld) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for row in world.hub_store.stats(&StatsFilter::default()).await.unwrap() {
        *out.entry(row.school).or_default() += row.count;
    }
    out
}

/// Live records the hub counts at one school.
pub async fn hub_count(world: &DemoWorld, school: &SchoolCode) -> u64 {
    hub_counts(world).await.get(school.as_str()).copied().unwrap_or(0)
}

/// A raw sync client holding `school`'s node certificate, for pushing hand-made batches.
pub async fn raw_client(
    world: &DemoWorld,
    school: &SchoolCode,
) -> SyncServiceClient<tonic::transport::Channel> {
    let channel = world.node_endpoint_via(school, world.hub_addr).unwrap().connect().await.unwrap();
    SyncServiceClient::new(channel)
}

/// Handshakes as a fresh node of `school`; returns the session id.
pub async fn handshake(
    client: &mut SyncServiceClient<tonic::transport::Channel>,
    school: &SchoolCode,
) -> String {
    client
        .handshake(pb::HandshakeRequest {
            protocol_version: yanpei_proto::PROTOCOL_VERSION,
            node_id: uuid::Uuid::now_v7().to_string(),
            school_code: school.to_string(),
            agent_version: "test".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .session_id
}

/// A batch of changes numbered from `first_seq`.
pub fn batch(first_seq: u64, records: &[Activity]) -> Vec<pb::Change> {
    records
        .iter()
        .enumerate()
        .map(|(i, a)| pb::Change {
            seq: first_seq + i as u64,
            activity: Some(pb::Activity::from(a)),
            ..Default::default()
        })
        .collect()
}

/// Runs an async test body once on SQLite and once on PostgreSQL (skipped
/// loudly where PostgreSQL is absent, required under CI).
#[macro_export]
macro_rules! on_both_backends {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(None).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(url) = $crate::fresh_postgres(stringify!($body)).await {
                    super::$body(Some(url)).await;
                }
            }
        }
    };
}

/// A copy of the binary under test in `dir`, removed when dropped (pass or fail): a
/// rebuild of the shared target directory mid-run then changes nothing under the test.
pub struct BinaryCopy(PathBuf);

impl BinaryCopy {
    /// Copies `bin` (e.g. `env!("CARGO_BIN_EXE_yanpei")`) into `dir`.
    pub fn of(bin: &str, dir: &std::path::Path) -> BinaryCopy {
        let to = dir.join("yanpei-under-test");
        std::fs::copy(bin, &to).unwrap();
        BinaryCopy(to)
    }

    /// Where the copy is.
    pub fn path(&self) -> PathBuf {
        self.0.clone()
    }
}

impl Drop for BinaryCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
