//! The Reliability file: each `yanpei soak --intent --reliability FILE` run adds its
//! figures at the top (date, machine, command, schedules, records, faults by kind,
//! violations by class), so the file says what was checked, how, and on what.

use std::fmt::Write as _;
use std::path::Path;

use super::intent::{Args, Totals};

const TITLE: &str = "# Reliability";

const PREAMBLE: &str = "Figures of the intent-level fault suite (`yanpei soak --intent`), newest first, \
each written by the run itself with `--reliability RELIABILITY.md`. Every schedule runs a real \
`yanpei hub serve` process and node agents, logs every person's action outside every store, \
injects the faults listed, and judges the hub (read from a fresh connection after the process \
exited) and every node against the log and the protocol's rules alone. See README, \
\"The intent suite\".";

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()))
        })
        .map_or_else(|| "?".to_owned(), |kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0));
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".to_owned());
    format!("{cores} cores, {mem}; load average at the end {load}")
}

/// This run's section.
fn section(a: &Args, t: &Totals) -> String {
    let mut s = String::new();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let command: Vec<String> = std::env::args().skip(1).collect();
    let _ = writeln!(s, "## {now}: {} schedules, {} records checked\n", t.schedules, t.records_checked);
    let _ = writeln!(s, "- command: `yanpei {}`", command.join(" "));
    let _ = writeln!(s, "- machine: {}", machine());
    let _ = writeln!(
        s,
        "- schedules: {} (seeds {}..{}), about {} records each; {:.0} s",
        t.schedules,
        a.start,
        a.start + a.seeds,
        a.records,
        t.seconds
    );
    let _ = writeln!(
        s,
        "- intents checked: {} of {} logged; records checked: {}",
        t.intents_checked, t.intents_logged, t.records_checked
    );
    let faults: Vec<String> = t.faults.iter().map(|(k, n)| format!("{} {n}", k.label())).collect();
    let _ = writeln!(s, "- faults injected: {}", faults.join(", "));
    let _ = writeln!(
        s,
        "- **lost {}, duplicated {}, silently overwritten {}, extra {}**; wrong winner {}, node mismatch {}, \
         rollup mismatch {}, unrecorded refusal {}",
        t.lost,
        t.duplicated,
        t.silently_overwritten,
        t.extra,
        t.wrong_winner,
        t.node_mismatch,
        t.rollup_mismatch,
        t.unrecorded
    );
    if t.excused_by_restore > 0 {
        let _ = writeln!(
            s,
            "- losing versions that only a hub restored from an older copy had held: {} (not counted as lost)",
            t.excused_by_restore
        );
    }
    if t.quarantined > 0 {
        let _ = writeln!(
            s,
            "- versions the hub refused by the rules (a partner school code no roster version had, or a date outside the county's semester), kept quarantined at their node: {}",
            t.quarantined
        );
    }
    if t.failed_seeds.is_empty() {
        let _ = writeln!(s, "- failing seeds: none");
    } else {
        let _ = writeln!(s, "- failing seeds: {:?}; replay:", t.failed_seeds);
        for r in &t.replay {
            let _ = writeln!(s, "  - `{r}`");
        }
    }
    s
}

/// Adds this run's section at the top of `file` (created with its title if absent).
pub(crate) fn record(file: &Path, a: &Args, t: &Totals) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let runs = match old.find("\n## ") {
        Some(i) => old[i + 1..].to_owned(),
        None => String::new(),
    };
    let text = format!("{TITLE}\n\n{PREAMBLE}\n\n{}\n{runs}", section(a, t));
    std::fs::write(file, text)
}
