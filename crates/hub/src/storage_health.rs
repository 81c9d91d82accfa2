//! Health while the hub cannot write: when a write meets a storage fault (full disk,
//! I/O error, read-only database), the sync service and the server as a whole ("")
//! answer NOT_SERVING, and one task probes with a small write transaction every
//! `interval` until one commits; then they answer SERVING again, without a restart.
//! The task ends with the server.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use yanpei_store::hub::HubStore;

/// How often the hub probes while it cannot write, unless configured.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// Room a probe reserves and frees again: a write the size of a large batch must fit
/// before the hub says it serves again.
const PROBE_ROOM: u32 = 256 * 1024;

/// Starts the watcher (one task for the server's life); it ends when `stop` is cancelled.
pub(crate) fn start(store: HubStore, health: HealthReporter, interval: Duration, stop: CancellationToken) {
    tokio::spawn(watch(store, health, interval, stop));
}

async fn set(health: &HealthReporter, status: ServingStatus) {
    crate::grpc::serve::set_sync_health(health, status).await;
}

async fn watch(store: HubStore, health: HealthReporter, interval: Duration, stop: CancellationToken) {
    let mut faults = store.write_faults();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = faults.changed() => if changed.is_err() { return },
        }
        set(&health, ServingStatus::NotServing).await;
        tracing::error!(
            probe_every_secs = interval.as_secs_f64(),
            "the database cannot write (disk full, I/O error or read-only): health is NOT_SERVING \
             until a probe write commits"
        );
        let mut attempts: u64 = 0;
        loop {
            // Faults the failed probes themselves caused are not news.
            faults.borrow_and_update();
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            attempts += 1;
            match store.probe_write(PROBE_ROOM).await {
                Ok(()) => break,
                Err(e) => tracing::debug!(error = %e, attempts, "write probe failed"),
            }
        }
        set(&health, ServingStatus::Serving).await;
        tracing::info!(attempts, "a probe write committed: health is SERVING again");
    }
}
