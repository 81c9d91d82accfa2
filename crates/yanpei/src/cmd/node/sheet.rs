//! `yanpei node template|import|export`: bulk entry from .xlsx workbooks (`yanpei-record-io`).

use std::path::PathBuf;

use anyhow::bail;
use yanpei_domain::{ActivityKind, Calendar, SchoolCode, Semester};
use yanpei_record_io::{Mode, export_file, import_file, write_template};
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;

use super::{StoreArg, open};

#[derive(Debug, clap::Args)]
pub(crate) struct TemplateArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only these kinds (repeatable, e.g. --kind 听课 --kind 评课); default: every kind, one sheet each.
    #[arg(long)]
    kind: Vec<String>,
    /// The workbook to write (.xlsx).
    file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Store the good rows and write the bad ones to FILE.errors.xlsx, instead of storing nothing.
    #[arg(long)]
    partial: bool,
    /// The workbook to read (.xlsx): one sheet per kind, or a 活动类型 column.
    file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only this semester (2024-2025-1).
    #[arg(long)]
    semester: Option<String>,
    /// The workbook to write (.xlsx).
    file: PathBuf,
}

fn check_xlsx(file: &std::path::Path) -> anyhow::Result<()> {
    if !file.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx")) {
        bail!("{}：请用 .xlsx 文件（Excel 工作簿）", file.display());
    }
    Ok(())
}

/// For the examples: a school code for 相关学校 (a pairing partner or another school of
/// the roster the node holds, else a placeholder; the example rows are never imported)
/// and the county's calendar their dates must fall in (the built-in one before the
/// node's first sync).
async fn example_context(store: &std::path::Path) -> anyhow::Result<(SchoolCode, Calendar)> {
    let mut partner = None;
    let mut calendar = Calendar::builtin();
    if store.exists()
        && let Ok(s) = NodeStore::open(&sqlite_url(store)).await
        && let Ok((_, Some(r))) = s.roster().await
    {
        let me = s.school();
        let paired = r.pairings.iter().find_map(|p| match (&p.helper == me, &p.partner == me) {
            (true, _) => Some(p.partner.clone()),
            (_, true) => Some(p.helper.clone()),
            _ => None,
        });
        partner = paired.or_else(|| r.schools.iter().map(|x| x.code.clone()).find(|c| c != me));
        calendar = r.calendar();
    }
    let partner = match partner {
        Some(p) => p,
        None => "XX01".parse()?,
    };
    Ok((partner, calendar))
}

pub(crate) async fn template(args: TemplateArgs) -> anyhow::Result<()> {
    check_xlsx(&args.file)?;
    let kinds: Vec<ActivityKind> = if args.kind.is_empty() {
        ActivityKind::ALL.to_vec()
    } else {
        args.kind.iter().map(|k| k.parse()).collect::<Result<_, _>>()?
    };
    let (partner, calendar) = example_context(&args.store.store).await?;
    let date = calendar.example_date(chrono::Local::now().date_naive());
    write_template(&args.file, &kinds, &partner, date)?;
    let names: Vec<&str> = kinds.iter().map(|k| k.label()).collect();
    println!(
        "已写出模板 {}：「说明」工作表和 {} 个类型的工作表（{}）。\n列名带 * 的必填；灰色示例行导入时跳过。填好后运行 yanpei node import {}",
        args.file.display(),
        kinds.len(),
        names.join("、"),
        args.file.display()
    );
    Ok(())
}

pub(crate) async fn import(args: ImportArgs) -> anyhow::Result<()> {
    check_xlsx(&args.file)?;
    if !args.file.is_file() {
        bail!("{} 不存在：请检查文件名和所在目录", args.file.display());
    }
    let s = open(&args.store.store).await?;
    let mode = if args.partial { Mode::Partial } else { Mode::AllOrNothing };
    let r = import_file(&s, &args.file, mode).await?;
    let p = &r.plan;
    let rows = p.new.len() + p.already.len() + p.bad.len();
    if !p.sheet_problems.is_empty() {
        for x in &p.sheet_problems {
            println!("  {x}");
        }
        bail!("{} 处表头有问题，未导入任何记录；请按上面所列改正表头后重新导入", p.sheet_problems.len());
    }
    let mut skipped = Vec::new();
    if !p.already.is_empty() {
        skipped.push(format!("已导入过的 {} 行", p.already.len()));
    }
    if !p.examples.is_empty() {
        skipped.push(format!("示例行 {} 行", p.examples.len()));
    }
    let skipped =
        if skipped.is_empty() { String::new() } else { format!("；跳过{}", skipped.join("、")) };
    if p.bad.is_empty() {
        if r.stored == 0 {
            println!("没有新记录要导入（共 {rows} 行{skipped}）");
        } else {
            println!("已导入 {} 条记录（共 {rows} 行{skipped}），待同步", r.stored);
        }
        return Ok(());
    }
    for x in p.problems() {
        println!("  {x}");
    }
    if let Some(errors) = &r.errors_file {
        println!(
            "已导入 {} 条记录（共 {rows} 行{skipped}），待同步。\n上面 {} 行有问题，未导入，已连同错误原因写入 {}：改正后运行 yanpei node import {}",
            r.stored,
            p.bad.len(),
            errors.display(),
            errors.display()
        );
        return Ok(());
    }
    bail!(
        "共 {rows} 行，其中 {} 行有问题（见上），未导入任何记录。请改正后重新导入，或加 --partial 先导入正确的 {} 行",
        p.bad.len(),
        p.new.len()
    )
}

pub(crate) async fn export(args: ExportArgs) -> anyhow::Result<()> {
    check_xlsx(&args.file)?;
    let s = open(&args.store.store).await?;
    let semester = args.semester.map(|t| t.parse::<Semester>()).transpose()?;
    let counts = export_file(&s, &args.file, semester).await?;
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n} 条")).collect();
    let detail = if parts.is_empty() { String::new() } else { format!("：{}", parts.join("、")) };
    println!("已导出本校 {total} 条记录到 {}{detail}", args.file.display());
    Ok(())
}
