//! The dashboard's pages as data: cards, charts and tables, computed through the
//! same query layer and scope rules as the gRPC reports. The page's script only
//! draws what it is given, so what it shows is what the API answers.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use yanpei_domain::roster::Roster;
use yanpei_domain::{ActivityKind, SchoolCode, Semester};
use yanpei_pki::Identity;
use yanpei_proto::pb;
use yanpei_report::{Cell, Table};
use yanpei_store::hub::StatsFilter;

use crate::audit::Note;
use crate::query::Query;
use crate::{HubError, tables};

/// One page's content.
#[derive(Debug, Serialize)]
pub(crate) struct View {
    pub(crate) title: String,
    /// The semester shown, e.g. 2024-2025学年第一学期.
    pub(crate) semester: String,
    /// Warnings shown above everything (e.g. schools whose numbers may be incomplete).
    pub(crate) notes: Vec<String>,
    pub(crate) cards: Vec<Card>,
    pub(crate) charts: Vec<Chart>,
    pub(crate) tables: Vec<ViewTable>,
}

/// A headline figure.
#[derive(Debug, Serialize)]
pub(crate) struct Card {
    /// Stable name for scripts and tests.
    pub(crate) id: &'static str,
    pub(crate) label: String,
    pub(crate) value: String,
}

/// A chart: categories along the x axis, one or more series.
#[derive(Debug, Serialize)]
pub(crate) struct Chart {
    pub(crate) title: String,
    /// `bar` or `line`.
    pub(crate) kind: &'static str,
    pub(crate) categories: Vec<String>,
    pub(crate) series: Vec<Series>,
}

/// One series of a chart.
#[derive(Debug, Serialize)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) data: Vec<f64>,
}

/// A table as shown: the workbook's table plus how to show it.
#[derive(Debug, Serialize)]
pub(crate) struct ViewTable {
    pub(crate) table: Table,
    /// The column holding school codes, shown as links to the school's page.
    pub(crate) link_column: Option<usize>,
    /// Rows to highlight (behind quota, never visited, not synced).
    pub(crate) highlight: Vec<usize>,
}

impl ViewTable {
    fn plain(table: Table) -> Self {
        ViewTable { table, link_column: None, highlight: Vec::new() }
    }
}

/// What a page is asked for.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) semester: Option<Semester>,
    pub(crate) school: Option<SchoolCode>,
}

/// The pages, by the name in `/api/view/{page}`.
pub(crate) const PAGES: [&str; 8] =
    ["overview", "alliances", "school", "compliance", "coverage", "pairings", "gaps", "sync"];

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
        .or_else(|| Semester::containing(today)))
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
        "compliance" => compliance(q, who, note, semester, p.school).await?,
        "coverage" => coverage(q, who, note, semester, p.school).await?,
        "pairings" => pairings(q, who, note, semester, p.school).await?,
        "gaps" => gaps(q, who, note, semester).await?,
        "sync" => sync(q, who, note).await?,
        other => return Err(HubError::NotFound(format!("没有名为「{other}」的页面"))),
    };
    view.semester = semester.to_string();
    Ok(view)
}

fn empty(title: impl Into<String>) -> View {
    View {
        title: title.into(),
        semester: String::new(),
        notes: Vec::new(),
        cards: Vec::new(),
        charts: Vec::new(),
        tables: Vec::new(),
    }
}

fn stale_note(stale: &[String], roster: &Roster) -> Option<String> {
    if stale.is_empty() {
        return None;
    }
    let names: Vec<String> = stale
        .iter()
        .map(|code| {
            roster
                .schools
                .iter()
                .find(|s| s.code.as_str() == code)
                .map(|s| format!("{}（{code}）", s.name))
                .unwrap_or_else(|| code.clone())
        })
        .collect();
    Some(format!("注意：以下学校超过 48 小时未完成同步，本页数字可能不全：{}", names.join("、")))
}

