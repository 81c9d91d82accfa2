//! The dashboard's pages as data: cards, charts and tables, computed through the
//! same query layer and scope rules as the gRPC reports. The page's script only
//! draws what it is given, so what it shows is what the API answers.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use yanpei_domain::roster::Roster;
use yanpei_domain::{ActivityKind, SchoolCode, Semester};
use yanpei_report::{Cell, Table};
use yanpei_store::hub::StatsFilter;

use crate::HubError;
use crate::query::Query;

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
    pub(super) fn plain(table: Table) -> Self {
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

pub(super) fn empty(title: impl Into<String>) -> View {
    View {
        title: title.into(),
        semester: String::new(),
        notes: Vec::new(),
        cards: Vec::new(),
        charts: Vec::new(),
        tables: Vec::new(),
    }
}

pub(super) fn stale_note(stale: &[String], roster: &Roster) -> Option<String> {
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
pub(super) async fn counts(
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

pub(super) fn by_kind(rows: &[yanpei_store::hub::SchoolKindCount]) -> BTreeMap<ActivityKind, u64> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.kind).or_insert(0) += r.count;
    }
    m
}

pub(super) fn kind_table(name: &str, totals: &BTreeMap<ActivityKind, u64>) -> Table {
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

pub(super) fn kind_chart(title: &str, totals: &BTreeMap<ActivityKind, u64>) -> Chart {
    let mut pairs: Vec<(ActivityKind, u64)> = totals.iter().map(|(k, n)| (*k, *n)).collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.1));
    Chart {
        title: title.to_owned(),
        kind: "bar",
        categories: pairs.iter().map(|(k, _)| k.label().to_owned()).collect(),
        series: vec![Series { name: "次数".into(), data: pairs.iter().map(|(_, n)| *n as f64).collect() }],
    }
}
