//! `yanpei report ...`: the reports the county sends to the education bureau, from the hub
//! (pairings and gaps in `pairs`).

use std::path::PathBuf;

use anyhow::Context;
use yanpei_domain::Semester;
use yanpei_hub::model::{ComplianceAnswer, CoverageAnswer, SyncStatusAnswer};
use yanpei_hub::tables;
use yanpei_proto::pb;
use yanpei_report::Table;

use super::query::{Conn, client};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Quota compliance (考核进度): every person's progress against each quota, who is behind
    /// and by how much, whether the present pace reaches the target, and a roll-up.
    Compliance {
        #[command(flatten)]
        conn: Conn,
        /// 学期, e.g. 2024-2025-1.
        #[arg(long)]
        semester: String,
        /// Measure progress at this day (YYYY-MM-DD); default: today.
        #[arg(long)]
        as_of: Option<String>,
        /// Only this school's teachers.
        #[arg(long)]
        school: Option<String>,
        /// List everyone, not only those behind.
        #[arg(long)]
        all: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Also write the report as an .xlsx workbook with Chinese headers.
        #[arg(long)]
        xlsx: Option<PathBuf>,
    },
    /// Coverage (不留死角): schools without a staff visit this semester, subjects without activity.
    Coverage {
        #[command(flatten)]
        conn: Conn,
        /// 学期, e.g. 2024-2025-1.
        #[arg(long)]
        semester: String,
        /// Only this school.
        #[arg(long)]
        school: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Also write an .xlsx workbook.
        #[arg(long)]
        xlsx: Option<PathBuf>,
    },
    /// Pairings (结对子): cross-school activity per pair; for 强弱帮扶 pairs the weak
    /// school's weekly activity beside the strong school's, and whether it is rising.
    Pairings(super::pairs::PairingsArgs),
    /// Gaps: urban against rural, township against township, alliance against alliance, week by week.
    Gaps(super::pairs::GapsArgs),
    /// Sync completeness: which schools synced last night, which have not for N days.
    Sync {
        #[command(flatten)]
        conn: Conn,
        /// Stale after this many days without a finished sync.
        #[arg(long, default_value_t = 2)]
        days: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Also write an .xlsx workbook.
        #[arg(long)]
        xlsx: Option<PathBuf>,
    },
}

