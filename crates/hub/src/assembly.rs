//! One hub process: the store, the accounts (with their one lockout), the audit sink
//! and the certificate revocation list, built once by [`Hub::open`] and shared by the
//! gRPC port ([`Hub::serve`]) and the dashboard port ([`Hub::serve_dashboard`]). So a
//! person's failed logins count toward one lockout whichever port they come to, and
//! both ports write the one audit log.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use yanpei_store::hub::HubStore;

use crate::accounts::Accounts;
use crate::audit::AuditSink;
use crate::revocation::Revocations;
use crate::{
    DEV_IDENTITY_HEADER, HubError, MAX_CONCURRENT_PER_CONNECTION, Metrics, ServeOptions, Transport, attach,
    enroll, gate, grpc, limits, query, ratelimit, storage_health, sync, web,
};

/// What both ports of one hub share. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    store: HubStore,
    options: ServeOptions,
    accounts: Accounts,
    audit: AuditSink,
    revoked: Arc<Revocations>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Hub {
    /// The hub over an opened store (metrics counted, exposed by nobody).
    pub async fn open(store: HubStore, options: ServeOptions) -> Result<Hub, HubError> {
        Self::with_metrics(store, options, Arc::new(Metrics::default())).await
    }

    /// [`Hub::open`], counting into `metrics`.
    pub async fn with_metrics(
        store: HubStore,
        options: ServeOptions,
        metrics: Arc<Metrics>,
    ) -> Result<Hub, HubError> {
        let ca_pem = match &options.transport {
            Transport::MutualTls(tls) => {
                enroll::warn_at_start(&tls.cert_pem, &tls.ca_pem, &metrics);
                tls.ca_pem.clone()
            }
            Transport::InsecureDev => String::new(),
        };
        let revoked = Arc::new(Revocations::new(options.crl.clone(), ca_pem));
        // The writer ends once the last sink (every clone of this hub) is dropped.
        let (audit, _writer) = AuditSink::start(store.clone());
        let accounts = Accounts::open_audited(store.clone(), options.token_ttl, Some(audit.clone())).await?;
        Ok(Hub { store, options, accounts, audit, revoked, metrics })
    }

    /// The accounts both ports sign people in with.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Serves the dashboard on `listener` until `shutdown` completes: HTTPS with the
    /// hub's certificate (plain HTTP under `--insecure-dev`).
    pub async fn serve_dashboard(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HubError> {
        let query = Arc::new(self.query());
        let parts = web::Parts { query, accounts: self.accounts.clone(), audit: self.audit.clone() };
        web::serve(listener, parts, &self.options.transport, shutdown).await
    }

    /// Serves gRPC on `listener` until `shutdown` completes; in-flight calls finish first.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), HubError> {
        let (routes, health) = grpc::serve::routes(self.cores()).await?;
        // While the database cannot write, the sync service and "" answer NOT_SERVING; the
        // watcher stops with this function (returned or dropped after the grace period).
        let watcher_stop = CancellationToken::new();
        let _stop_watcher = watcher_stop.clone().drop_guard();
        storage_health::start(self.store.clone(), health.clone(), self.options.probe_interval, watcher_stop);
        let addr = listener.local_addr().map_err(|e| HubError::Startup(e.to_string()))?;
        let insecure_dev = matches!(self.options.transport, Transport::InsecureDev);
        let gate = gate::GateLayer::new(
            ratelimit::Buckets::new(self.options.rate_limit),
            self.audit.clone(),
            insecure_dev,
            self.accounts.clone(),
        );
        self.server(addr)?
            // The gate is outermost: it logs the code the caller finally gets.
            .layer(gate)
            .layer(tower::util::MapResponseLayer::new(limits::oversized_is_resource_exhausted))
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
            .await
            .map_err(|e| HubError::Startup(format!("server: {e}")))?;
        // Everything answered is queued by now: wait until the writer has stored it.
        self.audit.flush().await;
        tracing::info!("hub stopped");
        Ok(())
    }

    /// The server with its limits and transport (mutual TLS, or plain for development).
    fn server(&self, addr: std::net::SocketAddr) -> Result<Server, HubError> {
        let mut builder = Server::builder()
            // One node syncs over one connection: more than a few requests at once on it is a
            // misbehaving peer, shed with RESOURCE_EXHAUSTED rather than queued without bound.
            .concurrency_limit_per_connection(MAX_CONCURRENT_PER_CONNECTION)
            .load_shed(true);
        match &self.options.transport {
            Transport::MutualTls(tls) => {
                // The chain ends with the CA certificate, so an enrolling node without one can
                // check it against the fingerprint on its enrollment slip.
                let chain = format!("{}\n{}", tls.cert_pem.trim_end(), tls.ca_pem);
                let tls_config = ServerTlsConfig::new()
                    .identity(Identity::from_pem(chain, &tls.key_pem))
                    .client_ca_root(Certificate::from_pem(&tls.ca_pem))
                    // People log in without a certificate; a certificate presented is still
                    // verified against the county CA in the handshake, and a call with neither
                    // a certificate nor a valid token is refused by `auth::caller`.
                    .client_auth_optional(true)
                    .timeout(Duration::from_secs(10));
                builder = builder
                    .tls_config(tls_config)
                    .map_err(|e| HubError::Startup(format!("TLS configuration: {e}")))?;
                tracing::info!(%addr, rate_limit = ?self.options.rate_limit, "hub serving gRPC over mutual TLS");
            }
            Transport::InsecureDev => {
                tracing::warn!(
                    %addr,
                    "INSECURE DEV MODE: no TLS, no client certificates; any caller is whoever its \
                     {DEV_IDENTITY_HEADER} header says. Never use this with real data."
                );
            }
        }
        Ok(builder)
    }

    /// The cores of the gRPC services, over this hub's shared parts.
    fn cores(&self) -> grpc::serve::Cores {
        grpc::serve::Cores {
            sync: sync::Sync::new(
                self.store.clone(),
                self.options.attachments.clone(),
                self.metrics.clone(),
                self.revoked.clone(),
            ),
            query: self.query(),
            attachments: attach::Attachments::new(self.options.attachments.clone(), self.revoked.clone()),
            accounts: self.accounts.clone(),
            enroll: enroll::Enroll::new(self.store.clone(), self.options.ca.clone(), self.revoked.clone()),
        }
    }

    /// The typed query API both ports answer with.
    fn query(&self) -> query::Query {
        query::Query::new(
            self.store.clone(),
            self.revoked.clone(),
            self.audit.clone(),
            self.options.quotas.clone(),
        )
    }
}
