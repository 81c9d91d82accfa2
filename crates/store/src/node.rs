//! A node's local store: activities, the outbox, and the node's settings.
//!
//! Every local change (record, edit, delete) writes the activity row and its
//! outbox entry in one transaction, so nothing recorded can miss the outbox.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;
use yanpei_domain::roster::Roster;
use yanpei_domain::{
    Activity, ActivityKind, MAX_ANCESTORS, Rev, SchoolCode, Semester, ancestry_of, period_digest, period_of,
};

use crate::convert::{from_node_row, node_row, parse_revs, revs_json};
use crate::decide::Origin;
use crate::entity::{node_activity, node_conflict, node_meta, node_outbox};
use crate::migration::NodeMigrator;
use crate::{Db, StoreError};

/// Settings keys.
mod key {
    pub(super) const NODE_ID: &str = "node_id";
    pub(super) const SCHOOL: &str = "school_code";
    pub(super) const LAST_SEQ: &str = "last_seq";
    pub(super) const ACKED_SEQ: &str = "acked_seq";
    pub(super) const PULL_CURSOR: &str = "pull_cursor";
    pub(super) const ROSTER_VERSION: &str = "roster_version";
    pub(super) const ROSTER: &str = "roster";
    pub(super) const LAST_RECONCILE: &str = "last_reconcile";
}

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

/// A node's local store.
#[derive(Debug, Clone)]
pub struct NodeStore {
    db: Arc<Db>,
    node_id: Uuid,
    school: SchoolCode,
}

async fn get_meta(db: &impl ConnectionTrait, k: &str) -> Result<Option<String>, StoreError> {
    Ok(node_meta::Entity::find_by_id(k.to_owned()).one(db).await?.map(|m| m.value))
}

async fn set_meta(db: &impl ConnectionTrait, k: &str, v: &str) -> Result<(), StoreError> {
    node_meta::Entity::delete_by_id(k.to_owned()).exec(db).await?;
    node_meta::ActiveModel { key: Set(k.to_owned()), value: Set(v.to_owned()) }.insert(db).await?;
    Ok(())
}

async fn get_u64(db: &impl ConnectionTrait, k: &str) -> Result<u64, StoreError> {
    match get_meta(db, k).await? {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| StoreError::Corrupt(format!("meta {k} is not a number: {v:?}"))),
    }
}

impl NodeStore {
    /// Creates a store for `school` at `url`, or opens the existing one.
    ///
    /// A store belongs to one school for life: opening it for another school fails.
    pub async fn open_or_init(url: &str, school: &SchoolCode) -> Result<NodeStore, StoreError> {
        Self::open_or_init_as(url, school, Uuid::now_v7()).await
    }

    /// [`NodeStore::open_or_init`], a new store taking `node_id` (the id an enrollment bound
    /// into the node's certificate); an existing store keeps its own.
    pub async fn open_or_init_as(
        url: &str,
        school: &SchoolCode,
        node_id: Uuid,
    ) -> Result<NodeStore, StoreError> {
        let db = Db::open(url).await?;
        NodeMigrator::up(&db.conn(), None).await?;
        let txn = db.begin_write().await?;
        match get_meta(&txn, key::SCHOOL).await? {
            Some(existing) if existing != school.as_str() => {
                return Err(StoreError::Invalid(format!(
                    "this store belongs to school {existing}, not {school}"
                )));
            }
            Some(_) => {}
            None => {
                set_meta(&txn, key::SCHOOL, school.as_str()).await?;
                set_meta(&txn, key::NODE_ID, &node_id.to_string()).await?;
            }
        }
        txn.commit().await?;
        db.close().await;
        Self::open(url).await
    }

