//! `yanpei ca ...`: the county certificate authority.

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
    /// List the certificates in DIR with their serials, holders and whether they are revoked.
    List {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
    },
    /// Issue the county operator's client certificate (operator-NAME.pem, operator-NAME.key).
    IssueOperator {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// ASCII name.
        #[arg(long, default_value = "admin")]
        name: String,
    },
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Init { dir, county } => {
            CountyCa::generate(&county)?.save(&dir).context("save the CA")?;
            println!("已创建县 CA：{}/ca.pem（私钥 ca.key 请妥善保管）", dir.display());
        }
        Command::IssueHub { dir, names } => {
            let ca = CountyCa::load(&dir).context("load the CA (run `yanpei ca init` first)")?;
            let (cert, key) = ca.issue_hub(&names)?.write(&dir, "hub")?;
            println!("已签发中心证书：{} {}", cert.display(), key.display());
        }
        Command::IssueNode { dir, school } => {
            let school: SchoolCode = school.parse()?;
            let ca = CountyCa::load(&dir).context("load the CA (run `yanpei ca init` first)")?;
            let (cert, key) = ca.issue_node(&school)?.write(&dir, &format!("node-{school}"))?;
            println!("已签发学校 {school} 的节点证书：{} {}", cert.display(), key.display());
        }
        Command::IssueStaff { dir, id } => {
            let ca = CountyCa::load(&dir).context("load the CA (run `yanpei ca init` first)")?;
            let (cert, key) = ca.issue_staff(&id)?.write(&dir, &format!("staff-{id}"))?;
            println!(
                "已签发研培人员 {id} 的证书：{} {}（只能查询名册分配给其的学校）",
                cert.display(),
                key.display()
            );
        }
        Command::Revoke { dir, cert } => {
            let ca = CountyCa::load(&dir).context("load the CA (run `yanpei ca init` first)")?;
            let serial = serial_of(&pem_to_der(
                &std::fs::read_to_string(&cert).with_context(|| format!("read {}", cert.display()))?,
            )?)?;
            let mut revoked = read_revoked(&dir)?;
            if !revoked.contains(&serial) {
                revoked.push(serial.clone());
            }
            let lines: Vec<String> = revoked.iter().map(|s| hex(s)).collect();
            std::fs::write(dir.join("revoked.txt"), lines.join("\n") + "\n").context("write revoked.txt")?;
            let crl = ca.crl_pem(&revoked, revoked.len() as u64, 30)?;
            std::fs::write(dir.join("crl.pem"), crl).context("write crl.pem")?;
            println!(
                "已吊销证书 {}（序列号 {}）；吊销列表 {}/crl.pem 共 {} 项，中心下次收到请求时生效（30 天内请重新生成）",
                cert.display(),
                hex(&serial),
                dir.display(),
                revoked.len()
            );
        }
        Command::List { dir } => {
            let revoked = read_revoked(&dir)?;
            let mut entries: Vec<_> = std::fs::read_dir(&dir)
                .with_context(|| format!("read {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pem"))
                .filter(|p| !matches!(p.file_stem().and_then(|s| s.to_str()), Some("ca" | "crl")))
                .collect();
            entries.sort();
            for path in entries {
                let Ok(der) = std::fs::read_to_string(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|t| Ok(pem_to_der(&t)?))
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
                let state = if revoked.contains(&serial) { "已吊销" } else { "有效" };
                println!("{}  {}  {who}  {state}", path.display(), hex(&serial));
            }
        }
        Command::IssueOperator { dir, name } => {
            let ca = CountyCa::load(&dir).context("load the CA (run `yanpei ca init` first)")?;
            let (cert, key) = ca.issue_operator(&name)?.write(&dir, &format!("operator-{name}"))?;
            println!("已签发管理员证书：{} {}", cert.display(), key.display());
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The serials already revoked (DIR/revoked.txt, one hex serial per line).
fn read_revoked(dir: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let path = dir.join("revoked.txt");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(l.get(i..i + 2).unwrap_or("zz"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .with_context(|| format!("{}: bad serial {l:?}", path.display()))
        })
        .collect()
}
