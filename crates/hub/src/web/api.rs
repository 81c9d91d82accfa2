//! The dashboard's JSON (and .xlsx) endpoints. Each request is authenticated from
//! the session cookie, answered through the query layer and written to the audit
//! log like an RPC (the RPC name is the HTTP method and path).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::Instrument;
use yanpei_domain::{SchoolCode, Semester};
use yanpei_store::audit::AuditEntry;

use super::Web;
use super::assets::respond;
use super::pages;
pub(super) use super::reply::{Failure, json};
use super::session::caller;
use super::view::{PAGES, Params};
use crate::HubError;
use crate::accounts::Caller;
use crate::audit::{Note, caller_name};
use crate::scope::{self, Readable};

/// Writes one audit entry (the log is the same as the gRPC calls').
pub(super) async fn audit(web: &Web, caller: String, rpc: &str, schools: Vec<String>, rows: u64, code: i32) {
    web.audit
        .record(AuditEntry { at: chrono::Utc::now(), caller, rpc: rpc.to_owned(), schools, rows, code })
        .await;
}

fn params(raw: Option<&str>) -> Result<(Params, Option<String>, Option<usize>), HubError> {
    let mut p = Params::default();
    let (mut format, mut table) = (None, None);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if v.is_empty() {
            continue;
        }
        match k.as_ref() {
            "semester" => {
                p.semester = Some(v.parse::<Semester>().map_err(|e| {
                    HubError::InvalidArgument(format!("学期「{v}」无法识别：{e}（例如 2024-2025-1）"))
                })?);
            }
            "school" => {
                p.school = Some(
                    v.parse::<SchoolCode>()
                        .map_err(|e| HubError::InvalidArgument(format!("学校代码「{v}」无效：{e}")))?,
                );
            }
            "alliance" => p.alliance = Some(short(&v, "联合体")?),
            "subject" => p.subject = Some(short(&v, "学科")?),
            "status" => match v.as_ref() {
                "open" | "behind" => p.status = Some(v.into_owned()),
                _ => return Err(HubError::InvalidArgument(format!("状态「{v}」无法识别"))),
            },
            "from" | "to" => {
                let d = v
                    .parse::<chrono::NaiveDate>()
                    .map_err(|_| HubError::InvalidArgument(format!("日期「{v}」无效（例如 2024-09-02）")))?;
                if k == "from" {
                    p.from = Some(d);
                } else {
                    p.to = Some(d);
                }
            }
            "kind" => {
                p.kind = Some(
                    v.parse::<yanpei_domain::ActivityKind>()
                        .map_err(|_| HubError::InvalidArgument(format!("活动类型「{v}」无法识别")))?,
                );
            }
            "format" => format = Some(v.into_owned()),
            "table" => {
                table = Some(
                    v.parse::<usize>()
                        .map_err(|_| HubError::InvalidArgument(format!("表格序号「{v}」无效")))?,
                );
            }
            _ => {}
        }
    }
    Ok((p, format, table))
}

/// A short free-text parameter (an alliance code, a subject), refused if it is not.
fn short(v: &str, what: &str) -> Result<String, HubError> {
    if v.chars().count() > 32 || v.chars().any(char::is_control) {
        return Err(HubError::InvalidArgument(format!(
            "{what}「{}」无效",
            v.chars().take(32).collect::<String>()
        )));
    }
    Ok(v.to_owned())
}

/// Who the caller is and what they may see: the page's header and menus.
pub(super) async fn me(State(web): State<Web>, headers: HeaderMap) -> Response {
    let who = match caller(&web, &headers).await {
        Ok(c) => c,
        Err(e) => return Failure::from(e).into_response(),
    };
    match me_body(&web, &who).await {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => Failure::from(e).into_response(),
    }
}

async fn me_body(web: &Web, who: &Caller) -> Result<serde_json::Value, HubError> {
    let roster = web.query.roster().await?;
    let readable = scope::readable(&web.query.store, &who.identity).await?;
    let schools: Vec<serde_json::Value> = roster
        .schools
        .iter()
        .filter(|s| match &readable {
            Readable::All => true,
            Readable::Schools(set) => set.contains(&s.code),
        })
        .map(|s| serde_json::json!({ "code": s.code.to_string(), "name": s.name, "alliance": s.alliance }))
        .collect();
    let today = chrono::Utc::now().date_naive();
    let mut semesters: Vec<Semester> = roster.semesters.iter().map(|s| s.semester).collect();
    semesters.extend(roster.calendar().containing(today));
    let default = pages::default_semester(&web.query, &roster).await?;
    semesters.extend(default);
    semesters.sort();
    semesters.dedup();
    semesters.reverse();
    Ok(serde_json::json!({
        "name": who.display_name,
        "identity": caller_name(&who.identity),
        "role": role_label(&who.identity),
        "kind": match &who.identity {
            yanpei_pki::Identity::Operator { .. } => "operator",
            yanpei_pki::Identity::Staff { .. } => "staff",
            _ => "school",
        },
        "county": roster.county,
        "whole_county": matches!(readable, Readable::All),
        "schools": schools,
        "semesters": semesters.iter().map(|s| serde_json::json!({ "code": s.code(), "label": s.to_string() })).collect::<Vec<_>>(),
        "default_semester": default.map(Semester::code),
        "pages": PAGES,
    }))
}

