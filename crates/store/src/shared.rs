//! Shared records and conflicts at the hub: the partner schools a record involves
//! (so the hub forwards it to each on pull), and the losing side of every
//! concurrent edit, kept until an edit made after it resolves it.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use uuid::Uuid;
use yanpei_domain::{Activity, Details, SchoolCode};

use crate::StoreError;
use crate::entity::{hub_activity, hub_activity_party, hub_conflict};
use crate::hub::{HubStore, sql};

const CHUNK: usize = 500;

/// Who made a version: a node and its school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) node: Uuid,
    pub(crate) school: String,
}

impl Origin {
    /// The order in which same-version edits win: the record's own school beats a
    /// partner school; then the greater node id. A function of the two versions only,
    /// so every arrival order picks the same winner.
    pub(crate) fn rank(&self, owner: &str) -> (bool, Uuid) {
        (self.school == owner, self.node)
    }
}

/// The partner schools named by the held version of each of `ids`.
pub(crate) async fn held_partners(
    txn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Vec<SchoolCode>)>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(Uuid, Option<String>)> = hub_activity::Entity::find()
            .select_only()
            .column(hub_activity::Column::Id)
            .column(hub_activity::Column::Details)
            .filter(hub_activity::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        for (id, details) in rows {
            let partners = match details.as_deref() {
                None | Some("") => Vec::new(),
                Some(json) => {
                    serde_json::from_str::<Details>(json)
                        .map_err(|e| StoreError::Corrupt(format!("activity {id}: {e}")))?
                        .partner_schools
                }
            };
            out.push((id, partners));
        }
    }
    Ok(out)
}

/// Which of `ids` have an unresolved conflict.
pub(crate) async fn open_conflict_ids(
    txn: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashSet<Uuid>, StoreError> {
    let ids: Vec<Uuid> = ids.collect::<BTreeSet<_>>().into_iter().collect();
    let mut out = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<Uuid> = hub_conflict::Entity::find()
            .select_only()
            .column(hub_conflict::Column::ActivityId)
            .filter(hub_conflict::Column::ActivityId.is_in(chunk.iter().copied()))
            .filter(hub_conflict::Column::ResolvedVersion.is_null())
            .into_tuple()
            .all(txn)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Keeps the losing version; a replay of the same loss is recorded once.
pub(crate) async fn record_conflict(
    txn: &impl ConnectionTrait,
    lost: &Activity,
    lost_by: &Origin,
    won_by: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = hub_conflict::ActiveModel {
        activity_id: Set(lost.id),
        version: Set(i64::try_from(lost.version).unwrap_or(i64::MAX)),
        school_code: Set(lost.school.to_string()),
        losing_node: Set(lost_by.node),
        losing_school: Set(lost_by.school.clone()),
        winning_node: Set(won_by.node),
        winning_school: Set(won_by.school.clone()),
        losing: Set(serde_json::to_string(lost).map_err(|e| StoreError::Invalid(e.to_string()))?),
        detected_at: Set(now),
        ..Default::default()
    };
    hub_conflict::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                hub_conflict::Column::ActivityId,
                hub_conflict::Column::Version,
                hub_conflict::Column::LosingNode,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// A newer version of a record resolves its open conflicts of older versions.
pub(crate) async fn resolve_conflicts(
    txn: &impl ConnectionTrait,
    resolved: &[(Uuid, i64)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    for (id, version) in resolved {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "UPDATE conflict SET resolved_version = ?, resolved_at = ? \
                 WHERE activity_id = ? AND resolved_version IS NULL AND version < ?",
            ),
            [(*version).into(), now.into(), (*id).into(), (*version).into()],
        ))
        .await?;
    }
    Ok(())
}

/// Adds partner schools of shared records; a school once involved stays involved.
pub(crate) async fn insert_parties(
    txn: &impl ConnectionTrait,
    parties: Vec<(Uuid, String)>,
) -> Result<(), StoreError> {
    let unique: BTreeSet<(Uuid, String)> = parties.into_iter().collect();
    let rows: Vec<_> = unique
        .into_iter()
        .map(|(id, school)| hub_activity_party::ActiveModel {
            activity_id: Set(id),
            school_code: Set(school),
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        hub_activity_party::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([
                    hub_activity_party::Column::ActivityId,
                    hub_activity_party::Column::SchoolCode,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// A conflict as the county and the schools see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The hub's id of the conflict.
    pub id: i64,
    /// The version both sides made.
    pub version: u64,
    /// The school whose node's version lost.
    pub losing_school: String,
    /// The school whose node's version was kept.
    pub winning_school: String,
    /// The losing version in full.
    pub losing: Activity,
    /// When the hub saw the second edit.
    pub detected_at: DateTime<Utc>,
    /// The version that resolved it, if any.
    pub resolved_version: Option<u64>,
}

fn to_conflict(m: hub_conflict::Model) -> Result<Conflict, StoreError> {
    let losing: Activity = serde_json::from_str(&m.losing)
        .map_err(|e| StoreError::Corrupt(format!("conflict {}: {e}", m.id)))?;
    Ok(Conflict {
        id: m.id,
        version: u64::try_from(m.version).unwrap_or(0),
        losing_school: m.losing_school,
        winning_school: m.winning_school,
        losing,
        detected_at: m.detected_at,
        resolved_version: m.resolved_version.and_then(|v| u64::try_from(v).ok()),
    })
}

impl HubStore {
    /// Conflicts of records that involve any of `schools` (all schools: `None`), newest first.
    pub async fn conflicts(
        &self,
        schools: Option<&[SchoolCode]>,
        open_only: bool,
        limit: u64,
    ) -> Result<Vec<Conflict>, StoreError> {
        let mut q = hub_conflict::Entity::find();
        if open_only {
            q = q.filter(hub_conflict::Column::ResolvedVersion.is_null());
        }
        if let Some(schools) = schools {
            let codes: Vec<String> = schools.iter().map(ToString::to_string).collect();
            let shared: Vec<Uuid> = hub_activity_party::Entity::find()
                .select_only()
                .column(hub_activity_party::Column::ActivityId)
                .filter(hub_activity_party::Column::SchoolCode.is_in(codes.clone()))
                .into_tuple()
                .all(&self.conn())
                .await?;
            q = q.filter(
                sea_orm::Condition::any()
                    .add(hub_conflict::Column::SchoolCode.is_in(codes))
                    .add(hub_conflict::Column::ActivityId.is_in(shared)),
            );
        }
        q.order_by_desc(hub_conflict::Column::Id)
            .limit(limit)
            .all(&self.conn())
            .await?
            .into_iter()
            .map(to_conflict)
            .collect()
    }
}
