use super::*;
use crate::{
    Semester, Term,
    roster::{
        Alliance, Area, Evaluation, Mentorship, Pairing, PairingKind, PairingType, School, SchoolLevel,
        SemesterDates, Staff, Stationing, SubjectGroup, Teacher,
        validate::fixture::{code, sample},
    },
};

fn sheet<'a>(sheets: &'a mut [Sheet], name: &str) -> &'a mut Sheet {
    sheets.iter_mut().find(|s| s.name == name).unwrap()
}

fn column(s: &Sheet, name: &str) -> usize {
    s.rows[0].iter().position(|c| c == name).unwrap()
}

/// Sets the cell of `column` in spreadsheet row `row` (header is row 1).
fn set(sheets: &mut [Sheet], name: &str, row: usize, col: &str, value: &str) {
    let s = sheet(sheets, name);
    let c = column(s, col);
    s.rows[row - 1][c] = value.to_owned();
}

fn spots(problems: &[TableProblem]) -> Vec<(&str, usize, &str)> {
    problems.iter().map(|p| (p.sheet.as_str(), p.row, p.column.as_str())).collect()
}

fn problems(sheets: &[Sheet]) -> Vec<TableProblem> {
    roster_from_sheets(sheets).unwrap_err()
}

fn round_trip(r: &Roster) {
    assert_eq!(validate(r), vec![], "the roster under test must be valid");
    assert_eq!(roster_from_sheets(&roster_to_sheets(r)), Ok(r.clone()));
}

/// A small deterministic generator (xorshift).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SUBJECTS: [&str; 6] = ["语文", "数学", "英语", "物理", "道德与法治", "信息技术"];