/// Counts by school and kind for the caller's readable schools (all of them for the operator).
async fn counts(
    q: &Query,
    schools: Option<&BTreeSet<SchoolCode>>,
    semester: Semester,
) -> Result<Vec<yanpei_store::hub::SchoolKindCount>, HubError> {
    let filter = StatsFilter {
        semester: Some(semester),
        schools: schools.map(|s| s.iter().cloned().collect()),
        ..Default::default()
    };
    Ok(q.store.stats(&filter).await?)
}

fn by_kind(rows: &[yanpei_store::hub::SchoolKindCount]) -> BTreeMap<ActivityKind, u64> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.kind).or_insert(0) += r.count;
    }
    m
}

fn kind_table(name: &str, totals: &BTreeMap<ActivityKind, u64>) -> Table {
    let mut rows: Vec<Vec<Cell>> = ActivityKind::ALL
        .iter()
        .filter_map(|k| totals.get(k).map(|n| (k, *n)))
        .map(|(k, n)| vec![Cell::from(k.code()), k.label().into(), n.into()])
        .collect();
    rows.sort_by(|a, b| match (&b[2], &a[2]) {
        (Cell::Number(x), Cell::Number(y)) => x.total_cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    Table {
        name: name.to_owned(), headers: vec!["类型代码".into(), "活动类型".into(), "次数".into()], rows
    }
}

fn kind_chart(title: &str, totals: &BTreeMap<ActivityKind, u64>) -> Chart {
    let mut pairs: Vec<(ActivityKind, u64)> = totals.iter().map(|(k, n)| (*k, *n)).collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.1));
    Chart {
        title: title.to_owned(),
        kind: "bar",
        categories: pairs.iter().map(|(k, _)| k.label().to_owned()).collect(),
        series: vec![Series { name: "次数".into(), data: pairs.iter().map(|(_, n)| *n as f64).collect() }],
    }
}

async fn overview(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
) -> Result<View, HubError> {
    let scope = q.report_scope(who, note, "").await?;
    let rows = counts(q, scope.as_ref(), semester).await?;
    let totals = by_kind(&rows);
    let total: u64 = totals.values().sum();
    let active: BTreeSet<&str> = rows.iter().filter(|r| r.count > 0).map(|r| r.school.as_str()).collect();
    let in_scope =
        roster.schools.iter().filter(|s| scope.as_ref().is_none_or(|set| set.contains(&s.code))).count();
    let sync = q.sync_status(who.clone(), note, pb::SyncStatusRequest { days: 2 }).await?;
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
    let sync_table = tables::sync_status(&sync, 2);
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
    let scope = q.report_scope(who, note, "").await?;
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
    // Schools in scope, linked to their pages.
    let mut per_school: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &rows {
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
    v.tables.push(ViewTable {
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
    });
    Ok(v)
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
    let scope = q.report_scope(who, note, school.as_str()).await?;
    let info = roster
        .schools
        .iter()
        .find(|s| s.code == school)
        .ok_or_else(|| HubError::NotFound(format!("名册中没有学校 {school}")))?;
    let rows = counts(q, scope.as_ref(), semester).await?;
    let totals = by_kind(&rows);
    let cov = q
        .coverage_report(
            who.clone(),
            note,
            pb::CoverageRequest {
                semester: Some(yanpei_proto::semester_to_pb(semester)),
                school_code: school.to_string(),
            },
        )
        .await?;
    let sync = q.sync_status(who.clone(), note, pb::SyncStatusRequest { days: 2 }).await?;
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
            value: mine.map(|s| tables::local_time(&s.last_sync)).unwrap_or_default(),
        },
        Card {
            id: "silent",
            label: "无活动的学科".into(),
            value: cov.schools.first().map(|c| c.silent_subjects.len()).unwrap_or(0).to_string(),
        },
    ];
    v.charts.push(kind_chart("各类活动次数", &totals));
    v.tables.push(ViewTable::plain(kind_table("按活动类型", &totals)));
    v.tables.push(ViewTable::plain(tables::coverage(&cov)));
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

