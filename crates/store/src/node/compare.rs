//! Anti-entropy at the node: the digests of what it holds, one period's revisions, and
//! queueing again what the hub lacks.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use yanpei_domain::{Rev, period_digest, period_of};

use super::NodeStore;
use super::lineage::{maker_of, parse_base};
use super::outbox::enqueue;
use crate::StoreError;
use crate::convert::{from_node_row, parse_revs};
use crate::entity::{node_activity, node_outbox};

/// Anti-entropy digest of one period of the records a node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodDigest {
    /// The period (`YYYY-MM` of the record ids' time).
    pub period: String,
    /// How many records.
    pub count: u64,
    /// SHA-256 over the sorted "ID REV" lines.
    pub digest: String,
}

impl NodeStore {
    /// Anti-entropy: the per-period digests of every record this node holds.
    pub async fn digests(&self) -> Result<Vec<PeriodDigest>, StoreError> {
        let mut periods: BTreeMap<String, Vec<(Uuid, Rev)>> = BTreeMap::new();
        for (id, a) in self.all().await? {
            periods.entry(period_of(&id)).or_default().push((id, Rev::of(&a)));
        }
        Ok(periods
            .into_iter()
            .map(|(period, entries)| PeriodDigest {
                count: entries.len() as u64,
                digest: period_digest(&entries),
                period,
            })
            .collect())
    }

    /// Anti-entropy: the revision of every record of one period this node holds.
    pub async fn period_revs(&self, period: &str) -> Result<BTreeMap<Uuid, Rev>, StoreError> {
        Ok(self
            .all()
            .await?
            .into_iter()
            .filter(|(id, _)| period_of(id) == period)
            .map(|(id, a)| (id, Rev::of(&a)))
            .collect())
    }

    /// Anti-entropy: queues the current version of each of `ids` again (records the
    /// hub lacks or never saw at this revision), unless an outbox entry of it is already
    /// waiting (unsent, or the hub's refusal of this version). A record of another school goes only if the hub holds it (`held_at_hub`:
    /// a partner's version lost with a restore); one the hub lacks is its owner's to send.
    /// Returns how many were queued.
    pub async fn requeue(
        &self,
        ids: &[Uuid],
        held_at_hub: &std::collections::HashSet<Uuid>,
    ) -> Result<u32, StoreError> {
        let txn = self.db.begin_write().await?;
        let mut queued = 0;
        for id in ids {
            let Some(row) = node_activity::Entity::find_by_id(*id).one(&txn).await? else { continue };
            // Waiting: an entry still to send, or the hub's refusal of this very version
            // (sending it again would be refused again). A refusal of an older version is not.
            let entries =
                node_outbox::Entity::find().filter(node_outbox::Column::ActivityId.eq(*id)).all(&txn).await?;
            let unsent = entries.iter().any(|e| e.refused.is_none());
            let refused_now = entries.iter().find(|e| e.refused.is_some() && e.version >= row.version);
            let own = row.school_code == self.school.as_str();
            // The newest waiting entry (unsent, or refused at this version) that was made
            // from an earlier version.
            let waiting_base = entries
                .iter()
                .filter(|e| e.refused.is_none() || e.version >= row.version)
                .filter_map(|e| e.base.as_deref().map(|b| (e.seq, b)))
                .max_by_key(|(seq, _)| *seq)
                .map(|(_, b)| b);
            if own
                && !held_at_hub.contains(id)
                && let Some(base) = waiting_base
            {
                // The hub may no longer hold the record at all (restored from an older
                // copy) while this version waits: refused, for the clerk, or unsent and
                // about to be refused again (a refusal is retried after a roster change).
                // The version it was made from, which the county had, goes again after
                // it: held at the hub already, it changes nothing there.
                let (a, ancestors, maker) = parse_base(base)?;
                enqueue(&txn, &a, &ancestors, maker.as_ref()).await?;
                queued += 1;
                continue;
            }
            if unsent || refused_now.is_some() || (!own && !held_at_hub.contains(id)) {
                continue;
            }
            let ancestors = parse_revs(row.revs.as_deref())?;
            // Sent again in its maker's name: the hub ranks a version by who made it.
            let maker = maker_of(row.maker_node, row.maker_school.clone());
            let a = from_node_row(row)?;
            enqueue(&txn, &a, &ancestors, maker.as_ref()).await?;
            queued += 1;
        }
        txn.commit().await?;
        Ok(queued)
    }
}
