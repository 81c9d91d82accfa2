//! The dashboard's report pages (compliance, coverage, pairings, gaps, sync), each the
//! typed report answer drawn as cards, charts and the same tables as `yanpei report --xlsx`.

use std::collections::BTreeSet;

use yanpei_domain::{SchoolCode, Semester};
use yanpei_pki::Identity;
use yanpei_report::week::iso_week;
use yanpei_report::{GapGroup, PairReport};

use super::view::{Card, Chart, Series, View, ViewTable, empty};
use crate::audit::Note;
use crate::model::{ComplianceQuery, CoverageQuery, GapsQuery, PairingsQuery, SyncStatusQuery};
use crate::query::Query;
use crate::{HubError, tables};

pub(super) async fn compliance(
    q: &Query,
    who: &Identity,
    note: &Note,
    semester: Semester,
    school: Option<SchoolCode>,
) -> Result<View, HubError> {
    let reply =
        q.compliance_report(who.clone(), note, ComplianceQuery { semester, as_of: None, school }).await?;
    let report = &reply.report;
    let behind: Vec<usize> = report
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.actual < r.target && !r.on_pace)
        .map(|(i, _)| i)
        .collect();
    let people: BTreeSet<&str> =
        report.rows.iter().filter(|r| r.actual < r.target).map(|r| r.person_id.as_str()).collect();
    let mut v = empty("考核进度");
    if !reply.stale_schools.is_empty() {
        v.notes.push(format!(
            "注意：以下学校超过 48 小时未完成同步，本页数字可能不全：{}",
            reply.stale_schools.join("、")
        ));
    }
    v.cards = vec![
        Card { id: "checks", label: "考核指标".into(), value: report.rows.len().to_string() },
        Card {
            id: "open",
            label: "未完成指标".into(),
            value: report.rows.iter().filter(|r| r.actual < r.target).count().to_string(),
        },
        Card { id: "behind", label: "按进度将落后".into(), value: behind.len().to_string() },
        Card { id: "people", label: "有未完成指标的人".into(), value: people.len().to_string() },
        Card {
            id: "elapsed", label: "学期已过".into(), value: format!("{:.0}%", report.elapsed * 100.0)
        },
        // Counted to today, or to the county's last day of the semester once it is over.
        Card { id: "as_of", label: "统计截至".into(), value: report.as_of.to_string() },
    ];
    let mut groups = report.rollup.iter().filter(|g| g.dimension == "学校").collect::<Vec<_>>();
    groups.sort_by_key(|g| std::cmp::Reverse(g.behind));
    v.charts.push(Chart {
        title: "各校有未完成指标的人数".into(),
        kind: "bar",
        categories: groups.iter().map(|g| g.name.clone()).collect(),
        series: vec![
            Series {
                name: "有未完成指标".into(), data: groups.iter().map(|g| g.behind as f64).collect()
            },
            Series { name: "人数".into(), data: groups.iter().map(|g| g.people as f64).collect() },
        ],
    });
    let mut t = report.tables().into_iter();
    if let Some(rows) = t.next() {
        v.tables.push(ViewTable { table: rows, link_column: None, highlight: behind });
    }
    v.tables.extend(t.map(ViewTable::plain));
    Ok(v)
}

pub(super) async fn coverage(
    q: &Query,
    who: &Identity,
    note: &Note,
    semester: Semester,
    school: Option<SchoolCode>,
) -> Result<View, HubError> {
    let reply = q.coverage_report(who.clone(), note, CoverageQuery { semester, school }).await?;
    let unvisited: Vec<usize> =
        reply.schools.iter().enumerate().filter(|(_, c)| c.staff_visits == 0).map(|(i, _)| i).collect();
    let silent: usize = reply.schools.iter().map(|c| c.silent_subjects.len()).sum();
    let mut v = empty("覆盖情况（不留死角）");
    if !reply.stale_schools.is_empty() {
        v.notes.push(format!(
            "注意：以下学校超过 48 小时未完成同步，本页数字可能不全：{}",
            reply.stale_schools.join("、")
        ));
    }
    v.cards = vec![
        Card { id: "schools", label: "学校".into(), value: reply.schools.len().to_string() },
        Card {
            id: "unvisited", label: "本学期无研培人员到校".into(), value: unvisited.len().to_string()
        },
        Card { id: "silent", label: "无活动的学科（校×学科）".into(), value: silent.to_string() },
    ];
    v.tables.push(ViewTable {
        table: tables::coverage(&reply.schools),
        link_column: Some(0),
        highlight: unvisited,
    });
    Ok(v)
}

