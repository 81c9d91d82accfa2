//! `yanpei login`: a person logs in with username and password for a short-lived token,
//! saved to a file only they can read, which `yanpei query`/`yanpei report` then present
//! instead of a client certificate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use yanpei_proto::pb::{self, account_service_client::AccountServiceClient};

use super::read_pem;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The hub, e.g. https://127.0.0.1:7443.
    #[arg(long, env = "YANPEI_HUB", default_value = "https://127.0.0.1:7443")]
    hub: String,
    /// The county CA certificate (to check the hub's).
    #[arg(long, env = "YANPEI_CA", default_value = "pki/ca.pem")]
    ca: PathBuf,
    /// The name in the hub's certificate.
    #[arg(long, default_value = yanpei_pki::HUB_DNS_NAME)]
    server_name: String,
    /// Your username.
    #[arg(long)]
    user: String,
    /// Read the password from the first line of stdin instead of a prompt.
    #[arg(long)]
    password_stdin: bool,
    /// Where to save the token [default: $YANPEI_TOKEN_FILE, else ~/.config/yanpei/token].
    #[arg(long)]
    token_file: Option<PathBuf>,
}

/// Where a token is saved and looked for when no `--token-file` is given.
pub(crate) fn default_token_file() -> PathBuf {
    if let Some(p) = std::env::var_os("YANPEI_TOKEN_FILE") {
        return PathBuf::from(p);
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".config").join("yanpei").join("token"),
        None => PathBuf::from(".yanpei-token"),
    }
}

/// A TLS channel to the hub checked against the county CA, with a client certificate
/// (`identity`: certificate and key PEM) or without one (a token is sent per call).
pub(crate) async fn channel(
    hub: &str,
    ca: &Path,
    server_name: &str,
    identity: Option<(String, String)>,
) -> anyhow::Result<Channel> {
    let mut tls =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read_pem(ca)?)).domain_name(server_name);
    if let Some((cert, key)) = identity {
        tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(hub.to_owned())
        .with_context(|| format!("hub address {hub}"))?
        .tls_config(tls)
        .context("TLS configuration")?
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(120))
        .connect()
        .await
        // Why, in Chinese (the same reading as `node sync`'s); the transport's words go to the debug log.
        .map_err(|e| anyhow::anyhow!(yanpei_node::reach::explain(hub, server_name, &e)))
}

/// Writes `token` to `path`, readable by its owner only.
fn save_token(path: &Path, token: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("write {}", path.display()))?;
    // An older file keeps its mode on open: make sure it is the owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("chmod 600 {}", path.display()))?;
    }
    writeln!(file, "{token}").with_context(|| format!("write {}", path.display()))
}

/// The token saved in `path`.
pub(crate) fn load_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read the login token {} (log in with yanpei login)", path.display()))?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        anyhow::bail!("{} 中没有登录凭据；请先 yanpei login", path.display());
    }
    Ok(token)
}

pub(crate) async fn run(a: Args) -> anyhow::Result<()> {
    let password = if a.password_stdin {
        super::account::read_stdin_line()?
    } else {
        rpassword::prompt_password(format!("{} 的密码：", a.user)).context("read the password")?
    };
    let mut client = AccountServiceClient::new(channel(&a.hub, &a.ca, &a.server_name, None).await?);
    let reply = client
        .login(pb::LoginRequest { username: a.user.clone(), password })
        .await
        .map_err(|s| anyhow::anyhow!("登录失败：{}", s.message()))?
        .into_inner();
    let path = a.token_file.unwrap_or_else(default_token_file);
    save_token(&path, &reply.token)?;
    let role = match reply.role.as_str() {
        "operator" => "管理员".to_owned(),
        "staff" => format!("教研员（工号 {}）", reply.subject),
        "principal" => format!("校长（学校 {}）", reply.subject),
        other => other.to_owned(),
    };
    println!("已登录：{} {}，{role}；凭据有效至 {}", reply.username, reply.display_name, reply.expires_at);
    println!("凭据已保存到 {}（仅本人可读）", path.display());
    Ok(())
}
