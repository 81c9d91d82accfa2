//! The table `yanpei bench` prints and the `BENCHMARKS.md` it writes.

use std::fmt::Write;

use crate::bench::{BenchReport, Row};
use crate::load::LoadReport;
use crate::procmem::mib;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The comparison table (Markdown, readable as plain text).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| 项目 | yanpei | 对照 | 比值 | 目标 | 结论 |\n|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&r.what),
            cell(&r.yanpei),
            cell(&r.baseline),
            cell(&r.ratio),
            cell(&r.aim),
            cell(&r.verdict)
        );
    }
    out
}

/// The load tests' table.
pub fn load_table(load: &[Result<LoadReport, String>]) -> String {
    let mut out = String::from(
        "| 节点数 | 每节点条数 | 并发 | 用时 | 会话/秒 | 推送 条/秒 | 拉取条数 | p50 会话 | p99 会话 | 最慢 | 错误 | 中心峰值内存 | 中心计数 |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in load {
        match r {
            Ok(l) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.1} 秒 | {:.1} | {:.0} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {} | {} | {} / {} |",
                    l.nodes,
                    l.records_per_node,
                    l.concurrency,
                    l.wall_secs,
                    l.sessions_per_sec,
                    l.records_per_sec,
                    l.records_pulled,
                    l.p50_ms,
                    l.p99_ms,
                    l.max_ms,
                    l.errors,
                    l.hub_peak_rss_bytes.map_or("—".into(), |b| format!("{:.1} MiB", mib(b))),
                    l.hub_counted,
                    l.nodes * l.records_per_node,
                );
            }
            Err(e) => {
                let _ = writeln!(out, "| 失败：{} |||||||||||||", cell(e));
            }
        }
    }
    out
}

/// One load test in a few lines (for `yanpei load`).
pub fn load_summary(l: &LoadReport) -> String {
    let mut out = format!(
        "负载测试：{} 个节点 × {} 条（{}，并发 {}），用时 {:.1} 秒\n\
         会话 {:.1} 个/秒，记录 {:.0} 条/秒；会话用时 p50 {:.0} ms，p99 {:.0} ms，最慢 {:.0} ms\n\
         成功 {}，错误 {}；推送 {} 条，拉取 {} 条；中心计数 {} 条；中心峰值内存 {}\n",
        l.nodes,
        l.records_per_node,
        l.backend,
        l.concurrency,
        l.wall_secs,
        l.sessions_per_sec,
        l.records_per_sec,
        l.p50_ms,
        l.p99_ms,
        l.max_ms,
        l.sessions_ok,
        l.errors,
        l.records_pushed,
        l.records_pulled,
        l.hub_counted,
        l.hub_peak_rss_bytes.map_or("读不到".into(), |b| format!("{:.1} MiB（VmHWM）", mib(b))),
    );
    for e in &l.error_samples {
        let _ = writeln!(out, "  错误示例：{e}");
    }
    out
}

/// `BENCHMARKS.md`: the machine, the command, the date, the method and every figure.
pub fn markdown(r: &BenchReport) -> String {
    let m = &r.machine;
    let mut out = String::new();
    let _ = writeln!(out, "# yanpei 基准测试（BENCHMARKS）\n");
    let _ = writeln!(
        out,
        "本文件由 `yanpei bench` 生成，重跑同一条命令即可复现全部数字。所有对比在同一次运行中、\
         同一台机器上依次测得，以比值报告；机器为多人共用，数字有噪声。\n"
    );
    let _ = writeln!(out, "- 日期：{}", r.date);
    let _ = writeln!(
        out,
        "- 命令：`{}`{}",
        r.command,
        if r.quick { "（快速模式：规模很小，仅供检查）" } else { "" }
    );
    let _ = writeln!(out, "- CPU：{}，{} 个逻辑核", m.cpu, m.cores);
    let _ = writeln!(out, "- 内存：{:.1} GiB", m.memory_bytes as f64 / (1024.0 * 1024.0 * 1024.0));
    let _ = writeln!(out, "- 系统：{}", m.os);
    let _ = writeln!(
        out,
        "- 机器负载（1/5/15 分钟平均）：开始时 {}，结束时 {}（{} 核；其他会话的构建同时在跑）",
        r.load_avg_start, m.load_avg, m.cores
    );
    let _ = writeln!(out, "- 总用时：{:.0} 秒\n", r.elapsed_secs);
    let _ = writeln!(out, "## 对比\n\n{}", table(&r.rows));
    let _ = writeln!(out, "## 负载测试\n\n{}", load_table(&r.load));
    out.push_str(METHOD);
    out
}

