//! The county's reports, whole-system: the demo county's semester recorded at every
//! school and synced, then quota compliance asked of the hub over mutual TLS, checked
//! against a hand count of the nodes' own records; on both hub backends.

use std::collections::BTreeMap;

use yanpei_demo::{DEMO_SEMESTER, demo_roster, semester_of_activity};
use yanpei_domain::{Activity, ActivityKind};
use yanpei_proto::pb::{self, query_service_client::QueryServiceClient};
use yanpei_tests::{on_both_backends, world};

fn request(school: &str) -> pb::ComplianceRequest {
    pb::ComplianceRequest {
        semester: Some(yanpei_proto::semester_to_pb(DEMO_SEMESTER)),
        as_of: "2025-01-20".into(),
        school_code: school.into(),
    }
}

async fn compliance_matches_a_hand_count(db: Option<String>) {
    let w = world("compliance", db).await;
    let roster = demo_roster().unwrap();
    let mut everything: Vec<Activity> = Vec::new();
    for (i, school) in roster.schools.iter().enumerate() {
        let node = w.node(&school.code, "office").await.unwrap();
        let records = semester_of_activity(&roster, school, i as u64 + 1);
        node.store().record_all(&records).await.unwrap();
        node.sync_once().await.unwrap();
        everything.extend(records);
    }
    let mut q = QueryServiceClient::new(w.operator_endpoint().unwrap().connect().await.unwrap());
    let report = q.compliance(request("")).await.unwrap().into_inner();
    assert!(report.stale_schools.is_empty(), "every school synced just now");
    assert!((report.elapsed - 1.0).abs() < 1e-9, "measured at the semester's last day");
    let row = |role: &str, id: &str, quota: &str| {
        report
            .rows
            .iter()
            .find(|r| r.role == role && r.person_id == id && r.quota == quota)
            .unwrap_or_else(|| panic!("no row {role} {id} {quota}"))
            .clone()
    };

    // A staff member by hand: JY01 (杨刚), stationed at two schools this semester.
    let count = |actor: &str, kind: ActivityKind| {
        everything.iter().filter(|a| a.body.actor == actor && a.kind == kind && !a.deleted).count() as i64
    };
    let days: i64 = everything
        .iter()
        .filter(|a| a.body.actor == "杨刚" && a.kind == ActivityKind::OnsiteDays)
        .map(|a| i64::from(a.body.details.days.unwrap_or(0)))
        .sum();
    let observed = row("stationed_staff", "JY01", "听课");
    assert_eq!(observed.actual, count("杨刚", ActivityKind::LessonObservation));
    assert_eq!(observed.missing, (40 - observed.actual).max(0));
    let on_site = row("stationed_staff", "JY01", "蹲点时间（天）");
    assert_eq!(on_site.actual, days);
    assert_eq!(on_site.target, 22);

    // A teacher by hand: the first CGZ1 teacher with any lesson observed there.
    let teacher = roster
        .teachers
        .iter()
        .filter(|t| t.school.as_str() == "CGZ1")
        .find(|t| {
            everything.iter().any(|a| {
                a.school == t.school && a.body.actor == t.name && a.kind == ActivityKind::LessonObservation
            })
        })
        .unwrap();
    let by_hand = everything
        .iter()
        .filter(|a| a.school == teacher.school && a.body.actor == teacher.name)
        .filter(|a| a.kind == ActivityKind::LessonObservation)
        .count() as i64;
    let t = row("teacher", &teacher.id, "听课");
    assert_eq!((t.actual, t.target, t.missing), (by_hand, 15, (15 - by_hand).max(0)));

    // It names who is behind, by how much.
    let behind: Vec<_> = report.rows.iter().filter(|r| r.actual < r.target).collect();
    assert!(!behind.is_empty());
    assert!(behind.iter().all(|r| r.missing == r.target - r.actual && r.missing > 0));
    let mut per_school: BTreeMap<&str, u32> = BTreeMap::new();
    for g in report.groups.iter().filter(|g| g.dimension == "学校") {
        per_school.insert(&g.code, g.behind);
    }
    assert_eq!(per_school.len(), roster.schools.len(), "a roll-up line per school");

    // A 教研员 sees only the assigned schools' teachers, and no staff quotas.
    let mut staff = QueryServiceClient::new(w.staff_endpoint("JY01").unwrap().connect().await.unwrap());
    let mine = staff.compliance(request("")).await.unwrap().into_inner();
    let assigned = ["CGZ1", "T04Z1", "T08Z2"];
    assert!(!mine.rows.is_empty());
    assert!(
        mine.rows.iter().all(|r| r.role.ends_with("teacher") && assigned.contains(&r.schools[0].as_str()))
    );
    let err = staff.compliance(request("CGZ2")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
}
on_both_backends!(compliance_matches_a_hand_count);