pub(super) async fn pairings(
    q: &Query,
    who: &Identity,
    note: &Note,
    semester: Semester,
    school: Option<SchoolCode>,
) -> Result<View, HubError> {
    let reply = q.pairings_report(who.clone(), note, PairingsQuery { semester, school, as_of: None }).await?;
    let mut v = empty("结对帮扶");
    if !reply.stale_schools.is_empty() {
        v.notes.push(format!(
            "注意：以下学校超过 48 小时未完成同步，本页数字可能不全：{}",
            reply.stale_schools.join("、")
        ));
    }
    if reply.pairings.is_empty() {
        v.notes.push("没有两所学校都在查看范围内的结对".into());
    }
    let strong_weak: Vec<&PairReport> = reply.pairings.iter().filter(|p| p.trend.is_some()).collect();
    v.cards = vec![
        Card { id: "pairs", label: "结对".into(), value: reply.pairings.len().to_string() },
        Card {
            id: "cross",
            label: "跨校活动".into(),
            value: reply.pairings.iter().map(|p| p.total).sum::<i64>().to_string(),
        },
        Card {
            id: "rising",
            label: "受助校活动上升的强弱帮扶".into(),
            value: format!(
                "{} / {}",
                strong_weak.iter().filter(|p| p.trend.as_ref().is_some_and(|t| t.weak_rising)).count(),
                strong_weak.len()
            ),
        },
    ];
    v.charts.push(Chart {
        title: "各结对跨校活动".into(),
        kind: "bar",
        categories: reply.pairings.iter().map(|p| format!("{}—{}", p.helper_name, p.partner_name)).collect(),
        series: vec![
            Series {
                name: "帮扶校发起".into(),
                data: reply.pairings.iter().map(|p| p.from_helper as f64).collect(),
            },
            Series {
                name: "结对校发起".into(),
                data: reply.pairings.iter().map(|p| p.from_partner as f64).collect(),
            },
        ],
    });
    for p in &strong_weak {
        v.charts.push(Chart {
            title: format!("{}（帮扶）与 {}（受助）逐周活动", p.helper_name, p.partner_name),
            kind: "line",
            categories: p.weeks.iter().map(|w| iso_week(w.week)).collect(),
            series: vec![
                Series {
                    name: p.helper_name.clone(),
                    data: p.weeks.iter().map(|w| w.helper as f64).collect(),
                },
                Series {
                    name: p.partner_name.clone(),
                    data: p.weeks.iter().map(|w| w.partner as f64).collect(),
                },
                Series {
                    name: "跨校活动".into(), data: p.weeks.iter().map(|w| w.cross as f64).collect()
                },
            ],
        });
    }
    let mut t = crate::tables::pairs::pairings_tables(&reply.pairings).into_iter();
    if let Some(summary) = t.next() {
        let falling = reply
            .pairings
            .iter()
            .enumerate()
            .filter(|(_, p)| p.trend.as_ref().is_some_and(|t| t.weeks > 0 && !t.weak_rising))
            .map(|(i, _)| i)
            .collect();
        v.tables.push(ViewTable { table: summary, link_column: Some(0), highlight: falling });
    }
    v.tables.extend(t.map(ViewTable::plain));
    Ok(v)
}

pub(super) async fn gaps(
    q: &Query,
    who: &Identity,
    note: &Note,
    semester: Semester,
) -> Result<View, HubError> {
    let reply = q
        .gaps_report(who.clone(), note, GapsQuery { semester, dimensions: Vec::new(), schools: Vec::new() })
        .await?;
    let mut v = empty("城乡与区域差距");
    if !reply.stale_schools.is_empty() {
        v.notes.push(format!(
            "注意：以下学校超过 48 小时未完成同步，本页数字可能不全：{}",
            reply.stale_schools.join("、")
        ));
    }
    let mut dimensions: Vec<yanpei_report::Dimension> = Vec::new();
    for g in &reply.groups {
        if !dimensions.contains(&g.dimension) {
            dimensions.push(g.dimension);
        }
    }
    for dim in dimensions {
        let label = dim.label();
        let groups: Vec<&GapGroup> = reply.groups.iter().filter(|g| g.dimension == dim).collect();
        let weeks: Vec<String> =
            groups.first().map(|g| g.weeks.iter().map(|w| iso_week(w.week)).collect()).unwrap_or_default();
        v.charts.push(Chart {
            title: format!("按{label}：逐周校均活动"),
            kind: "line",
            categories: weeks,
            series: groups
                .iter()
                .map(|g| Series {
                    name: g.name.clone(),
                    data: g.weeks.iter().map(|w| (w.per_school * 100.0).round() / 100.0).collect(),
                })
                .collect(),
        });
    }
    v.tables.extend(crate::tables::pairs::gaps_tables(&reply.groups).into_iter().map(ViewTable::plain));
    Ok(v)
}

pub(super) async fn sync(q: &Query, who: &Identity, note: &Note) -> Result<View, HubError> {
    let reply = q.sync_status(who.clone(), note, SyncStatusQuery { days: 2 }).await?;
    let stale: Vec<usize> =
        reply.schools.iter().enumerate().filter(|(_, s)| s.stale).map(|(i, _)| i).collect();
    let synced = reply.schools.iter().filter(|s| s.synced_last_day).count();
    let mut v = empty("节点同步状态");
    v.cards = vec![
        Card {
            id: "synced",
            label: "最近 24 小时已同步".into(),
            value: format!("{synced} / {}", reply.schools.len()),
        },
        Card { id: "stale", label: "超过 2 天未同步".into(), value: stale.len().to_string() },
    ];
    v.tables.push(ViewTable {
        table: tables::sync_status(&reply.schools, 2),
        link_column: Some(0),
        highlight: stale,
    });
    Ok(v)
}
