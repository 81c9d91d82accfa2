//! Enrollment on the command line: `yanpei ca enroll` and `yanpei ca replace` (the county
//! operator, on the hub machine against the hub's database) and `yanpei node init --enroll`
//! (at the school).

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use yanpei_domain::SchoolCode;
use yanpei_hub::enroll::{create_enrollment, replace_machine};
use yanpei_pki::fingerprint;
use yanpei_store::audit::AuditEntry;
use yanpei_store::enrollment::Enrollment;
use yanpei_store::hub::HubStore;
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;

use super::account::HubDb;
use super::read_pem;

#[derive(Debug, clap::Args)]
pub(crate) struct EnrollArgs {
    #[command(flatten)]
    hub_db: HubDb,
    /// The CA directory (its ca.pem's fingerprint goes on the slip).
    #[arg(long, default_value = "pki")]
    dir: PathBuf,
    /// The school's code, as on the roster.
    #[arg(long)]
    school: String,
    /// The hub's address as schools reach it, printed on the slip, e.g. https://hub.example.edu.cn:7443.
    #[arg(long)]
    hub: String,
    /// Hours the code works.
    #[arg(long, default_value_t = 24)]
    valid_hours: u32,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplaceArgs {
    #[command(flatten)]
    enroll: EnrollArgs,
    /// Revoke only this node's certificates (its node id) [default: every node of the school].
    #[arg(long)]
    old_node: Option<String>,
}

async fn hub_store(hub: &HubDb) -> anyhow::Result<HubStore> {
    let (url, _) = super::hub::database_of(hub.config.as_deref(), hub.db.clone())?;
    HubStore::open(&url).await.with_context(|| format!("打开中心数据库 {url} 失败"))
}

/// `yanpei ca enroll`: a one-time code and its slip.
pub(crate) async fn enroll(a: EnrollArgs) -> anyhow::Result<()> {
    let school: SchoolCode = a.school.parse()?;
    read_pem(&a.dir.join("ca.pem"))?; // the slip needs it: fail before a code is made
    let store = hub_store(&a.hub_db).await?;
    let (code, e) = create_enrollment(&store, &school, ttl(a.valid_hours), chrono::Utc::now()).await?;
    audit(&store, "ca enroll", &school).await?;
    print_slip(&store, &a, &code, &e).await
}

/// `yanpei ca replace`: a new machine for a school: a code for it, and the old machine's
/// certificates revoked.
pub(crate) async fn replace(r: ReplaceArgs) -> anyhow::Result<()> {
    let a = &r.enroll;
    let school: SchoolCode = a.school.parse()?;
    yanpei_pki::CountyCa::load(&a.dir)
        .context("载入县 CA 失败（请先运行 yanpei ca init，并在 CA 所在目录操作）")?;
    let store = hub_store(&a.hub_db).await?;
    let (code, e, old) =
        replace_machine(&store, &school, r.old_node.as_deref(), ttl(a.valid_hours), chrono::Utc::now())
            .await?;
    let serials = old
        .iter()
        .map(|c| {
            super::revoke::parse_hex(&c.serial)
                .ok_or_else(|| anyhow!("中心数据库中的证书序列号 {:?} 无效", c.serial))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let total = super::revoke::revoke_serials(&a.dir, &serials)?;
    audit(&store, "ca replace", &school).await?;
    println!(
        "已吊销学校 {school} 旧机器的 {} 张证书（吊销列表 {}/crl.pem 共 {total} 项；若中心不在本目录读取，请复制过去）",
        old.len(),
        a.dir.display()
    );
    for c in &old {
        println!("  节点 {}  序列号 {}  {}", c.node_id, c.serial, c.kind);
    }
    print_slip(&store, a, &code, &e).await
}

fn ttl(hours: u32) -> chrono::TimeDelta {
    chrono::TimeDelta::hours(i64::from(hours.max(1)))
}

/// Enrollments made on the command line go into the hub's audit log beside the RPCs.
async fn audit(store: &HubStore, what: &str, school: &SchoolCode) -> anyhow::Result<()> {
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    store
        .append_audit(&[AuditEntry {
            at: chrono::Utc::now(),
            caller: format!("cli:{user}"),
            rpc: what.to_owned(),
            schools: vec![school.to_string()],
            rows: 1,
            code: 0,
        }])
        .await
        .context("写入审计日志失败")
}

async fn print_slip(store: &HubStore, a: &EnrollArgs, code: &str, e: &Enrollment) -> anyhow::Result<()> {
    let ca = read_pem(&a.dir.join("ca.pem"))?;
    let print = fingerprint(&ca)?;
    let name = store.school_name(&e.school).await?.unwrap_or_default();
    let local = e.expires_at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M");
    println!("──────── 研培网络 · 学校节点注册单 ────────");
    println!("学校：{} {name}", e.school);
    println!("注册码：{code}（{local} 前有效，只能使用一次）");
    println!("中心地址：{}", a.hub);
    println!("县 CA 指纹（SHA-256）：{}", grouped(&print));
    println!("在学校的电脑上运行：");
    println!("  yanpei node init --enroll {code} --hub {} --ca-fingerprint {print}", a.hub);
    println!("─────────────────────────────────────────");
    Ok(())
}

/// `ab:cd:...` in groups a person can read aloud.
fn grouped(hex: &str) -> String {
    hex.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// `yanpei node init --enroll CODE --hub ADDR`: the key pair is made here, the certificate
/// comes from the hub; files go to `pki/` beside the store.
pub(crate) async fn node_init(
    store: &Path,
    code: &str,
    hub: &str,
    ca_fingerprint: Option<&str>,
    server_name: &str,
) -> anyhow::Result<(SchoolCode, String, PathBuf, PathBuf, PathBuf, uuid::Uuid)> {
    let (ca_pem, print) = yanpei_node::enroll::fetch_ca(hub, server_name, ca_fingerprint).await?;
    if ca_fingerprint.is_none() {
        println!("注意：未给出 --ca-fingerprint；中心出示的县 CA 指纹是 {}，请与注册单核对", grouped(&print));
    }
    // An existing store keeps its node id (and school); a new one takes a fresh id.
    let existing = if store.exists() { NodeStore::open(&sqlite_url(store)).await.ok() } else { None };
    let node_id = existing.as_ref().map(NodeStore::node_id).unwrap_or_else(uuid::Uuid::now_v7);
    let got = yanpei_node::enroll::enroll(hub, server_name, &ca_pem, code, node_id).await?;
    if let Some(s) = &existing
        && s.school() != &got.school
    {
        bail!("本地库属于学校 {}，注册码却是学校 {} 的：请核对", s.school(), got.school);
    }
    let dir = store.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("pki");
    std::fs::create_dir_all(&dir).with_context(|| format!("创建目录 {} 失败", dir.display()))?;
    let (ca, cert, key) = (dir.join("ca.pem"), dir.join("node.pem"), dir.join("node.key"));
    std::fs::write(&ca, &got.tls.ca_pem).with_context(|| format!("写入 {} 失败", ca.display()))?;
    yanpei_node::enroll::save_pair(&cert, &key, &got.tls)?;
    let s = NodeStore::open_or_init_as(&sqlite_url(store), &got.school, node_id).await?;
    Ok((got.school, got.school_name, ca, cert, key, s.node_id()))
}
