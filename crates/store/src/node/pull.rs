//! Applying what the hub sent: pulled pages and the versions a comparison brought.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use yanpei_domain::{Activity, MAX_ANCESTORS, Rev, SchoolCode};

use super::NodeStore;
use super::lineage::{maker_of, set_maker};
use super::meta::{get_u64, key, set_meta};
use super::outbox::enqueue;
use crate::StoreError;
use crate::convert::{from_node_row, node_row, parse_revs, revs_json};
use crate::decide::Origin;
use crate::entity::{node_activity, node_outbox};

/// A record the hub sent: its current version and that version's ancestry.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledRecord {
    /// The hub's current version.
    pub activity: Activity,
    /// The revisions it descends from, newest first.
    pub ancestors: Vec<Rev>,
    /// Who made it (`None` from hubs that do not say).
    pub maker: Option<Origin>,
    /// Versions of the record the hub keeps as losers (held there; not ancestors).
    pub kept: Vec<Rev>,
}

/// What a pulled page did locally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullApplied {
    /// Records created or replaced by a newer version.
    pub applied: u32,
    /// Records the node already held at that version or newer, or has an unsent change of.
    pub unchanged: u32,
    /// Local versions replaced by the hub's winner of a same-version conflict.
    pub replaced: u32,
    /// Shared records that no longer name this school, removed from the store.
    pub removed: u32,
    /// Local versions the hub's version does not descend from nor keep (lost with a
    /// restore of the hub): queued to be sent again, so the hub judges them.
    pub resent: u32,
}

impl NodeStore {
    /// Applies a page of pulled records and moves the cursor, in one transaction.
    ///
    /// A pulled version replaces the local one when the node has no unsent (or
    /// quarantined) change of the record, the revisions differ and the pulled version
    /// is not older: the hub sends its current version, the winner of any conflict,
    /// whose loser it keeps and reports. A shared record that no longer names this
    /// school leaves the store. The cursor only moves forward.
    pub async fn apply_pulled(
        &self,
        records: &[PulledRecord],
        next_cursor: u64,
    ) -> Result<PullApplied, StoreError> {
        self.apply_pulled_page(records, &[], next_cursor).await
    }

    /// [`NodeStore::apply_pulled`], also dropping the records in `gone` (shared records
    /// that no longer name this school), in the same transaction.
    pub async fn apply_pulled_page(
        &self,
        records: &[PulledRecord],
        gone: &[Uuid],
        next_cursor: u64,
    ) -> Result<PullApplied, StoreError> {
        let txn = self.db.begin_write().await?;
        let mut out = apply_records(&txn, &self.school, records).await?;
        out.removed += drop_records(&txn, gone).await?;
        if next_cursor > get_u64(&txn, key::PULL_CURSOR).await? {
            set_meta(&txn, key::PULL_CURSOR, &next_cursor.to_string()).await?;
        }
        txn.commit().await?;
        Ok(out)
    }

    /// Anti-entropy: applies the hub's versions of records this node lacks or holds
    /// older, and drops records no longer in its school's view, in one transaction.
    pub async fn apply_reconciled(
        &self,
        records: &[PulledRecord],
        gone: &[Uuid],
    ) -> Result<PullApplied, StoreError> {
        let txn = self.db.begin_write().await?;
        let mut out = apply_records(&txn, &self.school, records).await?;
        out.removed += drop_records(&txn, gone).await?;
        txn.commit().await?;
        Ok(out)
    }
}

/// Drops records that left this school's view (their outbox entries, if any, stay:
/// the hub will refuse them and they wait, quarantined, with the reason).
async fn drop_records(txn: &impl ConnectionTrait, gone: &[Uuid]) -> Result<u32, StoreError> {
    let mut removed = 0;
    for id in gone {
        if node_activity::Entity::delete_by_id(*id).exec(txn).await?.rows_affected > 0 {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Applies records the hub sent (see [`NodeStore::apply_pulled`]).
async fn apply_records(
    txn: &impl ConnectionTrait,
    school: &SchoolCode,
    records: &[PulledRecord],
) -> Result<PullApplied, StoreError> {
    let mut out = PullApplied::default();
    for PulledRecord { activity: a, ancestors, maker, kept } in records {
        let local = node_activity::Entity::find_by_id(a.id).one(txn).await?;
        if !a.involves(school) {
            // A shared record whose current version no longer names this school.
            if local.is_some() {
                node_activity::Entity::delete_by_id(a.id).exec(txn).await?;
                out.removed += 1;
            } else {
                out.unchanged += 1;
            }
            continue;
        }
        let Some(local) = local else {
            let mut row = node_row(a, Utc::now());
            row.revs = Set(revs_json(ancestors));
            set_maker(&mut row, maker.as_ref());
            row.insert(txn).await?;
            out.applied += 1;
            continue;
        };
        // An unsent change the hub already holds (its revision is the pulled version's or
        // among its ancestors: the hub has it and moved on) is delivered; any other keeps
        // the local version until the hub has judged it.
        let known: std::collections::HashSet<Rev> =
            ancestors.iter().chain(kept).cloned().chain([Rev::of(a)]).collect();
        let mut unsent = false;
        for e in node_outbox::Entity::find().filter(node_outbox::Column::ActivityId.eq(a.id)).all(txn).await?
        {
            let sent: Activity = serde_json::from_str(&e.snapshot)
                .map_err(|err| StoreError::Corrupt(format!("outbox entry {}: {err}", e.seq)))?;
            if e.refused.is_none() && known.contains(&Rev::of(&sent)) {
                node_outbox::Entity::delete_by_id(e.seq).exec(txn).await?;
            } else {
                unsent = true;
            }
        }
        let local_version = u64::try_from(local.version).unwrap_or(0);
        let (local_revs, local_maker) =
            (local.revs.clone(), maker_of(local.maker_node, local.maker_school.clone()));
        let mine = from_node_row(local)?;
        // The hub's version replaces the local one only if the hub has the local one (it is
        // in the pulled version's lineage: an ancestor, or a loser it keeps); a version the
        // hub never saw (lost with a restore) stays until the comparison sends it again.
        // Lineages from before protocol 3, or cut at their bound, fall back to numbers.
        let seen = ancestors.contains(&Rev::of(&mine))
            || kept.contains(&Rev::of(&mine))
            || ((ancestors.is_empty() || ancestors.len() >= MAX_ANCESTORS) && a.version > local_version);
        if !unsent && !seen && Rev::of(&mine) != Rev::of(a) {
            // The hub holds the record but not this version: it goes again now (in its
            // maker's name), as a comparison would send it, rather than waiting for the
            // next scheduled comparison. The hub then keeps it (a kept loser is named in
            // the winner's lineage) and the next pull settles it here.
            let local_ancestors = parse_revs(local_revs.as_deref())?;
            enqueue(txn, &mine, &local_ancestors, local_maker.as_ref()).await?;
            out.resent += 1;
            continue;
        }
        if unsent || Rev::of(&mine) == Rev::of(a) || a.version < local_version || !seen {
            out.unchanged += 1;
            continue;
        }
        let mut row = node_row(a, Utc::now());
        row.revs = Set(revs_json(ancestors));
        set_maker(&mut row, maker.as_ref());
        row.update(txn).await?;
        out.applied += 1;
        if a.version == local_version {
            out.replaced += 1;
        }
    }
    Ok(out)
}
