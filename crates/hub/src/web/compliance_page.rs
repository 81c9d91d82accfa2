//! 考核进度 on the dashboard: who is behind which quota and by how much, filtered by
//! school, alliance, subject and status, the largest shortfall first; then the roll-ups by
//! school, alliance and subject, each count linking to the rows behind it.

use std::collections::BTreeSet;

use yanpei_domain::Semester;
use yanpei_domain::roster::Roster;
use yanpei_pki::Identity;
use yanpei_report::{Cell, ComplianceRow, PersonCount, Table};

use super::names;
use super::view::{Card, Chart, Params, Series, View, ViewTable, empty};
use crate::HubError;
use crate::audit::Note;
use crate::model::ComplianceQuery;
use crate::query::Query;

/// The rows' state as people read it.
pub(super) fn status(r: &ComplianceRow) -> &'static str {
    if r.actual >= r.target {
        "已完成"
    } else if r.on_pace {
        "进度正常"
    } else {
        "落后"
    }
}

/// Largest shortfall first; of equal shortfalls, those that will not make it first.
pub(super) fn shortfall_first(rows: &mut [&ComplianceRow]) {
    rows.sort_by(|a, b| {
        b.missing.cmp(&a.missing).then(a.on_pace.cmp(&b.on_pace)).then_with(|| a.name.cmp(&b.name))
    });
}

/// The quota rows as a table: 编号 (hidden) then names, never codes.
pub(super) fn rows_table(name: &str, roster: &Roster, rows: &[&ComplianceRow]) -> ViewTable {
    let behind: Vec<usize> =
        rows.iter().enumerate().filter(|(_, r)| r.actual < r.target && !r.on_pace).map(|(i, _)| i).collect();
    let cells = rows
        .iter()
        .map(|r| {
            vec![
                Cell::from(r.person_id.clone()),
                r.name.clone().into(),
                r.quota.clone().into(),
                r.missing.into(),
                r.actual.into(),
                r.target.into(),
                r.projected.into(),
                status(r).into(),
                names::schools(roster, &r.schools).into(),
                r.subjects.join("、").into(),
                r.role.label().into(),
            ]
        })
        .collect();
    // The answer (who, which quota, how much is missing) first: on a phone it is what shows.
    let headers =
        ["编号", "姓名", "指标", "尚缺", "已完成", "目标", "按进度预计", "状态", "学校", "学科", "角色"];
    let table =
        Table { name: name.into(), headers: headers.iter().map(|s| (*s).to_owned()).collect(), rows: cells };
    ViewTable::plain(table).hide(&[0]).highlight(behind, "红底：按目前进度，学期末完不成的指标")
}

/// Whether a row passes the page's alliance, subject and status filters.
fn wanted(roster: &Roster, p: &Params, r: &ComplianceRow) -> bool {
    let in_alliance = p.alliance.as_ref().is_none_or(|a| {
        r.schools.iter().any(|s| roster.schools.iter().any(|x| x.code.as_str() == s && &x.alliance == a))
    });
    let in_subject = p.subject.as_ref().is_none_or(|s| r.subjects.contains(s));
    let in_status = match p.status.as_deref() {
        Some("open") => r.actual < r.target,
        Some("behind") => r.actual < r.target && !r.on_pace,
        _ => true,
    };
    in_alliance && in_subject && in_status
}

pub(super) async fn compliance(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
    p: &Params,
) -> Result<View, HubError> {
    let query = ComplianceQuery { semester, as_of: None, school: p.school.clone() };
    let reply = q.compliance_report(who.clone(), note, query).await?;
    let report = &reply.report;
    let mut rows: Vec<&ComplianceRow> = report.rows.iter().filter(|r| wanted(roster, p, r)).collect();
    shortfall_first(&mut rows);
    let open: Vec<&&ComplianceRow> = rows.iter().filter(|r| r.actual < r.target).collect();
    let people: BTreeSet<&str> = open.iter().map(|r| r.person_id.as_str()).collect();
    let mut v = empty(match &p.school {
        Some(s) => format!("考核进度：{}", names::school(roster, s.as_str())),
        None => "考核进度".into(),
    });
    if !reply.stale_schools.is_empty() {
        v.notes.push(format!(
            "注意：以下学校超过 48 小时未完成同步，本页数字可能不全：{}",
            names::schools(roster, &reply.stale_schools)
        ));
    }
    let scope = q.report_scope(who, note, None).await?;
    v.filters = vec![
        names::school_filter(roster, scope.as_ref(), p),
        names::alliance_filter(roster, scope.as_ref(), p),
        names::subject_filter(roster, p),
        names::status_filter(p),
    ];
    let card = |id, label: &str, value: String| Card { id, label: label.into(), value, link: String::new() };
    v.cards = vec![
        card("checks", "考核指标", rows.len().to_string()),
        card("open", "未完成指标", open.len().to_string()),
        card("behind", "按进度将落后", open.iter().filter(|r| !r.on_pace).count().to_string()),
        card("people", "有未完成指标的人", people.len().to_string()),
        card("elapsed", "学期已过", format!("{:.0}%", report.elapsed * 100.0)),
        // Counted to today, or to the county's last day of the semester once it is over.
        card("as_of", "统计截至", report.as_of.format("%Y年%-m月%-d日").to_string()),
    ];
    v.charts.push(behind_chart(report.rollup.iter().filter(|g| g.dimension == "学校")));
    v.tables.push(rows_table("考核进度", roster, &rows));
    for (dim, param) in [("学校", "school"), ("联合体", "alliance"), ("学科", "subject")] {
        let groups: Vec<&PersonCount> = report.rollup.iter().filter(|g| g.dimension == dim).collect();
        if groups.len() > 1 {
            v.tables.push(rollup_table(dim, param, &groups));
        }
    }
    Ok(v)
}

/// People behind per school, the most first.
fn behind_chart<'a>(groups: impl Iterator<Item = &'a PersonCount>) -> Chart {
    let mut groups: Vec<&PersonCount> = groups.collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.behind));
    let mut c = Chart::new("各校有未完成指标的人数", "bar", "学校", "人数（人）");
    c.categories = groups.iter().map(|g| g.name.clone()).collect();
    c.series = vec![
        Series { name: "有未完成指标".into(), data: groups.iter().map(|g| g.behind as f64).collect() },
        Series { name: "考核人数".into(), data: groups.iter().map(|g| g.people as f64).collect() },
    ];
    c
}

/// One roll-up dimension; each name and count of people behind opens that group's rows.
fn rollup_table(dim: &str, param: &'static str, groups: &[&PersonCount]) -> ViewTable {
    let mut groups = groups.to_vec();
    groups.sort_by_key(|g| std::cmp::Reverse(g.behind));
    let rows = groups
        .iter()
        .map(|g| {
            vec![
                Cell::from(g.code.clone()),
                g.name.clone().into(),
                g.people.into(),
                g.behind.into(),
                g.checks.into(),
                g.checks_behind.into(),
            ]
        })
        .collect();
    let headers = ["代码", dim, "考核人数", "有未完成指标的人", "指标项", "未完成项"];
    let table = Table {
        name: format!("按{dim}汇总"),
        headers: headers.iter().map(|s| (*s).to_owned()).collect(),
        rows,
    };
    ViewTable::plain(table).hide(&[0]).link(1, 0, "compliance", param).link_with(
        3,
        0,
        "compliance",
        param,
        "status=open",
    )
}
