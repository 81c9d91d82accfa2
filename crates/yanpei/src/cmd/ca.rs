//! `yanpei ca ...`: the county certificate authority.

use super::revoke::{hex, read_revoked};
use std::path::PathBuf;

use anyhow::Context;
use yanpei_domain::SchoolCode;
use yanpei_pki::{CountyCa, Identity, identity_of, pem_to_der, serial_of};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create the county CA (ca.pem, ca.key) in DIR.
    Init {
        /// Where the CA lives.
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// The county's name, written into the CA certificate.
        #[arg(long, default_value = "本县")]
        county: String,
    },
    /// Issue the hub's server certificate (hub.pem, hub.key).
    IssueHub {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// Extra DNS names the hub is reached by.
        #[arg(long = "name")]
        names: Vec<String>,
    },
    /// Issue a school node's client certificate (node-CODE.pem, node-CODE.key).
    IssueNode {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// The school's code.
        #[arg(long)]
        school: String,
    },
    /// Issue a 教研员's client certificate (staff-ID.pem, staff-ID.key): reads the schools the roster assigns.
    IssueStaff {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// The staff id (工号) as on the roster.
        #[arg(long)]
        id: String,
    },
    /// Revoke a certificate: adds its serial to DIR/revoked.txt and rewrites DIR/crl.pem,
    /// which a running hub reloads (copy it to the hub's `crl` path if the CA lives elsewhere).
    Revoke {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// The certificate to revoke (e.g. pki/node-CGZ1.pem).
        #[arg(long)]
        cert: PathBuf,
    },
    /// List the certificates in DIR with their serials, holders, expiry and whether they are
    /// revoked; with --db or --config, also every node certificate the hub signed (enrollment, renewal).
    List {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        #[command(flatten)]
        hub_db: super::account::HubDb,
    },
    /// Enroll a school: a one-time code (a day by default) and a slip with the hub's address
    /// and the CA's fingerprint; the school runs `yanpei node init --enroll CODE --hub ADDR`.
    Enroll(super::enroll::EnrollArgs),
    /// Replace a school's machine: revoke the certificates the hub signed for its old node(s)
    /// and enroll the new machine with a one-time code; the school's records stay at the hub.
    Replace(super::enroll::ReplaceArgs),
    /// Issue the county operator's client certificate (operator-NAME.pem, operator-NAME.key).
    IssueOperator {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// ASCII name.
        #[arg(long, default_value = "admin")]
        name: String,
    },
}

pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Enroll(a) => return super::enroll::enroll(a).await,
        Command::Replace(r) => return super::enroll::replace(r).await,
        Command::Init { dir, county } => {
            CountyCa::generate(&county)?.save(&dir).context("保存县 CA 失败")?;
            println!("已创建县 CA：{}/ca.pem（私钥 ca.key 请妥善保管）", dir.display());
        }
        Command::IssueHub { dir, names } => {
            let ca = CountyCa::load(&dir).context("载入县 CA 失败（请先运行 yanpei ca init）")?;
            let (cert, key) = ca.issue_hub(&names)?.write(&dir, "hub")?;
            println!("已签发中心证书：{} {}", cert.display(), key.display());
        }
        Command::IssueNode { dir, school } => {
            let school: SchoolCode = school.parse()?;
            let ca = CountyCa::load(&dir).context("载入县 CA 失败（请先运行 yanpei ca init）")?;
            // A second certificate for the school gets files of its own (node-CODE-2, ...).
            let stem = (1..)
                .map(|n| if n == 1 { format!("node-{school}") } else { format!("node-{school}-{n}") })
                .find(|stem| {
                    !dir.join(format!("{stem}.pem")).exists() && !dir.join(format!("{stem}.key")).exists()
                })
                .ok_or_else(|| anyhow::anyhow!("没有可用的证书文件名"))?;
            let (cert, key) = ca.issue_node(&school)?.write(&dir, &stem)?;
            println!("已签发学校 {school} 的节点证书：{} {}", cert.display(), key.display());
        }
        Command::IssueStaff { dir, id } => {
            let ca = CountyCa::load(&dir).context("载入县 CA 失败（请先运行 yanpei ca init）")?;
            let (cert, key) = ca.issue_staff(&id)?.write(&dir, &format!("staff-{id}"))?;
            println!(
                "已签发研培人员 {id} 的证书：{} {}（只能查询名册分配给其的学校）",
                cert.display(),
                key.display()
            );
        }
        Command::Revoke { dir, cert } => {
            let serial = serial_of(&pem_to_der(
                &std::fs::read_to_string(&cert).with_context(|| format!("读取 {} 失败", cert.display()))?,
            )?)?;
            let total = super::revoke::revoke_serials(&dir, std::slice::from_ref(&serial))?;
            println!(
                "已吊销证书 {}（序列号 {}）；吊销列表 {}/crl.pem 共 {} 项，中心下次收到请求时生效（30 天内请重新生成）",
                cert.display(),
                hex(&serial),
                dir.display(),
                total
            );
        }
        Command::List { dir, hub_db } => list(&dir, &hub_db).await?,
        Command::IssueOperator { dir, name } => {
            let ca = CountyCa::load(&dir).context("载入县 CA 失败（请先运行 yanpei ca init）")?;
            let (cert, key) = ca.issue_operator(&name)?.write(&dir, &format!("operator-{name}"))?;
            println!("已签发管理员证书：{} {}", cert.display(), key.display());
        }
    }
    Ok(())
}

