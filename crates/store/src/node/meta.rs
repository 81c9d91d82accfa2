//! The node's meta table: the sequence counter, the hub's acknowledgement, the pull
//! cursor, the last comparison with the hub, the roster part held, and settings.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use yanpei_domain::roster::Roster;

use super::NodeStore;
use crate::StoreError;
use crate::entity::node_meta;

/// Settings keys.
pub(super) mod key {
    pub(in crate::node) const NODE_ID: &str = "node_id";
    pub(in crate::node) const SCHOOL: &str = "school_code";
    pub(in crate::node) const LAST_SEQ: &str = "last_seq";
    pub(in crate::node) const ACKED_SEQ: &str = "acked_seq";
    pub(in crate::node) const PULL_CURSOR: &str = "pull_cursor";
    pub(in crate::node) const ROSTER_VERSION: &str = "roster_version";
    pub(in crate::node) const ROSTER: &str = "roster";
    pub(in crate::node) const LAST_RECONCILE: &str = "last_reconcile";
}

pub(super) async fn get_meta(db: &impl ConnectionTrait, k: &str) -> Result<Option<String>, StoreError> {
    Ok(node_meta::Entity::find_by_id(k.to_owned()).one(db).await?.map(|m| m.value))
}

pub(super) async fn set_meta(db: &impl ConnectionTrait, k: &str, v: &str) -> Result<(), StoreError> {
    node_meta::Entity::delete_by_id(k.to_owned()).exec(db).await?;
    node_meta::ActiveModel { key: Set(k.to_owned()), value: Set(v.to_owned()) }.insert(db).await?;
    Ok(())
}

pub(super) async fn get_u64(db: &impl ConnectionTrait, k: &str) -> Result<u64, StoreError> {
    match get_meta(db, k).await? {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| StoreError::Corrupt(format!("meta {k} is not a number: {v:?}"))),
    }
}

impl NodeStore {
    /// The last sequence number this store issued.
    pub async fn last_seq(&self) -> Result<u64, StoreError> {
        get_u64(&self.conn(), key::LAST_SEQ).await
    }

    /// Highest sequence number the hub has acknowledged to this node.
    pub async fn acked_seq(&self) -> Result<u64, StoreError> {
        get_u64(&self.conn(), key::ACKED_SEQ).await
    }

    /// The hub cursor up to which pulled changes are applied.
    pub async fn pull_cursor(&self) -> Result<u64, StoreError> {
        get_u64(&self.conn(), key::PULL_CURSOR).await
    }

    /// Sets the pull cursor, also backwards (after a full reconcile with a hub restored
    /// from an older copy, whose counter is behind this node's cursor).
    pub async fn reset_pull_cursor(&self, cursor: u64) -> Result<(), StoreError> {
        set_meta(&self.conn(), key::PULL_CURSOR, &cursor.to_string()).await
    }

    /// When this node last compared its records with the hub (anti-entropy).
    pub async fn last_reconcile(&self) -> Result<Option<chrono::DateTime<Utc>>, StoreError> {
        Ok(get_meta(&self.conn(), key::LAST_RECONCILE)
            .await?
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
            .map(|t| t.with_timezone(&Utc)))
    }

    /// Notes a completed comparison with the hub.
    pub async fn set_last_reconcile(&self, at: chrono::DateTime<Utc>) -> Result<(), StoreError> {
        set_meta(&self.conn(), key::LAST_RECONCILE, &at.to_rfc3339()).await
    }

    /// Keeps the school's part of the roster (from the hub) for offline use.
    pub async fn set_roster(&self, version: u64, roster: &Roster) -> Result<(), StoreError> {
        let json = serde_json::to_string(roster).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let txn = self.db.begin_write().await?;
        set_meta(&txn, key::ROSTER, &json).await?;
        set_meta(&txn, key::ROSTER_VERSION, &version.to_string()).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The roster part held, and its version (0 and `None` before the first sync).
    pub async fn roster(&self) -> Result<(u64, Option<Roster>), StoreError> {
        let version = get_u64(&self.conn(), key::ROSTER_VERSION).await?;
        let roster = match get_meta(&self.conn(), key::ROSTER).await? {
            None => None,
            Some(json) => Some(
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("meta roster: {e}")))?,
            ),
        };
        Ok((version, roster))
    }
}
