//! Starting a hub with nodes on SQLite files, and the demo run itself.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use yanpei_domain::{ActivityKind, SchoolCode};
use yanpei_hub::HubError;
use yanpei_hub::model::{GroupBy, StatsAnswer, StatsQuery};
use yanpei_node::{Agent, HubEndpoint, NodeError, SyncReport, TlsMaterial};
use yanpei_pki::{CountyCa, HUB_DNS_NAME};
use yanpei_store::hub::HubStore;
use yanpei_store::node::NodeStore;
use yanpei_store::{StoreError, sqlite_url};

use yanpei_domain::roster::Roster;

use crate::error::DemoError;
use crate::{DEMO_SEMESTER, pairing_activity, semester_of_activity};

/// A running hub with its CA, on SQLite (or a given database), ready for nodes.
pub struct DemoWorld {
    /// The working directory (stores, certificates).
    pub dir: PathBuf,
    /// The county CA (the hub holds it too, to sign enrolling and renewing nodes).
    pub ca: std::sync::Arc<CountyCa>,
    /// Where the hub listens.
    pub hub_addr: SocketAddr,
    /// The hub's store, for checks that read it directly.
    pub hub_store: HubStore,
    hub_url: String,
    hub_tls: yanpei_hub::TlsMaterial,
    shutdown: CancellationToken,
    hub_task: Option<JoinHandle<Result<(), HubError>>>,
    /// The running hub (its accounts and audit log), which the dashboard shares.
    hub: Option<yanpei_hub::Hub>,
}

impl std::fmt::Debug for DemoWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoWorld")
            .field("dir", &self.dir)
            .field("hub_addr", &self.hub_addr)
            .finish_non_exhaustive()
    }
}

/// Creates a CA, opens the hub's database (SQLite file in `dir` unless `database_url`
/// is given), loads the county's roster, and starts the hub on `127.0.0.1:0`.
pub async fn start_world(
    dir: &Path,
    county: &Roster,
    database_url: Option<String>,
) -> Result<DemoWorld, DemoError> {
    std::fs::create_dir_all(dir.join("nodes")).map_err(|e| DemoError::Io(dir.display().to_string(), e))?;
    let ca = CountyCa::generate(&county.county)?;
    let hub_cert = ca.issue_hub(&[])?;
    let url = database_url.unwrap_or_else(|| sqlite_url(&dir.join("hub.sqlite")));
    let hub_store = HubStore::open(&url).await?;
    hub_store.replace_roster(county, "demo").await?;
    let hub_url = url;
    let hub_tls = yanpei_hub::TlsMaterial {
        ca_pem: ca.cert_pem().to_owned(),
        cert_pem: hub_cert.cert_pem,
        key_pem: hub_cert.key_pem,
    };
    let mut world = DemoWorld {
        dir: dir.to_owned(),
        ca: std::sync::Arc::new(ca),
        hub_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        hub_store,
        hub_url,
        hub_tls,
        shutdown: CancellationToken::new(),
        hub_task: None,
        hub: None,
    };
    world.start_hub().await?;
    Ok(world)
}

