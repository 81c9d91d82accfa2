//! Certificate expiry: the hub's own certificate and the CA's, warned about at start and
//! kept for the metrics page (`metrics::certificate_gauges`).

use yanpei_pki::{EXPIRY_WARNING_DAYS, pem_to_der, validity_of};

use crate::Metrics;

/// Warns (log) when the hub's certificate or the CA expires within [`EXPIRY_WARNING_DAYS`],
/// and keeps both dates for the metrics.
pub(crate) fn warn_at_start(hub_cert_pem: &str, ca_pem: &str, metrics: &Metrics) {
    let not_after = |pem: &str| pem_to_der(pem).and_then(|d| validity_of(&d)).map(|v| v.not_after);
    let (Ok(hub), Ok(ca)) = (not_after(hub_cert_pem), not_after(ca_pem)) else {
        tracing::warn!("cannot read the expiry of the hub's certificate or of the CA");
        return;
    };
    let now = chrono::Utc::now().timestamp();
    for (what, at) in [("hub certificate", hub), ("county CA certificate", ca)] {
        let days = (at - now).div_euclid(86_400);
        if days < 0 {
            tracing::error!(what, days, "certificate has EXPIRED: issue a new one (yanpei ca issue-hub)");
        } else if days <= EXPIRY_WARNING_DAYS {
            tracing::warn!(what, days, "certificate expires soon: issue a new one before it does");
        } else {
            tracing::info!(what, days, "certificate valid");
        }
    }
    let _ = metrics.own_certs.set((hub, ca));
}
