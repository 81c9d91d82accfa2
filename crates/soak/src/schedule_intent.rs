//! One seeded schedule of the intent suite: a county whose hub is a process, three
//! or four schools with one to three nodes each, about `records` records created,
//! edited, deleted and shared by the schools' people (every action in the intent
//! log) while every fault kind is injected at least once; then every node syncs
//! until quiet, the hub process stops, and the checker reads its database from
//! outside and judges it, and the nodes, against the log.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use yanpei_domain::SchoolCode;
use yanpei_node::{SyncOptions, SyncReport};

use crate::SoakError;
use crate::check::{NodeSnapshot, Verdict, check};
use crate::faults::{FaultKind, FaultTally};
use crate::grpc::Sent;
use crate::intent::{Actor, EventKind, IntentLog};
use crate::outside::{read_hub_db, read_node};
use crate::people::{Cast, SoakNode};
use crate::world::ProcWorld;

/// How to run the intent suite.
#[derive(Debug, Clone)]
pub struct IntentOptions {
    /// Records a schedule creates (about).
    pub records: usize,
    /// The `yanpei` binary the hub runs as (`hub serve`).
    pub exe: PathBuf,
    /// Put the hub's database on a small tmpfs (needs root) so its disk can fill.
    pub small_disk: bool,
    /// The kinds to inject ([`FaultKind::ALL`] by default). Without
    /// [`FaultKind::SiblingEdits`] only one node per school edits, so no two nodes
    /// edit from different bases; without [`FaultKind::PartnerChange`] no partner
    /// school changes; without [`FaultKind::ForeignOwner`] nobody pushes for another school.
    pub kinds: Vec<FaultKind>,
    /// Planted bugs for the hub process (`yanpei_store::planted`), to show the checker catches them.
    pub planted: Option<String>,
    /// Run the hub on PostgreSQL: the server's admin URL (each schedule gets a fresh
    /// database, dropped after its check). `None`: SQLite.
    pub postgres: Option<String>,
}

impl IntentOptions {
    /// Every kind, the hub on a tmpfs.
    pub fn new(records: usize, exe: PathBuf) -> IntentOptions {
        IntentOptions {
            records,
            exe,
            small_disk: true,
            kinds: FaultKind::ALL.to_vec(),
            planted: None,
            postgres: None,
        }
    }
}

/// The outcome of one schedule.
#[derive(Debug, Clone, Serialize)]
pub struct IntentReport {
    /// The seed.
    pub seed: u64,
    /// Records asked for.
    pub records: usize,
    /// Faults injected, by kind.
    pub faults: FaultTally,
    /// What the checker found.
    pub verdict: Verdict,
    /// Things that happened the report should mention (the hub exiting by itself, ...).
    pub notes: Vec<String>,
    /// Wall time.
    pub millis: u128,
    /// Where the run's files are (intent log, hub logs, stores).
    pub dir: String,
}

/// Schools a schedule draws from: the pairs of the demo county and their neighbours.
const SCHOOLS: [&str; 10] =
    ["CGZ1", "T08Z1", "T01Z1", "CGZ2", "T02Z1", "T05Z1", "T05Z2", "T07X1", "T11Z1", "T06Z1"];

/// A running schedule.
pub(crate) struct Sched {
    pub(crate) world: ProcWorld,
    pub(crate) cast: Cast,
    pub(crate) rng: StdRng,
    pub(crate) tally: FaultTally,
    pub(crate) notes: Vec<String>,
    /// Log position of the hub backup a restore puts back.
    pub(crate) backup_n: Option<u64>,
    /// Batches delivered, by node, for replays.
    pub(crate) delivered: Vec<(usize, Vec<Sent>)>,
    /// The kinds this run injects.
    pub(crate) kinds: Vec<FaultKind>,
}

impl Sched {
    /// Sync options with a random batch size.
    pub(crate) fn options(&mut self) -> SyncOptions {
        SyncOptions { batch_size: self.rng.random_range(3..=60), ..SyncOptions::default() }
    }

    /// One sync of node `i` (at most a minute).
    pub(crate) async fn sync(&mut self, i: usize, opts: SyncOptions) -> Result<SyncReport, String> {
        let agent = self.cast.nodes[i].agent.clone();
        match tokio::time::timeout(Duration::from_secs(60), agent.sync_with(opts)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the sync took over a minute".into()),
        }
    }

