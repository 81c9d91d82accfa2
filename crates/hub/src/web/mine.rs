//! A person's own page and a school's page. For a 教研员 (我的工作): my schools, my own
//! quotas, the teachers behind in my schools and my 蹲点 schools; for a principal (本校):
//! my school, my teachers behind, my pairs. A school's page: its records, visits,
//! silent subjects, teachers behind and pairs.

use yanpei_domain::roster::Roster;
use yanpei_domain::{SchoolCode, Semester};
use yanpei_pki::Identity;
use yanpei_report::{Cell, ComplianceRow, PairReport, Role, Table};

use super::compliance_page::{rows_table, shortfall_first};
use super::names;
use super::view::{Card, View, ViewTable, by_kind, counts, empty, kind_chart, kind_table, stale_note};
use crate::audit::Note;
use crate::model::{ComplianceQuery, CoverageQuery, PairingsQuery, SyncStatusQuery};
use crate::query::Query;
use crate::{HubError, tables};

fn card(id: &'static str, label: &str, value: impl ToString, link: String) -> Card {
    Card { id, label: label.into(), value: value.to_string(), link }
}

fn is_staff(r: &ComplianceRow) -> bool {
    matches!(r.role, Role::Staff | Role::StationedStaff)
}

/// Open quota rows of teachers, the largest shortfall first.
fn teachers_behind(rows: &[ComplianceRow]) -> Vec<&ComplianceRow> {
    let mut v: Vec<&ComplianceRow> = rows.iter().filter(|r| !is_staff(r) && r.actual < r.target).collect();
    shortfall_first(&mut v);
    v
}

pub(super) async fn mine(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
) -> Result<View, HubError> {
    match who {
        Identity::Staff { id } => staff_page(q, who, note, roster, semester, id).await,
        Identity::Principal { school } | Identity::Node { school } => {
            let mut v = school_page(q, who, note, roster, semester, school.clone()).await?;
            v.title = format!("本校：{}", v.title);
            Ok(v)
        }
        Identity::Operator { .. } => Err(HubError::NotFound("管理员请看「概览」页".into())),
    }
}

async fn staff_page(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
    id: &str,
) -> Result<View, HubError> {
    let query = ComplianceQuery { semester, as_of: None, school: None };
    let report = q.compliance_report(who.clone(), note, query).await?.report;
    let mut own: Vec<&ComplianceRow> =
        report.rows.iter().filter(|r| is_staff(r) && r.person_id == id).collect();
    shortfall_first(&mut own);
    let behind = teachers_behind(&report.rows);
    let cov = q.coverage_report(who.clone(), note, CoverageQuery { semester, school: None }).await?;
    let name = roster.staff.iter().find(|s| s.id == id).map(|s| s.name.clone()).unwrap_or_default();
    let mut v = empty(format!("我的工作：{name}"));
    v.notes.extend(stale_note(&cov.stale_schools, roster));
    let station = roster.stationings.iter().find(|s| s.staff == id && s.semester == semester);
    v.cards = vec![
        card("my_schools", "我负责的学校", cov.schools.len(), String::new()),
        card("my_open", "我未完成的指标", own.iter().filter(|r| r.actual < r.target).count(), String::new()),
        card("teachers_behind", "负责学校中未完成的教师指标", behind.len(), String::new()),
        card(
            "station",
            "本学期蹲点学校",
            station.map_or("未安排".into(), |s| {
                format!(
                    "{}、{}",
                    names::school(roster, s.rural_school.as_str()),
                    names::school(roster, s.urban_school.as_str())
                )
            }),
            String::new(),
        ),
    ];
    v.tables.push(my_schools(roster, &cov.schools, &behind));
    v.tables.push(rows_table("我的考核指标", roster, &own));
    v.tables.push(rows_table("负责学校中未完成指标的教师", roster, &behind));
    v.tables.push(stationing(roster, station));
    v.notes.push("名册只安排了每学期的蹲点学校，没有蹲点日程，所以这里列不出接下来哪几天蹲点。".into());
    Ok(v)
}

/// The staff member's schools: visits, silent subjects and teachers behind, each linked.
fn my_schools(
    roster: &Roster,
    cov: &[yanpei_report::SchoolCoverage],
    behind: &[&ComplianceRow],
) -> ViewTable {
    let rows = cov
        .iter()
        .map(|c| {
            let info = roster.schools.iter().find(|s| s.code.as_str() == c.school);
            let n = behind.iter().filter(|r| r.schools.contains(&c.school)).count();
            vec![
                Cell::from(c.school.clone()),
                c.name.clone().into(),
                names::alliance(roster, &c.alliance).into(),
                info.map(|s| s.area.label()).unwrap_or_default().into(),
                c.staff_visits.into(),
                c.silent_subjects.join("、").into(),
                n.into(),
            ]
        })
        .collect();
    let headers =
        ["学校代码", "学校", "联合体", "城乡", "研培人员到校记录", "无活动的学科", "未完成的教师指标"];
    let t = Table {
        name: "我负责的学校".into(),
        headers: headers.iter().map(|s| (*s).to_owned()).collect(),
        rows,
    };
    ViewTable::schools(t).link_with(6, 0, "compliance", "school", "status=open")
}

