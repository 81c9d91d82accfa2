//! Issue 14 ("Sync keeps every intent"), whole-system: the five breaks as a school
//! and the county meet them, against real hubs and real node stores, on both hub
//! backends. These tests were written before the fix (sync protocol v3) and fail on
//! the code they were written against, by design: each one states what a user must
//! see once every intent a node recorded is kept.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::Streaming;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use uuid::Uuid;
use yanpei_demo::{DEMO_SEMESTER, DemoWorld, demo_roster, start_world};
use yanpei_domain::{Activity, ActivityKind, SchoolCode, example_draft};
use yanpei_node::{Agent, SyncReport};
use yanpei_proto::pb;
use yanpei_store::hub::{HubStore, StatsFilter};
use yanpei_store::sqlite_url;
use yanpei_tests::{
    batch, handshake, hub_count, on_both_backends, raw_client, records, school, test_dir, world,
};

// ---------------------------------------------------------------------------------------
// A small real disk: a tmpfs, a filler file, and (PostgreSQL) a tablespace on it.
// ---------------------------------------------------------------------------------------

/// A tmpfs mounted for one test; unmounted when dropped, a panic included.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size_kib: u64) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_kib}k"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a {size_kib} KiB tmpfs at {} failed (this test runs as root): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir: dir.to_owned() }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.dir).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Still open (a hub task that has not noticed its shutdown yet): detach it now,
            // the kernel frees it when the last file closes.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Writes `path` until the filesystem has no byte left; returns how much it wrote.
