//! Report answers as tables (`yanpei_report::Table`): the one place that decides a
//! report's columns, so `yanpei report --xlsx`, the dashboard's tables and the
//! dashboard's .xlsx downloads all show the same numbers under the same headers.

pub mod pairs;

use yanpei_domain::ActivityKind;
use yanpei_proto::pb;
use yanpei_report::{Cell, Compliance, ComplianceRow, PersonCount, Role, Table};

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn role(r: &str) -> Role {
    match r {
        "staff" => Role::Staff,
        "stationed_staff" => Role::StationedStaff,
        "new_teacher" => Role::NewTeacher,
        _ => Role::Teacher,
    }
}

/// The compliance answer back in the report crate's terms (for its tables and JSON).
pub fn compliance(r: &pb::ComplianceResponse) -> Result<Compliance, String> {
    Ok(Compliance {
        semester: r.semester.clone(),
        as_of: chrono::NaiveDate::parse_from_str(&r.as_of, "%Y-%m-%d")
            .map_err(|e| format!("report date {:?}: {e}", r.as_of))?,
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

/// Coverage (不留死角): one row per school.
pub fn coverage(r: &pb::CoverageResponse) -> Table {
    let rows = r
        .schools
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.school_code.clone()),
                c.name.clone().into(),
                c.alliance_code.clone().into(),
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

/// Sync completeness: one row per school; `days` is the staleness threshold asked for.
pub fn sync_status(r: &pb::SyncStatusResponse, days: u32) -> Table {
    let yes_no = |b: bool| Cell::from(if b { "是" } else { "否" });
    let rows = r
        .schools
        .iter()
        .map(|s| {
            vec![
                Cell::from(s.school_code.clone()),
                s.name.clone().into(),
                local_time(&s.last_sync).into(),
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
pub fn stats(r: &pb::StatsResponse) -> Table {
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let kind =
                yanpei_proto::kind_from_pb(row.kind).map(ActivityKind::label).unwrap_or("（未知类型）");
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
