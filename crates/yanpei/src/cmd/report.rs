//! `yanpei report ...`: the reports the county sends to the education bureau, from the hub.

use std::path::PathBuf;

use anyhow::Context;
use yanpei_domain::Semester;
use yanpei_proto::pb;
use yanpei_report::{Compliance, ComplianceRow, PersonCount, Role};

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
}

fn role(r: &str) -> Role {
    match r {
        "staff" => Role::Staff,
        "stationed_staff" => Role::StationedStaff,
        "new_teacher" => Role::NewTeacher,
        _ => Role::Teacher,
    }
}

fn to_report(r: &pb::ComplianceResponse) -> anyhow::Result<Compliance> {
    Ok(Compliance {
        semester: r.semester.clone(),
        as_of: chrono::NaiveDate::parse_from_str(&r.as_of, "%Y-%m-%d").context("read the report's date")?,
        elapsed: r.elapsed,
        rows: r
            .rows
            .iter()
            .map(|c| ComplianceRow {
                role: role(&c.role),
                person_id: c.person_id.clone(),
                name: c.name.clone(),
                schools: c.schools.clone(),
                subjects: c.subjects.clone(),
                quota: c.quota.clone(),
                target: c.target,
                actual: c.actual,
                missing: c.missing,
                projected: c.projected,
                on_pace: c.on_pace,
            })
            .collect(),
        rollup: r
            .groups
            .iter()
            .map(|g| PersonCount {
                dimension: match g.dimension.as_str() {
                    "学校" => "学校",
                    "联合体" => "联合体",
                    _ => "学科",
                },
                code: g.code.clone(),
                name: g.name.clone(),
                people: g.people as usize,
                behind: g.behind as usize,
                checks_behind: g.checks_behind as usize,
                checks: g.checks as usize,
            })
            .collect(),
    })
}

#[allow(clippy::print_stdout)]
pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Compliance { conn, semester, as_of, school, all, json, xlsx } => {
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
            let report = to_report(&reply)?;
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
                println!(
                    "注意：以下学校超过 48 小时未完成同步，其数据可能不全：{}",
                    reply.stale_schools.join("、")
                );
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
                println!(
                    "  {} {}（{}）：{} 人中 {} 人有未完成指标",
                    g.dimension, g.name, g.code, g.people, g.behind
                );
            }
            if let Some(path) = xlsx {
                println!("已写入 {}", path.display());
            }
        }
    }
    Ok(())
}
