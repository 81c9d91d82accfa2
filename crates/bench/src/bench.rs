//! `yanpei bench`: every figure measured side by side in one run, each against
//! its baseline on the same machine, as ratios.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;
use yanpei_domain::Activity;
use yanpei_node::{Agent, SyncOptions};
use yanpei_store::hub::{HubStore, IncomingChange};
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;

use crate::direct::{self, Rows};
use crate::grpc::WireChanges;
use crate::hubproc::HubProcess;
use crate::load::{LoadOptions, LoadReport, count_at_hub, run_load};
use crate::wire::CountingProxy;
use crate::world::{World, drop_postgres, records_of};
use crate::{BenchError, Machine, nodemem, pouch};

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The `yanpei` binary (hub and node processes).
    pub exe: PathBuf,
    /// Working directory; created if missing.
    pub dir: PathBuf,
    /// Small sizes: the whole run in seconds, every row produced (for tests).
    pub quick: bool,
    /// PostgreSQL admin URL for the PostgreSQL rows (a fresh database per run); `None` skips them.
    pub postgres: Option<String>,
    /// The PouchDB script's folder (default: `crates/bench/pouchdb` of the source tree).
    pub pouchdb_dir: Option<PathBuf>,
    /// The command line as run, for the report.
    pub command: String,
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// Records in the ingest, COPY and PouchDB comparisons.
    pub ingest_records: usize,
    /// Records per sync in the bytes-on-the-wire measurement.
    pub wire_records: usize,
    /// Records in the node memory measurement.
    pub node_records: usize,
    /// Node counts of the load tests.
    pub load_nodes: [usize; 2],
    /// Records per simulated node.
    pub load_records_per_node: usize,
    /// Sessions in flight in the load tests.
    pub load_concurrency: usize,
}

impl Sizes {
    fn of(quick: bool) -> Sizes {
        if quick {
            Sizes {
                ingest_records: 300,
                wire_records: 200,
                node_records: 1_000,
                load_nodes: [10, 20],
                load_records_per_node: 10,
                load_concurrency: 8,
            }
        } else {
            Sizes {
                ingest_records: 20_000,
                wire_records: 5_000,
                node_records: 100_000,
                load_nodes: [1_000, 5_000],
                load_records_per_node: 30,
                load_concurrency: 64,
            }
        }
    }
}

/// One row of the table. A figure that could not be measured says why instead.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Stable id (`ingest_sqlite`, `pouchdb`, ...).
    pub id: &'static str,
    /// What is measured (Chinese).
    pub what: String,
    /// yanpei's figure.
    pub yanpei: String,
    /// The baseline's figure.
    pub baseline: String,
    /// yanpei against the baseline.
    pub ratio: String,
    /// The aim.
    pub aim: String,
    /// 达到 / 未达到 / 无目标 / 不可用.
    pub verdict: String,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Where.
    pub machine: Machine,
    /// The command as run.
    pub command: String,
    /// When (UTC, RFC 3339).
    pub date: String,
    /// Quick mode.
    pub quick: bool,
    /// The sizes used.
    pub sizes: Sizes,
    /// The table.
    pub rows: Vec<Row>,
    /// The load tests.
    pub load: Vec<Result<LoadReport, String>>,
    /// Wall time of the whole run, seconds.
    pub elapsed_secs: f64,
    /// Load averages (1, 5, 15 min) when the run started.
    pub load_avg_start: String,
}

pub(crate) fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn verdict(met: bool) -> String {
    if met { "达到" } else { "未达到" }.into()
}

fn unavailable(id: &'static str, what: &str, aim: &str, why: &str) -> Row {
    Row {
        id,
        what: what.into(),
        yanpei: "—".into(),
        baseline: "—".into(),
        ratio: "—".into(),
        aim: aim.into(),
        verdict: format!("不可用：{why}"),
    }
}

