//! The outbox: what waits for the hub, the hub's answers to a push, and the changes it
//! refused (quarantined until the school edits the record).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use yanpei_domain::{Activity, Rev};

use super::NodeStore;
use super::lineage::maker_of;
use super::meta::{get_u64, key, set_meta};
use crate::StoreError;
use crate::convert::{parse_revs, revs_json};
use crate::decide::Origin;
use crate::entity::{node_activity, node_outbox};

/// A pending outbox entry.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// The node's sequence number.
    pub seq: u64,
    /// The record's state when the change was made.
    pub activity: Activity,
    /// The revisions it was made from, newest first (empty for a new record).
    pub ancestors: Vec<Rev>,
    /// Who made it, when not this node (a version sent again after a hub restore).
    pub maker: Option<Origin>,
}

/// A change the hub refused, kept (quarantined) until the school edits the record.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// The node's sequence number of the change.
    pub seq: u64,
    /// The record as the change had it.
    pub activity: Activity,
    /// The hub's reason, in Chinese.
    pub reason: String,
}

impl NodeStore {
    /// The oldest `limit` outbox entries not yet acknowledged.
    pub async fn pending(&self, limit: u64) -> Result<Vec<OutboxEntry>, StoreError> {
        node_outbox::Entity::find()
            .filter(node_outbox::Column::Refused.is_null())
            .order_by_asc(node_outbox::Column::Seq)
            .limit(limit)
            .all(&self.conn())
            .await?
            .into_iter()
            .map(|e| {
                let activity: Activity = serde_json::from_str(&e.snapshot)
                    .map_err(|err| StoreError::Corrupt(format!("outbox entry {}: {err}", e.seq)))?;
                let ancestors = parse_revs(e.ancestors.as_deref())?;
                let maker = maker_of(e.maker_node, e.maker_school);
                Ok(OutboxEntry { seq: u64::try_from(e.seq).unwrap_or(0), activity, ancestors, maker })
            })
            .collect()
    }

    /// How many outbox entries wait for the hub (quarantined ones not included).
    pub async fn pending_count(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(node_outbox::Entity::find()
            .filter(node_outbox::Column::Refused.is_null())
            .count(&self.conn())
            .await?)
    }

    /// The changes the hub refused, oldest first, with its reasons.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        node_outbox::Entity::find()
            .filter(node_outbox::Column::Refused.is_not_null())
            .order_by_asc(node_outbox::Column::Seq)
            .all(&self.conn())
            .await?
            .into_iter()
            .map(|e| {
                let activity: Activity = serde_json::from_str(&e.snapshot)
                    .map_err(|err| StoreError::Corrupt(format!("outbox entry {}: {err}", e.seq)))?;
                Ok(Quarantined {
                    seq: u64::try_from(e.seq).unwrap_or(0),
                    activity,
                    reason: e.refused.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Marks every outbox entry with `seq <= acked` as delivered (removes it): an
    /// acknowledgement of the whole outbox up to `acked` (tools and tests; the agent
    /// marks the answer to what it sent, [`NodeStore::mark_answered`]).
    pub async fn mark_acked(&self, acked: u64) -> Result<(), StoreError> {
        self.mark_delivered(None, acked, &[]).await
    }

    /// Marks the hub's answer to one push of the entries `sent`: those in `refused`
    /// (sequence number and the hub's reason) are kept, quarantined, and the other sent
    /// entries with `seq <= acked` are delivered (removed). An entry the push did not
    /// carry stays even at or below `acked`: the hub may have judged it in another
    /// session (a concurrent sync, a tool) whose refusal this node has not heard; it goes
    /// again and the hub answers it again. One transaction.
    pub async fn mark_answered(
        &self,
        sent: &[u64],
        acked: u64,
        refused: &[(u64, String)],
    ) -> Result<(), StoreError> {
        self.mark_delivered(Some(sent), acked, refused).await
    }

    async fn mark_delivered(
        &self,
        sent: Option<&[u64]>,
        acked: u64,
        refused: &[(u64, String)],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        for (seq, reason) in refused {
            let seq = i64::try_from(*seq).unwrap_or(i64::MAX);
            let Some(entry) = node_outbox::Entity::find_by_id(seq).one(&txn).await? else { continue };
            // A refusal of a version the record has already moved past (edited or deleted
            // here while the push was on the wire) is superseded, as an edit after the
            // refusal would supersede it: the newer version carries the person's intent.
            let current = node_activity::Entity::find_by_id(entry.activity_id).one(&txn).await?;
            if current.is_some_and(|a| a.version > entry.version) {
                node_outbox::Entity::delete_by_id(seq).exec(&txn).await?;
                continue;
            }
            node_outbox::Entity::update_many()
                .col_expr(node_outbox::Column::Refused, sea_orm::sea_query::Expr::value(reason.clone()))
                .filter(node_outbox::Column::Seq.eq(seq))
                .exec(&txn)
                .await?;
        }
        let last = get_u64(&txn, key::LAST_SEQ).await?;
        if acked > last {
            return Err(StoreError::Corrupt(format!(
                "the hub acknowledged seq {acked} but this node only issued up to {last}"
            )));
        }
        let acked_i = i64::try_from(acked).unwrap_or(i64::MAX);
        let mut delivered = node_outbox::Entity::delete_many()
            .filter(node_outbox::Column::Seq.lte(acked_i))
            .filter(node_outbox::Column::Refused.is_null());
        if let Some(sent) = sent {
            let sent: Vec<i64> = sent.iter().map(|s| i64::try_from(*s).unwrap_or(i64::MAX)).collect();
            delivered = delivered.filter(node_outbox::Column::Seq.is_in(sent));
        }
        delivered.exec(&txn).await?;
        if acked > get_u64(&txn, key::ACKED_SEQ).await? {
            set_meta(&txn, key::ACKED_SEQ, &acked.to_string()).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// Appends the record's state to the outbox under the next sequence number.
pub(super) async fn enqueue(
    txn: &impl ConnectionTrait,
    a: &Activity,
    ancestors: &[Rev],
    maker: Option<&Origin>,
) -> Result<(), StoreError> {
    enqueue_from(txn, a, ancestors, maker, None).await
}

/// [`enqueue`] of an edit, with the version it was made from (`base_of`).
pub(super) async fn enqueue_from(
    txn: &impl ConnectionTrait,
    a: &Activity,
    ancestors: &[Rev],
    maker: Option<&Origin>,
    base: Option<String>,
) -> Result<(), StoreError> {
    let seq = get_u64(txn, key::LAST_SEQ).await? + 1;
    set_meta(txn, key::LAST_SEQ, &seq.to_string()).await?;
    node_outbox::ActiveModel {
        seq: Set(i64::try_from(seq).map_err(|_| StoreError::Corrupt("sequence exhausted".into()))?),
        activity_id: Set(a.id),
        version: Set(i64::try_from(a.version).unwrap_or(i64::MAX)),
        snapshot: Set(serde_json::to_string(a).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        created_at: Set(Utc::now()),
        ancestors: Set(revs_json(ancestors)),
        refused: Set(None),
        maker_node: Set(maker.map(|m| m.node)),
        maker_school: Set(maker.map(|m| m.school.clone())),
        base: Set(base),
    }
    .insert(txn)
    .await?;
    Ok(())
}
