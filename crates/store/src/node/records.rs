//! Recording, editing and reading the node's records.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;
use yanpei_domain::{Activity, ActivityKind, Rev, Semester};

use super::NodeStore;
use super::lineage::{base_of, next_ancestry, set_maker};
use super::outbox::{enqueue, enqueue_from};
use crate::StoreError;
use crate::convert::{from_node_row, node_row, revs_json};
use crate::entity::{node_activity, node_outbox};

impl NodeStore {
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
}
