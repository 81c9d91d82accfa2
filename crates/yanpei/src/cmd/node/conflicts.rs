//! `yanpei node conflicts` and `yanpei node resolve`: concurrent edits, never silent.

use uuid::Uuid;
use yanpei_store::node::NodeStore;

use super::summary;

/// Which version a resolution keeps.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Keep {
    /// The version the hub kept (now the record's state here).
    Current,
    /// The version that lost.
    Other,
}

#[allow(clippy::print_stdout)]
pub(crate) async fn list(s: &NodeStore, json: bool) -> anyhow::Result<()> {
    let conflicts = s.conflicts().await?;
    if json {
        let rows: Vec<_> = conflicts
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id, "activity_id": c.losing.id, "version": c.version,
                    "winning_school": c.winning_school, "losing_school": c.losing_school,
                    "detected_at": c.detected_at.to_rfc3339(), "losing": c.losing,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if conflicts.is_empty() {
        println!("没有未处理的修改冲突（以最近一次同步时县中心的报告为准）");
        return Ok(());
    }
    for c in &conflicts {
        println!(
            "记录 {}：第 {} 版被 {} 与 {} 在同步前同时修改（{}）",
            c.losing.id,
            c.version,
            c.winning_school,
            c.losing_school,
            c.detected_at.format("%Y-%m-%d %H:%M")
        );
        if let Some(current) = s.get(c.losing.id).await? {
            println!("  现行版本（{} 的）：{}", c.winning_school, summary(&current));
        }
        println!("  未采用的版本（{} 的）：{}", c.losing_school, summary(&c.losing));
        println!("  处理：yanpei node resolve {} --keep current 或 --keep other", c.losing.id);
    }
    println!("共 {} 处；处理结果在下次同步时报送县中心", conflicts.len());
    Ok(())
}

#[allow(clippy::print_stdout)]
pub(crate) async fn resolve(s: &NodeStore, id: Uuid, keep: Keep) -> anyhow::Result<()> {
    let next = s.resolve_conflict(id, matches!(keep, Keep::Other)).await?;
    let which = match keep {
        Keep::Current => "现行版本",
        Keep::Other => "未采用的版本",
    };
    println!("已处理：记录 {id} 采用{which}，成为第 {} 版：{}", next.version, summary(&next));
    println!("下次同步时报送县中心，冲突即标记为已解决");
    Ok(())
}
