//! `yanpei node ...`: a school's node agent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use chrono::{NaiveDate, NaiveTime};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, SchoolCode, Semester};
use yanpei_node::{Agent, Backoff, HubEndpoint, Schedule, SystemClock, TlsMaterial, run_daemon};
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;

use super::read_pem;

#[derive(Debug, clap::Args)]
pub(crate) struct StoreArg {
    /// The node's local store (one SQLite file).
    #[arg(long, env = "YANPEI_NODE_STORE", default_value = "yanpei-node.sqlite")]
    store: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create this school's store and remember how to reach the hub.
    Init {
        #[command(flatten)]
        store: StoreArg,
        /// The school's code (as on the county roster).
        #[arg(long)]
        school: String,
        /// The hub, e.g. https://hub.example.edu.cn:7443.
        #[arg(long)]
        hub: String,
        /// The county CA certificate.
        #[arg(long)]
        ca: PathBuf,
        /// This school's node certificate (`yanpei ca issue-node`).
        #[arg(long)]
        cert: PathBuf,
        /// This school's node key.
        #[arg(long)]
        key: PathBuf,
        /// The name in the hub's certificate.
        #[arg(long, default_value = yanpei_pki::HUB_DNS_NAME)]
        server_name: String,
    },
    /// Record an activity (活动记录).
    Record {
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        fields: Fields,
    },
    /// Change fields of a record; an empty value clears an optional field.
    Edit {
        #[command(flatten)]
        store: StoreArg,
        /// The record's id (from `node list`).
        id: String,
        #[command(flatten)]
        fields: Fields,
    },
    /// Delete a record (kept as a tombstone so the deletion syncs).
    Delete {
        #[command(flatten)]
        store: StoreArg,
        /// The record's id.
        id: String,
    },
    /// List live records.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only this semester (2024-2025-1).
        #[arg(long)]
        semester: Option<String>,
        /// Only this kind (听课, 评课, 研讨课, 讲座, 教研组活动).
        #[arg(long)]
        kind: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show, offline, what the roster says about this school: its alliance and base school,
    /// pair partners, the staff assigned to it, its teachers.
    Roster {
        #[command(flatten)]
        store: StoreArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Sync with the hub once, now.
    Sync {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Run as a daemon: sync every night in the window; SIGUSR1 syncs now; SIGTERM stops.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The nightly window in local time, HH:MM-HH:MM.
    #[arg(long, default_value = "01:00-05:00")]
    window: String,
}

/// The fields of a record, as flags.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Fields {
    /// 活动类型: 听课, 评课, 研讨课, 讲座, 教研组活动.
    #[arg(long)]
    kind: Option<String>,
    /// 日期, YYYY-MM-DD.
    #[arg(long)]
    date: Option<String>,
    /// 学期, e.g. 2024-2025-1; default: the semester containing the date.
    #[arg(long)]
    semester: Option<String>,
    /// 执行人: observer, evaluator, teacher of the lesson, lecturer or host.
    #[arg(long)]
    actor: Option<String>,
    /// 授课教师 (听课/评课).
    #[arg(long)]
    teacher: Option<String>,
    /// 学科.
    #[arg(long)]
    subject: Option<String>,
    /// 年级.
    #[arg(long)]
    grade: Option<String>,
    /// 课题/主题.
    #[arg(long)]
    topic: Option<String>,
    /// 备注.
    #[arg(long)]
    notes: Option<String>,
    /// 评分 1-100 (评课).
    #[arg(long)]
    rating: Option<u8>,
    /// 时长（分钟）.
    #[arg(long)]
    minutes: Option<u32>,
}

fn opt(v: Option<String>, current: Option<String>) -> Option<String> {
    match v {
        Some(s) if s.trim().is_empty() => None,
        Some(s) => Some(s),
        None => current,
    }
}

impl Fields {
    fn apply(self, a: &mut Activity) -> anyhow::Result<()> {
        if let Some(k) = self.kind {
            a.kind = k.parse()?;
        }
        if let Some(d) = self.date {
            a.date = NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| anyhow!("日期「{d}」格式不对，请写成 YYYY-MM-DD"))?;
            if self.semester.is_none() {
                a.semester =
                    Semester::containing(a.date).ok_or_else(|| anyhow!("日期 {d} 不在任何学期内"))?;
            }
        }
        if let Some(s) = self.semester {
            a.semester = s.parse()?;
        }
        if let Some(actor) = self.actor {
            a.body.actor = actor;
        }
        let b = &mut a.body;
        b.teacher = opt(self.teacher, b.teacher.take());
        b.subject = opt(self.subject, b.subject.take());
        b.grade = opt(self.grade, b.grade.take());
        b.topic = opt(self.topic, b.topic.take());
        b.notes = opt(self.notes, b.notes.take());
        if let Some(r) = self.rating {
            b.rating = (r != 0).then_some(r);
        }
        if let Some(m) = self.minutes {
            b.duration_minutes = (m != 0).then_some(m);
        }
        Ok(())
    }
}

