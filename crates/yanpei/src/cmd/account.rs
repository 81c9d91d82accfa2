//! `yanpei account add|list|disable|enable|passwd`: people's accounts, run on the hub
//! machine against the hub's database (the same config file `yanpei hub serve` reads).

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, bail};
use yanpei_hub::Accounts;
use yanpei_hub::accounts::{Account, AccountRole, MIN_PASSWORD_CHARS};
use yanpei_store::hub::HubStore;

#[derive(Debug, clap::Args)]
pub(crate) struct HubDb {
    /// The hub's config file (its database_url and token_ttl_secs are used).
    #[arg(long, env = "YANPEI_HUB_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The hub's database URL (overrides the config file) [default: sqlite://yanpei-hub.sqlite?mode=rwc].
    #[arg(long, env = "YANPEI_HUB_DB")]
    pub(crate) db: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Role {
    /// 管理员: reads the whole county.
    Operator,
    /// 教研员: reads the schools the roster assigns to --staff-id.
    Staff,
    /// 校长: reads --school only.
    Principal,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create an account (password from a prompt, or the first line of stdin with --password-stdin).
    Add {
        #[command(flatten)]
        hub: HubDb,
        /// Login name: 1–32 of A-Z a-z 0-9 . _ -
        #[arg(long)]
        username: String,
        /// The name people read, e.g. 张老师.
        #[arg(long)]
        name: String,
        /// operator (管理员), staff (教研员) or principal (校长).
        #[arg(long, value_enum)]
        role: Role,
        /// For --role staff: the staff id (工号) on the roster.
        #[arg(long, required_if_eq("role", "staff"))]
        staff_id: Option<String>,
        /// For --role principal: the school code.
        #[arg(long, required_if_eq("role", "principal"))]
        school: Option<String>,
        /// Read the password from the first line of stdin instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        hub: HubDb,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it cannot log in, and its tokens stop working at once.
    Disable {
        #[command(flatten)]
        hub: HubDb,
        /// The login name.
        username: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[command(flatten)]
        hub: HubDb,
        /// The login name.
        username: String,
    },
    /// Set a new password (ends the account's existing tokens).
    Passwd {
        #[command(flatten)]
        hub: HubDb,
        /// The login name.
        username: String,
        /// Read the password from the first line of stdin instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
}

async fn open(hub: &HubDb) -> anyhow::Result<Accounts> {
    let (url, ttl) = super::hub::database_of(hub.config.as_deref(), hub.db.clone())?;
    let store = HubStore::open(&url).await.with_context(|| format!("open the hub database {url}"))?;
    Accounts::open(store, ttl).await.context("open accounts")
}

/// A new password: the first line of stdin, or typed twice at a prompt without echo.
/// Too short is refused here, before anything is opened.
pub(crate) fn new_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        read_stdin_line()?
    } else {
        let first = rpassword::prompt_password("新密码：").context("read the password")?;
        let again = rpassword::prompt_password("再输入一次：").context("read the password")?;
        if first != again {
            bail!("两次输入的密码不一致");
        }
        first
    };
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        bail!("密码太短：至少 {MIN_PASSWORD_CHARS} 个字符（现在 {chars} 个）");
    }
    Ok(password)
}

/// The first line of stdin, without its line ending.
pub(crate) fn read_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn describe(a: &Account) -> String {
    let link = match &a.role {
        AccountRole::Operator => String::new(),
        AccountRole::Staff { id } => format!("（工号 {id}）"),
        AccountRole::Principal { school } => format!("（学校 {school}）"),
    };
    let state = if a.disabled { "已停用" } else { "正常" };
    format!("{} {} {}{link} {state}", a.username, a.display_name, a.role.label())
}

pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Add { hub, username, name, role, staff_id, school, password_stdin } => {
            let role = match role {
                Role::Operator => AccountRole::Operator,
                Role::Staff => AccountRole::Staff { id: staff_id.unwrap_or_default().trim().to_owned() },
                Role::Principal => {
                    let code = school.unwrap_or_default();
                    AccountRole::Principal {
                        school: code
                            .trim()
                            .parse()
                            .map_err(|e| anyhow::anyhow!("学校代码「{code}」无效：{e}"))?,
                    }
                }
            };
            let password = new_password(password_stdin)?;
            let account = open(&hub).await?.add(&username, &name, role, &password).await?;
            println!("已创建账号：{}", describe(&account));
        }
        Command::List { hub, json } => {
            let accounts = open(&hub).await?.list().await?;
            if json {
                let rows: Vec<_> = accounts
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "username": a.username, "display_name": a.display_name,
                            "role": a.role.code(), "subject": a.role.subject(), "disabled": a.disabled,
                            "created_at": a.created_at.to_rfc3339(), "updated_at": a.updated_at.to_rfc3339(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for a in &accounts {
                    println!("{}", describe(a));
                }
                println!("共 {} 个账号", accounts.len());
            }
        }
        Command::Disable { hub, username } => {
            let a = open(&hub).await?.set_disabled(&username, true).await?;
            println!("已停用：{}（其登录凭据立即失效）", describe(&a));
        }
        Command::Enable { hub, username } => {
            let a = open(&hub).await?.set_disabled(&username, false).await?;
            println!("已启用：{}", describe(&a));
        }
        Command::Passwd { hub, username, password_stdin } => {
            let accounts = open(&hub).await?;
            if accounts.get(&username).await?.is_none() {
                bail!("没有用户名为「{username}」的账号");
            }
            let password = new_password(password_stdin)?;
            let a = accounts.set_password(&username, &password).await?;
            println!("已修改密码：{}（原有登录凭据已失效）", describe(&a));
        }
    }
    Ok(())
}
