//! The dashboard's report pages (coverage, pairings, gaps), each the typed report
//! answer drawn as cards, charts and the same tables as `yanpei report --xlsx`, with codes
//! hidden or replaced by names and weeks by their dates. 考核进度 is `compliance_page`,
//! 同步状态 `sync_page`.

use yanpei_domain::Semester;
use yanpei_domain::roster::Roster;
use yanpei_pki::Identity;
use yanpei_report::{Cell, GapGroup, PairReport, Table};

use super::names;
use super::view::{Card, Chart, Params, Series, View, ViewTable, empty};
use crate::audit::Note;
use crate::model::{CoverageQuery, GapsQuery, PairingsQuery};
use crate::query::Query;
use crate::{HubError, tables};

/// Replaces column `col`'s codes by what `name` makes of them.
fn rename(t: &mut Table, col: usize, name: impl Fn(&str) -> String) {
    for row in &mut t.rows {
        if let Some(Cell::Text(code)) = row.get(col) {
            let named = name(code);
            row[col] = Cell::from(named);
        }
    }
}

/// Column `week_col` (ISO week codes) read as dates from the Monday in `monday_col`.
fn week_dates(t: &mut Table, week_col: usize, monday_col: usize) {
    for row in &mut t.rows {
        let monday = match row.get(monday_col) {
            Some(Cell::Text(d)) => d.parse::<chrono::NaiveDate>().ok(),
            _ => None,
        };
        if let (Some(m), Some(cell)) = (monday, row.get_mut(week_col)) {
            *cell = Cell::from(names::week(m));
        }
    }
    if let Some(h) = t.headers.get_mut(week_col) {
        *h = "周".into();
    }
}

fn stale_notice(v: &mut View, roster: &Roster, stale: &[String]) {
    v.notes.extend(super::view::stale_note(stale, roster));
}

pub(super) async fn coverage(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
    p: &Params,
) -> Result<View, HubError> {
    let mut reply =
        q.coverage_report(who.clone(), note, CoverageQuery { semester, school: p.school.clone() }).await?;
    if let Some(a) = &p.alliance {
        reply.schools.retain(|c| &c.alliance == a);
    }
    if let Some(s) = &p.subject {
        reply.schools.retain(|c| c.silent_subjects.contains(s));
    }
    // Never visited first, then the most silent subjects.
    reply.schools.sort_by_key(|c| (c.staff_visits != 0, std::cmp::Reverse(c.silent_subjects.len())));
    let unvisited: Vec<usize> =
        reply.schools.iter().enumerate().filter(|(_, c)| c.staff_visits == 0).map(|(i, _)| i).collect();
    let silent: usize = reply.schools.iter().map(|c| c.silent_subjects.len()).sum();
    let mut v = empty("覆盖情况（不留死角）");
    stale_notice(&mut v, roster, &reply.stale_schools);
    let scope = q.report_scope(who, note, None).await?;
    v.filters = vec![
        names::school_filter(roster, scope.as_ref(), p),
        names::alliance_filter(roster, scope.as_ref(), p),
        names::subject_filter(roster, p),
    ];
    v.cards = vec![
        Card {
            id: "schools",
            label: "学校".into(),
            value: reply.schools.len().to_string(),
            link: String::new(),
        },
        Card {
            id: "unvisited",
            label: "本学期无研培人员到校".into(),
            value: unvisited.len().to_string(),
            link: String::new(),
        },
        Card {
            id: "silent",
            label: "无活动的学科（校×学科）".into(),
            value: silent.to_string(),
            link: String::new(),
        },
    ];
    let mut t = tables::coverage(&reply.schools);
    rename(&mut t, 2, |a| names::alliance(roster, a));
    v.tables.push(ViewTable::schools(t).highlight(unvisited, "红底：本学期没有研培人员到校记录的学校"));
    Ok(v)
}

pub(super) async fn pairings(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
    p: &Params,
) -> Result<View, HubError> {
    let query = PairingsQuery { semester, school: p.school.clone(), as_of: None };
    let reply = q.pairings_report(who.clone(), note, query).await?;
    let mut v = empty("结对帮扶");
    stale_notice(&mut v, roster, &reply.stale_schools);
    if reply.pairings.is_empty() {
        v.notes.push("查看范围内没有结对学校".into());
    }
    let scope = q.report_scope(who, note, None).await?;
    v.filters = vec![names::school_filter(roster, scope.as_ref(), p)];
    let strong_weak: Vec<&PairReport> = reply.pairings.iter().filter(|p| p.trend.is_some()).collect();
    let card = |id, label: &str, value: String| Card { id, label: label.into(), value, link: String::new() };
    let rising = strong_weak.iter().filter(|p| p.trend.as_ref().is_some_and(|t| t.weak_rising)).count();
    v.cards = vec![
        card("pairs", "结对", reply.pairings.len().to_string()),
        card("cross", "跨校活动", reply.pairings.iter().map(|p| p.total).sum::<i64>().to_string()),
        card("rising", "受助校活动上升的强弱帮扶", format!("{rising} / {}", strong_weak.len())),
    ];
    let mut c = Chart::new("各结对跨校活动", "bar", "结对", "跨校活动（条）");
    c.categories = reply.pairings.iter().map(|p| format!("{}—{}", p.helper_name, p.partner_name)).collect();
    c.series = vec![
        Series {
            name: "帮扶校发起".into(),
            data: reply.pairings.iter().map(|p| p.from_helper as f64).collect(),
        },
        Series {
            name: "结对校发起".into(),
            data: reply.pairings.iter().map(|p| p.from_partner as f64).collect(),
        },
    ];
    v.charts.push(c);
    let (first, _) = super::view::counted_span(q, semester).await?;
    let span = (first, reply.as_of);
    for pr in &strong_weak {
        v.charts.push(pair_trend(pr, span, p));
    }
    let whole_county = scope.is_none();
    let mut t = crate::tables::pairs::pairings_tables(&reply.pairings).into_iter();
    if let Some(summary) = t.next() {
        let falling = reply
            .pairings
            .iter()
            .enumerate()
            .filter(|(_, p)| p.trend.as_ref().is_some_and(|t| t.weeks > 0 && !t.weak_rising))
            .map(|(i, _)| i)
            .collect();
        let mut vt = ViewTable::plain(summary)
            .hide(&[0, 2])
            .highlight(falling, "红底：强弱帮扶中，受助校近几周活动没有上升");
        // Only the whole county may open every school's page.
        if whole_county {
            vt = vt.link(1, 0, "school", "school").link(3, 2, "school", "school");
        }
        v.tables.push(vt);
    }
    v.tables.extend(t.map(|mut table| {
        if table.name == "帮扶趋势" {
            week_dates(&mut table, 2, 3);
        }
        ViewTable::plain(table)
    }));
    Ok(v)
}

