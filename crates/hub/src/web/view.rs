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
    /// The filters the page takes, with the choices the caller may make.
    pub(crate) filters: Vec<Filter>,
}

/// A headline figure.
#[derive(Debug, Serialize)]
pub(crate) struct Card {
    /// Stable name for scripts and tests.
    pub(crate) id: &'static str,
    pub(crate) label: String,
    pub(crate) value: String,
    /// The page behind the figure (`#/...`), if any.
    pub(crate) link: String,
}

/// A chart: categories along the x axis, one or more series.
#[derive(Debug, Serialize)]
pub(crate) struct Chart {
    pub(crate) title: String,
    /// `bar` or `line`.
    pub(crate) kind: &'static str,
    pub(crate) categories: Vec<String>,
    pub(crate) series: Vec<Series>,
    /// What the categories are (the x axis's name).
    pub(crate) x_name: String,
    /// What the values count, with the unit (the y axis's name).
    pub(crate) y_name: String,
    /// A note under the chart (e.g. that the last week is not over).
    pub(crate) note: String,
}

impl Chart {
    pub(super) fn new(title: impl Into<String>, kind: &'static str, x_name: &str, y_name: &str) -> Self {
        Chart {
            title: title.into(),
            kind,
            categories: Vec::new(),
            series: Vec::new(),
            x_name: x_name.to_owned(),
            y_name: y_name.to_owned(),
            note: String::new(),
        }
    }
}

/// One series of a chart.
#[derive(Debug, Serialize)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) data: Vec<f64>,
}

/// A cell shown as a link to another page: `#/{page}?{param}={the row's key cell}&{extra}`.
#[derive(Debug, Serialize)]
pub(crate) struct Link {
    /// The column whose cell is the link.
    pub(crate) column: usize,
    /// The column holding the value passed to the page (often a hidden code column).
    pub(crate) key: usize,
    pub(crate) page: &'static str,
    pub(crate) param: &'static str,
    /// More of the link's query, the same for every row (e.g. `status=open`).
    pub(crate) extra: String,
}

/// A table as shown: the workbook's table plus how to show it.
#[derive(Debug, Serialize)]
pub(crate) struct ViewTable {
    pub(crate) table: Table,
    /// Cells shown as links to the page behind them.
    pub(crate) links: Vec<Link>,
    /// Columns kept for the workbook and links but not shown (codes).
    pub(crate) hidden: Vec<usize>,
    /// Rows to highlight (behind quota, never visited, not synced).
    pub(crate) highlight: Vec<usize>,
    /// What a highlighted row means, shown under the table.
    pub(crate) legend: String,
}

impl ViewTable {
    pub(super) fn plain(table: Table) -> Self {
        ViewTable {
            table,
            links: Vec::new(),
            hidden: Vec::new(),
            highlight: Vec::new(),
            legend: String::new(),
        }
    }

    /// Cells of `column` link to `page` with `param` = the row's `key` cell.
    pub(super) fn link(mut self, column: usize, key: usize, page: &'static str, param: &'static str) -> Self {
        self.links.push(Link { column, key, page, param, extra: String::new() });
        self
    }

    /// As [`ViewTable::link`], with a fixed `extra` query added (e.g. `status=open`).
    pub(super) fn link_with(
        mut self,
        column: usize,
        key: usize,
        page: &'static str,
        param: &'static str,
        extra: impl Into<String>,
    ) -> Self {
        self.links.push(Link { column, key, page, param, extra: extra.into() });
        self
    }

    /// Columns not shown on the page.
    pub(super) fn hide(mut self, columns: &[usize]) -> Self {
        self.hidden.extend_from_slice(columns);
        self
    }

    /// Rows highlighted, and what the highlight means.
    pub(super) fn highlight(mut self, rows: Vec<usize>, legend: &str) -> Self {
        self.highlight = rows;
        self.legend = legend.to_owned();
        self
    }

    /// A school table whose column 0 is the code (hidden) and 1 the name, linked to the school.
    pub(super) fn schools(table: Table) -> Self {
        Self::plain(table).hide(&[0]).link(1, 0, "school", "school")
    }
}

/// A filter above a page: a choice kept in the URL.
#[derive(Debug, Serialize)]
pub(crate) struct Filter {
    /// The URL parameter.
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    /// The first is the "all" choice (empty value).
    pub(crate) options: Vec<Choice>,
    pub(crate) value: String,
}

/// One choice of a filter.
#[derive(Debug, Serialize)]
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
}

/// What a page is asked for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    pub(crate) semester: Option<Semester>,
    pub(crate) school: Option<SchoolCode>,
    pub(crate) alliance: Option<String>,
    pub(crate) subject: Option<String>,
    /// `open` (not complete) or `behind` (will not complete at the present pace).
    pub(crate) status: Option<String>,
    /// The first and last week shown (any day of it).
    pub(crate) from: Option<chrono::NaiveDate>,
    pub(crate) to: Option<chrono::NaiveDate>,
    /// One kind of activity (the records page).
    pub(crate) kind: Option<ActivityKind>,
}

/// The pages, by the name in `/api/view/{page}`.
pub(crate) const PAGES: [&str; 10] = [
    "overview",
    "mine",
    "alliances",
    "school",
    "records",
    "compliance",
    "coverage",
    "pairings",
    "gaps",
    "sync",
];

pub(super) fn empty(title: impl Into<String>) -> View {
    View {
        title: title.into(),
        semester: String::new(),
        notes: Vec::new(),
        cards: Vec::new(),
        charts: Vec::new(),
        tables: Vec::new(),
        filters: Vec::new(),
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
                .map(|s| s.name.clone())
                .unwrap_or_else(|| code.clone())
        })
        .collect();
    Some(format!("注意：以下学校超过 48 小时未完成同步，本页数字可能不全：{}", names.join("、")))
}

/// A semester's first day and the day its figures are counted to: today, or its last day
/// once it is over.
pub(super) async fn counted_span(
    q: &Query,
    semester: Semester,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), HubError> {
    let (first, last) = q.roster().await?.calendar().dates(semester);
    Ok((first, chrono::Utc::now().date_naive().clamp(first, last)))
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
    let mut c = Chart::new(title, "bar", "活动类型", "次数（条）");
    c.categories = pairs.iter().map(|(k, _)| k.label().to_owned()).collect();
    c.series = vec![Series { name: "次数".into(), data: pairs.iter().map(|(_, n)| *n as f64).collect() }];
    c
}
