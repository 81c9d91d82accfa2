//! The sync ledger: one row per session (opened at the handshake, its counts and refusals
//! noted by each batch, closed by `Finish`), the node's binding to its school, and the
//! reads of it (the ledger query, nodes not synced since a time).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use uuid::Uuid;
use yanpei_domain::SchoolCode;

use crate::StoreError;
use crate::entity::{hub_counter, hub_node, hub_sync_session};
use crate::sql::{CHANGE_SEQ, HubStore, seq_i64, seq_u64, sql};

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

/// Most reasons kept in one ledger row.
const MAX_LEDGER_REASONS: usize = 200;

impl HubStore {
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
        append_rejections(&txn, session, std::iter::once(reason.to_owned())).await?;
        txn.commit().await?;
        Ok(())
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
}

/// Appends reasons to a session's ledger row (at most [`MAX_LEDGER_REASONS`] kept).
pub(crate) async fn append_rejections(
    txn: &impl ConnectionTrait,
    session: Uuid,
    reasons: impl Iterator<Item = String>,
) -> Result<(), StoreError> {
    use crate::entity::hub_sync_session;
    let Some(row) = hub_sync_session::Entity::find_by_id(session).one(txn).await? else {
        return Ok(());
    };
    let mut kept: Vec<String> = serde_json::from_str(&row.rejections).unwrap_or_default();
    kept.extend(reasons);
    if kept.len() > MAX_LEDGER_REASONS {
        let extra = kept.len() - MAX_LEDGER_REASONS;
        kept.drain(..extra);
    }
    let mut am: hub_sync_session::ActiveModel = row.into();
    am.rejections = Set(serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into()));
    am.update(txn).await?;
    Ok(())
}
