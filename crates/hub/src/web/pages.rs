//! The dashboard's pages: which page answers a name (`build`), the semester shown by
//! default, and the overview; the other pages are in `alliances`, `mine` (a 教研员's or
//! principal's own page, a school's page), `compliance_page` and `report_pages`. Each page
//! asks the query layer and returns a [`View`].

use std::collections::{BTreeMap, BTreeSet};

use yanpei_domain::roster::Roster;
use yanpei_domain::{SchoolCode, Semester};
use yanpei_pki::Identity;

use super::view::{
    Card, Chart, Params, Series, View, ViewTable, by_kind, counts, empty, kind_chart, kind_table, stale_note,
};
use super::{alliances, compliance_page, mine, names, records, report_pages, sync_page};
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
        "overview" => overview(q, who, note, &roster, semester, &p).await?,
        "mine" => mine::mine(q, who, note, &roster, semester).await?,
        "alliances" => alliances::alliances(q, who, note, &roster, semester).await?,
        "school" => {
            let school = p.school.clone().ok_or_else(|| HubError::InvalidArgument("请指定学校".into()))?;
            mine::school_page(q, who, note, &roster, semester, school).await?
        }
        "records" => records::records(q, who, note, &roster, semester, &p).await?,
        "compliance" => compliance_page::compliance(q, who, note, &roster, semester, &p).await?,
        "coverage" => report_pages::coverage(q, who, note, &roster, semester, &p).await?,
        "pairings" => report_pages::pairings(q, who, note, &roster, semester, &p).await?,
        "gaps" => report_pages::gaps(q, who, note, &roster, semester, &p).await?,
        "sync" => sync_page::sync(q, who, note).await?,
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
    p: &Params,
) -> Result<View, HubError> {
    let scope = q.report_scope(who, note, None).await?;
    let rows = counts(q, scope.as_ref(), semester).await?;
    let totals = by_kind(&rows);
    let total: u64 = totals.values().sum();
    let active: BTreeSet<&str> = rows.iter().filter(|r| r.count > 0).map(|r| r.school.as_str()).collect();
    let in_scope =
        roster.schools.iter().filter(|s| scope.as_ref().is_none_or(|set| set.contains(&s.code))).count();
    let sync = q.sync_status(who.clone(), note, SyncStatusQuery { days: 2 }).await?;
    let missed: Vec<usize> =
        sync.schools.iter().enumerate().filter(|(_, s)| !s.synced_last_day).map(|(i, _)| i).collect();
    let stale: Vec<String> = sync.schools.iter().filter(|s| s.stale).map(|s| s.school_code.clone()).collect();
    let cov = q.coverage_report(who.clone(), note, CoverageQuery { semester, school: None }).await?;
    let unvisited = cov.schools.iter().filter(|c| c.staff_visits == 0).count();

    let title = if scope.is_none() {
        format!("{}研培概览", roster.county)
    } else {
        "我能查看的学校概览".to_owned()
    };
    let mut v = empty(title);
    v.notes.extend(stale_note(&stale, roster));
    let card = |id, label: &str, value: String, link: &str| Card {
        id,
        label: label.into(),
        value,
        link: link.into(),
    };
    v.cards = vec![
        card("total", "本学期活动记录", total.to_string(), ""),
        card("schools", "有活动的学校", format!("{} / {in_scope}", active.len()), "#/alliances"),
        card("missed", "昨夜未同步的学校", missed.len().to_string(), "#/sync"),
        card("unvisited", "本学期无研培人员到校", unvisited.to_string(), "#/coverage"),
        card("kinds", "涉及活动类型", totals.len().to_string(), ""),
    ];
    v.charts.push(kind_chart("各类活动次数", &totals));
    v.charts.push(trend_chart(q, scope.as_ref(), semester, p).await?);
    v.filters.extend(super::names::week_filters(&semester_weeks(q, semester).await?, p));
    v.tables.push(ViewTable::plain(kind_table("按活动类型", &totals)).hide(&[0]));
    v.tables.push(
        ViewTable::schools(tables::sync_status(&sync.schools, 2))
            .highlight(missed, "红底：最近 24 小时（昨夜）没有完成同步的学校"),
    );
    Ok(v)
}

/// The weeks (Mondays) with records this semester, in order.
async fn semester_weeks(q: &Query, semester: Semester) -> Result<Vec<chrono::NaiveDate>, HubError> {
    let weeks: BTreeSet<chrono::NaiveDate> =
        q.store.weekly_totals(semester).await?.into_keys().map(|(_, w)| w).collect();
    Ok(weeks.into_iter().collect())
}

/// Live records per ISO week over the schools in scope, from the week rollup.
async fn trend_chart(
    q: &Query,
    scope: Option<&BTreeSet<SchoolCode>>,
    semester: Semester,
    p: &Params,
) -> Result<Chart, HubError> {
    let mut weeks: BTreeMap<chrono::NaiveDate, i64> = BTreeMap::new();
    for ((school, week), n) in q.store.weekly_totals(semester).await? {
        if scope.is_none_or(|set| set.iter().any(|s| s.as_str() == school)) && names::in_range(week, p) {
            *weeks.entry(week).or_insert(0) += n;
        }
    }
    let mondays: Vec<chrono::NaiveDate> = weeks.keys().copied().collect();
    let (first, until) = super::view::counted_span(q, semester).await?;
    let (labels, partial) = names::weeks(&mondays, first, until);
    let mut c = Chart::new("逐周活动记录", "line", "周", "活动记录（条）");
    c.categories = labels;
    c.note = partial;
    c.series =
        vec![Series { name: "活动记录".into(), data: weeks.values().map(|n| *n as f64).collect() }];
    Ok(c)
}
