//! `yanpei roster ...`: the county roster, at the hub's database.

use std::path::PathBuf;

use anyhow::Context;
use yanpei_domain::roster::{roster_to_sheets, template};
use yanpei_roster_io::{load_roster, write_sheets};
use yanpei_store::hub::HubStore;

use super::account::HubDb as Db;

/// The hub database these commands use: the config file's (`--config`, as `hub serve`
/// reads it), `--db`, or `./yanpei-hub.sqlite`. Only an import may create it: reading a
/// roster from a database that does not exist is a wrong directory or a missing
/// `--config`, and says so instead of answering from an empty new file.
async fn open(db: &Db, create: bool) -> anyhow::Result<(HubStore, String)> {
    let (url, _) = super::hub::database_of(db.config.as_deref(), db.db.clone())?;
    if let Some(path) = sqlite_path(&url)
        && !create
        && !std::path::Path::new(path).exists()
    {
        anyhow::bail!(
            "没有找到县中心数据库 {path}：请在县中心的目录里运行，或用 --config 指向 yanpei hub serve 所用的配置文件（或用 --db 给出数据库）"
        );
    }
    let store = HubStore::open(&url).await.context("无法打开县中心数据库")?;
    Ok((store, url))
}

/// The file of a `sqlite://PATH?…` URL.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://")?;
    Some(rest.split('?').next().unwrap_or(rest))
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Write a blank roster to fill in (an .xlsx file, or a folder of CSV files), with one example row per sheet.
    Template {
        /// `名册.xlsx` or a folder.
        out: PathBuf,
    },
    /// Check a roster file without importing it; every problem is listed with sheet, row and column.
    Validate {
        /// An .xlsx file or a folder of CSV files.
        path: PathBuf,
    },
    /// Import a roster: all or nothing; on success it becomes the hub's new roster version.
    Import {
        /// An .xlsx file or a folder of CSV files.
        path: PathBuf,
        #[command(flatten)]
        db: Db,
        /// Who is importing (kept with the version).
        #[arg(long, env = "USER", default_value = "管理员")]
        author: String,
    },
    /// Export the hub's current roster.
    Export {
        /// `名册.xlsx` or a folder.
        out: PathBuf,
        #[command(flatten)]
        db: Db,
    },
    /// Show the current roster's size and every version with its author.
    Show {
        #[command(flatten)]
        db: Db,
    },
}

pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Template { out } => {
            write_sheets(&out, &template())?;
            println!("已写出名册模板：{}（每张表第二行是示例，请改成本县的数据）", out.display());
        }
        Command::Validate { path } => {
            let roster = load_roster(&path)?;
            println!(
                "名册无误：{} 个联合体，{} 所学校，{} 对结对，{} 名研培人员，{} 名教师",
                roster.alliances.len(),
                roster.schools.len(),
                roster.pairings.len(),
                roster.staff.len(),
                roster.teachers.len()
            );
        }
        Command::Import { path, db, author } => {
            let roster = load_roster(&path)?;
            let (store, url) = open(&db, true).await?;
            let version = store.replace_roster(&roster, &author).await.context("无法保存名册")?;
            println!(
                "已导入名册第 {version} 版到 {}：{} 所学校；各校节点下次同步时收到本校相关部分",
                shown(&url),
                roster.schools.len()
            );
        }
        Command::Export { out, db } => {
            let (store, _) = open(&db, false).await?;
            let (version, roster) =
                store.current_roster().await?.context("县中心还没有名册：请先运行 yanpei roster import")?;
            write_sheets(&out, &roster_to_sheets(&roster))?;
            println!("已导出名册第 {version} 版到 {}", out.display());
        }
        Command::Show { db } => {
            let (store, _) = open(&db, false).await?;
            let history = store.roster_history().await?;
            if history.is_empty() {
                println!("尚未导入名册：请运行 `yanpei roster import`");
            }
            for v in history {
                println!(
                    "第 {} 版  {}  {}  {}",
                    v.version,
                    v.created_at.format("%Y-%m-%d %H:%M"),
                    v.author,
                    v.summary
                );
            }
        }
    }
    Ok(())
}

/// A database URL as shown to people: a PostgreSQL URL without its password.
fn shown(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, rest)), Some((_, host))) if rest.contains('@') => {
            let user = rest.split(['@', ':']).next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_read_and_shown_without_passwords() {
        assert_eq!(sqlite_path("sqlite://yanpei-hub.sqlite?mode=rwc"), Some("yanpei-hub.sqlite"));
        assert_eq!(sqlite_path("sqlite:///var/lib/yanpei/hub.sqlite"), Some("/var/lib/yanpei/hub.sqlite"));
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
        assert_eq!(
            shown("postgres://yanpei:secret@127.0.0.1:5432/yanpei"),
            "postgres://yanpei@127.0.0.1:5432/yanpei"
        );
        assert_eq!(shown("sqlite://yanpei-hub.sqlite?mode=rwc"), "sqlite://yanpei-hub.sqlite?mode=rwc");
    }
}
