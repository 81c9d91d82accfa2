//! The dashboard's pages: which page answers a name (`build`), the semester shown by
//! default, and the county's pages (overview, alliances, a school); the report pages are
//! in `report_pages`. Each page asks the query layer and returns a [`View`].

use std::collections::{BTreeMap, BTreeSet};

use yanpei_domain::roster::Roster;
use yanpei_domain::{SchoolCode, Semester};
use yanpei_pki::Identity;
use yanpei_report::{Cell, Table};

use super::report_pages;
use super::view::{
    Card, Chart, Params, Series, View, ViewTable, by_kind, counts, empty, kind_chart, kind_table, stale_note,
};
use crate::audit::Note;
use crate::model::{CoverageQuery, SyncStatusQuery};
use crate::query::Query;
use crate::{HubError, tables};

/// The semester a page shows unless one is asked for: the newest with records (a county
/// looks at the term it is recording), else the roster's latest that has begun, else today's.
pub(crate) async fn default_semester(q: &Query, roster: &Roster) -> Result<Option<Semester>, HubError> {
    let today = chrono::Utc::now().date_naive();
    if let Some(newest) = q.store.semesters_with_records().await?.first() {
        return Ok(Some(*newest));
    }
    Ok(roster
        .semesters
        .iter()
        .filter(|s| s.start <= today)
        .map(|s| s.semester)
        .max()
        .or_else(|| roster.calendar().containing(today)))
}

pub(crate) async fn build(
    q: &Query,
    who: &Identity,
    note: &Note,
    page: &str,
    p: Params,
) -> Result<View, HubError> {
    let roster = q.roster().await?;
    let semester = match p.semester {
        Some(s) => Some(s),
        None => default_semester(q, &roster).await?,
    };
    let semester =
        semester.ok_or_else(|| HubError::InvalidArgument("无法确定学期：请在页面上选择学期".into()))?;
    let mut view = match page {
        "overview" => overview(q, who, note, &roster, semester).await?,
        "alliances" => alliances(q, who, note, &roster, semester).await?,
        "school" => {
            let school =
                p.school.ok_or_else(|| HubError::InvalidArgument("请指定学校（school=学校代码）".into()))?;
            school_page(q, who, note, &roster, semester, school).await?
        }
        "compliance" => report_pages::compliance(q, who, note, semester, p.school).await?,
        "coverage" => report_pages::coverage(q, who, note, semester, p.school).await?,
        "pairings" => report_pages::pairings(q, who, note, semester, p.school).await?,
        "gaps" => report_pages::gaps(q, who, note, semester).await?,
        "sync" => report_pages::sync(q, who, note).await?,
        other => return Err(HubError::NotFound(format!("没有名为「{other}」的页面"))),
    };
    view.semester = semester.to_string();
    Ok(view)
}

async fn overview(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
) -> Result<View, HubError> {
    let scope = q.report_scope(who, note, None).await?;
    let rows = counts(q, scope.as_ref(), semester).await?;
    let totals = by_kind(&rows);
    let total: u64 = totals.values().sum();
    let active: BTreeSet<&str> = rows.iter().filter(|r| r.count > 0).map(|r| r.school.as_str()).collect();
    let in_scope =
        roster.schools.iter().filter(|s| scope.as_ref().is_none_or(|set| set.contains(&s.code))).count();
    let sync = q.sync_status(who.clone(), note, SyncStatusQuery { days: 2 }).await?;
    let synced = sync.schools.iter().filter(|s| s.synced_last_day).count();
    let stale: Vec<String> = sync.schools.iter().filter(|s| s.stale).map(|s| s.school_code.clone()).collect();

    let title = if scope.is_none() {
        format!("{}研培概览", roster.county)
    } else {
        "我负责的学校概览".to_owned()
    };
    let mut v = empty(title);
    v.notes.extend(stale_note(&stale, roster));
    v.cards = vec![
        Card { id: "total", label: "本学期活动记录".into(), value: total.to_string() },
        Card {
            id: "schools", label: "有活动的学校".into(), value: format!("{} / {in_scope}", active.len())
        },
        Card {
            id: "synced",
            label: "最近 24 小时已同步".into(),
            value: format!("{synced} / {}", sync.schools.len()),
        },
        Card { id: "kinds", label: "涉及活动类型".into(), value: totals.len().to_string() },
    ];
    v.charts.push(kind_chart("各类活动次数", &totals));
    v.charts.push(trend_chart(q, scope.as_ref(), semester).await?);
    v.tables.push(ViewTable::plain(kind_table("按活动类型", &totals)));
    let sync_table = tables::sync_status(&sync.schools, 2);
    let highlight = sync.schools.iter().enumerate().filter(|(_, s)| s.stale).map(|(i, _)| i).collect();
    v.tables.push(ViewTable { table: sync_table, link_column: Some(0), highlight });
    Ok(v)
}

