//! A full disk loses nothing acknowledged: a SQLite database capped with
//! `max_page_count` fills up mid-batch, the store keeps its handle while room is
//! freed, and every write it acknowledged afterwards is seen by a fresh connection
//! and survives closing and reopening the store.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use yanpei_domain::roster::Roster;
use yanpei_domain::{
    Activity, ActivityDraft, ActivityKind, Alliance, Area, School, SchoolCode, SchoolLevel, Semester, Term,
};
use yanpei_store::hub::{HubStore, IncomingChange, Session};
use yanpei_store::node::NodeStore;
use yanpei_store::{StorageFault, StoreError, connect};
use yanpei_test_kit as testing;

/// Pages the capped databases may hold (4 KiB each).
const CAP: u64 = 600;
/// Rows of 3 KiB in the filler table, deleted later to free room.
const FILLER_ROWS: u64 = 60;

fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

fn record(school: &str, i: usize) -> Activity {
    Activity::create(
        code(school),
        Semester::new(2024, Term::First).unwrap(),
        NaiveDate::from_ymd_opt(2024, 10, 1 + (i % 28) as u32).unwrap(),
        ActivityKind::Lecture,
        ActivityDraft {
            actor: format!("教师{}", i % 13),
            topic: Some(format!("第{i}讲：{}", "作业设计与课堂观察".repeat(6))),
            ..Default::default()
        },
    )
    .unwrap()
}

