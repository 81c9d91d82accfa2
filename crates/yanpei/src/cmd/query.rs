//! `yanpei query ...`: county statistics, the sync ledger and the audit log, as the
//! operator (or whoever the certificate or login token names).

use std::path::PathBuf;

use anyhow::Context;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use yanpei_domain::{ActivityKind, Semester};
use yanpei_proto::pb::{self, query_service_client::QueryServiceClient};

use super::login::{channel, default_token_file, load_token};
use super::read_pem;

#[derive(Debug, clap::Args)]
pub(crate) struct Conn {
    /// The hub, e.g. https://127.0.0.1:7443.
    #[arg(long, env = "YANPEI_HUB", default_value = "https://127.0.0.1:7443")]
    hub: String,
    /// The county CA certificate.
    #[arg(long, env = "YANPEI_CA", default_value = "pki/ca.pem")]
    ca: PathBuf,
    /// Your client certificate (operator, or a school's node).
    #[arg(long, env = "YANPEI_CERT", default_value = "pki/operator-admin.pem")]
    cert: PathBuf,
    /// Your private key.
    #[arg(long, env = "YANPEI_KEY", default_value = "pki/operator-admin.key")]
    key: PathBuf,
    /// The name in the hub's certificate.
    #[arg(long, default_value = yanpei_pki::HUB_DNS_NAME)]
    server_name: String,
    /// Present the login token saved by `yanpei login` instead of a certificate. Without
    /// this flag the certificate is used if its file exists, else the default token file
    /// ($YANPEI_TOKEN_FILE, else ~/.config/yanpei/token).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

/// Sends `authorization: Bearer <token>` with every call (or nothing, with a certificate).
#[derive(Debug, Clone)]
pub(crate) struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A query client, authenticated by certificate or by login token.
pub(crate) type Client = QueryServiceClient<InterceptedService<Channel, Bearer>>;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum By {
    Alliance,
    School,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Counts of live activities by kind, for the county, an alliance, a township, the
    /// urban or the rural schools, or a school; optionally one subject and a range of weeks.
    Stats {
        #[command(flatten)]
        conn: Conn,
        /// 学期, e.g. 2024-2025-1 (default: all).
        #[arg(long)]
        semester: Option<String>,
        /// Only this school.
        #[arg(long, conflicts_with_all = ["alliance", "township", "area"])]
        school: Option<String>,
        /// Only this alliance.
        #[arg(long, conflicts_with_all = ["township", "area"])]
        alliance: Option<String>,
        /// Only this township's schools (乡镇, by its name on the roster).
        #[arg(long, conflicts_with = "area")]
        township: Option<String>,
        /// Only urban (城镇) or only rural (乡镇) schools: urban or rural.
        #[arg(long)]
        area: Option<String>,
        /// Only this subject, e.g. 语文.
        #[arg(long)]
        subject: Option<String>,
        /// From this ISO week on: 2024-W37, or any day of it (YYYY-MM-DD).
        #[arg(long)]
        from_week: Option<String>,
        /// Up to this ISO week, inclusive (same forms).
        #[arg(long)]
        to_week: Option<String>,
        /// Break down by alliance or school.
        #[arg(long)]
        by: Option<By>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Conflicting edits: two nodes changed one record before syncing; the losing versions.
    Conflicts {
        #[command(flatten)]
        conn: Conn,
        /// Only this school.
        #[arg(long)]
        school: Option<String>,
        /// Also resolved ones.
        #[arg(long)]
        all: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The most recent sync sessions.
    Ledger {
        #[command(flatten)]
        conn: Conn,
        /// Only this school.
        #[arg(long)]
        school: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The hub's audit log, newest first: who called which RPC, for which schools, with what outcome.
    Audit {
        #[command(flatten)]
        conn: Conn,
        /// Only this caller: node:CODE, staff:ID or operator:NAME.
        #[arg(long)]
        caller: Option<String>,
        /// Only calls that concerned this school.
        #[arg(long)]
        school: Option<String>,
        /// How many (at most 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// A gRPC status code as the operator reads it.
fn outcome(code: i32) -> String {
    match code {
        0 => "成功".into(),
        1 => "已取消".into(),
        3 => "参数无效".into(),
        4 => "超时".into(),
        5 => "不存在".into(),
        7 => "无权限".into(),
        8 => "超限（限流/过大）".into(),
        9 => "前提不满足".into(),
        13 => "内部错误".into(),
        14 => "暂不可用".into(),
        16 => "未认证".into(),
        n => format!("代码 {n}"),
    }
}

pub(crate) async fn client(c: &Conn) -> anyhow::Result<Client> {
    let token_file = match &c.token_file {
        Some(p) => Some(p.clone()),
        None if c.cert.is_file() => None,
        None => {
            let default = default_token_file();
            if !default.is_file() {
                anyhow::bail!(
                    "找不到客户端证书 {}，也没有登录凭据 {}：请用 --cert/--key 指定证书，或先 yanpei login 登录",
                    c.cert.display(),
                    default.display()
                );
            }
            Some(default)
        }
    };
    let (identity, bearer) = match token_file {
        Some(path) => {
            let token = load_token(&path)?;
            let value = format!("Bearer {token}")
                .parse::<MetadataValue<Ascii>>()
                .with_context(|| format!("{} does not hold a token", path.display()))?;
            (None, Bearer(Some(value)))
        }
        None => (Some((read_pem(&c.cert)?, read_pem(&c.key)?)), Bearer(None)),
    };
    let channel = channel(&c.hub, &c.ca, &c.server_name, identity).await?;
    Ok(QueryServiceClient::with_interceptor(channel, bearer))
}

fn kind_label(raw: i32) -> String {
    yanpei_proto::kind_from_pb(raw).map(|k| k.label().to_owned()).unwrap_or_else(|_| format!("未知({raw})"))
}

pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Stats {
            conn,
            semester,
            school,
            alliance,
            township,
            area,
            subject,
            from_week,
            to_week,
            by,
            json,
        } => {
            let semester = semester.map(|s| s.parse::<Semester>()).transpose()?;
            let target = match (school, alliance, township, area) {
                (Some(s), ..) => Some(pb::scope::Target::SchoolCode(s)),
                (None, Some(a), ..) => Some(pb::scope::Target::AllianceCode(a)),
                (None, None, Some(t), _) => Some(pb::scope::Target::Township(t)),
                (None, None, None, Some(a)) => Some(pb::scope::Target::Area(
                    yanpei_domain::Area::from_code(a.trim()).map(|a| a.code().to_owned()).unwrap_or(a),
                )),
                // No scope: what the caller may read (the county for the operator, a
                // principal's own school, a 教研员's assigned schools).
                (None, None, None, None) => None,
            };
            let group_by = match by {
                None => pb::GroupBy::Unspecified,
                Some(By::Alliance) => pb::GroupBy::Alliance,
                Some(By::School) => pb::GroupBy::School,
            };
            let reply = client(&conn)
                .await?
                .stats(pb::StatsRequest {
                    semester: semester.map(yanpei_proto::semester_to_pb),
                    scope: target.map(|target| pb::Scope { target: Some(target) }),
                    group_by: group_by as i32,
                    subject: subject.unwrap_or_default(),
                    from_week: from_week.unwrap_or_default(),
                    to_week: to_week.unwrap_or_default(),
                })
                .await?
                .into_inner();
            if json {
                let rows: Vec<_> = reply
                    .rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "group_code": r.group_code, "group_name": r.group_name,
                            "kind": yanpei_proto::kind_from_pb(r.kind).map(ActivityKind::code).unwrap_or("unknown"),
                            "kind_label": kind_label(r.kind), "count": r.count,
                            "complete_meetings": r.complete,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "total": reply.total, "rows": rows }))?
                );
            } else {
                let period = semester.map(|s| s.to_string()).unwrap_or_else(|| "全部学期".into());
                println!("{period}");
                for r in &reply.rows {
                    let group = if r.group_code.is_empty() {
                        String::new()
                    } else {
                        format!("{} {}  ", r.group_code, r.group_name)
                    };
                    let meetings = if r.kind == pb::ActivityKind::GroupMeeting as i32 {
                        format!(
                            "  （五定四有齐全 {}，不全 {}）",
                            r.complete,
                            r.count.saturating_sub(r.complete)
                        )
                    } else {
                        String::new()
                    };
                    println!("{group}{:<10}{:>8}{meetings}", kind_label(r.kind), r.count);
                }
                println!("合计 {}", reply.total);
            }
        }
        Command::Conflicts { conn, school, all, json } => conflicts(conn, school, all, json).await?,
        Command::Ledger { conn, school, limit, json } => ledger(conn, school, limit, json).await?,
        Command::Audit { conn, caller, school, limit, json } => {
            audit(conn, caller, school, limit, json).await?
        }
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn conflicts(conn: Conn, school: Option<String>, all: bool, json: bool) -> anyhow::Result<()> {
    let reply = client(&conn)
        .await?
        .conflicts(pb::ConflictsRequest {
            school_code: school.unwrap_or_default(),
            include_resolved: all,
            limit: 500,
        })
        .await?
        .into_inner();
    if json {
        let rows: Vec<_> = reply
            .conflicts
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id, "activity_id": c.activity_id, "version": c.version,
                    "winning_school": c.winning_school, "losing_school": c.losing_school,
                    "detected_at": c.detected_at, "resolved_version": c.resolved_version,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for c in &reply.conflicts {
            let state = match c.resolved_version {
                0 => "未解决".to_owned(),
                v => format!("已由第 {v} 版解决"),
            };
            println!(
                "{} 记录 {} 第 {} 版：保留 {} 的修改，{} 的修改未采用（已保存）· {state}",
                c.detected_at, c.activity_id, c.version, c.winning_school, c.losing_school
            );
        }
        println!("共 {} 处", reply.conflicts.len());
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn ledger(conn: Conn, school: Option<String>, limit: u32, json: bool) -> anyhow::Result<()> {
    let reply = client(&conn)
        .await?
        .sync_ledger(pb::SyncLedgerRequest { school_code: school.unwrap_or_default(), limit })
        .await?
        .into_inner();
    if json {
        let rows: Vec<_> = reply
            .sessions
            .iter()
            .map(|s| {
                serde_json::json!({
                    "session_id": s.session_id, "node_id": s.node_id, "school_code": s.school_code,
                    "started_at": s.started_at, "finished_at": s.finished_at, "received": s.received,
                    "applied": s.applied, "unchanged": s.unchanged, "rejected": s.rejected,
                    "rejections": s.rejections, "acked_seq": s.acked_seq, "pull_cursor": s.pull_cursor,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for s in &reply.sessions {
            let state = if s.finished_at.is_empty() { "未完成" } else { "完成" };
            println!(
                "{} {} {state} 收到 {} 写入 {} 已有 {} 拒收 {} 确认到 {}",
                s.started_at, s.school_code, s.received, s.applied, s.unchanged, s.rejected, s.acked_seq
            );
            for r in &s.rejections {
                println!("    拒收原因：{r}");
            }
        }
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn audit(
    conn: Conn,
    caller: Option<String>,
    school: Option<String>,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    let reply = client(&conn)
        .await?
        .audit(pb::AuditRequest {
            limit,
            caller: caller.unwrap_or_default(),
            school_code: school.unwrap_or_default(),
        })
        .await?
        .into_inner();
    if json {
        let rows: Vec<_> = reply
            .entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "at": e.at, "caller": e.caller, "rpc": e.rpc, "schools": e.schools,
                    "rows": e.rows, "code": e.code, "outcome": outcome(e.code),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for e in &reply.entries {
            let rpc = e.rpc.rsplit('/').next().unwrap_or(&e.rpc);
            let schools = if e.schools.is_empty() { "—".to_owned() } else { e.schools.join("、") };
            println!("{} {} {rpc} 学校 {schools} {} 条 {}", e.at, e.caller, e.rows, outcome(e.code));
        }
    }
    Ok(())
}