const METHOD: &str = "\
## 测法

- **中心** 一律作为独立进程运行（`yanpei hub serve`，生产默认日志级别 info），节点经双向 TLS 连接，\
证书由县 CA（yanpei-pki）签发。每项测量用一个新的中心数据库。
- **中心接收**：一个节点代理（真实的 `Agent`，本地 SQLite 库，记录在计时前写入）以默认选项同步\
（每批 500 条，gzip 压缩），计时为整个同步会话（连接、握手、推送、拉取、名册、结束），\
结束后以运营者证书查询中心计数，必须等于推送条数。
- **SQLite 直写对照**：同一表结构（中心的迁移建表，含索引），同样的行（中心自己的行转换 \
`activity_row`），rusqlite 单连接、WAL、`synchronous=FULL`，单事务内逐行执行一条预编译 INSERT；\
行在计时前编码好，只计事务本身。
- **4 个节点同时同步**：另外 4 所学校各一个节点代理，共同样条数，同时同步到一个新的中心，计到最后一个结束。
- **诊断行（存储层）**：同样的记录在进程内直接交给中心存储层 `HubStore::apply_batch`（每批 500 条，\
一个会话），不经 gRPC/TLS，用来说明与直写的差距出在哪一层。
- **PostgreSQL COPY 对照**：同一表结构的新数据库，单事务 `COPY activity (...) FROM STDIN`（文本格式），\
数据在计时前编码好。
- **PouchDB**：`crates/bench/pouchdb/bench.js`（`npm ci` 安装，版本见 package-lock.json）。\
中心侧为 express-pouchdb 在 HTTPS 上提供的 PouchDB（LevelDB），节点侧为本地 PouchDB（LevelDB），\
相同记录（JSON）在计时前写入节点库，计时为 `replicate.to`（batch_size 500），结束后核对中心文档数。\
注意：LevelDB 默认不逐批 fsync，yanpei 的中心与节点每批都 fsync（synchronous=FULL），这一点对 PouchDB 有利。
- **线路字节**：节点与中心之间的计数代理统计两个方向的全部 TCP 字节（含 TLS 握手与证书、HTTP/2 帧、\
gRPC 头、拉取与结束），节点先做一次同步取得名册，再记录新数据同步并计量；对照为同样记录的 \
protobuf 编码长度（`Change` 消息，含序号）。
- **节点内存**：`yanpei node sync` 作为独立进程推送大 outbox，每 10 ms 读取其 `/proc/<pid>/status` 的 \
`VmHWM`（内核记录的常驻内存峰值），取退出前最后一次读数。
- **负载测试**：一个进程模拟许多节点，每个节点有自己的证书和节点编号，按真实协议完成一次夜间同步\
（握手、推送当晚的记录、拉取本校其他节点的记录并逐条校验、取名册、结束），不带本地 SQLite 库，\
以免与中心争用同一台机器的 CPU；会话时间含 TLS 连接。中心峰值内存为运行结束时中心进程的 `VmHWM`。\
结束后核对中心计数等于推送总数。示范县只有 43 所学校，所以 N 个节点时每校约 N/43 个节点，\
每个节点要拉取本校先同步的其他节点当晚的全部记录：拉取总量随每校节点数平方增长\
（表中“拉取条数”），而真实的县里每校只有一两个节点。
";
