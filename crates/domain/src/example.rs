//! A filled-in example of each kind's record: what templates, help texts and the
//! walk through the whole taxonomy show a clerk.

use chrono::NaiveTime;

use crate::{ActivityDraft, ActivityKind, AttachmentRef, Details, Family, ProjectStage, SchoolCode};

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// An example draft of `kind` that validates for a school other than `partner`;
/// `partner` is used where the kind involves a second school.
pub fn example_draft(kind: ActivityKind, partner: &SchoolCode) -> ActivityDraft {
    let mut d = ActivityDraft {
        actor: format!("王{}", kind.family().actor_label()),
        notes: s("示例记录"),
        ..Default::default()
    };
    let mut x = Details { location: s("本校录播教室"), ..Default::default() };
    match kind.family() {
        Family::Observation | Family::Evaluation => {
            d.subject = s("语文");
            d.grade = s("七年级");
            d.teacher = s("李老师");
            d.topic = s("春");
            d.duration_minutes = Some(45);
            if kind.family() == Family::Evaluation {
                d.rating = Some(90);
            }
        }
        Family::Lesson => {
            d.subject = s("数学");
            d.grade = s("八年级");
            d.topic = s("一次函数的图像");
            d.duration_minutes = Some(45);
            if matches!(kind, ActivityKind::StandardLesson | ActivityKind::QualityLesson) {
                d.rating = Some(88);
            }
        }
        Family::SameTopic => {
            d.subject = s("英语");
            d.topic = s("Unit 3 阅读课");
            x.participants = vec!["赵老师".into(), "钱老师".into()];
        }
        Family::Talk => {
            d.topic = s("新课标下的大单元教学");
            x.form = s("专题讲座");
            d.duration_minutes = Some(90);
        }
        Family::Prep => {
            d.subject = s("物理");
            d.topic = s("浮力");
            x.content = s("教学目标与重难点");
        }
        Family::Meeting => {
            d.subject = s("语文");
            d.topic = s("作业设计");
            x.participants = vec!["张老师".into(), "李老师".into(), "刘老师".into()];
            x.content = s("分层作业的设计与评价");
            x.start_time = NaiveTime::from_hms_opt(14, 30, 0);
            x.form = s("研讨");
            x.record = s("张老师主讲，全组讨论");
            x.summary = s("形成分层作业样例三份");
            x.evaluation = s("良好");
            x.next_plan = s("下周三：单元命题研讨");
        }
        Family::Project => {
            d.topic = s("农村初中阅读教学策略研究");
            x.stage = Some(ProjectStage::Running);
            x.level = s("县级");
            x.participants = vec!["赵老师".into(), "孙老师".into()];
        }
        Family::Writing => {
            d.topic = s("在听评课中成长");
            x.publication = s("县教研简报");
        }
        Family::Onsite => {
            x.days = Some(5);
            d.topic = s("七年级数学蹲点");
        }
        Family::Visit => {
            d.topic = s("常规教学视导");
        }
        Family::SiteMeeting => {
            d.topic = s("联合体月度现场会");
            x.partner_schools = vec![partner.clone()];
        }
        Family::Training => {
            d.topic = s("信息技术 2.0 培训");
            x.expected = Some(40);
            x.present = Some(38);
            x.absentees = vec!["周老师".into()];
            x.attachments = vec![AttachmentRef {
                sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
                name: "培训照片.jpg".into(),
                size: 1024,
            }];
        }
        Family::Delivery => {
            d.subject = s("语文");
            d.topic = s("背影");
            x.partner_schools = vec![partner.clone()];
        }
    }
    d.details = x;
    d
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::{Activity, Semester, Term};

    #[test]
    fn every_kind_has_a_valid_example() {
        let partner: SchoolCode = "S02".parse().unwrap();
        for &kind in ActivityKind::ALL {
            let a = Activity::create(
                "S01".parse().unwrap(),
                Semester::new(2024, Term::First).unwrap(),
                NaiveDate::from_ymd_opt(2024, 10, 9).unwrap(),
                kind,
                example_draft(kind, &partner),
            );
            assert!(a.is_ok(), "{kind}: {a:?}");
        }
    }
}
