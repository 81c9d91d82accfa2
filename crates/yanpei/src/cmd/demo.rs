//! `yanpei demo`.

use std::path::PathBuf;

use anyhow::Context;
use yanpei_demo::{demo_roster, run_demo};

/// Arguments of `yanpei demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Working directory for the hub's and nodes' SQLite files (default: a fresh one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let dir = match args.dir {
        Some(d) => d,
        None => {
            let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
            std::env::temp_dir().join(format!("yanpei-demo-{stamp}-{}", std::process::id()))
        }
    };
    if dir.join("hub.sqlite").exists() {
        anyhow::bail!("{} already holds a demo; pass a new --dir", dir.display());
    }
    let roster = demo_roster().map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the demo roster in crates/demo/roster is invalid:\n{}", lines.join("\n"))
    })?;
    let report = run_demo(&dir, &roster).await.context("run the demo")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("{} 研培网络演示 · {}", report.county, report.semester);
    println!("工作目录：{}", report.dir);
    println!(
        "{} 所学校各运行一个节点；录入后修改 {} 条、删除 {} 条；夜间同步推送 {} 条变更；用时 {:.1} 秒",
        report.schools,
        report.edited,
        report.deleted,
        report.pushed,
        report.elapsed_ms as f64 / 1000.0
    );
    println!();
    println!("按活动类型（全县）");
    println!("{:<12}{:>10}{:>10}", "类型", "节点合计", "中心统计");
    for g in &report.by_kind {
        println!("{:<12}{:>10}{:>10}", g.name, g.nodes_recorded, g.hub_counted);
    }
    println!("{:<12}{:>10}{:>10}", "合计", report.nodes_recorded, report.hub_counted);
    println!();
    println!("按区域联合体");
    for g in &report.by_alliance {
        println!("{:<4}{:<16}{:>10}{:>10}", g.code, g.name, g.nodes_recorded, g.hub_counted);
    }
    println!();
    println!("按学校");
    for g in &report.by_school {
        println!("{:<8}{:<16}{:>10}{:>10}", g.code, g.name, g.nodes_recorded, g.hub_counted);
    }
    println!();
    println!("演示账号（yanpei login --user 用户名；仅供演示）");
    for a in &report.accounts {
        let link = if a.subject.is_empty() { String::new() } else { format!("（{}）", a.subject) };
        println!("  {:<10} {:<6}{link} {}  密码 {}", a.username, a.role, a.display_name, a.password);
    }
    println!();
    if report.nodes_recorded == report.hub_counted {
        println!("核对：各节点合计 {} 条 = 中心统计 {} 条 ✔", report.nodes_recorded, report.hub_counted);
    } else {
        anyhow::bail!(
            "the hub counted {} records but the nodes hold {}",
            report.hub_counted,
            report.nodes_recorded
        );
    }
    Ok(())
}