fn fill_disk(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    for chunk in [64 * 1024, 4096, 512, 1] {
        let buf = vec![0x5au8; chunk];
        loop {
            match f.write(&buf) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    let _ = f.sync_all();
    written
}

/// A PostgreSQL database whose every file lives in a tablespace on a tmpfs directory;
/// database and tablespace are dropped when this is dropped, a panic included.
struct PgOnDisk {
    admin: String,
    database: String,
    tablespace: String,
    url: String,
}

impl PgOnDisk {
    /// Moves the (empty, unused) database at `fresh_url` into a new tablespace in `dir`.
    async fn create(fresh_url: &str, dir: &Path) -> PgOnDisk {
        let (_, database) = fresh_url.rsplit_once('/').unwrap();
        let admin = yanpei_test_kit::postgres_admin_url();
        let location = dir.join("pg");
        std::fs::create_dir_all(&location).unwrap();
        let chown = Command::new("chown").arg("postgres:postgres").arg(&location).status().unwrap();
        assert!(chown.success(), "chown postgres {} failed", location.display());
        let tablespace = format!("ts_{database}");
        let made = PgOnDisk {
            admin: admin.clone(),
            database: database.to_owned(),
            tablespace: tablespace.clone(),
            url: fresh_url.to_owned(),
        };
        let db = yanpei_store::connect(&admin).await.unwrap();
        let place = location.display().to_string().replace('\'', "''");
        yanpei_store::execute(&db, &format!("CREATE TABLESPACE \"{tablespace}\" LOCATION '{place}'"))
            .await
            .unwrap();
        yanpei_store::execute(&db, &format!("ALTER DATABASE \"{database}\" SET TABLESPACE \"{tablespace}\""))
            .await
            .unwrap();
        db.close_by_ref().await.unwrap();
        made
    }
}

impl Drop for PgOnDisk {
    fn drop(&mut self) {
        let (admin, database, tablespace) =
            (self.admin.clone(), self.database.clone(), self.tablespace.clone());
        let cleanup = async move {
            let db = yanpei_store::connect(&admin).await?;
            yanpei_store::execute(&db, &format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"))
                .await?;
            yanpei_store::execute(&db, &format!("DROP TABLESPACE IF EXISTS \"{tablespace}\"")).await?;
            db.close_by_ref().await?;
            Ok::<(), Box<dyn std::error::Error>>(())
        };
        let handle = tokio::runtime::Handle::current();
        if let Err(e) = tokio::task::block_in_place(|| handle.block_on(cleanup)) {
            eprintln!(
                "!!! could not drop database {} and tablespace {}: {e}",
                self.database, self.tablespace
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading the hub as another process would.
// ---------------------------------------------------------------------------------------

/// What a fresh connection to the hub's database sees: every record (tombstones
/// included) of `schools`, and the live counts per school from the statistics.
async fn fresh_read(url: &str, schools: &[SchoolCode]) -> (BTreeMap<Uuid, Activity>, BTreeMap<String, u64>) {
    let store = HubStore::open(url).await.unwrap();
    let mut rows = BTreeMap::new();
    for s in schools {
        rows.extend(store.activities_of(s).await.unwrap());
    }
    let mut counts = BTreeMap::new();
    for row in store.stats(&StatsFilter::default()).await.unwrap() {
        *counts.entry(row.school).or_default() += row.count;
    }
    store.connection().close_by_ref().await.unwrap();
    (rows, counts)
}

/// Live records in `expected`, by school.
fn live_counts(expected: &BTreeMap<Uuid, Activity>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for a in expected.values().filter(|a| !a.deleted) {
        *out.entry(a.school.to_string()).or_default() += 1;
    }
    out
}

/// Checks the hub's view of `schools` against the expected latest intents, naming what differs.
fn assert_hub_holds(
    when: &str,
    seen: &BTreeMap<Uuid, Activity>,
    counts: &BTreeMap<String, u64>,
    expected: &BTreeMap<Uuid, Activity>,
) {
    let missing: Vec<&Uuid> = expected.keys().filter(|id| !seen.contains_key(id)).collect();
    assert!(
        missing.is_empty(),
        "{when}: {} of the {} records made at the nodes are missing at the hub (first: {})",
        missing.len(),
        expected.len(),
        missing[0]
    );
    for (id, a) in expected {
        assert_eq!(seen.get(id), Some(a), "{when}: the hub holds another version of record {id}");
    }
    let extra: Vec<&Uuid> = seen.keys().filter(|id| !expected.contains_key(id)).collect();
    assert!(extra.is_empty(), "{when}: the hub holds records nobody recorded: {extra:?}");
    assert_eq!(counts, &live_counts(expected), "{when}: the county's counts are not the records' counts");
}

// ---------------------------------------------------------------------------------------
// Nodes, records and the hub's health as the county's monitoring sees it.
// ---------------------------------------------------------------------------------------

fn day(n: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2024, 9, 9).unwrap() + chrono::TimeDelta::days(n)
}

/// One sync that must succeed; the panic names the node and the hub's answer.
async fn sync_ok(node: &Agent, who: &str) -> SyncReport {
    match node.sync_once().await {
        Ok(r) => r,
        Err(e) => panic!("{who}'s sync failed: {e}"),
    }
}

/// The same node (its store) reaching the hub where it listens now (after a restart).
fn reconnect(w: &DemoWorld, node: &Agent) -> Agent {
    Agent::new(node.store().clone(), w.node_endpoint_via(node.store().school(), w.hub_addr).unwrap())
}

/// A 送课下乡 of `owner` naming `partners`.
fn delivery(owner: &SchoolCode, partners: &[SchoolCode], n: i64) -> Activity {
    let mut draft = example_draft(ActivityKind::LessonDelivery, &partners[0]);
    draft.details.partner_schools = partners.to_vec();
    draft.topic = Some(format!("送课第{n}讲"));
    Activity::create(owner.clone(), DEMO_SEMESTER, day(n), ActivityKind::LessonDelivery, draft).unwrap()
}

/// The next version of `a` with `notes`.
fn edited(a: &Activity, notes: &str) -> Activity {
    let mut next = a.clone();
    next.version += 1;
    next.body.notes = Some(notes.into());
    next.validate().unwrap();
    next
}

/// The next version of `a`, deleted.
fn deleted(a: &Activity) -> Activity {
    let mut next = a.clone();
    next.version += 1;
    next.deleted = true;
    next
}

/// The next version of shared record `a`, naming `partners` instead.
fn with_partners(a: &Activity, partners: &[SchoolCode]) -> Activity {
    let mut next = a.clone();
    next.version += 1;
    next.body.details.partner_schools = partners.to_vec();
    next.validate().unwrap();
    next
}

const SERVING: i32 = ServingStatus::Serving as i32;
const NOT_SERVING: i32 = ServingStatus::NotServing as i32;

/// The hub's health as a `Watch` stream, for the whole server ("") and for sync.
async fn watch_health(w: &DemoWorld) -> Vec<Streaming<HealthCheckResponse>> {
    let channel = w.operator_endpoint().unwrap().connect().await.unwrap();
    let mut client = HealthClient::new(channel);
    let mut out = Vec::new();
    for service in ["", "yanpei.v1.SyncService"] {
        let req = HealthCheckRequest { service: service.into() };
        out.push(client.watch(req).await.unwrap().into_inner());
    }
    out
}

/// Whether any of `streams` reports NOT_SERVING within `within`.
async fn reports_not_serving(streams: Vec<Streaming<HealthCheckResponse>>, within: Duration) -> bool {
    let mut all = tokio_stream::StreamMap::new();
    for (i, s) in streams.into_iter().enumerate() {
        all.insert(i, s);
    }
    let seen = async {
        while let Some((_, Ok(answer))) = all.next().await {
            if answer.status == NOT_SERVING {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(within, seen).await.unwrap_or(false)
}

/// Waits (at most `within`) until the hub answers SERVING again on every watched service.
async fn wait_serving(w: &DemoWorld, within: Duration) {
    for mut stream in watch_health(w).await {
        let serving = async {
            while let Some(Ok(answer)) = stream.next().await {
                if answer.status == SERVING {
                    return true;
                }
            }
            false
        };
        let ok = tokio::time::timeout(within, serving).await.unwrap_or(false);
        assert!(ok, "the hub did not answer health SERVING again within {within:?} after space was freed");
    }
}

// ---------------------------------------------------------------------------------------
// 1. Disk full loses acknowledged records.
// ---------------------------------------------------------------------------------------

/// The hub's database fills its disk while a node pushes; the node syncs again while the
/// disk is still full; space is freed with the hub running; the node syncs until its outbox
/// is empty. Then another process, and the hub after a restart, must see every record the
/// node recorded, each once, with exact counts; and while it could not write, the hub must
/// have said so on its health service.
///
/// SQLite: the hub's file on a small tmpfs. PostgreSQL: the hub's database in a tablespace
/// on a small tmpfs (the server runs on this machine, as in CI); PostgreSQL rolls the failed
/// transaction back by itself, so there the health answer is what today's hub gets wrong.
async fn a_full_disk_loses_no_acknowledged_record(db: Option<String>) {
    let base = test_dir("disk_full");
    let disk = Tmpfs::mount(&base.join("disk"), if db.is_some() { 24 * 1024 } else { 6 * 1024 });
    let pg = match &db {
        Some(url) => Some(PgOnDisk::create(url, &disk.dir).await),
        None => None,
    };
    let url = pg.as_ref().map_or_else(|| sqlite_url(&disk.dir.join("hub.sqlite")), |p| p.url.clone());
    let mut w = start_world(&base, &demo_roster().unwrap(), Some(url.clone())).await.unwrap();
    let s = school("T04Z1");
    let node = w.node(&s, "a").await.unwrap();
    let mut expected: BTreeMap<Uuid, Activity> = BTreeMap::new();

    // A normal night first.
    let first = records(&s, 300);
    node.store().record_all(&first).await.unwrap();
    expected.extend(first.into_iter().map(|a| (a.id, a)));
    sync_ok(&node, "T04Z1 (before the disk filled)").await;

    // The disk fills up; the node keeps recording and pushing until the hub fails.
    let health = watch_health(&w).await;
    let filler = disk.dir.join("filler");
    let filled = fill_disk(&filler);
    let mut failed = None;
    for round in 0..40 {
        let more = records(&s, 250);
        node.store().record_all(&more).await.unwrap();
        expected.extend(more.into_iter().map(|a| (a.id, a)));
        if let Err(e) = node.sync_once().await {
            failed = Some((round, e));
            break;
        }
    }
    let (round, err) =
        failed.expect("the hub never failed although its disk was full: the test's disk is too large");
    eprintln!("disk full ({filled} filler bytes): the push of round {round} failed: {err}");
    let said_not_serving = reports_not_serving(health, Duration::from_secs(5)).await;

    // An edit and a delete, and another sync while the disk is still full.
    let mut ids = expected.keys().copied();
    let (edit_id, delete_id) = (ids.next().unwrap(), ids.nth(10).unwrap());
    let (e, d) = (edited(&expected[&edit_id], "磁盘满时修改"), deleted(&expected[&delete_id]));
    node.store().update(&e).await.unwrap();
    node.store().update(&d).await.unwrap();
    expected.insert(e.id, e);
    expected.insert(d.id, d);
    let still_full = node.sync_once().await;
    eprintln!("sync while the disk is still full: {still_full:?}");

    // Space is freed, the hub running on; the node syncs until its outbox is empty.
    std::fs::remove_file(&filler).unwrap();
    wait_serving(&w, Duration::from_secs(60)).await;
    let mut last = None;
    for _ in 0..5 {
        last = Some(node.sync_once().await);
        if node.store().pending_count().await.unwrap() == 0 {
            break;
        }
    }
    let pending = node.store().pending_count().await.unwrap();
    assert_eq!(pending, 0, "five syncs after space was freed left {pending} changes in the outbox: {last:?}");

    // Another process reads the hub's database: everything the node dropped from its outbox is there.
    let (seen, counts) = fresh_read(&url, std::slice::from_ref(&s)).await;
    assert_hub_holds(
        "space freed, the node's outbox empty, the hub read through a fresh connection",
        &seen,
        &counts,
        &expected,
    );

    // And after a hub restart.
    w.stop_hub_process().await.unwrap();
    w.start_hub_process().await.unwrap();
    let (seen, counts) = fresh_read(&url, std::slice::from_ref(&s)).await;
    assert_hub_holds("after a hub restart", &seen, &counts, &expected);
    let report = sync_ok(&reconnect(&w, &node), "T04Z1 (after the hub restarted)").await;
    assert_eq!(report.pulled, 0, "the restarted hub sent T04Z1 records it does not hold already");
    assert!(
        said_not_serving,
        "the hub kept answering health SERVING while its disk was full and a push had just failed"
    );
    drop(w);
    drop(pg);
    drop(disk);
}
on_both_backends!(a_full_disk_loses_no_acknowledged_record);

// ---------------------------------------------------------------------------------------
// 2. An edit or delete made from an older version is dropped without a conflict.
// ---------------------------------------------------------------------------------------

/// Two nodes of one school hold a record at version 1. A edits (or deletes) it: its v2.
/// B edits it twice: its v2 and v3. Whichever syncs first, the hub's current version is
/// B's v3 (the greater version wins), A's change is kept in full as an open conflict, A's
/// node lists that conflict, and both nodes hold the hub's current version.
async fn stale_base_edit_or_delete_is_a_conflict(db: Option<String>) {
    let w = world("stale_base", db).await;
    let s = school("T06Z2");
    let a = w.node(&s, "a").await.unwrap();
    let b = w.node(&s, "b").await.unwrap();
    let v1 = records(&s, 4);
    a.store().record_all(&v1).await.unwrap();
    sync_ok(&a, "A").await;
    sync_ok(&b, "B").await;
    for r in &v1 {
        assert_eq!(b.store().get(r.id).await.unwrap().as_ref(), Some(r), "B does not hold v1 of {}", r.id);
    }

    // A's change of each record (from v1), and B's two edits (v2, v3).
    let at_a = [
        edited(&v1[0], "A校从第1版修改"),
        deleted(&v1[1]),
        edited(&v1[2], "A校从第1版修改"),
        deleted(&v1[3]),
    ];
    let at_b: Vec<[Activity; 2]> = v1
        .iter()
        .map(|r| {
            let second = edited(r, "B校第一次修改");
            let third = edited(&second, "B校第二次修改");
            [second, third]
        })
        .collect();
    let cases = [
        "A's edit from v1, B syncs first",
        "A's delete from v1, B syncs first",
        "A's edit from v1, A syncs first",
        "A's delete from v1, A syncs first",
    ];

    // Records 0 and 1: B syncs first.
    for i in [0, 1] {
        a.store().update(&at_a[i]).await.unwrap();
        b.store().update(&at_b[i][0]).await.unwrap();
        b.store().update(&at_b[i][1]).await.unwrap();
    }
    sync_ok(&b, "B").await;
    sync_ok(&a, "A").await;
    // Records 2 and 3: A syncs first. A's node was created first, so its id is the smaller:
    // B's v2 beats A's v2 on the tie, and B's v3 then descends from the hub's current
    // version. A's change must still stay an open conflict: B's v3 was made without it.
    for i in [2, 3] {
        a.store().update(&at_a[i]).await.unwrap();
        b.store().update(&at_b[i][0]).await.unwrap();
        b.store().update(&at_b[i][1]).await.unwrap();
    }
    sync_ok(&a, "A").await;
    sync_ok(&b, "B").await;
    sync_ok(&a, "A").await;

    let open = w.hub_store.conflicts(None, true, 500).await.unwrap();
    let listed_at_a = a.store().conflicts().await.unwrap();
    for (i, case) in cases.iter().enumerate() {
        let id = v1[i].id;
        let current = w.hub_store.activity(id).await.unwrap();
        assert_eq!(current.as_ref(), Some(&at_b[i][1]), "{case}: the hub's current version is not B's v3");
        assert!(
            open.iter().any(|c| c.losing == at_a[i]),
            "{case}: the hub keeps no open conflict holding A's change: it was dropped without a conflict \
             (open conflicts of the record: {:?})",
            open.iter()
                .filter(|c| c.losing.id == id)
                .map(|c| (&c.losing.body.notes, c.losing.deleted))
                .collect::<Vec<_>>()
        );
        assert!(
            listed_at_a.iter().any(|c| c.losing == at_a[i]),
            "{case}: A's node does not list the conflict of its own change"
        );
        assert_eq!(
            a.store().get(id).await.unwrap(),
            current,
            "{case}: A's store differs from the hub's current version"
        );
        assert_eq!(
            b.store().get(id).await.unwrap(),
            current,
            "{case}: B's store differs from the hub's current version"
        );
    }
}
on_both_backends!(stale_base_edit_or_delete_is_a_conflict);

// ---------------------------------------------------------------------------------------
// 3. Removing a partner school from a shared record stops that school's sync forever.
// ---------------------------------------------------------------------------------------

/// CGZ1 records a 送课下乡 naming T08Z1; then replaces, removes and re-adds partner schools
/// several times in a row. Every partner school's node keeps syncing, holds the record
/// exactly while the current version names it, and still receives roster versions and
/// conflicts after it was removed.
async fn removing_a_partner_school_keeps_its_sync_going(db: Option<String>) {
    let w = world("partner_removed", db).await;
    let (owner, t08, t01, t13) = (school("CGZ1"), school("T08Z1"), school("T01Z1"), school("T13Z1"));
    let cgz1 = w.node(&owner, "a").await.unwrap();
    let nodes = [
        (t08.clone(), w.node(&t08, "a").await.unwrap()),
        (t01.clone(), w.node(&t01, "a").await.unwrap()),
        (t13.clone(), w.node(&t13, "a").await.unwrap()),
    ];
    let record = delivery(&owner, std::slice::from_ref(&t08), 3);
    // A second shared record T08Z1 stays named on: both schools will edit it at once.
    let other = delivery(&owner, std::slice::from_ref(&t08), 4);
    cgz1.store().record_all(&[record.clone(), other.clone()]).await.unwrap();
    sync_ok(&cgz1, "CGZ1").await;
    for (code, node) in &nodes {
        sync_ok(node, code.as_str()).await;
    }
    assert_eq!(
        nodes[0].1.store().get(record.id).await.unwrap(),
        Some(record.clone()),
        "T08Z1 never got the record"
    );

    // CGZ1 replaces T08Z1 by T01Z1; meanwhile both schools edit the other shared record.
    let v2 = with_partners(&record, std::slice::from_ref(&t01));
    cgz1.store().update(&v2).await.unwrap();
    let owners_edit = edited(&other, "城关一中修改");
    let partners_edit = edited(&other, "欢胜一中修改");
    cgz1.store().update(&owners_edit).await.unwrap();
    nodes[0].1.store().update(&partners_edit).await.unwrap();
    sync_ok(&cgz1, "CGZ1").await;
    // The county imports a new roster version.
    let roster_version = w.hub_store.replace_roster(&demo_roster().unwrap(), "县进修学校").await.unwrap();

    let t08_node = &nodes[0].1;
    let report = match t08_node.sync_once().await {
        Ok(r) => r,
        Err(e) => panic!("T08Z1's sync fails after CGZ1 removed it from a shared record: {e}"),
    };
    assert_eq!(
        t08_node.store().get(record.id).await.unwrap(),
        None,
        "the record CGZ1 no longer shares with T08Z1 stayed in T08Z1's store"
    );
    assert_eq!(report.roster_version, roster_version, "T08Z1 did not receive the new roster version");
    assert_eq!(
        t08_node.store().roster().await.unwrap().0,
        roster_version,
        "T08Z1 does not keep the new roster version"
    );
    let listed = t08_node.store().conflicts().await.unwrap();
    assert!(
        listed.iter().any(|c| c.losing == partners_edit),
        "T08Z1 does not list the conflict of its edit of the other shared record: {listed:?}"
    );
    sync_ok(t08_node, "T08Z1 (again)").await;

    // Add, remove and replace partner schools several times in a row.
    let steps: [&[&SchoolCode]; 6] = [&[&t01], &[&t08], &[&t08, &t01], &[&t01], &[&t13], &[&t08, &t13]];
    let mut current = v2;
    for (step, partners) in steps.iter().enumerate() {
        if step > 0 {
            let names: Vec<SchoolCode> = partners.iter().map(|&p| p.clone()).collect();
            current = with_partners(&current, &names);
            cgz1.store().update(&current).await.unwrap();
            sync_ok(&cgz1, "CGZ1").await;
        }
        for (code, node) in &nodes {
            if let Err(e) = node.sync_once().await {
                panic!("step {step} (partners {partners:?}): {code}'s sync failed: {e}");
            }
            let held = node.store().get(record.id).await.unwrap();
            if partners.contains(&code) {
                assert_eq!(
                    held.as_ref(),
                    Some(&current),
                    "step {step} (partners {partners:?}): {code} does not hold the current version"
                );
            } else {
                assert_eq!(
                    held, None,
                    "step {step} (partners {partners:?}): {code}, no longer named, still holds the record"
                );
            }
        }
    }
    assert_eq!(
        w.hub_store.activity(record.id).await.unwrap(),
        Some(current),
        "the hub does not hold the last version"
    );
}
on_both_backends!(removing_a_partner_school_keeps_its_sync_going);

// ---------------------------------------------------------------------------------------
// 4. A school can create records that count under another school.
// ---------------------------------------------------------------------------------------

/// With T05Z1's node certificate, a push of new records of T05Z2 that name T05Z1 as a
/// partner school stores nothing: T05Z2's count is unchanged, none of them is at the hub
/// or reaches T05Z2's node, and the ledger notes the refusal for T05Z1.
async fn a_school_cannot_create_records_of_another_school(db: Option<String>) {
    let w = world("foreign_create", db).await;
    let (caller, victim) = (school("T05Z1"), school("T05Z2"));
    let victim_node = w.node(&victim, "a").await.unwrap();
    victim_node.store().record_all(&records(&victim, 5)).await.unwrap();
    sync_ok(&victim_node, "T05Z2").await;
    let before = hub_count(&w, &victim).await;
    assert_eq!(before, 5);

    let forged: Vec<Activity> = records(&victim, 6)
        .into_iter()
        .map(|mut a| {
            a.body.details.partner_schools = vec![caller.clone()];
            a.validate().unwrap();
            a
        })
        .collect();
    let mut client = raw_client(&w, &caller).await;
    let session = handshake(&mut client, &caller).await;
    let answer = client.push(pb::PushRequest { session_id: session, changes: batch(1, &forged) }).await;
    match &answer {
        Err(status) => assert_eq!(
            status.code(),
            tonic::Code::PermissionDenied,
            "the push of another school's records was refused with the wrong code: {status:?}"
        ),
        Ok(reply) => assert_eq!(
            reply.get_ref().applied,
            0,
            "T05Z1's certificate created {} records of T05Z2 (the hub answered {:?})",
            reply.get_ref().applied,
            reply.get_ref()
        ),
    }
    assert_eq!(hub_count(&w, &victim).await, before, "T05Z2's count changed by records T05Z1 pushed");
    for a in &forged {
        assert_eq!(
            w.hub_store.activity(a.id).await.unwrap(),
            None,
            "the hub holds record {} T05Z1 made for T05Z2",
            a.id
        );
    }
    sync_ok(&victim_node, "T05Z2").await;
    for a in &forged {
        assert_eq!(
            victim_node.store().get(a.id).await.unwrap(),
            None,
            "T05Z2's node received record {} T05Z1 made for it",
            a.id
        );
    }
    let ledger = w.hub_store.ledger(Some(&caller), 10).await.unwrap();
    assert!(
        ledger.iter().any(|s| s.rejected > 0),
        "the ledger notes no refusal for T05Z1: {:?}",
        ledger.iter().map(|s| (s.received, s.applied, s.rejected, &s.rejections)).collect::<Vec<_>>()
    );
}
on_both_backends!(a_school_cannot_create_records_of_another_school);

// ---------------------------------------------------------------------------------------
// 5. A hub restored from a backup leaves nodes silently behind.
// ---------------------------------------------------------------------------------------

/// A copy of the hub's database, taken with the hub stopped, put back later.
struct Backup {
    /// SQLite: the copy's file. PostgreSQL: the admin URL and the two database names.
    sqlite: Option<(PathBuf, PathBuf)>,
    postgres: Option<(String, String, String)>,
}

impl Backup {
    /// Stops the hub, copies its database, starts it again.
    async fn take(w: &mut DemoWorld) -> Backup {
        w.stop_hub_process().await.unwrap();
        let url = w.hub_url().to_owned();
        let backup = if url.starts_with("sqlite:") {
            let live = w.dir.join("hub.sqlite");
            assert_eq!(url, sqlite_url(&live), "the hub's database is not where the test looks");
            let copy = w.dir.join("hub-backup.sqlite");
            let db = yanpei_store::connect(&url).await.unwrap();
            let target = copy.display().to_string().replace('\'', "''");
            yanpei_store::execute(&db, &format!("VACUUM INTO '{target}'")).await.unwrap();
            db.close_by_ref().await.unwrap();
            Backup { sqlite: Some((live, copy)), postgres: None }
        } else {
            let (_, name) = url.rsplit_once('/').unwrap();
            let admin = yanpei_test_kit::postgres_admin_url();
            // PostgreSQL cuts names at 63 bytes: keep the copy's name distinct (database
            // names here are ASCII).
            let copy = format!("{}_backup", &name[..name.len().min(50)]);
            let db = yanpei_store::connect(&admin).await.unwrap();
            yanpei_store::execute(&db, &format!("CREATE DATABASE \"{copy}\" TEMPLATE \"{name}\""))
                .await
                .unwrap();
            db.close_by_ref().await.unwrap();
            Backup { sqlite: None, postgres: Some((admin, name.to_owned(), copy)) }
        };
        w.start_hub_process().await.unwrap();
        backup
    }

    /// Stops the hub, puts the copy back in place of its database, starts it again.
    async fn restore(self, w: &mut DemoWorld) {
        w.stop_hub_process().await.unwrap();
        if let Some((live, copy)) = &self.sqlite {
            for suffix in ["", "-wal", "-shm"] {
                let path = PathBuf::from(format!("{}{suffix}", live.display()));
                if path.exists() {
                    std::fs::remove_file(&path).unwrap();
                }
            }
            std::fs::copy(copy, live).unwrap();
        }
        if let Some((admin, name, copy)) = &self.postgres {
            let db = yanpei_store::connect(admin).await.unwrap();
            yanpei_store::execute(&db, &format!("DROP DATABASE \"{name}\" WITH (FORCE)")).await.unwrap();
            yanpei_store::execute(&db, &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{copy}\""))
                .await
                .unwrap();
            yanpei_store::execute(&db, &format!("DROP DATABASE \"{copy}\"")).await.unwrap();
            db.close_by_ref().await.unwrap();
        }
        w.start_hub_process().await.unwrap();
    }
}

/// Keeps the latest intent of each record, as made.
fn made(intents: &mut BTreeMap<Uuid, Activity>, a: &Activity) {
    intents.insert(a.id, a.clone());
}

/// Each node's store equals the hub's view of its school: its own records and the
/// shared records whose current version names it.
async fn assert_nodes_match_hub(when: &str, seen: &BTreeMap<Uuid, Activity>, nodes: &[(&str, &Agent)]) {
    for (who, node) in nodes {
        let school = node.store().school();
        let view: BTreeMap<Uuid, Activity> =
            seen.iter().filter(|(_, a)| a.involves(school)).map(|(id, a)| (*id, a.clone())).collect();
        let held = node.store().all().await.unwrap();
        let missing = view.keys().filter(|id| !held.contains_key(id)).count();
        let extra = held.keys().filter(|id| !view.contains_key(id)).count();
        let differ = view.iter().filter(|(id, a)| held.get(id).is_some_and(|h| h != *a)).count();
        assert!(
            missing == 0 && extra == 0 && differ == 0,
            "{when}: {who}'s store differs from the hub's view of {school}: {missing} records missing, \
             {extra} the hub does not show it, {differ} at another version"
        );
    }
}

/// The hub's database is copied mid-semester; the three nodes (two of one school, one of
/// another) record, edit and delete after the copy and sync; the copy is restored and the
/// hub started. With at most two syncs per node and nothing else, the hub holds every
/// latest intent again and every node equals the hub's view of its school.
async fn a_hub_restored_from_a_backup_catches_up(db: Option<String>) {
    let mut w = world("restored", db).await;
    let (x, y) = (school("T02Z1"), school("T03Z1"));
    let xa = w.node(&x, "a").await.unwrap();
    let xb = w.node(&x, "b").await.unwrap();
    let ya = w.node(&y, "a").await.unwrap();
    let mut intents: BTreeMap<Uuid, Activity> = BTreeMap::new();

    // Before the copy: each node records; two records are shared across the schools.
    let at_xa = records(&x, 20);
    let at_xb = records(&x, 15);
    let at_ya = records(&y, 20);
    let shared_by_y = [delivery(&y, std::slice::from_ref(&x), 1), delivery(&y, std::slice::from_ref(&x), 2)];
    let shared_by_x = delivery(&x, std::slice::from_ref(&y), 5);
    xa.store().record_all(&at_xa).await.unwrap();
    xa.store().record(&shared_by_x).await.unwrap();
    xb.store().record_all(&at_xb).await.unwrap();
    ya.store().record_all(&at_ya).await.unwrap();
    ya.store().record_all(&shared_by_y).await.unwrap();
    for a in at_xa.iter().chain(&at_xb).chain(&at_ya).chain(&shared_by_y).chain([&shared_by_x]) {
        made(&mut intents, a);
    }
    let nodes = [("T02Z1 node a", &xa), ("T02Z1 node b", &xb), ("T03Z1 node a", &ya)];
    for _ in 0..2 {
        for (who, node) in nodes {
            sync_ok(node, who).await;
        }
    }

    let backup = Backup::take(&mut w).await;
    let (xa, xb, ya) = (reconnect(&w, &xa), reconnect(&w, &xb), reconnect(&w, &ya));
    let nodes = [("T02Z1 node a", &xa), ("T02Z1 node b", &xb), ("T03Z1 node a", &ya)];

    // After the copy: new records, edits and deletes everywhere, a partner's edit included.
    let changes: Vec<(&Agent, Activity)> = vec![
        (&xa, edited(&at_xa[0], "复制后修改")),
        (&xa, edited(&at_xa[1], "复制后修改")),
        (&xa, deleted(&at_xa[2])),
        (&xa, edited(&shared_by_y[0], "合作校复制后修改")),
        (&xb, edited(&at_xa[5], "另一台电脑修改")),
        (&xb, deleted(&at_xb[0])),
        (&xb, edited(&shared_by_x, "另一台电脑修改共享记录")),
        (&ya, deleted(&at_ya[0])),
        (&ya, edited(&at_ya[1], "复制后修改")),
        (&ya, edited(&shared_by_y[1], "本校复制后修改")),
    ];
    for (node, next) in &changes {
        node.store().update(next).await.unwrap();
        made(&mut intents, next);
    }
    for (node, n) in [(&xa, 12), (&xb, 7), (&ya, 9)] {
        let more = records(node.store().school(), n);
        node.store().record_all(&more).await.unwrap();
        for a in &more {
            made(&mut intents, a);
        }
    }
    for _ in 0..2 {
        for (who, node) in nodes {
            sync_ok(node, who).await;
        }
    }
    let both = [x.clone(), y.clone()];
    let (seen, counts) = fresh_read(w.hub_url(), &both).await;
    assert_hub_holds("before the restore (the test's own bookkeeping)", &seen, &counts, &intents);
    assert_nodes_match_hub("before the restore (the test's own bookkeeping)", &seen, &nodes).await;

    // The county restores the older copy and starts the hub; each node syncs at most twice.
    backup.restore(&mut w).await;
    let (xa, xb, ya) = (reconnect(&w, &xa), reconnect(&w, &xb), reconnect(&w, &ya));
    let nodes = [("T02Z1 node a", &xa), ("T02Z1 node b", &xb), ("T03Z1 node a", &ya)];
    for round in 1..=2 {
        for (who, node) in nodes {
            sync_ok(node, &format!("{who} (sync {round} after the restore)")).await;
        }
    }
    let (seen, counts) = fresh_read(w.hub_url(), &both).await;
    assert_hub_holds(
        "after the restore and two syncs per node, the hub read through a fresh connection",
        &seen,
        &counts,
        &intents,
    );
    assert_nodes_match_hub("after the restore and two syncs per node", &seen, &nodes).await;
}
on_both_backends!(a_hub_restored_from_a_backup_catches_up);

/// A restore under a refused edit: the owner's record reached the hub and its partner
/// school, then the clerk's edit of it was refused (a date past the semester) and waits,
/// quarantined; the hub is then restored from a copy taken before the record existed.
/// The version the county had acknowledged comes back to the hub (the owner's node sends
/// the version the refused edit was made from), the partner's copy agrees with the hub
/// again, and the refused edit still waits for the clerk. (Found by the intent suite:
/// seed 3 of the 1,000-schedule SQLite run.)
async fn a_restore_under_a_refused_edit_brings_back_what_the_county_had(db: Option<String>) {
    let mut w = world("restored_refused", db).await;
    let (x, y) = (school("T08Z1"), school("T02Z1"));
    let backup = Backup::take(&mut w).await;
    let xa = w.node(&x, "a").await.unwrap();
    let ya = w.node(&y, "a").await.unwrap();
    let shared = delivery(&x, std::slice::from_ref(&y), 3);
    xa.store().record(&shared).await.unwrap();
    sync_ok(&xa, "T08Z1 node a").await;
    sync_ok(&ya, "T02Z1 node a").await;
    assert_eq!(ya.store().get(shared.id).await.unwrap().as_ref(), Some(&shared), "the partner has v1");

    // The edit moves the date past the county's semester (2025-01-20): refused, quarantined.
    let mut late = edited(&shared, "日期写错了");
    late.date = chrono::NaiveDate::from_ymd_opt(2025, 1, 23).unwrap();
    xa.store().update(&late).await.unwrap();
    sync_ok(&xa, "T08Z1 node a").await;
    let waiting = xa.store().quarantined().await.unwrap();
    assert_eq!(waiting.len(), 1, "the late edit waits at its node: {waiting:?}");

    backup.restore(&mut w).await;
    let (xa, ya) = (reconnect(&w, &xa), reconnect(&w, &ya));
    for round in 1..=2 {
        sync_ok(&xa, &format!("T08Z1 node a (sync {round} after the restore)")).await;
        sync_ok(&ya, &format!("T02Z1 node a (sync {round} after the restore)")).await;
    }
    let (seen, _) = fresh_read(w.hub_url(), &[x.clone(), y.clone()]).await;
    assert_eq!(seen.get(&shared.id), Some(&shared), "the hub holds again the version the county had");
    assert_eq!(ya.store().get(shared.id).await.unwrap().as_ref(), Some(&shared), "the partner agrees");
    let waiting = xa.store().quarantined().await.unwrap();
    assert_eq!(waiting.len(), 1, "the refused edit still waits for the clerk: {waiting:?}");
    assert_eq!(xa.store().get(shared.id).await.unwrap().map(|a| a.version), Some(2));
}
on_both_backends!(a_restore_under_a_refused_edit_brings_back_what_the_county_had);

/// As above, but the hub's refusal of the late edit never reached the node (the reply
/// was lost), so at the comparison after the restore the edit waits unsent, about to be
/// refused again, and the hub lacks the record. The owner sends the version the edit was
/// made from with it. (Found by the intent suite: seeds 242 and 599 of the 1,000-schedule
/// SQLite run, where a partner then held a record the hub did not.)
async fn a_restore_under_an_edit_whose_refusal_was_lost_brings_back_what_the_county_had(db: Option<String>) {
    let mut w = world("restored_lost_refusal", db).await;
    let (x, y) = (school("T08Z1"), school("T02Z1"));
    let backup = Backup::take(&mut w).await;
    let xa = w.node(&x, "a").await.unwrap();
    let ya = w.node(&y, "a").await.unwrap();
    let shared = delivery(&x, std::slice::from_ref(&y), 3);
    xa.store().record(&shared).await.unwrap();
    sync_ok(&xa, "T08Z1 node a").await;
    sync_ok(&ya, "T02Z1 node a").await;

    let mut late = edited(&shared, "日期写错了");
    late.date = chrono::NaiveDate::from_ymd_opt(2025, 1, 23).unwrap();
    xa.store().update(&late).await.unwrap();
    let lost = yanpei_node::SyncOptions {
        fault: Some(yanpei_node::Fault::LoseAckOfPush(1)),
        ..yanpei_node::SyncOptions::default()
    };
    assert!(xa.sync_with(lost).await.is_err(), "the refusal's reply is lost");
    assert_eq!(xa.store().pending_count().await.unwrap(), 1, "the late edit waits unsent");

    backup.restore(&mut w).await;
    let (xa, ya) = (reconnect(&w, &xa), reconnect(&w, &ya));
    for round in 1..=2 {
        sync_ok(&xa, &format!("T08Z1 node a (sync {round} after the restore)")).await;
        sync_ok(&ya, &format!("T02Z1 node a (sync {round} after the restore)")).await;
    }
    let (seen, _) = fresh_read(w.hub_url(), &[x.clone(), y.clone()]).await;
    assert_eq!(seen.get(&shared.id), Some(&shared), "the hub holds again the version the county had");
    assert_eq!(ya.store().get(shared.id).await.unwrap().as_ref(), Some(&shared), "the partner agrees");
    let waiting = xa.store().quarantined().await.unwrap();
    assert_eq!(waiting.len(), 1, "the refused edit waits for the clerk: {waiting:?}");
}
on_both_backends!(a_restore_under_an_edit_whose_refusal_was_lost_brings_back_what_the_county_had);

/// A partner school's node holds the losing version of its partner's concurrent edits
/// when the hub is restored from a copy taken before the record existed; the owner's
/// nodes send the winner again, and the partner's comparison after the restore ran while
/// the hub still lacked the record. The partner's next pull (no scheduled comparison
/// needed) sends its version again, the hub keeps it as the losing version, and the
/// partner takes the winner. (Found by the intent suite: seed 81 of the 1,000-schedule
/// SQLite run.)
async fn a_partner_holding_a_version_the_restored_hub_lost_takes_the_winner(db: Option<String>) {
    let mut w = world("restored_loser", db).await;
    let (x, y) = (school("CGZ1"), school("T06Z1"));
    let backup = Backup::take(&mut w).await;
    let (xa, xb, ya) =
        (w.node(&x, "a").await.unwrap(), w.node(&x, "b").await.unwrap(), w.node(&y, "a").await.unwrap());
    let shared = delivery(&x, std::slice::from_ref(&y), 4);
    xa.store().record(&shared).await.unwrap();
    for (who, node) in [("x a", &xa), ("x b", &xb), ("y a", &ya)] {
        sync_ok(node, who).await;
    }
    // The node with the greater id wins a tie of versions: the other edits first, and the
    // partner pulls that edit before the winning one arrives.
    let (first, second) = if xa.store().node_id() < xb.store().node_id() { (&xa, &xb) } else { (&xb, &xa) };
    let losing = edited(&shared, "先改的版本");
    let winning = edited(&shared, "后改的版本");
    first.store().update(&losing).await.unwrap();
    second.store().update(&winning).await.unwrap();
    sync_ok(first, "first editor").await;
    sync_ok(&ya, "y a").await;
    assert_eq!(ya.store().get(shared.id).await.unwrap().as_ref(), Some(&losing));
    sync_ok(second, "second editor").await;
    sync_ok(first, "first editor").await;

    backup.restore(&mut w).await;
    let (xa, xb, ya) = (reconnect(&w, &xa), reconnect(&w, &xb), reconnect(&w, &ya));
    // The partner compares first, while the restored hub lacks the record altogether.
    sync_ok(&ya, "y a (after the restore)").await;
    sync_ok(&xa, "x a (after the restore)").await;
    sync_ok(&xb, "x b (after the restore)").await;
    for round in 1..=2 {
        sync_ok(&ya, &format!("y a (pull {round} after the owner's nodes)")).await;
    }
    let (seen, _) = fresh_read(w.hub_url(), &[x.clone(), y.clone()]).await;
    assert_eq!(seen.get(&shared.id), Some(&winning), "the hub holds the winner");
    assert_eq!(ya.store().get(shared.id).await.unwrap().as_ref(), Some(&winning), "the partner took it");
}
on_both_backends!(a_partner_holding_a_version_the_restored_hub_lost_takes_the_winner);
