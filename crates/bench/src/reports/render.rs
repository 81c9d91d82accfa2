//! The figures as tables and as the `BENCHMARKS.md` section.

use super::ReportsReport;

/// Where the report benchmark's section begins in `BENCHMARKS.md` (`yanpei bench`
/// rewrites the rest of the file and keeps this section as it is).
pub const SECTION_BEGIN: &str = "<!-- yanpei bench reports: begin -->";
/// Where it ends.
pub const SECTION_END: &str = "<!-- yanpei bench reports: end -->";

/// The report benchmark's section of `existing` (markers included), if it has one.
pub fn section_of(existing: &str) -> Option<&str> {
    let start = existing.find(SECTION_BEGIN)?;
    let end = existing[start..].find(SECTION_END)? + start + SECTION_END.len();
    Some(&existing[start..end])
}

/// `existing` with its report benchmark section replaced by `section` (appended if it had none).
pub fn splice(existing: &str, section: &str) -> String {
    match section_of(existing) {
        Some(old) => existing.replacen(old, section.trim_end(), 1),
        None => format!("{}\n\n{}\n", existing.trim_end(), section.trim_end()),
    }
}

fn ms(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1} 秒", x / 1000.0)
    } else if x >= 100.0 {
        format!("{x:.0} ms")
    } else {
        format!("{x:.2} ms")
    }
}

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / (1024.0 * 1024.0);
    if m >= 1024.0 { format!("{:.2} GiB", m / 1024.0) } else { format!("{m:.0} MiB") }
}

/// The timing table (Markdown, readable as plain text).
pub fn table(r: &ReportsReport) -> String {
    let mut out = String::from(
        "| 数据库 | 报表 | 汇总表 中位数 | 汇总表 p90 | 原始表 中位数 | 原始表 p90 | 倍数（原始/汇总） | 目标 | 结论 |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for b in &r.backends {
        for (what, p) in [("全县概况（按联合体×类别）", &b.overview), ("考核进度报表（全县）", &b.compliance)]
        {
            out.push_str(&format!(
                "| {} | {}，{} 行 | {}（{} 次） | {} | {}（{} 次） | {} | {:.0}× | < 50 ms 且 ≥ 100× | {} |\n",
                b.backend,
                what,
                p.answer_rows,
                ms(p.rollup.median_ms),
                p.rollup.runs,
                ms(p.rollup.p90_ms),
                ms(p.raw.median_ms),
                p.raw.runs,
                ms(p.raw.p90_ms),
                p.ratio,
                if p.met() { "达到" } else { "未达到" },
            ));
        }
    }
    out
}

/// The fill table.
pub fn fill_table(r: &ReportsReport) -> String {
    let mut out = String::from(
        "| 数据库 | 记录行数（含删除） | 有效记录 | 填充用时 | 填充速度 | 重建汇总表 | 库大小 |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for b in &r.backends {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} 秒 | {:.0} 条/秒 | {:.0} 秒 | {} |\n",
            b.backend,
            b.records,
            b.live,
            b.fill_secs,
            b.records as f64 / b.fill_secs.max(1e-9),
            b.rollup_secs,
            mib(b.db_bytes),
        ));
    }
    out
}

/// The section of `BENCHMARKS.md` (between the markers).
pub fn markdown_section(r: &ReportsReport) -> String {
    let m = &r.machine;
    let mut out = format!("{SECTION_BEGIN}\n## 报表：{} 条记录时汇总表对原始表\n\n", r.records);
    out.push_str(
        "本节由 `yanpei bench reports` 生成（`yanpei bench` 重写本文件其余部分时原样保留本节）。\
         问题 5 第 4 点的目标：全县概况与考核进度报表在 1000 万条记录时中位数 < 50 ms，\
         且比同一答案直接从原始表计算快 100 倍以上，SQLite 与 PostgreSQL 都要达到。\n\n",
    );
    out.push_str(&format!("- 日期：{}\n", r.date));
    out.push_str(&format!("- 命令：`{}`\n", r.command));
    out.push_str(&format!(
        "- 机器：{}，{} 个逻辑核，内存 {:.1} GiB，{}\n",
        m.cpu,
        m.cores,
        m.memory_bytes as f64 / (1024.0 * 1024.0 * 1024.0),
        m.os
    ));
    out.push_str(&format!(
        "- 机器负载（1/5/15 分钟平均）：开始时 {}，结束时 {}（{} 核，多人共用，其他会话的构建可能同时在跑）\n",
        r.load_avg_start, m.load_avg, m.cores
    ));
    out.push_str(&format!("- 总用时：{:.0} 秒\n\n", r.elapsed_secs));
    out.push_str(&format!("### 计时\n\n{}\n", table(r)));
    out.push_str(&format!("### 填充\n\n{}\n", fill_table(r)));
    out.push_str(&REPORTS_METHOD.replace("{roster}", &r.roster));
    out.push_str(SECTION_END);
    out.push('\n');
    out
}

