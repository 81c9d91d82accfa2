//! The conflicts the hub reported, and their resolution by a new version.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;
use yanpei_domain::{Activity, Rev};

use super::NodeStore;
use super::lineage::{base_of, next_ancestry, set_maker};
use super::outbox::enqueue_from;
use crate::StoreError;
use crate::convert::{node_row, revs_json};
use crate::entity::{node_activity, node_conflict, node_outbox};

impl NodeStore {
    /// Replaces the list of open conflicts with what the hub reported in this session.
    pub async fn set_conflicts(&self, conflicts: &[crate::Conflict]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        node_conflict::Entity::delete_many().exec(&txn).await?;
        for c in conflicts {
            node_conflict::ActiveModel {
                hub_id: Set(c.id),
                activity_id: Set(c.losing.id),
                version: Set(i64::try_from(c.version).unwrap_or(i64::MAX)),
                losing_school: Set(c.losing_school.clone()),
                winning_school: Set(c.winning_school.clone()),
                losing: Set(serde_json::to_string(&c.losing).map_err(|e| StoreError::Invalid(e.to_string()))?),
                detected_at: Set(c.detected_at),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The open conflicts the hub last reported about records this school is involved in.
    pub async fn conflicts(&self) -> Result<Vec<crate::Conflict>, StoreError> {
        node_conflict::Entity::find()
            .order_by_asc(node_conflict::Column::HubId)
            .all(&self.conn())
            .await?
            .into_iter()
            .map(|m| {
                let losing: Activity = serde_json::from_str(&m.losing)
                    .map_err(|e| StoreError::Corrupt(format!("conflict {}: {e}", m.hub_id)))?;
                Ok(crate::Conflict {
                    id: m.hub_id,
                    version: u64::try_from(m.version).unwrap_or(0),
                    losing_school: m.losing_school,
                    winning_school: m.winning_school,
                    losing,
                    detected_at: m.detected_at,
                    resolved_version: None,
                })
            })
            .collect()
    }

    /// Resolves the open conflict of record `id`: its next version takes the losing
    /// version's content (`take_losing`) or confirms the current one. The new version
    /// syncs like any edit, and the hub marks the conflict resolved when it applies it.
    pub async fn resolve_conflict(&self, id: Uuid, take_losing: bool) -> Result<Activity, StoreError> {
        let conflict = self.conflicts().await?.into_iter().find(|c| c.losing.id == id).ok_or_else(|| {
            StoreError::NotFound(format!("记录 {id} 没有未处理的冲突（先同步以取得县中心的最新报告）"))
        })?;
        let current =
            self.get(id).await?.ok_or_else(|| StoreError::NotFound(format!("本节点没有记录 {id}")))?;
        let losing_rev = Rev::of(&conflict.losing);
        let mut next = if take_losing { conflict.losing } else { current.clone() };
        if next.deleted && !take_losing {
            return Err(StoreError::Invalid(format!(
                "记录 {id} 现已删除；如要恢复未采用的版本，请选择未采用的版本"
            )));
        }
        next.version = current.version + 1;
        next.validate().map_err(|e| StoreError::Invalid(e.to_string()))?;
        let txn = self.db.begin_write().await?;
        let row = node_activity::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("本节点没有记录 {id}")))?;
        // The new version is made from both: the current one and the losing one. (A
        // tombstone is not edited in place: the losing version comes back as its next version.)
        self.check_school(&next)?;
        let base = base_of(&row)?;
        let ancestors = next_ancestry(row, Some(losing_rev))?;
        let mut row = node_row(&next, Utc::now());
        row.revs = Set(revs_json(&ancestors));
        set_maker(&mut row, None);
        row.update(&txn).await?;
        node_outbox::Entity::delete_many()
            .filter(node_outbox::Column::ActivityId.eq(id))
            .filter(node_outbox::Column::Refused.is_not_null())
            .exec(&txn)
            .await?;
        enqueue_from(&txn, &next, &ancestors, None, Some(base)).await?;
        node_conflict::Entity::delete_many()
            .filter(node_conflict::Column::ActivityId.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(next)
    }
}
