//! The hub's audit log: appended in batches by the hub's audit writer, read newest first.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::StoreError;
use crate::entity::hub_audit;
use crate::sql::HubStore;

/// One answered RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When the hub received it.
    pub at: DateTime<Utc>,
    /// Who called: `node:CODE`, `operator:NAME`, `staff:ID`, or a placeholder for a caller without one.
    pub caller: String,
    /// The gRPC path, e.g. `/yanpei.v1.SyncService/Push`.
    pub rpc: String,
    /// The schools the call concerned (written, read or asked about).
    pub schools: Vec<String>,
    /// How many rows it carried: records pushed or pulled, statistics rows, ledger or audit entries.
    pub rows: u64,
    /// The gRPC status code answered (0 = OK).
    pub code: i32,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this caller (`node:CODE`, ...).
    pub caller: Option<String>,
    /// Only calls that concerned this school.
    pub school: Option<String>,
    /// At most this many, newest first (clamped to 1..=1000).
    pub limit: u64,
}

/// A stored audit entry with its id (increasing in the order the hub wrote them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Increasing id.
    pub id: i64,
    /// The entry.
    pub entry: AuditEntry,
}

impl HubStore {
    /// Appends entries in one multi-row insert.
    pub async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = entries.iter().map(|e| hub_audit::ActiveModel {
            at: Set(e.at),
            caller: Set(e.caller.clone()),
            rpc: Set(e.rpc.clone()),
            schools: Set(serde_json::to_string(&e.schools).unwrap_or_else(|_| "[]".into())),
            rows: Set(i64::try_from(e.rows).unwrap_or(i64::MAX)),
            code: Set(e.code),
            ..Default::default()
        });
        let txn = self.db.begin_write().await?;
        hub_audit::Entity::insert_many(rows).exec(&txn).await?;
        txn.commit().await
    }

    /// Audit entries, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let mut q = hub_audit::Entity::find();
        if let Some(c) = &filter.caller {
            q = q.filter(hub_audit::Column::Caller.eq(c.as_str()));
        }
        if let Some(s) = &filter.school {
            let quoted = serde_json::to_string(s).unwrap_or_default();
            q = q.filter(hub_audit::Column::Schools.contains(quoted.as_str()));
        }
        let rows = q
            .order_by_desc(hub_audit::Column::Id)
            .limit(filter.limit.clamp(1, 1000))
            .all(&self.conn())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRow {
                id: r.id,
                entry: AuditEntry {
                    at: r.at,
                    caller: r.caller,
                    rpc: r.rpc,
                    schools: serde_json::from_str(&r.schools).unwrap_or_default(),
                    rows: u64::try_from(r.rows).unwrap_or(0),
                    code: r.code,
                },
            })
            .collect())
    }
}
