//! `yanpei hub ...`: the county hub, configured by file, environment and flags.
//!
//! Precedence: a flag, then its environment variable, then the config file
//! (`--config`, TOML, see `deploy/hub.toml.example`), then the built-in default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::net::TcpListener;
use yanpei_hub::{QuotaPolicy, RateLimit, ServeOptions, TlsMaterial, Transport};

use super::read_pem;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Serve nodes and queries over mutual TLS until SIGINT or SIGTERM.
    Serve(Box<ServeArgs>),
    /// Check a config file (and the files it names) without starting.
    CheckConfig {
        /// The config file.
        #[arg(long, env = "YANPEI_HUB_CONFIG")]
        config: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Config file (TOML); flags and environment variables override it.
    #[arg(long, env = "YANPEI_HUB_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH?mode=rwc or postgres://USER@HOST/DB [default: sqlite://yanpei-hub.sqlite?mode=rwc].
    #[arg(long, env = "YANPEI_HUB_DB")]
    db: Option<String>,
    /// Address to listen on [default: 0.0.0.0:7443].
    #[arg(long, env = "YANPEI_HUB_LISTEN")]
    listen: Option<SocketAddr>,
    /// Where to serve Prometheus metrics (GET /metrics) [default: not served].
    #[arg(long, env = "YANPEI_HUB_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Where to serve the web dashboard (HTTPS with the hub's certificate) [default: not served].
    #[arg(long, env = "YANPEI_HUB_WEB_LISTEN")]
    web_listen: Option<SocketAddr>,
    /// The county CA certificate [default: pki/ca.pem].
    #[arg(long, env = "YANPEI_HUB_CA")]
    ca: Option<PathBuf>,
    /// The hub's certificate [default: pki/hub.pem].
    #[arg(long, env = "YANPEI_HUB_CERT")]
    cert: Option<PathBuf>,
    /// The hub's private key [default: pki/hub.key].
    #[arg(long, env = "YANPEI_HUB_KEY")]
    key: Option<PathBuf>,
    /// The CA's revocation list, reloaded when it changes [default: pki/crl.pem; absent = none revoked].
    #[arg(long, env = "YANPEI_HUB_CRL")]
    crl: Option<PathBuf>,
    /// The county CA's private key: lets the hub sign enrolling and renewing nodes'
    /// certificates (`yanpei ca enroll`) [default: none; enrollment is refused].
    #[arg(long, env = "YANPEI_HUB_CA_KEY")]
    ca_key: Option<PathBuf>,
    /// Days a node certificate the hub signs is valid [default: 730].
    #[arg(long, env = "YANPEI_HUB_NODE_CERT_DAYS")]
    node_cert_days: Option<i64>,
    /// Seconds in-flight syncs get to finish after SIGTERM [default: 30].
    #[arg(long, env = "YANPEI_HUB_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: Option<u64>,
    /// Sustained requests per second each certificate identity may make; 0 = no limit [default: 50].
    #[arg(long, env = "YANPEI_HUB_RATE_LIMIT_PER_SECOND")]
    rate_limit_per_second: Option<u32>,
    /// Requests an identity may make at once after being idle [default: 200].
    #[arg(long, env = "YANPEI_HUB_RATE_LIMIT_BURST")]
    rate_limit_burst: Option<u32>,
    /// DEVELOPMENT ONLY: serve plain HTTP/2 without TLS or client certificates; callers
    /// name themselves with the `x-yanpei-dev-identity` header (node:CODE, staff:ID, operator:NAME).
    #[arg(long)]
    insecure_dev: bool,
    /// Where uploaded attachments are kept [default: `attachments` beside the SQLite file, or in the working directory].
    #[arg(long, env = "YANPEI_HUB_ATTACHMENTS")]
    attachments: Option<PathBuf>,
    /// The county's quota policy (TOML, see crates/report/quotas.toml) [default: the shipped one].
    #[arg(long, env = "YANPEI_HUB_QUOTAS")]
    quotas: Option<PathBuf>,
    /// Seconds a login token (yanpei login, the dashboard) stays valid [default: 28800, 8 hours].
    #[arg(long, env = "YANPEI_HUB_TOKEN_TTL_SECS")]
    token_ttl_secs: Option<u64>,
    /// While the database cannot write (disk full, I/O error), seconds between the write
    /// probes that bring health back to SERVING [default: 5].
    #[arg(long, env = "YANPEI_HUB_PROBE_INTERVAL_SECS")]
    probe_interval_secs: Option<u64>,
}

