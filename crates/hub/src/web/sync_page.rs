//! 同步状态: which schools did not sync last night (first, the longest silent first), and
//! each school's latest attempt, so one that started and never finished is told apart
//! from a school that never tried.

use yanpei_pki::Identity;
use yanpei_report::Cell;

use super::view::{Card, View, ViewTable, empty};
use crate::audit::Note;
use crate::model::SyncStatusQuery;
use crate::query::Query;
use crate::{HubError, tables};

/// A school's latest sync attempt as people read it.
fn attempt(latest: Option<&crate::query::LedgerSession>) -> (String, bool) {
    match latest {
        None => ("没有同步记录".into(), false),
        Some(s) if s.finished_at.is_some() => ("已完成".into(), false),
        Some(s) => (format!("{} 开始，未完成", tables::last_sync(Some(s.started_at))), true),
    }
}

pub(super) async fn sync(q: &Query, who: &Identity, note: &Note) -> Result<View, HubError> {
    // The scope check: the schools the caller may read.
    let reply = q.sync_status(who.clone(), note, SyncStatusQuery { days: 2 }).await?;
    let mut schools = reply.schools;
    // Not synced last night first, the longest silent first.
    schools.sort_by_key(|s| (s.synced_last_day, s.last_sync));
    let missed: Vec<usize> =
        schools.iter().enumerate().filter(|(_, s)| !s.synced_last_day).map(|(i, _)| i).collect();
    let stale = schools.iter().filter(|s| s.stale).count();
    let mut table = tables::sync_status(&schools, 2);
    table.headers.push("最近一次尝试".into());
    let mut unfinished = 0;
    for (row, s) in table.rows.iter_mut().zip(&schools) {
        let code = s.school_code.parse().map_err(|e| HubError::Internal(format!("school code: {e}")))?;
        let latest = q.store.ledger(Some(&code), 1).await?;
        let (text, open) = attempt(latest.first());
        unfinished += usize::from(open);
        row.push(Cell::from(text));
    }
    let mut v = empty("节点同步状态");
    let card = |id, label: &str, value: String| Card { id, label: label.into(), value, link: String::new() };
    v.cards = vec![
        card("synced", "最近 24 小时已同步", format!("{} / {}", schools.len() - missed.len(), schools.len())),
        card("missed", "昨夜未同步", missed.len().to_string()),
        card("stale", "超过 2 天未同步", stale.to_string()),
        card("unfinished", "最近一次同步未完成", unfinished.to_string()),
    ];
    v.tables
        .push(ViewTable::schools(table).highlight(missed, "红底：最近 24 小时（昨夜）没有完成同步的学校"));
    Ok(v)
}