/// A strong–weak pair week by week: both schools and their cross-school work.
fn pair_trend(pr: &PairReport, span: (chrono::NaiveDate, chrono::NaiveDate), p: &Params) -> Chart {
    let weeks: Vec<&yanpei_report::pairs::PairWeek> =
        pr.weeks.iter().filter(|w| names::in_range(w.week, p)).collect();
    let mondays: Vec<chrono::NaiveDate> = weeks.iter().map(|w| w.week).collect();
    let (labels, partial) = names::weeks(&mondays, span.0, span.1);
    let mut c = Chart::new(
        format!("{}（帮扶）与{}（受助）", pr.helper_name, pr.partner_name),
        "line",
        "周",
        "活动记录（条）",
    );
    c.categories = labels;
    c.note = partial;
    c.series = vec![
        Series { name: pr.helper_name.clone(), data: weeks.iter().map(|w| w.helper as f64).collect() },
        Series { name: pr.partner_name.clone(), data: weeks.iter().map(|w| w.partner as f64).collect() },
        Series { name: "跨校活动".into(), data: weeks.iter().map(|w| w.cross as f64).collect() },
    ];
    c
}

/// At most this many lines in one chart; the rest are averaged into 其他.
const MAX_LINES: usize = 6;

pub(super) async fn gaps(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
    p: &Params,
) -> Result<View, HubError> {
    let query = GapsQuery { semester, dimensions: Vec::new(), schools: Vec::new() };
    let reply = q.gaps_report(who.clone(), note, query).await?;
    let mut v = empty("城乡与区域差距");
    stale_notice(&mut v, roster, &reply.stale_schools);
    let mut dimensions: Vec<yanpei_report::Dimension> = Vec::new();
    for g in &reply.groups {
        if !dimensions.contains(&g.dimension) {
            dimensions.push(g.dimension);
        }
    }
    let span = super::view::counted_span(q, semester).await?;
    let mut all_weeks: Vec<chrono::NaiveDate> = Vec::new();
    for dim in dimensions {
        let mut groups: Vec<&GapGroup> = reply.groups.iter().filter(|g| g.dimension == dim).collect();
        groups.sort_by(|a, b| b.per_school.total_cmp(&a.per_school));
        if let Some(first) = groups.first() {
            all_weeks = first.weeks.iter().map(|w| w.week).collect();
        }
        v.charts.push(gap_chart(dim.label(), &groups, span, p));
    }
    v.filters.extend(names::week_filters(&all_weeks, p));
    v.tables.extend(crate::tables::pairs::gaps_tables(&reply.groups).into_iter().map(|mut t| {
        if t.name == "逐周对比" {
            week_dates(&mut t, 2, 3);
            ViewTable::plain(t)
        } else {
            ViewTable::plain(t).hide(&[1])
        }
    }));
    Ok(v)
}

/// One dimension's groups week by week (mean records per school): the busiest
/// [`MAX_LINES`] - 1 groups, and the rest averaged as 其他.
fn gap_chart(
    label: &str,
    groups: &[&GapGroup],
    span: (chrono::NaiveDate, chrono::NaiveDate),
    p: &Params,
) -> Chart {
    let keep: Vec<usize> = groups
        .first()
        .map(|g| (0..g.weeks.len()).filter(|i| names::in_range(g.weeks[*i].week, p)).collect())
        .unwrap_or_default();
    let mondays: Vec<chrono::NaiveDate> =
        groups.first().map(|g| keep.iter().map(|i| g.weeks[*i].week).collect()).unwrap_or_default();
    let (labels, partial) = names::weeks(&mondays, span.0, span.1);
    let line = |g: &GapGroup| -> Vec<f64> {
        keep.iter().map(|i| g.weeks.get(*i).map_or(0.0, |w| (w.per_school * 100.0).round() / 100.0)).collect()
    };
    let mut c = Chart::new(format!("按{label}：逐周校均活动"), "line", "周", "校均活动记录（条／校）");
    c.categories = labels;
    c.note = partial;
    let shown = if groups.len() > MAX_LINES { MAX_LINES - 1 } else { groups.len() };
    c.series = groups[..shown].iter().map(|g| Series { name: g.name.clone(), data: line(g) }).collect();
    let rest = &groups[shown..];
    if !rest.is_empty() {
        let lines: Vec<Vec<f64>> = rest.iter().map(|g| line(g)).collect();
        let data = (0..keep.len())
            .map(|i| (lines.iter().map(|l| l[i]).sum::<f64>() / lines.len() as f64 * 100.0).round() / 100.0)
            .collect();
        c.series.push(Series { name: format!("其他 {} 个{label}（平均）", rest.len()), data });
    }
    c
}
