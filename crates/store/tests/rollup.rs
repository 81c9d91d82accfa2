//! Property: over random histories of records, edits (partner schools added, removed
//! and replaced, by the owner's nodes and by a partner school's), deletes, concurrent
//! edits and re-sent batches, every rollup (the pair rollup included) equals a recomputation from the raw records, and the
//! statistics read from rollups equal the same statistics computed from the raw table.
//! On SQLite and on PostgreSQL; each history replays from its seed.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use chrono::{NaiveDate, TimeDelta};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use yanpei_domain::roster::Roster;
use yanpei_domain::{
    Activity, ActivityKind, Alliance, Area, School, SchoolCode, SchoolLevel, Semester, Term, example_draft,
};
use yanpei_store::hub::{HubStore, IncomingChange, Session, StatsFilter};
use yanpei_store::rollup::Rollups;
use yanpei_test_kit as testing;

const SCHOOLS: [&str; 2] = ["S1", "S2"];
/// Schools a record may name as partners: both node schools and one without a node.
const PARTNERS: [&str; 3] = ["S1", "S2", "S3"];
const PEOPLE: [&str; 5] = ["张老师", "李老师", "王老师", "赵教研员", "钱教研员"];
const SUBJECTS: [&str; 3] = ["语文", "数学", "英语"];

fn code(s: &str) -> SchoolCode {
    s.parse().unwrap()
}

async fn setup(store: &HubStore) {
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
        alliances: vec![Alliance { code: "A1".into(), name: "一".into(), base_school: code("S1") }],
        schools: PARTNERS.iter().map(|c| school(c)).collect(),
        ..Roster::default()
    };
    store.replace_roster(&roster, "测试").await.unwrap();
}

struct Node {
    session: Session,
    seq: u64,
    /// The versions this node knows (its own and those it would have pulled).
    known: Vec<Activity>,
    last_batch: Vec<IncomingChange>,
}

fn semester(rng: &mut StdRng) -> (Semester, NaiveDate) {
    if rng.random_bool(0.7) {
        (Semester::new(2024, Term::First).unwrap(), NaiveDate::from_ymd_opt(2024, 9, 2).unwrap())
    } else {
        (Semester::new(2024, Term::Second).unwrap(), NaiveDate::from_ymd_opt(2025, 3, 3).unwrap())
    }
}

fn new_record(rng: &mut StdRng, school: &SchoolCode) -> Activity {
    let kind = ActivityKind::ALL[rng.random_range(0..ActivityKind::ALL.len())];
    let other = code(SCHOOLS.iter().find(|c| **c != school.as_str()).unwrap());
    let mut body = example_draft(kind, &other);
    body.actor = PEOPLE[rng.random_range(0..PEOPLE.len())].into();
    if body.subject.is_some() {
        body.subject = Some(SUBJECTS[rng.random_range(0..SUBJECTS.len())].into());
    }
    if body.details.days.is_some() {
        body.details.days = Some(rng.random_range(1..=20));
    }
    if kind == ActivityKind::GroupMeeting && rng.random_bool(0.5) {
        body.details.next_plan = None;
    }
    let (sem, first) = semester(rng);
    let date = first + TimeDelta::days(rng.random_range(0..100));
    Activity::create(school.clone(), sem, date, kind, body).unwrap()
}

fn edit(rng: &mut StdRng, a: &Activity) -> Activity {
    let mut n = a.clone();
    n.version += 1;
    let others: Vec<SchoolCode> = PARTNERS
        .iter()
        .map(|c| code(c))
        .filter(|c| *c != a.school && !a.body.details.partner_schools.contains(c))
        .collect();
    match rng.random_range(0..8) {
        0 => n.deleted = true,
        5 if !others.is_empty() => {
            n.body.details.partner_schools.push(others[rng.random_range(0..others.len())].clone())
        }
        6 => n.body.details.partner_schools.clear(),
        7 if !others.is_empty() => {
            n.body.details.partner_schools = vec![others[rng.random_range(0..others.len())].clone()]
        }
        1 => n.body.actor = PEOPLE[rng.random_range(0..PEOPLE.len())].into(),
        2 => n.date += TimeDelta::days(rng.random_range(-20..20)),
        3 if n.body.subject.is_some() => n.body.subject = Some(SUBJECTS[rng.random_range(0..3)].into()),
        _ => n.body.notes = Some(format!("改{}", rng.random_range(0..100))),
    }
    if n.validate().is_err() {
        // Moved out of its semester: a plain note change instead.
        n = a.clone();
        n.version += 1;
        n.body.notes = Some("改".into());
    }
    n
}

