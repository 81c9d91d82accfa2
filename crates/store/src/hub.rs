//! The hub's storage operations: roster, sync sessions, batch apply, pull, statistics.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;
use yanpei_domain::roster::Roster;
use yanpei_domain::{Activity, ActivityKind, Alliance, Area, School, SchoolCode, SchoolLevel, Semester};

use crate::convert::{from_hub_row, hub_row, parse_revs};
use crate::entity::{
    hub_activity, hub_activity_party, hub_alliance, hub_counter, hub_node, hub_roster_version, hub_school,
    hub_sync_session,
};
use crate::migration::HubMigrator;
use crate::{Db, StoreError};

pub use crate::batch::{ApplyOutcome, IncomingChange, Refusal};

/// An open sync session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its id.
    pub id: Uuid,
    /// The node.
    pub node_id: Uuid,
    /// The node's school.
    pub school: SchoolCode,
    /// Whether `finish` was called.
    pub finished: bool,
    /// The protocol version the node spoke in the handshake.
    pub protocol_version: u32,
}

/// What the hub tells a node at the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The new session.
    pub session: Uuid,
    /// Highest sequence number of this node the hub holds.
    pub acked_seq: u64,
    /// The hub's change counter now.
    pub hub_cursor: u64,
    /// The pull cursor the node reported at its last finished session.
    pub node_pull_cursor: u64,
}

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
}

/// What the statistics are about.
#[derive(Debug, Clone, Default)]
pub struct StatsFilter {
    /// Only this semester; `None`: all.
    pub semester: Option<Semester>,
    /// Only these schools; `None`: the whole county.
    pub schools: Option<Vec<SchoolCode>>,
    /// Only records of this subject; `None`: any (records without a subject included).
    pub subject: Option<String>,
    /// Only records of this ISO week (its Monday) and later; `None`: from the first.
    pub from_week: Option<chrono::NaiveDate>,
    /// Only records of this ISO week (its Monday) and earlier; `None`: to the last.
    pub to_week: Option<chrono::NaiveDate>,
}

impl StatsFilter {
    /// The rollup that answers this filter, and its `WHERE` clause and values;
    /// `None` when the filter selects no school at all.
    pub(crate) fn rollup_where(&self) -> Option<(&'static str, String, Vec<sea_orm::Value>)> {
        let table = if self.subject.is_some() { "rollup_subject_week" } else { "rollup_week" };
        let mut text = String::from(" WHERE 1 = 1");
        let mut values: Vec<sea_orm::Value> = Vec::new();
        if let Some(s) = self.semester {
            text.push_str(" AND start_year = ? AND term = ?");
            values.push(i32::from(s.start_year).into());
            values.push(i32::from(s.term.number()).into());
        }
        if let Some(schools) = &self.schools {
            if schools.is_empty() {
                return None;
            }
            text.push_str(&format!(" AND school_code IN ({})", vec!["?"; schools.len()].join(", ")));
            values.extend(schools.iter().map(|s| s.to_string().into()));
        }
        if let Some(subject) = &self.subject {
            text.push_str(" AND subject = ?");
            values.push(subject.clone().into());
        }
        if let Some(first) = self.from_week {
            text.push_str(" AND week >= ?");
            values.push(first.into());
        }
        if let Some(last) = self.to_week {
            text.push_str(" AND week <= ?");
            values.push(last.into());
        }
        Some((table, text, values))
    }
}

/// A count of live activities of one kind at one school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolKindCount {
    /// The school.
    pub school: String,
    /// The kind.
    pub kind: ActivityKind,
    /// How many.
    pub count: u64,
}

const CHANGE_SEQ: &str = "change_seq";

/// The advisory lock key under which hub migrations run on PostgreSQL ("yanpei" in ASCII).
const MIGRATION_LOCK: i64 = 0x79_61_6e_70_65_69;

/// Largest page a pull returns.
pub const MAX_PULL: u64 = 1000;

