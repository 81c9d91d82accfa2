//! The hub's write probe: a tiny write transaction that tells whether the database can
//! take writes again after a storage fault (full disk, I/O error, read-only).

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::StoreError;
use crate::sql::{HubStore, sql};

/// The counter row the probe rewrites.
const PROBE: &str = "probe";
/// The row that reserves room for a moment (SQLite), deleted in the same transaction.
const ROOM: &str = "probe-room";

impl HubStore {
    /// Runs one small write transaction, as a batch does (`BEGIN IMMEDIATE` on SQLite):
    /// it stores the time in the counter row `probe` (inserted if missing), and on
    /// SQLite also writes and deletes a row of `room` bytes, so it succeeds only if the
    /// file can grow by that much (a rewritten row alone fits in pages the file
    /// already has, even when it is full). The freed pages stay in the file for the
    /// next batch. On PostgreSQL any commit needs room in its WAL, so the row suffices.
    ///
    /// A failure replaces the connection like any failed write.
    pub async fn probe_write(&self, room: u32) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        let backend = txn.get_database_backend();
        let now = chrono::Utc::now().timestamp_micros();
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "INSERT INTO counter (name, value) VALUES (?, ?) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            ),
            [PROBE.into(), now.into()],
        ))
        .await?;
        if backend == DbBackend::Sqlite && room > 0 {
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO counter (name, value) VALUES (?, zeroblob(?))",
                [ROOM.into(), i64::from(room).into()],
            ))
            .await?;
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "DELETE FROM counter WHERE name = ?",
                [ROOM.into()],
            ))
            .await?;
        }
        txn.commit().await
    }
}