fn capped(url: &str) -> String {
    format!("{url}&max_page_count={CAP}")
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// Rows a connection opened now (another process, as it were) sees.
async fn seen_by_fresh_connection(url: &str, table: &str) -> i64 {
    let db = connect(url).await.unwrap();
    let n = count(&db, table).await;
    db.close().await.unwrap();
    n
}

async fn fill(db: &DatabaseConnection) {
    db.execute_unprepared("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)")
        .await
        .unwrap();
    for _ in 0..FILLER_ROWS {
        db.execute_unprepared("INSERT INTO filler (pad) VALUES (zeroblob(3000))").await.unwrap();
    }
}

fn is_full(e: &StoreError) -> bool {
    e.storage_fault() == Some(StorageFault::Full) && e.is_retryable()
}

async fn hub_roster(store: &HubStore) {
    let roster = Roster {
        county: "测试县".into(),
        alliances: vec![Alliance { code: "A1".into(), name: "一".into(), base_school: code("S1") }],
        schools: vec![School {
            code: code("S1"),
            name: "S1学校".into(),
            township: "城关镇".into(),
            area: Area::Urban,
            level: SchoolLevel::Junior,
            alliance: "A1".into(),
            evaluation: None,
        }],
        ..Roster::default()
    };
    store.replace_roster(&roster, "测试").await.unwrap();
}

async fn push(
    store: &HubStore,
    session: &Session,
    seq: &mut u64,
    batch: &[Activity],
) -> Result<u64, StoreError> {
    let changes: Vec<IncomingChange> = batch
        .iter()
        .enumerate()
        .map(|(i, a)| IncomingChange {
            seq: *seq + 1 + i as u64,
            activity: a.clone(),
            ancestors: vec![],
            maker: None,
        })
        .collect();
    let out = store.apply_batch(session, &changes).await?;
    *seq += batch.len() as u64;
    Ok(out.acked_seq)
}

/// The hub fills up mid-sync, the node pushes again while it is full, room is freed
/// without a restart, and the next pushes are acknowledged: every acknowledged record
/// is durable and nothing of a failed batch is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hub_acknowledges_only_what_is_durable() {
    let url = testing::fresh_sqlite("capacity_hub");
    let store = HubStore::open(&capped(&url)).await.unwrap();
    hub_roster(&store).await;
    fill(&store.connection()).await;
    let node = uuid::Uuid::now_v7();
    let (sid, _) = store.open_session(node, &code("S1"), 2, "test").await.unwrap();
    let session = store.session(sid).await.unwrap().unwrap();

    // Push batches of 100 until the cap stops one.
    let mut seq = 0u64;
    let mut acked = 0u64;
    let mut next = 0usize;
    let failed = loop {
        let batch: Vec<Activity> = (next..next + 100).map(|i| record("S1", i)).collect();
        match push(&store, &session, &mut seq, &batch).await {
            Ok(a) => {
                acked = a;
                next += 100;
            }
            Err(e) => break (batch, e),
        }
        assert!(next < 100_000, "the cap of {CAP} pages never stopped a batch");
    };
    let (batch, err) = failed;
    assert!(is_full(&err), "the cap fails a batch as a full disk: {err}");
    assert!(acked >= 100, "the cap left room for at least one batch");
    // (a) The failed batch left nothing, and everything acknowledged is there.
    assert_eq!(seen_by_fresh_connection(&url, "activity").await, acked as i64);

    // The node syncs again while the disk is still full, and the hub's health probe
    // tries to reserve room: everything fails, nothing is acknowledged.
    for _ in 0..3 {
        let probe = store.probe_write(64 * 1024).await.unwrap_err();
        assert!(is_full(&probe), "{probe}");
        if let Err(e) = store.open_session(node, &code("S1"), 2, "test").await {
            assert!(is_full(&e), "{e}");
        }
        let again = push(&store, &session, &mut seq.clone(), &batch).await.unwrap_err();
        assert!(is_full(&again), "{again}");
    }
    assert_eq!(seen_by_fresh_connection(&url, "activity").await, acked as i64);

    // Room is freed without restarting the hub (the store keeps its handle).
    store.connection().execute_unprepared("DELETE FROM filler").await.unwrap();
    assert_eq!(seen_by_fresh_connection(&url, "filler").await, 0, "the freeing delete is durable");
    let (sid, _) = store.open_session(node, &code("S1"), 2, "test").await.unwrap();
    let session = store.session(sid).await.unwrap().unwrap();
    let acked = push(&store, &session, &mut seq, &batch).await.unwrap();
    let more: Vec<Activity> = (next + 100..next + 120).map(|i| record("S1", i)).collect();
    let acked = acked.max(push(&store, &session, &mut seq, &more).await.unwrap());
    store.finish_session(sid, 0).await.unwrap();
    assert_eq!(acked, seq);

    // (b) A connection opened after the acknowledgement sees every acknowledged record.
    assert_eq!(seen_by_fresh_connection(&url, "activity").await, acked as i64);

    // (c) After closing and reopening, everything acknowledged is there.
    store.close().await;
    let reopened = HubStore::open(&capped(&url)).await.unwrap();
    assert_eq!(count(&reopened.connection(), "activity").await, acked as i64);
    reopened.probe_write(64 * 1024).await.unwrap();
}

/// The same on a node: a capped store refuses a record when full, and records after
/// room is freed are durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_node_store_keeps_what_it_recorded() {
    let url = testing::fresh_sqlite("capacity_node");
    let store = NodeStore::open_or_init(&capped(&url), &code("S1")).await.unwrap();
    fill(&store.connection()).await;
    let mut recorded = 0usize;
    let err = loop {
        let batch: Vec<Activity> = (recorded..recorded + 50).map(|i| record("S1", i)).collect();
        match store.record_all(&batch).await {
            Ok(()) => recorded += 50,
            Err(e) => break e,
        }
        assert!(recorded < 100_000, "the cap never stopped a write");
    };
    assert!(is_full(&err), "{err}");
    assert_eq!(seen_by_fresh_connection(&url, "activity").await, recorded as i64);
    // Recording again while full fails again (one record may still fit).
    let mut refused = false;
    for i in 0..200 {
        if let Err(e) = store.record(&record("S1", 900_000 + i)).await {
            assert!(is_full(&e), "{e}");
            refused = true;
            break;
        }
        recorded += 1;
    }
    assert!(refused, "200 more records fit in a full store");

    store.connection().execute_unprepared("DELETE FROM filler").await.unwrap();
    let late: Vec<Activity> = (0..30).map(|i| record("S1", 1_000_000 + i)).collect();
    store.record_all(&late).await.unwrap();
    store.mark_acked(0).await.unwrap();
    let total = recorded as i64 + 30;
    assert_eq!(seen_by_fresh_connection(&url, "activity").await, total);
    assert_eq!(seen_by_fresh_connection(&url, "outbox").await, total);
    assert_eq!(store.last_seq().await.unwrap(), total as u64);

    store.close().await;
    let reopened = NodeStore::open(&capped(&url)).await.unwrap();
    assert_eq!(reopened.pending_count().await.unwrap(), total as u64);
}

