//! The hub store's sync guarantees, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use chrono::NaiveDate;
use yanpei_domain::roster::Roster;
use yanpei_domain::{
    Activity, ActivityDraft, ActivityKind, Alliance, Area, School, SchoolCode, SchoolLevel, Semester, Term,
};
use yanpei_store::StoreError;
use yanpei_store::hub::{HubStore, IncomingChange, StatsFilter};
use yanpei_test_kit as testing;

fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

async fn roster(store: &HubStore) {
    let alliance = Alliance { code: "A1".into(), name: "第一联合体".into(), base_school: code("S1") };
    let school = |c: &str| School {
        code: code(c),
        name: format!("{c}学校"),
        township: "城关镇".into(),
        area: Area::Urban,
        level: SchoolLevel::Junior,
        alliance: "A1".into(),
        evaluation: None,
    };
    let roster = Roster {
        county: "测试县".into(),
        alliances: vec![alliance],
        schools: vec![school("S1"), school("S2")],
        ..Roster::default()
    };
    assert_eq!(store.roster_version().await.unwrap(), 0);
    assert_eq!(store.replace_roster(&roster, "测试").await.unwrap(), 1);
    assert_eq!(store.replace_roster(&roster, "测试").await.unwrap(), 2);
    let (version, back) = store.current_roster().await.unwrap().unwrap();
    assert_eq!((version, &back), (2, &roster));
    assert_eq!(store.roster_history().await.unwrap().len(), 2);
    assert_eq!(store.schools().await.unwrap().len(), 2);
}

fn lecture(school: &str, day: u32) -> Activity {
    Activity::create(
        code(school),
        Semester::new(2024, Term::First).unwrap(),
        NaiveDate::from_ymd_opt(2024, 10, day).unwrap(),
        ActivityKind::Lecture,
        ActivityDraft { actor: "张老师".into(), topic: Some("作业设计".into()), ..Default::default() },
    )
    .unwrap()
}

fn changes(start_seq: u64, records: &[Activity]) -> Vec<IncomingChange> {
    records
        .iter()
        .enumerate()
        .map(|(i, a)| IncomingChange {
            seq: start_seq + i as u64,
            activity: a.clone(),
            ancestors: vec![],
            maker: None,
        })
        .collect()
}

async fn total(store: &HubStore) -> u64 {
    store.stats(&StatsFilter::default()).await.unwrap().iter().map(|r| r.count).sum()
}

