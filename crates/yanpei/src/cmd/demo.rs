//! `yanpei demo`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use yanpei_demo::{DemoReport, DemoWorld, demo_roster, run_demo, run_demo_kept};

/// Arguments of `yanpei demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Working directory for the hub's and nodes' SQLite files (default: a fresh one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Leave the demo hub running with the web dashboard, and print its address and logins.
    #[arg(long)]
    serve: bool,
    /// Where the dashboard listens with --serve.
    #[arg(long, default_value = "127.0.0.1:0", requires = "serve")]
    web: SocketAddr,
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
    if args.serve {
        let (report, world) = run_demo_kept(&dir, &roster).await.context("run the demo")?;
        print_report(&report, args.json)?;
        return serve(world, &report, args.web).await;
    }
    let report = run_demo(&dir, &roster).await.context("run the demo")?;
    print_report(&report, args.json)
}

#[allow(clippy::print_stdout)]
fn print_report(report: &DemoReport, json: bool) -> anyhow::Result<()> {
    if json {
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

/// `--serve`: the dashboard beside the demo hub, until Ctrl-C.
#[allow(clippy::print_stdout)]
async fn serve(mut world: DemoWorld, report: &DemoReport, web: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(web).await.with_context(|| format!("listen on {web}"))?;
    let dashboard = world.start_dashboard(listener).context("start the dashboard")?;
    let pki = world.write_pki().context("write the demo county's CA and the operator's certificate")?;
    println!();
    println!("看板：https://{dashboard}/");
    println!(
        "中心：https://{} （gRPC；在 {} 目录下可直接运行 yanpei query / yanpei report，证书在 {}）",
        world.hub_addr,
        world.dir.display(),
        pki.display()
    );
    println!(
        "浏览器会提示证书不受信任：这是演示用的县 CA（{}），可导入该证书或选择继续访问。",
        pki.join("ca.pem").display()
    );
    println!(
        "县 CA 私钥：{}（仅供演示）。在 {} 目录下，yanpei ca issue-node --school 学校代码、\
         ca issue-operator --name 名字、ca issue-staff --id 工号 签发的证书，演示中心都接受；\
         yanpei ca enroll --db 'sqlite://{}?mode=rwc' --school 学校代码 --hub https://{} 生成学校注册码。",
        pki.join("ca.key").display(),
        world.dir.display(),
        world.dir.join("hub.sqlite").display(),
        world.hub_addr
    );
    for a in &report.accounts {
        let about = if a.subject.is_empty() {
            "全县".to_owned()
        } else {
            format!("{}，{}", a.display_name, a.subject)
        };
        println!("登录 {} {} 密码 {} （{about}）", a.role, a.username, a.password);
    }
    println!("按 Ctrl-C 停止。");
    tokio::signal::ctrl_c().await.context("wait for Ctrl-C")?;
    world.stop_hub().await.context("stop the demo hub")?;
    Ok(())
}