    /// Opens an existing store.
    pub async fn open(url: &str) -> Result<NodeStore, StoreError> {
        let db = Db::open(url).await?;
        let conn = db.conn();
        NodeMigrator::up(&conn, None).await?;
        let school = get_meta(&conn, key::SCHOOL).await?.ok_or_else(|| {
            StoreError::NotFound("this node store has not been set up: run `yanpei node init` first".into())
        })?;
        let node_id = get_meta(&conn, key::NODE_ID)
            .await?
            .ok_or_else(|| StoreError::Corrupt("meta node_id is missing".into()))?;
        Ok(NodeStore {
            node_id: node_id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("meta node_id is not a UUID: {node_id:?}")))?,
            school: school
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("meta school_code is invalid: {school:?}")))?,
            db,
        })
    }

    /// The current connection (for tests and tools; a cheap clone of the pool handle).
    /// It is replaced after a storage error in a write: take it anew for each use.
    pub fn connection(&self) -> DatabaseConnection {
        self.db.conn()
    }

    fn conn(&self) -> DatabaseConnection {
        self.db.conn()
    }

    /// Closes the store's database (the store is not used afterwards).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// This node's identity.
    pub fn node_id(&self) -> Uuid {
        self.node_id
    }

    /// The school this node records for.
    pub fn school(&self) -> &SchoolCode {
        &self.school
    }

    /// A setting.
    pub async fn meta(&self, k: &str) -> Result<Option<String>, StoreError> {
        get_meta(&self.conn(), k).await
    }

    /// Changes a setting.
    pub async fn set_meta(&self, k: &str, v: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        set_meta(&txn, k, v).await?;
        txn.commit().await
    }

    /// Records new activities (validated by the caller), each with its outbox entry, in one transaction.
    pub async fn record_all(&self, activities: &[Activity]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        for a in activities {
            self.check_school(a)?;
            let mut row = node_row(a, Utc::now());
            row.revs = Set(None);
            row.insert(&txn).await?;
            enqueue(&txn, a, &[], None).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Records one new activity.
    pub async fn record(&self, activity: &Activity) -> Result<(), StoreError> {
        self.record_all(std::slice::from_ref(activity)).await
    }

    /// Replaces a record with its next version (an edit or a delete), validated by the caller.
    ///
    /// `next.version` must be exactly one more than the stored version.
    pub async fn update(&self, next: &Activity) -> Result<(), StoreError> {
        self.update_from(next, None).await
    }

    /// [`NodeStore::update`]; `also_from` names a second version the new one was
    /// made from (a resolved conflict's losing version).
    async fn update_from(&self, next: &Activity, also_from: Option<Rev>) -> Result<(), StoreError> {
        self.check_school(next)?;
        let txn = self.db.begin_write().await?;
        let current = node_activity::Entity::find_by_id(next.id)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("没有编号为 {} 的记录", next.id)))?;
        if current.deleted {
            return Err(StoreError::Invalid(format!("记录 {} 已删除，不能再修改", next.id)));
        }
        if u64::try_from(current.version).ok().map(|v| v + 1) != Some(next.version) {
            return Err(StoreError::Invalid(format!(
                "记录 {} 已被修改（现为第 {} 版），请重新读取后再改",
                next.id, current.version
            )));
        }
        let base = base_of(&current)?;
        let ancestors = next_ancestry(current, also_from)?;
        let mut row = node_row(next, Utc::now());
        row.revs = Set(revs_json(&ancestors));
        set_maker(&mut row, None);
        row.update(&txn).await?;
        // A quarantined change of this record is superseded by the new one.
        node_outbox::Entity::delete_many()
            .filter(node_outbox::Column::ActivityId.eq(next.id))
            .filter(node_outbox::Column::Refused.is_not_null())
            .exec(&txn)
            .await?;
        enqueue_from(&txn, next, &ancestors, None, Some(base)).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A record (tombstones included).
    pub async fn get(&self, id: Uuid) -> Result<Option<Activity>, StoreError> {
        node_activity::Entity::find_by_id(id).one(&self.conn()).await?.map(from_node_row).transpose()
    }

    /// Live records, newest date first, optionally of one semester and kind.
    pub async fn list(
        &self,
        semester: Option<Semester>,
        kind: Option<ActivityKind>,
    ) -> Result<Vec<Activity>, StoreError> {
        let mut q = node_activity::Entity::find().filter(node_activity::Column::Deleted.eq(false));
        if let Some(s) = semester {
            q = q
                .filter(node_activity::Column::StartYear.eq(i32::from(s.start_year)))
                .filter(node_activity::Column::Term.eq(i32::from(s.term.number())));
        }
        if let Some(k) = kind {
            q = q.filter(node_activity::Column::Kind.eq(k.code()));
        }
        q.order_by_desc(node_activity::Column::Date)
            .order_by_desc(node_activity::Column::Id)
            .all(&self.conn())
            .await?
            .into_iter()
            .map(from_node_row)
            .collect()
    }

    /// Every record, tombstones included, keyed by id.
    pub async fn all(&self) -> Result<BTreeMap<Uuid, Activity>, StoreError> {
        node_activity::Entity::find()
            .all(&self.conn())
            .await?
            .into_iter()
            .map(|m| from_node_row(m).map(|a| (a.id, a)))
            .collect()
    }

    /// Counts of live records by kind.
    pub async fn counts_by_kind(
        &self,
        semester: Option<Semester>,
    ) -> Result<BTreeMap<ActivityKind, u64>, StoreError> {
        let mut out = BTreeMap::new();
        for a in self.list(semester, None).await? {
            *out.entry(a.kind).or_insert(0) += 1;
        }
        Ok(out)
    }

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

    /// Writes a consistent copy of the whole store to `path` (SQLite `VACUUM INTO`),
    /// safe while the store is in use.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        let target = path.display().to_string().replace('\'', "''");
        self.conn().execute_unprepared(&format!("VACUUM INTO '{target}'")).await?;
        Ok(())
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

    fn check_school(&self, a: &Activity) -> Result<(), StoreError> {
        if !a.involves(&self.school) {
            return Err(StoreError::PermissionDenied(format!(
                "记录属于学校 {}，且未注明本校（{}）为相关学校：本节点只记录涉及本校的活动",
                a.school, self.school
            )));
        }
        Ok(())
    }
}

