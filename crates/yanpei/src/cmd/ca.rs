//! `yanpei ca ...`: the county certificate authority.

use std::path::PathBuf;

use anyhow::Context;
use yanpei_domain::SchoolCode;
use yanpei_pki::CountyCa;

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
        Command::IssueOperator { dir, name } => {
            let ca = CountyCa::load(&dir).context("load the CA (run `yanpei ca init` first)")?;
            let (cert, key) = ca.issue_operator(&name)?.write(&dir, &format!("operator-{name}"))?;
            println!("已签发管理员证书：{} {}", cert.display(), key.display());
        }
    }
    Ok(())
}
