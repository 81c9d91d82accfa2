//! The hub database's leaf: the `HubStore` handle, SQL text per backend, the change
//! counter (the row every batch transaction locks first, which orders cursors by commit),
//! paging and chunk sizes. Every other hub file (`hub`, `ledger`, `batch`, `rollup`,
//! `stats`, `shared`, `weekly`, ...) adds its own `impl HubStore` on top of this one and
//! none of them imports another to reach these.

use std::sync::Arc;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;
use yanpei_domain::Activity;

use crate::convert::from_hub_row;
use crate::entity::{hub_activity, hub_counter};
use crate::{Db, StoreError};

pub(crate) const CHANGE_SEQ: &str = "change_seq";

/// Rows per multi-row statement: about 20 columns each stays far under SQLite's
/// 32,766 bound variables and PostgreSQL's 65,535.
pub(crate) const CHUNK: usize = 500;

/// The hub's database.
#[derive(Debug, Clone)]
pub struct HubStore {
    pub(crate) db: Arc<Db>,
}

pub(crate) fn seq_i64(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Invalid(format!("sequence number {seq} is too large")))
}

pub(crate) fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

impl HubStore {
    /// The current connection (for tests and tools; a cheap clone of the pool handle).
    /// It is replaced after a storage error in a write: take it anew for each use.
    pub fn connection(&self) -> DatabaseConnection {
        self.db.conn()
    }

    pub(crate) fn conn(&self) -> DatabaseConnection {
        self.db.conn()
    }

    /// Closes the database (the store is not used afterwards).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Changes each time a write meets a storage fault (full disk, I/O error,
    /// read-only): what the hub's health follows.
    pub fn write_faults(&self) -> tokio::sync::watch::Receiver<u64> {
        self.db.faults()
    }
}

/// A page of records (tombstones included) in id order after `after`.
pub(crate) async fn page_by_id(
    db: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Activity>, StoreError> {
    let mut q = hub_activity::Entity::find();
    if let Some(id) = after {
        q = q.filter(hub_activity::Column::Id.gt(id));
    }
    q.order_by_asc(hub_activity::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_hub_row)
        .collect()
}

/// Rewrites `?` placeholders for PostgreSQL.
pub(crate) fn sql(backend: DbBackend, text: &str) -> String {
    if backend != DbBackend::Postgres {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for ch in text.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

/// Adds `by` to the change counter and returns its new value; locks the row until commit.
pub(crate) async fn bump_counter(txn: &impl ConnectionTrait, by: i64) -> Result<i64, StoreError> {
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(backend, "UPDATE counter SET value = value + ? WHERE name = ?"),
        [by.into(), CHANGE_SEQ.into()],
    ))
    .await?;
    let row = hub_counter::Entity::find_by_id(CHANGE_SEQ.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::Corrupt("counter change_seq is missing".into()))?;
    Ok(row.value)
}

pub(crate) async fn set_counter(txn: &impl ConnectionTrait, value: i64) -> Result<(), StoreError> {
    hub_counter::ActiveModel { name: Set(CHANGE_SEQ.to_owned()), value: Set(value) }.update(txn).await?;
    Ok(())
}
