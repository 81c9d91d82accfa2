//! The county's reports, whole-system: the demo county's semester recorded at every
//! school and synced, then quota compliance, coverage, pairings, gaps and the statistics'
//! scopes asked of the hub over mutual TLS, checked against a hand count of the nodes'
//! own records; on both hub backends.

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
        let mut records = semester_of_activity(&roster, school, i as u64 + 1);
        if school.code.as_str() == "CGZ1" {
            records.extend(meetings_joined_by_jy01(&roster));
        }
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

    // Attending counts: the meetings JY01 hosted and those that list 杨刚 among the participants.
    let attended = |until: &str| {
        let until: chrono::NaiveDate = until.parse().unwrap();
        everything
            .iter()
            .filter(|a| a.kind == ActivityKind::GroupMeeting && a.date <= until)
            .filter(|a| a.body.actor == "杨刚" || a.body.details.participants.iter().any(|p| p == "杨刚"))
            .count() as i64
    };
    assert_eq!(row("stationed_staff", "JY01", "参加教研组活动").actual, attended("2025-01-20"));
    assert!(attended("2025-01-20") >= 3, "the three meetings JY01 joined count");

    // As of a day inside the semester, only what happened by then counts, and the pace
    // is projected from that.
    let as_of = "2024-11-15";
    let early = q
        .compliance(pb::ComplianceRequest { as_of: as_of.into(), ..request("") })
        .await
        .unwrap()
        .into_inner();
    let early_row = |id: &str, quota: &str| {
        early
            .rows
            .iter()
            .find(|r| r.role == "stationed_staff" && r.person_id == id && r.quota == quota)
            .unwrap()
            .clone()
    };
    let until: chrono::NaiveDate = as_of.parse().unwrap();
    let observed_by = everything
        .iter()
        .filter(|a| a.body.actor == "杨刚" && a.kind == ActivityKind::LessonObservation && a.date <= until)
        .count() as i64;
    let later = count("杨刚", ActivityKind::LessonObservation) - observed_by;
    assert!(later > 0, "records after the as-of day exist");
    let e = early_row("JY01", "听课");
    assert_eq!(e.actual, observed_by, "{later} later records are not counted");
    assert_eq!(e.projected, (observed_by as f64 / early.elapsed).floor() as i64);
    assert!(early.elapsed < 1.0);
    assert_eq!(early_row("JY01", "参加教研组活动").actual, attended(as_of));
    assert!(attended(as_of) < attended("2025-01-20"));

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

    // A 教研员 sees the assigned schools' teachers and their own quota rows (the same
    // figures the county sees), and no other 教研员's.
    let mut staff = QueryServiceClient::new(w.staff_endpoint("JY01").unwrap().connect().await.unwrap());
    let mine = staff.compliance(request("")).await.unwrap().into_inner();
    let assigned = ["CGZ1", "T04Z1", "T08Z2"];
    let (own, teachers): (Vec<&pb::ComplianceRow>, Vec<_>) =
        mine.rows.iter().partition(|r| r.role.ends_with("staff"));
    assert!(!teachers.is_empty());
    assert!(
        teachers.iter().all(|r| r.role.ends_with("teacher") && assigned.contains(&r.schools[0].as_str()))
    );
    let figures = |rows: &[&pb::ComplianceRow]| -> Vec<(String, String, i64)> {
        rows.iter().map(|r| (r.role.clone(), r.quota.clone(), r.actual)).collect()
    };
    let county_own: Vec<&pb::ComplianceRow> =
        report.rows.iter().filter(|r| r.role.ends_with("staff") && r.person_id == "JY01").collect();
    assert!(!own.is_empty() && own.iter().all(|r| r.person_id == "JY01"), "{own:?}");
    assert_eq!(figures(&own), figures(&county_own));
    let err = staff.compliance(request("CGZ2")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");

    // Coverage (不留死角), checked by hand for every school.
    let semester = Some(yanpei_proto::semester_to_pb(DEMO_SEMESTER));
    let cov =
        q.coverage(pb::CoverageRequest { semester, school_code: String::new() }).await.unwrap().into_inner();
    assert_eq!(cov.schools.len(), roster.schools.len());
    let staff_names: std::collections::BTreeSet<&str> =
        roster.staff.iter().map(|s| s.name.as_str()).collect();
    for c in &cov.schools {
        let here: Vec<&Activity> = everything.iter().filter(|a| a.school.as_str() == c.school_code).collect();
        let by_staff = here.iter().filter(|a| staff_names.contains(a.body.actor.as_str())).count() as i64;
        assert_eq!(c.staff_visits, by_staff, "{}", c.school_code);
        let recorded: std::collections::BTreeSet<&str> =
            here.iter().filter_map(|a| a.body.subject.as_deref()).collect();
        let taught: std::collections::BTreeSet<&str> = roster
            .teachers
            .iter()
            .filter(|t| t.school.as_str() == c.school_code)
            .flat_map(|t| t.subjects.iter().map(String::as_str))
            .collect();
        let silent: Vec<&str> = taught.difference(&recorded).copied().collect();
        assert_eq!(c.silent_subjects, silent, "{}", c.school_code);
    }
    assert!(cov.schools.iter().any(|c| c.staff_visits == 0), "some schools had no staff visit");
    assert!(cov.schools.iter().any(|c| c.staff_visits > 0));
    let err = staff.coverage(pb::CoverageRequest { semester, school_code: "CGZ2".into() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    // Sync completeness: every school synced in the last day, none stale.
    let status = q.sync_status(pb::SyncStatusRequest { days: 2 }).await.unwrap().into_inner();
    assert_eq!(status.schools.len(), roster.schools.len());
    assert!(status.schools.iter().all(|s| s.synced_last_day && !s.stale && !s.last_sync.is_empty()));
    let mine = staff.sync_status(pb::SyncStatusRequest { days: 2 }).await.unwrap().into_inner();
    assert_eq!(mine.schools.len(), 3, "a 教研员 sees the assigned schools");
}
on_both_backends!(compliance_matches_a_hand_count);

/// Three group meetings at CGZ1 (JY01's 蹲点 school), hosted by a CGZ1 teacher, that list
/// JY01 (杨刚) among the participants: one before 15 November, two after.
fn meetings_joined_by_jy01(roster: &yanpei_domain::roster::Roster) -> Vec<Activity> {
    let host = roster.teachers.iter().find(|t| t.school.as_str() == "CGZ1").unwrap();
    ["2024-10-10", "2024-11-20", "2024-12-10"]
        .iter()
        .map(|day| {
            let body = yanpei_domain::ActivityDraft {
                subject: Some("语文".into()),
                actor: host.name.clone(),
                topic: Some("大单元教学设计".into()),
                duration_minutes: Some(60),
                details: yanpei_domain::Details {
                    participants: vec!["杨刚".into(), host.name.clone()],
                    ..Default::default()
                },
                ..Default::default()
            };
            Activity::create(
                host.school.clone(),
                DEMO_SEMESTER,
                day.parse().unwrap(),
                ActivityKind::GroupMeeting,
                body,
            )
            .unwrap()
        })
        .collect()
}

/// Cross-school records for every pairing of the demo roster: some owned by the helper
/// school naming its partner, some the other way, some naming a school it is not paired
/// with; spread over the semester's weeks.
fn cross_school_records(roster: &yanpei_domain::roster::Roster) -> Vec<Activity> {
    use chrono::{NaiveDate, TimeDelta};
    use yanpei_domain::ActivityDraft;
    let first = NaiveDate::from_ymd_opt(2024, 9, 2).unwrap();
    let mut out = Vec::new();
    for (j, p) in roster.pairings.iter().enumerate() {
        let shared = |owner: &yanpei_domain::SchoolCode, partner: &yanpei_domain::SchoolCode, i: usize| {
            let kind =
                [ActivityKind::LessonDelivery, ActivityKind::Lecture, ActivityKind::CollectivePrep][i % 3];
            let mut body = ActivityDraft {
                actor: format!("结对教师{j}"),
                subject: (kind != ActivityKind::Lecture).then(|| "语文".to_owned()),
                topic: Some(format!("结对活动{j}-{i}")),
                ..Default::default()
            };
            body.details.partner_schools = vec![partner.clone()];
            let date = first + TimeDelta::days((7 * (i * 3 + j) % 135) as i64 + (j % 5) as i64);
            Activity::create(owner.clone(), DEMO_SEMESTER, date, kind, body).unwrap()
        };
        for i in 0..(3 + j % 4) {
            out.push(shared(&p.helper, &p.partner, i));
        }
        for i in 0..(1 + j % 3) {
            out.push(shared(&p.partner, &p.helper, i + 10));
        }
        // Naming a school the owner is not paired with: not a pairing's activity.
        let stranger = roster.schools.iter().find(|s| s.code != p.helper && s.code != p.partner).unwrap();
        out.push(shared(&p.helper, &stranger.code, 20));
    }
    out
}

fn pairings_request(school: &str) -> pb::PairingsRequest {
    pb::PairingsRequest {
        semester: Some(yanpei_proto::semester_to_pb(DEMO_SEMESTER)),
        school_code: school.into(),
        as_of: "2025-01-20".into(),
    }
}

fn gaps_request(dimension: &str, schools: &[&str]) -> pb::GapsRequest {
    pb::GapsRequest {
        semester: Some(yanpei_proto::semester_to_pb(DEMO_SEMESTER)),
        dimension: dimension.into(),
        school_codes: schools.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn stats_request(target: pb::scope::Target) -> pb::StatsRequest {
    pb::StatsRequest {
        semester: Some(yanpei_proto::semester_to_pb(DEMO_SEMESTER)),
        scope: Some(pb::Scope { target: Some(target) }),
        ..Default::default()
    }
}

async fn pairings_and_gaps_match_hand_counts(db: Option<String>) {
    use std::collections::BTreeSet;

    use chrono::NaiveDate;
    use yanpei_store::rollup::week_of;

    let w = world("pairings", db).await;
    let roster = demo_roster().unwrap();
    let cross = cross_school_records(&roster);
    let mut nodes = BTreeMap::new();
    for (i, school) in roster.schools.iter().enumerate() {
        let node = w.node(&school.code, "office").await.unwrap();
        let mut records = semester_of_activity(&roster, school, i as u64 + 1);
        records.extend(cross.iter().filter(|a| a.school == school.code).cloned());
        node.store().record_all(&records).await.unwrap();
        node.sync_once().await.unwrap();
        nodes.insert(school.code.clone(), node);
    }
    // The first pair's helper then drops the partner from one shared record, deletes
    // another and moves a third by a few weeks: the rollups move with them.
    let p0 = &roster.pairings[0];
    let helper = &nodes[&p0.helper];
    let mine: Vec<Activity> = cross
        .iter()
        .filter(|a| a.school == p0.helper && a.body.details.partner_schools == [p0.partner.clone()])
        .cloned()
        .collect();
    let lecture = mine.iter().find(|a| a.kind == ActivityKind::Lecture).unwrap();
    let mut unshared = lecture.clone();
    unshared.version += 1;
    unshared.body.details.partner_schools.clear();
    let mut deleted = mine[0].clone();
    deleted.version += 1;
    deleted.deleted = true;
    let mut moved = mine.iter().find(|a| a.kind == ActivityKind::CollectivePrep).unwrap().clone();
    moved.version += 1;
    moved.date += chrono::TimeDelta::days(21);
    for next in [&unshared, &deleted, &moved] {
        helper.store().update(next).await.unwrap();
    }
    helper.sync_once().await.unwrap();
    // What the hub holds: every node's own records, as they stand now.
    let mut everything: BTreeMap<uuid::Uuid, Activity> = BTreeMap::new();
    for node in nodes.values() {
        for (id, a) in node.store().all().await.unwrap() {
            if everything.get(&id).is_none_or(|b| b.version < a.version) {
                everything.insert(id, a);
            }
        }
    }
    let live: Vec<&Activity> =
        everything.values().filter(|a| !a.deleted && a.semester == DEMO_SEMESTER).collect();

    let mut q = QueryServiceClient::new(w.operator_endpoint().unwrap().connect().await.unwrap());
    let report = q.pairings(pairings_request("")).await.unwrap().into_inner();
    assert_eq!(report.pairings.len(), roster.pairings.len());
    assert!(report.stale_schools.is_empty());
    let shared = |owner: &str, partner: &str| {
        live.iter()
            .filter(|a| {
                a.school.as_str() == owner
                    && a.body.details.partner_schools.iter().any(|p| p.as_str() == partner)
            })
            .copied()
            .collect::<Vec<_>>()
    };
    for (p, r) in roster.pairings.iter().zip(&report.pairings) {
        assert_eq!(
            (r.helper_code.as_str(), r.partner_code.as_str()),
            (p.helper.as_str(), p.partner.as_str())
        );
        let (h, pa) =
            (shared(p.helper.as_str(), p.partner.as_str()), shared(p.partner.as_str(), p.helper.as_str()));
        assert_eq!((r.from_helper, r.from_partner), (h.len() as i64, pa.len() as i64), "{}", r.helper_code);
        assert_eq!(r.total, r.from_helper + r.from_partner);
        assert_eq!(r.kind_label, p.kind.label());
        assert_eq!(r.trend.is_some(), p.kind == yanpei_domain::roster::PairingKind::StrongHelpsWeak);
    }
    // The first pair (强弱帮扶) by hand, kind by kind and week by week.
    let r0 = &report.pairings[0];
    assert_eq!(r0.kind, "strong_helps_weak");
    let (h, pa) =
        (shared(p0.helper.as_str(), p0.partner.as_str()), shared(p0.partner.as_str(), p0.helper.as_str()));
    assert!(!h.is_empty() && !pa.is_empty());
    assert!(!h.iter().any(|a| a.id == unshared.id || a.id == deleted.id), "the edits left the pair");
    for k in &r0.kinds {
        let n = |xs: &[&Activity]| xs.iter().filter(|a| a.kind.code() == k.kind).count() as i64;
        assert_eq!((k.from_helper, k.from_partner), (n(&h), n(&pa)), "{}", k.kind_label);
    }
    assert_eq!(r0.kinds.iter().map(|k| k.from_helper + k.from_partner).sum::<i64>(), r0.total);
    assert_eq!(r0.families.iter().map(|f| f.total).sum::<i64>(), r0.total);
    let per_week = |school: &str, week: NaiveDate| {
        live.iter().filter(|a| a.school.as_str() == school && week_of(a.date) == week).count() as i64
    };
    for wk in &r0.weeks {
        let week: NaiveDate = wk.week.parse().unwrap();
        assert_eq!(wk.helper, per_week(p0.helper.as_str(), week), "{}", wk.week);
        assert_eq!(wk.partner, per_week(p0.partner.as_str(), week), "{}", wk.week);
        let cross_here = h.iter().chain(&pa).filter(|a| week_of(a.date) == week).count() as i64;
        assert_eq!(wk.cross, cross_here, "{}", wk.week);
    }
    assert_eq!(r0.weeks.iter().map(|w| w.cross).sum::<i64>(), r0.total);
    // The trend by hand: the last four whole weeks by 2025-01-20 against the four before.
    let whole: Vec<NaiveDate> = r0
        .weeks
        .iter()
        .map(|w| w.week.parse::<NaiveDate>().unwrap())
        .filter(|w| *w + chrono::TimeDelta::days(6) <= NaiveDate::from_ymd_opt(2025, 1, 20).unwrap())
        .collect();
    let mean =
        |ws: &[NaiveDate]| ws.iter().map(|w| per_week(p0.partner.as_str(), *w)).sum::<i64>() as f64 / 4.0;
    let t = r0.trend.unwrap();
    let n = whole.len();
    assert_eq!(t.weeks, 4);
    assert_eq!((t.weak_recent, t.weak_previous), (mean(&whole[n - 4..]), mean(&whole[n - 8..n - 4])));
    assert_eq!(t.weak_rising, t.weak_recent > t.weak_previous);
    // One school's pairs only.
    let one = q.pairings(pairings_request(p0.helper.as_str())).await.unwrap().into_inner();
    let expected = roster.pairings.iter().filter(|p| p.helper == p0.helper || p.partner == p0.helper).count();
    assert_eq!(one.pairings.len(), expected);

    // Gaps: each group's total is the sum of the statistics of its schools.
    let gaps = q.gaps(gaps_request("", &[])).await.unwrap().into_inner();
    let by_school = q
        .stats(pb::StatsRequest {
            semester: Some(yanpei_proto::semester_to_pb(DEMO_SEMESTER)),
            group_by: pb::GroupBy::School as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut school_total: BTreeMap<&str, i64> = BTreeMap::new();
    for row in &by_school.rows {
        *school_total.entry(&row.group_code).or_default() += row.count as i64;
    }
    let dims: BTreeSet<&str> = gaps.groups.iter().map(|g| g.dimension.as_str()).collect();
    assert_eq!(dims, BTreeSet::from(["alliance", "area", "township"]));
    for g in &gaps.groups {
        let sum: i64 = g.schools.iter().map(|s| school_total.get(s.as_str()).copied().unwrap_or(0)).sum();
        assert_eq!(g.total, sum, "{} {}", g.dimension, g.code);
        assert_eq!(g.weeks.iter().map(|w| w.count).sum::<i64>(), g.total);
        assert!((g.per_school - g.total as f64 / g.schools.len() as f64).abs() < 1e-9);
        // The same group asked of the statistics with the new scopes.
        let target = match g.dimension.as_str() {
            "area" => pb::scope::Target::Area(g.code.clone()),
            "township" => pb::scope::Target::Township(g.code.clone()),
            _ => pb::scope::Target::AllianceCode(g.code.clone()),
        };
        let stats = q.stats(stats_request(target)).await.unwrap().into_inner();
        assert_eq!(stats.total as i64, g.total, "{} {}", g.dimension, g.code);
    }
    let total = live.len() as i64;
    for d in ["area", "township", "alliance"] {
        assert_eq!(gaps.groups.iter().filter(|g| g.dimension == d).map(|g| g.total).sum::<i64>(), total);
    }

    // Statistics by subject and a range of weeks, against a hand count.
    let (from, to) =
        (NaiveDate::from_ymd_opt(2024, 9, 16).unwrap(), NaiveDate::from_ymd_opt(2024, 11, 4).unwrap());
    let mut ask = stats_request(pb::scope::Target::County(true));
    ask.subject = "语文".into();
    ask.from_week = "2024-W38".into();
    ask.to_week = "2024-11-06".into();
    let stats = q.stats(ask).await.unwrap().into_inner();
    let by_hand = live
        .iter()
        .filter(|a| a.body.subject.as_deref() == Some("语文") && (from..=to).contains(&week_of(a.date)))
        .count() as u64;
    assert!(by_hand > 0);
    assert_eq!(stats.total, by_hand);

    // The gaps report as a workbook with Chinese headers, read back.
    {
        use calamine::{Reader, open_workbook_auto_from_rs};
        let answer = yanpei_hub::model::GapsAnswer::try_from(gaps.clone()).unwrap();
        let tables = yanpei_hub::tables::pairs::gaps_tables(&answer.groups);
        let bytes = yanpei_report::to_xlsx(&tables).unwrap();
        let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), ["差距汇总", "逐周对比"]);
        let sheet = book.worksheet_range("差距汇总").unwrap();
        let headers: Vec<String> = sheet.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(headers, ["维度", "代码", "名称", "学校数", "学期活动合计", "校均活动"]);
        assert_eq!(sheet.rows().count() - 1, gaps.groups.len());
        let first: Vec<String> = sheet.rows().nth(1).unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(
            (first[2].as_str(), first[4].clone()),
            (gaps.groups[0].name.as_str(), gaps.groups[0].total.to_string())
        );
        let weeks = book.worksheet_range("逐周对比").unwrap();
        assert_eq!(weeks.rows().count() - 1, gaps.groups.iter().map(|g| g.weeks.len()).sum::<usize>());
    }

    // A 教研员: only the assigned schools, refused outside them.
    let mut staff = QueryServiceClient::new(w.staff_endpoint("JY01").unwrap().connect().await.unwrap());
    let assigned = BTreeSet::from(["CGZ1", "T04Z1", "T08Z2"]);
    let err = staff.pairings(pairings_request("CGZ2")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    let err = staff.gaps(gaps_request("", &["CGZ1", "CGZ2"])).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    let err = staff.stats(stats_request(pb::scope::Target::Township("城关镇".into()))).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    // A 教研员 sees every pair that involves one of their schools, partner school and all
    // (both schools of a pair see the pair), with the same figures the county sees.
    let pair_key = |p: &pb::PairingReport| (p.helper_code.clone(), p.partner_code.clone());
    let involves = |p: &&pb::PairingReport| {
        assigned.contains(p.helper_code.as_str()) || assigned.contains(p.partner_code.as_str())
    };
    let county_view: Vec<_> = report.pairings.iter().filter(involves).collect();
    assert!(
        county_view.iter().any(
            |p| !assigned.contains(p.helper_code.as_str()) || !assigned.contains(p.partner_code.as_str())
        ),
        "the demo pairs one of JY01's schools with a school outside them"
    );
    let mine = staff.pairings(pairings_request("")).await.unwrap().into_inner();
    assert_eq!(
        mine.pairings.iter().map(|p| (pair_key(p), p.total)).collect::<Vec<_>>(),
        county_view.iter().map(|p| (pair_key(p), p.total)).collect::<Vec<_>>()
    );
    let of_cgz1 = staff.pairings(pairings_request("CGZ1")).await.unwrap().into_inner();
    assert!(!of_cgz1.pairings.is_empty());
    assert!(of_cgz1.pairings.iter().all(|p| p.helper_code == "CGZ1" || p.partner_code == "CGZ1"));
    let mine = staff.gaps(gaps_request("area", &[])).await.unwrap().into_inner();
    let seen: BTreeSet<&str> =
        mine.groups.iter().flat_map(|g| g.schools.iter().map(String::as_str)).collect();
    assert_eq!(seen, assigned);
    let sum: i64 = assigned.iter().map(|s| school_total[s]).sum();
    assert_eq!(mine.groups.iter().map(|g| g.total).sum::<i64>(), sum);

    // Bad input names the field.
    let err = q.gaps(gaps_request("county", &[])).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("dimension"), "{}", err.message());
    let mut ask = stats_request(pb::scope::Target::County(true));
    ask.from_week = "2024-W60".into();
    let err = q.stats(ask).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("from_week"), "{}", err.message());
    let mut ask = pairings_request("");
    ask.as_of = "20250120".into();
    let err = q.pairings(ask).await.unwrap_err();
    assert!(err.code() == tonic::Code::InvalidArgument && err.message().contains("as_of"), "{err:?}");
    let err = q.stats(stats_request(pb::scope::Target::Area("suburb".into()))).await.unwrap_err();
    assert!(err.code() == tonic::Code::InvalidArgument && err.message().contains("area"), "{err:?}");
}
on_both_backends!(pairings_and_gaps_match_hand_counts);
