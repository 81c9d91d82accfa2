//! Shared records and conflicts at the hub: the partner schools a record involves
//! (so the hub forwards it to each on pull), and the losing side of every
//! concurrent edit, kept until an edit made after it resolves it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};

use crate::StoreError;
use crate::decide::Lost;
use crate::entity::{hub_activity_party, hub_conflict};
use crate::sql::CHUNK;
use crate::sql::HubStore;

/// Keeps the losing version; a replay of the same loss is recorded once.
pub(crate) async fn record_conflict(
    txn: &impl ConnectionTrait,
    l: &Lost,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (lost, lost_by, won_by) = (&l.activity, &l.lost_by, &l.won_by);
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
        rev: Set(Some(l.rev.to_string())),
        resolved_version: Set(l.resolved_by.and_then(|v| i64::try_from(v).ok())),
        resolved_at: Set(l.resolved_by.map(|_| now)),
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
    /// The losing version's number.
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
