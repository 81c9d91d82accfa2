//! The batch path at the hub: read what the hub holds of a batch's records, let the
//! pure decision (`decide`) say what the batch does, write that in the same
//! transaction, and only then acknowledge.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement,
};
use uuid::Uuid;
use yanpei_domain::{Activity, Rev, SchoolCode};

use crate::StoreError;
use crate::convert::{from_hub_row, hub_row, parse_revs, revs_json};
use crate::decide::{
    Caller, Decision, Held, IncomingChange, KeptLoser, Lost, Origin, RefusalReason, Refused, Write, decide,
};
use crate::entity::{hub_activity, hub_conflict, hub_node, hub_school};
use crate::ledger::{Session, append_rejections};
use crate::planted::{Bug, planted};
use crate::rollup::{Rollups, apply_delta};
use crate::shared::{insert_parties, record_conflict};
use crate::sql::{CHUNK, HubStore, bump_counter, set_counter, sql};

/// A change refused (by the hub's checks before the store, or by the decision), and why in Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The node's sequence number of the change.
    pub seq: u64,
    /// The record's id as sent.
    pub activity_id: String,
    /// Why, for the school's clerk.
    pub reason: String,
    /// The school the record belongs to, when known (for the audit note).
    pub owner: Option<String>,
}

/// What applying a batch did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplyOutcome {
    /// Highest sequence number of the node now durable (refused changes included: they are answered).
    pub acked_seq: u64,
    /// Changes that changed the hub's state.
    pub applied: u32,
    /// Changes already held or older than what the hub holds (losing conflicts included).
    pub unchanged: u32,
    /// Changes that met a concurrent version of their record (kept as conflicts).
    pub conflicts: u32,
    /// Changes refused, with the reason.
    pub refused: Vec<Refusal>,
}

impl HubStore {
    /// Applies a batch of one node's changes in one transaction (see [`HubStore::apply_batch_with`]).
    pub async fn apply_batch(
        &self,
        session: &Session,
        changes: &[IncomingChange],
    ) -> Result<ApplyOutcome, StoreError> {
        self.apply_batch_with(session, changes, Vec::new()).await
    }

    /// Applies a batch of one node's changes in one transaction: reads the held state
    /// of every record in it, decides (`decide::decide`), writes the decision, moves
    /// the node's acknowledged sequence number and the session's ledger row. Changes
    /// the hub refused before the store (`refused`) and those the decision refuses are
    /// answered and noted in the ledger; nothing of them is written.
    pub async fn apply_batch_with(
        &self,
        session: &Session,
        changes: &[IncomingChange],
        mut refused: Vec<Refusal>,
    ) -> Result<ApplyOutcome, StoreError> {
        let now = Utc::now();
        let received = changes.len() + refused.len();
        let txn = self.db.begin_write().await?;
        // Take the writer lock first (row lock on PostgreSQL; SQLite has one writer):
        // cursors are then handed out in commit order.
        let cursor = bump_counter(&txn, 0).await?;
        let node = hub_node::Entity::find_by_id(session.node_id)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("node {} has no handshake", session.node_id)))?;
        let held = held_state(&txn, changes.iter().map(|c| c.activity.id)).await?;
        let roster = county_schools(&txn, changes).await?;
        let caller = Caller {
            node: session.node_id,
            school: session.school.clone(),
            causal: session.protocol_version >= CAUSAL_PROTOCOL,
            roster,
        };
        let decision = decide_batch(&caller, held, changes);
        if !decision.refused.is_empty() {
            refused.extend(explain_refusals(&txn, &decision.refused, changes).await?);
        }
        for r in &refused {
            tracing::warn!(seq = r.seq, record = %r.activity_id, reason = %r.reason, "change refused");
        }
        let Decision { applied, unchanged, conflicts, writes, lost, resolved, .. } = decision;
        write_decision(&txn, writes, &lost, &resolved, cursor, now).await?;
        let top = changes.iter().map(|c| c.seq).chain(refused.iter().map(|r| r.seq)).max().unwrap_or(0);
        let acked = acknowledge(&txn, node, top, now).await?;
        let noted: &[Refusal] = if planted(Bug::DropLedgerNote) { &[] } else { &refused };
        note_in_ledger(&txn, session.id, received, applied, unchanged, noted, acked).await?;
        if planted(Bug::AckBeforeCommit) {
            // The answer leaves; the transaction is dropped, so nothing of it is kept.
            drop(txn);
        } else {
            txn.commit().await?;
        }
        Ok(ApplyOutcome {
            acked_seq: u64::try_from(acked).unwrap_or(0),
            applied,
            unchanged,
            conflicts,
            refused,
        })
    }
}

