//! `yanpei hub ...`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use tokio::net::TcpListener;
use yanpei_hub::{HubConfig, TlsMaterial};

use super::read_pem;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Serve nodes and queries over mutual TLS until SIGINT or SIGTERM.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Database URL: sqlite://PATH?mode=rwc or postgres://USER@HOST/DB.
    #[arg(long, env = "YANPEI_HUB_DB", default_value = "sqlite://yanpei-hub.sqlite?mode=rwc")]
    db: String,
    /// Address to listen on.
    #[arg(long, env = "YANPEI_HUB_LISTEN", default_value = "0.0.0.0:7443")]
    listen: SocketAddr,
    /// The county CA certificate (clients must present certificates it signed).
    #[arg(long, env = "YANPEI_HUB_CA", default_value = "pki/ca.pem")]
    ca: PathBuf,
    /// The hub's certificate (`yanpei ca issue-hub`).
    #[arg(long, env = "YANPEI_HUB_CERT", default_value = "pki/hub.pem")]
    cert: PathBuf,
    /// The hub's private key.
    #[arg(long, env = "YANPEI_HUB_KEY", default_value = "pki/hub.key")]
    key: PathBuf,
}

pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Serve(a) => serve(a).await,
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let tls =
        TlsMaterial { ca_pem: read_pem(&a.ca)?, cert_pem: read_pem(&a.cert)?, key_pem: read_pem(&a.key)? };
    let listener = TcpListener::bind(a.listen).await.with_context(|| format!("listen on {}", a.listen))?;
    let config = HubConfig { database_url: a.db, tls };
    yanpei_hub::run(listener, config, shutdown_signal()).await.context("run hub")?;
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
