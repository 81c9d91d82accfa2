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
//! compiled into the hub ([`assets`]) and named by its content's hash, so browsers keep
//! it a year; the page's Content-Security-Policy allows nothing from elsewhere, because
//! schools' networks may not reach the internet. Answers are gzipped for browsers that
//! accept it.
//!
//! Over mutual TLS the dashboard is HTTPS with the hub's own certificate (no client
//! certificate: people sign in with passwords); under `--insecure-dev` it is plain HTTP.

mod alliances;
mod api;
mod assets;
mod compliance_page;
mod guard;
mod listener;
mod mine;
mod names;
mod pages;
mod records;
mod reply;
mod report_pages;
mod session;
mod sync_page;
mod view;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::accounts::Accounts;
use crate::audit::AuditSink;
use crate::query::Query;
use crate::{HubError, Transport};

/// What every dashboard handler shares.
#[derive(Clone)]
pub(crate) struct Web {
    query: Arc<Query>,
    accounts: Accounts,
    audit: AuditSink,
    /// Cookies carry `Secure` when served over TLS.
    secure: bool,
}

/// What the dashboard shares with the gRPC port of the same hub (`crate::assembly::Hub`).
pub(crate) struct Parts {
    /// The query layer over the hub's store.
    pub(crate) query: Arc<Query>,
    /// The hub's accounts: one lockout for both ports.
    pub(crate) accounts: Accounts,
    /// The hub's audit log.
    pub(crate) audit: AuditSink,
}

/// Serves the dashboard on `listener` until `shutdown` completes: TLS with the hub's
/// certificate, or plain HTTP under `--insecure-dev`.
pub(crate) async fn serve(
    listener: TcpListener,
    parts: Parts,
    transport: &Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let addr: SocketAddr = listener.local_addr().map_err(|e| HubError::Startup(e.to_string()))?;
    let secure = matches!(transport, Transport::MutualTls(_));
    let audit = parts.audit.clone();
    let web = Web { query: parts.query, accounts: parts.accounts, audit: parts.audit, secure };
    let app = router(web);
    let served = match transport {
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
        // Outermost: whatever is answered (ECharts is 1.1 MB) goes gzipped to a browser that takes it.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(web)
}
