//! Health that follows the database: when a write meets a storage fault (full disk, I/O
//! error, read-only), the hub answers NOT_SERVING for sync and overall, and probes with a
//! small write every few seconds until one commits; then it answers SERVING again. No
//! restart is needed when space returns.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use yanpei_proto::pb::sync_service_server::SyncServiceServer;
use yanpei_store::hub::HubStore;

use crate::sync::Sync;

/// How often a hub that cannot write tries again.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Bytes the probe makes the database find room for (a batch needs at least that much).
const PROBE_ROOM: u32 = 256 * 1024;

async fn set(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    match status {
        ServingStatus::Serving => health.set_serving::<SyncServiceServer<Sync>>().await,
        _ => health.set_not_serving::<SyncServiceServer<Sync>>().await,
    }
}

/// Runs until `stop`: follows the store's write faults and sets health accordingly.
pub(crate) async fn follow_writes(store: HubStore, health: HealthReporter, stop: CancellationToken) {
    let mut faults = store.write_faults();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = faults.changed() => if changed.is_err() { return },
        }
        set(&health, ServingStatus::NotServing).await;
        tracing::warn!("the database cannot take writes: health is NOT_SERVING until a probe write commits");
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(PROBE_EVERY) => {}
            }
            match store.probe_write(PROBE_ROOM).await {
                Ok(()) => break,
                Err(e) => tracing::debug!(error = %e, "probe write failed; trying again"),
            }
        }
        // The probe's own failures moved the fault counter: they are seen.
        faults.borrow_and_update();
        set(&health, ServingStatus::Serving).await;
        tracing::info!("the database takes writes again: health is SERVING");
    }
}
