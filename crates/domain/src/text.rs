//! Records as text a clerk types: one parser per field for command-line flags, the
//! guided prompt and spreadsheet cells, with messages that name the field in Chinese.

use chrono::{NaiveDate, NaiveTime};

use crate::{Activity, Calendar, Field, ProjectStage, ValidationError};

/// Splits a list typed as 「张三、李四」, "a,b" or "a；b" into trimmed, non-empty items.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(['、', ',', '，', ';', '；', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn text_opt(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn number<T: std::str::FromStr>(field: Field, text: &str) -> Result<Option<T>, ValidationError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse().map(Some).map_err(|_| ValidationError::new(field, format!("「{t}」不是整数")))
}

impl Activity {
    /// Sets `field` from what a clerk typed; empty text clears an optional field; a date
    /// is filed under the built-in calendar's semester. Only the value is checked here;
    /// [`Activity::validate`] checks the whole record.
    pub fn set_text(&mut self, field: Field, text: &str) -> Result<(), ValidationError> {
        self.set_text_in(&Calendar::builtin(), field, text)
    }

    /// [`Activity::set_text`], filing a date under the semester `calendar` says it falls in.
    pub fn set_text_in(
        &mut self,
        calendar: &Calendar,
        field: Field,
        text: &str,
    ) -> Result<(), ValidationError> {
        let (b, t) = (&mut self.body, text.trim());
        match field {
            Field::Kind => self.kind = t.parse().map_err(|e| ValidationError::new(field, format!("{e}")))?,
            Field::Date => {
                self.date = NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .or_else(|_| NaiveDate::parse_from_str(t, "%Y/%m/%d"))
                    .map_err(|_| {
                        ValidationError::new(field, format!("「{t}」不是日期，请写成 2024-10-08"))
                    })?;
                self.semester = calendar.file(self.date)?;
            }
            Field::Semester => {
                self.semester = t.parse().map_err(|e| ValidationError::new(field, format!("{e}")))?;
            }
            Field::Actor => b.actor = t.to_owned(),
            Field::Subject => b.subject = text_opt(t),
            Field::Grade => b.grade = text_opt(t),
            Field::Teacher => b.teacher = text_opt(t),
            Field::Topic => b.topic = text_opt(t),
            Field::Notes => b.notes = text_opt(t),
            Field::Rating => b.rating = number(field, t)?,
            Field::DurationMinutes => b.duration_minutes = number(field, t)?,
            Field::StartTime => {
                b.details.start_time = match t {
                    "" => None,
                    t => Some(NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| {
                        ValidationError::new(field, format!("「{t}」不是时间，请写成 14:30"))
                    })?),
                }
            }
            Field::Location => b.details.location = text_opt(t),
            Field::Participants => b.details.participants = split_list(t),
            Field::PartnerSchools => {
                b.details.partner_schools = split_list(t)
                    .iter()
                    .map(|c| c.parse().map_err(|e| ValidationError::new(field, format!("{e}"))))
                    .collect::<Result<_, _>>()?
            }
            Field::Content => b.details.content = text_opt(t),
            Field::Form => b.details.form = text_opt(t),
            Field::Record => b.details.record = text_opt(t),
            Field::Summary => b.details.summary = text_opt(t),
            Field::Evaluation => b.details.evaluation = text_opt(t),
            Field::NextPlan => b.details.next_plan = text_opt(t),
            Field::Stage => {
                b.details.stage = match t {
                    "" => None,
                    t => Some(t.parse::<ProjectStage>()?),
                }
            }
            Field::Level => b.details.level = text_opt(t),
            Field::Days => b.details.days = number(field, t)?,
            Field::Expected => b.details.expected = number(field, t)?,
            Field::Present => b.details.present = number(field, t)?,
            Field::Absentees => b.details.absentees = split_list(t),
            Field::Publication => b.details.publication = text_opt(t),
            Field::Id | Field::School | Field::Version | Field::Attachments => {
                return Err(ValidationError::new(field, "此项由系统填写，不能直接修改"));
            }
        }
        Ok(())
    }

    /// The value of `field` as text, the way [`Activity::set_text`] reads it back.
    pub fn text(&self, field: Field) -> String {
        let (b, d) = (&self.body, &self.body.details);
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let n = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
        match field {
            Field::Id => self.id.to_string(),
            Field::School => self.school.to_string(),
            Field::Semester => self.semester.code(),
            Field::Date => self.date.to_string(),
            Field::Kind => self.kind.label().to_owned(),
            Field::Version => self.version.to_string(),
            Field::Actor => b.actor.clone(),
            Field::Subject => s(&b.subject),
            Field::Grade => s(&b.grade),
            Field::Teacher => s(&b.teacher),
            Field::Topic => s(&b.topic),
            Field::Notes => s(&b.notes),
            Field::Rating => b.rating.map(|r| r.to_string()).unwrap_or_default(),
            Field::DurationMinutes => n(b.duration_minutes),
            Field::StartTime => d.start_time.map(|t| t.format("%H:%M").to_string()).unwrap_or_default(),
            Field::Location => s(&d.location),
            Field::Participants => d.participants.join("、"),
            Field::PartnerSchools => {
                d.partner_schools.iter().map(ToString::to_string).collect::<Vec<_>>().join("、")
            }
            Field::Content => s(&d.content),
            Field::Form => s(&d.form),
            Field::Record => s(&d.record),
            Field::Summary => s(&d.summary),
            Field::Evaluation => s(&d.evaluation),
            Field::NextPlan => s(&d.next_plan),
            Field::Stage => d.stage.map(|x| x.label().to_owned()).unwrap_or_default(),
            Field::Level => s(&d.level),
            Field::Days => n(d.days),
            Field::Expected => n(d.expected),
            Field::Present => n(d.present),
            Field::Absentees => d.absentees.join("、"),
            Field::Publication => s(&d.publication),
            Field::Attachments => d.attachments.iter().map(|a| a.name.clone()).collect::<Vec<_>>().join("、"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActivityKind, Semester, Term, example_draft};

    #[test]
    fn every_editable_field_reads_back_what_it_writes() {
        let partner = "S02".parse().unwrap();
        for &kind in ActivityKind::ALL {
            let a = Activity::create(
                "S01".parse().unwrap(),
                Semester::new(2024, Term::First).unwrap(),
                NaiveDate::from_ymd_opt(2024, 10, 9).unwrap(),
                kind,
                example_draft(kind, &partner),
            )
            .unwrap();
            let mut b = a.clone();
            for &f in Field::ALL {
                if matches!(f, Field::Id | Field::School | Field::Version | Field::Attachments) {
                    continue;
                }
                b.set_text(f, &a.text(f)).unwrap_or_else(|e| panic!("{kind} {f:?}: {e}"));
            }
            assert_eq!(a, b, "{kind}");
        }
    }

    #[test]
    fn bad_text_names_the_field_in_chinese() {
        let mut a = Activity::create(
            "S01".parse().unwrap(),
            Semester::new(2024, Term::First).unwrap(),
            NaiveDate::from_ymd_opt(2024, 10, 9).unwrap(),
            ActivityKind::Training,
            example_draft(ActivityKind::Training, &"S02".parse().unwrap()),
        )
        .unwrap();
        let e = a.set_text(Field::Present, "三十").unwrap_err();
        assert_eq!(e.field, Field::Present);
        assert!(e.to_string().contains("实到人数"), "{e}");
        assert_eq!(a.set_text(Field::StartTime, "下午").unwrap_err().field, Field::StartTime);
        assert_eq!(a.set_text(Field::Stage, "快结束了").unwrap_err().field, Field::Stage);
        a.set_text(Field::Participants, "张三、李四, 王五").unwrap();
        assert_eq!(a.body.details.participants, ["张三", "李四", "王五"]);
    }
}
