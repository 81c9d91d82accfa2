//! An error as people read it: Chinese only, whatever layer it came from. A gRPC status
//! shows the hub's Chinese message (its code's English description never leaks through),
//! and control characters (NUL, ESC…) are shown escaped, never sent raw to a terminal.

/// The error and its causes, outermost first, as one line of Chinese.
pub(crate) fn human(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        match cause.downcast_ref::<tonic::Status>() {
            // A call the connection failed (not the hub): why, as `node sync` says it; the
            // transport's own (English) causes below it go to the debug log only.
            Some(s) if yanpei_node::reach::is_transport(s) => {
                parts.push(yanpei_node::reach::explain_unaddressed(s));
                break;
            }
            Some(s) => parts.push(status_text(s)),
            None => parts.push(cause.to_string()),
        }
    }
    escape_controls(&parts.join("："))
}

/// A status's message where the hub wrote one in Chinese; else the code in Chinese, with
/// the transport's own words in brackets.
pub(crate) fn status_text(s: &tonic::Status) -> String {
    let message = s.message().trim();
    if message.chars().any(is_cjk) {
        return message.to_owned();
    }
    let what = code_text(s.code());
    if message.is_empty() { what.to_owned() } else { format!("{what}（{message}）") }
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
        || ('\u{3000}'..='\u{303f}').contains(&c)
        || ('\u{ff00}'..='\u{ffef}').contains(&c)
}

fn code_text(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "成功",
        Code::Cancelled => "请求已取消",
        Code::Unknown => "未知错误",
        Code::InvalidArgument => "请求内容有误",
        Code::DeadlineExceeded => "请求超时",
        Code::NotFound => "未找到",
        Code::AlreadyExists => "已存在",
        Code::PermissionDenied => "无权进行此操作",
        Code::ResourceExhausted => "请求过于频繁，请稍后再试",
        Code::FailedPrecondition => "当前状态下不能进行此操作",
        Code::Aborted => "操作中止，请重试",
        Code::OutOfRange => "超出范围",
        Code::Unimplemented => "县中心不支持此操作（版本不一致？）",
        Code::Internal => "县中心内部错误",
        Code::Unavailable => "无法连接县中心",
        Code::DataLoss => "数据丢失",
        Code::Unauthenticated => "未能确认身份（证书或登录已失效？）",
    }
}

/// Control characters other than line breaks and tabs, written as `\u{1b}`.
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_in_chinese_and_controls_are_escaped() {
        // (status, what people read)
        let table = [
            (tonic::Status::not_found("名册中没有学校 X99"), "名册中没有学校 X99"),
            (tonic::Status::not_found(""), "未找到"),
            (tonic::Status::unavailable("tcp connect error"), "无法连接县中心（tcp connect error）"),
            (tonic::Status::permission_denied("无权查看学校 CGZ2"), "无权查看学校 CGZ2"),
        ];
        for (status, want) in table {
            let e = anyhow::Error::new(status.clone());
            assert_eq!(human(&e), want);
            assert!(!human(&e).contains("Some requested entity"));
            let e = anyhow::Error::new(status).context("查询失败");
            assert_eq!(human(&e), format!("查询失败：{want}"));
        }
        assert_eq!(escape_controls("a\u{1b}[31mb\0c\nd"), "a\\u{1b}[31mb\\u{0}c\nd");
        // A call the connection failed says why in Chinese, not the transport's English.
        let cut =
            std::io::Error::new(std::io::ErrorKind::InvalidData, "received fatal alert: BadCertificate");
        let e = anyhow::Error::new(tonic::Status::from_error(Box::new(cut)));
        assert!(human(&e).contains("TLS 握手被县中心拒绝"), "{}", human(&e));
        assert!(!human(&e).contains("fatal alert"), "{}", human(&e));
    }
}