/// A valid roster of random shape.
fn generated(seed: u64) -> Roster {
    let mut g = Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut r = Roster { county: format!("第{seed}县"), ..Roster::default() };
    let mut semester = Semester::new(2022 + g.below(3) as u16, Term::Second).unwrap();
    for _ in 0..g.below(4) {
        let (start, end) = semester.dates();
        let start = start + chrono::Days::new(g.below(10) as u64);
        r.semesters.push(SemesterDates { semester, start, end: end - chrono::Days::new(g.below(10) as u64) });
        semester = match semester.term {
            Term::First => Semester::new(semester.start_year, Term::Second).unwrap(),
            Term::Second => Semester::new(semester.start_year + 1, Term::First).unwrap(),
        };
    }
    for a in 0..g.below(4) {
        let alliance = format!("LH{a}");
        for i in 0..=g.below(4) {
            let area = if g.chance(40) { Area::Urban } else { Area::Rural };
            let evaluation = g.chance(70).then(|| {
                let mut s = || g.below(101) as u8;
                Evaluation {
                    leadership: s(),
                    management: s(),
                    teachers: s(),
                    curriculum_reform: s(),
                    teaching_quality: s(),
                }
            });
            r.schools.push(School {
                code: code(&format!("S{a}-{i}")),
                name: format!("{}学校 {a}{i}", if area == Area::Urban { "城关" } else { "乡镇" }),
                township: if g.chance(20) { String::new() } else { format!("第{i}镇") },
                area,
                level: *g.pick(&[
                    SchoolLevel::Primary,
                    SchoolLevel::Junior,
                    SchoolLevel::NineYear,
                    SchoolLevel::Senior,
                ]),
                alliance: alliance.clone(),
                evaluation,
            });
        }
        let base = r.schools.iter().find(|s| s.alliance == alliance).unwrap().code.clone();
        let name = if g.chance(20) { String::new() } else { format!("联合体,{a}") };
        r.alliances.push(Alliance { code: alliance, name, base_school: base });
    }
    let n = r.schools.len();
    for i in 0..n {
        for j in i + 1..n {
            if !g.chance(25) {
                continue;
            }
            let (mut h, mut p) = (&r.schools[i], &r.schools[j]);
            if g.chance(50) {
                std::mem::swap(&mut h, &mut p);
            }
            let mut kind = *g.pick(&[PairingKind::StrongHelpsWeak, PairingKind::StrongWithStrong]);
            if let (Some(a), Some(b)) = (h.evaluation, p.evaluation)
                && a.mean() < b.mean()
            {
                if g.chance(50) {
                    std::mem::swap(&mut h, &mut p);
                } else {
                    kind = PairingKind::StrongWithStrong;
                }
            }
            let pairing_type = PairingType::of(h.area, p.area);
            r.pairings.push(Pairing { helper: h.code.clone(), partner: p.code.clone(), kind, pairing_type });
        }
    }
    let staff_count = if n == 0 { g.below(3) } else { 1 + g.below(4) };
    for k in 0..staff_count {
        let subjects = SUBJECTS.iter().filter(|_| g.chance(30)).map(|s| (*s).to_owned()).collect();
        r.staff.push(Staff {
            id: format!("JY{k:03}"),
            name: format!("研培员{k}"),
            subjects,
            schools: vec![],
        });
    }
    for s in &r.schools {
        let k = g.below(staff_count);
        r.staff[k].schools.push(s.code.clone());
        let other = g.below(staff_count);
        if other != k && g.chance(30) {
            r.staff[other].schools.push(s.code.clone());
        }
    }
    for (i, subject) in SUBJECTS.iter().enumerate() {
        if staff_count > 0 && g.chance(50) {
            let leader = r.staff[(i + g.below(staff_count)) % staff_count].id.clone();
            r.subject_groups.push(SubjectGroup { subject: (*subject).to_owned(), leader });
        }
    }
    let rural: Vec<_> = r.schools.iter().filter(|s| s.area == Area::Rural).map(|s| s.code.clone()).collect();
    let urban: Vec<_> = r.schools.iter().filter(|s| s.area == Area::Urban).map(|s| s.code.clone()).collect();
    if !rural.is_empty() && !urban.is_empty() {
        for semester in r.semesters.iter().map(|s| s.semester) {
            let stationed: Vec<_> = r.staff.iter().filter(|_| g.chance(60)).map(|s| s.id.clone()).collect();
            for staff in stationed {
                let (rural_school, urban_school) = (g.pick(&rural).clone(), g.pick(&urban).clone());
                r.stationings.push(Stationing { staff, semester, rural_school, urban_school });
            }
        }
    }
    if n > 0 {
        for t in 0..g.below(8) {
            let subjects = SUBJECTS.iter().filter(|_| g.chance(25)).map(|s| (*s).to_owned()).collect();
            r.teachers.push(Teacher {
                id: format!("JS{t:04}"),
                name: format!("教师 {t}"),
                school: r.schools[g.below(n)].code.clone(),
                subjects,
                group: if g.chance(20) { String::new() } else { format!("{}组", g.pick(&SUBJECTS)) },
                backbone: g.chance(30),
                subject_leader: g.chance(10),
                years_of_service: g.below(61) as u8,
            });
        }
    }
    let t = r.teachers.len();
    for m in 0..t {
        for a in 0..t {
            if m != a && g.chance(10) {
                let (mentor, apprentice) = (r.teachers[m].id.clone(), r.teachers[a].id.clone());
                r.mentorships.push(Mentorship { mentor, apprentice });
            }
        }
    }
    r
}

#[test]
fn the_sample_round_trips() {
    round_trip(&sample());
}

#[test]
fn generated_rosters_round_trip() {
    let mut sizes = (0, 0);
    for seed in 1..=64 {
        let r = generated(seed);
        sizes = (sizes.0.max(r.schools.len()), sizes.1.max(r.mentorships.len()));
        round_trip(&r);
    }
    assert!(sizes.0 >= 8 && sizes.1 >= 2, "the generator makes non-trivial rosters: {sizes:?}");
}