/// PostgreSQL needs no replacement: a connection the server drops mid-sync is
/// discarded by the pool, the write that met it fails (retryable) or runs on a new
/// connection, and everything acknowledged is there for a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_postgres_connection_loses_nothing_acknowledged() {
    let Some(url) = testing::fresh_postgres("capacity_lost").await else { return };
    let store = HubStore::open(&url).await.unwrap();
    hub_roster(&store).await;
    let node = uuid::Uuid::now_v7();
    let (sid, _) = store.open_session(node, &code("S1"), 2, "test").await.unwrap();
    let session = store.session(sid).await.unwrap().unwrap();
    let mut seq = 0u64;
    let mut acked = 0u64;
    let admin = connect(&url).await.unwrap();
    for round in 0..5usize {
        let batch: Vec<Activity> = (round * 100..round * 100 + 100).map(|i| record("S1", i)).collect();
        // The server ends every other session on this database (a restart, a network cut).
        sea_orm::ConnectionTrait::execute_unprepared(
            &admin,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match push(&store, &session, &mut seq, &batch).await {
                Ok(a) => {
                    acked = a;
                    break;
                }
                Err(e) => {
                    assert!(e.is_retryable(), "a lost connection is worth retrying: {e}");
                    assert!(attempts < 5, "still failing after {attempts} attempts: {e}");
                }
            }
        }
        assert_eq!(seen_by_fresh_connection(&url, "activity").await, acked as i64);
    }
    assert_eq!(acked, 500);
    admin.close().await.unwrap();
    store.close().await;
    let reopened = HubStore::open(&url).await.unwrap();
    assert_eq!(count(&reopened.connection(), "activity").await, 500);
}

/// A PostgreSQL connection lost in the middle of a write transaction: the commit fails
/// (retryable), nothing of that transaction is kept, and the next write commits on a
/// new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_transaction_cut_mid_way_keeps_nothing() {
    let Some(url) = testing::fresh_postgres("capacity_cut").await else { return };
    HubStore::open(&url).await.unwrap().close().await;
    let db = yanpei_store::Db::open(&url).await.unwrap();
    let admin = connect(&url).await.unwrap();
    let txn = db.begin_write().await.unwrap();
    txn.execute_unprepared("INSERT INTO counter (name, value) VALUES ('cut', 1)").await.unwrap();
    admin
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
    let err = txn.commit().await.unwrap_err();
    assert!(err.is_retryable(), "a lost connection is worth retrying: {err}");

    let mut attempts = 0;
    loop {
        attempts += 1;
        let written = async {
            let txn = db.begin_write().await?;
            txn.execute_unprepared("INSERT INTO counter (name, value) VALUES ('kept', 2)").await?;
            txn.commit().await
        };
        match written.await {
            Ok(()) => break,
            Err(e) => assert!(attempts < 3 && e.is_retryable(), "attempt {attempts}: {e}"),
        }
    }
    let names = admin
        .query_all_raw(Statement::from_string(
            admin.get_database_backend(),
            "SELECT name FROM counter WHERE name IN ('cut', 'kept') ORDER BY name",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(names, ["kept"]);
    db.close().await;
    admin.close().await.unwrap();
}