    /// One sync of node `i` with a random batch size.
    pub(crate) async fn sync_random(&mut self, i: usize) -> Result<SyncReport, String> {
        let opts = self.options();
        self.sync(i, opts).await
    }

    /// Makes sure node `i` has at least `n` unsent changes, recording new ones if not.
    pub(crate) async fn ensure_pending(&mut self, i: usize, n: u64) -> Result<(), SoakError> {
        let have = self.cast.nodes[i].agent.store().pending_count().await?;
        if have < n {
            let school = self.cast.nodes[i].actor.school.clone();
            let want = usize::try_from(n - have).unwrap_or(1) + self.rng.random_range(0..10);
            let records = self.cast.new_records(&mut self.rng, &school, want, 0.1);
            self.cast.record(i, records, None).await?;
        }
        Ok(())
    }

    /// Whether this world can inject `kind` at all (a disk to fill, a second hub's database).
    pub(crate) fn can_inject(&self, kind: FaultKind) -> bool {
        match kind {
            FaultKind::DiskFull => self.world.has_small_disk(),
            FaultKind::NodeDiskFull => self.world.node_fs().is_some(),
            FaultKind::TwoHubs => self.world.on_postgres(),
            FaultKind::HubIoError => self.world.eio().is_some() && !self.world.on_postgres(),
            FaultKind::NodeIoError => self.world.eio().is_some(),
            _ => true,
        }
    }

