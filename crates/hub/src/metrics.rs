//! Prometheus metrics: counters kept in memory by the RPC handlers, plus
//! gauges read from the database at scrape time, served as text on an HTTP port.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use yanpei_pki::EXPIRY_WARNING_DAYS;
use yanpei_store::hub::HubStore;

/// Upper bounds (seconds) of the batch-latency histogram's buckets.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The hub's counters. Cheap to update from any handler.
#[derive(Debug, Default)]
pub struct Metrics {
    sessions: AtomicU64,
    sessions_finished: AtomicU64,
    batches: AtomicU64,
    records_applied: AtomicU64,
    records_unchanged: AtomicU64,
    batches_rejected_invalid: AtomicU64,
    batches_rejected_permission: AtomicU64,
    changes_refused: AtomicU64,
    changes_conflicted: AtomicU64,
    batch_seconds_buckets: [AtomicU64; BUCKETS.len()],
    batch_seconds_count: AtomicU64,
    batch_micros_sum: AtomicU64,
    /// When the hub's own certificate and the CA expire (Unix seconds), once known.
    pub(crate) own_certs: std::sync::OnceLock<(i64, i64)>,
}

/// Why a batch was rejected, for the metric's label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rejection {
    Invalid,
    Permission,
}

impl Metrics {
    pub(crate) fn session_opened(&self) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn session_finished(&self) {
        self.sessions_finished.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn batch_applied(&self, applied: u32, unchanged: u32, took: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.records_applied.fetch_add(u64::from(applied), Ordering::Relaxed);
        self.records_unchanged.fetch_add(u64::from(unchanged), Ordering::Relaxed);
        let secs = took.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.batch_seconds_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.batch_seconds_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.batch_micros_sum.fetch_add(micros, Ordering::Relaxed);
    }

    /// Changes refused one by one (the rest of their batch applied) and changes that
    /// met a concurrent version.
    pub(crate) fn changes_judged(&self, refused: usize, conflicts: u32) {
        self.changes_refused.fetch_add(refused as u64, Ordering::Relaxed);
        self.changes_conflicted.fetch_add(u64::from(conflicts), Ordering::Relaxed);
    }

    pub(crate) fn batch_rejected(&self, why: Rejection) {
        match why {
            Rejection::Invalid => &self.batches_rejected_invalid,
            Rejection::Permission => &self.batches_rejected_permission,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of the counters, plus `stale` as
    /// (days, nodes not synced for that many days) pairs.
    pub fn render(&self, stale: &[(u32, u64)]) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            "yanpei_sync_sessions_total",
            "Sync sessions opened (handshakes accepted).",
            get(&self.sessions),
        );
        counter(
            "yanpei_sync_sessions_finished_total",
            "Sync sessions finished.",
            get(&self.sessions_finished),
        );
        counter("yanpei_push_batches_total", "Push batches applied.", get(&self.batches));
        counter("yanpei_records_applied_total", "Changes that changed the hub.", get(&self.records_applied));
        counter(
            "yanpei_records_unchanged_total",
            "Changes the hub already held (replays, older versions).",
            get(&self.records_unchanged),
        );
        counter(
            "yanpei_changes_refused_total",
            "Changes refused one by one (kept quarantined at their node); the rest of the batch applied.",
            get(&self.changes_refused),
        );
        counter(
            "yanpei_changes_conflicted_total",
            "Changes that met a concurrent version of their record (the loser is kept).",
            get(&self.changes_conflicted),
        );
        let _ = writeln!(
            out,
            "# HELP yanpei_push_batches_rejected_total Push batches rejected whole.\n\
             # TYPE yanpei_push_batches_rejected_total counter\n\
             yanpei_push_batches_rejected_total{{reason=\"invalid_argument\"}} {}\n\
             yanpei_push_batches_rejected_total{{reason=\"permission_denied\"}} {}",
            get(&self.batches_rejected_invalid),
            get(&self.batches_rejected_permission)
        );
        let _ = writeln!(
            out,
            "# HELP yanpei_push_batch_seconds Time to validate and apply one push batch.\n\
             # TYPE yanpei_push_batch_seconds histogram"
        );
        for (bound, bucket) in BUCKETS.iter().zip(&self.batch_seconds_buckets) {
            let _ = writeln!(out, "yanpei_push_batch_seconds_bucket{{le=\"{bound}\"}} {}", get(bucket));
        }
        let count = get(&self.batch_seconds_count);
        let _ = writeln!(out, "yanpei_push_batch_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "yanpei_push_batch_seconds_sum {}", get(&self.batch_micros_sum) as f64 / 1e6);
        let _ = writeln!(out, "yanpei_push_batch_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP yanpei_nodes_not_synced Nodes whose last sync is older than the given number of days.\n\
             # TYPE yanpei_nodes_not_synced gauge"
        );
        for (days, n) in stale {
            let _ = writeln!(out, "yanpei_nodes_not_synced{{days=\"{days}\"}} {n}");
        }
        out
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    store: HubStore,
}

async fn scrape(State(app): State<AppState>) -> impl IntoResponse {
    let mut stale = Vec::new();
    for days in [1u32, 3, 7] {
        match app
            .store
            .nodes_not_synced_since(chrono::Utc::now() - chrono::TimeDelta::days(days.into()))
            .await
        {
            Ok(n) => stale.push((days, n)),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot count stale nodes");
                return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
            }
        }
    }
    let mut text = app.metrics.render(&stale);
    text.push_str(&certificate_gauges(&app.store, &app.metrics).await);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The certificate gauges, in Prometheus text: the hub's and the CA's days left (kept at
/// start by `enroll::warn_at_start`) and nodes whose certificate expires soon.
async fn certificate_gauges(store: &HubStore, metrics: &Metrics) -> String {
    let mut out = String::new();
    let now = chrono::Utc::now();
    if let Some((hub, ca)) = metrics.own_certs.get() {
        let _ = writeln!(
            out,
            "# HELP yanpei_certificate_expiry_days Days until the hub's own certificate or the CA expires.\n\
             # TYPE yanpei_certificate_expiry_days gauge\n\
             yanpei_certificate_expiry_days{{cert=\"hub\"}} {}\n\
             yanpei_certificate_expiry_days{{cert=\"ca\"}} {}",
            (hub - now.timestamp()).div_euclid(86_400),
            (ca - now.timestamp()).div_euclid(86_400)
        );
    }
    match store.certs_expiring(now, now + chrono::TimeDelta::days(EXPIRY_WARNING_DAYS)).await {
        Ok(n) => {
            let _ = writeln!(
                out,
                "# HELP yanpei_node_certificates_expiring Nodes whose newest hub-signed certificate expires within {EXPIRY_WARNING_DAYS} days.\n\
                 # TYPE yanpei_node_certificates_expiring gauge\n\
                 yanpei_node_certificates_expiring{{days=\"{EXPIRY_WARNING_DAYS}\"}} {n}"
            );
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count expiring certificates"),
    }
    out
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes.
pub(crate) async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: HubStore,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new().route("/metrics", get(scrape)).with_state(AppState { metrics, store });
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.session_opened();
        m.batch_applied(5, 2, Duration::from_millis(30));
        m.batch_applied(1, 0, Duration::from_millis(3));
        m.batch_rejected(Rejection::Invalid);
        let text = m.render(&[(3, 4)]);
        assert!(text.contains("yanpei_sync_sessions_total 1\n"));
        assert!(text.contains("yanpei_records_applied_total 6\n"));
        assert!(text.contains("yanpei_records_unchanged_total 2\n"));
        assert!(text.contains("yanpei_push_batches_rejected_total{reason=\"invalid_argument\"} 1\n"));
        assert!(text.contains("yanpei_push_batch_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("yanpei_push_batch_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("yanpei_push_batch_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("yanpei_nodes_not_synced{days=\"3\"} 4\n"));
    }
}
