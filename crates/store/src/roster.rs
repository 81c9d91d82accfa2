//! The county roster in the hub's database: versions (imported whole, never edited) and
//! the school and alliance tables rebuilt from the current one.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, QueryOrder, QuerySelect};
use yanpei_domain::roster::Roster;
use yanpei_domain::{Alliance, Area, School, SchoolCode, SchoolLevel};

use crate::StoreError;
use crate::entity::{hub_alliance, hub_roster_version, hub_school};
use crate::sql::{HubStore, bump_counter, seq_u64};

impl HubStore {
    /// Makes `roster` (already validated) the current roster: a new version
    /// with its author, and the school and alliance tables rebuilt, in one transaction.
    pub async fn replace_roster(&self, roster: &Roster, author: &str) -> Result<u64, StoreError> {
        let snapshot = serde_json::to_string(roster).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let txn = self.db.begin_write().await?;
        // Serialise with batch applies and other imports.
        bump_counter(&txn, 0).await?;
        let last = hub_roster_version::Entity::find()
            .order_by_desc(hub_roster_version::Column::Version)
            .one(&txn)
            .await?
            .map(|v| v.version)
            .unwrap_or(0);
        let version = last + 1;
        hub_roster_version::ActiveModel {
            version: Set(version),
            author: Set(author.to_owned()),
            created_at: Set(Utc::now()),
            summary: Set(format!(
                "{} 个联合体，{} 所学校，{} 对结对，{} 名研培人员，{} 名教师",
                roster.alliances.len(),
                roster.schools.len(),
                roster.pairings.len(),
                roster.staff.len(),
                roster.teachers.len()
            )),
            snapshot: Set(snapshot),
        }
        .insert(&txn)
        .await?;
        hub_alliance::Entity::delete_many().exec(&txn).await?;
        hub_school::Entity::delete_many().exec(&txn).await?;
        for a in &roster.alliances {
            hub_alliance::ActiveModel {
                code: Set(a.code.clone()),
                name: Set(a.name.clone()),
                base_school: Set(a.base_school.to_string()),
            }
            .insert(&txn)
            .await?;
        }
        for s in &roster.schools {
            hub_school::ActiveModel {
                code: Set(s.code.to_string()),
                name: Set(s.name.clone()),
                township: Set(s.township.clone()),
                area: Set(s.area.code().to_owned()),
                level: Set(s.level.code().to_owned()),
                alliance_code: Set(s.alliance.clone()),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(seq_u64(version))
    }

    /// The current roster and its version, if one was ever imported.
    pub async fn current_roster(&self) -> Result<Option<(u64, Roster)>, StoreError> {
        let Some(row) = hub_roster_version::Entity::find()
            .order_by_desc(hub_roster_version::Column::Version)
            .one(&self.conn())
            .await?
        else {
            return Ok(None);
        };
        let roster = serde_json::from_str(&row.snapshot)
            .map_err(|e| StoreError::Corrupt(format!("roster version {}: {e}", row.version)))?;
        Ok(Some((seq_u64(row.version), roster)))
    }

    /// The current roster version only (0: none).
    pub async fn roster_version(&self) -> Result<u64, StoreError> {
        Ok(hub_roster_version::Entity::find()
            .select_only()
            .column(hub_roster_version::Column::Version)
            .order_by_desc(hub_roster_version::Column::Version)
            .into_tuple::<i64>()
            .one(&self.conn())
            .await?
            .map(seq_u64)
            .unwrap_or(0))
    }

    /// Every roster version, newest first: version, author, when, summary.
    pub async fn roster_history(&self) -> Result<Vec<hub_roster_version::Model>, StoreError> {
        // The snapshot is large; the history needs only the other columns, but
        // versions are few, so reading whole rows is fine.
        Ok(hub_roster_version::Entity::find()
            .order_by_desc(hub_roster_version::Column::Version)
            .all(&self.conn())
            .await?)
    }

    /// Every school on the roster, by code.
    pub async fn schools(&self) -> Result<Vec<School>, StoreError> {
        let rows =
            hub_school::Entity::find().order_by_asc(hub_school::Column::Code).all(&self.conn()).await?;
        rows.into_iter()
            .map(|r| {
                let bad = |what: &str| StoreError::Corrupt(format!("school {}: bad {what}", r.code));
                Ok(School {
                    code: r.code.parse().map_err(|_| bad("code"))?,
                    area: Area::from_code(&r.area).ok_or_else(|| bad("area"))?,
                    level: SchoolLevel::from_code(&r.level).ok_or_else(|| bad("level"))?,
                    name: r.name,
                    township: r.township,
                    alliance: r.alliance_code,
                    evaluation: None,
                })
            })
            .collect()
    }

    /// Every alliance, by code.
    pub async fn alliances(&self) -> Result<Vec<Alliance>, StoreError> {
        let rows =
            hub_alliance::Entity::find().order_by_asc(hub_alliance::Column::Code).all(&self.conn()).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Alliance {
                    base_school: r
                        .base_school
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("alliance {}: bad base school", r.code)))?,
                    code: r.code,
                    name: r.name,
                })
            })
            .collect()
    }

    /// The roster's name of a school, if it is on the roster.
    pub async fn school_name(&self, code: &SchoolCode) -> Result<Option<String>, StoreError> {
        Ok(hub_school::Entity::find_by_id(code.to_string()).one(&self.conn()).await?.map(|s| s.name))
    }
}

/// Every school code any roster version the hub imported has: a school the county
/// removed stays one it had (records of its time keep naming it).
pub(crate) async fn schools_ever(
    txn: &impl sea_orm::ConnectionTrait,
) -> Result<std::collections::BTreeSet<yanpei_domain::SchoolCode>, StoreError> {
    let mut out = std::collections::BTreeSet::new();
    for v in hub_roster_version::Entity::find().all(txn).await? {
        let roster: yanpei_domain::roster::Roster = serde_json::from_str(&v.snapshot)
            .map_err(|e| StoreError::Corrupt(format!("roster version {}: {e}", v.version)))?;
        out.extend(roster.schools.into_iter().map(|s| s.code));
    }
    Ok(out)
}
