//! `yanpei report pairings` and `yanpei report gaps`: the reports' text, JSON and
//! workbook output (the tables come from `yanpei_hub::tables`, as on the dashboard).

use std::path::{Path, PathBuf};

use anyhow::Context;
use yanpei_domain::Semester;
use yanpei_proto::pb;

use super::query::{Conn, client};

/// `yanpei report pairings`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct PairingsArgs {
    #[command(flatten)]
    conn: Conn,
    /// 学期, e.g. 2024-2025-1.
    #[arg(long)]
    semester: String,
    /// Only this school's pairs.
    #[arg(long)]
    school: Option<String>,
    /// The trend reads the whole weeks up to this day (YYYY-MM-DD); default: today.
    #[arg(long)]
    as_of: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// Also write an .xlsx workbook.
    #[arg(long)]
    xlsx: Option<PathBuf>,
}

/// `yanpei report gaps`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct GapsArgs {
    #[command(flatten)]
    conn: Conn,
    /// 学期, e.g. 2024-2025-1.
    #[arg(long)]
    semester: String,
    /// Only one comparison: area (城乡), township (乡镇) or alliance (联合体); default: all three.
    #[arg(long)]
    by: Option<String>,
    /// Only these schools (repeat the flag, or separate with commas).
    #[arg(long, value_delimiter = ',')]
    school: Vec<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// Also write an .xlsx workbook.
    #[arg(long)]
    xlsx: Option<PathBuf>,
}