    /// Whether this run injects `kind`.
    pub(crate) fn enabled(&self, kind: FaultKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// The node whose people edit instead of node `i`: itself, or without sibling edits
    /// the first node of its school (so no two nodes edit one record from different bases).
    pub(crate) fn editor(&self, i: usize) -> usize {
        if self.enabled(FaultKind::SiblingEdits) {
            return i;
        }
        let school = &self.cast.nodes[i].actor.school;
        self.cast.nodes.iter().position(|n| &n.actor.school == school).unwrap_or(i)
    }

    /// A school with two or more nodes, if any.
    pub(crate) fn sibling_school(&mut self) -> Option<SchoolCode> {
        let schools: Vec<SchoolCode> = self
            .cast
            .schools
            .iter()
            .filter(|s| self.cast.nodes.iter().filter(|n| &n.actor.school == *s).count() >= 2)
            .cloned()
            .collect();
        schools.get(self.rng.random_range(0..schools.len().max(1))).cloned()
    }

    /// One ordinary step: people at work, or a node syncing.
    async fn ordinary(&mut self, target: usize) -> Result<(), SoakError> {
        let i = self.rng.random_range(0..self.cast.nodes.len());
        let roll = self.rng.random_range(0..100);
        if roll < 35 && self.cast.created < target {
            let school = self.cast.nodes[i].actor.school.clone();
            let n = self.rng.random_range(5..=30).min(target - self.cast.created).max(1);
            let records = self.cast.new_records(&mut self.rng, &school, n, 0.12);
            self.cast.record(i, records, None).await?;
        } else if roll < 62 {
            let i = self.editor(i);
            let live = self.cast.editable(i).await?;
            for _ in 0..self.rng.random_range(1..=12).min(live.len()) {
                let id = live[self.rng.random_range(0..live.len())].id;
                let Some(base) = self.cast.nodes[i].agent.store().get(id).await? else { continue };
                if !base.deleted {
                    let delete = self.rng.random_bool(0.15);
                    self.cast.change(&mut self.rng, i, &base, delete, None).await?;
                }
            }
        } else if roll < 68 && self.enabled(FaultKind::PartnerChange) {
            let i = self.editor(i);
            let shared: Vec<_> = self
                .cast
                .editable(i)
                .await?
                .into_iter()
                .filter(|a| !a.body.details.partner_schools.is_empty())
                .collect();
            if let Some(base) = shared.get(self.rng.random_range(0..shared.len().max(1))).cloned()
                && self.cast.repartner(&mut self.rng, i, &base).await?
            {
                self.tally.add(FaultKind::PartnerChange);
            }
        } else if roll < 73 {
            self.cast.resolve(&mut self.rng, i).await?;
        } else if roll < 75 && self.roster_changes() {
            let i = self.editor(i);
            self.cast.fix_quarantined(&mut self.rng, i).await?;
        } else {
            let opts = self.options();
            let _ = self.sync(i, opts).await;
        }
        Ok(())
    }

    /// Every node syncs with no faults until a round changes nothing (at most five rounds);
    /// each node keeps the errors of its last round.
    async fn heal(&mut self) -> Result<(), SoakError> {
        self.world.proxy.set_plan(crate::wire::Plan::default());
        if let Some(t) = self.world.tmpfs() {
            t.free()?;
        }
        if let Some(t) = self.world.node_fs() {
            t.free()?;
        }
        if let Some(e) = self.world.eio() {
            e.lower()?;
        }
        if let Some(died) = self.world.ensure_hub().await? {
            self.notes.push(format!("the hub had exited by itself: {died}"));
        }
        for round in 0..5 {
            let mut quiet = true;
            for i in 0..self.cast.nodes.len() {
                let r = self.sync(i, SyncOptions::default()).await;
                self.cast.nodes[i].errors.clear();
                match r {
                    Ok(rep) => quiet &= rep.pushed == 0 && rep.pulled == 0,
                    Err(e) => {
                        quiet = false;
                        self.cast.nodes[i].errors.push(e);
                    }
                }
            }
            if quiet && round >= 1 {
                break;
            }
        }
        Ok(())
    }
}

/// Runs the schedule of `seed` in `dir` (created; its files stay for replaying by hand).
pub async fn run_intent_seed(seed: u64, dir: &Path, opts: &IntentOptions) -> Result<IntentReport, SoakError> {
    let started = Instant::now();
    std::fs::create_dir_all(dir)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let world = ProcWorld::create(
        dir,
        &opts.exe,
        opts.small_disk,
        opts.records,
        opts.planted.clone(),
        opts.postgres.as_deref(),
        seed,
    )
    .await?;
    let log = IntentLog::create(&dir.join("intents.jsonl"))?;
    let cast = gather(&world, &mut rng, log, opts, seed).await?;
    let mut s = Sched {
        world,
        cast,
        rng,
        tally: FaultTally::default(),
        notes: Vec::new(),
        backup_n: None,
        delivered: Vec::new(),
        kinds: opts.kinds.clone(),
    };
    // Boxed: the schedule's state is large, and a test thread's stack is small.
    let outcome = Box::pin(drive(&mut s, opts.records)).await;
    // Whatever happened, stop the hub and unmount its disk before reporting.
    let db = s.world.shut_down().await;
    if let Err(e) = outcome {
        if let Ok(db) = &db {
            let _ = db.remove().await;
        }
        return Err(e);
    }
    let db = db?;

    let mut snapshots: Vec<NodeSnapshot> = Vec::new();
    let paths: Vec<(PathBuf, String, Vec<String>)> = s
        .cast
        .nodes
        .iter()
        .map(|n| (s.world.node_path(&n.actor.node), n.actor.node.clone(), n.errors.clone()))
        .collect();
    let Sched { cast, tally, mut notes, world, .. } = s;
    let Cast { nodes, log, .. } = cast;
    drop(nodes);
    for (path, name, errors) in paths {
        snapshots.push(read_node(&path, &name, errors).await?);
    }
    let hub = match read_hub_db(&db, &dir.join("check")).await {
        Ok(hub) => hub,
        Err(e) => {
            let _ = db.remove().await;
            return Err(e.into());
        }
    };
    let verdict = check(&log, &hub, &snapshots);
    if !verdict.is_clean() {
        world.keep_node_stores()?;
    }
    // A PostgreSQL hub's database goes after a clean check; a failing one stays for a look.
    if verdict.is_clean() {
        db.remove().await?;
    } else if matches!(db, crate::hubdb::HubDb::Postgres { .. }) {
        notes.push(format!("the hub's database is kept for a look: {}", db.url()));
    }
    drop(world);
    let report = IntentReport {
        seed,
        records: opts.records,
        faults: tally,
        verdict,
        notes,
        millis: started.elapsed().as_millis(),
        dir: dir.display().to_string(),
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| SoakError::Unexpected(e.to_string()))?;
    std::fs::write(dir.join("report.json"), json)?;
    Ok(report)
}

/// The schedule's people: three or four schools with their nodes, the two outside
/// schools its shared records may name, and the roster the hub starts with (logged).
async fn gather(
    world: &ProcWorld,
    rng: &mut StdRng,
    mut log: IntentLog,
    opts: &IntentOptions,
    seed: u64,
) -> Result<Cast, SoakError> {
    // Three or four schools; the first has two or three nodes, the others one or two.
    let mut pool: Vec<&str> = SCHOOLS.to_vec();
    rand::seq::SliceRandom::shuffle(pool.as_mut_slice(), rng);
    let count = rng.random_range(3..=4);
    let schools: Vec<SchoolCode> = pool[..count]
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| SoakError::Unexpected(format!("{e}")))?;
    let mut nodes = Vec::new();
    for (k, school) in schools.iter().enumerate() {
        let n = if k == 0 { rng.random_range(2..=3) } else { rng.random_range(1..=2) };
        for j in 0..n {
            let name = format!("{school}-{}", char::from(b'a' + j));
            let agent = world.node(school, &name).await?;
            let actor = Actor { node: name, node_id: agent.store().node_id(), school: school.clone() };
            nodes.push(SoakNode { agent, actor, errors: Vec::new() });
        }
    }
    // Two schools without a node that shared records may name, and a roster version remove.
    let roster = yanpei_demo::demo_roster()
        .map_err(|p| SoakError::Unexpected(format!("the demo roster does not load: {p:?}")))?;
    let mut outside = crate::roster_versions::removable(&roster, &schools);
    outside.sort();
    rand::seq::SliceRandom::shuffle(outside.as_mut_slice(), rng);
    outside.truncate(if opts.kinds.contains(&FaultKind::RosterChange) { 2 } else { 0 });
    let all = roster.schools.iter().map(|s| s.code.clone()).collect();
    let semesters = roster.semesters.clone();
    log.event(EventKind::RosterImported { schools: all, semesters, removed: Vec::new() }, "the demo roster")?;
    let mut cast = Cast::new(nodes, schools, outside, log, seed);
    // People date their records by the county's semester.
    if let Some(t) = roster.semesters.iter().find(|t| t.semester == yanpei_demo::DEMO_SEMESTER) {
        cast.term = (t.start, t.end);
    }
    Ok(cast)
}