/// The hub's database.
#[derive(Debug, Clone)]
pub struct HubStore {
    pub(crate) db: Arc<Db>,
}

fn seq_i64(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Invalid(format!("sequence number {seq} is too large")))
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

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

    /// The current connection (for tests and tools; a cheap clone of the pool handle).
    /// It is replaced after a storage error in a write: take it anew for each use.
    pub fn connection(&self) -> DatabaseConnection {
        self.db.conn()
    }

    pub(crate) fn conn(&self) -> DatabaseConnection {
        self.db.conn()
    }

    /// Closes the database (the store is not used afterwards).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Changes each time a write meets a storage fault (full disk, I/O error,
    /// read-only): what the hub's health follows.
    pub fn write_faults(&self) -> tokio::sync::watch::Receiver<u64> {
        self.db.faults()
    }

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

    /// Registers the node (binding it to its school on first sight) and opens a session.
    /// Returns the session id and the node's acknowledged sequence number.
    pub async fn open_session(
        &self,
        node_id: Uuid,
        school: &SchoolCode,
        protocol_version: u32,
        agent_version: &str,
    ) -> Result<(Uuid, u64), StoreError> {
        let o = self.open_session_full(node_id, school, protocol_version, agent_version).await?;
        Ok((o.session, o.acked_seq))
    }

    /// [`HubStore::open_session`], also answering the hub's change counter and the pull
    /// cursor the node reported last: what a node compares with its own to see that the
    /// hub was restored from an older copy.
    pub async fn open_session_full(
        &self,
        node_id: Uuid,
        school: &SchoolCode,
        protocol_version: u32,
        agent_version: &str,
    ) -> Result<Opened, StoreError> {
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
        let acked = match hub_node::Entity::find_by_id(node_id).one(&txn).await? {
            Some(node) if node.school_code != school.as_str() => {
                return Err(StoreError::PermissionDenied(format!(
                    "node {node_id} belongs to school {}, not {school}",
                    node.school_code
                )));
            }
            Some(node) => {
                let acked = (node.acked_seq, node.pull_cursor);
                let mut am: hub_node::ActiveModel = node.into();
                am.last_seen = Set(now);
                am.agent_version = Set(agent_version.to_owned());
                am.update(&txn).await?;
                acked
            }
            None => {
                hub_node::ActiveModel {
                    node_id: Set(node_id),
                    school_code: Set(school.to_string()),
                    acked_seq: Set(0),
                    agent_version: Set(agent_version.to_owned()),
                    first_seen: Set(now),
                    last_seen: Set(now),
                    pull_cursor: Set(0),
                }
                .insert(&txn)
                .await?;
                (0, 0)
            }
        };
        let (acked, node_pull_cursor) = acked;
        let hub_cursor = hub_counter::Entity::find_by_id(CHANGE_SEQ.to_owned())
            .one(&txn)
            .await?
            .map(|c| c.value)
            .unwrap_or(0);
        let id = Uuid::now_v7();
        hub_sync_session::ActiveModel {
            id: Set(id),
            node_id: Set(node_id),
            school_code: Set(school.to_string()),
            protocol_version: Set(i32::try_from(protocol_version).unwrap_or(i32::MAX)),
            started_at: Set(now),
            finished_at: Set(None),
            received: Set(0),
            applied: Set(0),
            unchanged: Set(0),
            rejected: Set(0),
            rejections: Set("[]".to_owned()),
            acked_seq: Set(acked),
            pull_cursor: Set(0),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(Opened {
            session: id,
            acked_seq: seq_u64(acked),
            hub_cursor: seq_u64(hub_cursor),
            node_pull_cursor: seq_u64(node_pull_cursor),
        })
    }

    /// A session by id.
    pub async fn session(&self, id: Uuid) -> Result<Option<Session>, StoreError> {
        let Some(row) = hub_sync_session::Entity::find_by_id(id).one(&self.conn()).await? else {
            return Ok(None);
        };
        Ok(Some(Session {
            id,
            node_id: row.node_id,
            school: row
                .school_code
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("session {id}: bad school")))?,
            finished: row.finished_at.is_some(),
            protocol_version: u32::try_from(row.protocol_version).unwrap_or(0),
        }))
    }

    /// Notes a rejected batch in the session's ledger row, in a transaction of its own
    /// (the batch's transaction was never opened or was rolled back).
    pub async fn record_rejection(
        &self,
        session: Uuid,
        received: usize,
        reason: &str,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        let count = i64::try_from(received).unwrap_or(i64::MAX);
        let backend = txn.get_database_backend();
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "UPDATE sync_session SET received = received + ?, rejected = rejected + ? WHERE id = ?",
            ),
            [count.into(), count.into(), session.into()],
        ))
        .await?;
        crate::batch::append_rejections(&txn, session, std::iter::once(reason.to_owned())).await?;
        txn.commit().await?;
        Ok(())
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
                from_hub_row(r).map(|activity| Pulled { cursor, activity, ancestors, origin })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let page = if crate::planted::planted(crate::planted::Bug::ForgetPartnerRemoval) {
            page.into_iter().filter(|p| p.activity.involves(&session.school)).collect()
        } else {
            page
        };
        Ok((page, has_more))
    }

    /// Closes a session in the ledger and keeps the node's pull cursor.
    pub async fn finish_session(&self, session: Uuid, pull_cursor: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        let row = hub_sync_session::Entity::find_by_id(session)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no sync session {session}")))?;
        let node_id = row.node_id;
        let mut am: hub_sync_session::ActiveModel = row.into();
        am.finished_at = Set(Some(Utc::now()));
        am.pull_cursor = Set(seq_i64(pull_cursor)?);
        am.update(&txn).await?;
        let backend = txn.get_database_backend();
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(backend, "UPDATE node SET pull_cursor = ? WHERE node_id = ?"),
            [seq_i64(pull_cursor)?.into(), node_id.into()],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// How many nodes have not synced since `since` (their last handshake is older).
    pub async fn nodes_not_synced_since(&self, since: chrono::DateTime<Utc>) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(hub_node::Entity::find().filter(hub_node::Column::LastSeen.lt(since)).count(&self.conn()).await?)
    }

    /// The ledger, newest first.
    pub async fn ledger(
        &self,
        school: Option<&SchoolCode>,
        limit: u64,
    ) -> Result<Vec<hub_sync_session::Model>, StoreError> {
        let mut q = hub_sync_session::Entity::find();
        if let Some(s) = school {
            q = q.filter(hub_sync_session::Column::SchoolCode.eq(s.as_str()));
        }
        Ok(q.order_by_desc(hub_sync_session::Column::StartedAt)
            .order_by_desc(hub_sync_session::Column::Id)
            .limit(limit.clamp(1, 500))
            .all(&self.conn())
            .await?)
    }

    /// Counts of live activities by school and kind.
    /// Reads `rollup_week`, or `rollup_subject_week` when the filter names a subject.
    pub async fn stats(&self, filter: &StatsFilter) -> Result<Vec<SchoolKindCount>, StoreError> {
        let Some((table, clause, values)) = filter.rollup_where() else { return Ok(Vec::new()) };
        let text = format!(
            "SELECT school_code, kind, CAST(SUM(n) AS BIGINT) FROM {table}{clause} GROUP BY school_code, kind"
        );
        let backend = self.conn().get_database_backend();
        let rows = self
            .conn()
            .query_all_raw(Statement::from_sql_and_values(backend, sql(backend, &text), values))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (school, kind): (String, String) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            // SUM of BIGINT is NUMERIC on PostgreSQL: cast back in the query.
            let n: i64 = row.try_get_by_index(2)?;
            if n == 0 {
                continue;
            }
            out.push(SchoolKindCount {
                kind: kind.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                school,
                count: seq_u64(n),
            });
        }
        Ok(out)
    }

    /// The same answer as [`HubStore::stats`], computed from the raw records (a
    /// `GROUP BY` over every row): what the rollups are checked and benchmarked against.
    pub async fn stats_raw(&self, filter: &StatsFilter) -> Result<Vec<SchoolKindCount>, StoreError> {
        let mut q = hub_activity::Entity::find()
            .select_only()
            .column(hub_activity::Column::SchoolCode)
            .column(hub_activity::Column::Kind)
            .column_as(hub_activity::Column::Id.count(), "n")
            .filter(hub_activity::Column::Deleted.eq(false))
            .group_by(hub_activity::Column::SchoolCode)
            .group_by(hub_activity::Column::Kind);
        if let Some(s) = filter.semester {
            q = q
                .filter(hub_activity::Column::StartYear.eq(i32::from(s.start_year)))
                .filter(hub_activity::Column::Term.eq(i32::from(s.term.number())));
        }
        if let Some(schools) = &filter.schools {
            q = q.filter(hub_activity::Column::SchoolCode.is_in(schools.iter().map(|s| s.to_string())));
        }
        match filter.subject.as_deref() {
            None => {}
            Some("") => q = q.filter(hub_activity::Column::Subject.is_null()),
            Some(s) => q = q.filter(hub_activity::Column::Subject.eq(s)),
        }
        if let Some(first) = filter.from_week {
            q = q.filter(hub_activity::Column::Date.gte(first));
        }
        if let Some(last) = filter.to_week {
            // A week's records run from its Monday to its Sunday.
            q = q.filter(hub_activity::Column::Date.lte(last + chrono::TimeDelta::days(6)));
        }
        let rows: Vec<(String, String, i64)> = q.into_tuple().all(&self.conn()).await?;
        rows.into_iter()
            .map(|(school, kind, n)| {
                Ok(SchoolKindCount {
                    kind: kind.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                    school,
                    count: seq_u64(n),
                })
            })
            .collect()
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

/// A page of records (tombstones included) in id order after `after`.
pub(crate) async fn page_by_id(
    db: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Activity>, StoreError> {
    let mut q = hub_activity::Entity::find();
    if let Some(id) = after {
        q = q.filter(hub_activity::Column::Id.gt(id));
    }
    q.order_by_asc(hub_activity::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_hub_row)
        .collect()
}

/// Rewrites `?` placeholders for PostgreSQL.
pub(crate) fn sql(backend: DbBackend, text: &str) -> String {
    if backend != DbBackend::Postgres {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for ch in text.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

/// Whether the rollups must be built: records exist but a rollup table is empty.
async fn rollups_missing(db: &impl ConnectionTrait) -> Result<bool, StoreError> {
    let backend = db.get_database_backend();
    let one = |t: &str| Statement::from_string(backend, format!("SELECT 1 FROM {t} LIMIT 1"));
    let has_rollups = db.query_one_raw(one("rollup_week")).await?.is_some()
        && db.query_one_raw(one("rollup_subject_week")).await?.is_some();
    Ok(!has_rollups && db.query_one_raw(one("activity")).await?.is_some())
}

/// Adds `by` to the change counter and returns its new value; locks the row until commit.
pub(crate) async fn bump_counter(txn: &impl ConnectionTrait, by: i64) -> Result<i64, StoreError> {
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(backend, "UPDATE counter SET value = value + ? WHERE name = ?"),
        [by.into(), CHANGE_SEQ.into()],
    ))
    .await?;
    let row = hub_counter::Entity::find_by_id(CHANGE_SEQ.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::Corrupt("counter change_seq is missing".into()))?;
    Ok(row.value)
}

pub(crate) async fn set_counter(txn: &impl ConnectionTrait, value: i64) -> Result<(), StoreError> {
    hub_counter::ActiveModel { name: Set(CHANGE_SEQ.to_owned()), value: Set(value) }.update(txn).await?;
    Ok(())
}