/// Runs every benchmark and the load tests; a part that cannot run (no PostgreSQL,
/// no npm) becomes a row that says so, never an invented figure.
pub async fn run_bench(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let started = Instant::now();
    let load_avg_start = crate::machine::load_avg();
    let sizes = Sizes::of(opts.quick);
    std::fs::create_dir_all(&opts.dir).map_err(BenchError::io(format!("create {}", opts.dir.display())))?;
    let world = World::create(&opts.dir)?;
    let records = records_of(&world.roster, 0, sizes.ingest_records, 1);

    // 1. Hub ingest on SQLite through gRPC + TLS, against direct prepared inserts.
    let (mut rows, yanpei_sqlite) = sqlite_ingest_rows(opts, &world, &records).await?;

    // 1b. The same on PostgreSQL, against COPY.
    rows.push(postgres_row(opts, &world, &records).await);

    // 2. The same records replicated node-to-hub by PouchDB.
    tracing::info!("PouchDB");
    rows.push(pouchdb_row(opts, &world, &records, yanpei_sqlite).await);

    // 3. Bytes on the wire per record, without and with gzip, against protobuf.
    tracing::info!("bytes on the wire");
    rows.extend(wire_rows(opts, &world, sizes.wire_records).await?);

    // 4. The node agent's peak memory syncing a large outbox.
    tracing::info!(records = sizes.node_records, "node memory");
    rows.push(node_memory_row(opts, &world, sizes.node_records).await?);

    // 5. The load tests.
    let load = load_tests(opts, &sizes).await;

    Ok(BenchReport {
        machine: Machine::detect(),
        command: opts.command.clone(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        quick: opts.quick,
        sizes,
        rows,
        load,
        elapsed_secs: started.elapsed().as_secs_f64(),
        load_avg_start,
    })
}

/// Hub ingest on SQLite through gRPC + TLS (one node, then four at once) and the
/// storage layer alone, against direct prepared inserts. Returns the rows and the
/// one-node sync's time (the PouchDB row compares against it).
async fn sqlite_ingest_rows(
    opts: &BenchOptions,
    world: &World,
    records: &[Activity],
) -> Result<(Vec<Row>, Duration), BenchError> {
    tracing::info!(records = records.len(), "ingest on SQLite");
    let (url, _) = world.fresh_hub_db("ingest-sqlite", None).await?;
    let yanpei_sqlite = agent_ingest(opts, world, &url, "ingest-sqlite-node", records).await?;
    let direct_path = world.dir.join("direct-sqlite.sqlite");
    world.fresh_hub_db("direct-sqlite", None).await?;
    let table = Rows::of(records);
    let direct_took = tokio::task::spawn_blocking(move || direct::sqlite_insert(&direct_path, &table))
        .await
        .map_err(|e| BenchError::Process(format!("direct SQLite task: {e}")))??;
    let store_took = store_ingest(world, records).await?;
    let (url4, _) = world.fresh_hub_db("ingest-sqlite-4", None).await?;
    let parts: Vec<Vec<Activity>> =
        (1..=4).map(|i| records_of(&world.roster, i, records.len() / 4, 50 + i as u64)).collect();
    let four_took = agents_ingest(opts, world, &url4, "ingest-sqlite-4", &parts).await?;
    let four = per_sec(parts.iter().map(Vec::len).sum(), four_took);
    let (y, d) = (per_sec(records.len(), yanpei_sqlite), per_sec(records.len(), direct_took));
    let s = per_sec(records.len(), store_took);
    let rows = vec![
        Row {
            id: "ingest_sqlite",
            what: format!("中心接收 {} 条（gRPC+mTLS，SQLite）", records.len()),
            yanpei: format!("{y:.0} 条/秒"),
            baseline: format!("{d:.0} 条/秒（直写：预编译 INSERT，单事务，WAL，synchronous=FULL）"),
            ratio: format!("{:.2}", y / d),
            aim: "> 0.5".into(),
            verdict: verdict(y / d > 0.5),
        },
        Row {
            id: "ingest_sqlite_4",
            what: format!(
                "中心接收 {} 条，4 个节点同时同步（gRPC+mTLS，SQLite）",
                parts.iter().map(Vec::len).sum::<usize>()
            ),
            yanpei: format!("{four:.0} 条/秒"),
            baseline: format!("{d:.0} 条/秒（同上直写）"),
            ratio: format!("{:.2}", four / d),
            aim: "> 0.5".into(),
            verdict: verdict(four / d > 0.5),
        },
        Row {
            id: "store_sqlite",
            what: format!(
                "诊断：中心存储层 apply_batch {} 条（进程内，无 gRPC/TLS，每批 500 条，SQLite）",
                records.len()
            ),
            yanpei: format!("{s:.0} 条/秒"),
            baseline: format!("{d:.0} 条/秒（同上直写）"),
            ratio: format!("{:.2}", s / d),
            aim: "无（说明差距在哪一层）".into(),
            verdict: "无目标".into(),
        },
    ];
    Ok((rows, yanpei_sqlite))
}

/// Hub ingest on PostgreSQL against `COPY`, or why it could not run.
async fn postgres_row(opts: &BenchOptions, world: &World, records: &[Activity]) -> Row {
    let pg_what = format!("中心接收 {} 条（gRPC+mTLS，PostgreSQL）", records.len());
    match &opts.postgres {
        None => unavailable("ingest_postgres", &pg_what, "> 0.5", "未指定 PostgreSQL（--postgres）"),
        Some(admin) => match postgres_ingest(opts, world, admin, records).await {
            Ok((yanpei, copy)) => {
                let (y, c) = (per_sec(records.len(), yanpei), per_sec(records.len(), copy));
                Row {
                    id: "ingest_postgres",
                    what: pg_what,
                    yanpei: format!("{y:.0} 条/秒"),
                    baseline: format!("{c:.0} 条/秒（COPY FROM STDIN，单事务）"),
                    ratio: format!("{:.2}", y / c),
                    aim: "> 0.5".into(),
                    verdict: verdict(y / c > 0.5),
                }
            }
            Err(e) => unavailable("ingest_postgres", &pg_what, "> 0.5", &e.to_string()),
        },
    }
}

/// The same records replicated node-to-hub by PouchDB, against yanpei's one-node sync
/// time `yanpei_sqlite`, or why it could not run.
async fn pouchdb_row(
    opts: &BenchOptions,
    world: &World,
    records: &[Activity],
    yanpei_sqlite: Duration,
) -> Row {
    let pouch_dir = opts.pouchdb_dir.clone().unwrap_or_else(pouch::default_dir);
    let pouch_what = format!("节点→中心同步 {} 条：yanpei 对 PouchDB", records.len());
    match pouch::replicate(&pouch_dir, world, records).await {
        Ok(secs) => {
            let p = records.len() as f64 / secs;
            let y = per_sec(records.len(), yanpei_sqlite);
            Row {
                id: "pouchdb",
                what: pouch_what,
                yanpei: format!("{y:.0} 条/秒"),
                baseline: format!("{p:.0} 条/秒（PouchDB 9 复制到 express-pouchdb，HTTPS，LevelDB）"),
                ratio: format!("{:.1}×", y / p),
                aim: "≥ 50×".into(),
                verdict: verdict(y / p >= 50.0),
            }
        }
        Err(why) => unavailable("pouchdb", &pouch_what, "≥ 50×", &why),
    }
}

/// The load tests at each of the sizes' node counts (a failed one kept as its error).
async fn load_tests(opts: &BenchOptions, sizes: &Sizes) -> Vec<Result<LoadReport, String>> {
    let mut load = Vec::new();
    for nodes in sizes.load_nodes {
        tracing::info!(nodes, "load test");
        let r = run_load(&LoadOptions {
            exe: opts.exe.clone(),
            dir: opts.dir.join(format!("load-{nodes}")),
            nodes,
            records_per_node: sizes.load_records_per_node,
            concurrency: sizes.load_concurrency,
            compress: true,
            postgres: None,
        })
        .await;
        load.push(r.map_err(|e| e.to_string()));
    }
    load
}

/// A node agent with `records` in its outbox (recorded before the clock starts)
/// syncs them to a hub process over `url`; returns the sync's time, after
/// checking the hub counts exactly those records.
async fn agent_ingest(
    opts: &BenchOptions,
    world: &World,
    url: &str,
    name: &str,
    records: &[Activity],
) -> Result<Duration, BenchError> {
    agents_ingest(opts, world, url, name, std::slice::from_ref(&records.to_vec())).await
}

/// Like [`agent_ingest`] with one agent per part (each its own school, store and
/// certificate), all syncing at once; returns the time until the last finished.
async fn agents_ingest(
    opts: &BenchOptions,
    world: &World,
    url: &str,
    name: &str,
    parts: &[Vec<Activity>],
) -> Result<Duration, BenchError> {
    let hub = HubProcess::start(&opts.exe, world, url).await?;
    let result = async {
        let mut agents = Vec::new();
        for (i, records) in parts.iter().enumerate() {
            let school = &records.first().ok_or_else(|| BenchError::Check("no records".into()))?.school;
            let path = world.dir.join(format!("{name}-{i}.sqlite"));
            let store = NodeStore::open_or_init(&sqlite_url(&path), school).await?;
            for chunk in records.chunks(5000) {
                store.record_all(chunk).await?;
            }
            agents.push(Agent::new(store, world.node_endpoint(school, hub.addr)?));
        }
        let total: usize = parts.iter().map(Vec::len).sum();
        let started = Instant::now();
        let mut syncs = tokio::task::JoinSet::new();
        for agent in agents {
            syncs.spawn(async move { agent.sync_with(SyncOptions::default()).await });
        }
        let mut applied = 0;
        while let Some(done) = syncs.join_next().await {
            applied += done.map_err(|e| BenchError::Process(format!("sync task: {e}")))??.applied;
        }
        let took = started.elapsed();
        let counted = count_at_hub(world, &hub).await?;
        if applied != total as u64 || counted != total as u64 {
            return Err(BenchError::Check(format!(
                "{name}: applied {applied}, hub counts {counted}, pushed {total}"
            )));
        }
        Ok(took)
    }
    .await;
    hub.stop().await;
    result
}

/// The hub's storage layer alone on a fresh SQLite database: one session, the
/// records applied in batches of 500 as the hub applies pushes, no gRPC or TLS.
async fn store_ingest(world: &World, records: &[Activity]) -> Result<Duration, BenchError> {
    let (url, _) = world.fresh_hub_db("store-sqlite", None).await?;
    let store = HubStore::open(&url).await?;
    let school = &records.first().ok_or_else(|| BenchError::Check("no records".into()))?.school;
    let (id, _) = store.open_session(Uuid::now_v7(), school, yanpei_proto::PROTOCOL_VERSION, "bench").await?;
    let session = store.session(id).await?.ok_or_else(|| BenchError::Check("session vanished".into()))?;
    let changes: Vec<IncomingChange> = records
        .iter()
        .enumerate()
        .map(|(k, a)| IncomingChange {
            seq: k as u64 + 1,
            activity: a.clone(),
            ancestors: vec![],
            maker: None,
        })
        .collect();
    let started = Instant::now();
    let mut applied = 0;
    for batch in changes.chunks(500) {
        applied += store.apply_batch(&session, batch).await?.applied as usize;
    }
    let took = started.elapsed();
    store.connection().clone().close().await.map_err(yanpei_store::StoreError::from)?;
    if applied != records.len() {
        return Err(BenchError::Check(format!("apply_batch applied {applied} of {}", records.len())));
    }
    Ok(took)
}

async fn postgres_ingest(
    opts: &BenchOptions,
    world: &World,
    admin: &str,
    records: &[Activity],
) -> Result<(Duration, Duration), BenchError> {
    let (url, _) = world.fresh_hub_db("ingest", Some(admin)).await?;
    let yanpei = agent_ingest(opts, world, &url, "ingest-postgres-node", records).await;
    drop_postgres(admin, &url).await;
    let (copy_url, _) = world.fresh_hub_db("copy", Some(admin)).await?;
    let copy = direct::postgres_copy(&copy_url, &Rows::of(records)).await;
    drop_postgres(admin, &copy_url).await;
    Ok((yanpei?, copy?))
}

/// Two established nodes (their first sync already fetched the roster) each sync
/// `n` new records through a counting proxy, one without and one with gzip.
async fn wire_rows(opts: &BenchOptions, world: &World, n: usize) -> Result<Vec<Row>, BenchError> {
    let (url, _) = world.fresh_hub_db("wire", None).await?;
    let hub = HubProcess::start(&opts.exe, world, &url).await?;
    let result = async {
        let mut rows = Vec::new();
        for (i, compress) in [(1usize, false), (2, true)] {
            let records = records_of(&world.roster, i, n, 31 + i as u64);
            let proto = WireChanges::of(&records).encoded_len();
            let school = &world.roster.schools[i].code;
            let store =
                NodeStore::open_or_init(&sqlite_url(&world.dir.join(format!("wire-{i}.sqlite"))), school)
                    .await?;
            let proxy = CountingProxy::start(hub.addr).await?;
            let agent = Agent::new(store.clone(), world.node_endpoint(school, proxy.addr)?);
            let opts = SyncOptions { compress, ..SyncOptions::default() };
            agent.sync_with(opts).await?;
            proxy.settle().await;
            let (up0, down0) = proxy.bytes();
            store.record_all(&records).await?;
            let report = agent.sync_with(opts).await?;
            proxy.settle().await;
            let (up1, down1) = proxy.bytes();
            if report.applied != n as u64 {
                return Err(BenchError::Check(format!("wire: applied {} of {n}", report.applied)));
            }
            let (up, down) = (up1 - up0, down1 - down0);
            let wire = (up + down) as f64 / n as f64;
            let pbr = proto as f64 / n as f64;
            rows.push(Row {
                id: if compress { "wire_gzip" } else { "wire_plain" },
                what: format!(
                    "线路字节/条，{}（同步 {n} 条，含 TLS、HTTP/2、握手；上行 {up} 下行 {down} 字节）",
                    if compress { "gzip 压缩" } else { "不压缩" }
                ),
                yanpei: format!("{wire:.1} 字节/条"),
                baseline: format!("{pbr:.1} 字节/条（protobuf 编码长度）"),
                ratio: format!("{:.2}", wire / pbr),
                aim: "无（如实报告）".into(),
                verdict: "无目标".into(),
            });
        }
        Ok(rows)
    }
    .await;
    hub.stop().await;
    result
}

async fn node_memory_row(opts: &BenchOptions, world: &World, n: usize) -> Result<Row, BenchError> {
    let (url, _) = world.fresh_hub_db("node-memory", None).await?;
    let hub = HubProcess::start(&opts.exe, world, &url).await?;
    let result = async {
        let m = nodemem::node_sync_process(&opts.exe, world, &hub, n).await?;
        let counted = count_at_hub(world, &hub).await?;
        if counted != n as u64 {
            return Err(BenchError::Check(format!("node memory: the hub counts {counted} of {n}")));
        }
        Ok(m)
    }
    .await;
    hub.stop().await;
    let m = result?;
    let what = format!("节点代理峰值内存（yanpei node sync 推送 {n} 条，独立进程）");
    Ok(match m.peak_rss {
        Some(peak) => {
            let mb = crate::procmem::mib(peak);
            Row {
                id: "node_memory",
                what,
                yanpei: format!(
                    "{mb:.1} MiB（VmHWM），用时 {:.1} 秒，{:.0} 条/秒",
                    m.took.as_secs_f64(),
                    per_sec(n, m.took)
                ),
                baseline: "—".into(),
                ratio: "—".into(),
                aim: "< 40 MB".into(),
                verdict: verdict(peak < 40_000_000),
            }
        }
        None => unavailable("node_memory", &what, "< 40 MB", "读不到 /proc/<pid>/status 的 VmHWM"),
    })
}
