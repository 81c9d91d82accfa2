//! A record's fields from command-line flags, or asked one by one (`--interactive`).

use std::io::{BufRead, Write};

use anyhow::{anyhow, bail};
use yanpei_domain::{Activity, ActivityKind, Calendar, Family, Field};

/// The fields of a record, as flags. Lists are separated by 、 or commas.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Fields {
    /// 活动类型, by Chinese name or code (see `yanpei node kinds`).
    #[arg(long)]
    kind: Option<String>,
    /// 日期, YYYY-MM-DD.
    #[arg(long)]
    date: Option<String>,
    /// 学期, e.g. 2024-2025-1; default: the semester containing the date.
    #[arg(long)]
    semester: Option<String>,
    /// 执行人: observer, evaluator, the teacher of the lesson, lecturer, host, author or 教研员.
    #[arg(long)]
    actor: Option<String>,
    /// 授课教师 (听课/评课: whose lesson).
    #[arg(long)]
    teacher: Option<String>,
    /// 学科.
    #[arg(long)]
    subject: Option<String>,
    /// 年级.
    #[arg(long)]
    grade: Option<String>,
    /// 课题/主题: the lesson's topic, a lecture's or meeting's theme, an article's title.
    #[arg(long)]
    topic: Option<String>,
    /// 备注.
    #[arg(long)]
    notes: Option<String>,
    /// 评分 1-100 (评课, 达标课, 优质课).
    #[arg(long)]
    rating: Option<String>,
    /// 时长（分钟）.
    #[arg(long)]
    minutes: Option<String>,
    /// 开始时间, HH:MM.
    #[arg(long)]
    start_time: Option<String>,
    /// 地点.
    #[arg(long)]
    location: Option<String>,
    /// 参与人员, e.g. 张三、李四.
    #[arg(long)]
    participants: Option<String>,
    /// 相关学校: codes of the other schools involved (送课下乡's receiving school, 现场会 guests).
    #[arg(long)]
    partner_schools: Option<String>,
    /// 内容.
    #[arg(long)]
    content: Option<String>,
    /// 形式 (专题讲座, 微讲座, 研讨, 线上…).
    #[arg(long)]
    form: Option<String>,
    /// 活动记录 (教研组活动).
    #[arg(long)]
    record: Option<String>,
    /// 小结.
    #[arg(long)]
    summary: Option<String>,
    /// 考评.
    #[arg(long)]
    evaluation: Option<String>,
    /// 下次活动安排.
    #[arg(long)]
    next_plan: Option<String>,
    /// 课题阶段: 立项, 研究中 or 结题.
    #[arg(long)]
    stage: Option<String>,
    /// 级别 (校级, 县级, 市级, 省级).
    #[arg(long)]
    level: Option<String>,
    /// 蹲点天数.
    #[arg(long)]
    days: Option<String>,
    /// 应到人数 (培训).
    #[arg(long)]
    expected: Option<String>,
    /// 实到人数 (培训).
    #[arg(long)]
    present: Option<String>,
    /// 缺席人员 (培训).
    #[arg(long)]
    absentees: Option<String>,
    /// 发表/获奖.
    #[arg(long)]
    publication: Option<String>,
}

impl Fields {
    /// Whether a kind was given (a new record needs one).
    pub(crate) fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    fn pairs(self) -> Vec<(Field, Option<String>)> {
        vec![
            (Field::Kind, self.kind),
            (Field::Date, self.date),
            (Field::Semester, self.semester),
            (Field::Actor, self.actor),
            (Field::Teacher, self.teacher),
            (Field::Subject, self.subject),
            (Field::Grade, self.grade),
            (Field::Topic, self.topic),
            (Field::Notes, self.notes),
            (Field::Rating, self.rating),
            (Field::DurationMinutes, self.minutes),
            (Field::StartTime, self.start_time),
            (Field::Location, self.location),
            (Field::Participants, self.participants),
            (Field::PartnerSchools, self.partner_schools),
            (Field::Content, self.content),
            (Field::Form, self.form),
            (Field::Record, self.record),
            (Field::Summary, self.summary),
            (Field::Evaluation, self.evaluation),
            (Field::NextPlan, self.next_plan),
            (Field::Stage, self.stage),
            (Field::Level, self.level),
            (Field::Days, self.days),
            (Field::Expected, self.expected),
            (Field::Present, self.present),
            (Field::Absentees, self.absentees),
            (Field::Publication, self.publication),
        ]
    }

    /// Sets every field given; an empty value clears an optional field; a date without
    /// a 学期 is filed under the semester `calendar` says it falls in.
    pub(crate) fn apply(self, a: &mut Activity, calendar: &Calendar) -> anyhow::Result<()> {
        for (field, value) in self.pairs() {
            if let Some(v) = value {
                a.set_text_in(calendar, field, &v)?;
            }
        }
        Ok(())
    }
}

