//! A county whose hub is a process: the CA and the hub's certificate on disk, the
//! demo roster in a hub database (on a small tmpfs when the run may mount one),
//! the hub process behind a fault proxy, and node agents in this process, each
//! with its own SQLite store, reaching the hub through the proxy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use yanpei_domain::SchoolCode;
use yanpei_node::{Agent, HubEndpoint, TlsMaterial};
use yanpei_pki::{CountyCa, HUB_DNS_NAME};
use yanpei_store::hub::HubStore;
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;

use crate::SoakError;
use crate::hubdb::{HubDb, copy_sqlite};
use crate::proc::{HubFiles, HubProcess, Tmpfs};
use crate::wire::FaultProxy;

/// Size of the hub's tmpfs: room for the database, its WAL and the audit log of a
/// schedule of `records` records, many times over.
fn tmpfs_bytes(records: usize) -> u64 {
    (48_u64 << 20).max(records as u64 * 24 * 1024)
}

/// The world of one schedule.
#[derive(Debug)]
pub(crate) struct ProcWorld {
    /// The run directory.
    pub(crate) dir: PathBuf,
    /// The county CA.
    pub(crate) ca: CountyCa,
    /// How the hub runs.
    pub(crate) files: HubFiles,
    /// Between the nodes and the hub.
    pub(crate) proxy: FaultProxy,
    hub: Option<HubProcess>,
    starts: u32,
    tmpfs: Option<Tmpfs>,
    /// The nodes' own small disk (every node store of the schedule), when the run may mount one.
    node_fs: Option<Tmpfs>,
}

