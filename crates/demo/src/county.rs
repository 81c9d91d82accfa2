//! The demo county's roster. Names are invented; the shape follows seed 003.

use yanpei_domain::{Alliance, Area, School, SchoolCode, SchoolLevel};

/// The demo county: its alliances and schools.
#[derive(Debug, Clone)]
pub struct DemoCounty {
    /// The county's name.
    pub name: String,
    /// Five regional alliances.
    pub alliances: Vec<Alliance>,
    /// Every school.
    pub schools: Vec<School>,
}

/// The town (城镇) where the county seat is.
const TOWN: &str = "城关镇";

/// Fourteen townships (乡镇), with how many junior high schools each has (22 in all).
const TOWNSHIPS: [(&str, usize); 14] = [
    ("平安镇", 2),
    ("久胜镇", 2),
    ("丰收乡", 2),
    ("建民乡", 2),
    ("发展乡", 2),
    ("勤劳镇", 2),
    ("同乐乡", 2),
    ("欢胜乡", 2),
    ("柳河镇", 1),
    ("大罗镇", 1),
    ("民乐镇", 1),
    ("巨宝乡", 1),
    ("致富乡", 1),
    ("新胜乡", 1),
];

const ALLIANCE_NAMES: [&str; 5] =
    ["城东区域联合体", "城西区域联合体", "城北区域联合体", "南部区域联合体", "东部区域联合体"];

fn code(s: String) -> SchoolCode {
    s.parse().expect("demo school codes are short ASCII")
}

/// Builds the demo county: 3 town junior highs, 22 township junior highs in 14
/// townships, 4 town primary schools and one central primary school per
/// township (43 schools), grouped into 5 alliances. The three town junior highs
/// and the first junior highs of 平安镇 and 勤劳镇 are the base schools.
pub fn demo_county() -> DemoCounty {
    let mut schools = Vec::new();
    let alliance_of_township = |t: usize| format!("A{}", t % 5 + 1);
    let numerals = ["一", "二", "三", "四"];
    for (i, n) in numerals.iter().take(3).enumerate() {
        schools.push(School {
            code: code(format!("CGZ{}", i + 1)),
            name: format!("城关第{n}中学"),
            township: TOWN.into(),
            area: Area::Urban,
            level: SchoolLevel::Junior,
            alliance: format!("A{}", i + 1),
        });
    }
    for (i, n) in numerals.iter().enumerate() {
        schools.push(School {
            code: code(format!("CGX{}", i + 1)),
            name: format!("城关第{n}小学"),
            township: TOWN.into(),
            area: Area::Urban,
            level: SchoolLevel::Primary,
            alliance: format!("A{}", i % 5 + 1),
        });
    }
    for (t, (township, juniors)) in TOWNSHIPS.iter().enumerate() {
        let stem = township.trim_end_matches(['镇', '乡']);
        for (j, n) in numerals.iter().take(*juniors).enumerate() {
            let name = if *juniors == 1 { format!("{stem}中学") } else { format!("{stem}第{n}中学") };
            schools.push(School {
                code: code(format!("T{:02}Z{}", t + 1, j + 1)),
                name,
                township: (*township).into(),
                area: Area::Rural,
                level: SchoolLevel::Junior,
                alliance: alliance_of_township(t + 3),
            });
        }
        schools.push(School {
            code: code(format!("T{:02}X1", t + 1)),
            name: format!("{stem}中心小学"),
            township: (*township).into(),
            area: Area::Rural,
            level: SchoolLevel::Primary,
            alliance: alliance_of_township(t + 3),
        });
    }
    // Base schools: the three town junior highs lead A1..A3; the first junior
    // high of a township in A4 and A5 leads those.
    let base_of = |a: &str| -> SchoolCode {
        match a {
            "A1" => code("CGZ1".into()),
            "A2" => code("CGZ2".into()),
            "A3" => code("CGZ3".into()),
            other => schools
                .iter()
                .find(|s| s.alliance == other && s.level == SchoolLevel::Junior && s.area == Area::Rural)
                .map(|s| s.code.clone())
                .unwrap_or_else(|| code("CGZ1".into())),
        }
    };
    let alliances = ALLIANCE_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let c = format!("A{}", i + 1);
            Alliance { base_school: base_of(&c), code: c, name: (*name).into() }
        })
        .collect();
    DemoCounty { name: "示范县".into(), alliances, schools }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn the_county_has_the_seed_shape() {
        let c = demo_county();
        let juniors =
            |area| c.schools.iter().filter(|s| s.level == SchoolLevel::Junior && s.area == area).count();
        assert_eq!(juniors(Area::Urban), 3);
        assert_eq!(juniors(Area::Rural), 22);
        let townships: BTreeSet<_> =
            c.schools.iter().filter(|s| s.area == Area::Rural).map(|s| &s.township).collect();
        assert_eq!(townships.len(), 14);
        assert_eq!(c.alliances.len(), 5);
        let codes: BTreeSet<_> = c.schools.iter().map(|s| &s.code).collect();
        assert_eq!(codes.len(), c.schools.len(), "codes are unique");
        let mut members: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &c.schools {
            *members.entry(s.alliance.as_str()).or_default() += 1;
        }
        for a in &c.alliances {
            let base = c.schools.iter().find(|s| s.code == a.base_school).unwrap();
            assert_eq!(base.alliance, a.code, "the base school is a member of the alliance it leads");
            assert!(members[a.code.as_str()] >= 5);
        }
    }
}
