//! The county hub: a gRPC server over mutual TLS that applies the nodes'
//! batches, hands them the changes that concern them, keeps the sync ledger
//! and answers county statistics.
//!
//! [`serve`] takes a bound listener, an opened store, the options and a shutdown future,
//! so tests start a real hub on `127.0.0.1:0`. The gRPC edge ([`grpc`]) is the only
//! module that names a prost type: every other module works on typed requests and answers.

pub mod accounts;
mod assembly;
mod attach;
mod audit;
mod auth;
pub mod enroll;
mod error;
mod gate;
pub mod grpc;
mod limits;
mod metrics;
pub mod model;
mod pairs;
mod query;
mod ratelimit;
mod report;
mod revocation;
mod rules;
mod scope;
mod storage_health;
mod sync;
pub mod tables;
mod web;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use yanpei_store::hub::HubStore;

pub use accounts::{Accounts, DEFAULT_TOKEN_TTL};
pub use assembly::Hub;
pub use error::HubError;
pub use gate::DEV_IDENTITY_HEADER;
pub use metrics::Metrics;
pub use ratelimit::RateLimit;
pub use storage_health::DEFAULT_PROBE_INTERVAL;
pub use yanpei_attach::BlobDir;
pub use yanpei_report::QuotaPolicy;

/// Largest message the hub decodes or sends, after decompression (a full push batch is far smaller).
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// Requests served at once on one connection; more are refused, not queued.
pub const MAX_CONCURRENT_PER_CONNECTION: usize = 8;

pub use yanpei_pki::TlsMaterial;

/// How callers reach the hub.
#[derive(Debug, Clone)]
pub enum Transport {
    /// TLS with client certificates of the county CA, which name their holders. A caller
    /// without a certificate gets through the handshake, but only `AccountService.Login`
    /// and, with a valid login token, the read-side RPCs answer it.
    MutualTls(TlsMaterial),
    /// Plain HTTP/2 for development only (`yanpei hub serve --insecure-dev`), logged loudly:
    /// a caller is whoever its `x-yanpei-dev-identity` header says (`node:CODE`,
    /// `staff:ID`, `operator:NAME`); without the header it is refused.
    InsecureDev,
}

/// How the hub serves: everything [`serve`] needs besides the listener and the store.
/// [`ServeOptions::new`] gives the defaults for a transport.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// TLS (or, for development only, none).
    pub transport: Transport,
    /// The county CA's revocation list (`yanpei ca revoke` writes it); reloaded when it changes.
    pub crl: Option<PathBuf>,
    /// Requests per caller identity.
    pub rate_limit: RateLimit,
    /// Where uploaded attachments are kept (`ab/<sha256>`); `None` refuses uploads (and
    /// records that reference files).
    pub attachments: Option<BlobDir>,
    /// The county's quota policy for the compliance report.
    pub quotas: QuotaPolicy,
    /// How long a login token lives ([`DEFAULT_TOKEN_TTL`] unless configured).
    pub token_ttl: Duration,
    /// While the database cannot write (full disk, I/O error), how often a small write
    /// probes it; health answers NOT_SERVING until one commits ([`DEFAULT_PROBE_INTERVAL`]).
    pub probe_interval: Duration,
    /// The county CA with its key, to sign the certificates of enrolling and renewing nodes
    /// (`hub.ca_key`); `None`: enrollment and renewal answer FAILED_PRECONDITION.
    pub ca: Option<Arc<yanpei_pki::CountyCa>>,
    /// Where to serve Prometheus metrics (`GET /metrics`), if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Where to serve the web dashboard (HTTPS with the hub's certificate), if anywhere.
    pub web_listen: Option<std::net::SocketAddr>,
    /// After shutdown is asked for, how long in-flight requests may take to
    /// finish before they are dropped (their transactions roll back).
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    /// The defaults over `transport`: no revocation list, no rate limit, no attachments,
    /// the default quota policy, token lifetime and probe interval, no CA key, no metrics
    /// or dashboard port, and 10 seconds' grace at shutdown.
    pub fn new(transport: Transport) -> ServeOptions {
        ServeOptions {
            transport,
            crl: None,
            rate_limit: RateLimit::UNLIMITED,
            attachments: None,
            quotas: QuotaPolicy::default_policy(),
            token_ttl: DEFAULT_TOKEN_TTL,
            probe_interval: DEFAULT_PROBE_INTERVAL,
            ca: None,
            metrics_listen: None,
            web_listen: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves the hub over an opened store until `shutdown` completes: gRPC on `listener`,
/// and the metrics and dashboard ports if the options name them. One [`Hub`] answers on
/// every port, so they share one accounts lockout and one audit log.
///
/// When `shutdown` fires the hub stops accepting; in-flight RPCs get
/// `options.shutdown_grace` to finish, then are dropped. Each batch is one
/// transaction, so one cut short leaves nothing behind.
pub async fn serve(
    listener: TcpListener,
    store: HubStore,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let metrics = Arc::new(Metrics::default());
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    if let Some(addr) = options.metrics_listen {
        let metrics_listener = TcpListener::bind(addr)
            .await
            .map_err(|e| HubError::Startup(format!("metrics_listen {addr}: {e}")))?;
        let bound = metrics_listener.local_addr().map_err(|e| HubError::Startup(e.to_string()))?;
        tracing::info!(addr = %bound, "serving Prometheus metrics at /metrics");
        let (m, st, stop) = (metrics.clone(), store.clone(), token.clone());
        tokio::spawn(async move {
            if let Err(e) = metrics::serve_metrics(metrics_listener, m, st, stop.cancelled_owned()).await {
                tracing::error!(error = %e, "metrics server failed");
            }
        });
    }
    if let Some(b) = &options.attachments {
        // Fail at start, not at the first upload, if the directory cannot be made.
        std::fs::create_dir_all(b.root())
            .map_err(|e| HubError::Startup(format!("attachments {}: {e}", b.root().display())))?;
        tracing::info!(dir = %b.root().display(), "attachments kept on disk");
    }
    let (grace, web_listen) = (options.shutdown_grace, options.web_listen);
    let stop = token.clone();
    let hub = Hub::with_metrics(store, options, metrics).await?;
    if let Some(addr) = web_listen {
        let web_listener = TcpListener::bind(addr)
            .await
            .map_err(|e| HubError::Startup(format!("web_listen {addr}: {e}")))?;
        let (hub, stop) = (hub.clone(), token.clone());
        tokio::spawn(async move {
            if let Err(e) = hub.serve_dashboard(web_listener, stop.cancelled_owned()).await {
                tracing::error!(error = %e, "dashboard failed");
            }
        });
    }
    let server = hub.serve(listener, token.cancelled_owned());
    tokio::select! {
        r = server => r,
        () = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over; unfinished batches roll back");
            Ok(())
        }
    }
}
