//! The questions each role asks the dashboard every morning, answered by clicking (the
//! menu, filters, table links and pager, never a typed URL), each answer checked against
//! the gRPC reports (`yanpei report … --json` over mutual TLS as the county operator).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::webdriver::Browser;
use super::{Demo, SEMESTER, card, cli, save};

/// How many times the page has been drawn (the script counts).
pub(crate) fn drawn(b: &Browser) -> u64 {
    b.js("return Number(document.getElementById('page').dataset.drawn || 0);", json!([]))
        .expect("read the draw count")
        .as_u64()
        .unwrap_or(0)
}

/// Clicks `css` and waits until page `page` has been drawn anew (or refused).
pub(crate) fn click_to(b: &Browser, css: &str, page: &str) {
    let before = drawn(b);
    b.click(css).unwrap_or_else(|e| panic!("click {css}: {e}"));
    let script = format!(
        "const p = document.getElementById('page'); \
         return !p.hidden && p.dataset.page === '{page}' && Number(p.dataset.drawn) > {before};"
    );
    b.wait_for(&format!("page {page} after clicking {css}"), &script).expect("page drawn");
}

/// Opens a page from the menu, unfolding it first where it is folded (on a phone).
pub(crate) fn menu(b: &Browser, page: &str) {
    let folded = b
        .js("return getComputedStyle(document.getElementById('nav')).display === 'none';", json!([]))
        .expect("menu state");
    if folded == json!(true) {
        b.click("#menu-toggle").expect("unfold the menu");
    }
    click_to(b, &format!("#nav a[data-page=\"{page}\"]"), page);
}

/// Chooses `value` in the page's filter `name` by clicking its option.
pub(crate) fn choose(b: &Browser, page: &str, name: &str, value: &str) {
    click_to(b, &format!("#filter-{name} option[value=\"{value}\"]"), page);
    let hash = b.js("return decodeURIComponent(location.hash);", json!([])).expect("the URL");
    assert!(
        hash.as_str().is_some_and(|h| h.contains(&format!("{name}={value}"))),
        "the filter is kept in the URL: {hash}"
    );
}

/// Every row of table `i` (all columns, hidden ones too), walking its pages with 下一页.
pub(crate) fn all_rows(b: &Browser, i: usize) -> Vec<Vec<String>> {
    let read = "const t = document.getElementById('table-' + arguments[0]); \
                return Array.from(t.tBodies[0].rows).filter(r => !r.classList.contains('empty')) \
                  .map(r => Array.from(r.cells).map(c => c.textContent));";
    let next = format!("#pager-{i} button.next");
    let mut rows: Vec<Vec<String>> = Vec::new();
    loop {
        let page: Vec<Vec<String>> =
            serde_json::from_value(b.js(read, json!([i])).expect("read rows")).expect("rows");
        rows.extend(page);
        let more = b
            .js(&format!("const n = document.querySelector('{next}'); return !!n && !n.disabled;"), json!([]))
            .expect("pager");
        if more != json!(true) {
            return rows;
        }
        b.click(&next).expect("next page");
    }
}

/// The highlighted rows of table `i` on the page shown, column `col`.
fn highlighted(b: &Browser, i: usize, col: usize) -> BTreeSet<String> {
    let v = b
        .js(
            "return Array.from(document.querySelectorAll('#table-' + arguments[0] + ' tr.highlight')) \
               .map(r => r.cells[arguments[1]].textContent);",
            json!([i, col]),
        )
        .expect("highlighted rows");
    serde_json::from_value(v).expect("names")
}

fn num(s: &str) -> i64 {
    s.parse::<f64>().unwrap_or_else(|_| panic!("a number: {s:?}")) as i64
}

/// (person, quota, actual, missing) of compliance rows from the report's JSON.
fn api_quotas<'a>(rows: impl Iterator<Item = &'a Value>) -> BTreeSet<(String, String, i64, i64)> {
    rows.map(|r| {
        (
            r["person_id"].as_str().unwrap_or_default().to_owned(),
            r["quota"].as_str().unwrap_or_default().to_owned(),
            r["actual"].as_i64().unwrap_or(-1),
            r["missing"].as_i64().unwrap_or(-1),
        )
    })
    .collect()
}