fn stationing(roster: &Roster, s: Option<&yanpei_domain::roster::Stationing>) -> ViewTable {
    let rows = s
        .map(|s| {
            vec![
                vec![
                    Cell::from(s.rural_school.to_string()),
                    names::school(roster, s.rural_school.as_str()).into(),
                    "农村".into(),
                ],
                vec![
                    Cell::from(s.urban_school.to_string()),
                    names::school(roster, s.urban_school.as_str()).into(),
                    "城镇".into(),
                ],
            ]
        })
        .unwrap_or_default();
    let headers = ["学校代码", "蹲点学校", "农村／城镇"];
    let t = Table {
        name: "本学期蹲点安排".into(),
        headers: headers.iter().map(|s| (*s).to_owned()).collect(),
        rows,
    };
    ViewTable::schools(t)
}

pub(super) async fn school_page(
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
    let totals = by_kind(&counts(q, scope.as_ref(), semester).await?);
    let cov = q
        .coverage_report(who.clone(), note, CoverageQuery { semester, school: Some(school.clone()) })
        .await?;
    let sync = q.sync_status(who.clone(), note, SyncStatusQuery { days: 2 }).await?;
    let mine = sync.schools.iter().find(|s| s.school_code == school.as_str());
    let query = ComplianceQuery { semester, as_of: None, school: Some(school.clone()) };
    let report = q.compliance_report(who.clone(), note, query).await?.report;
    let behind = teachers_behind(&report.rows);
    let pq = PairingsQuery { semester, school: Some(school.clone()), as_of: None };
    let pairs = q.pairings_report(who.clone(), note, pq).await?.pairings;
    let mut v = empty(info.name.clone());
    v.notes.extend(stale_note(&cov.stale_schools, roster));
    let code = school.to_string();
    v.cards = vec![
        card("total", "本学期活动记录", totals.values().sum::<u64>(), String::new()),
        card("visits", "研培人员到校记录", cov.schools.first().map_or(0, |c| c.staff_visits), String::new()),
        card("behind", "未完成的教师指标", behind.len(), format!("#/compliance?school={code}&status=open")),
        card("pairs", "结对学校", pairs.len(), String::new()),
        card(
            "last_sync",
            "最近同步",
            mine.map(|s| tables::last_sync(s.last_sync)).unwrap_or_default(),
            String::new(),
        ),
        card(
            "silent",
            "无活动的学科",
            cov.schools.first().map_or(0, |c| c.silent_subjects.len()),
            String::new(),
        ),
    ];
    v.charts.push(kind_chart("各类活动次数", &totals));
    v.tables.push(rows_table("未完成指标的教师", roster, &behind));
    v.tables.push(pairs_table(&school, &pairs));
    // Each count opens the records behind it.
    let kinds = ViewTable::plain(kind_table("按活动类型", &totals)).hide(&[0]);
    v.tables.push(kinds.link_with(2, 0, "records", "kind", format!("school={code}")));
    v.tables.push(ViewTable::schools(tables::coverage(&cov.schools)).hide(&[2]));
    Ok(v)
}

/// The school's pairs as seen from the school: the other school, who helps whom, the
/// cross-school records each side made.
fn pairs_table(school: &SchoolCode, pairs: &[PairReport]) -> ViewTable {
    let rows = pairs
        .iter()
        .map(|p| {
            let helper = p.helper == school.as_str();
            let (other, role, mine, theirs) = if helper {
                (&p.partner_name, "帮扶方", p.from_helper, p.from_partner)
            } else {
                (&p.helper_name, "受助方", p.from_partner, p.from_helper)
            };
            let trend = match &p.trend {
                Some(t) if t.weeks > 0 => {
                    if t.weak_rising {
                        "上升"
                    } else {
                        "未上升"
                    }
                }
                _ => "—",
            };
            vec![
                Cell::from(other.clone()),
                p.kind.label().into(),
                p.pairing_type.into(),
                role.into(),
                mine.into(),
                theirs.into(),
                p.total.into(),
                trend.into(),
            ]
        })
        .collect();
    let headers = [
        "结对学校",
        "结对方式",
        "结对类型",
        "本校角色",
        "本校记录的跨校活动",
        "对方记录的跨校活动",
        "跨校活动合计",
        "受助校活动",
    ];
    ViewTable::plain(Table {
        name: "结对学校".into(),
        headers: headers.iter().map(|s| (*s).to_owned()).collect(),
        rows,
    })
}
