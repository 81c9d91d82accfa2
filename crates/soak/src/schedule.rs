//! One seeded schedule and its check.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use uuid::Uuid;
use yanpei_demo::{DEMO_SEMESTER, DemoError, DemoWorld, demo_roster, start_world};
use yanpei_domain::{Activity, ActivityKind, Field, SchoolCode, example_draft};
use yanpei_node::{Agent, Fault, SyncOptions};
use yanpei_store::StoreError;
use yanpei_store::hub::StatsFilter;
use yanpei_store::rollup::Rollups;

use crate::CutProxy;
use crate::grpc::{RawPushError, Sent, raw_push, sent};

/// What stops a schedule from running at all (not an invariant violation).
#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    /// Setting up the world.
    #[error(transparent)]
    World(#[from] DemoError),
    /// A store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The proxy or a file.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Something that must work did not (a sync with no fault injected, say).
    #[error("{0}")]
    Unexpected(String),
    /// A process of the run (the hub, mount) could not be started or driven.
    #[error("{0}")]
    Process(String),
}

/// How many faults of each kind a schedule injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Connections cut part-way through a sync.
    pub cuts: u32,
    /// Acknowledgements lost after the hub committed.
    pub lost_acks: u32,
    /// Acknowledged batches sent again.
    pub replays: u32,
    /// Hub stops (in-flight requests finish or roll back) and restarts.
    pub hub_restarts: u32,
    /// Node writes cancelled half-way (the transaction rolls back).
    pub node_crashes: u32,
}

impl std::ops::AddAssign for FaultCounts {
    fn add_assign(&mut self, o: Self) {
        self.cuts += o.cuts;
        self.lost_acks += o.lost_acks;
        self.replays += o.replays;
        self.hub_restarts += o.hub_restarts;
        self.node_crashes += o.node_crashes;
    }
}

/// The outcome of one schedule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Faults injected.
    pub faults: FaultCounts,
    /// Records (tombstones included) compared between nodes and hub.
    pub records_checked: u64,
    /// Records a node holds that the hub lacks or holds at an older version.
    pub lost: u64,
    /// Records the hub holds that no node has, or counts more than once.
    pub duplicated: u64,
    /// County counts that differ from a recount of the hub's rows.
    pub count_mismatches: u64,
    /// One line per violation, for replaying by hand.
    pub violations: Vec<String>,
}

const SCHOOLS: [&str; 4] = ["CGZ2", "T02Z1", "T07X1", "T11Z1"];

/// A node of the schedule: its agent (through the proxy) and the records it created.
struct Node {
    agent: Agent,
    own: Vec<Uuid>,
}

fn new_records(rng: &mut StdRng, school: &SchoolCode, n: usize) -> Vec<Activity> {
    // Every kind of the taxonomy, except those that involve a second school (their
    // records would also live at that school's nodes; tests/taxonomy.rs covers them).
    let kinds: Vec<ActivityKind> = ActivityKind::ALL
        .iter()
        .copied()
        .filter(|k| !k.family().required().contains(&Field::PartnerSchools))
        .collect();
    (0..n)
        .filter_map(|_| {
            let kind = kinds[rng.random_range(0..kinds.len())];
            let day =
                NaiveDate::from_ymd_opt(2024, 9, 2)? + chrono::TimeDelta::days(rng.random_range(0..130));
            let mut body = example_draft(kind, school);
            body.details.partner_schools.clear();
            // The example's attachment names a file no node holds, and the hub takes a record
            // only after its attachments (tests/attachments.rs covers those, cuts included).
            body.details.attachments.clear();
            body.actor = format!("教师{}", rng.random_range(0..40));
            if body.topic.is_some() {
                body.topic = Some(format!("课题{}", rng.random_range(0..1000)));
            }
            if body.teacher.is_some() {
                body.teacher = Some(format!("教师{}", rng.random_range(0..40)));
            }
            if body.rating.is_some() {
                body.rating = Some(rng.random_range(60..=100));
            }
            Activity::create(school.clone(), DEMO_SEMESTER, day, kind, body).ok()
        })
        .collect()
}

fn unexpected(what: &str, e: impl std::fmt::Display) -> SoakError {
    SoakError::Unexpected(format!("{what}: {e}"))
}

