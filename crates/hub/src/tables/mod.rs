//! Report answers as tables (`yanpei_report::Table`): the one place that decides a
//! report's columns, so `yanpei report --xlsx`, the dashboard's tables and the
//! dashboard's .xlsx downloads all show the same numbers under the same headers.

pub mod pairs;

use chrono::{DateTime, Utc};
use yanpei_report::{Cell, SchoolCoverage, Table};

use crate::model::{SchoolSync, StatsAnswer};

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Coverage (不留死角): one row per school.
pub fn coverage(schools: &[SchoolCoverage]) -> Table {
    let rows = schools
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.school.clone()),
                c.name.clone().into(),
                c.alliance.clone().into(),
                c.staff_visits.into(),
                c.silent_subjects.join("、").into(),
            ]
        })
        .collect();
    Table {
        name: "覆盖情况".into(),
        headers: headers(&["学校代码", "学校", "联合体", "研培人员到校记录", "无活动的学科"]),
        rows,
    }
}

/// A UTC RFC 3339 time as people in the county read it: Beijing time to the minute.
pub fn local_time(rfc3339: &str) -> String {
    if rfc3339.is_empty() {
        return "从未同步".to_owned();
    }
    let beijing = chrono::FixedOffset::east_opt(8 * 3600);
    match (chrono::DateTime::parse_from_rfc3339(rfc3339), beijing) {
        (Ok(t), Some(tz)) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        _ => rfc3339.to_owned(),
    }
}

/// A last sync time as people in the county read it (never: 从未同步).
pub fn last_sync(t: Option<DateTime<Utc>>) -> String {
    local_time(&t.map(|t| t.to_rfc3339()).unwrap_or_default())
}

/// Sync completeness: one row per school; `days` is the staleness threshold asked for.
pub fn sync_status(schools: &[SchoolSync], days: u32) -> Table {
    let yes_no = |b: bool| Cell::from(if b { "是" } else { "否" });
    let rows = schools
        .iter()
        .map(|s| {
            vec![
                Cell::from(s.school_code.clone()),
                s.name.clone().into(),
                last_sync(s.last_sync).into(),
                yes_no(s.synced_last_day),
                yes_no(s.stale),
            ]
        })
        .collect();
    let mut h = headers(&["学校代码", "学校", "最近同步（北京时间）", "昨夜已同步"]);
    h.push(format!("超过 {days} 天未同步"));
    Table { name: "同步情况".into(), headers: h, rows }
}

/// Statistics: one row per group (alliance or school; the county when not grouped) and kind.
pub fn stats(r: &StatsAnswer) -> Table {
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let kind = row.kind.label();
            let group = if row.group_code.is_empty() { "全县".to_owned() } else { row.group_name.clone() };
            vec![Cell::from(row.group_code.clone()), group.into(), kind.into(), row.count.into()]
        })
        .collect();
    Table {
        name: "活动统计".into(), headers: headers(&["代码", "范围", "活动类型", "次数"]), rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_beijing_time() {
        assert_eq!(local_time("2026-11-22T11:31:34.280301621+00:00"), "2026-11-22 19:31");
        assert_eq!(local_time(""), "从未同步");
        assert_eq!(local_time("yesterday"), "yesterday");
    }
}