async fn check(store: &HubStore, seed: u64, step: usize) {
    let mut all = Vec::new();
    for s in SCHOOLS {
        all.extend(store.activities_of(&code(s)).await.unwrap().into_values());
    }
    let expected = Rollups::recompute(&all);
    let stored = store.rollups().await.unwrap();
    assert!(stored == expected, "seed {seed} step {step}: rollups differ from a recomputation");
    let first = Semester::new(2024, Term::First).unwrap();
    let (from_week, to_week) = (NaiveDate::from_ymd_opt(2024, 9, 16), NaiveDate::from_ymd_opt(2024, 11, 4));
    for filter in [
        StatsFilter::default(),
        StatsFilter { semester: Some(first), schools: Some(vec![code("S2")]), ..StatsFilter::default() },
        StatsFilter { subject: Some("数学".into()), ..StatsFilter::default() },
        StatsFilter { semester: Some(first), from_week, to_week, ..StatsFilter::default() },
        StatsFilter { from_week, ..StatsFilter::default() },
        StatsFilter {
            schools: Some(vec![code("S1")]),
            subject: Some("语文".into()),
            to_week,
            ..StatsFilter::default()
        },
    ] {
        let mut a = store.stats(&filter).await.unwrap();
        let mut b = store.stats_raw(&filter).await.unwrap();
        a.sort_by(|x, y| (&x.school, x.kind).cmp(&(&y.school, y.kind)));
        b.sort_by(|x, y| (&x.school, x.kind).cmp(&(&y.school, y.kind)));
        assert_eq!(a, b, "seed {seed} step {step}: stats from rollups differ from the raw table");
    }
    // The pair rollup as the pairings report reads it: every live shared record, once per partner.
    let mut by_pair = std::collections::BTreeMap::new();
    for a in all.iter().filter(|a| !a.deleted && a.semester == first) {
        for p in &a.body.details.partner_schools {
            *by_pair.entry((a.school.to_string(), p.to_string())).or_insert(0i64) += 1;
        }
    }
    let mut read = std::collections::BTreeMap::new();
    for r in store.pair_rollups(first).await.unwrap() {
        *read.entry((r.school, r.partner)).or_insert(0i64) += r.n;
    }
    read.retain(|_, n| *n != 0);
    assert_eq!(read, by_pair, "seed {seed} step {step}: pair rollups differ from the raw records");
}

/// Applies a batch; one a partner school sends for a record that no longer names it is
/// refused whole (and changes nothing), as the hub refuses it.
async fn apply(store: &HubStore, session: &Session, batch: &[IncomingChange]) {
    match store.apply_batch(session, batch).await {
        Ok(_) | Err(yanpei_store::StoreError::PermissionDenied(_)) => {}
        Err(e) => panic!("apply_batch: {e}"),
    }
}

async fn random_histories(url: String, seeds: std::ops::Range<u64>) {
    let store = HubStore::open(&url).await.unwrap();
    setup(&store).await;
    for seed in seeds {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut nodes = Vec::new();
        for s in SCHOOLS.iter().chain(SCHOOLS.iter()) {
            let (sid, _) = store.open_session(uuid::Uuid::now_v7(), &code(s), 2, "test").await.unwrap();
            let session = store.session(sid).await.unwrap().unwrap();
            nodes.push(Node { session, seq: 0, known: Vec::new(), last_batch: Vec::new() });
        }
        for step in 0..40 {
            let i = rng.random_range(0..nodes.len());
            let school = nodes[i].session.school.clone();
            let mut batch = Vec::new();
            for _ in 0..rng.random_range(1..12) {
                let next = if nodes[i].known.is_empty() || rng.random_bool(0.5) {
                    new_record(&mut rng, &school)
                } else {
                    let k = rng.random_range(0..nodes[i].known.len());
                    let base = nodes[i].known[k].clone();
                    if base.deleted {
                        continue;
                    }
                    edit(&mut rng, &base)
                };
                nodes[i].seq += 1;
                batch.push(IncomingChange {
                    seq: nodes[i].seq,
                    activity: next.clone(),
                    ancestors: vec![],
                    maker: None,
                });
                nodes[i].known.retain(|a| a.id != next.id);
                nodes[i].known.push(next.clone());
                // The school's other node learns of it too (as a pull would), so both may
                // later edit the same version: a conflict.
                let twin = (i + 2) % nodes.len();
                if rng.random_bool(0.6) {
                    nodes[twin].known.retain(|a| a.id != next.id);
                    nodes[twin].known.push(next.clone());
                }
                // A partner school's node pulls a record naming it, and may edit it later.
                let partner = (0..nodes.len()).find(|j| {
                    nodes[*j].session.school != next.school
                        && next.body.details.partner_schools.contains(&nodes[*j].session.school)
                });
                if let Some(j) = partner
                    && rng.random_bool(0.5)
                {
                    nodes[j].known.retain(|a| a.id != next.id);
                    nodes[j].known.push(next);
                }
            }
            if rng.random_bool(0.2) && !nodes[i].last_batch.is_empty() {
                // A re-sent batch (a lost acknowledgement): changes nothing.
                let again = nodes[i].last_batch.clone();
                apply(&store, &nodes[i].session, &again).await;
            }
            if !batch.is_empty() {
                apply(&store, &nodes[i].session, &batch).await;
                nodes[i].last_batch = batch;
            }
            if step % 8 == 7 {
                check(&store, seed, step).await;
            }
        }
        check(&store, seed, 40).await;
    }
    // A rebuild from the raw records gives the same rollups.
    let before = store.rollups().await.unwrap();
    store.rebuild_rollups().await.unwrap();
    assert_eq!(store.rollups().await.unwrap(), before);
}