impl DemoWorld {
    /// Starts (or restarts) the hub on a fresh port over the same database.
    pub async fn start_hub(&mut self) -> Result<(), DemoError> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| DemoError::Io("bind".into(), e))?;
        self.hub_addr = listener.local_addr().map_err(|e| DemoError::Io("bind".into(), e))?;
        self.shutdown = CancellationToken::new();
        let token = self.shutdown.clone();
        let hub = yanpei_hub::Hub::open(self.hub_store.clone(), self.serve_options()).await?;
        self.hub = Some(hub.clone());
        self.hub_task = Some(tokio::spawn(async move { hub.serve(listener, token.cancelled_owned()).await }));
        Ok(())
    }

    /// The URL of the hub's database (for checks through a connection of their own).
    pub fn hub_url(&self) -> &str {
        &self.hub_url
    }

    /// Stops the hub as its process would exit: waits for in-flight RPCs, then closes
    /// every connection to its database (an uncommitted transaction is rolled back).
    pub async fn stop_hub_process(&mut self) -> Result<(), DemoError> {
        self.stop_hub().await?;
        self.hub_store.connection().close_by_ref().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Starts the hub as a new process would: opens its database afresh at the same
    /// URL, then serves on a fresh port. After [`DemoWorld::stop_hub_process`].
    pub async fn start_hub_process(&mut self) -> Result<(), DemoError> {
        self.hub_store = HubStore::open(&self.hub_url).await?;
        self.start_hub().await
    }

    /// Starts another hub process-equivalent over the database at `url` (which must be
    /// the one this world's hub uses, for a scale-out test), on a fresh port, with the
    /// same certificate. It stops when the returned token is cancelled.
    pub async fn start_extra_hub(
        &self,
        url: &str,
    ) -> Result<(SocketAddr, CancellationToken, JoinHandle<Result<(), HubError>>), DemoError> {
        let store = HubStore::open(url).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| DemoError::Io("bind".into(), e))?;
        let addr = listener.local_addr().map_err(|e| DemoError::Io("bind".into(), e))?;
        let token = CancellationToken::new();
        let stop = token.clone();
        let options = yanpei_hub::ServeOptions {
            crl: Some(self.crl_path()),
            attachments: Some(self.hub_attachments()),
            ..yanpei_hub::ServeOptions::new(yanpei_hub::Transport::MutualTls(self.hub_tls.clone()))
        };
        let task =
            tokio::spawn(
                async move { yanpei_hub::serve(listener, store, options, stop.cancelled_owned()).await },
            );
        Ok((addr, token, task))
    }

    /// How this world's hub serves: mutual TLS, its revocation list, attachments, no rate
    /// limit, and the county CA to sign enrolling and renewing nodes.
    pub fn serve_options(&self) -> yanpei_hub::ServeOptions {
        yanpei_hub::ServeOptions {
            crl: Some(self.crl_path()),
            attachments: Some(self.hub_attachments()),
            ca: Some(self.ca.clone()),
            ..yanpei_hub::ServeOptions::new(yanpei_hub::Transport::MutualTls(self.hub_tls.clone()))
        }
    }

    /// Where the hub keeps attachments (shared by every hub of this world, as a shared volume would be).
    pub fn hub_attachments(&self) -> yanpei_hub::BlobDir {
        yanpei_hub::BlobDir::new(self.dir.join("hub-attachments"))
    }

    /// Starts the dashboard on `listener` beside the hub, sharing its accounts (one
    /// lockout) and audit log, with the hub's certificate; it stops with the hub. Its address.
    pub fn start_dashboard(&self, listener: TcpListener) -> Result<SocketAddr, DemoError> {
        let addr = listener.local_addr().map_err(|e| DemoError::Io("dashboard".into(), e))?;
        let hub = self.hub.clone().ok_or_else(|| {
            DemoError::Io("dashboard".into(), std::io::Error::other("the hub is not running"))
        })?;
        let stop = self.shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = hub.serve_dashboard(listener, stop.cancelled_owned()).await {
                tracing::error!(error = %e, "dashboard stopped");
            }
        });
        Ok(addr)
    }

    /// Writes the county CA (`pki/ca.pem` and its key `pki/ca.key`, mode 0600) and an
    /// operator certificate (`pki/operator-admin.pem`/`.key`) under the working directory,
    /// where `yanpei query`, `yanpei report` and `yanpei ca …` look by default: the CLI can
    /// query the running demo hub, and issue certificates for more nodes, operators and
    /// 教研员 (`ca issue-node`/`issue-operator`/`issue-staff --dir DIR/pki`) that it accepts.
    pub fn write_pki(&self) -> Result<PathBuf, DemoError> {
        let pki = self.dir.join("pki");
        std::fs::create_dir_all(&pki).map_err(|e| DemoError::Io(pki.display().to_string(), e))?;
        self.ca.save(&pki)?;
        self.ca.issue_operator("admin")?.write(&pki, "operator-admin")?;
        Ok(pki)
    }

    /// Where the hub reads the CA's revocation list (absent: nothing revoked).
    pub fn crl_path(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }

    /// Stops the hub, waiting for in-flight RPCs.
    pub async fn stop_hub(&mut self) -> Result<(), DemoError> {
        self.shutdown.cancel();
        // The audit writer ends once the served connections and this handle are gone.
        self.hub = None;
        if let Some(task) = self.hub_task.take() {
            match task.await {
                Ok(r) => r?,
                Err(e) => return Err(DemoError::Io("hub task".into(), std::io::Error::other(e))),
            }
        }
        Ok(())
    }

    /// A mutual-TLS endpoint for `school`'s node, reaching the hub at `addr`
    /// (the hub itself, or a proxy in front of it).
    pub fn node_endpoint_via(&self, school: &SchoolCode, addr: SocketAddr) -> Result<HubEndpoint, DemoError> {
        let cert = self.ca.issue_node(school)?;
        Ok(HubEndpoint {
            url: format!("https://{addr}"),
            server_name: HUB_DNS_NAME.into(),
            tls: TlsMaterial {
                ca_pem: self.ca.cert_pem().to_owned(),
                cert_pem: cert.cert_pem,
                key_pem: cert.key_pem,
            },
        })
    }

    /// The county operator's endpoint.
    pub fn operator_endpoint(&self) -> Result<HubEndpoint, DemoError> {
        let cert = self.ca.issue_operator("demo-operator")?;
        Ok(HubEndpoint {
            url: format!("https://{}", self.hub_addr),
            server_name: HUB_DNS_NAME.into(),
            tls: TlsMaterial {
                ca_pem: self.ca.cert_pem().to_owned(),
                cert_pem: cert.cert_pem,
                key_pem: cert.key_pem,
            },
        })
    }

    /// A 教研员's endpoint (a staff certificate for `id`).
    pub fn staff_endpoint(&self, id: &str) -> Result<HubEndpoint, DemoError> {
        let cert = self.ca.issue_staff(id)?;
        Ok(HubEndpoint {
            url: format!("https://{}", self.hub_addr),
            server_name: HUB_DNS_NAME.into(),
            tls: TlsMaterial {
                ca_pem: self.ca.cert_pem().to_owned(),
                cert_pem: cert.cert_pem,
                key_pem: cert.key_pem,
            },
        })
    }

    /// The path of a node store in this world.
    pub fn node_store_path(&self, school: &SchoolCode, name: &str) -> PathBuf {
        self.dir.join("nodes").join(format!("{school}-{name}.sqlite"))
    }

    /// A node agent for `school` with its own store file (`name` tells several apart).
    pub async fn node(&self, school: &SchoolCode, name: &str) -> Result<Agent, DemoError> {
        self.node_via(school, name, self.hub_addr).await
    }

    /// A node agent whose connections go to `addr`.
    pub async fn node_via(
        &self,
        school: &SchoolCode,
        name: &str,
        addr: SocketAddr,
    ) -> Result<Agent, DemoError> {
        let path = self.node_store_path(school, name);
        let store = NodeStore::open_or_init(&sqlite_url(&path), school).await?;
        Ok(Agent::new(store, self.node_endpoint_via(school, addr)?)
            .with_attachments(yanpei_node::BlobDir::beside_node_store(&path)))
    }
}