impl ProcWorld {
    /// Creates the county in `dir` and starts its hub process (`exe hub serve`). With
    /// `disk` the hub's database lives on a tmpfs of its own (needs root; without it
    /// the world has no disk to fill and says so in the log).
    pub(crate) async fn create(
        dir: &Path,
        exe: &Path,
        disk: bool,
        records: usize,
        planted: Option<String>,
        postgres: Option<&str>,
        seed: u64,
    ) -> Result<ProcWorld, SoakError> {
        let pki = dir.join("pki");
        std::fs::create_dir_all(&pki)?;
        std::fs::create_dir_all(dir.join("nodes"))?;
        let roster = yanpei_demo::demo_roster()
            .map_err(|p| SoakError::Unexpected(format!("the demo roster does not load: {p:?}")))?;
        let ca = CountyCa::generate(&roster.county).map_err(|e| SoakError::Unexpected(e.to_string()))?;
        std::fs::write(pki.join("ca.pem"), ca.cert_pem())?;
        ca.issue_hub(&[])
            .and_then(|c| c.write(&pki, "hub"))
            .map_err(|e| SoakError::Unexpected(format!("hub certificate: {e}")))?;
        // PostgreSQL keeps its own disk: the disk-full faults run on SQLite only.
        let tmpfs = if disk && postgres.is_none() {
            match Tmpfs::mount(&dir.join("hubfs"), tmpfs_bytes(records)) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no tmpfs for the hub: disk-full faults are off");
                    None
                }
            }
        } else {
            None
        };
        // The node stores get a small disk of their own, so a node's disk can fill too.
        let node_fs = if disk {
            match Tmpfs::mount(&dir.join("nodes"), 2 * tmpfs_bytes(records)) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no tmpfs for the nodes: node disk-full faults are off");
                    None
                }
            }
        } else {
            None
        };
        let db_dir = tmpfs.as_ref().map_or_else(|| dir.join("hub"), |t| t.path().to_owned());
        std::fs::create_dir_all(&db_dir)?;
        let db = match postgres {
            Some(admin) => HubDb::fresh_postgres(admin, seed).await?,
            None => HubDb::Sqlite(db_dir.join("hub.sqlite")),
        };
        let eio = match crate::eio::Eio::build(&dir.join("eio")) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, "no I/O-error library: I/O-error faults are off");
                None
            }
        };
        let files = HubFiles {
            exe: exe.to_owned(),
            db,
            pki,
            attachments: dir.join("hub-attachments"),
            logs: dir.join("logs"),
            planted,
            eio,
        };
        let store = HubStore::open(&files.db.url()).await?;
        store.replace_roster(&roster, "soak").await?;
        store.connection().clone().close().await.map_err(yanpei_store::StoreError::from)?;
        let hub = HubProcess::start(&files, 0).await?;
        let proxy = FaultProxy::start(hub.addr).await?;
        Ok(ProcWorld { dir: dir.to_owned(), ca, files, proxy, hub: Some(hub), starts: 1, tmpfs, node_fs })
    }

    /// Imports `roster` as a new version into the hub's database through a connection of
    /// this process (the hub keeps running and reads it at its next check).
    pub(crate) async fn import_roster(
        &self,
        roster: &yanpei_domain::roster::Roster,
    ) -> Result<u64, SoakError> {
        let store = HubStore::open(&self.files.db.url()).await?;
        let version = store.replace_roster(roster, "soak").await;
        store.connection().clone().close().await.map_err(yanpei_store::StoreError::from)?;
        Ok(version?)
    }

    /// Whether the hub's disk can be filled.
    pub(crate) fn has_small_disk(&self) -> bool {
        self.tmpfs.is_some()
    }

    /// The hub's tmpfs, if any.
    pub(crate) fn tmpfs(&self) -> Option<&Tmpfs> {
        self.tmpfs.as_ref()
    }

    /// The nodes' disk, if it can be filled.
    pub(crate) fn node_fs(&self) -> Option<&Tmpfs> {
        self.node_fs.as_ref()
    }

    /// Copies every node store off the nodes' small disk (to `nodes-final/`), so a failing
    /// schedule's stores outlive the disk.
    pub(crate) fn keep_node_stores(&self) -> Result<(), SoakError> {
        let Some(fs) = &self.node_fs else { return Ok(()) };
        for entry in std::fs::read_dir(fs.path())? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "sqlite")
                && let Some(name) = path.file_name()
            {
                copy_sqlite(&path, &self.dir.join("nodes-final").join(name))?;
            }
        }
        Ok(())
    }

    /// The running hub process.
    pub(crate) fn hub(&self) -> Option<&HubProcess> {
        self.hub.as_ref()
    }

    /// Starts the hub if it is not running (or has died: returns its exit then).
    pub(crate) async fn ensure_hub(&mut self) -> Result<Option<String>, SoakError> {
        let died = match &mut self.hub {
            Some(h) => h.exited(),
            None => Some("stopped".into()),
        };
        if died.is_some() {
            self.hub = None;
            let hub = HubProcess::start(&self.files, self.starts).await?;
            self.starts += 1;
            self.proxy.retarget(hub.addr);
            self.hub = Some(hub);
        }
        Ok(died.filter(|d| d != "stopped"))
    }

    /// I/O errors on demand (the hub's SQLite directory, the node-write process's stores).
    pub(crate) fn eio(&self) -> Option<&crate::eio::Eio> {
        self.files.eio.as_ref()
    }

    /// Whether the hub runs on PostgreSQL.
    pub(crate) fn on_postgres(&self) -> bool {
        matches!(self.files.db, HubDb::Postgres { .. })
    }

    /// Starts another hub process on the same database (not behind the proxy; the
    /// caller stops or kills it).
    pub(crate) async fn start_extra_hub(&mut self) -> Result<HubProcess, SoakError> {
        let hub = HubProcess::start(&self.files, self.starts).await?;
        self.starts += 1;
        Ok(hub)
    }

    /// SIGKILL of the hub process.
    pub(crate) async fn kill_hub(&mut self) {
        if let Some(h) = self.hub.take() {
            h.kill().await;
        }
    }

    /// SIGTERM of the hub process (SIGKILL after a grace period).
    pub(crate) async fn stop_hub(&mut self) {
        if let Some(h) = self.hub.take() {
            h.stop(Duration::from_secs(10)).await;
        }
    }

    /// Copies the hub's database (hub stopped): to `backup/hub.sqlite`, or a PostgreSQL copy.
    pub(crate) async fn backup(&self) -> Result<(), SoakError> {
        self.files.db.backup(&self.backup_path()).await
    }

    /// Puts the backup back in place of the hub's database (hub stopped).
    pub(crate) async fn restore(&self) -> Result<(), SoakError> {
        self.files.db.restore(&self.backup_path()).await
    }

    fn backup_path(&self) -> PathBuf {
        self.dir.join("backup").join("hub.sqlite")
    }

    /// A mutual-TLS endpoint for a node of `school` reaching the hub through the proxy.
    pub(crate) fn endpoint(&self, school: &SchoolCode) -> Result<HubEndpoint, SoakError> {
        self.endpoint_at(school, self.proxy.addr)
    }

    pub(crate) fn endpoint_at(
        &self,
        school: &SchoolCode,
        addr: SocketAddr,
    ) -> Result<HubEndpoint, SoakError> {
        let cert = self.ca.issue_node(school).map_err(|e| SoakError::Unexpected(e.to_string()))?;
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

    /// Where a node's store lives.
    pub(crate) fn node_path(&self, name: &str) -> PathBuf {
        self.dir.join("nodes").join(format!("{name}.sqlite"))
    }

    /// A node agent of `school` with its own store, through the proxy. The store is
    /// also set up for `yanpei node sync --store` (as `yanpei node init` would), so the
    /// agent can run as a process of its own too.
    pub(crate) async fn node(&self, school: &SchoolCode, name: &str) -> Result<Agent, SoakError> {
        let store = NodeStore::open_or_init(&sqlite_url(&self.node_path(name)), school).await?;
        let endpoint = self.endpoint(school)?;
        let pki = self.dir.join("pki");
        let (cert, key) = (pki.join(format!("node-{name}.pem")), pki.join(format!("node-{name}.key")));
        std::fs::write(&cert, &endpoint.tls.cert_pem)?;
        std::fs::write(&key, &endpoint.tls.key_pem)?;
        // The settings `yanpei node init` writes.
        store
            .save_settings(&yanpei_store::node::NodeSettings {
                hub_url: endpoint.url.clone(),
                server_name: endpoint.server_name.clone(),
                ca: pki.join("ca.pem"),
                cert,
                key,
            })
            .await?;
        Ok(Agent::new(store, endpoint))
    }

    /// Starts `yanpei node sync --store` for node `name` as a process of its own.
    pub(crate) fn spawn_node_sync(&self, name: &str) -> Result<tokio::process::Child, SoakError> {
        tokio::process::Command::new(&self.files.exe)
            .args(["node", "sync", "--store"])
            .arg(self.node_path(name))
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SoakError::Process(format!("start node sync: {e}")))
    }

    /// Starts `yanpei soak --node-write STORE INPUT` for node `name`: the node's writes in
    /// INPUT as a process of its own, reporting each commit on its standard output.
    /// With `eio`, its I/O on the node stores fails while the flag is raised.
    pub(crate) fn spawn_node_write(
        &self,
        name: &str,
        input: &Path,
        eio: bool,
    ) -> Result<tokio::process::Child, SoakError> {
        let mut command = tokio::process::Command::new(&self.files.exe);
        if eio
            && let Some(e) = &self.files.eio
            && let Some(dir) = self.node_path(name).parent()
        {
            e.apply(&mut command, dir);
        }
        command
            .args(["soak", "--node-write"])
            .arg(self.node_path(name))
            .arg(input)
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SoakError::Process(format!("start node write: {e}")))
    }

    /// Stops the hub and unmounts its tmpfs (after copying its database out, so the
    /// checker can read it): returns the database to read.
    pub(crate) async fn shut_down(&mut self) -> Result<HubDb, SoakError> {
        self.stop_hub().await;
        let HubDb::Sqlite(path) = &self.files.db else { return Ok(self.files.db.clone()) };
        let Some(mut t) = self.tmpfs.take() else { return Ok(self.files.db.clone()) };
        let kept = self.dir.join("hub-final").join("hub.sqlite");
        let copied = copy_sqlite(path, &kept);
        t.unmount();
        copied?;
        Ok(HubDb::Sqlite(kept))
    }
}

impl Drop for ProcWorld {
    fn drop(&mut self) {
        // The hub child is killed on drop (kill_on_drop) before the tmpfs unmounts.
        self.hub = None;
    }
}
