//! The hub's store: opening it (migrations under an advisory lock, rollups built once),
//! pull, and reads of single records; and the public face of the hub's storage, which
//! re-exports the types of its concerns: the handle (`sql`), the ledger (`ledger`), the
//! batch path (`batch`, `decide`), statistics (`stats`); the roster (`roster`), rollups
//! (`rollup`) and shared records (`shared`) add their own methods to `HubStore`.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};

use crate::convert::{from_hub_row, hub_row, parse_revs};
use crate::entity::{hub_activity, hub_activity_party};
use crate::migration::HubMigrator;
use crate::{Db, StoreError};

pub use crate::batch::{ApplyOutcome, Refusal};
pub use crate::decide::IncomingChange;
pub use crate::ledger::{Opened, Session};
pub use crate::sql::HubStore;
use crate::sql::{bump_counter, seq_i64, seq_u64};
pub use crate::stats::{SchoolKindCount, StatsFilter};

/// One pulled record: its cursor, its current version and that version's ancestry.
#[derive(Debug, Clone, PartialEq)]
pub struct Pulled {
    /// The hub cursor of its last change.
    pub cursor: u64,
    /// The current version.
    pub activity: Activity,
    /// The revisions it descends from, newest first.
    pub ancestors: Vec<yanpei_domain::Rev>,
    /// Who made it.
    pub origin: crate::decide::Origin,
    /// Versions of the record the hub keeps as losers of a conflict (not ancestors: a
    /// node holding one takes this version, and never sends these on as a lineage).
    pub kept: Vec<yanpei_domain::Rev>,
}

/// The advisory lock key under which hub migrations run on PostgreSQL ("yanpei" in ASCII).
const MIGRATION_LOCK: i64 = 0x79_61_6e_70_65_69;

/// Largest page a pull returns.
pub const MAX_PULL: u64 = 1000;

impl HubStore {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    ///
    /// On PostgreSQL the migrations run under a transaction-scoped advisory
    /// lock, so hubs starting together over one database do not race: the
    /// second waits, then finds the schema current.
    pub async fn open(url: &str) -> Result<HubStore, StoreError> {
        let db = Db::open(url).await?;
        let conn = db.conn();
        if conn.get_database_backend() == DbBackend::Postgres {
            let txn = conn.begin().await?;
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).await?;
            HubMigrator::up(&txn, None).await?;
            txn.commit().await?;
        } else {
            HubMigrator::up(&conn, None).await?;
        }
        let store = HubStore { db };
        store.build_rollups_if_missing().await?;
        Ok(store)
    }

    /// A database upgraded from a version without rollups (or without the newest
    /// ones: every live record has a `rollup_subject_week` row) gets them built once.
    ///
    /// The check is made again inside the rebuild's transaction, after it holds the
    /// counter row lock (as batches do), so hubs opening one upgraded PostgreSQL
    /// database together build them once: the second finds them built.
    async fn build_rollups_if_missing(&self) -> Result<(), StoreError> {
        if !rollups_missing(&self.conn()).await? {
            return Ok(());
        }
        let txn = self.db.begin_write().await?;
        bump_counter(&txn, 0).await?;
        if rollups_missing(&txn).await? {
            tracing::info!("building rollups from existing records");
            crate::rollup::rebuild_rollups_in(&txn).await?;
        }
        txn.commit().await
    }

    /// Changes relevant to a node after `cursor`: records of its school, and shared
    /// records naming its school, last changed by someone else. Returns the page and
    /// whether more follow.
    pub async fn pull(
        &self,
        session: &Session,
        cursor: u64,
        limit: u64,
    ) -> Result<(Vec<Pulled>, bool), StoreError> {
        let limit = limit.clamp(1, MAX_PULL);
        use sea_orm::sea_query::Query;
        let partner_of = Query::select()
            .column(hub_activity_party::Column::ActivityId)
            .from(hub_activity_party::Entity)
            .and_where(hub_activity_party::Column::SchoolCode.eq(session.school.as_str()))
            .to_owned();
        let rows = hub_activity::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(hub_activity::Column::SchoolCode.eq(session.school.as_str()))
                    .add(hub_activity::Column::Id.in_subquery(partner_of)),
            )
            .filter(hub_activity::Column::ChangeSeq.gt(seq_i64(cursor)?))
            .filter(hub_activity::Column::OriginNode.ne(session.node_id))
            .order_by_asc(hub_activity::Column::ChangeSeq)
            .limit(limit + 1)
            .all(&self.conn())
            .await?;
        let has_more = rows.len() as u64 > limit;
        let page = rows
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|r| {
                let cursor = seq_u64(r.change_seq);
                let ancestors = parse_revs(r.revs.as_deref())?;
                let origin = crate::decide::Origin::of_row(&r);
                from_hub_row(r).map(|activity| Pulled {
                    cursor,
                    activity,
                    ancestors,
                    origin,
                    kept: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut page = page;
        let mut kept = crate::batch::kept_revs(&self.conn(), page.iter().map(|p| p.activity.id)).await?;
        for p in &mut page {
            p.kept = kept.remove(&p.activity.id).unwrap_or_default();
        }
        let page = if crate::planted::planted(crate::planted::Bug::ForgetPartnerRemoval) {
            page.into_iter().filter(|p| p.activity.involves(&session.school)).collect()
        } else {
            page
        };
        Ok((page, has_more))
    }

    /// A record as the hub holds it (tombstones included).
    pub async fn activity(&self, id: Uuid) -> Result<Option<Activity>, StoreError> {
        hub_activity::Entity::find_by_id(id).one(&self.conn()).await?.map(from_hub_row).transpose()
    }

    /// Every record of a school (tombstones included), keyed by id.
    pub async fn activities_of(&self, school: &SchoolCode) -> Result<BTreeMap<Uuid, Activity>, StoreError> {
        let rows = hub_activity::Entity::find()
            .filter(hub_activity::Column::SchoolCode.eq(school.as_str()))
            .all(&self.conn())
            .await?;
        rows.into_iter().map(|r| from_hub_row(r).map(|a| (a.id, a))).collect()
    }
}

/// The row the hub writes for `a` when node `origin_node`'s change gets cursor
/// `change_seq`: the same columns and values [`HubStore::apply_batch`] writes, for
/// benchmarks that write the same rows into the same schema by another path.
pub fn activity_row(
    a: &Activity,
    origin_node: Uuid,
    change_seq: i64,
    now: chrono::DateTime<Utc>,
) -> hub_activity::ActiveModel {
    let mut row = hub_row(a, now);
    row.origin_node = Set(origin_node);
    row.change_seq = Set(change_seq);
    row
}

/// Whether the rollups must be built: records exist but a rollup table is empty.
async fn rollups_missing(db: &impl ConnectionTrait) -> Result<bool, StoreError> {
    let backend = db.get_database_backend();
    let one = |t: &str| Statement::from_string(backend, format!("SELECT 1 FROM {t} LIMIT 1"));
    let has_rollups = db.query_one_raw(one("rollup_week")).await?.is_some()
        && db.query_one_raw(one("rollup_subject_week")).await?.is_some();
    Ok(!has_rollups && db.query_one_raw(one("activity")).await?.is_some())
}