impl Drop for DemoWorld {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Totals of one group (kind, alliance or school): what the nodes recorded and what the hub counted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupTotal {
    /// Code (kind code, alliance code or school code).
    pub code: String,
    /// Name a person reads.
    pub name: String,
    /// Live records in the nodes' stores.
    pub nodes_recorded: u64,
    /// Live records the hub counts.
    pub hub_counted: u64,
}

/// What the demo did and found.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// Where the files are.
    pub dir: String,
    /// The county.
    pub county: String,
    /// The semester, e.g. 2024-2025学年第一学期.
    pub semester: String,
    /// Schools (one node each).
    pub schools: usize,
    /// Live records in all node stores.
    pub nodes_recorded: u64,
    /// Live records the hub counts for the county.
    pub hub_counted: u64,
    /// Records edited after capture (each edit is synced as a new version).
    pub edited: u64,
    /// Records deleted after capture (tombstones, not counted).
    pub deleted: u64,
    /// Changes pushed in the nightly sync.
    pub pushed: u64,
    /// By activity kind.
    pub by_kind: Vec<GroupTotal>,
    /// By alliance.
    pub by_alliance: Vec<GroupTotal>,
    /// By school.
    pub by_school: Vec<GroupTotal>,
    /// Wall time of the whole run.
    pub elapsed_ms: u128,
    /// People's accounts made at the hub (demo passwords), for `yanpei login` and the dashboard.
    pub accounts: Vec<crate::DemoAccount>,
}

