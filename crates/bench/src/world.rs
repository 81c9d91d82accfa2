//! A benchmark's county: a working directory, the CA and the hub's certificate
//! on disk, the demo roster, fresh hub databases, and node endpoints.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};
use yanpei_domain::SchoolCode;
use yanpei_domain::roster::Roster;
use yanpei_node::{HubEndpoint, TlsMaterial};
use yanpei_pki::{CountyCa, HUB_DNS_NAME};
use yanpei_store::hub::HubStore;
use yanpei_store::sqlite_url;

use crate::BenchError;

/// The CA, the hub's certificate files and the roster, under one directory.
pub(crate) struct World {
    pub(crate) dir: PathBuf,
    pub(crate) ca: CountyCa,
    pub(crate) roster: Roster,
}

static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

impl World {
    /// Creates `dir` with `pki/ca.pem`, `pki/hub.pem`, `pki/hub.key`.
    pub(crate) fn create(dir: &Path) -> Result<World, BenchError> {
        let pki = dir.join("pki");
        std::fs::create_dir_all(&pki).map_err(BenchError::io(format!("create {}", pki.display())))?;
        let roster = yanpei_demo::demo_roster()
            .map_err(|e| BenchError::Check(format!("the demo roster does not load: {e:?}")))?;
        let ca = CountyCa::generate(&roster.county)?;
        std::fs::write(pki.join("ca.pem"), ca.cert_pem()).map_err(BenchError::io("write ca.pem"))?;
        ca.issue_hub(&[])?.write(&pki, "hub")?;
        Ok(World { dir: dir.to_owned(), ca, roster })
    }

    pub(crate) fn pki(&self, file: &str) -> PathBuf {
        self.dir.join("pki").join(file)
    }

    /// A fresh hub database holding the demo roster: a SQLite file in the
    /// directory, or a new database on the PostgreSQL server of `postgres` (an admin URL).
    /// Returns its URL and the roster version.
    pub(crate) async fn fresh_hub_db(
        &self,
        name: &str,
        postgres: Option<&str>,
    ) -> Result<(String, u64), BenchError> {
        let url = match postgres {
            None => sqlite_url(&self.dir.join(format!("{name}.sqlite"))),
            Some(admin) => fresh_postgres(admin, name).await?,
        };
        let store = HubStore::open(&url).await?;
        let version = store.replace_roster(&self.roster, "bench").await?;
        store.connection().clone().close().await.map_err(yanpei_store::StoreError::from)?;
        Ok((url, version))
    }

    /// Mutual-TLS material for a node of `school` (a certificate of its own).
    pub(crate) fn node_tls(&self, school: &SchoolCode) -> Result<TlsMaterial, BenchError> {
        let cert = self.ca.issue_node(school)?;
        Ok(TlsMaterial {
            ca_pem: self.ca.cert_pem().to_owned(),
            cert_pem: cert.cert_pem,
            key_pem: cert.key_pem,
        })
    }

    /// An endpoint for a node of `school` reaching `addr`.
    pub(crate) fn node_endpoint(
        &self,
        school: &SchoolCode,
        addr: SocketAddr,
    ) -> Result<HubEndpoint, BenchError> {
        Ok(endpoint(addr, self.node_tls(school)?))
    }

    /// The county operator's endpoint (for counting what the hub holds).
    pub(crate) fn operator_endpoint(&self, addr: SocketAddr) -> Result<HubEndpoint, BenchError> {
        let cert = self.ca.issue_operator("bench")?;
        Ok(endpoint(
            addr,
            TlsMaterial {
                ca_pem: self.ca.cert_pem().to_owned(),
                cert_pem: cert.cert_pem,
                key_pem: cert.key_pem,
            },
        ))
    }
}

pub(crate) fn endpoint(addr: SocketAddr, tls: TlsMaterial) -> HubEndpoint {
    HubEndpoint { url: format!("https://{addr}"), server_name: HUB_DNS_NAME.into(), tls }
}

/// Creates an empty database on the server of `admin` and returns its URL.
pub(crate) async fn fresh_postgres(admin: &str, prefix: &str) -> Result<String, BenchError> {
    let pg = |e: sea_orm::DbErr| BenchError::Postgres(format!("{admin}: {e}"));
    let db = Database::connect(admin).await.map_err(pg)?;
    let n = DB_COUNTER.fetch_add(1, Ordering::Relaxed);
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let name = format!("bench_{prefix}_{stamp}_{}_{n}", std::process::id()).to_lowercase();
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.map_err(pg)?;
    db.close().await.map_err(pg)?;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or_else(|| admin.to_owned());
    Ok(format!("{base}/{name}"))
}

/// Drops a database [`fresh_postgres`] made (best effort: a leftover costs disk, not correctness).
pub(crate) async fn drop_postgres(admin: &str, url: &str) {
    let Some((_, name)) = url.rsplit_once('/') else { return };
    if let Ok(db) = Database::connect(admin).await {
        if let Err(e) =
            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await
        {
            tracing::warn!(database = name, error = %e, "could not drop a benchmark database");
        }
        let _ = db.close().await;
    }
}

/// `n` plausible records of the `i`-th school on the roster (wrapping), from the
/// demo's generator: the semester's records of successive seeds, in date order.
pub(crate) fn records_of(roster: &Roster, i: usize, n: usize, seed: u64) -> Vec<yanpei_domain::Activity> {
    let school = &roster.schools[i % roster.schools.len()];
    let mut out = Vec::with_capacity(n);
    let mut s = seed;
    while out.len() < n {
        let more = yanpei_demo::semester_of_activity(roster, school, s);
        if more.is_empty() {
            break;
        }
        out.extend(more.into_iter().take(n - out.len()));
        s = s.wrapping_add(1_000_003);
    }
    out
}