/// The config file's shape. Unknown keys are errors that name the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    hub: HubSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HubSection {
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    web_listen: Option<SocketAddr>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    crl: Option<PathBuf>,
    ca_key: Option<PathBuf>,
    node_cert_days: Option<i64>,
    shutdown_grace_secs: Option<u64>,
    rate_limit_per_second: Option<u32>,
    rate_limit_burst: Option<u32>,
    insecure_dev: Option<bool>,
    attachments: Option<PathBuf>,
    quotas: Option<PathBuf>,
    token_ttl_secs: Option<u64>,
    probe_interval_secs: Option<u64>,
}

fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read config {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
}

/// The effective settings, each from the first source that has it.
struct Resolved {
    db: String,
    listen: SocketAddr,
    metrics_listen: Option<SocketAddr>,
    web_listen: Option<SocketAddr>,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    crl: PathBuf,
    ca_key: Option<PathBuf>,
    node_cert_days: i64,
    shutdown_grace: Duration,
    rate_limit: RateLimit,
    insecure_dev: bool,
    attachments: PathBuf,
    /// The policy file, if the county has its own.
    quotas: Option<PathBuf>,
    policy: QuotaPolicy,
    token_ttl: Duration,
    probe_interval: Duration,
}

/// Reads and checks a quota policy file; the error names the file and the quota at fault.
fn load_policy(path: &Path) -> anyhow::Result<QuotaPolicy> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("hub.quotas: read {}", path.display()))?;
    QuotaPolicy::parse(&text).map_err(|e| anyhow::anyhow!("hub.quotas {}: {e}", path.display()))
}

fn resolve(a: ServeArgs) -> anyhow::Result<Resolved> {
    let file = match &a.config {
        Some(p) => load_file(p)?.hub,
        None => HubSection::default(),
    };
    let db = a.db.or(file.database_url).unwrap_or_else(|| "sqlite://yanpei-hub.sqlite?mode=rwc".into());
    let attachments = a.attachments.or(file.attachments).unwrap_or_else(|| default_attachments(&db));
    let quotas = a.quotas.or(file.quotas);
    let policy = match &quotas {
        Some(p) => load_policy(p)?,
        None => QuotaPolicy::default_policy(),
    };
    let r = Resolved {
        db,
        attachments,
        quotas,
        policy,
        listen: a.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 7443))),
        metrics_listen: a.metrics_listen.or(file.metrics_listen),
        web_listen: a.web_listen.or(file.web_listen),
        ca: a.ca.or(file.ca).unwrap_or_else(|| "pki/ca.pem".into()),
        cert: a.cert.or(file.cert).unwrap_or_else(|| "pki/hub.pem".into()),
        key: a.key.or(file.key).unwrap_or_else(|| "pki/hub.key".into()),
        crl: a.crl.or(file.crl).unwrap_or_else(|| "pki/crl.pem".into()),
        ca_key: a.ca_key.or(file.ca_key),
        node_cert_days: a
            .node_cert_days
            .or(file.node_cert_days)
            .unwrap_or(yanpei_pki::DEFAULT_NODE_DAYS)
            .max(1),
        shutdown_grace: Duration::from_secs(a.shutdown_grace_secs.or(file.shutdown_grace_secs).unwrap_or(30)),
        rate_limit: RateLimit {
            per_second: a.rate_limit_per_second.or(file.rate_limit_per_second).unwrap_or(50),
            burst: a.rate_limit_burst.or(file.rate_limit_burst).unwrap_or(200),
        },
        insecure_dev: a.insecure_dev || file.insecure_dev.unwrap_or(false),
        token_ttl: a
            .token_ttl_secs
            .or(file.token_ttl_secs)
            .map(Duration::from_secs)
            .unwrap_or(yanpei_hub::DEFAULT_TOKEN_TTL),
        probe_interval: a
            .probe_interval_secs
            .or(file.probe_interval_secs)
            .map(|s| Duration::from_secs(s.max(1)))
            .unwrap_or(yanpei_hub::DEFAULT_PROBE_INTERVAL),
    };
    validate(&r)?;
    Ok(r)
}