#[test]
fn hand_made_rosters_round_trip() {
    round_trip(&Roster { county: "空县".into(), ..Roster::default() });
    let mut r = sample();
    r.semesters.clear();
    r.schools.iter_mut().for_each(|s| s.evaluation = None);
    r.staff[0].subjects.clear();
    r.teachers[0].subjects.clear();
    r.teachers[0].group.clear();
    r.teachers[1].subject_leader = true;
    r.alliances[0].name = "城关、东部, 联合体".into();
    r.schools[0].evaluation = Some(Evaluation {
        leadership: 0,
        management: 100,
        teachers: 7,
        curriculum_reform: 55,
        teaching_quality: 100,
    });
    round_trip(&r);
}

#[test]
fn export_writes_chinese_labels_lists_flags_and_codes() {
    let sheets = roster_to_sheets(&sample());
    let names: Vec<_> = sheets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["县", "学期", "区域联合体", "学校", "结对", "学科组", "研培人员", "蹲点", "教师", "师徒结对"]
    );
    assert_eq!(sheets[0].rows, [vec!["县名".to_owned()], vec!["示例县".to_owned()]]);
    assert_eq!(sheets[1].rows[1], ["2024-2025-1", "2024-09-01", "2025-01-20"]);
    assert_eq!(sheets[3].rows[0][3..5], ["城乡", "学段"]);
    assert_eq!(
        sheets[3].rows[1],
        ["U1", "城关第一中学", "城关镇", "城镇", "初中", "A1", "90", "90", "90", "90", "90"]
    );
    assert_eq!(sheets[3].rows[4][6..], ["", "", "", "", ""]);
    assert_eq!(sheets[4].rows[1], ["U1", "R2", "强弱帮扶", "城镇—乡镇"]);
    assert_eq!(sheets[6].rows[2], ["S02", "李华", "数学、物理", "R2、U2"]);
    assert_eq!(sheets[8].rows[1][5..], ["是", "否", "20"]);
    for s in &sheets[1..] {
        let kind = SheetKind::ALL.into_iter().find(|k| k.title() == s.name).unwrap();
        assert_eq!(s.rows[0], kind.columns());
        assert!(s.rows.iter().all(|row| row.len() == kind.columns().len()), "{}", s.name);
    }
}

#[test]
fn a_wrong_cell_is_reported_at_its_sheet_row_and_column() {
    let mut sheets = roster_to_sheets(&sample());
    set(&mut sheets, "学校", 3, "管理水平", "良好");
    let p = problems(&sheets);
    assert_eq!(spots(&p), [("学校", 3, "管理水平")]);
    assert!(p[0].message.contains("良好"), "{}", p[0].message);
    assert_eq!(p[0].to_string(), format!("「学校」第 3 行「管理水平」列：{}", p[0].message));
}

#[test]
fn every_cell_problem_is_collected_in_order() {
    let mut sheets = roster_to_sheets(&sample());
    set(&mut sheets, "师徒结对", 2, "徒弟编号", "");
    set(&mut sheets, "教师", 3, "骨干教师", "也许");
    set(&mut sheets, "教师", 2, "教龄", "十");
    set(&mut sheets, "教师", 2, "学校代码", "城关一中");
    set(&mut sheets, "蹲点", 2, "学期", "2024年秋");
    set(&mut sheets, "研培人员", 3, "包校学校代码", "R2、X 1，U2");
    set(&mut sheets, "结对", 5, "结对类型", "城乡");
    set(&mut sheets, "结对", 2, "结对方式", "帮扶");
    set(&mut sheets, "学校", 4, "学段", "大学");
    set(&mut sheets, "学校", 2, "城乡", "县城");
    set(&mut sheets, "学校", 2, "学校代码", "");
    set(&mut sheets, "区域联合体", 3, "基地校代码", "R#1");
    set(&mut sheets, "学期", 3, "结束日期", "2025/7/10");
    set(&mut sheets, "学期", 2, "开始日期", "2024-09-31");
    set(&mut sheets, "县", 2, "县名", " ");
    let p = problems(&sheets);
    assert_eq!(
        spots(&p),
        [
            ("县", 2, "县名"),
            ("学期", 2, "开始日期"),
            ("学期", 3, "结束日期"),
            ("区域联合体", 3, "基地校代码"),
            ("学校", 2, "学校代码"),
            ("学校", 2, "城乡"),
            ("学校", 4, "学段"),
            ("结对", 2, "结对方式"),
            ("结对", 5, "结对类型"),
            ("研培人员", 3, "包校学校代码"),
            ("蹲点", 2, "学期"),
            ("教师", 2, "学校代码"),
            ("教师", 2, "教龄"),
            ("教师", 3, "骨干教师"),
        ],
        "{p:#?}"
    );
    // An empty mentorship cell is no cell problem; validation would catch it, but
    // validation runs only once every cell reads.
    assert!(p[9].message.contains("「X 1」") && !p[9].message.contains("R2"), "{}", p[9].message);
}