fn write_xlsx(path: &std::path::Path, table: Table) -> anyhow::Result<()> {
    let bytes = yanpei_report::to_xlsx(&[table]).context("build the workbook")?;
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

#[allow(clippy::print_stdout)]
pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Pairings(a) => super::pairs::pairings(a).await?,
        Command::Gaps(a) => super::pairs::gaps(a).await?,
        Command::Compliance { conn, semester, as_of, school, all, json, xlsx } => {
            compliance(conn, semester, as_of, school, all, json, xlsx).await?
        }
        Command::Coverage { conn, semester, school, json, xlsx } => {
            coverage(conn, semester, school, json, xlsx).await?
        }
        Command::Sync { conn, days, json, xlsx } => sync(conn, days, json, xlsx).await?,
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn compliance(
    conn: Conn,
    semester: String,
    as_of: Option<String>,
    school: Option<String>,
    all: bool,
    json: bool,
    xlsx: Option<PathBuf>,
) -> anyhow::Result<()> {
    let semester: Semester = semester.parse()?;
    let reply = client(&conn)
        .await?
        .compliance(pb::ComplianceRequest {
            semester: Some(yanpei_proto::semester_to_pb(semester)),
            as_of: as_of.unwrap_or_default(),
            school_code: school.unwrap_or_default(),
        })
        .await?
        .into_inner();
    let report = ComplianceAnswer::try_from(reply.clone())?.report;
    if let Some(path) = &xlsx {
        let bytes = yanpei_report::to_xlsx(&report.tables()).context("build the workbook")?;
        std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))?;
    }
    if json {
        let mut v = serde_json::to_value(&report)?;
        v["stale_schools"] = serde_json::json!(reply.stale_schools);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{} 考核进度（截至 {}，学期已过 {:.0}%）",
        report.semester,
        report.as_of,
        report.elapsed * 100.0
    );
    if !reply.stale_schools.is_empty() {
        println!("注意：以下学校超过 48 小时未完成同步，其数据可能不全：{}", reply.stale_schools.join("、"));
    }
    let behind: Vec<_> = report.rows.iter().filter(|r| all || r.actual < r.target).collect();
    for r in &behind {
        let pace = if r.actual >= r.target {
            "已完成".to_owned()
        } else if r.on_pace {
            format!("按进度可完成（预计 {}）", r.projected)
        } else {
            format!("按进度预计 {}，将落后", r.projected)
        };
        println!(
            "{}（{}，{}，{}）{}：已完成 {} / 目标 {}，尚缺 {}；{pace}",
            r.name,
            r.person_id,
            r.role.label(),
            r.schools.join("、"),
            r.quota,
            r.actual,
            r.target,
            r.missing
        );
    }
    let people_behind: std::collections::BTreeSet<_> =
        report.rows.iter().filter(|r| r.actual < r.target).map(|r| (&r.person_id, r.role)).collect();
    println!(
        "共 {} 项指标，{} 项未完成，涉及 {} 人",
        report.rows.len(),
        report.rows.iter().filter(|r| r.actual < r.target).count(),
        people_behind.len()
    );
    for g in report.rollup.iter().filter(|g| g.dimension != "学科") {
        println!("  {} {}（{}）：{} 人中 {} 人有未完成指标", g.dimension, g.name, g.code, g.people, g.behind);
    }
    if let Some(path) = xlsx {
        println!("已写入 {}", path.display());
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn coverage(
    conn: Conn,
    semester: String,
    school: Option<String>,
    json: bool,
    xlsx: Option<PathBuf>,
) -> anyhow::Result<()> {
    let semester: Semester = semester.parse()?;
    let reply = client(&conn)
        .await?
        .coverage(pb::CoverageRequest {
            semester: Some(yanpei_proto::semester_to_pb(semester)),
            school_code: school.unwrap_or_default(),
        })
        .await?
        .into_inner();
    if let Some(path) = &xlsx {
        write_xlsx(path, tables::coverage(&CoverageAnswer::from(reply.clone()).schools))?;
    }
    if json {
        let rows: Vec<_> = reply
            .schools
            .iter()
            .map(|c| {
                serde_json::json!({
                    "school_code": c.school_code, "name": c.name, "alliance_code": c.alliance_code,
                    "staff_visits": c.staff_visits, "silent_subjects": c.silent_subjects,
                })
            })
            .collect();
        let out = serde_json::json!({ "schools": rows, "stale_schools": reply.stale_schools });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{semester} 覆盖情况（不留死角）");
    if !reply.stale_schools.is_empty() {
        println!("注意：以下学校超过 48 小时未完成同步，其数据可能不全：{}", reply.stale_schools.join("、"));
    }
    let unvisited: Vec<_> = reply.schools.iter().filter(|c| c.staff_visits == 0).collect();
    println!("本学期无研培人员到校记录的学校：{} 所", unvisited.len());
    for c in &unvisited {
        println!("  {}（{}，{}）", c.name, c.school_code, c.alliance_code);
    }
    for c in reply.schools.iter().filter(|c| !c.silent_subjects.is_empty()) {
        println!("{}（{}）无活动的学科：{}", c.name, c.school_code, c.silent_subjects.join("、"));
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn sync(conn: Conn, days: u32, json: bool, xlsx: Option<PathBuf>) -> anyhow::Result<()> {
    let reply = client(&conn).await?.sync_status(pb::SyncStatusRequest { days }).await?.into_inner();
    if let Some(path) = &xlsx {
        write_xlsx(path, tables::sync_status(&SyncStatusAnswer::try_from(reply.clone())?.schools, days))?;
    }
    if json {
        let rows: Vec<_> = reply
            .schools
            .iter()
            .map(|s| {
                serde_json::json!({
                    "school_code": s.school_code, "name": s.name, "last_sync": s.last_sync,
                    "synced_last_day": s.synced_last_day, "stale": s.stale,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let synced = reply.schools.iter().filter(|s| s.synced_last_day).count();
    println!("最近 24 小时完成同步：{} / {} 所学校", synced, reply.schools.len());
    for s in reply.schools.iter().filter(|s| s.stale) {
        let when = if s.last_sync.is_empty() {
            "从未同步".to_owned()
        } else {
            format!("最近一次 {}", tables::local_time(&s.last_sync))
        };
        println!("  超过 {days} 天未同步：{}（{}）{when}", s.name, s.school_code);
    }
    Ok(())
}