/// Runs the demo in `dir`: hub, a node per school, a semester recorded, one nightly sync, totals.
pub async fn run_demo(dir: &Path, county: &Roster) -> Result<DemoReport, DemoError> {
    let (report, mut world) = run_demo_kept(dir, county).await?;
    world.stop_hub().await?;
    Ok(report)
}

/// [`run_demo`], leaving the hub running (`yanpei demo --serve`): the world is returned
/// so its hub can be queried and the dashboard started beside it.
pub async fn run_demo_kept(dir: &Path, county: &Roster) -> Result<(DemoReport, DemoWorld), DemoError> {
    let started = Instant::now();
    let world = start_world(dir, county, None).await?;
    tracing::info!(dir = %dir.display(), hub = %world.hub_addr, "demo hub started");
    let accounts = crate::create_demo_accounts(&world.hub_store, county).await?;
    let (agents, edited, deleted) = record_semester(&world, county).await?;
    let pushed = nightly_sync(&agents).await?;

    // Totals: nodes' own records beside the hub's answer over gRPC (a shared record also
    // reaches its partner school's node, but is the recording school's: counted there once).
    let nodes = NodeTotals::count(&agents).await?;
    let ask = |group_by| StatsQuery { semester: Some(DEMO_SEMESTER), group_by, ..StatsQuery::default() };
    let county_rows = world.stats(&ask(GroupBy::None)).await?;
    let alliance_rows = world.stats(&ask(GroupBy::Alliance)).await?;
    let school_rows = world.stats(&ask(GroupBy::School)).await?;
    let report = DemoReport {
        dir: dir.display().to_string(),
        county: county.county.clone(),
        semester: DEMO_SEMESTER.to_string(),
        schools: county.schools.len(),
        nodes_recorded: nodes.kind.values().sum(),
        hub_counted: county_rows.total,
        edited,
        deleted,
        pushed,
        by_kind: nodes.by_kind(&county_rows),
        by_alliance: nodes.by_alliance(county, &alliance_rows),
        by_school: nodes.by_school(county, &school_rows),
        elapsed_ms: started.elapsed().as_millis(),
        accounts,
    };
    Ok((report, world))
}

/// Records a semester at every school, with a few edits and deletes, and the pairs'
/// cross-school activity at the school that recorded it. Returns the node agents (one
/// per school) and how many records were edited and deleted.
async fn record_semester(world: &DemoWorld, county: &Roster) -> Result<(Vec<Agent>, u64, u64), DemoError> {
    let shared = pairing_activity(county, 9001);
    let mut agents = Vec::new();
    let (mut edited, mut deleted) = (0u64, 0u64);
    for (i, school) in county.schools.iter().enumerate() {
        let agent = world.node(&school.code, "node").await?;
        let records = semester_of_activity(county, school, i as u64 + 1);
        agent.store().record_all(&records).await?;
        for (j, r) in records.iter().enumerate() {
            if j % 29 == 3 {
                let mut next = r.clone();
                next.version += 1;
                next.body.notes = Some("已补充课后反思".into());
                agent.store().update(&next).await?;
                edited += 1;
            } else if j % 41 == 7 {
                let mut next = r.clone();
                next.version += 1;
                next.deleted = true;
                agent.store().update(&next).await?;
                deleted += 1;
            }
        }
        let ours: Vec<_> = shared.iter().filter(|a| a.school == school.code).cloned().collect();
        agent.store().record_all(&ours).await?;
        agents.push(agent);
    }
    Ok((agents, edited, deleted))
}

