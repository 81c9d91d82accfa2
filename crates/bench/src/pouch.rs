//! PouchDB, the peer sync engine yanpei is compared with: `pouchdb/bench.js`
//! (installed with `npm ci`) replicates the same records node-to-hub over HTTPS.
//! Where Node.js, npm or the packages are not to be had, the outcome says why
//! instead of a figure.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use yanpei_domain::Activity;

use crate::world::World;

/// The PouchDB script's folder in the source tree.
pub(crate) fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pouchdb")
}

/// What PouchDB did, or why it could not run.
pub(crate) type PouchOutcome = Result<f64, String>;

/// Replicates `records` with PouchDB; returns the seconds the replication took.
pub(crate) async fn replicate(script_dir: &Path, world: &World, records: &[Activity]) -> PouchOutcome {
    if !script_dir.join("bench.js").is_file() {
        return Err(format!("找不到 {}（PouchDB 基准脚本）", script_dir.join("bench.js").display()));
    }
    let version = run(Command::new("node").arg("--version"), "node --version").await?;
    if !installed(script_dir) {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(script_dir),
            "npm ci",
        )
        .await?;
    }
    let work = world.dir.join("pouchdb");
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;
    let file = work.join("records.json");
    let json = serde_json::to_vec(records).map_err(|e| e.to_string())?;
    std::fs::write(&file, json).map_err(|e| format!("write {}: {e}", file.display()))?;
    let out = run(
        Command::new("node")
            .arg(script_dir.join("bench.js"))
            .arg(&file)
            .arg(&work)
            .arg(world.pki("hub.pem"))
            .arg(world.pki("hub.key"))
            .env("NODE_EXTRA_CA_CERTS", world.pki("ca.pem"))
            .current_dir(&work),
        "node bench.js",
    )
    .await?;
    let line: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("PouchDB 脚本输出无法解析（{e}）：{out}"))?;
    tracing::info!(node = version.trim(), output = out.trim(), "PouchDB replicated");
    match (line["records"].as_u64(), line["seconds"].as_f64()) {
        (Some(n), Some(s)) if n == records.len() as u64 && s > 0.0 => Ok(s),
        _ => Err(format!("PouchDB 脚本输出不符：{out}")),
    }
}

/// Whether `npm ci` already installed what `package-lock.json` names (npm keeps a copy of
/// the lock it installed as `node_modules/.package-lock.json`; an older copy means a stale install).
fn installed(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(dir.join("node_modules/.package-lock.json")), modified(dir.join("package-lock.json"))) {
        (Some(installed), Some(wanted)) => installed >= wanted,
        _ => false,
    }
}

/// Runs a command to completion; its stdout, or why it failed.
async fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("无法运行 {what}：{e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String =
            err.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" / ");
        return Err(format!("{what} 失败（{}）：{tail}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