fn role_label(who: &yanpei_pki::Identity) -> &'static str {
    match who {
        yanpei_pki::Identity::Operator { .. } => "管理员",
        yanpei_pki::Identity::Staff { .. } => "教研员",
        yanpei_pki::Identity::Node { .. } => "学校节点",
        #[allow(unreachable_patterns)]
        _ => "校长",
    }
}

/// One page's data as JSON, or with `format=xlsx` its tables (or table `table=N`) as a workbook.
pub(super) async fn view(
    State(web): State<Web>,
    Path(page): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let rpc = format!("GET /api/view/{}", page.chars().take(32).collect::<String>());
    let who = match caller(&web, &headers).await {
        Ok(c) => c,
        Err(e) => {
            let f = Failure::from(e);
            audit(&web, "（无身份）".into(), &rpc, Vec::new(), 0, f.code as i32).await;
            return f.into_response();
        }
    };
    let note = Note::default();
    let span = tracing::info_span!("dashboard", page = %page, caller = %caller_name(&who.identity));
    let answer = answer(&web, &who, &note, &page, raw.as_deref()).instrument(span).await;
    let (schools, rows) = note.take();
    let code = match &answer {
        Ok(_) => 0,
        Err(f) => f.code as i32,
    };
    audit(&web, caller_name(&who.identity), &rpc, schools, rows, code).await;
    match answer {
        Ok(res) => res,
        Err(f) => f.into_response(),
    }
}

async fn answer(
    web: &Web,
    who: &Caller,
    note: &Note,
    page: &str,
    raw: Option<&str>,
) -> Result<Response, Failure> {
    let (p, format, table) = params(raw)?;
    let v = pages::build(&web.query, &who.identity, note, page, p).await?;
    note.rows(v.tables.iter().map(|t| t.table.rows.len()).sum());
    match format.as_deref() {
        None | Some("json") => Ok(json(StatusCode::OK, &v)),
        Some("xlsx") => {
            let tables: Vec<yanpei_report::Table> = match table {
                None => v.tables.into_iter().map(|t| t.table).collect(),
                Some(i) => vec![
                    v.tables
                        .into_iter()
                        .nth(i)
                        .ok_or_else(|| HubError::NotFound(format!("本页没有第 {i} 张表")))?
                        .table,
                ],
            };
            let bytes =
                yanpei_report::to_xlsx(&tables).map_err(|e| HubError::Internal(format!("xlsx: {e}")))?;
            let mut res = respond(
                StatusCode::OK,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                bytes,
            );
            let name = tables.first().map(|t| t.name.clone()).unwrap_or_else(|| "报表".into());
            let disposition = format!(
                "attachment; filename=\"{page}.xlsx\"; filename*=UTF-8''{}.xlsx",
                form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
            );
            if let Ok(h) = axum::http::HeaderValue::from_str(&disposition) {
                res.headers_mut().insert(axum::http::header::CONTENT_DISPOSITION, h);
            }
            Ok(res)
        }
        Some(other) => {
            Err(HubError::InvalidArgument(format!("不支持的格式「{other}」：可用 json 或 xlsx")).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_and_bad_ones_refused_in_chinese() {
        let (p, format, table) = params(Some(
            "semester=2024-2025-1&school=CGZ1&format=xlsx&table=2&x=y&alliance=A1&from=2024-09-02",
        ))
        .unwrap();
        assert_eq!(p.alliance.as_deref(), Some("A1"));
        assert_eq!(p.from.map(|d| d.to_string()).as_deref(), Some("2024-09-02"));
        assert_eq!(p.semester.map(Semester::code).as_deref(), Some("2024-2025-1"));
        assert_eq!(p.school.map(|s| s.to_string()).as_deref(), Some("CGZ1"));
        assert_eq!((format.as_deref(), table), (Some("xlsx"), Some(2)));
        let (p, format, table) = params(None).unwrap();
        assert!(p.semester.is_none() && p.school.is_none() && format.is_none() && table.is_none());
        for bad in
            ["semester=2024", "table=-1", "school=%00", "from=9月", "status=x", "subject=%01", "kind=x"]
        {
            let err = params(Some(bad)).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("无效") || err.contains("无法识别"), "{bad}: {err}");
        }
    }

    #[test]
    fn failures_keep_the_grpc_code_and_message() {
        let f = Failure::from(HubError::PermissionDenied("无权查询学校 CGZ2".into()));
        assert_eq!(
            (f.status, f.code, f.message.as_str()),
            (StatusCode::FORBIDDEN, tonic::Code::PermissionDenied, "无权查询学校 CGZ2")
        );
        let f = Failure::from(HubError::Unauthenticated("请先登录".into()));
        assert_eq!(f.status, StatusCode::UNAUTHORIZED);
        let f = Failure::from(HubError::Internal("secret detail".into()));
        assert_eq!(f.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!f.message.contains("secret"), "internal details stay in the log");
    }
}