fn write_xlsx(path: &Path, tables: &[yanpei_report::Table]) -> anyhow::Result<()> {
    let bytes = yanpei_report::to_xlsx(tables).context("build the workbook")?;
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

#[allow(clippy::print_stdout)]
fn warn_stale(stale: &[String]) {
    if !stale.is_empty() {
        println!("注意：以下学校超过 48 小时未完成同步，其数据可能不全：{}", stale.join("、"));
    }
}

fn trend_json(t: &pb::PairTrend) -> serde_json::Value {
    serde_json::json!({
        "weeks": t.weeks, "weak_recent": t.weak_recent, "weak_previous": t.weak_previous,
        "strong_recent": t.strong_recent, "strong_previous": t.strong_previous,
        "weak_rising": t.weak_rising, "catching_up": t.catching_up,
    })
}

fn pairings_json(r: &pb::PairingsResponse) -> serde_json::Value {
    let pairs: Vec<_> = r
        .pairings
        .iter()
        .map(|p| {
            serde_json::json!({
                "helper_code": p.helper_code, "helper_name": p.helper_name,
                "partner_code": p.partner_code, "partner_name": p.partner_name,
                "kind": p.kind, "kind_label": p.kind_label, "pairing_type": p.pairing_type,
                "from_helper": p.from_helper, "from_partner": p.from_partner, "total": p.total,
                "kinds": p.kinds.iter().map(|k| serde_json::json!({
                    "kind": k.kind, "kind_label": k.kind_label, "family": k.family,
                    "family_label": k.family_label, "from_helper": k.from_helper, "from_partner": k.from_partner,
                })).collect::<Vec<_>>(),
                "families": p.families.iter().map(|f| serde_json::json!({
                    "family": f.family, "family_label": f.family_label, "total": f.total,
                })).collect::<Vec<_>>(),
                "weeks": p.weeks.iter().map(|w| serde_json::json!({
                    "week": w.week, "iso_week": w.iso_week, "helper": w.helper,
                    "partner": w.partner, "cross": w.cross,
                })).collect::<Vec<_>>(),
                "trend": p.trend.as_ref().map(trend_json),
            })
        })
        .collect();
    serde_json::json!({
        "semester": r.semester, "as_of": r.as_of, "pairings": pairs, "stale_schools": r.stale_schools,
    })
}

#[allow(clippy::print_stdout)]
pub(crate) async fn pairings(a: PairingsArgs) -> anyhow::Result<()> {
    let semester: Semester = a.semester.parse()?;
    let reply = client(&a.conn)
        .await?
        .pairings(pb::PairingsRequest {
            semester: Some(yanpei_proto::semester_to_pb(semester)),
            school_code: a.school.unwrap_or_default(),
            as_of: a.as_of.unwrap_or_default(),
        })
        .await?
        .into_inner();
    if let Some(path) = &a.xlsx {
        let answer = yanpei_hub::model::PairingsAnswer::try_from(reply.clone())?;
        write_xlsx(path, &yanpei_hub::tables::pairs::pairings_tables(&answer.pairings))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&pairings_json(&reply))?);
        return Ok(());
    }
    println!("{} 结对活动（截至 {}）", reply.semester, reply.as_of);
    warn_stale(&reply.stale_schools);
    for p in &reply.pairings {
        let kinds = p.families.iter().map(|f| format!("{} {}", f.family_label, f.total)).collect::<Vec<_>>();
        println!(
            "{}（{}）— {}（{}），{}，{}：跨校活动 {} 次（{} 记录 {}，{} 记录 {}）{}",
            p.helper_name,
            p.helper_code,
            p.partner_name,
            p.partner_code,
            p.kind_label,
            p.pairing_type,
            p.total,
            p.helper_name,
            p.from_helper,
            p.partner_name,
            p.from_partner,
            if kinds.is_empty() { String::new() } else { format!("；{}", kinds.join("、")) }
        );
        if let Some(t) = &p.trend {
            if t.weeks == 0 {
                println!("  完整周数不足，暂无法判断受助校的趋势");
            } else {
                println!(
                    "  受助校近 {n} 周周均 {:.1} 次（此前 {n} 周 {:.1}），{}；帮扶校近 {n} 周周均 {:.1} 次；差距{}",
                    t.weak_recent,
                    t.weak_previous,
                    if t.weak_rising { "上升" } else { "未上升" },
                    t.strong_recent,
                    if t.catching_up { "在缩小" } else { "未缩小" },
                    n = t.weeks,
                );
            }
        }
    }
    println!("共 {} 对结对学校", reply.pairings.len());
    if let Some(path) = a.xlsx {
        println!("已写入 {}", path.display());
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
pub(crate) async fn gaps(a: GapsArgs) -> anyhow::Result<()> {
    let semester: Semester = a.semester.parse()?;
    let reply = client(&a.conn)
        .await?
        .gaps(pb::GapsRequest {
            semester: Some(yanpei_proto::semester_to_pb(semester)),
            dimension: a.by.unwrap_or_default(),
            school_codes: a.school,
        })
        .await?
        .into_inner();
    if let Some(path) = &a.xlsx {
        let answer = yanpei_hub::model::GapsAnswer::try_from(reply.clone())?;
        write_xlsx(path, &yanpei_hub::tables::pairs::gaps_tables(&answer.groups))?;
    }
    if a.json {
        let groups: Vec<_> = reply
            .groups
            .iter()
            .map(|g| {
                serde_json::json!({
                    "dimension": g.dimension, "dimension_label": g.dimension_label, "code": g.code,
                    "name": g.name, "schools": g.schools, "total": g.total, "per_school": g.per_school,
                    "weeks": g.weeks.iter().map(|w| serde_json::json!({
                        "week": w.week, "iso_week": w.iso_week, "count": w.count, "per_school": w.per_school,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "semester": reply.semester, "groups": groups, "stale_schools": reply.stale_schools,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{} 活动差距（逐周明细见 --json 或 --xlsx）", reply.semester);
    warn_stale(&reply.stale_schools);
    let mut last = "";
    for g in &reply.groups {
        if g.dimension != last {
            println!("按{}：", g.dimension_label);
            last = &g.dimension;
        }
        println!(
            "  {}（{} 所学校）：学期活动 {} 次，校均 {:.1} 次",
            g.name,
            g.schools.len(),
            g.total,
            g.per_school
        );
    }
    if let Some(path) = a.xlsx {
        println!("已写入 {}", path.display());
    }
    Ok(())
}
