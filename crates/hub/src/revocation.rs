//! The certificate revocation list: reloaded whenever its file changes, so a
//! `yanpei ca revoke` takes effect on the next call without restarting the hub.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::HubError;

/// Revoked serial numbers, from a CRL file signed by the county CA.
#[derive(Debug)]
pub(crate) struct Revocations {
    path: Option<PathBuf>,
    ca_pem: String,
    cached: Mutex<(Option<SystemTime>, BTreeSet<Vec<u8>>)>,
}

impl Revocations {
    pub(crate) fn new(path: Option<PathBuf>, ca_pem: String) -> Self {
        Revocations { path, ca_pem, cached: Mutex::new((None, BTreeSet::new())) }
    }

    /// Refuses a revoked certificate (DER).
    pub(crate) fn check(&self, leaf: &[u8]) -> Result<(), HubError> {
        let Some(path) = &self.path else { return Ok(()) };
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if modified != cached.0 {
            match modified.map(|_| std::fs::read_to_string(path)) {
                None => *cached = (None, BTreeSet::new()),
                Some(Ok(text)) => match yanpei_pki::revoked_serials(&text, &self.ca_pem) {
                    Ok(set) => {
                        tracing::info!(path = %path.display(), revoked = set.len(), "revocation list loaded");
                        *cached = (modified, set);
                    }
                    // A damaged list must not lock the whole county out: keep the last good one.
                    Err(e) => {
                        tracing::error!(path = %path.display(), error = %e, "revocation list rejected; keeping the previous one")
                    }
                },
                Some(Err(e)) => {
                    tracing::error!(path = %path.display(), error = %e, "cannot read the revocation list")
                }
            }
        }
        let serial = yanpei_pki::serial_of(leaf).map_err(|e| HubError::Unauthenticated(e.to_string()))?;
        if cached.1.contains(&serial) {
            return Err(HubError::Unauthenticated("此证书已被县 CA 吊销；请联系县进修学校重新签发".into()));
        }
        Ok(())
    }
}
