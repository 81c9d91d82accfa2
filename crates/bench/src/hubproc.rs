//! The hub as a separate process (`yanpei hub serve`), as it runs in a county:
//! its memory is its own, read from `/proc/<pid>/status`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::BenchError;
use crate::world::World;

/// A running `yanpei hub serve`.
pub(crate) struct HubProcess {
    child: Child,
    /// Where it serves gRPC.
    pub(crate) addr: SocketAddr,
}

impl HubProcess {
    /// Starts `exe hub serve` over `db_url` with the world's certificates on a free
    /// loopback port, at the production log level, and waits until it serves.
    pub(crate) async fn start(exe: &Path, world: &World, db_url: &str) -> Result<HubProcess, BenchError> {
        let mut child = Command::new(exe)
            .args(["hub", "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--db", db_url])
            .arg("--ca")
            .arg(world.pki("ca.pem"))
            .arg("--cert")
            .arg(world.pki("hub.pem"))
            .arg("--key")
            .arg(world.pki("hub.key"))
            .arg("--crl")
            .arg(world.pki("crl.pem"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io(format!("start {} hub serve", exe.display())))?;
        let stderr = child.stderr.take().ok_or_else(|| BenchError::Process("hub stderr not piped".into()))?;
        let mut lines = BufReader::new(stderr).lines();
        let wait_addr = async {
            while let Some(line) = lines.next_line().await.map_err(BenchError::io("read the hub's log"))? {
                if line.contains("hub serving gRPC")
                    && let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(addr) = entry["fields"]["addr"].as_str().and_then(|a| a.parse().ok())
                {
                    return Ok(addr);
                }
                tracing::debug!(target: "hub_process", "{line}");
            }
            Err(BenchError::Process("the hub process exited before serving".into()))
        };
        let addr = tokio::time::timeout(Duration::from_secs(60), wait_addr)
            .await
            .map_err(|_| BenchError::Process("the hub process did not serve within 60 s".into()))??;
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("\"WARN\"") || line.contains("\"ERROR\"") {
                    tracing::warn!(target: "hub_process", "{line}");
                }
            }
        });
        Ok(HubProcess { child, addr })
    }

    /// The hub's peak resident set so far (`VmHWM`), bytes.
    pub(crate) fn peak_rss(&self) -> Option<u64> {
        self.child.id().and_then(crate::procmem::peak_rss)
    }

    /// Stops the hub (after its figures were read).
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
