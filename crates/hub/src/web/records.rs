//! The records behind a count: one school's live records of the semester, of one kind
//! if asked, newest first, with people by name. A school's counts by kind link here.

use yanpei_domain::roster::Roster;
use yanpei_domain::{ActivityKind, SchoolCode, Semester};
use yanpei_pki::Identity;
use yanpei_report::{Cell, Table};

use super::names;
use super::view::{Card, Choice, Filter, Params, View, ViewTable, empty};
use crate::HubError;
use crate::audit::Note;
use crate::query::Query;

/// A person's name from the roster (teachers, then research staff); the id if unknown.
fn person(roster: &Roster, id: &str) -> String {
    roster
        .teachers
        .iter()
        .find(|t| t.id == id)
        .map(|t| t.name.clone())
        .or_else(|| roster.staff.iter().find(|s| s.id == id).map(|s| s.name.clone()))
        .unwrap_or_else(|| id.to_owned())
}

fn kind_filter(p: &Params) -> Filter {
    let mut options = vec![Choice { value: String::new(), label: "全部类型".into() }];
    options
        .extend(ActivityKind::ALL.iter().map(|k| Choice { value: k.code().into(), label: k.label().into() }));
    Filter {
        name: "kind",
        label: "活动类型",
        options,
        value: p.kind.map(|k| k.code().to_owned()).unwrap_or_default(),
    }
}

pub(super) async fn records(
    q: &Query,
    who: &Identity,
    note: &Note,
    roster: &Roster,
    semester: Semester,
    p: &Params,
) -> Result<View, HubError> {
    let school: SchoolCode =
        p.school.clone().ok_or_else(|| HubError::InvalidArgument("请指定学校".into()))?;
    // The scope check comes first: an unassigned school is refused, not shown empty.
    q.report_scope(who, note, Some(&school)).await?;
    let mut list: Vec<yanpei_domain::Activity> = q
        .store
        .activities_of(&school)
        .await?
        .into_values()
        .filter(|a| !a.deleted && a.semester == semester && p.kind.is_none_or(|k| a.kind == k))
        .collect();
    list.sort_by(|a, b| b.date.cmp(&a.date).then(a.id.cmp(&b.id)));
    let rows = list
        .iter()
        .map(|a| {
            let d = &a.body;
            vec![
                Cell::from(a.date.format("%Y-%m-%d").to_string()),
                a.kind.label().into(),
                d.subject.clone().unwrap_or_default().into(),
                person(roster, &d.actor).into(),
                d.teacher.as_deref().map(|t| person(roster, t)).unwrap_or_default().into(),
                d.topic.clone().unwrap_or_default().into(),
            ]
        })
        .collect();
    let headers = ["日期", "活动类型", "学科", "执行人", "授课教师", "主题"];
    let table =
        Table {
            name: "活动记录".into(), headers: headers.iter().map(|s| (*s).to_owned()).collect(), rows
        };
    let what = p.kind.map(|k| format!("：{}", k.label())).unwrap_or_default();
    let mut v = empty(format!("{}的活动记录{what}", names::school(roster, school.as_str())));
    let readable = q.report_scope(who, note, None).await?;
    v.filters = vec![names::school_filter(roster, readable.as_ref(), p), kind_filter(p)];
    if who_reads_one(who) {
        v.filters.remove(0);
    }
    v.cards = vec![Card {
        id: "records",
        label: "记录".into(),
        value: list.len().to_string(),
        link: String::new(),
    }];
    v.tables.push(ViewTable::plain(table));
    Ok(v)
}

/// A principal or a school's node reads one school: no school to choose.
fn who_reads_one(who: &Identity) -> bool {
    matches!(who, Identity::Principal { .. } | Identity::Node { .. })
}
