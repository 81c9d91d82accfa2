//! The county roster: import all-or-nothing with precise Chinese problems,
//! CSV and .xlsx round trips, and delivery of each school's part to its node.

use std::path::{Path, PathBuf};

use yanpei_demo::{DEMO_ROSTER_DIR, demo_roster};
use yanpei_domain::roster::{PairingKind, PairingType, roster_to_sheets};
use yanpei_roster_io::{RosterIoError, load_roster, read_sheets, write_sheets};
use yanpei_store::hub::HubStore;
use yanpei_tests::{on_both_backends, school, test_dir, world};

/// Copies the demo roster's CSV files into a fresh folder to be broken.
fn copy_demo(name: &str) -> PathBuf {
    let dir = test_dir(name).join("roster");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(DEMO_ROSTER_DIR).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn edit_csv(dir: &Path, sheet: &str, edit: impl FnOnce(&mut Vec<Vec<String>>)) {
    let path = dir.join(format!("{sheet}.csv"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rows: Vec<Vec<String>> = text
        .trim_start_matches('\u{feff}')
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    edit(&mut rows);
    let out: Vec<String> = rows.iter().map(|r| r.join(",")).collect();
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

/// 1-based spreadsheet row of the first data row whose first cell is `key`.
fn row_of(dir: &Path, sheet: &str, key: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(format!("{sheet}.csv"))).unwrap();
    text.trim_start_matches('\u{feff}').lines().position(|l| l.split(',').next() == Some(key)).unwrap() + 1
}

async fn a_roster_with_seven_mistakes_changes_nothing(db: Option<String>) {
    let w = world("roster_mistakes", db).await;
    let before = w.hub_store.current_roster().await.unwrap().unwrap();
    let dir = copy_demo("roster_mistakes");

    // 1. A base school that is not a member of the alliance it leads (CGZ2 is in A2).
    edit_csv(&dir, "区域联合体", |rows| rows[1][2] = "CGZ2".into());
    // 2. One school in two alliances: T02Z1 listed again, in another alliance.
    edit_csv(&dir, "学校", |rows| {
        let mut again = rows.iter().find(|r| r[0] == "T02Z1").unwrap().clone();
        again[5] = "A1".into();
        rows.push(again);
    });
    // 3. A pairing of a school with itself; 4. a 强强联合 pair listed twice (reversed).
    edit_csv(&dir, "结对", |rows| {
        rows[1][1] = rows[1][0].clone();
        let mut reversed = rows.iter().find(|r| r[2] == "强强联合").unwrap().clone();
        reversed.swap(0, 1);
        rows.push(reversed);
    });
    // 5. A 蹲点 whose "rural" school is an urban one.
    edit_csv(&dir, "蹲点", |rows| rows[1][2] = "CGX1".into());
    // 6. A subject group led by someone who is not staff.
    edit_csv(&dir, "学科组", |rows| rows[1][1] = "JY99".into());
    // 7. A school no staff member covers: take T14X1 off every list.
    edit_csv(&dir, "研培人员", |rows| {
        for r in rows.iter_mut().skip(1) {
            r[3] = r[3].split('、').filter(|c| *c != "T14X1").collect::<Vec<_>>().join("、");
        }
    });

    let Err(RosterIoError::Invalid(problems)) = load_roster(&dir) else { panic!("the broken roster loaded") };
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let has = |sheet: &str, row: usize, column: &str, needle: &str| {
        assert!(
            problems.iter().any(|p| p.problem.sheet == sheet
                && p.problem.row == row
                && p.problem.column == column
                && p.problem.message.contains(needle)),
            "no problem at {sheet} row {row} column {column} mentioning {needle}; got:\n{}",
            text.join("\n")
        );
    };
    has("区域联合体", 2, "基地校代码", "CGZ2");
    let school_rows = std::fs::read_to_string(dir.join("学校.csv")).unwrap().lines().count();
    has("学校", school_rows, "学校代码", "T02Z1");
    has("结对", 2, "受援校代码", "自己");
    has("结对", std::fs::read_to_string(dir.join("结对.csv")).unwrap().lines().count(), "帮扶校代码", "重复");
    has("蹲点", 2, "农村学校代码", "CGX1");
    has("学科组", 2, "组长工号", "JY99");
    has("学校", row_of(&dir, "学校", "T14X1"), "学校代码", "T14X1");
    assert_eq!(problems.len(), 7, "one message per mistake:\n{}", text.join("\n"));
    // Messages are Chinese and name the file.
    assert!(problems.iter().all(|p| p.to_string().contains(".csv") && p.to_string().contains("第")));

    // Nothing changed at the hub.
    let after = w.hub_store.current_roster().await.unwrap().unwrap();
    assert_eq!(before, after);
}
on_both_backends!(a_roster_with_seven_mistakes_changes_nothing);

async fn the_demo_roster_round_trips_through_csv_xlsx_and_the_hub(db: Option<String>) {
    let url = db.unwrap_or_else(|| yanpei_store::sqlite_url(&test_dir("roster_rt").join("hub.sqlite")));
    let store = HubStore::open(&url).await.unwrap();
    let from_csv = load_roster(Path::new(DEMO_ROSTER_DIR)).unwrap();
    assert_eq!(from_csv, demo_roster().unwrap());

    let book = test_dir("roster_xlsx").join("名册.xlsx");
    write_sheets(&book, &roster_to_sheets(&from_csv)).unwrap();
    let from_xlsx = load_roster(&book).unwrap();
    assert_eq!(from_xlsx, from_csv);
    // The workbook has the Chinese sheet names and headers a clerk expects.
    let sheets = read_sheets(&book).unwrap();
    let schools = sheets.iter().find(|s| s.name == "学校").unwrap();
    assert_eq!(schools.rows[0][..3], ["学校代码", "学校名称", "乡镇"]);

    let version = store.replace_roster(&from_xlsx, "测试").await.unwrap();
    let (v, stored) = store.current_roster().await.unwrap().unwrap();
    assert_eq!((v, &stored), (version, &from_csv));
    let exported = test_dir("roster_export").join("out");
    write_sheets(&exported, &roster_to_sheets(&stored)).unwrap();
    assert_eq!(load_roster(&exported).unwrap(), from_csv, "export then import changed the roster");
}
on_both_backends!(the_demo_roster_round_trips_through_csv_xlsx_and_the_hub);

async fn a_node_knows_its_place_offline_and_follows_changes(db: Option<String>) {
    let w = world("roster_node", db).await;
    let me = school("T08Z1");
    let node = w.node(&me, "a").await.unwrap();
    assert_eq!(node.store().roster().await.unwrap().0, 0);
    let r = node.sync_once().await.unwrap();
    assert_eq!(r.roster_version, 1);

    let (version, Some(part)) = node.store().roster().await.unwrap() else { panic!("no roster after sync") };
    assert_eq!(version, 1);
    let full = demo_roster().unwrap();
    let own = full.schools.iter().find(|s| s.code == me).unwrap();
    let alliance = full.alliances.iter().find(|a| a.code == own.alliance).unwrap();
    assert_eq!(part.alliances, vec![alliance.clone()]);
    assert!(part.schools.iter().any(|s| s.code == alliance.base_school), "the base school is known");
    let partners: Vec<_> =
        full.pairings.iter().filter(|p| p.helper == me || p.partner == me).cloned().collect();
    assert!(!partners.is_empty(), "T08Z1 is paired in the demo roster");
    assert_eq!(part.pairings, partners);
    let staff: Vec<_> = full.staff.iter().filter(|s| s.schools.contains(&me)).map(|s| s.id.clone()).collect();
    assert!(!staff.is_empty());
    for id in &staff {
        assert!(part.staff.iter().any(|s| &s.id == id), "assigned staff {id} missing");
    }
    assert_eq!(part.teachers.len(), full.teachers.iter().filter(|t| t.school == me).count());
    assert!(part.teachers.iter().all(|t| t.school == me), "only this school's teachers");
    // Nothing about other schools' evaluations travels.
    assert!(part.schools.iter().filter(|s| s.code != me).all(|s| s.evaluation.is_none()));

    // The county pairs the school with another one; the next sync brings the change.
    let mut changed = full.clone();
    changed.pairings.push(yanpei_domain::roster::Pairing {
        helper: school("T09Z1"),
        partner: me.clone(),
        kind: PairingKind::StrongWithStrong,
        pairing_type: PairingType::TownshipTownship,
    });
    // T09Z1's evaluation must not make it weaker than T08Z1 for 强强联合 to be plausible; the
    // validation only orders 强弱帮扶, so this roster is valid.
    assert!(yanpei_domain::roster::validate(&changed).is_empty());
    w.hub_store.replace_roster(&changed, "测试").await.unwrap();
    let r = node.sync_once().await.unwrap();
    assert_eq!(r.roster_version, 2);
    let (_, Some(part)) = node.store().roster().await.unwrap() else { panic!() };
    assert_eq!(part.pairings.len(), partners.len() + 1);
    // An unchanged roster is not sent again.
    let again = node.sync_once().await.unwrap();
    assert_eq!(again.roster_version, 2);
}
on_both_backends!(a_node_knows_its_place_offline_and_follows_changes);