/// `yanpei ca list`: every certificate file in DIR with its expiry, then (with the hub's
/// database) every certificate the hub signed.
async fn list(dir: &std::path::Path, hub_db: &super::account::HubDb) -> anyhow::Result<()> {
    let revoked = read_revoked(dir)?;
    let now = chrono::Utc::now().timestamp();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("读取 {} 失败", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .filter(|p| !matches!(p.file_stem().and_then(|s| s.to_str()), Some("ca" | "crl")))
        .collect();
    entries.sort();
    for path in entries {
        let Ok(der) =
            std::fs::read_to_string(&path).map_err(anyhow::Error::from).and_then(|t| Ok(pem_to_der(&t)?))
        else {
            continue;
        };
        let serial = serial_of(&der)?;
        let who = match identity_of(&der) {
            Ok(Identity::Node { school }) => format!("学校节点 {school}"),
            Ok(Identity::Operator { name }) => format!("管理员 {name}"),
            Ok(Identity::Staff { id }) => format!("研培人员 {id}"),
            Ok(Identity::Principal { school }) => format!("校长 {school}"),
            Err(_) => "中心".to_owned(),
        };
        let v = yanpei_pki::validity_of(&der)?;
        println!("{}  {}  {who}  {}", path.display(), hex(&serial), state(&revoked, &serial, v, now));
    }
    // Certificates the hub signed (enrollment, renewal) live only in its database.
    if hub_db.config.is_some() || hub_db.db.is_some() {
        let (url, _) = super::hub::database_of(hub_db.config.as_deref(), hub_db.db.clone())?;
        let store = yanpei_store::hub::HubStore::open(&url)
            .await
            .with_context(|| format!("打开中心数据库 {url} 失败"))?;
        for c in store.issued_certs().await? {
            let serial = super::revoke::parse_hex(&c.serial).unwrap_or_default();
            let v = yanpei_pki::Validity {
                not_before: c.issued_at.timestamp(),
                not_after: c.not_after.timestamp(),
            };
            let how = if c.kind == "renew" { "续期" } else { "注册" };
            println!(
                "（中心签发·{how}）  {}  学校节点 {} 节点 {}  {}",
                c.serial,
                c.school,
                c.node_id,
                state(&revoked, &serial, v, now)
            );
        }
    }
    Ok(())
}

/// "有效至 ...（剩 N 天）", or revoked, or expired.
fn state(revoked: &[Vec<u8>], serial: &[u8], v: yanpei_pki::Validity, now: i64) -> String {
    let until = chrono::DateTime::from_timestamp(v.not_after, 0)
        .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let days = v.days_left(now);
    if revoked.iter().any(|r| r == serial) {
        format!("已吊销（原有效至 {until}）")
    } else if days < 0 {
        format!("已过期（{until}）")
    } else if days <= yanpei_pki::EXPIRY_WARNING_DAYS {
        format!("有效至 {until}（仅剩 {days} 天，请尽快续期）")
    } else {
        format!("有效至 {until}（剩 {days} 天）")
    }
}