const REPORTS_METHOD: &str = "\
### 测法

- **库**：新建的中心数据库（SQLite 文件；PostgreSQL 上一个新库），由中心自己的迁移建表（含索引），\
导入示范县名册（{roster}）。
- **记录**：示范县的记录生成器（`semester_of_activity`，与 `yanpei demo` 相同），依次为每所学校、\
每个种子生成 2024-2025 学年第一学期的记录（听课、评课、研讨课、讲座、教研组活动、论文、读书笔记，\
蹲点研培人员的蹲点天数、听评课、课题等），直到凑够条数：记录分布在各校、各执行人、各类别和学期各周。\
其中三分之一的教研组活动填全五定四有，每 89 条有 1 条为修改过的第 2 版，每 97 条有 1 条为删除（第 2 版墓碑）。\
每条都是中心会接受的记录（领域校验通过），用中心自己的行转换（`activity_row`）写入。
- **批量写入**（不经同步协议，1000 万条经 gRPC 太慢）：SQLite 用 rusqlite 预编译 INSERT，\
每 10 万行一个事务，写入期间 `synchronous=OFF`；PostgreSQL 用 `COPY activity FROM STDIN`，\
每 10 万行一条，`synchronous_commit=off`，写完 `VACUUM ANALYZE activity`（自动清理本来也会做）。\
随后 `HubStore::rebuild_rollups` 重建全部汇总表（表中“重建汇总表”）。
- **核对**（计时之前，不相等即失败）：`stats` 与 `stats_raw` 相等；两种全县概况相等，总数等于写入的有效记录数，\
且有完整的教研组活动被计入；按人汇总（`rollup_person`）与原始表按学校×执行人×类别的 GROUP BY 相等（含蹲点天数），\
且有蹲点天数；两种考核进度报表完全相等。
- **全县概况**：与中心 Stats RPC 按联合体分组时相同的计算：读学校与联合体，按学校×类别取有效记录数与完整的\
教研组活动数，再按联合体×类别归并。汇总表一方为 `stats` + `complete_meetings`（读 `rollup_week`）；\
原始表一方为对 `activity` 的一条 GROUP BY（学期、未删除，同时数出五定四有九项俱全的教研组活动：\
SQLite 用 `json_type`，PostgreSQL 用 `jsonb_exists_all`）。
- **考核进度报表**：与中心 Compliance RPC 对县运营者（全县、含研培人员）相同的计算：读当前名册，\
取本学期按人计数，用默认考核标准（`quotas.toml`）算出每人每项的进度、缺额、进度预测和按学校/联合体/学科的汇总；\
统计截止日固定为学期中点。汇总表一方读 `rollup_person`（`person_rollups`）；原始表一方为对 `activity` 按\
学校×执行人×类别的一条 GROUP BY（蹲点天数从 details 的 JSON 取出求和）。计时含读名册与报表计算，不只是 SQL。
- **计时**：同一进程、同一连接池，先汇总表后原始表依次测量。汇总表答案先热身 2 次再计时；原始表答案先热身 1 次，\
再按预算（默认 120 秒）计时，至少 3 次、至多与汇总表相同次数：表中写明各自的次数。中位数与 p90（最近秩）。
";
