//! The load test: one process simulates many nodes, each syncing a night's
//! batch over mutual TLS (its own certificate from the county CA, its own node
//! id) against one hub process; it reports sessions and records per second,
//! session times, errors and the hub's peak memory, and checks that the hub
//! counts every record pushed.
//!
//! A simulated node is a lean client that speaks the real protocol with the
//! node agent's pieces (its `HubEndpoint`, the generated gRPC client, the
//! protobuf conversions): handshake, push its batch, pull every page of its
//! school's changes by other nodes (validating each record as the agent does),
//! ask for the roster, finish. It keeps no SQLite store, so the client side
//! costs little of the CPU the hub shares with it on this machine.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use uuid::Uuid;
use yanpei_node::HubEndpoint;

use crate::BenchError;
use crate::grpc::{WireChanges, county_total, night_session};
use crate::hubproc::HubProcess;
use crate::world::{World, drop_postgres, records_of};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The `yanpei` binary to run the hub with.
    pub exe: PathBuf,
    /// Working directory (certificates, the hub's SQLite file); created if missing.
    pub dir: PathBuf,
    /// Simulated nodes, spread over the demo county's schools.
    pub nodes: usize,
    /// Records each node pushes (its night's batch).
    pub records_per_node: usize,
    /// Sessions in flight at once.
    pub concurrency: usize,
    /// Messages gzip-compressed, as the node agent does by default.
    pub compress: bool,
    /// A PostgreSQL admin URL: the hub runs on a fresh database there instead of a SQLite file.
    pub postgres: Option<String>,
}

/// What the load test measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Simulated nodes.
    pub nodes: usize,
    /// Records each pushed.
    pub records_per_node: usize,
    /// Sessions in flight at once.
    pub concurrency: usize,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Sessions that completed.
    pub sessions_ok: usize,
    /// Sessions that failed.
    pub errors: usize,
    /// The first few errors, verbatim.
    pub error_samples: Vec<String>,
    /// Records pushed by completed sessions.
    pub records_pushed: u64,
    /// Records pulled (other nodes' records of the same school).
    pub records_pulled: u64,
    /// Records the hub counts afterwards (asked as the county operator).
    pub hub_counted: u64,
    /// Wall time from the first session to the last, seconds.
    pub wall_secs: f64,
    /// Completed sessions per second.
    pub sessions_per_sec: f64,
    /// Records pushed per second.
    pub records_per_sec: f64,
    /// Median session time (connect + TLS + handshake + push + pull + roster + finish), ms.
    pub p50_ms: f64,
    /// 99th percentile session time, ms.
    pub p99_ms: f64,
    /// Slowest session, ms.
    pub max_ms: f64,
    /// The hub process's peak resident set (`VmHWM`) after the run, bytes.
    pub hub_peak_rss_bytes: Option<u64>,
}

struct SimNode {
    node_id: Uuid,
    school: String,
    endpoint: HubEndpoint,
    changes: WireChanges,
}

/// Runs the load test: prepares the nodes (not timed), starts the hub process,
/// runs every node's session with at most `concurrency` at once, reads the hub's
/// peak memory, checks the hub's count, and stops the hub.
pub async fn run_load(opts: &LoadOptions) -> Result<LoadReport, BenchError> {
    std::fs::create_dir_all(&opts.dir).map_err(BenchError::io(format!("create {}", opts.dir.display())))?;
    let world = World::create(&opts.dir)?;
    let (url, roster_version) = world.fresh_hub_db("load-hub", opts.postgres.as_deref()).await?;
    let hub = HubProcess::start(&opts.exe, &world, &url).await?;
    let result = drive(opts, &world, &hub, roster_version).await;
    hub.stop().await;
    if let Some(admin) = &opts.postgres {
        drop_postgres(admin, &url).await;
    }
    result
}

async fn drive(
    opts: &LoadOptions,
    world: &World,
    hub: &HubProcess,
    roster_version: u64,
) -> Result<LoadReport, BenchError> {
    // Every node: its own certificate, node id and night's batch (prepared before timing).
    let mut nodes = Vec::with_capacity(opts.nodes);
    for i in 0..opts.nodes {
        let school_idx = i % world.roster.schools.len();
        let school = world.roster.schools[school_idx].code.clone();
        let records = records_of(&world.roster, school_idx, opts.records_per_node, 7919 * i as u64 + 1);
        let changes = WireChanges::of(&records);
        nodes.push(Arc::new(SimNode {
            node_id: Uuid::now_v7(),
            school: school.to_string(),
            endpoint: world.node_endpoint(&school, hub.addr)?,
            changes,
        }));
    }
    let expected: u64 = nodes.iter().map(|n| n.changes.len() as u64).sum();

    let gate = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for node in &nodes {
        let (node, gate) = (node.clone(), gate.clone());
        let compress = opts.compress;
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let t = Instant::now();
            let r = night_session(
                &node.endpoint,
                node.node_id,
                &node.school,
                &node.changes,
                roster_version,
                compress,
            )
            .await;
            (t.elapsed(), r)
        });
    }
    let mut times = Vec::with_capacity(nodes.len());
    let (mut pushed, mut pulled, mut errors) = (0u64, 0u64, 0usize);
    let mut error_samples = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((took, Ok(o))) => {
                times.push(took);
                pushed += o.pushed;
                pulled += o.pulled;
            }
            Ok((_, Err(e))) => {
                errors += 1;
                if error_samples.len() < 5 {
                    error_samples.push(e);
                }
            }
            Err(e) => {
                errors += 1;
                if error_samples.len() < 5 {
                    error_samples.push(format!("session task: {e}"));
                }
            }
        }
    }
    let wall = started.elapsed();
    let hub_peak_rss_bytes = hub.peak_rss();
    let hub_counted = count_at_hub(world, hub).await?;
    if errors == 0 && hub_counted != expected {
        return Err(BenchError::Check(format!(
            "every session succeeded but the hub counts {hub_counted} records, not the {expected} pushed"
        )));
    }
    times.sort();
    let secs = wall.as_secs_f64().max(1e-9);
    Ok(LoadReport {
        nodes: opts.nodes,
        records_per_node: opts.records_per_node,
        concurrency: opts.concurrency,
        backend: if opts.postgres.is_some() { "postgres" } else { "sqlite" }.into(),
        sessions_ok: times.len(),
        errors,
        error_samples,
        records_pushed: pushed,
        records_pulled: pulled,
        hub_counted,
        wall_secs: wall.as_secs_f64(),
        sessions_per_sec: times.len() as f64 / secs,
        records_per_sec: pushed as f64 / secs,
        p50_ms: percentile_ms(&times, 0.50),
        p99_ms: percentile_ms(&times, 0.99),
        max_ms: times.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0),
        hub_peak_rss_bytes,
    })
}

/// The `q` quantile of sorted durations (nearest rank), in ms.
pub(crate) fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// Live records of the demo semester the hub counts, asked as the county operator.
pub(crate) async fn count_at_hub(world: &World, hub: &HubProcess) -> Result<u64, BenchError> {
    county_total(&world.operator_endpoint(hub.addr)?).await
}
