//! The alliances page: how each regional alliance is doing, by activity family, and its
//! schools, each linked to the school's page and its count of people behind on a quota.

use std::collections::{BTreeMap, BTreeSet};

use yanpei_domain::Semester;
use yanpei_domain::roster::{Alliance, Roster, School};
use yanpei_pki::Identity;
use yanpei_report::{Cell, Table};

use super::names;
use super::view::{Chart, Series, View, ViewTable, counts, empty};
use crate::HubError;
use crate::audit::Note;
use crate::query::Query;

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

pub(super) async fn alliances(
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
    let visible: Vec<&School> =
        roster.schools.iter().filter(|s| scope.as_ref().is_none_or(|set| set.contains(&s.code))).collect();
    let shown: Vec<&Alliance> =
        roster.alliances.iter().filter(|a| visible.iter().any(|s| s.alliance == a.code)).collect();
    // alliance -> family label -> count
    let mut per: BTreeMap<&str, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut families: BTreeSet<&'static str> = BTreeSet::new();
    for r in &rows {
        let Some(a) = school_alliance.get(r.school.as_str()) else { continue };
        let fam = r.kind.family().label();
        families.insert(fam);
        *per.entry(a).or_default().entry(fam).or_insert(0) += r.count;
    }
    let families: Vec<&'static str> = families.into_iter().collect();
    let count = |a: &Alliance, f: &str| per.get(a.code.as_str()).and_then(|m| m.get(f)).copied().unwrap_or(0);
    let mut v = empty("联合体对比");
    let mut chart = Chart::new("各联合体活动次数（按类别）", "bar", "联合体", "活动记录（条）");
    chart.categories = shown.iter().map(|a| a.name.clone()).collect();
    chart.series = families
        .iter()
        .map(|f| Series { name: (*f).to_owned(), data: shown.iter().map(|a| count(a, f) as f64).collect() })
        .collect();
    v.charts.push(chart);
    let mut h = headers(&["联合体代码", "联合体", "基地校", "学校数", "活动记录", "校均"]);
    h.extend(families.iter().map(|f| (*f).to_owned()));
    let table_rows = shown
        .iter()
        .map(|a| {
            let n_schools = visible.iter().filter(|s| s.alliance == a.code).count();
            let t: u64 = per.get(a.code.as_str()).map(|m| m.values().sum()).unwrap_or(0);
            let mean = if n_schools == 0 { 0.0 } else { (t as f64 / n_schools as f64 * 10.0).round() / 10.0 };
            let mut row = vec![
                Cell::from(a.code.clone()),
                a.name.clone().into(),
                names::school(roster, a.base_school.as_str()).into(),
                n_schools.into(),
                t.into(),
                Cell::Number(mean),
            ];
            row.extend(families.iter().map(|f| Cell::from(count(a, f))));
            row
        })
        .collect();
    let table = Table { name: "联合体对比".into(), headers: h, rows: table_rows };
    // Each alliance's name opens its schools' quota progress.
    v.tables.push(ViewTable::plain(table).hide(&[0]).link(1, 0, "compliance", "alliance"));
    v.tables.push(schools_table(roster, &visible, &rows));
    Ok(v)
}

/// The schools in scope with their records, linked to their pages.
fn schools_table(
    roster: &Roster,
    visible: &[&School],
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
                names::alliance(roster, &s.alliance).into(),
                s.township.clone().into(),
                s.area.label().into(),
                per_school.get(s.code.as_str()).copied().unwrap_or(0).into(),
            ]
        })
        .collect();
    let table = Table {
        name: "学校".into(),
        headers: headers(&["学校代码", "学校", "联合体", "乡镇", "城乡", "活动记录"]),
        rows: school_rows,
    };
    ViewTable::schools(table).link(5, 0, "records", "school")
}
