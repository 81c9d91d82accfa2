//! `yanpei roster ...`: the county roster, at the hub's database.

use std::path::PathBuf;

use anyhow::Context;
use yanpei_domain::roster::{roster_to_sheets, template};
use yanpei_roster_io::{load_roster, write_sheets};
use yanpei_store::hub::HubStore;

#[derive(Debug, clap::Args)]
pub(crate) struct Db {
    /// The hub's database URL.
    #[arg(long, env = "YANPEI_HUB_DB", default_value = "sqlite://yanpei-hub.sqlite?mode=rwc")]
    db: String,
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
            let store = HubStore::open(&db.db).await.context("open hub database")?;
            let version = store.replace_roster(&roster, &author).await.context("store the roster")?;
            println!(
                "已导入名册第 {version} 版：{} 所学校；各校节点下次同步时收到本校相关部分",
                roster.schools.len()
            );
        }
        Command::Export { out, db } => {
            let store = HubStore::open(&db.db).await.context("open hub database")?;
            let (version, roster) =
                store.current_roster().await?.context("the hub has no roster yet: import one first")?;
            write_sheets(&out, &roster_to_sheets(&roster))?;
            println!("已导出名册第 {version} 版到 {}", out.display());
        }
        Command::Show { db } => {
            let store = HubStore::open(&db.db).await.context("open hub database")?;
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