/// The same from the page's quota table (columns as `compliance_page::rows_table`:
/// 编号 (hidden), 姓名, 指标, 尚缺, 已完成, 目标, 按进度预计, 状态, 学校, 学科, 角色).
fn page_quotas(rows: &[Vec<String>]) -> BTreeSet<(String, String, i64, i64)> {
    rows.iter().map(|r| (r[0].clone(), r[2].clone(), num(&r[4]), num(&r[3]))).collect()
}

fn assert_shortfall_first(rows: &[Vec<String>], what: &str) {
    let missing: Vec<i64> = rows.iter().map(|r| num(&r[3])).collect();
    assert!(missing.windows(2).all(|w| w[0] >= w[1]), "{what}: the largest shortfall first: {missing:?}");
}

fn is_teacher(r: &Value) -> bool {
    matches!(r["role"].as_str(), Some("teacher" | "new_teacher"))
}

/// The operator: last night's sync, schools and subjects never visited, who is behind
/// which quota (CGZ1's, by the school filter), each alliance and each pair.
pub(crate) fn operator(b: &Browser, demo: &Demo) {
    // Which schools did not sync last night.
    menu(b, "sync");
    let api = cli(demo, &["report", "sync", "--json"]);
    let missed: BTreeSet<String> = api
        .as_array()
        .expect("schools")
        .iter()
        .filter(|s| s["synced_last_day"] == json!(false))
        .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(highlighted(b, 0, 1), missed, "schools not synced last night, highlighted");
    assert_eq!(card(b, "missed"), missed.len().to_string());
    // Each school's latest attempt: finished or not, as the sync ledger has it.
    let ledger = cli(demo, &["query", "ledger", "--limit", "500", "--json"]);
    let mut latest: BTreeMap<String, bool> = BTreeMap::new();
    for s in ledger.as_array().expect("sessions") {
        let finished = s["finished_at"].as_str().is_some_and(|f| !f.is_empty());
        latest.entry(s["school_code"].as_str().unwrap_or_default().to_owned()).or_insert(finished);
    }
    let shown: BTreeMap<String, bool> = all_rows(b, 0)
        .iter()
        .filter(|r| r[5] != "没有同步记录")
        .map(|r| (r[0].clone(), r[5] == "已完成"))
        .collect();
    assert_eq!(shown, latest, "each school's latest sync attempt = the ledger's");
    let open = latest.values().filter(|f| !**f).count();
    assert_eq!(card(b, "unfinished"), open.to_string());
    save(b, "q-operator-sync");

    // Which schools had no visit, which subjects no activity.
    menu(b, "coverage");
    let api = cli(demo, &["report", "coverage", "--semester", SEMESTER, "--json"]);
    let schools = api["schools"].as_array().expect("schools");
    let unvisited: BTreeSet<String> = schools
        .iter()
        .filter(|s| s["staff_visits"] == json!(0))
        .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    let rows = all_rows(b, 0);
    let shown_unvisited: BTreeSet<String> =
        rows.iter().filter(|r| r[3] == "0").map(|r| r[1].clone()).collect();
    assert_eq!(shown_unvisited, unvisited, "schools never visited");
    assert_eq!(card(b, "unvisited"), unvisited.len().to_string());
    let silent: BTreeMap<String, String> = schools
        .iter()
        .map(|s| {
            let subjects: Vec<&str> =
                s["silent_subjects"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            (s["name"].as_str().unwrap_or_default().to_owned(), subjects.join("、"))
        })
        .collect();
    let shown_silent: BTreeMap<String, String> = rows.iter().map(|r| (r[1].clone(), r[4].clone())).collect();
    assert_eq!(shown_silent, silent, "subjects without activity, school by school");
    save(b, "q-operator-coverage");

    // Who is behind which quota by how much: CGZ1's, by the school filter.
    menu(b, "compliance");
    choose(b, "compliance", "school", "CGZ1");
    let rows = all_rows(b, 0);
    assert!(!rows.is_empty(), "CGZ1 has quota rows");
    assert!(
        rows.iter().all(|r| r[8] == "城关第一中学"),
        "only CGZ1's rows: {:?}",
        &rows[..3.min(rows.len())]
    );
    assert_shortfall_first(&rows, "CGZ1");
    let api = cli(demo, &["report", "compliance", "--semester", SEMESTER, "--school", "CGZ1", "--json"]);
    let expected = api_quotas(api["rows"].as_array().expect("rows").iter());
    assert_eq!(page_quotas(&rows), expected, "CGZ1's quotas = the API's");
    save(b, "q-operator-compliance-CGZ1");
    // Only what will fall short, by the status filter.
    choose(b, "compliance", "status", "behind");
    let behind = all_rows(b, 0);
    assert!(behind.iter().all(|r| r[7] == "落后") && behind.len() <= rows.len(), "status filter");

    alliances_and_pairs(b, demo);
    week_range(b, demo);
}

/// The overview's weekly chart over a range of weeks chosen in its filters: one week here,
/// whose count is the API's for that week.
fn week_range(b: &Browser, demo: &Demo) {
    menu(b, "overview");
    let week = b
        .js("return document.getElementById('filter-from').options[3].value;", json!([]))
        .expect("a week")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    choose(b, "overview", "from", &week);
    choose(b, "overview", "to", &week);
    let chart = b
        .js(
            "const c = echarts.getInstanceByDom(document.getElementById('chart-1')).getOption();              return [c.xAxis[0].data, c.series[0].data];",
            json!([]),
        )
        .expect("the weekly chart");
    let api = cli(
        demo,
        &["query", "stats", "--semester", SEMESTER, "--from-week", &week, "--to-week", &week, "--json"],
    );
    assert_eq!(chart[0].as_array().map(Vec::len), Some(1), "one week shown: {chart}");
    assert_eq!(chart[1][0].as_f64(), api["total"].as_f64(), "the week's records = the API's: {chart}");
    assert!(
        chart[0][0].as_str().is_some_and(|l| l.contains('月') && l.contains('日')),
        "a week as dates: {chart}"
    );
    save(b, "q-operator-one-week");
}

/// How each alliance and each pair is doing.
fn alliances_and_pairs(b: &Browser, demo: &Demo) {
    menu(b, "alliances");
    let api = cli(demo, &["query", "stats", "--semester", SEMESTER, "--by", "alliance", "--json"]);
    let mut per: BTreeMap<String, i64> = BTreeMap::new();
    for r in api["rows"].as_array().expect("rows") {
        *per.entry(r["group_name"].as_str().unwrap_or_default().to_owned()).or_default() +=
            r["count"].as_i64().unwrap_or(0);
    }
    let rows = all_rows(b, 0);
    let shown: BTreeMap<String, i64> = rows.iter().map(|r| (r[1].clone(), num(&r[4]))).collect();
    assert_eq!(shown, per, "records per alliance = the API's");
    save(b, "q-operator-alliances");
    // An alliance's name opens its quota progress, filtered to it.
    let first = b
        .js("return document.querySelector('#table-0 tbody tr td.key a').textContent;", json!([]))
        .expect("the first alliance");
    click_to(b, "#table-0 tbody tr td.key a", "compliance");
    let chosen = b
        .js(
            "const s = document.getElementById('filter-alliance'); return s.options[s.selectedIndex].text;",
            json!([]),
        )
        .expect("alliance filter");
    assert_eq!(chosen, first, "the compliance page is filtered to the alliance clicked");

    menu(b, "pairings");
    let api = cli(demo, &["report", "pairings", "--semester", SEMESTER, "--json"]);
    let pairs: BTreeMap<(String, String), i64> = api["pairings"]
        .as_array()
        .expect("pairings")
        .iter()
        .map(|p| {
            let code = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            ((code("helper_code"), code("partner_code")), p["total"].as_i64().unwrap_or(-1))
        })
        .collect();
    let shown: BTreeMap<(String, String), i64> =
        all_rows(b, 0).iter().map(|r| ((r[0].clone(), r[2].clone()), num(&r[8]))).collect();
    assert_eq!(shown, pairs, "cross-school activity per pair = the API's");
    save(b, "q-operator-pairings");
}

/// The 教研员 JY01: my schools, my own quotas, the teachers behind in my schools, my 蹲点.
pub(crate) fn staff(b: &Browser, demo: &Demo) {
    menu(b, "mine");
    let mine = ["CGZ1", "T04Z1", "T08Z2"];
    let schools: Vec<String> = all_rows(b, 0).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(schools, mine, "my schools (crates/demo/roster/研培人员.csv)");
    let county = cli(demo, &["report", "compliance", "--semester", SEMESTER, "--json"]);
    let rows = county["rows"].as_array().expect("rows");
    let own = api_quotas(rows.iter().filter(|r| r["person_id"] == json!("JY01") && !is_teacher(r)));
    assert!(!own.is_empty(), "JY01 has quotas");
    assert_eq!(page_quotas(&all_rows(b, 1)), own, "my own quotas = the API's");
    let in_mine =
        |r: &&Value| r["schools"].as_array().into_iter().flatten().any(|s| mine.iter().any(|m| s == m));
    let behind = api_quotas(
        rows.iter().filter(|r| is_teacher(r) && r["actual"].as_i64() < r["target"].as_i64()).filter(in_mine),
    );
    let shown = all_rows(b, 2);
    assert_shortfall_first(&shown, "teachers behind in my schools");
    assert_eq!(page_quotas(&shown), behind, "the teachers behind in my schools = the API's");
    // crates/demo/roster/蹲点.csv: JY01, 2024-2025-1, rural T01Z1, urban CGZ1.
    let station: Vec<String> = all_rows(b, 3).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(station, ["T01Z1", "CGZ1"], "my 蹲点 schools this semester");
    save(b, "q-staff-mine");
    // A school's count of teachers behind opens those rows.
    click_to(b, "#table-0 tbody tr:first-child td:nth-child(7) a", "compliance");
    let rows = all_rows(b, 0);
    assert!(rows.iter().all(|r| r[8].contains("城关第一中学") && r[7] != "已完成"), "CGZ1's open quotas");
    assert_shortfall_first(&rows, "CGZ1 open");
    save(b, "q-staff-compliance-CGZ1");
}

/// The principal of CGZ1: my school, my teachers behind, my pairs.
pub(crate) fn principal(b: &Browser, demo: &Demo) {
    menu(b, "mine");
    let title = b.js("return document.getElementById('title').textContent;", json!([])).expect("title");
    assert_eq!(title, json!("本校：城关第一中学"));
    let api = cli(demo, &["report", "compliance", "--semester", SEMESTER, "--school", "CGZ1", "--json"]);
    let behind = api_quotas(
        api["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| is_teacher(r) && r["actual"].as_i64() < r["target"].as_i64()),
    );
    let shown = all_rows(b, 0);
    assert_shortfall_first(&shown, "my teachers behind");
    assert_eq!(page_quotas(&shown), behind, "my teachers behind = the API's");
    let api = cli(demo, &["report", "pairings", "--semester", SEMESTER, "--school", "CGZ1", "--json"]);
    let pairs: BTreeMap<String, i64> = api["pairings"]
        .as_array()
        .expect("pairings")
        .iter()
        .map(|p| {
            let other = if p["helper_code"] == json!("CGZ1") { "partner_name" } else { "helper_name" };
            (p[other].as_str().unwrap_or_default().to_owned(), p["total"].as_i64().unwrap_or(-1))
        })
        .collect();
    assert!(!pairs.is_empty(), "CGZ1 is paired");
    let shown: BTreeMap<String, i64> = all_rows(b, 1).iter().map(|r| (r[0].clone(), num(&r[6]))).collect();
    assert_eq!(shown, pairs, "my pairs and their cross-school activity = the API's");
    save(b, "q-principal-mine");
    records_behind_a_count(b, demo);
}

/// On CGZ1's page, the count of the commonest kind opens the records behind it: as many as
/// counted, all of that kind, and as many as the API counts.
fn records_behind_a_count(b: &Browser, demo: &Demo) {
    let kinds = all_rows(b, 2);
    let (code, label, count) = (kinds[0][0].clone(), kinds[0][1].clone(), kinds[0][2].clone());
    click_to(b, "#table-2 tbody tr:first-child td:nth-child(3) a", "records");
    let rows = all_rows(b, 0);
    assert_eq!(rows.len().to_string(), count, "the records behind {label}'s count");
    assert_eq!(card(b, "records"), count);
    assert!(rows.iter().all(|r| r[1] == label), "only {label} records");
    let api = cli(demo, &["query", "stats", "--semester", SEMESTER, "--school", "CGZ1", "--json"]);
    let n: i64 = api["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["kind"] == json!(code))
        .map(|r| r["count"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(n.to_string(), count, "the API counts as many {label} records at CGZ1");
    save(b, "q-principal-records");
}
