//! The demo county's roster, kept in the repository as the CSV files a county
//! clerk would fill in (`crates/demo/roster/`), read by the same parser a real
//! import uses. Names are invented; the shape follows seed 003: 14 townships,
//! 3 town and 22 township junior high schools plus primary schools, 5 regional
//! alliances each led by a base school, paired schools, 12 research staff
//! covering every school, and each school's teachers.

use yanpei_domain::roster::{Roster, TableProblem, roster_from_sheets};
use yanpei_roster_io::sheet_from_csv;

/// The sheets of the demo roster, as committed.
const FILES: [(&str, &str); 10] = [
    ("县", include_str!("../roster/县.csv")),
    ("学期", include_str!("../roster/学期.csv")),
    ("区域联合体", include_str!("../roster/区域联合体.csv")),
    ("学校", include_str!("../roster/学校.csv")),
    ("结对", include_str!("../roster/结对.csv")),
    ("学科组", include_str!("../roster/学科组.csv")),
    ("研培人员", include_str!("../roster/研培人员.csv")),
    ("蹲点", include_str!("../roster/蹲点.csv")),
    ("教师", include_str!("../roster/教师.csv")),
    ("师徒结对", include_str!("../roster/师徒结对.csv")),
];

/// Where the demo roster's files are in the repository (for `yanpei roster import`).
pub const DEMO_ROSTER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/roster");

/// The demo county's roster, parsed and validated.
pub fn demo_roster() -> Result<Roster, Vec<TableProblem>> {
    let mut sheets = Vec::new();
    for (name, text) in FILES {
        let sheet = sheet_from_csv(name, text).map_err(|e| {
            vec![TableProblem { sheet: name.into(), row: 0, column: String::new(), message: e }]
        })?;
        sheets.push(sheet);
    }
    roster_from_sheets(&sheets)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use yanpei_domain::{Area, SchoolLevel};

    use super::*;

    #[test]
    fn the_demo_roster_is_valid_and_has_the_seed_shape() {
        let c = demo_roster().unwrap();
        let juniors =
            |area| c.schools.iter().filter(|s| s.level == SchoolLevel::Junior && s.area == area).count();
        assert_eq!(juniors(Area::Urban), 3);
        assert_eq!(juniors(Area::Rural), 22);
        let townships: BTreeSet<_> =
            c.schools.iter().filter(|s| s.area == Area::Rural).map(|s| &s.township).collect();
        assert_eq!(townships.len(), 14);
        assert_eq!(c.alliances.len(), 5);
        assert!(c.pairings.len() >= 5);
        assert!(c.staff.len() >= 10);
        assert!(c.teachers.len() > 500);
    }
}