/// The first protocol whose changes carry ancestors (mirrors `yanpei_proto::CAUSAL_PROTOCOL_VERSION`;
/// the store does not depend on the wire crate).
pub(crate) const CAUSAL_PROTOCOL: u32 = 3;

fn seq_i64(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Invalid(format!("sequence number {seq} is too large")))
}

/// The pure decision of a batch (`decide::decide`); under the planted bug
/// `SkipBaseCheck`, as if every change named the held version as its ancestor.
fn decide_batch(caller: &Caller, held: HashMap<Uuid, Held>, changes: &[IncomingChange]) -> Decision {
    if !planted(Bug::SkipBaseCheck) {
        return decide(caller, held, changes);
    }
    let lied: Vec<IncomingChange> = changes
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if let Some(h) = held.get(&c.activity.id) {
                c.ancestors.insert(0, Rev::of(&h.activity));
            }
            c
        })
        .collect();
    decide(caller, held, &lied)
}

/// The decision's refusals as answered and noted: the reason in Chinese with school
/// names, and the school the record belongs to.
async fn explain_refusals(
    txn: &impl ConnectionTrait,
    refused: &[Refused],
    changes: &[IncomingChange],
) -> Result<Vec<Refusal>, StoreError> {
    let names = school_names(txn).await?;
    let name = |code: &str| names.get(code).map(|n| format!("{n}（{code}）")).unwrap_or(code.to_owned());
    Ok(refused
        .iter()
        .map(|r| {
            let owner = match &r.reason {
                RefusalReason::ForeignCreate { owner } => owner.to_string(),
                RefusalReason::PartnerOffRoster { .. } => changes
                    .iter()
                    .find(|c| c.seq == r.seq)
                    .map_or_else(String::new, |c| c.activity.school.to_string()),
                RefusalReason::OwnerChange { held, .. } | RefusalReason::NotNamed { owner: held } => {
                    held.clone()
                }
            };
            Refusal {
                seq: r.seq,
                activity_id: r.id.to_string(),
                reason: describe(&r.reason, &name),
                owner: Some(owner),
            }
        })
        .collect())
}

/// Writes what the decision says, after the hub cursor `cursor`: each written record
/// with the next cursor (one multi-row upsert), the kept losers, the resolved
/// conflicts, the record's parties and the rollup deltas; then moves the counter.
async fn write_decision(
    txn: &impl ConnectionTrait,
    writes: Vec<Write>,
    lost: &[Lost],
    resolved: &[(i64, u64)],
    mut cursor: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Rollups move by exact deltas: each written record's previous contribution leaves.
    let mut delta = Rollups::default();
    let mut rows = Vec::with_capacity(writes.len());
    let mut parties = Vec::new();
    for w in writes {
        if w.before.as_ref() != Some(&w.after) {
            if let Some(b) = &w.before {
                delta.add(b, -1);
            }
            delta.add(&w.after, 1);
        }
        cursor += 1;
        let mut row = hub_row(&w.after, now);
        row.origin_node = Set(w.origin.node);
        row.origin_school = Set(Some(w.origin.school.clone()));
        row.change_seq = Set(cursor);
        row.revs = Set(revs_json(&w.ancestors));
        parties.extend(w.after.body.details.partner_schools.iter().map(|p| (w.after.id, p.to_string())));
        rows.push(row);
    }
    for l in lost {
        tracing::warn!(
            record = %l.activity.id, version = l.activity.version, winner = %l.won_by.node,
            loser = %l.lost_by.node, "concurrent versions: the loser is kept as a conflict"
        );
        record_conflict(txn, l, now).await?;
    }
    resolve(txn, resolved, now).await?;
    insert_parties(txn, parties).await?;
    if planted(Bug::DoubleRollup) {
        apply_delta(txn, delta.clone()).await?;
    }
    apply_delta(txn, delta).await?;
    upsert_activities(txn, rows).await?;
    set_counter(txn, cursor).await
}

