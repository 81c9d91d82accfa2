//! The pairings and gaps reports as tables.

use yanpei_report::pairs::family_label;
use yanpei_report::week::iso_week;
use yanpei_report::{Cell, GapGroup, PairReport, Table};

fn headers(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| (*s).to_owned()).collect()
}

fn yes_no(b: bool) -> Cell {
    (if b { "是" } else { "否" }).into()
}

/// A mean rounded to two places, as a number cell.
fn mean(x: f64) -> Cell {
    Cell::Number((x * 100.0).round() / 100.0)
}

/// 结对活动 (one row per pair, with the weak school's trend), 结对活动明细 (per pair and
/// kind) and 帮扶趋势 (per 强弱帮扶 pair and week).
pub fn pairings_tables(pairings: &[PairReport]) -> Vec<Table> {
    let summary = summary_rows(pairings);
    let kinds = kind_rows(pairings);
    let weeks = week_rows(pairings);
    vec![
        Table {
            name: "结对活动".into(),
            headers: headers(&[
                "帮扶（牵头）学校代码",
                "帮扶（牵头）学校",
                "结对学校代码",
                "结对学校",
                "结对方式",
                "结对类型",
                "帮扶校记录的跨校活动",
                "结对校记录的跨校活动",
                "跨校活动合计",
                "按类别",
                "受助校近几周周均活动",
                "受助校此前周均活动",
                "帮扶校近几周周均活动",
                "受助校是否上升",
                "差距是否缩小",
            ]),
            rows: summary,
        },
        Table {
            name: "结对活动明细".into(),
            headers: headers(&[
                "帮扶（牵头）学校",
                "结对学校",
                "活动类型",
                "类别",
                "帮扶校记录",
                "结对校记录",
                "合计",
            ]),
            rows: kinds,
        },
        Table {
            name: "帮扶趋势".into(),
            headers: headers(&[
                "帮扶学校",
                "受助学校",
                "周次",
                "周一",
                "帮扶校活动",
                "受助校活动",
                "跨校活动",
            ]),
            rows: weeks,
        },
    ]
}

/// 结对活动's rows: one per pair, with the weak school's trend.
fn summary_rows(pairings: &[PairReport]) -> Vec<Vec<Cell>> {
    pairings
        .iter()
        .map(|p| {
            let t = p.trend.as_ref().filter(|t| t.weeks > 0);
            let families =
                p.families.iter().map(|f| format!("{} {}", f.label, f.total)).collect::<Vec<_>>().join("、");
            vec![
                p.helper.clone().into(),
                p.helper_name.clone().into(),
                p.partner.clone().into(),
                p.partner_name.clone().into(),
                p.kind.label().into(),
                p.pairing_type.into(),
                p.from_helper.into(),
                p.from_partner.into(),
                p.total.into(),
                families.into(),
                t.map(|t| mean(t.weak_recent)).unwrap_or_else(|| "".into()),
                t.map(|t| mean(t.weak_previous)).unwrap_or_else(|| "".into()),
                t.map(|t| mean(t.strong_recent)).unwrap_or_else(|| "".into()),
                t.map(|t| yes_no(t.weak_rising)).unwrap_or_else(|| "".into()),
                t.map(|t| yes_no(t.catching_up)).unwrap_or_else(|| "".into()),
            ]
        })
        .collect()
}

/// 结对活动明细's rows: one per pair and kind.
fn kind_rows(pairings: &[PairReport]) -> Vec<Vec<Cell>> {
    pairings
        .iter()
        .flat_map(|p| {
            p.kinds.iter().map(move |k| {
                vec![
                    p.helper_name.clone().into(),
                    p.partner_name.clone().into(),
                    k.kind.label().into(),
                    family_label(k.kind.family()).into(),
                    k.from_helper.into(),
                    k.from_partner.into(),
                    (k.from_helper + k.from_partner).into(),
                ]
            })
        })
        .collect()
}

/// 帮扶趋势's rows: one per 强弱帮扶 pair and week.
fn week_rows(pairings: &[PairReport]) -> Vec<Vec<Cell>> {
    pairings
        .iter()
        .filter(|p| p.trend.is_some())
        .flat_map(|p| {
            p.weeks.iter().map(move |w| {
                vec![
                    p.helper_name.clone().into(),
                    p.partner_name.clone().into(),
                    iso_week(w.week).into(),
                    w.week.to_string().into(),
                    w.helper.into(),
                    w.partner.into(),
                    w.cross.into(),
                ]
            })
        })
        .collect()
}

/// 差距汇总 (one row per group) and 逐周对比 (per group and week).
pub fn gaps_tables(groups: &[GapGroup]) -> Vec<Table> {
    let summary = groups
        .iter()
        .map(|g| {
            vec![
                g.dimension.label().into(),
                g.code.clone().into(),
                g.name.clone().into(),
                g.schools.len().into(),
                g.total.into(),
                mean(g.per_school),
            ]
        })
        .collect();
    let weeks = groups
        .iter()
        .flat_map(|g| {
            g.weeks.iter().map(move |w| {
                vec![
                    g.dimension.label().into(),
                    g.name.clone().into(),
                    iso_week(w.week).into(),
                    w.week.to_string().into(),
                    w.count.into(),
                    mean(w.per_school),
                ]
            })
        })
        .collect();
    vec![
        Table {
            name: "差距汇总".into(),
            headers: headers(&["维度", "代码", "名称", "学校数", "学期活动合计", "校均活动"]),
            rows: summary,
        },
        Table {
            name: "逐周对比".into(),
            headers: headers(&["维度", "名称", "周次", "周一", "活动数", "校均活动"]),
            rows: weeks,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_become_a_summary_and_a_week_by_week_sheet() {
        let groups = vec![GapGroup {
            dimension: yanpei_report::Dimension::Area,
            code: "rural".into(),
            name: "乡镇".into(),
            schools: vec!["R1".into(), "R2".into(), "R3".into()],
            total: 10,
            per_school: 10.0 / 3.0,
            weeks: vec![yanpei_report::GapWeek {
                week: chrono::NaiveDate::from_ymd_opt(2024, 9, 9).unwrap(),
                count: 10,
                per_school: 10.0 / 3.0,
            }],
        }];
        let t = gaps_tables(&groups);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].rows[0][3], Cell::Number(3.0));
        assert_eq!(t[0].rows[0][5], Cell::Number(3.33));
        assert_eq!(t[1].rows[0][2], Cell::Text("2024-W37".into()));
    }
}