async fn sync_guarantees(url: String) {
    let store = HubStore::open(&url).await.unwrap();
    roster(&store).await;
    let node = uuid::Uuid::now_v7();
    let (sid, acked) = store.open_session(node, &code("S1"), 1, "test").await.unwrap();
    assert_eq!(acked, 0);
    let session = store.session(sid).await.unwrap().unwrap();

    let records = vec![lecture("S1", 8), lecture("S1", 9), lecture("S1", 10)];
    let batch = changes(1, &records);
    let out = store.apply_batch(&session, &batch).await.unwrap();
    assert_eq!((out.acked_seq, out.applied, out.unchanged), (3, 3, 0));
    assert_eq!(total(&store).await, 3);

    // Replay: nothing changes.
    let out = store.apply_batch(&session, &batch).await.unwrap();
    assert_eq!((out.acked_seq, out.applied, out.unchanged), (3, 0, 3));
    assert_eq!(total(&store).await, 3);

    // An edit applies; an older version sent later does not overwrite it.
    let mut edited = records[0].clone();
    edited.version = 2;
    edited.body.topic = Some("大单元作业设计".into());
    let stale = records[0].clone();
    let out = store
        .apply_batch(
            &session,
            &[
                IncomingChange { seq: 4, activity: edited.clone(), ancestors: vec![], maker: None },
                IncomingChange { seq: 5, activity: stale, ancestors: vec![], maker: None },
            ],
        )
        .await
        .unwrap();
    assert_eq!((out.acked_seq, out.applied, out.unchanged), (5, 1, 1));
    assert_eq!(store.activity(edited.id).await.unwrap().unwrap(), edited);

    // A delete is a tombstone: kept, not counted.
    let mut gone = records[1].clone();
    gone.version = 2;
    gone.deleted = true;
    store.apply_batch(&session, &changes(6, &[gone.clone()])).await.unwrap();
    assert_eq!(total(&store).await, 2);
    assert!(store.activity(gone.id).await.unwrap().unwrap().deleted);

    // Another node of the same school pulls all three (tombstone included); the origin pulls nothing.
    let (sid2, _) = store.open_session(uuid::Uuid::now_v7(), &code("S1"), 1, "test").await.unwrap();
    let other = store.session(sid2).await.unwrap().unwrap();
    let (page, more) = store.pull(&other, 0, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    assert!(more);
    let (rest, more) = store.pull(&other, page[1].cursor, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(!more);
    assert!(store.pull(&session, 0, 10).await.unwrap().0.is_empty());

    // A node of school S2 cannot touch S1's record: that change is refused (and named), the
    // rest of the batch applies, and the refused change is acknowledged (the node keeps it).
    let (sid3, _) = store.open_session(uuid::Uuid::now_v7(), &code("S2"), 1, "test").await.unwrap();
    let s2 = store.session(sid3).await.unwrap().unwrap();
    let mut hijack = records[2].clone();
    hijack.school = code("S2");
    hijack.version = 9;
    let own = lecture("S2", 11);
    let out = store.apply_batch(&s2, &changes(1, &[own.clone(), hijack.clone()])).await.unwrap();
    assert_eq!(out.applied, 1);
    assert_eq!(out.refused.len(), 1, "{out:?}");
    assert_eq!((out.refused[0].seq, out.refused[0].activity_id.clone()), (2, hijack.id.to_string()));
    assert_eq!(store.activity(own.id).await.unwrap().as_ref(), Some(&own));
    assert_eq!(
        store.activity(hijack.id).await.unwrap().unwrap().school,
        code("S1"),
        "the owner never changes"
    );
    assert_eq!(store.open_session(s2.node_id, &code("S2"), 1, "t").await.unwrap().1, 2);

    // A node is bound to its school.
    let err = store.open_session(node, &code("S2"), 1, "t").await.unwrap_err();
    assert!(matches!(err, StoreError::PermissionDenied(_)));

    // The ledger recorded the sessions.
    let ledger = store.ledger(Some(&code("S1")), 10).await.unwrap();
    let first = ledger.iter().find(|s| s.id == sid).unwrap();
    assert_eq!((first.received, first.applied, first.unchanged, first.acked_seq), (9, 5, 4, 6));
}

#[tokio::test]
async fn sync_guarantees_sqlite() {
    sync_guarantees(testing::fresh_sqlite("hub_store")).await;
}

#[tokio::test]
async fn sync_guarantees_postgres() {
    if let Some(url) = testing::fresh_postgres("hub_store").await {
        sync_guarantees(url).await;
    }
}

/// Two hubs starting together over one fresh PostgreSQL database both come up:
/// migrations run under an advisory lock instead of racing.
#[tokio::test]
async fn two_hubs_migrate_one_postgres_together() {
    let Some(url) = testing::fresh_postgres("two_hubs_migrate").await else { return };
    let (a, b) = tokio::join!(HubStore::open(&url), HubStore::open(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.roster_version().await.unwrap(), 0);
    assert_eq!(b.roster_version().await.unwrap(), 0);
}

/// A database made by the first schema version (the core migration only), with
/// data in it, is upgraded through every later migration at start without losing anything.
async fn upgrade_keeps_data(url: String) {
    use sea_orm::EntityTrait;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    use sea_orm_migration::MigratorTrait;
    use yanpei_store::entity::{hub_activity, hub_school};
    use yanpei_store::migration::HubMigrator;

    let db = yanpei_store::connect(&url).await.unwrap();
    HubMigrator::up(&db, Some(1)).await.unwrap();
    let newer = HubMigrator::migrations().len() - 1;
    assert_eq!(HubMigrator::get_pending_migrations(&db).await.unwrap().len(), newer, "the newer migrations");
    hub_school::ActiveModel {
        code: Set("S1".into()),
        name: Set("S1学校".into()),
        township: Set("城关镇".into()),
        area: Set("urban".into()),
        level: Set("junior".into()),
        alliance_code: Set("A1".into()),
    }
    .insert(&db)
    .await
    .unwrap();
    let a = lecture("S1", 8);
    // Without RETURNING: the old table lacks the columns the current entity has.
    let row = hub_activity::ActiveModel {
        id: Set(a.id),
        school_code: Set("S1".into()),
        start_year: Set(2024),
        term: Set(1),
        date: Set(a.date),
        kind: Set("lecture".into()),
        version: Set(1),
        deleted: Set(false),
        actor: Set("张老师".into()),
        topic: Set(Some("作业设计".into())),
        origin_node: Set(uuid::Uuid::now_v7()),
        change_seq: Set(1),
        updated_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    hub_activity::Entity::insert(row).exec_without_returning(&db).await.unwrap();
    drop(db);

    let store = HubStore::open(&url).await.unwrap();
    assert_eq!(store.activity(a.id).await.unwrap(), Some(a));
    assert_eq!(total(&store).await, 1);
    assert_eq!(store.schools().await.unwrap().len(), 1);
    assert_eq!(store.roster_version().await.unwrap(), 0, "the new roster table starts empty");
}

#[tokio::test]
async fn upgrade_keeps_data_sqlite() {
    upgrade_keeps_data(testing::fresh_sqlite("upgrade")).await;
}

#[tokio::test]
async fn upgrade_keeps_data_postgres() {
    if let Some(url) = testing::fresh_postgres("upgrade").await {
        upgrade_keeps_data(url).await;
    }
}
