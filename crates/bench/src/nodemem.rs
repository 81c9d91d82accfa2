//! The node agent's peak memory: `yanpei node sync` as its own process pushing a
//! large outbox to a hub process, its `VmHWM` followed until it exits.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;

use crate::hubproc::HubProcess;
use crate::world::{World, records_of};
use crate::{BenchError, procmem};

/// What one large node sync measured.
pub(crate) struct NodeMem {
    /// The node process's peak resident set, bytes.
    pub(crate) peak_rss: Option<u64>,
    /// Wall time of the `yanpei node sync` process.
    pub(crate) took: Duration,
}

/// Sets up a node store with `n` records for the first school (not timed), then
/// runs `exe node sync` against `hub` and follows its memory.
pub(crate) async fn node_sync_process(
    exe: &Path,
    world: &World,
    hub: &HubProcess,
    n: usize,
) -> Result<NodeMem, BenchError> {
    let school = world.roster.schools[0].code.clone();
    let (cert, key) = world.ca.issue_node(&school)?.write(&world.dir.join("pki"), "node-mem")?;
    let store = world.dir.join("node-mem.sqlite");
    let init = Command::new(exe)
        .args(["node", "init", "--school", school.as_str()])
        .arg("--store")
        .arg(&store)
        .arg("--hub")
        .arg(format!("https://{}", hub.addr))
        .arg("--ca")
        .arg(world.pki("ca.pem"))
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .env_remove("RUST_LOG")
        .output()
        .await
        .map_err(BenchError::io("run yanpei node init"))?;
    if !init.status.success() {
        return Err(BenchError::Process(format!(
            "yanpei node init: {}",
            String::from_utf8_lossy(&init.stderr).trim()
        )));
    }
    {
        let s = NodeStore::open(&sqlite_url(&store)).await?;
        let mut done = 0;
        while done < n {
            let k = (n - done).min(5000);
            s.record_all(&records_of(&world.roster, 0, k, 104_729 + done as u64)).await?;
            done += k;
        }
    }
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["node", "sync", "--store"])
        .arg(&store)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io("run yanpei node sync"))?;
    let (status, peak_rss) =
        procmem::wait_with_peak(&mut child).await.map_err(BenchError::io("wait for node sync"))?;
    let took = started.elapsed();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = e.read_to_string(&mut err).await;
        }
        return Err(BenchError::Process(format!("yanpei node sync ({status}): {}", err.trim())));
    }
    Ok(NodeMem { peak_rss, took })
}
