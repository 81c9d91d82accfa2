//! Filling the hub database in bulk: the demo county's generator's records, varied
//! (edits, tombstones, complete meetings), written by each engine's bulk path.

use std::path::Path;
use std::time::Duration;

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Value;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Iterable, Statement};
use tokio::sync::mpsc;
use uuid::Uuid;
use yanpei_domain::roster::Roster;
use yanpei_domain::{Activity, ActivityKind};
use yanpei_store::entity::hub_activity;
use yanpei_store::hub::{HubStore, activity_row};

use super::{db_err, placeholder};
use crate::BenchError;
use crate::direct::{copy_field, sqlite_value};

/// Records per bulk write (and per generated chunk).
const CHUNK: usize = 100_000;

/// Generates the records, in chunks, on a thread of its own; the receiver writes them.
/// Returns the channel and a handle answering how many of them are live.
fn generate(roster: &Roster, n: u64) -> (mpsc::Receiver<Vec<Activity>>, tokio::task::JoinHandle<u64>) {
    let (tx, rx) = mpsc::channel::<Vec<Activity>>(2);
    let roster = roster.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let schools = roster.schools.clone();
        let mut made: u64 = 0;
        let mut live: u64 = 0;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut round: u64 = 0;
        'outer: loop {
            for (i, school) in schools.iter().enumerate() {
                let seed = round * 1_000_003 + i as u64;
                for mut a in yanpei_demo::semester_of_activity(&roster, school, seed) {
                    if made == n {
                        break 'outer;
                    }
                    vary(&mut a, made);
                    live += u64::from(!a.deleted);
                    made += 1;
                    chunk.push(a);
                    if chunk.len() == CHUNK {
                        if tx.blocking_send(std::mem::take(&mut chunk)).is_err() {
                            return live;
                        }
                        chunk.reserve(CHUNK);
                    }
                }
            }
            round += 1;
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        live
    });
    (rx, handle)
}

/// Makes the `k`-th record one of the variants the hub holds: a third of the group
/// meetings complete (all nine items of 五定四有), one in 89 edited, one in 97 deleted.
fn vary(a: &mut Activity, k: u64) {
    if a.kind == ActivityKind::GroupMeeting && k.is_multiple_of(3) {
        let d = &mut a.body.details;
        d.participants = vec!["组长".into(), "组员".into()];
        d.content = Some("集体备课".into());
        d.start_time = chrono::NaiveTime::from_hms_opt(14, 30, 0);
        d.form = Some("研讨".into());
        d.record = Some("记录".into());
        d.summary = Some("小结".into());
        d.evaluation = Some("良好".into());
        d.next_plan = Some("下周同一时间".into());
    }
    if k.is_multiple_of(89) {
        a.version = 2;
    }
    if k.is_multiple_of(97) {
        a.version = 2;
        a.deleted = true;
    }
}

/// The hub's row values for `a`, in `hub_activity::Column` order.
fn row_values(a: &Activity, origin: Uuid, change_seq: i64, now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    let mut row = activity_row(a, origin, change_seq, now);
    row.origin_school = Set(Some(a.school.to_string()));
    hub_activity::Column::iter().map(|c| row.get(c).into_value().unwrap_or(Value::Bool(None))).collect()
}

fn columns() -> Vec<&'static str> {
    use sea_orm::IdenStatic;
    hub_activity::Column::iter().map(|c| c.as_str()).collect()
}

/// Writes `n` records into the hub's SQLite file with one prepared `INSERT`, 100,000
/// rows per transaction, `synchronous=OFF` for the load. Returns the live records.
pub(super) async fn fill_sqlite(path: &Path, roster: &Roster, n: u64) -> Result<u64, BenchError> {
    let (mut rx, generator) = generate(roster, n);
    let path = path.to_owned();
    let writer = tokio::task::spawn_blocking(move || -> Result<(), BenchError> {
        let mut conn = rusqlite::Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.pragma_update(None, "cache_size", -262_144)?;
        let cols = columns();
        let sql = format!(
            "INSERT INTO activity ({}) VALUES ({})",
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        );
        let origin = Uuid::now_v7();
        let now = chrono::Utc::now();
        let mut seq: i64 = 0;
        while let Some(chunk) = rx.blocking_recv() {
            let txn = conn.transaction()?;
            {
                let mut stmt = txn.prepare(&sql)?;
                for a in &chunk {
                    seq += 1;
                    let values = row_values(a, origin, seq, now)
                        .iter()
                        .map(sqlite_value)
                        .collect::<Result<Vec<_>, _>>()?;
                    stmt.execute(rusqlite::params_from_iter(values.iter()))?;
                }
            }
            txn.commit()?;
            if seq % 1_000_000 == 0 {
                tracing::info!(rows = seq, "SQLite fill");
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(())
    });
    let written = writer.await.map_err(|e| BenchError::Process(format!("the SQLite writer failed: {e}")))?;
    let live = generator.await.map_err(|e| BenchError::Process(format!("the generator failed: {e}")))?;
    written?;
    Ok(live)
}

/// Writes `n` records into the hub's PostgreSQL database with `COPY ... FROM STDIN`,
/// 100,000 rows per statement (each its own transaction). Returns the live records.
pub(super) async fn fill_postgres(store: &HubStore, roster: &Roster, n: u64) -> Result<u64, BenchError> {
    use sea_orm::sqlx;
    let pg = |e: sqlx::Error| BenchError::Postgres(e.to_string());
    let (mut rx, generator) = generate(roster, n);
    let mut conn = store.connection().get_postgres_connection_pool().acquire().await.map_err(pg)?;
    sqlx::query("SET synchronous_commit TO off").execute(&mut *conn).await.map_err(pg)?;
    let statement = format!("COPY activity ({}) FROM STDIN", columns().join(", "));
    let origin = Uuid::now_v7();
    let now = chrono::Utc::now();
    let mut seq: i64 = 0;
    let mut data = String::with_capacity(CHUNK * 400);
    while let Some(chunk) = rx.recv().await {
        data.clear();
        for a in &chunk {
            seq += 1;
            for (i, v) in row_values(a, origin, seq, now).iter().enumerate() {
                if i > 0 {
                    data.push('\t');
                }
                copy_field(v, &mut data)?;
            }
            data.push('\n');
        }
        let mut copy = conn.copy_in_raw(&statement).await.map_err(pg)?;
        for part in data.as_bytes().chunks(1 << 20) {
            copy.send(part).await.map_err(pg)?;
        }
        let copied = copy.finish().await.map_err(pg)?;
        if usize::try_from(copied).ok() != Some(chunk.len()) {
            return Err(BenchError::Check(format!("COPY wrote {copied} rows, not {}", chunk.len())));
        }
        if seq % 1_000_000 == 0 {
            tracing::info!(rows = seq, "PostgreSQL fill");
        }
    }
    sqlx::query("SET synchronous_commit TO on").execute(&mut *conn).await.map_err(pg)?;
    drop(conn);
    generator.await.map_err(|e| BenchError::Process(format!("the generator failed: {e}")))
}

/// Moves the hub's change counter past the rows written, as applying them would have.
pub(super) async fn set_counter(store: &HubStore, n: u64) -> Result<(), BenchError> {
    let db = store.connection();
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE counter SET value = {} WHERE name = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [i64::try_from(n).unwrap_or(i64::MAX).into(), "change_seq".into()],
    ))
    .await
    .map_err(db_err)?;
    Ok(())
}
