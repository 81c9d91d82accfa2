//! A process's memory from `/proc/<pid>/status`: `VmHWM` is the kernel's
//! high-water mark of its resident set, so a read while the process lives
//! gives its peak so far.

use std::time::Duration;

/// `VmHWM` (peak resident set) of `pid`, in bytes; `None` once the process is gone.
pub(crate) fn peak_rss(pid: u32) -> Option<u64> {
    field_kib(pid, "VmHWM:").map(|k| k * 1024)
}

fn field_kib(pid: u32, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Follows a child's peak resident set while it runs: the last `VmHWM` read before
/// it exits. The kernel keeps the mark monotone, so this misses at most growth in
/// the final polling interval (10 ms) before exit.
pub(crate) async fn wait_with_peak(
    child: &mut tokio::process::Child,
) -> std::io::Result<(std::process::ExitStatus, Option<u64>)> {
    let pid = child.id();
    let mut peak = None;
    loop {
        if let Some(p) = pid.and_then(peak_rss) {
            peak = Some(p);
        }
        tokio::select! {
            status = child.wait() => return Ok((status?, peak)),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

/// Bytes as MiB with one decimal.
pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