#[tokio::test]
async fn rollups_equal_a_recomputation_sqlite() {
    random_histories(testing::fresh_sqlite("rollup"), 0..12).await;
}

#[tokio::test]
async fn rollups_equal_a_recomputation_postgres() {
    if let Some(url) = testing::fresh_postgres("rollup").await {
        random_histories(url, 100..112).await;
    }
}

/// A database from before the pair and subject-by-week rollups (their tables made by the
/// migration, still empty, beside records with partner schools) gets them built at open.
async fn newer_rollups_are_built_on_upgrade(url: String) {
    use sea_orm::ConnectionTrait;
    let store = HubStore::open(&url).await.unwrap();
    setup(&store).await;
    let (sid, _) = store.open_session(uuid::Uuid::now_v7(), &code("S1"), 2, "test").await.unwrap();
    let session = store.session(sid).await.unwrap().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let records: Vec<Activity> = (0..40).map(|_| new_record(&mut rng, &code("S1"))).collect();
    assert!(records.iter().any(|a| !a.body.details.partner_schools.is_empty()));
    let batch: Vec<IncomingChange> = records
        .iter()
        .enumerate()
        .map(|(i, a)| IncomingChange {
            seq: i as u64 + 1,
            activity: a.clone(),
            ancestors: vec![],
            maker: None,
        })
        .collect();
    store.apply_batch(&session, &batch).await.unwrap();
    let expected = Rollups::recompute(&records);
    assert!(!expected.pair.is_empty());
    for table in ["rollup_pair", "rollup_subject_week"] {
        store.connection().execute_unprepared(&format!("DELETE FROM {table}")).await.unwrap();
    }
    drop(store);
    let store = HubStore::open(&url).await.unwrap();
    assert_eq!(store.rollups().await.unwrap(), expected);
}

#[tokio::test]
async fn newer_rollups_are_built_on_upgrade_sqlite() {
    newer_rollups_are_built_on_upgrade(testing::fresh_sqlite("rollup_upgrade")).await;
}

#[tokio::test]
async fn newer_rollups_are_built_on_upgrade_postgres() {
    if let Some(url) = testing::fresh_postgres("rollup_upgrade").await {
        newer_rollups_are_built_on_upgrade(url).await;
    }
}

/// Two hubs opening one upgraded database together (records, but empty rollups) build
/// the rollups once: the second finds them built under the counter row lock, so no
/// count is doubled.
async fn two_hubs_build_missing_rollups_once(url: String) {
    use sea_orm::ConnectionTrait;
    let store = HubStore::open(&url).await.unwrap();
    setup(&store).await;
    let (sid, _) = store.open_session(uuid::Uuid::now_v7(), &code("S1"), 2, "test").await.unwrap();
    let session = store.session(sid).await.unwrap().unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let records: Vec<Activity> = (0..3000).map(|_| new_record(&mut rng, &code("S1"))).collect();
    for (n, chunk) in records.chunks(1000).enumerate() {
        let batch: Vec<IncomingChange> = chunk
            .iter()
            .enumerate()
            .map(|(i, a)| IncomingChange {
                seq: (n * 1000 + i) as u64 + 1,
                activity: a.clone(),
                ancestors: vec![],
                maker: None,
            })
            .collect();
        store.apply_batch(&session, &batch).await.unwrap();
    }
    let expected = Rollups::recompute(&records);
    for table in ["rollup_week", "rollup_person", "rollup_subject", "rollup_pair", "rollup_subject_week"] {
        store.connection().execute_unprepared(&format!("DELETE FROM {table}")).await.unwrap();
    }
    store.close().await;
    let (a, b) = tokio::join!(HubStore::open(&url), HubStore::open(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.rollups().await.unwrap(), expected);
    assert_eq!(b.rollups().await.unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_build_missing_rollups_once_sqlite() {
    two_hubs_build_missing_rollups_once(testing::fresh_sqlite("rollup_twice")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_build_missing_rollups_once_postgres() {
    if let Some(url) = testing::fresh_postgres("rollup_twice").await {
        two_hubs_build_missing_rollups_once(url).await;
    }
}