/// Moves the node's acknowledged sequence number to `top` (never back) and its last
/// contact to `now`; returns the acknowledged number.
async fn acknowledge(
    txn: &impl ConnectionTrait,
    node: hub_node::Model,
    top: u64,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let acked = node.acked_seq.max(seq_i64(top)?);
    let mut node: hub_node::ActiveModel = node.into();
    node.acked_seq = Set(acked);
    node.last_seen = Set(now);
    node.update(txn).await?;
    Ok(acked)
}

/// The reason of a refusal, in Chinese, with school names.
fn describe(reason: &RefusalReason, name: &impl Fn(&str) -> String) -> String {
    match reason {
        RefusalReason::ForeignCreate { owner } => format!(
            "这条记录写的是{}的记录：本校节点只能新建本校的记录（共享记录由主办学校新建并注明相关学校）",
            name(owner.as_str())
        ),
        RefusalReason::OwnerChange { held, sent } => format!(
            "记录属于{}，修改不能把它改成{}的记录：记录的所属学校建立后不能更改",
            name(held),
            name(sent.as_str())
        ),
        RefusalReason::PartnerOffRoster { school } => format!(
            "相关学校「{school}」不在县名册中（县里从未登记过这个学校代码）：请核对相关学校，改正后再保存这条记录"
        ),
        RefusalReason::NotNamed { owner } => format!(
            "{}的这条共享记录现在已不再注明本校为相关学校，本校不能再修改它；如需保留本校的内容，请新建一条本校记录",
            name(owner)
        ),
    }
}

/// The schools the county's roster has or ever had, as of this transaction (an import
/// serialises on the same counter); `None` when the batch names no partner school. The
/// earlier roster versions are read only when a partner is not on the current one.
async fn county_schools(
    txn: &impl ConnectionTrait,
    changes: &[IncomingChange],
) -> Result<Option<BTreeSet<SchoolCode>>, StoreError> {
    let partners: BTreeSet<&SchoolCode> =
        changes.iter().flat_map(|c| &c.activity.body.details.partner_schools).collect();
    if partners.is_empty() {
        return Ok(None);
    }
    let mut known: BTreeSet<SchoolCode> =
        hub_school::Entity::find().all(txn).await?.into_iter().filter_map(|s| s.code.parse().ok()).collect();
    if partners.iter().any(|p| !known.contains(*p)) {
        known.extend(crate::roster::schools_ever(txn).await?);
    }
    Ok(Some(known))
}

async fn school_names(txn: &impl ConnectionTrait) -> Result<HashMap<String, String>, StoreError> {
    Ok(hub_school::Entity::find().all(txn).await?.into_iter().map(|s| (s.code, s.name)).collect())
}

/// What the hub holds of each of `ids` that exists: current version, ancestry,
/// origin, and every kept losing version's revision.
pub(crate) async fn held_state(
    txn: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Held>, StoreError> {
    let ids: Vec<Uuid> = ids.collect::<BTreeSet<_>>().into_iter().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows = hub_activity::Entity::find()
            .filter(hub_activity::Column::Id.is_in(chunk.iter().copied()))
            .all(txn)
            .await?;
        for m in rows {
            let origin = Origin::of_row(&m);
            let ancestors = parse_revs(m.revs.as_deref())?;
            let activity = from_hub_row(m)?;
            out.insert(activity.id, Held { activity, ancestors, origin, losers: Vec::new() });
        }
        for (id, loser) in kept_losers(txn, chunk).await? {
            if let Some(h) = out.get_mut(&id) {
                h.losers.push(loser);
            }
        }
    }
    Ok(out)
}