async fn compliance(
    q: &Query,
    who: &Identity,
    note: &Note,
    semester: Semester,
    school: Option<SchoolCode>,
) -> Result<View, HubError> {
    let reply = q
        .compliance_report(
            who.clone(),
            note,
            pb::ComplianceRequest {
                semester: Some(yanpei_proto::semester_to_pb(semester)),
                as_of: String::new(),
                school_code: school.map(|s| s.to_string()).unwrap_or_default(),
            },
        )
        .await?;
    let report = tables::compliance(&reply).map_err(HubError::Internal)?;
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

async fn coverage(
    q: &Query,
    who: &Identity,
    note: &Note,
    semester: Semester,
    school: Option<SchoolCode>,
) -> Result<View, HubError> {
    let reply = q
        .coverage_report(
            who.clone(),
            note,
            pb::CoverageRequest {
                semester: Some(yanpei_proto::semester_to_pb(semester)),
                school_code: school.map(|s| s.to_string()).unwrap_or_default(),
            },
        )
        .await?;
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
    v.tables.push(ViewTable { table: tables::coverage(&reply), link_column: Some(0), highlight: unvisited });
    Ok(v)
}

async fn pairings(
    q: &Query,
    who: &Identity,
    note: &Note,
    semester: Semester,
    school: Option<SchoolCode>,
) -> Result<View, HubError> {
    let reply = q
        .pairings_report(
            who.clone(),
            note,
            pb::PairingsRequest {
                semester: Some(yanpei_proto::semester_to_pb(semester)),
                school_code: school.map(|s| s.to_string()).unwrap_or_default(),
                as_of: String::new(),
            },
        )
        .await?;
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
    let strong_weak: Vec<&pb::PairingReport> = reply.pairings.iter().filter(|p| p.trend.is_some()).collect();
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
            categories: p.weeks.iter().map(|w| w.iso_week.clone()).collect(),
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
    let mut t = crate::tables::pairs::pairings_tables(&reply).into_iter();
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

async fn gaps(q: &Query, who: &Identity, note: &Note, semester: Semester) -> Result<View, HubError> {
    let reply = q
        .gaps_report(
            who.clone(),
            note,
            pb::GapsRequest {
                semester: Some(yanpei_proto::semester_to_pb(semester)),
                dimension: String::new(),
                school_codes: Vec::new(),
            },
        )
        .await?;
    let mut v = empty("城乡与区域差距");
    if !reply.stale_schools.is_empty() {
        v.notes.push(format!(
            "注意：以下学校超过 48 小时未完成同步，本页数字可能不全：{}",
            reply.stale_schools.join("、")
        ));
    }
    let mut dimensions: Vec<(&str, &str)> = Vec::new();
    for g in &reply.groups {
        if !dimensions.iter().any(|(d, _)| *d == g.dimension) {
            dimensions.push((&g.dimension, &g.dimension_label));
        }
    }
    for (dim, label) in dimensions {
        let groups: Vec<&pb::GapGroup> = reply.groups.iter().filter(|g| g.dimension == dim).collect();
        let weeks: Vec<String> =
            groups.first().map(|g| g.weeks.iter().map(|w| w.iso_week.clone()).collect()).unwrap_or_default();
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
    v.tables.extend(crate::tables::pairs::gaps_tables(&reply).into_iter().map(ViewTable::plain));
    Ok(v)
}

async fn sync(q: &Query, who: &Identity, note: &Note) -> Result<View, HubError> {
    let reply = q.sync_status(who.clone(), note, pb::SyncStatusRequest { days: 2 }).await?;
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
        table: tables::sync_status(&reply, 2),
        link_column: Some(0),
        highlight: stale,
    });
    Ok(v)
}
