//! The county dashboard: a Chinese web page served on an HTTP port beside gRPC.
//!
//! People sign in with an account (`crate::accounts`); the session is a short-lived
//! signed token in an HttpOnly cookie, revoked in the store when they sign out.
//! Writes (signing in and out) must come from the dashboard's own pages as JSON, and
//! HTTPS answers carry HSTS ([`guard`]). Every page's data comes from the same query
//! layer as the gRPC reports (`crate::query::Query`, so the same scope rules: a
//! 教研员 sees only assigned schools, refused by URL as well as left out of lists),
//! and every request is written to the audit log like an RPC. Tables are
//! `yanpei_report::Table`s built by [`crate::tables`], so a table on the page and
//! its .xlsx download hold the same numbers.
//!
//! Everything the page loads — HTML, script, styles and the ECharts library — is
//! compiled into the hub ([`assets`]); the page's Content-Security-Policy allows
//! nothing from elsewhere, because schools' networks may not reach the internet.
//!
//! Over mutual TLS the dashboard is HTTPS with the hub's own certificate (no client
//! certificate: people sign in with passwords); under `--insecure-dev` it is plain HTTP.

mod api;
mod assets;
mod guard;
mod listener;
mod pages;
mod reply;
mod report_pages;
mod session;
mod view;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use yanpei_store::hub::HubStore;

use crate::accounts::Accounts;
use crate::audit::AuditSink;
use crate::query::Query;
use crate::revocation::Revocations;
use crate::{HubError, ServeOptions, Transport};

/// What every dashboard handler shares.
#[derive(Clone)]
pub(crate) struct Web {
    query: Arc<Query>,
    accounts: Accounts,
    audit: AuditSink,
    /// Cookies carry `Secure` when served over TLS.
    secure: bool,
}

/// Serves the dashboard on `listener` until `shutdown` completes.
///
/// Uses the same store, quota policy and transport as the gRPC server in `options`
/// (TLS with the hub's certificate, or plain HTTP under `--insecure-dev`).
pub async fn serve_dashboard(
    listener: TcpListener,
    store: HubStore,
    options: &ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let addr: SocketAddr = listener.local_addr().map_err(|e| HubError::Startup(e.to_string()))?;
    let (audit, writer) = AuditSink::start(store.clone());
    let accounts = Accounts::open_audited(store.clone(), options.token_ttl, Some(audit.clone())).await?;
    // People have no certificates here, so there is nothing to revoke on this port.
    let revoked = Arc::new(Revocations::new(None, String::new()));
    let query = Arc::new(Query::new(store, revoked, audit.clone(), options.quotas.clone()));
    let secure = matches!(options.transport, Transport::MutualTls(_));
    let web = Web { query, accounts, audit: audit.clone(), secure };
    let app = router(web);
    let served = match &options.transport {
        Transport::MutualTls(tls) => {
            let listener = listener::TlsListener::new(listener, tls)?;
            tracing::info!(%addr, "dashboard serving HTTPS with the hub's certificate");
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
        Transport::InsecureDev => {
            tracing::warn!(%addr, "INSECURE DEV MODE: dashboard served over plain HTTP");
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
    };
    audit.flush().await;
    drop(writer);
    served.map_err(|e| HubError::Startup(format!("dashboard: {e}")))
}

fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{name}", get(assets::asset))
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/me", get(api::me))
        .route("/api/view/{page}", get(api::view))
        .fallback(assets::not_found)
        .layer(axum::middleware::from_fn_with_state(web.clone(), guard::guard))
        .with_state(web)
}