/// Runs the schedule of `seed` in `dir` (hub on SQLite there, or on `database_url`).
pub async fn run_seed(seed: u64, dir: &Path, database_url: Option<String>) -> Result<SeedReport, SoakError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let roster = demo_roster().map_err(|p| unexpected("demo roster", format!("{p:?}")))?;
    let mut world = start_world(dir, &roster, database_url).await?;
    let proxy = CutProxy::start(world.hub_addr).await?;
    let mut faults = FaultCounts::default();

    // Three to five nodes; two may share a school (two office PCs).
    let count = rng.random_range(3..=5);
    let mut nodes = Vec::new();
    for i in 0..count {
        let school: SchoolCode =
            SCHOOLS[rng.random_range(0..SCHOOLS.len())].parse().map_err(|e| unexpected("school code", e))?;
        let agent = world.node_via(&school, &format!("n{i}"), proxy.addr).await?;
        let n = rng.random_range(1..=20);
        let first = new_records(&mut rng, &school, n);
        agent.store().record_all(&first).await?;
        nodes.push(Node { agent, own: first.iter().map(|a| a.id).collect() });
    }

    let steps = rng.random_range(10..=18);
    for _ in 0..steps {
        let i = rng.random_range(0..nodes.len());
        let opts = SyncOptions { batch_size: rng.random_range(3..=40), ..SyncOptions::default() };
        match rng.random_range(0..10) {
            0..=2 => record_or_edit(&mut rng, &mut nodes[i]).await?,
            3 => {
                // A node write cancelled at a random moment: all of it or none of it.
                let n = rng.random_range(5..=40);
                let records = new_records(&mut rng, nodes[i].agent.store().school(), n);
                let store = nodes[i].agent.store().clone();
                let deadline = Duration::from_micros(rng.random_range(0..4000));
                let ids: Vec<Uuid> = records.iter().map(|a| a.id).collect();
                match tokio::time::timeout(deadline, async move { store.record_all(&records).await }).await {
                    Err(_) => faults.node_crashes += 1,
                    Ok(r) => {
                        r?;
                        nodes[i].own.extend(ids);
                    }
                }
            }
            4 => {
                ensure_pending(&mut rng, &mut nodes[i]).await?;
                let node = &nodes[i];
                let whole = (node.agent.store().pending_count().await? * 300).max(400);
                let before = proxy.cuts();
                proxy.cut_after(rng.random_range(100..whole));
                let outcome = node.agent.sync_with(opts).await;
                proxy.cut_after(0);
                if outcome.is_err() && proxy.cuts() > before {
                    faults.cuts += 1;
                }
            }
            5 => {
                ensure_pending(&mut rng, &mut nodes[i]).await?;
                let lose = Fault::LoseAckOfPush(1);
                if nodes[i].agent.sync_with(SyncOptions { fault: Some(lose), ..opts }).await.is_err() {
                    faults.lost_acks += 1;
                }
            }
            6 => {
                if replay(&world, &proxy, &nodes[i], opts).await? {
                    faults.replays += 1;
                }
            }
            7 => {
                world.stop_hub().await?;
                world.start_hub().await?;
                proxy.retarget(world.hub_addr);
                faults.hub_restarts += 1;
            }
            _ => {
                nodes[i].agent.sync_with(opts).await.map_err(|e| unexpected("a sync without faults", e))?;
            }
        }
    }

    // Heal: every node syncs with no faults until nothing is pending, then once more
    // so each node also holds its siblings' records.
    proxy.cut_after(0);
    for _ in 0..2 {
        for node in &nodes {
            node.agent.sync_once().await.map_err(|e| unexpected("healing sync", e))?;
        }
    }
    let mut report = check(&world, &nodes).await?;
    report.seed = seed;
    report.faults = faults;
    world.stop_hub().await?;
    Ok(report)
}

/// Records a few changes if the node has nothing to send, so a fault has something to hit.
async fn ensure_pending(rng: &mut StdRng, node: &mut Node) -> Result<(), SoakError> {
    if node.agent.store().pending_count().await? == 0 {
        let n = rng.random_range(5..=25);
        let records = new_records(rng, node.agent.store().school(), n);
        node.agent.store().record_all(&records).await?;
        node.own.extend(records.iter().map(|a| a.id));
    }
    Ok(())
}