async fn drive(s: &mut Sched, target: usize) -> Result<(), SoakError> {
    // Every node records a little and syncs twice, so siblings hold each other's records.
    for i in 0..s.cast.nodes.len() {
        let school = s.cast.nodes[i].actor.school.clone();
        let n = s.rng.random_range(5..=20).min(target.max(5));
        let records = s.cast.new_records(&mut s.rng, &school, n, 0.15);
        s.cast.record(i, records, None).await?;
    }
    for _ in 0..2 {
        for i in 0..s.cast.nodes.len() {
            let _ = s.sync(i, SyncOptions::default()).await;
        }
    }

    // Every kind once, in an order of the seed's; more at random along the way.
    let mut plan: Vec<FaultKind> = s.kinds.iter().copied().filter(|k| s.can_inject(*k)).collect();
    if plan.is_empty() && s.kinds.is_empty() {
        tracing::info!("no faults: people at work only");
    }
    rand::seq::SliceRandom::shuffle(plan.as_mut_slice(), &mut s.rng);
    let backup_at = s.rng.random_range(0..=target / 3);
    let mut steps = 0u32;
    while (s.cast.created < target || !plan.is_empty()) && steps < 20_000 {
        steps += 1;
        if s.backup_n.is_none() && s.cast.created >= backup_at && s.enabled(FaultKind::HubRestore) {
            s.backup().await?;
        }
        if let Some(died) = s.world.ensure_hub().await? {
            s.notes.push(format!("the hub had exited by itself: {died}"));
        }
        let roll = s.rng.random_range(0..100);
        if roll < 12 && !plan.is_empty() {
            let k = s.rng.random_range(0..plan.len());
            let kind = plan[k];
            if kind == FaultKind::HubRestore && s.backup_n.is_none() {
                continue;
            }
            if Box::pin(s.inject(kind)).await? {
                plan.swap_remove(k);
            }
        } else if roll < 17 && !s.kinds.is_empty() {
            let kind = s.kinds[s.rng.random_range(0..s.kinds.len())];
            if kind != FaultKind::HubRestore || s.rng.random_bool(0.2) {
                Box::pin(s.inject(kind)).await?;
            }
        } else {
            Box::pin(s.ordinary(target)).await?;
        }
        if s.cast.created >= target && !plan.is_empty() && s.rng.random_bool(0.5) {
            // Past the records asked for: only the faults still owed remain.
            let kind = plan[0];
            if (kind != FaultKind::HubRestore || s.backup_n.is_some()) && Box::pin(s.inject(kind)).await? {
                plan.remove(0);
            } else if kind != FaultKind::HubRestore {
                plan.remove(0);
                s.notes.push(format!("could not inject {}", kind.label()));
            }
        }
    }
    s.heal().await
}