/// The versions the hub keeps as losers of the records `ids`, by record.
async fn kept_losers(txn: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<(Uuid, KeptLoser)>, StoreError> {
    let rows = hub_conflict::Entity::find()
        .filter(hub_conflict::Column::ActivityId.is_in(ids.iter().copied()))
        .all(txn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for l in rows {
        let rev = match l.rev.as_deref().map(str::parse::<Rev>) {
            Some(Ok(r)) => r,
            // Rows from before protocol 3: the revision of the kept version itself.
            _ => {
                let a: Activity = serde_json::from_str(&l.losing)
                    .map_err(|e| StoreError::Corrupt(format!("conflict {}: {e}", l.id)))?;
                Rev::of(&a)
            }
        };
        out.push((l.activity_id, KeptLoser { id: l.id, rev, open: l.resolved_version.is_none() }));
    }
    Ok(out)
}

/// The revisions the hub keeps as losers of each of `ids` (sent with a pulled version).
pub(crate) async fn kept_revs(
    conn: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Vec<Rev>>, StoreError> {
    let ids: Vec<Uuid> = ids.collect::<BTreeSet<_>>().into_iter().collect();
    let mut out: HashMap<Uuid, Vec<Rev>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for (id, loser) in kept_losers(conn, chunk).await? {
            out.entry(id).or_default().push(loser.rev);
        }
    }
    Ok(out)
}

/// Marks kept losers resolved by the version that resolved them.
async fn resolve(
    txn: &impl ConnectionTrait,
    resolved: &[(i64, u64)],
    now: chrono::DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    for (id, version) in resolved {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(backend, "UPDATE conflict SET resolved_version = ?, resolved_at = ? WHERE id = ? AND resolved_version IS NULL"),
            [seq_i64(*version)?.into(), now.into(), (*id).into()],
        ))
        .await?;
    }
    Ok(())
}

async fn note_in_ledger(
    txn: &impl ConnectionTrait,
    session: Uuid,
    received: usize,
    applied: u32,
    unchanged: u32,
    refused: &[Refusal],
    acked: i64,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let received = i64::try_from(received).unwrap_or(i64::MAX);
    let rejected = i64::try_from(refused.len()).unwrap_or(i64::MAX);
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE sync_session SET received = received + ?, applied = applied + ?, \
             unchanged = unchanged + ?, rejected = rejected + ?, acked_seq = ? WHERE id = ?",
        ),
        [
            received.into(),
            i64::from(applied).into(),
            i64::from(unchanged).into(),
            rejected.into(),
            acked.into(),
            session.into(),
        ],
    ))
    .await?;
    if !refused.is_empty() {
        append_rejections(
            txn,
            session,
            refused.iter().map(|r| format!("序号 {}（记录 {}）：{}", r.seq, r.activity_id, r.reason)),
        )
        .await?;
    }
    Ok(())
}

/// Writes rows with multi-row `INSERT ... ON CONFLICT (id) DO UPDATE`, the batch
/// path both engines offer; the decision has already said each row must be written.
async fn upsert_activities(
    txn: &impl ConnectionTrait,
    rows: Vec<hub_activity::ActiveModel>,
) -> Result<(), StoreError> {
    use sea_orm::Iterable;
    use sea_orm::sea_query::OnConflict;
    let update: Vec<hub_activity::Column> =
        hub_activity::Column::iter().filter(|c| !matches!(c, hub_activity::Column::Id)).collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        hub_activity::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(hub_activity::Column::Id).update_columns(update.clone()).to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
