//! Which columns a kind's sheet has, what their headers say, and how a header read
//! back from a clerk's workbook maps to a field.

use yanpei_domain::{ActivityKind, Family, Field};

/// The sheet every workbook may carry with the explanations; the importer skips it.
pub const GUIDE_SHEET: &str = "说明";
/// The column the error workbook adds with each bad row's reasons; the importer ignores it.
pub const REASON_HEADER: &str = "错误原因";
/// The column the error workbook adds with each bad row's original row number; ignored on import.
pub const SOURCE_ROW_HEADER: &str = "原行号";
/// A row whose 备注 starts with this is the template's example: the importer skips it.
pub const EXAMPLE_MARK: &str = "【示例】";

/// One column of a kind's sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The field the column fills in.
    pub field: Field,
    /// The header, with `*` after a required field.
    pub header: String,
    /// Whether a record of the kind must fill it in.
    pub required: bool,
}

/// Fields a clerk never types: the system fills them in.
fn system(field: Field) -> bool {
    matches!(field, Field::Id | Field::School | Field::Version | Field::Kind | Field::Attachments)
}

/// The label of `field` on a sheet of `family`: the 执行人 column is called what the
/// family calls it (听课人, 主讲人, 作者…), every other column by the field's label.
pub fn label(family: Family, field: Field) -> &'static str {
    if field == Field::Actor { family.actor_label() } else { field.label() }
}

/// The columns of `kind`'s sheet, in order: 日期 and the 执行人 first, then the fields the
/// kind requires, then the ones it allows, then 学期 (worked out from the date when empty)
/// and 备注. Exactly the fields the kind allows that a clerk can type.
pub fn columns(kind: ActivityKind) -> Vec<Column> {
    let family = kind.family();
    let mut order = vec![Field::Date, Field::Actor];
    for &f in family.required() {
        if !order.contains(&f) {
            order.push(f);
        }
    }
    for &f in Field::ALL {
        let last = matches!(f, Field::Semester | Field::Notes);
        if family.allows(f) && !system(f) && !last && !order.contains(&f) {
            order.push(f);
        }
    }
    order.extend([Field::Semester, Field::Notes]);
    order
        .into_iter()
        .map(|field| {
            let required = matches!(field, Field::Date | Field::Actor) || family.required().contains(&field);
            let star = if required { "*" } else { "" };
            Column { field, header: format!("{}{star}", label(family, field)), required }
        })
        .collect()
}

/// What a header cell of a clerk's workbook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// A field's column.
    Field(Field),
    /// A column the importer leaves alone (错误原因, 原行号).
    Ignored,
    /// An empty header cell.
    Blank,
}

/// Reads a header: a field's label or wire name, any family's name for the 执行人, or
/// 执行人 itself; a trailing `*` (required mark) and spaces do not matter.
/// `None`: not a column this importer knows.
pub fn parse_header(text: &str) -> Option<Header> {
    let t = text.trim().trim_end_matches(['*', '＊']).trim();
    if t.is_empty() {
        return Some(Header::Blank);
    }
    if t == REASON_HEADER || t == SOURCE_ROW_HEADER {
        return Some(Header::Ignored);
    }
    if let Ok(f) = t.parse::<Field>() {
        return Some(Header::Field(f));
    }
    let actor = ActivityKind::ALL.iter().any(|k| k.family().actor_label() == t);
    actor.then_some(Header::Field(Field::Actor))
}

/// How to fill in `field`, for the 说明 sheet.
pub fn help(family: Family, field: Field) -> String {
    let text = match field {
        Field::Date => "活动日期，写成 2024-10-08（也可写 2024/10/08，或用 Excel 的日期格式）",
        Field::Semester => "可不填：按日期推算。要填时写成 2024-2025-1（学年 + 第几学期）",
        Field::Actor => {
            return format!("{}的姓名（即记录的执行人）", family.actor_label());
        }
        Field::Subject => "学科，如 语文、数学",
        Field::Grade => "年级，如 七年级",
        Field::Teacher => "授课教师的姓名（或名册中的教师编号）",
        Field::Topic => "课题、讲座题目、活动主题或文章标题",
        Field::Rating => "评分：1 到 100 的整数",
        Field::DurationMinutes => "时长：分钟数，整数，如 45",
        Field::StartTime => "开始时间，写成 14:30",
        Field::Location => "地点",
        Field::Participants => "参与人员的姓名，多人用 、 或逗号分隔",
        Field::PartnerSchools => "相关学校（本校以外）的学校代码，多所用 、 分隔",
        Field::Content => "内容",
        Field::Form => "形式，如 研讨、专题讲座、线上",
        Field::Record => "活动记录",
        Field::Summary => "小结",
        Field::Evaluation => "考评",
        Field::NextPlan => "下次活动安排",
        Field::Stage => "课题阶段：立项、研究中 或 结题",
        Field::Level => "级别，如 校级、县级、市级、省级",
        Field::Days => "蹲点天数：1 到 31 的整数",
        Field::Expected => "应到人数：整数",
        Field::Present => "实到人数：整数，不多于应到人数",
        Field::Absentees => "缺席人员的姓名，多人用 、 分隔",
        Field::Publication => "发表的刊物或获奖情况",
        Field::Notes => "备注。以「【示例】」开头的行是示例，导入时跳过",
        Field::Id => "导出时填写；新增记录请留空。填了编号的行只与本节点已有的记录核对，不会新增",
        Field::Kind => "活动类型：只在一个工作表里混填多种类型时需要",
        Field::School | Field::Version | Field::Attachments => "由系统填写",
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_exactly_what_the_kind_allows_a_clerk_to_type() {
        for &kind in ActivityKind::ALL {
            let family = kind.family();
            let cols = columns(kind);
            let fields: Vec<Field> = cols.iter().map(|c| c.field).collect();
            for &f in Field::ALL {
                let expected = family.allows(f) && !system(f);
                assert_eq!(fields.contains(&f), expected, "{kind} {f:?}");
            }
            let mut dedup = fields.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(dedup.len(), fields.len(), "{kind}: a field twice");
            for c in &cols {
                let required =
                    c.field == Field::Date || c.field == Field::Actor || family.required().contains(&c.field);
                assert_eq!(c.header.ends_with('*'), required, "{kind} {}", c.header);
                assert_eq!(parse_header(&c.header), Some(Header::Field(c.field)), "{kind} {}", c.header);
            }
        }
    }

    #[test]
    fn observation_headers_read_as_a_clerk_expects() {
        let headers: Vec<String> =
            columns(ActivityKind::LessonObservation).into_iter().map(|c| c.header).collect();
        assert_eq!(&headers[..4], ["日期*", "听课人*", "授课教师*", "学科*"]);
        assert_eq!(headers.last().map(String::as_str), Some("备注"));
    }

    #[test]
    fn headers_by_label_name_or_actor_name() {
        assert_eq!(parse_header(" 授课教师＊ "), Some(Header::Field(Field::Teacher)));
        assert_eq!(parse_header("teacher"), Some(Header::Field(Field::Teacher)));
        assert_eq!(parse_header("执行人"), Some(Header::Field(Field::Actor)));
        assert_eq!(parse_header("作者"), Some(Header::Field(Field::Actor)));
        assert_eq!(parse_header("错误原因"), Some(Header::Ignored));
        assert_eq!(parse_header(""), Some(Header::Blank));
        assert_eq!(parse_header("心得体会"), None);
    }
}