mod key {
    pub(super) const HUB: &str = "hub_url";
    pub(super) const SERVER_NAME: &str = "hub_server_name";
    pub(super) const CA: &str = "tls_ca";
    pub(super) const CERT: &str = "tls_cert";
    pub(super) const KEY: &str = "tls_key";
}

async fn open(store: &Path) -> anyhow::Result<NodeStore> {
    if !store.exists() {
        bail!("{} 不存在：请先运行 `yanpei node init`", store.display());
    }
    NodeStore::open(&sqlite_url(store)).await.with_context(|| format!("open node store {}", store.display()))
}

async fn agent(store: &Path) -> anyhow::Result<Agent> {
    let s = open(store).await?;
    let get = |k: &'static str| {
        let s = s.clone();
        async move {
            s.meta(k).await?.ok_or_else(|| anyhow!("节点未配置 {k}：请重新运行 `yanpei node init`"))
        }
    };
    let hub = HubEndpoint {
        url: get(key::HUB).await?,
        server_name: get(key::SERVER_NAME).await?,
        tls: TlsMaterial {
            ca_pem: read_pem(Path::new(&get(key::CA).await?))?,
            cert_pem: read_pem(Path::new(&get(key::CERT).await?))?,
            key_pem: read_pem(Path::new(&get(key::KEY).await?))?,
        },
    };
    Ok(Agent::new(s, hub))
}

fn absolute(p: &Path) -> anyhow::Result<String> {
    Ok(std::fs::canonicalize(p).with_context(|| format!("find {}", p.display()))?.display().to_string())
}

fn parse_id(id: &str) -> anyhow::Result<Uuid> {
    Uuid::try_parse(id).map_err(|_| anyhow!("「{id}」不是记录编号（UUID），请从 `yanpei node list` 复制"))
}

fn summary(a: &Activity) -> String {
    let b = &a.body;
    let mut parts = vec![a.date.to_string(), a.kind.label().to_owned()];
    parts.extend(b.subject.clone());
    parts.extend(b.grade.clone());
    parts.push(format!("执行人 {}", b.actor));
    parts.extend(b.teacher.as_ref().map(|t| format!("授课 {t}")));
    parts.extend(b.topic.as_ref().map(|t| format!("「{t}」")));
    parts.join(" · ")
}

pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Init { store, school, hub, ca, cert, key: keyfile, server_name } => {
            let school: SchoolCode = school.parse()?;
            for p in [&ca, &cert, &keyfile] {
                read_pem(p)?;
            }
            let s = NodeStore::open_or_init(&sqlite_url(&store.store), &school).await?;
            s.set_meta(key::HUB, &hub).await?;
            s.set_meta(key::SERVER_NAME, &server_name).await?;
            s.set_meta(key::CA, &absolute(&ca)?).await?;
            s.set_meta(key::CERT, &absolute(&cert)?).await?;
            s.set_meta(key::KEY, &absolute(&keyfile)?).await?;
            println!("节点已就绪：学校 {school}，节点编号 {}，本地库 {}", s.node_id(), store.store.display());
        }
        Command::Record { store, fields } => {
            let s = open(&store.store).await?;
            let kind: ActivityKind =
                fields.kind.as_deref().ok_or_else(|| anyhow!("请用 --kind 指定活动类型"))?.parse()?;
            let date_text =
                fields.date.clone().ok_or_else(|| anyhow!("请用 --date 指定日期（YYYY-MM-DD）"))?;
            let date = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d")
                .map_err(|_| anyhow!("日期「{date_text}」格式不对，请写成 YYYY-MM-DD"))?;
            let semester = Semester::containing(date).ok_or_else(|| anyhow!("日期 {date} 不在任何学期内"))?;
            let mut a = Activity {
                id: Uuid::now_v7(),
                school: s.school().clone(),
                semester,
                date,
                kind,
                version: 1,
                deleted: false,
                body: ActivityDraft::default(),
            };
            fields.apply(&mut a)?;
            a.validate()?;
            check_roster(&s, &a).await?;
            s.record(&a).await?;
            println!("已记录：{}\n编号 {}（{}，待同步）", summary(&a), a.id, a.semester);
        }
        Command::Edit { store, id, fields } => {
            let s = open(&store.store).await?;
            let id = parse_id(&id)?;
            let mut a = s.get(id).await?.ok_or_else(|| anyhow!("没有编号为 {id} 的记录"))?;
            if a.deleted {
                bail!("记录 {id} 已删除，不能修改");
            }
            fields.apply(&mut a)?;
            a.version += 1;
            a.validate()?;
            check_roster(&s, &a).await?;
            s.update(&a).await?;
            println!("已修改（第 {} 版）：{}", a.version, summary(&a));
        }
        Command::Delete { store, id } => {
            let s = open(&store.store).await?;
            let id = parse_id(&id)?;
            let mut a = s.get(id).await?.ok_or_else(|| anyhow!("没有编号为 {id} 的记录"))?;
            if a.deleted {
                bail!("记录 {id} 已经删除");
            }
            a.version += 1;
            a.deleted = true;
            s.update(&a).await?;
            println!("已删除：{}（删除将在下次同步时报送县中心）", summary(&a));
        }
        Command::List { store, semester, kind, json } => {
            let s = open(&store.store).await?;
            let semester = semester.map(|t| t.parse::<Semester>()).transpose()?;
            let kind = kind.map(|k| k.parse::<ActivityKind>()).transpose()?;
            let rows = s.list(semester, kind).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for a in &rows {
                    println!("{}  {}", a.id, summary(a));
                }
                println!("共 {} 条；待同步变更 {} 条", rows.len(), s.pending_count().await?);
            }
        }
        Command::Roster { store, json } => show_roster(&store.store, json).await?,
        Command::Sync { store } => {
            let a = agent(&store.store).await?;
            let r = a.sync_once().await?;
            println!(
                "同步完成：推送 {} 条变更（新写入 {}，已存在 {}），拉取 {} 条；中心已确认到序号 {}",
                r.pushed, r.applied, r.unchanged, r.pulled, r.acked_seq
            );
        }
        Command::Run(args) => daemon(args).await?,
    }
    Ok(())
}