/// One nightly sync for all nodes, a few at a time as the jittered window would spread
/// them. Returns the changes pushed.
async fn nightly_sync(agents: &[Agent]) -> Result<u64, DemoError> {
    let mut pushed = 0;
    let mut syncs = tokio::task::JoinSet::new();
    for agent in agents {
        if syncs.len() >= 6
            && let Some(done) = syncs.join_next().await
        {
            pushed += joined(done)?.pushed;
        }
        let agent = agent.clone();
        syncs.spawn(async move { agent.sync_once().await });
    }
    while let Some(done) = syncs.join_next().await {
        pushed += joined(done)?.pushed;
    }
    Ok(pushed)
}

/// Live records of the demo semester in the nodes' stores, each counted at the school
/// that recorded it.
struct NodeTotals {
    kind: BTreeMap<ActivityKind, u64>,
    school: BTreeMap<String, u64>,
}

impl NodeTotals {
    async fn count(agents: &[Agent]) -> Result<NodeTotals, DemoError> {
        let mut kind: BTreeMap<ActivityKind, u64> = BTreeMap::new();
        let mut school: BTreeMap<String, u64> = BTreeMap::new();
        for a in agents {
            let own = a.store().school().clone();
            for r in a.store().list(Some(DEMO_SEMESTER), None).await?.into_iter().filter(|r| r.school == own)
            {
                *kind.entry(r.kind).or_default() += 1;
                *school.entry(own.to_string()).or_default() += 1;
            }
        }
        Ok(NodeTotals { kind, school })
    }

    fn of_school(&self, code: &str) -> u64 {
        self.school.get(code).copied().unwrap_or(0)
    }

    /// Per activity kind, beside the hub's ungrouped answer.
    fn by_kind(&self, hub: &StatsAnswer) -> Vec<GroupTotal> {
        ActivityKind::ALL
            .iter()
            .map(|k| GroupTotal {
                code: k.code().into(),
                name: k.label().into(),
                nodes_recorded: self.kind.get(k).copied().unwrap_or(0),
                hub_counted: hub.rows.iter().filter(|r| r.kind == *k).map(|r| r.count).sum(),
            })
            .collect()
    }

    /// Per alliance, beside the hub's answer grouped by alliance.
    fn by_alliance(&self, county: &Roster, hub: &StatsAnswer) -> Vec<GroupTotal> {
        county
            .alliances
            .iter()
            .map(|a| GroupTotal {
                code: a.code.clone(),
                name: a.name.clone(),
                nodes_recorded: county
                    .schools
                    .iter()
                    .filter(|s| s.alliance == a.code)
                    .map(|s| self.of_school(s.code.as_str()))
                    .sum(),
                hub_counted: sum_of_group(hub, &a.code),
            })
            .collect()
    }

    /// Per school, beside the hub's answer grouped by school.
    fn by_school(&self, county: &Roster, hub: &StatsAnswer) -> Vec<GroupTotal> {
        county
            .schools
            .iter()
            .map(|s| GroupTotal {
                code: s.code.to_string(),
                name: s.name.clone(),
                nodes_recorded: self.of_school(s.code.as_str()),
                hub_counted: sum_of_group(hub, s.code.as_str()),
            })
            .collect()
    }
}

/// The hub's count of one group, over every kind.
fn sum_of_group(rows: &StatsAnswer, code: &str) -> u64 {
    rows.rows.iter().filter(|r| r.group_code == code).map(|r| r.count).sum()
}

fn joined(r: Result<Result<SyncReport, NodeError>, tokio::task::JoinError>) -> Result<SyncReport, DemoError> {
    match r {
        Ok(report) => Ok(report?),
        Err(e) => Err(DemoError::Io("sync task".into(), std::io::Error::other(e))),
    }
}