async fn record_or_edit(rng: &mut StdRng, node: &mut Node) -> Result<(), SoakError> {
    let store = node.agent.store();
    if node.own.is_empty() || rng.random_range(0..3) == 0 {
        let n = rng.random_range(1..=30);
        let records = new_records(rng, store.school(), n);
        store.record_all(&records).await?;
        node.own.extend(records.iter().map(|a| a.id));
        return Ok(());
    }
    // Edit or delete a few of its own live records.
    for _ in 0..rng.random_range(1..=4) {
        let id = node.own[rng.random_range(0..node.own.len())];
        let Some(mut a) = store.get(id).await? else { continue };
        if a.deleted {
            continue;
        }
        a.version += 1;
        if rng.random_range(0..4) == 0 {
            a.deleted = true;
        } else {
            a.body.notes = Some(format!("修改{}", rng.random_range(0..1000)));
        }
        store.update(&a).await?;
    }
    Ok(())
}

/// Syncs a node, then sends the batch it just delivered again, as its own node:
/// the hub must change nothing. Returns whether a replay was sent.
async fn replay(
    world: &DemoWorld,
    proxy: &CutProxy,
    node: &Node,
    opts: SyncOptions,
) -> Result<bool, SoakError> {
    let store = node.agent.store();
    let batch = store.pending(opts.batch_size).await?;
    node.agent.sync_with(opts).await.map_err(|e| unexpected("sync before a replay", e))?;
    if batch.is_empty() {
        return Ok(false);
    }
    let endpoint = world.node_endpoint_via(store.school(), proxy.addr)?;
    let changes: Vec<Sent> = batch.into_iter().map(sent).collect();
    let reply = raw_push(&endpoint, store.node_id(), store.school(), "soak-replay", &changes)
        .await
        .map_err(replay_failed)?;
    if reply.applied != 0 {
        return Err(SoakError::Unexpected(format!("a replay changed {} records at the hub", reply.applied)));
    }
    Ok(true)
}

/// A replay session that failed, named by its step.
fn replay_failed(e: RawPushError) -> SoakError {
    match e {
        RawPushError::Connect(e) => unexpected("connect for a replay", e),
        RawPushError::Handshake(e) => unexpected("replay handshake", e),
        RawPushError::Push(e) => unexpected("replay push", e),
    }
}

/// The invariant, school by school.
async fn check(world: &DemoWorld, nodes: &[Node]) -> Result<SeedReport, SoakError> {
    let mut report = SeedReport::default();
    // The union of the nodes' records per school, at the highest version any node holds.
    let mut expected: BTreeMap<SchoolCode, BTreeMap<Uuid, Activity>> = BTreeMap::new();
    for node in nodes {
        let store = node.agent.store();
        if store.pending_count().await? != 0 {
            report
                .violations
                .push(format!("node {} still has unsent changes after healing", store.node_id()));
        }
        let union = expected.entry(store.school().clone()).or_default();
        for (id, a) in store.all().await? {
            match union.get(&id) {
                Some(b) if b.version >= a.version => {}
                _ => {
                    union.insert(id, a);
                }
            }
        }
    }
    let counted = world.hub_store.stats(&StatsFilter::default()).await?;
    let mut all_held: Vec<Activity> = Vec::new();
    for (school, union) in &expected {
        let held = world.hub_store.activities_of(school).await?;
        all_held.extend(held.values().cloned());
        for (id, a) in union {
            report.records_checked += 1;
            match held.get(id) {
                Some(h) if h == a => {}
                Some(h) => {
                    report.lost += 1;
                    report.violations.push(format!(
                        "{school} {id}: hub holds v{}, a node holds v{}",
                        h.version, a.version
                    ));
                }
                None => {
                    report.lost += 1;
                    report.violations.push(format!("{school} {id}: missing at the hub"));
                }
            }
        }
        for id in held.keys().filter(|id| !union.contains_key(id)) {
            report.duplicated += 1;
            report.violations.push(format!("{school} {id}: at the hub but at no node"));
        }
        let live = held.values().filter(|a| !a.deleted).count() as u64;
        let stats: u64 = counted.iter().filter(|c| c.school == school.as_str()).map(|c| c.count).sum();
        if stats != live {
            report.count_mismatches += 1;
            report.violations.push(format!("{school}: county count {stats}, recount {live}"));
        }
        if stats > live {
            report.duplicated += stats - live;
        }
    }
    // Every rollup (by week, person and subject) equals a recomputation from the hub's rows.
    if world.hub_store.rollups().await? != Rollups::recompute(&all_held) {
        report.count_mismatches += 1;
        report.violations.push("rollups differ from a recomputation of the hub's records".into());
    }
    Ok(report)
}
