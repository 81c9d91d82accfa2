//! Real processes and real filesystems: the hub as its own `yanpei hub serve`
//! process (killed with SIGKILL, stopped with SIGTERM, frozen with SIGSTOP), and
//! a small tmpfs for its database that can be filled to the last byte.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::SoakError;
use crate::hubdb::HubDb;

/// Where the hub's files are and how to start it.
#[derive(Debug, Clone)]
pub(crate) struct HubFiles {
    /// The `yanpei` binary.
    pub(crate) exe: PathBuf,
    /// The hub's database.
    pub(crate) db: HubDb,
    /// `ca.pem`, `hub.pem`, `hub.key` (and `crl.pem`, absent: none revoked).
    pub(crate) pki: PathBuf,
    /// Attachments.
    pub(crate) attachments: PathBuf,
    /// Where each start's log goes (`hub-<n>.log`).
    pub(crate) logs: PathBuf,
    /// Planted bugs the hub runs with (`YANPEI_PLANTED_BUG`; debug builds only).
    pub(crate) planted: Option<String>,
    /// I/O errors on demand for a SQLite database's directory.
    pub(crate) eio: Option<crate::eio::Eio>,
}

/// A running `yanpei hub serve`.
#[derive(Debug)]
pub(crate) struct HubProcess {
    child: Child,
    /// Where it serves gRPC.
    pub(crate) addr: SocketAddr,
}

impl HubProcess {
    /// Starts the hub on a free loopback port and waits until it serves; its log
    /// goes to `logs/hub-<start>.log`.
    pub(crate) async fn start(files: &HubFiles, start: u32) -> Result<HubProcess, SoakError> {
        let url = files.db.url();
        let mut command = Command::new(&files.exe);
        if let Some(bugs) = &files.planted {
            command.env(yanpei_store::planted::VARIABLE, bugs);
        }
        if let (Some(eio), HubDb::Sqlite(db)) = (&files.eio, &files.db)
            && let Some(dir) = db.parent()
        {
            eio.apply(&mut command, dir);
        }
        let mut child = command
            .args(["hub", "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--db", &url])
            .args(["--rate-limit-per-second", "0", "--shutdown-grace-secs", "3"])
            .arg("--ca")
            .arg(files.pki.join("ca.pem"))
            .arg("--cert")
            .arg(files.pki.join("hub.pem"))
            .arg("--key")
            .arg(files.pki.join("hub.key"))
            .arg("--crl")
            .arg(files.pki.join("crl.pem"))
            .arg("--attachments")
            .arg(&files.attachments)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SoakError::Process(format!("start {} hub serve: {e}", files.exe.display())))?;
        let stderr = child.stderr.take().ok_or_else(|| SoakError::Process("hub stderr not piped".into()))?;
        std::fs::create_dir_all(&files.logs)?;
        let mut log = tokio::fs::File::create(files.logs.join(format!("hub-{start}.log"))).await?;
        let mut lines = BufReader::new(stderr).lines();
        let wait = async {
            while let Some(line) = lines.next_line().await? {
                log.write_all(line.as_bytes()).await?;
                log.write_all(b"\n").await?;
                if line.contains("hub serving gRPC")
                    && let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(addr) = entry["fields"]["addr"].as_str().and_then(|a| a.parse().ok())
                {
                    return Ok(addr);
                }
            }
            Err(SoakError::Process("the hub process exited before serving".into()))
        };
        let addr = match tokio::time::timeout(Duration::from_secs(60), wait).await {
            Ok(r) => r?,
            Err(_) => return Err(SoakError::Process("the hub process did not serve within 60 s".into())),
        };
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if log.write_all(line.as_bytes()).await.is_err() || log.write_all(b"\n").await.is_err() {
                    break;
                }
            }
            let _ = log.flush().await;
        });
        Ok(HubProcess { child, addr })
    }

    /// Whether it has exited (by itself: a crash).
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// SIGKILL: no chance to clean up.
    pub(crate) async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub(crate) async fn stop(mut self, grace: Duration) {
        if signal(self.child.id(), "TERM").await
            && tokio::time::timeout(grace, self.child.wait()).await.is_ok()
        {
            return;
        }
        self.kill().await;
    }

    /// Sends SIGSTOP (`freeze`) or SIGCONT.
    pub(crate) async fn freeze(&self, freeze: bool) -> bool {
        signal(self.child.id(), if freeze { "STOP" } else { "CONT" }).await
    }
}

/// Sends a signal with kill(1) (the crate forbids unsafe code, so no libc here).
async fn signal(pid: Option<u32>, name: &str) -> bool {
    let Some(pid) = pid else { return false };
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A tmpfs mounted for the length of a schedule; unmounted on drop, even on failure.
#[derive(Debug)]
pub(crate) struct Tmpfs {
    path: PathBuf,
    mounted: bool,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` at `path` (needs root). `Err` if it cannot.
    pub(crate) fn mount(path: &Path, bytes: u64) -> Result<Tmpfs, SoakError> {
        std::fs::create_dir_all(path)?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "yanpei-soak"])
            .arg(path)
            .output()
            .map_err(|e| SoakError::Process(format!("mount: {e}")))?;
        if !out.status.success() {
            return Err(SoakError::Process(format!(
                "mount a tmpfs at {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Tmpfs { path: path.to_owned(), mounted: true })
    }

    /// Where it is mounted.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Fills it, leaving about `headroom` bytes free; returns the filler file.
    pub(crate) fn fill(&self, headroom: u64) -> std::io::Result<PathBuf> {
        use std::io::Write;
        let filler = self.path.join("filler.bin");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&filler)?;
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => return Err(e),
            }
        }
        let _ = f.flush();
        let len = f.metadata()?.len();
        f.set_len(len.saturating_sub(headroom))?;
        Ok(filler)
    }

    /// Frees what [`Tmpfs::fill`] took.
    pub(crate) fn free(&self) -> std::io::Result<()> {
        let filler = self.path.join("filler.bin");
        if filler.exists() {
            std::fs::remove_file(filler)?;
        }
        Ok(())
    }

    /// Unmounts (lazily if busy). Idempotent.
    pub(crate) fn unmount(&mut self) {
        if !self.mounted {
            return;
        }
        let ok = std::process::Command::new("umount").arg(&self.path).status().is_ok_and(|s| s.success());
        if !ok {
            let lazy = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.path)
                .status()
                .is_ok_and(|s| s.success());
            if !lazy {
                tracing::error!(path = %self.path.display(), "could not unmount the soak tmpfs");
            }
        }
        self.mounted = false;
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        self.unmount();
    }
}
