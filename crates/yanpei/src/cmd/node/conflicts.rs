//! `yanpei node conflicts` and `yanpei node resolve`: concurrent edits, never silent.

use anyhow::{anyhow, bail};
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
    let conflict =
        s.conflicts().await?.into_iter().find(|c| c.losing.id == id).ok_or_else(|| {
            anyhow!("记录 {id} 没有未处理的冲突（先 yanpei node sync 取得县中心的最新报告）")
        })?;
    let current = s.get(id).await?.ok_or_else(|| anyhow!("本节点没有记录 {id}：请先同步"))?;
    if current.deleted && matches!(keep, Keep::Current) {
        bail!("记录 {id} 现已删除；如要恢复未采用的版本，请用 --keep other");
    }
    let mut next = match keep {
        Keep::Current => current.clone(),
        Keep::Other => conflict.losing.clone(),
    };
    next.version = current.version + 1;
    next.validate()?;
    s.update(&next).await?;
    println!(
        "已处理：记录 {id} 采用{}，成为第 {} 版：{}",
        match keep {
            Keep::Current => "现行版本",
            Keep::Other => "未采用的版本",
        },
        next.version,
        summary(&next)
    );
    println!("下次同步时报送县中心，冲突即标记为已解决");
    Ok(())
}
