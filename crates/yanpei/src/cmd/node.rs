//! `yanpei node ...`: a school's node agent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use chrono::NaiveTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use yanpei_domain::roster::Roster;
use yanpei_domain::{Activity, ActivityDraft, ActivityKind, Calendar, SchoolCode, Semester};
use yanpei_node::{Agent, Backoff, BlobDir, HubEndpoint, Schedule, SystemClock, TlsMaterial, run_daemon};
use yanpei_store::node::{NodeSettings, NodeStore, change};
use yanpei_store::sqlite_url;

use super::read_pem;

mod conflicts;
mod fields;
mod quarantine;
mod sheet;

use fields::Fields;

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
        /// Enroll with the one-time code on the county's slip (`yanpei ca enroll`): the key
        /// pair is made here and the certificate comes from the hub; no files to carry.
        #[arg(long, conflicts_with_all = ["school", "ca", "cert", "key"])]
        enroll: Option<String>,
        /// With --enroll: the CA fingerprint on the slip (SHA-256 hex); checked before the code is sent.
        #[arg(long, requires = "enroll")]
        ca_fingerprint: Option<String>,
        /// The school's code (as on the county roster).
        #[arg(long, required_unless_present = "enroll")]
        school: Option<String>,
        /// The hub, e.g. https://hub.example.edu.cn:7443.
        #[arg(long)]
        hub: String,
        /// The county CA certificate.
        #[arg(long, required_unless_present = "enroll")]
        ca: Option<PathBuf>,
        /// This school's node certificate (`yanpei ca issue-node`).
        #[arg(long, required_unless_present = "enroll")]
        cert: Option<PathBuf>,
        /// This school's node key.
        #[arg(long, required_unless_present = "enroll")]
        key: Option<PathBuf>,
        /// The name in the hub's certificate.
        #[arg(long, default_value = yanpei_pki::HUB_DNS_NAME)]
        server_name: String,
    },
    /// Record an activity (活动记录), from flags or, with --interactive, field by field.
    Record {
        #[command(flatten)]
        store: StoreArg,
        /// Ask for each field in turn (选择类型后逐项填写).
        #[arg(long, short = 'i')]
        interactive: bool,
        #[command(flatten)]
        fields: Fields,
    },
    /// The kinds of activity and the fields each requires.
    Kinds,
    /// Conflicting edits of records this school is involved in, as the hub last reported them.
    Conflicts {
        #[command(flatten)]
        store: StoreArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Resolve a conflict: keep the version the hub kept, or take the losing one; the
    /// choice is a new version that syncs.
    Resolve {
        #[command(flatten)]
        store: StoreArg,
        /// The record's id (from `node conflicts`).
        id: String,
        /// Which version to keep.
        #[arg(long, value_enum)]
        keep: conflicts::Keep,
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
    /// Attach files (照片、教案…) to a record: each is kept once, by content, in
    /// `<store>.attachments/`, and uploaded to the hub before the record at the next sync.
    Attach {
        #[command(flatten)]
        store: StoreArg,
        /// The record's id (from `node list`).
        id: String,
        /// The files (at most 64 MB each, 20 per record).
        #[arg(required = true)]
        files: Vec<PathBuf>,
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
        /// Only this kind (see `yanpei node kinds`).
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
    /// Write an .xlsx template for bulk entry: a 说明 sheet and one sheet per kind (all, or --kind).
    Template(sheet::TemplateArgs),
    /// Import records from an .xlsx workbook; nothing is stored unless every row is good
    /// (--partial: the good rows, the bad ones to FILE.errors.xlsx).
    Import(sheet::ImportArgs),
    /// Export this school's records to an .xlsx workbook, one sheet per kind.
    Export(sheet::ExportArgs),
    /// Sync with the hub once, now.
    Sync {
        #[command(flatten)]
        store: StoreArg,
        /// Also compare every record with the hub (对账), whatever the handshake shows.
        #[arg(long)]
        verify: bool,
    },
    /// Changes the hub refused (被退回的记录), each with the hub's reason; they are kept
    /// here and sent again once the record is edited or deleted.
    Returned {
        #[command(flatten)]
        store: StoreArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
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

async fn open(store: &Path) -> anyhow::Result<NodeStore> {
    if !store.exists() {
        bail!("{} 不存在：请先运行 `yanpei node init`", store.display());
    }
    NodeStore::open(&sqlite_url(store)).await.with_context(|| format!("open node store {}", store.display()))
}

async fn agent(store: &Path) -> anyhow::Result<Agent> {
    let s = open(store).await?;
    let settings = s.settings().await?;
    let hub = HubEndpoint {
        url: settings.hub_url,
        server_name: settings.server_name,
        tls: TlsMaterial {
            ca_pem: read_pem(&settings.ca)?,
            cert_pem: read_pem(&settings.cert)?,
            key_pem: read_pem(&settings.key)?,
        },
    };
    // A certificate the hub signed (enrollment) renews itself in its last 60 days.
    let renewal = yanpei_node::Renewal::at(settings.cert, settings.key);
    Ok(Agent::new(s, hub).with_attachments(BlobDir::beside_node_store(store)).with_renewal(renewal))
}

/// Saves how to reach the hub, with the files' absolute paths.
async fn save_settings(
    s: &NodeStore,
    hub: String,
    server_name: String,
    (ca, cert, key): (&Path, &Path, &Path),
) -> anyhow::Result<()> {
    let settings = NodeSettings {
        hub_url: hub,
        server_name,
        ca: absolute(ca)?.into(),
        cert: absolute(cert)?.into(),
        key: absolute(key)?.into(),
    };
    Ok(s.save_settings(&settings).await?)
}

fn absolute(p: &Path) -> anyhow::Result<String> {
    Ok(std::fs::canonicalize(p).with_context(|| format!("find {}", p.display()))?.display().to_string())
}

fn parse_id(id: &str) -> anyhow::Result<Uuid> {
    Uuid::try_parse(id).map_err(|_| anyhow!("「{id}」不是记录编号（UUID），请从 `yanpei node list` 复制"))
}

pub(crate) fn summary(a: &Activity) -> String {
    let b = &a.body;
    let mut parts = vec![a.date.to_string(), a.kind.label().to_owned()];
    parts.extend(b.subject.clone());
    parts.extend(b.grade.clone());
    parts.push(format!("执行人 {}", b.actor));
    parts.extend(b.teacher.as_ref().map(|t| format!("授课 {t}")));
    parts.extend(b.topic.as_ref().map(|t| format!("「{t}」")));
    if !b.details.partner_schools.is_empty() {
        let schools: Vec<String> = b.details.partner_schools.iter().map(ToString::to_string).collect();
        parts.push(format!("{} 与 {}", a.school, schools.join("、")));
    }
    if !b.details.attachments.is_empty() {
        let names: Vec<&str> = b.details.attachments.iter().map(|x| x.name.as_str()).collect();
        parts.push(format!("附件 {} 个（{}）", names.len(), names.join("、")));
    }
    if let Some(missing) = a.meeting_missing() {
        parts.push(if missing.is_empty() {
            "五定四有齐全".to_owned()
        } else {
            format!("五定四有缺 {} 项", missing.len())
        });
    }
    parts.join(" · ")
}

pub(crate) async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Init { store, enroll: Some(code), ca_fingerprint, hub, server_name, .. } => {
            init_enrolled(&store.store, &code, ca_fingerprint.as_deref(), hub, server_name).await?
        }
        Command::Init { store, school, hub, ca, cert, key: keyfile, server_name, .. } => {
            let missing = || anyhow!("请给出 --school、--ca、--cert、--key，或用 --enroll 注册码注册");
            let school: SchoolCode = school.ok_or_else(missing)?.parse()?;
            let files = (ca.ok_or_else(missing)?, cert.ok_or_else(missing)?, keyfile.ok_or_else(missing)?);
            init_with_files(&store.store, school, hub, server_name, files).await?
        }
        Command::Record { store, interactive, fields } => record(&store.store, interactive, fields).await?,
        Command::Edit { store, id, fields } => edit(&store.store, &id, fields).await?,
        Command::Attach { store, id, files } => attach(&store.store, &id, &files).await?,
        Command::Delete { store, id } => delete(&store.store, &id).await?,
        Command::List { store, semester, kind, json } => list(&store.store, semester, kind, json).await?,
        Command::Roster { store, json } => show_roster(&store.store, json).await?,
        Command::Kinds => print!("{}", fields::kind_menu()),
        Command::Conflicts { store, json } => conflicts::list(&open(&store.store).await?, json).await?,
        Command::Resolve { store, id, keep } => {
            conflicts::resolve(&open(&store.store).await?, parse_id(&id)?, keep).await?
        }
        Command::Returned { store, json } => quarantine::list(&open(&store.store).await?, json).await?,
        Command::Sync { store, verify } => sync(&store.store, verify).await?,
        Command::Run(args) => daemon(args).await?,
        Command::Template(args) => sheet::template(args).await?,
        Command::Import(args) => sheet::import(args).await?,
        Command::Export(args) => sheet::export(args).await?,
    }
    Ok(())
}

/// `node init --enroll CODE`: a certificate from the hub, then the store.
async fn init_enrolled(
    store: &Path,
    code: &str,
    ca_fingerprint: Option<&str>,
    hub: String,
    server_name: String,
) -> anyhow::Result<()> {
    make_parent(store)?;
    let (school, name, ca, cert, keyfile, node_id) =
        super::enroll::node_init(store, code, &hub, ca_fingerprint, &server_name).await?;
    let s = NodeStore::open(&sqlite_url(store)).await?;
    save_settings(&s, hub, server_name, (&ca, &cert, &keyfile)).await?;
    println!(
        "注册成功：学校 {school} {name}，节点编号 {node_id}；证书 {}（私钥 {} 只在本机）；本地库 {}",
        cert.display(),
        keyfile.display(),
        store.display()
    );
    Ok(())
}

/// `node init --school --ca --cert --key`: certificate files issued by the county.
async fn init_with_files(
    store: &Path,
    school: SchoolCode,
    hub: String,
    server_name: String,
    (ca, cert, keyfile): (PathBuf, PathBuf, PathBuf),
) -> anyhow::Result<()> {
    for p in [&ca, &cert, &keyfile] {
        read_pem(p)?;
    }
    make_parent(store)?;
    let s = NodeStore::open_or_init(&sqlite_url(store), &school).await?;
    save_settings(&s, hub, server_name, (&ca, &cert, &keyfile)).await?;
    println!("节点已就绪：学校 {school}，节点编号 {}，本地库 {}", s.node_id(), store.display());
    Ok(())
}

/// `node record`: a new record, from flags or asked field by field.
async fn record(store: &Path, interactive: bool, fields: Fields) -> anyhow::Result<()> {
    let s = open(store).await?;
    let roster = s.roster().await?.1;
    let calendar = roster.as_ref().map(Roster::calendar).unwrap_or_default();
    let today = chrono::Local::now().date_naive();
    let mut a = Activity {
        id: Uuid::now_v7(),
        school: s.school().clone(),
        // Outside every semester today, a record without --date is refused by the check below.
        semester: calendar
            .containing(today)
            .or_else(|| Semester::containing(today))
            .ok_or_else(|| anyhow!("今天 {today} 不在任何学期内，请用 --date 给出日期"))?,
        date: today,
        kind: ActivityKind::LessonObservation,
        version: 1,
        deleted: false,
        body: ActivityDraft::default(),
    };
    if interactive {
        fields.apply(&mut a, &calendar)?;
        fields::guided(&mut a, &calendar, &mut std::io::stdin().lock(), &mut std::io::stdout())?;
    } else {
        if fields.kind().is_none() {
            bail!("请用 --kind 指定活动类型（yanpei node kinds 列出全部类型），或用 --interactive 逐项填写");
        }
        fields.apply(&mut a, &calendar)?;
    }
    a.validate()?;
    check_roster(roster.as_ref(), &a)?;
    s.record(&a).await?;
    println!("已记录：{}\n编号 {}（{}，待同步）", summary(&a), a.id, a.semester);
    if roster.is_none() {
        println!("{UNCHECKED}");
    }
    if let Some(missing) = a.meeting_missing().filter(|m| !m.is_empty()) {
        let items: Vec<&str> = missing.iter().map(|m| m.label()).collect();
        println!("五定四有尚缺：{}（可用 yanpei node edit 补充）", items.join("、"));
    }
    Ok(())
}

/// `node edit`: the next version of a record (the store's rule), its fields set and checked.
async fn edit(store: &Path, id: &str, fields: Fields) -> anyhow::Result<()> {
    let s = open(store).await?;
    let id = parse_id(id)?;
    let mut a = change::begin_edit(id, s.get(id).await?)?;
    let roster = s.roster().await?.1;
    fields.apply(&mut a, &roster.as_ref().map(Roster::calendar).unwrap_or_default())?;
    a.validate()?;
    check_roster(roster.as_ref(), &a)?;
    s.update(&a).await?;
    println!("已修改（第 {} 版）：{}", a.version, summary(&a));
    Ok(())
}

/// `node attach`: files added to a record.
async fn attach(store: &Path, id: &str, files: &[PathBuf]) -> anyhow::Result<()> {
    let s = open(store).await?;
    let blobs = BlobDir::beside_node_store(store);
    let before = s.get(parse_id(id)?).await?.map(|a| a.version);
    let a = yanpei_node::attach_files(&s, &blobs, parse_id(id)?, files).await?;
    if before == Some(a.version) {
        println!("这些文件已是该记录的附件，未改动：{}", summary(&a));
    } else {
        println!("已添加附件（第 {} 版，待同步）：{}", a.version, summary(&a));
    }
    for x in &a.body.details.attachments {
        println!("  {}  {} 字节  {}", x.name, x.size, &x.sha256[..16]);
    }
    Ok(())
}

/// `node delete`: the record's tombstone (the store's rule).
async fn delete(store: &Path, id: &str) -> anyhow::Result<()> {
    let s = open(store).await?;
    let id = parse_id(id)?;
    let a = change::delete(id, s.get(id).await?)?;
    s.update(&a).await?;
    println!("已删除：{}（删除将在下次同步时报送县中心）", summary(&a));
    Ok(())
}

/// `node list`: this school's records, those the county returned marked.
async fn list(
    store: &Path,
    semester: Option<String>,
    kind: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let s = open(store).await?;
    let semester = semester.map(|t| t.parse::<Semester>()).transpose()?;
    let kind = kind.map(|k| k.parse::<ActivityKind>()).transpose()?;
    let rows = s.list(semester, kind).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let returned: std::collections::BTreeSet<Uuid> =
        s.quarantined().await?.into_iter().map(|q| q.activity.id).collect();
    for a in &rows {
        let mark = if returned.contains(&a.id) { "【被退回】" } else { "" };
        println!("{}  {mark}{}", a.id, summary(a));
    }
    println!("共 {} 条；待同步变更 {} 条", rows.len(), s.pending_count().await?);
    if !returned.is_empty() {
        println!("其中 {} 条被县中心退回，原因见 yanpei node returned", returned.len());
    }
    Ok(())
}

/// `node sync`: one session now, and what it did in words.
async fn sync(store: &Path, verify: bool) -> anyhow::Result<()> {
    let a = agent(store).await?;
    let r = a.sync_with(yanpei_node::SyncOptions { verify, ..Default::default() }).await?;
    println!(
        "同步完成：推送 {} 条变更（新写入 {}，已存在 {}），拉取 {} 条；中心已确认到序号 {}",
        r.pushed, r.applied, r.unchanged, r.pulled, r.acked_seq
    );
    if r.attachments_uploaded + r.attachments_present > 0 {
        println!(
            "附件：上传 {} 个（{} 字节），中心已有 {} 个",
            r.attachments_uploaded, r.attachment_bytes, r.attachments_present
        );
    }
    if let Some(why) = r.reconciled {
        let why = match why {
            yanpei_node::Reconcile::Asked => "按要求",
            yanpei_node::Reconcile::Scheduled => "每周例行",
            yanpei_node::Reconcile::HubBehindAcks => "县中心的数据少于它此前确认的（可能从备份恢复过）",
            yanpei_node::Reconcile::CursorMismatch => "县中心的同步进度与本节点不一致（可能从备份恢复过）",
        };
        println!("已与县中心逐条对账（{why}）：重新报送 {} 条，补回 {} 条", r.requeued, r.repaired);
    }
    if r.removed > 0 {
        println!("{} 条共享记录已不再注明本校，已从本地移除", r.removed);
    }
    if r.refused > 0 {
        println!(
            "注意：县中心退回了 {} 条记录（其余照常同步），请运行 yanpei node returned 查看原因并修改",
            r.refused
        );
    }
    if r.open_conflicts > 0 {
        println!(
            "注意：有 {} 处修改冲突（同一条记录在同步前被两处修改），请运行 yanpei node conflicts 查看并处理",
            r.open_conflicts
        );
    }
    Ok(())
}

/// `node init` makes the directory its store goes in.
fn make_parent(store: &Path) -> anyhow::Result<()> {
    match store.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).with_context(|| format!("无法创建目录 {}", dir.display())),
        None => Ok(()),
    }
}

/// What a record made before the node's first sync is told: the built-in calendar filed
/// it, and the hub checks it against the county's roster when it arrives.
const UNCHECKED: &str = "注意：本节点还没有名册（尚未同步），学期按默认日历（9月–1月、2月–8月）判定、未经名册核对；\
同步时县平台按本县学期和名册核对，不合规的记录会退回（yanpei node returned 查看）。建议先运行 yanpei node sync。";

/// The offline checks against the roster part this node holds; before the first sync, the
/// built-in calendar only (the hub checks the rest when the record arrives).
fn check_roster(roster: Option<&Roster>, a: &Activity) -> anyhow::Result<()> {
    match roster {
        Some(r) => r.check_activity(a)?,
        None => Calendar::builtin().check_activity(a)?,
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