/// The ancestry of a version made from the stored row `current` (and from `also`).
fn next_ancestry(current: node_activity::Model, also: Option<Rev>) -> Result<Vec<Rev>, StoreError> {
    let held = parse_revs(current.revs.as_deref())?;
    let base = from_node_row(current)?;
    let mut ancestors = ancestry_of(&base, &held);
    if let Some(r) = also
        && !ancestors.contains(&r)
    {
        ancestors.insert(1.min(ancestors.len()), r);
        ancestors.truncate(MAX_ANCESTORS);
    }
    Ok(ancestors)
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

/// Appends the record's state to the outbox under the next sequence number.
async fn enqueue(
    txn: &impl ConnectionTrait,
    a: &Activity,
    ancestors: &[Rev],
    maker: Option<&Origin>,
) -> Result<(), StoreError> {
    enqueue_from(txn, a, ancestors, maker, None).await
}

/// [`enqueue`] of an edit, with the version it was made from (`base_of`).
async fn enqueue_from(
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

/// The stored version an edit is made from, as kept with the edit's outbox entry: the
/// record, its ancestry and who made it.
fn base_of(row: &node_activity::Model) -> Result<String, StoreError> {
    let activity = from_node_row(row.clone())?;
    let base = serde_json::json!({
        "activity": activity,
        "revs": row.revs,
        "maker_node": row.maker_node,
        "maker_school": row.maker_school,
    });
    Ok(base.to_string())
}

/// What [`base_of`] kept: the version, its ancestors and its maker.
fn parse_base(text: &str) -> Result<(Activity, Vec<Rev>, Option<Origin>), StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("outbox base: {e}"));
    let mut v: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let activity: Activity =
        serde_json::from_value(v["activity"].take()).map_err(|e| corrupt(e.to_string()))?;
    let ancestors = parse_revs(v["revs"].as_str())?;
    let maker_node = v["maker_node"].as_str().and_then(|n| n.parse::<Uuid>().ok());
    let maker_school = v["maker_school"].as_str().map(str::to_owned);
    Ok((activity, ancestors, maker_of(maker_node, maker_school)))
}

/// Who made a stored version (`None`: this node).
fn maker_of(node: Option<Uuid>, school: Option<String>) -> Option<Origin> {
    Some(Origin { node: node?, school: school? })
}

/// Records who made the version a row now holds (`None`: this node).
fn set_maker(row: &mut node_activity::ActiveModel, maker: Option<&Origin>) {
    row.maker_node = Set(maker.map(|m| m.node));
    row.maker_school = Set(maker.map(|m| m.school.clone()));
}