/// The kinds, numbered, for a prompt or `yanpei node kinds`.
pub(crate) fn kind_menu() -> String {
    let mut out = String::new();
    for (i, k) in ActivityKind::ALL.iter().enumerate() {
        let required: Vec<&str> = k.family().required().iter().map(|f| f.label()).collect();
        out.push_str(&format!(
            "{:>2}. {}（{}）  执行人：{}；必填：{}\n",
            i + 1,
            k.label(),
            k.code(),
            k.family().actor_label(),
            if required.is_empty() { "无".to_owned() } else { required.join("、") }
        ));
    }
    out
}

/// The fields a guided entry asks for a kind, required ones first.
fn questions(family: Family) -> Vec<(Field, bool)> {
    let mut out = vec![(Field::Actor, true)];
    out.extend(family.required().iter().map(|f| (*f, true)));
    for &f in Field::ALL {
        let skip = matches!(
            f,
            Field::Id
                | Field::School
                | Field::Semester
                | Field::Date
                | Field::Kind
                | Field::Version
                | Field::Actor
                | Field::Attachments
        );
        if !skip && family.allows(f) && !family.required().contains(&f) {
            out.push((f, false));
        }
    }
    out
}

/// Asks for a record field by field on `input`, writing prompts to `output`;
/// a bad answer is explained and asked again. Ends at end of input with an error.
pub(crate) fn guided(
    a: &mut Activity,
    calendar: &Calendar,
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> anyhow::Result<()> {
    fn ask(input: &mut impl BufRead, output: &mut impl Write, prompt: &str) -> anyhow::Result<String> {
        write!(output, "{prompt}")?;
        output.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            bail!("输入已结束，记录未保存");
        }
        Ok(line.trim().to_owned())
    }
    writeln!(output, "请选择活动类型（输入序号或名称）：\n{}", kind_menu())?;
    loop {
        let answer = ask(input, output, "活动类型：")?;
        let by_number = answer.parse::<usize>().ok().and_then(|n| ActivityKind::ALL.get(n.wrapping_sub(1)));
        match by_number.map(|k| Ok(*k)).unwrap_or_else(|| answer.parse::<ActivityKind>()) {
            Ok(k) => {
                a.kind = k;
                break;
            }
            Err(e) => writeln!(output, "  × {e}")?,
        }
    }
    loop {
        let answer = ask(input, output, &format!("日期（YYYY-MM-DD，直接回车为 {}）：", a.date))?;
        if answer.is_empty() {
            break;
        }
        match a.set_text_in(calendar, Field::Date, &answer) {
            Ok(()) => break,
            Err(e) => writeln!(output, "  × {e}")?,
        }
    }
    let family = a.kind.family();
    for (field, required) in questions(family) {
        let label = if field == Field::Actor { family.actor_label() } else { field.label() };
        let hint = if required { "必填" } else { "可不填，回车跳过" };
        loop {
            let answer = ask(input, output, &format!("{label}（{hint}）："))?;
            if answer.is_empty() && required {
                writeln!(output, "  × {a}记录必须填写{label}", a = a.kind)?;
                continue;
            }
            match a.set_text(field, &answer) {
                Ok(()) => break,
                Err(e) => writeln!(output, "  × {e}")?,
            }
        }
    }
    a.validate().map_err(|e| anyhow!("{e}"))?;
    calendar.check_activity(a).map_err(|e| anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use yanpei_domain::{ActivityDraft, Semester, Term};

    use super::*;

    fn blank() -> Activity {
        Activity {
            id: uuid::Uuid::now_v7(),
            school: "S01".parse().unwrap(),
            semester: Semester::new(2024, Term::First).unwrap(),
            date: NaiveDate::from_ymd_opt(2024, 10, 9).unwrap(),
            kind: ActivityKind::LessonObservation,
            version: 1,
            deleted: false,
            body: ActivityDraft::default(),
        }
    }

    #[test]
    fn a_guided_training_record_re_asks_bad_answers() {
        // Kind by label, the default date, then: actor, topic, expected, present (a bad
        // number first), then every optional field skipped.
        let mut script = String::from("培训\n\n王老师\n信息技术培训\n40\n三十八\n38\n");
        script.push_str(&"\n".repeat(20));
        let mut out = Vec::new();
        let mut a = blank();
        guided(&mut a, &Calendar::builtin(), &mut script.as_bytes(), &mut out).unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert_eq!(a.kind, ActivityKind::Training);
        assert_eq!((a.body.details.expected, a.body.details.present), (Some(40), Some(38)));
        assert!(shown.contains("实到人数") && shown.contains("「三十八」不是整数"), "{shown}");
    }

    #[test]
    fn an_unanswered_required_field_is_asked_again_and_input_end_saves_nothing() {
        let mut a = blank();
        let err =
            guided(&mut a, &Calendar::builtin(), &mut "1\n\n\n".as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("未保存"), "{err}");
    }
}