/// The offline checks against the roster part this node holds (none before the first sync).
async fn check_roster(s: &NodeStore, a: &Activity) -> anyhow::Result<()> {
    if let (_, Some(roster)) = s.roster().await? {
        roster.check_activity(a)?;
    }
    Ok(())
}

async fn show_roster(store: &Path, json: bool) -> anyhow::Result<()> {
    let s = open(store).await?;
    let (version, Some(r)) = s.roster().await? else {
        bail!("本节点还没有名册：请先运行 `yanpei node sync`");
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "version": version, "roster": r }))?
        );
        return Ok(());
    }
    let me = s.school();
    let name = |code: &SchoolCode| {
        r.schools.iter().find(|x| &x.code == code).map(|x| x.name.clone()).unwrap_or_else(|| code.to_string())
    };
    let own = r.schools.iter().find(|x| &x.code == me).context("名册中没有本校")?;
    println!("{} · 名册第 {version} 版", r.county);
    println!("本校：{}（{}）{} {} {}", own.name, me, own.township, own.area.label(), own.level.label());
    for a in &r.alliances {
        println!("所属联合体：{}（{}），基地校：{}", a.name, a.code, name(&a.base_school));
    }
    for p in &r.pairings {
        let (role, other) = if &p.helper == me { ("帮扶", &p.partner) } else { ("受援于", &p.helper) };
        println!("结对：{role} {}（{}，{}）", name(other), p.kind.label(), p.pairing_type.label());
    }
    for st in &r.staff {
        let assigned = if st.schools.contains(me) { "包校" } else { "蹲点" };
        println!("研培人员：{}（{}，{}）{assigned}", st.name, st.id, st.subjects.join("、"));
    }
    for d in &r.stationings {
        println!(
            "蹲点：{} {}（农村 {}，城区 {}）",
            d.semester,
            d.staff,
            name(&d.rural_school),
            name(&d.urban_school)
        );
    }
    let backbone = r.teachers.iter().filter(|t| t.backbone).count();
    println!(
        "教师：{} 名（骨干教师 {} 名），师徒结对 {} 对",
        r.teachers.len(),
        backbone,
        r.mentorships.len()
    );
    Ok(())
}

fn parse_window(w: &str) -> anyhow::Result<Schedule> {
    let bad = || anyhow!("时间窗「{w}」格式不对，请写成 HH:MM-HH:MM，例如 01:00-05:00");
    let (a, b) = w.split_once('-').ok_or_else(bad)?;
    let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| bad());
    let schedule = Schedule { window_start: t(a)?, window_end: t(b)? };
    if schedule.window_start == schedule.window_end {
        return Err(bad());
    }
    Ok(schedule)
}

async fn daemon(args: RunArgs) -> anyhow::Result<()> {
    let schedule = parse_window(&args.window)?;
    let agent = agent(&args.store.store).await?;
    let now = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    #[cfg(unix)]
    {
        let now = now.clone();
        let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
            .context("listen for SIGUSR1")?;
        tokio::spawn(async move {
            while usr1.recv().await.is_some() {
                now.notify_one();
            }
        });
    }
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            super::hub::shutdown_signal().await;
            shutdown.cancel();
        });
    }
    tracing::info!(school_code = %agent.store().school(), window = %args.window, pid = std::process::id(),
        "node agent running; send SIGUSR1 to sync now");
    run_daemon(&agent, schedule, Backoff::default(), &SystemClock, now, shutdown).await;
    Ok(())
}