#[test]
fn columns_in_any_order_parse_the_same() {
    let r = sample();
    let mut sheets = roster_to_sheets(&r);
    for s in &mut sheets {
        for row in &mut s.rows {
            row.reverse();
            row.rotate_left(1);
        }
    }
    assert_ne!(sheets, roster_to_sheets(&r));
    assert_eq!(roster_from_sheets(&sheets), Ok(r));
}

#[test]
fn blank_rows_are_skipped_without_shifting_row_numbers() {
    let r = sample();
    let mut sheets = roster_to_sheets(&r);
    for name in ["县", "学校", "教师"] {
        let s = sheet(&mut sheets, name);
        s.rows.insert(1, vec![String::new(); s.rows[0].len()]);
        s.rows.insert(3, vec![" ".to_owned()]);
        s.rows.push(vec![]);
    }
    // 学校: header, blank, U1, blank, R1, R2, U2, blank.
    assert_eq!(roster_from_sheets(&sheets), Ok(r));
    let mut cell = sheets.clone();
    set(&mut cell, "学校", 6, "教学质量", "");
    set(&mut cell, "教师", 5, "教龄", "-3");
    assert_eq!(spots(&problems(&cell)), [("学校", 6, "教学质量"), ("教师", 5, "教龄")]);
    // A validation problem is reported at the item's own spreadsheet row too.
    let mut invalid = sheets.clone();
    set(&mut invalid, "学校", 6, "联合体代码", "A9");
    set(&mut invalid, "教师", 5, "教龄", "61");
    let p = problems(&invalid);
    assert_eq!(spots(&p), [("学校", 6, "联合体代码"), ("教师", 5, "教龄")], "{p:#?}");
    assert!(p[0].message.contains("A9"));
}

#[test]
fn validation_problems_come_after_a_clean_read() {
    let mut sheets = roster_to_sheets(&sample());
    set(&mut sheets, "学校", 4, "城乡", "城镇");
    let p = problems(&sheets);
    // R2 made urban: its pairings' types and its 蹲点 as a rural school are wrong.
    assert_eq!(
        spots(&p),
        [
            ("结对", 2, "结对类型"),
            ("结对", 3, "结对类型"),
            ("蹲点", 3, "农村学校代码"),
            ("蹲点", 4, "农村学校代码")
        ]
    );
}

#[test]
fn missing_sheets_and_columns_are_reported_and_extras_ignored() {
    let mut sheets = roster_to_sheets(&sample());
    sheets.retain(|s| s.name != "结对" && s.name != "师徒结对");
    let s = sheet(&mut sheets, "学校");
    let c = column(s, "城乡");
    s.rows.iter_mut().for_each(|row| _ = row.remove(c));
    let p = problems(&sheets);
    assert_eq!(spots(&p), [("学校", 1, "城乡"), ("结对", 0, "")]);
    assert!(p[1].message.contains("结对") && p[0].message.contains("城乡"));

    // Optional sheets and columns may be left out; unknown ones are ignored.
    let mut r = sample();
    r.mentorships.clear();
    r.teachers.iter_mut().for_each(|t| t.group.clear());
    let mut sheets = roster_to_sheets(&r);
    sheets.retain(|s| s.name != "师徒结对");
    sheets.push(Sheet { name: "说明".into(), rows: vec![vec!["随便写".into()]] });
    let s = sheet(&mut sheets, "教师");
    let c = column(s, "教研组");
    s.rows[0][c] = "备注".into();
    s.rows[1..].iter_mut().for_each(|row| row[c] = "随便写".into());
    assert_eq!(roster_from_sheets(&sheets), Ok(r));
}