/// `attachments` beside the SQLite file, or in the working directory for PostgreSQL.
fn default_attachments(db: &str) -> PathBuf {
    let file = db.strip_prefix("sqlite://").map(|rest| rest.split('?').next().unwrap_or(rest));
    match file.map(Path::new).and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("attachments"),
        _ => PathBuf::from("attachments"),
    }
}

fn check_token_ttl(ttl: Duration) -> anyhow::Result<()> {
    if !(60..=7 * 24 * 3600).contains(&ttl.as_secs()) {
        bail!("hub.token_ttl_secs: {} is outside 60..=604800 (one minute to one week)", ttl.as_secs());
    }
    Ok(())
}

/// The hub database and token lifetime for `yanpei account`: `--db`, then the config
/// file (the one `yanpei hub serve` reads), then the default, like `hub serve`.
pub(crate) fn database_of(config: Option<&Path>, db: Option<String>) -> anyhow::Result<(String, Duration)> {
    let file = match config {
        Some(p) => load_file(p)?.hub,
        None => HubSection::default(),
    };
    let db = db.or(file.database_url).unwrap_or_else(|| "sqlite://yanpei-hub.sqlite?mode=rwc".into());
    if yanpei_store::Backend::of_url(&db).is_none() {
        bail!("hub.database_url: {db:?} is neither sqlite://PATH?mode=rwc nor postgres://USER@HOST/DB");
    }
    let ttl = file.token_ttl_secs.map(Duration::from_secs).unwrap_or(yanpei_hub::DEFAULT_TOKEN_TTL);
    check_token_ttl(ttl)?;
    Ok((db, ttl))
}

/// Fails fast, naming the key, before anything starts.
fn validate(r: &Resolved) -> anyhow::Result<()> {
    if yanpei_store::Backend::of_url(&r.db).is_none() {
        bail!("hub.database_url: {:?} is neither sqlite://PATH?mode=rwc nor postgres://USER@HOST/DB", r.db);
    }
    if !r.rate_limit.is_unlimited() && r.rate_limit.burst == 0 {
        bail!("hub.rate_limit_burst: must be at least 1 (or set hub.rate_limit_per_second = 0 for no limit)");
    }
    // Under insecure_dev there is no TLS, so no certificate files to find.
    let tls_files = if r.insecure_dev {
        vec![]
    } else {
        vec![("hub.ca", &r.ca), ("hub.cert", &r.cert), ("hub.key", &r.key)]
    };
    for (key, path) in tls_files {
        if !path.is_file() {
            bail!(
                "{key}: {} does not exist (create it with `yanpei ca init` / `yanpei ca issue-hub`)",
                path.display()
            );
        }
    }
    if r.attachments.exists() && !r.attachments.is_dir() {
        bail!("hub.attachments: {} exists and is not a directory", r.attachments.display());
    }
    check_token_ttl(r.token_ttl)?;
    if r.metrics_listen == Some(r.listen) && r.listen.port() != 0 {
        bail!("hub.metrics_listen: must differ from hub.listen ({})", r.listen);
    }
    if r.web_listen.is_some_and(|w| w.port() != 0 && (w == r.listen || Some(w) == r.metrics_listen)) {
        bail!("hub.web_listen: must differ from hub.listen and hub.metrics_listen");
    }
    Ok(())
}

pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Serve(a) => serve(resolve(*a)?).await,
        Command::CheckConfig { config } => {
            let r = resolve(ServeArgs {
                config: Some(config),
                db: None,
                listen: None,
                metrics_listen: None,
                web_listen: None,
                ca: None,
                cert: None,
                key: None,
                crl: None,
                ca_key: None,
                node_cert_days: None,
                shutdown_grace_secs: None,
                rate_limit_per_second: None,
                rate_limit_burst: None,
                insecure_dev: false,
                attachments: None,
                quotas: None,
                token_ttl_secs: None,
                probe_interval_secs: None,
            })?;
            if r.insecure_dev {
                println!(
                    "警告：insecure_dev = true —— 中心将以不加密、不验证证书的开发模式运行，任何人都可冒充任何学校；切勿用于真实数据"
                );
            }
            let limit = if r.rate_limit.is_unlimited() {
                "不限速".to_owned()
            } else {
                format!("每个证书每秒 {} 次（可连续 {} 次）", r.rate_limit.per_second, r.rate_limit.burst)
            };
            let quotas = match &r.quotas {
                Some(p) => format!("{}（{} 项）", p.display(), r.policy.quotas.len()),
                None => format!("内置默认（{} 项）", r.policy.quotas.len()),
            };
            println!(
                "配置无误：数据库 {}，监听 {}，证书 {}，请求限速 {limit}，附件目录 {}，考核指标 {quotas}，登录有效期 {} 分钟",
                r.db,
                r.listen,
                r.cert.display(),
                r.attachments.display(),
                r.token_ttl.as_secs() / 60
            );
            Ok(())
        }
    }
}

async fn serve(r: Resolved) -> anyhow::Result<()> {
    let transport = if r.insecure_dev {
        tracing::warn!(
            "*** --insecure-dev: NO TLS, NO CLIENT CERTIFICATES. Any caller can claim any school \
             with the x-yanpei-dev-identity header. For development on one machine only. ***"
        );
        Transport::InsecureDev
    } else {
        Transport::MutualTls(TlsMaterial {
            ca_pem: read_pem(&r.ca)?,
            cert_pem: read_pem(&r.cert)?,
            key_pem: read_pem(&r.key)?,
        })
    };
    // Fail at start on a key that cannot sign for this CA.
    let ca = match (&r.ca_key, &transport) {
        (Some(key), Transport::MutualTls(tls)) => {
            let ca = yanpei_pki::CountyCa::from_pems(&tls.ca_pem, &read_pem(key)?)
                .with_context(|| format!("hub.ca_key: {}", key.display()))?
                .with_lifetimes(yanpei_pki::Lifetimes { node_days: r.node_cert_days, ..Default::default() });
            tracing::info!(key = %key.display(), node_cert_days = r.node_cert_days, "enrollment enabled: the hub signs node certificates");
            Some(std::sync::Arc::new(ca))
        }
        _ => None,
    };
    let listener =
        TcpListener::bind(r.listen).await.with_context(|| format!("hub.listen: bind {}", r.listen))?;
    let store = yanpei_store::hub::HubStore::open(&r.db).await.context("run hub")?;
    let options = ServeOptions {
        ca,
        crl: Some(r.crl),
        rate_limit: r.rate_limit,
        attachments: Some(yanpei_hub::BlobDir::new(r.attachments)),
        quotas: r.policy,
        token_ttl: r.token_ttl,
        probe_interval: r.probe_interval,
        metrics_listen: r.metrics_listen,
        web_listen: r.web_listen,
        shutdown_grace: r.shutdown_grace,
        ..ServeOptions::new(transport)
    };
    yanpei_hub::serve(listener, store, options, shutdown_signal()).await.context("run hub")?;
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