/// Live records per ISO week over the schools in scope, from the week rollup.
async fn trend_chart(
    q: &Query,
    scope: Option<&BTreeSet<SchoolCode>>,
    semester: Semester,
) -> Result<Chart, HubError> {
    let mut weeks: BTreeMap<chrono::NaiveDate, i64> = BTreeMap::new();
    for ((school, week), n) in q.store.weekly_totals(semester).await? {
        if scope.is_none_or(|set| set.iter().any(|s| s.as_str() == school)) {
            *weeks.entry(week).or_insert(0) += n;
        }
    }
    Ok(Chart {
        title: "逐周活动记录".into(),
        kind: "line",
        categories: weeks.keys().map(|w| w.format("%m-%d").to_string()).collect(),
        series: vec![Series {
            name: "活动记录".into(), data: weeks.values().map(|n| *n as f64).collect()
        }],
    })
}

async fn alliances(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
) -> Result<View, HubError> {
    let scope = q.report_scope(who, note, None).await?;
    let rows = counts(q, scope.as_ref(), semester).await?;
    let school_alliance: BTreeMap<&str, &str> =
        roster.schools.iter().map(|s| (s.code.as_str(), s.alliance.as_str())).collect();
    let visible: Vec<&yanpei_domain::roster::School> =
        roster.schools.iter().filter(|s| scope.as_ref().is_none_or(|set| set.contains(&s.code))).collect();
    let shown: Vec<&yanpei_domain::roster::Alliance> =
        roster.alliances.iter().filter(|a| visible.iter().any(|s| s.alliance == a.code)).collect();
    // alliance -> family label -> count
    let mut per: BTreeMap<&str, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut total: BTreeMap<&str, u64> = BTreeMap::new();
    let mut families: BTreeSet<&'static str> = BTreeSet::new();
    for r in &rows {
        let Some(a) = school_alliance.get(r.school.as_str()) else { continue };
        let fam = r.kind.family().label();
        families.insert(fam);
        *per.entry(a).or_default().entry(fam).or_insert(0) += r.count;
        *total.entry(a).or_insert(0) += r.count;
    }
    let families: Vec<&'static str> = families.into_iter().collect();
    let mut v = empty("联合体对比");
    v.charts.push(Chart {
        title: "各联合体活动次数（按类别）".into(),
        kind: "bar",
        categories: shown.iter().map(|a| a.name.clone()).collect(),
        series: families
            .iter()
            .map(|f| Series {
                name: (*f).to_owned(),
                data: shown
                    .iter()
                    .map(|a| per.get(a.code.as_str()).and_then(|m| m.get(f)).copied().unwrap_or(0) as f64)
                    .collect(),
            })
            .collect(),
    });
    let mut headers: Vec<String> = ["联合体代码", "联合体", "基地校", "学校数", "活动记录", "校均"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    headers.extend(families.iter().map(|f| (*f).to_owned()));
    let table_rows =
        shown
            .iter()
            .map(|a| {
                let n_schools = visible.iter().filter(|s| s.alliance == a.code).count();
                let t = total.get(a.code.as_str()).copied().unwrap_or(0);
                let base = roster
                    .schools
                    .iter()
                    .find(|s| s.code == a.base_school)
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                let mut row = vec![
                    Cell::from(a.code.clone()),
                    a.name.clone().into(),
                    base.into(),
                    n_schools.into(),
                    t.into(),
                    Cell::Number(if n_schools == 0 {
                        0.0
                    } else {
                        (t as f64 / n_schools as f64 * 10.0).round() / 10.0
                    }),
                ];
                row.extend(families.iter().map(|f| {
                    Cell::from(per.get(a.code.as_str()).and_then(|m| m.get(f)).copied().unwrap_or(0))
                }));
                row
            })
            .collect();
    v.tables.push(ViewTable::plain(Table { name: "联合体对比".into(), headers, rows: table_rows }));
    v.tables.push(schools_table(&visible, &rows));
    Ok(v)
}

/// The schools in scope with their records, linked to their pages.
fn schools_table(
    visible: &[&yanpei_domain::roster::School],
    rows: &[yanpei_store::hub::SchoolKindCount],
) -> ViewTable {
    let mut per_school: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows {
        *per_school.entry(r.school.as_str()).or_insert(0) += r.count;
    }
    let school_rows = visible
        .iter()
        .map(|s| {
            vec![
                Cell::from(s.code.to_string()),
                s.name.clone().into(),
                s.alliance.clone().into(),
                s.township.clone().into(),
                s.area.label().into(),
                per_school.get(s.code.as_str()).copied().unwrap_or(0).into(),
            ]
        })
        .collect();
    ViewTable {
        table: Table {
            name: "学校".into(),
            headers: ["学校代码", "学校", "联合体", "乡镇", "城乡", "活动记录"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            rows: school_rows,
        },
        link_column: Some(0),
        highlight: Vec::new(),
    }
}

async fn school_page(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
    school: SchoolCode,
) -> Result<View, HubError> {
    // The scope check comes first: an unassigned school is refused, not shown empty.
    let scope = q.report_scope(who, note, Some(&school)).await?;
    let info = roster
        .schools
        .iter()
        .find(|s| s.code == school)
        .ok_or_else(|| HubError::NotFound(format!("名册中没有学校 {school}")))?;
    let rows = counts(q, scope.as_ref(), semester).await?;
    let totals = by_kind(&rows);
    let cov = q
        .coverage_report(who.clone(), note, CoverageQuery { semester, school: Some(school.clone()) })
        .await?;
    let sync = q.sync_status(who.clone(), note, SyncStatusQuery { days: 2 }).await?;
    let mine = sync.schools.iter().find(|s| s.school_code == school.as_str());
    let visits = cov.schools.first().map(|c| c.staff_visits).unwrap_or(0);
    let mut v = empty(format!("{}（{}）", info.name, info.code));
    v.notes.extend(stale_note(&cov.stale_schools, roster));
    v.cards = vec![
        Card {
            id: "total", label: "本学期活动记录".into(), value: totals.values().sum::<u64>().to_string()
        },
        Card { id: "visits", label: "研培人员到校记录".into(), value: visits.to_string() },
        Card {
            id: "last_sync",
            label: "最近同步".into(),
            value: mine.map(|s| tables::last_sync(s.last_sync)).unwrap_or_default(),
        },
        Card {
            id: "silent",
            label: "无活动的学科".into(),
            value: cov.schools.first().map(|c| c.silent_subjects.len()).unwrap_or(0).to_string(),
        },
    ];
    v.charts.push(kind_chart("各类活动次数", &totals));
    v.tables.push(ViewTable::plain(kind_table("按活动类型", &totals)));
    v.tables.push(ViewTable::plain(tables::coverage(&cov.schools)));
    let pairs: Vec<Vec<Cell>> = roster
        .pairings
        .iter()
        .filter(|p| p.helper == school || p.partner == school)
        .map(|p| {
            let (other, role) =
                if p.helper == school { (&p.partner, "帮扶方") } else { (&p.helper, "受助方") };
            let name =
                roster.schools.iter().find(|s| &s.code == other).map(|s| s.name.clone()).unwrap_or_default();
            vec![Cell::from(other.to_string()), name.into(), p.kind.label().into(), role.into()]
        })
        .collect();
    v.tables.push(ViewTable {
        table: Table {
            name: "结对学校".into(),
            headers: ["学校代码", "结对学校", "结对类型", "本校角色"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            rows: pairs,
        },
        link_column: Some(0),
        highlight: Vec::new(),
    });
    Ok(v)
}
