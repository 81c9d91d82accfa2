//! `yanpei node returned`: changes the county hub refused, kept here with its reason
//! until the school edits or deletes the record (the rest of the outbox syncs on).

use yanpei_store::node::NodeStore;

use super::summary;

#[allow(clippy::print_stdout)]
pub(crate) async fn list(s: &NodeStore, json: bool) -> anyhow::Result<()> {
    let held = s.quarantined().await?;
    if json {
        let rows: Vec<_> = held
            .iter()
            .map(|q| serde_json::json!({ "seq": q.seq, "activity_id": q.activity.id, "reason": q.reason, "record": q.activity }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if held.is_empty() {
        println!("没有被县中心退回的记录。");
        return Ok(());
    }
    for q in &held {
        println!("{}  {}（第 {} 版）", q.activity.id, summary(&q.activity), q.activity.version);
        println!("    退回原因：{}", q.reason);
    }
    println!(
        "共 {} 条被退回，其余记录照常同步。按原因修改（yanpei node edit 编号 …）或删除（yanpei node delete 编号）后，会在下次同步时重新报送。",
        held.len()
    );
    Ok(())
}