#[test]
fn cells_are_trimmed_and_alternative_spellings_accepted() {
    let mut sheets = roster_to_sheets(&sample());
    set(&mut sheets, "学期", 2, "学期", " 2024-2025学年第一学期 ");
    set(&mut sheets, "学校", 2, "领导班子", "90.0");
    set(&mut sheets, "学校", 2, "城乡", "urban");
    set(&mut sheets, "结对", 2, "结对类型", "乡镇-城镇");
    set(&mut sheets, "研培人员", 3, "包校学校代码", " R2 ,U2；");
    set(&mut sheets, "研培人员", 3, "学科", "数学;物理");
    set(&mut sheets, "教师", 2, "骨干教师", "Y");
    set(&mut sheets, "教师", 3, "骨干教师", "");
    set(&mut sheets, "教师", 4, "学科带头人", "false");
    set(&mut sheets, "教师", 2, "姓名", "  教师T001\t");
    assert_eq!(roster_from_sheets(&sheets), Ok(sample()));
}

#[test]
fn an_evaluation_is_all_five_scores_or_none() {
    let mut sheets = roster_to_sheets(&sample());
    set(&mut sheets, "学校", 2, "管理水平", "");
    set(&mut sheets, "学校", 2, "课改推进", "");
    set(&mut sheets, "学校", 5, "教师素质", "80");
    set(&mut sheets, "学校", 4, "教学质量", "300");
    assert_eq!(
        spots(&problems(&sheets)),
        [
            ("学校", 2, "管理水平"),
            ("学校", 2, "课改推进"),
            ("学校", 4, "教学质量"),
            ("学校", 5, "领导班子"),
            ("学校", 5, "管理水平"),
            ("学校", 5, "课改推进"),
            ("学校", 5, "教学质量"),
        ]
    );
}

#[test]
fn the_template_has_every_sheet_with_headers_and_a_county_that_validates_as_written() {
    let template = template();
    let sheets = roster_to_sheets(&Roster::default());
    assert_eq!(template.len(), sheets.len());
    for (t, s) in template.iter().zip(&sheets) {
        assert_eq!((&t.name, &t.rows[0]), (&s.name, &s.rows[0]));
        assert!(t.rows.len() >= 2, "{}: no example row", t.name);
        assert!(t.rows[1].iter().any(|c| !c.is_empty()), "{}", t.name);
    }
    // `roster template` then `roster validate` on the untouched workbook succeeds.
    let roster = roster_from_sheets(&template).unwrap_or_else(|p| panic!("{p:#?}"));
    assert_eq!(validate(&roster), vec![]);
}

#[test]
fn a_duplicate_sheet_or_column_and_an_empty_county_are_problems() {
    let mut sheets = roster_to_sheets(&sample());
    sheets.push(sheets[2].clone());
    let s = sheet(&mut sheets, "学科组");
    s.rows[0].push("学科".into());
    s.rows[1].push("语文".into());
    sheet(&mut sheets, "县").rows.truncate(1);
    assert_eq!(spots(&problems(&sheets)), [("县", 2, "县名"), ("区域联合体", 0, ""), ("学科组", 1, "学科")]);
}

#[test]
fn problems_display_their_place() {
    let p = TableProblem {
        sheet: "结对".into(),
        row: 0,
        column: String::new(),
        message: "缺少工作表「结对」".into(),
    };
    assert_eq!(p.to_string(), "「结对」：缺少工作表「结对」");
}
