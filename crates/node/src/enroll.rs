//! A node gets its certificate without anyone carrying key files: it makes its key pair
//! here, checks the hub's CA against the fingerprint on the enrollment slip, and sends a
//! certificate request with the one-time code; later it renews during a nightly sync.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::info;
use uuid::Uuid;
use yanpei_pki::{DEFAULT_RENEW_WITHIN_DAYS, node_request, pem_to_der, renewal_due, validity_of};

use yanpei_pki::TlsMaterial;

use crate::NodeError;
use crate::client::{SyncSession, enroll_call};

pub use crate::client::fetch_ca;

/// When and how a node renews its certificate during a sync.
#[derive(Clone)]
pub struct Renewal {
    /// Renew once fewer than this many days of the certificate remain.
    pub window_days: i64,
    /// The clock the window is judged by (Unix seconds); tests inject one.
    pub now: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Where the certificate and key live, rewritten on renewal (`None`: kept in memory).
    pub files: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewal").field("window_days", &self.window_days).field("files", &self.files).finish()
    }
}

impl Renewal {
    /// The default window, the system clock, and the files at `cert` and `key`.
    pub fn at(cert: PathBuf, key: PathBuf) -> Renewal {
        Renewal {
            window_days: DEFAULT_RENEW_WITHIN_DAYS,
            now: Arc::new(|| chrono::Utc::now().timestamp()),
            files: Some((cert, key)),
        }
    }
}

/// What the hub answered an enrollment.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The school the code enrolled.
    pub school: yanpei_domain::SchoolCode,
    /// Its name on the roster.
    pub school_name: String,
    /// The county CA, this node's new certificate and its key (made here).
    pub tls: TlsMaterial,
}

/// Sends the enrollment `code` with a certificate request for `node_id` to the hub at `url`,
/// verified against `ca_pem`. The private key is made here and never sent.
pub async fn enroll(
    url: &str,
    server_name: &str,
    ca_pem: &str,
    code: &str,
    node_id: Uuid,
) -> Result<Enrolled, NodeError> {
    let (csr_pem, key_pem) =
        node_request(&node_id.to_string()).map_err(|e| NodeError::Config(e.to_string()))?;
    let (school, school_name, ca_pem, cert_pem) =
        enroll_call(url, server_name, ca_pem, code, node_id, csr_pem).await?;
    Ok(Enrolled { school, school_name, tls: TlsMaterial { ca_pem, cert_pem, key_pem } })
}

/// During a sync: renews the certificate `tls` of node `node_id` over the session `hub` if its
/// renewal window has come (a new key each time): the new material, or `None` when not
/// due. The old certificate keeps working until it expires or is revoked, so a failed
/// renewal only waits for the next night.
pub(crate) async fn renew_if_due(
    r: &Renewal,
    tls: TlsMaterial,
    node_id: uuid::Uuid,
    hub: &SyncSession,
) -> Result<Option<TlsMaterial>, NodeError> {
    let v = pem_to_der(&tls.cert_pem)
        .and_then(|d| validity_of(&d))
        .map_err(|e| NodeError::Config(format!("本节点证书无法读取：{e}")))?;
    if !renewal_due(v, (r.now)(), r.window_days) {
        return Ok(None);
    }
    let (csr_pem, key_pem) =
        node_request(&node_id.to_string()).map_err(|e| NodeError::Config(e.to_string()))?;
    let cert_pem = hub.renew(csr_pem).await?;
    let new = TlsMaterial { ca_pem: tls.ca_pem, cert_pem, key_pem };
    if let Some((cert, key)) = &r.files {
        save_pair(cert, key, &new)?;
    }
    info!(days_left = v.days_left((r.now)()), "node certificate renewed");
    Ok(Some(new))
}

/// Writes a certificate and its key beside the old ones, then renames them over: the key
/// first, the certificate last.
pub fn save_pair(cert: &Path, key: &Path, tls: &TlsMaterial) -> Result<(), NodeError> {
    let io = |p: &Path, e: std::io::Error| NodeError::Config(format!("{}: {e}", p.display()));
    let with_new = |p: &Path| {
        let mut s = p.as_os_str().to_owned();
        s.push(".new");
        PathBuf::from(s)
    };
    let (cert_new, key_new) = (with_new(cert), with_new(key));
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&key_new).map_err(|e| io(&key_new, e))?;
        f.write_all(tls.key_pem.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| io(&key_new, e))?;
    }
    std::fs::write(&cert_new, &tls.cert_pem).map_err(|e| io(&cert_new, e))?;
    std::fs::rename(&key_new, key).map_err(|e| io(key, e))?;
    std::fs::rename(&cert_new, cert).map_err(|e| io(cert, e))?;
    Ok(())
}
