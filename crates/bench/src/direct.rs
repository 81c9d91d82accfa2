//! The baselines: the same rows the hub writes, written straight into the same
//! schema by each engine's fastest durable path, with nothing else in the way.
//!
//! - SQLite: one connection with the hub's pragmas (WAL, `synchronous=FULL`),
//!   one transaction, one prepared `INSERT` executed per row (rusqlite, the C
//!   library called directly).
//! - PostgreSQL: one transaction, `COPY activity (...) FROM STDIN` in text format.
//!
//! Rows are built with [`yanpei_store::hub::activity_row`] (the hub's own
//! conversion) and encoded before the clock starts: the baselines time the
//! database writes alone.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use sea_orm::sea_query::Value;
use sea_orm::{ActiveModelTrait, IdenStatic, Iterable};
use uuid::Uuid;
use yanpei_domain::Activity;
use yanpei_store::entity::hub_activity;
use yanpei_store::hub::activity_row;

use crate::BenchError;

/// Column names and, per record, the values the hub writes for it.
pub(crate) struct Rows {
    columns: Vec<&'static str>,
    values: Vec<Vec<Value>>,
}

impl Rows {
    /// The hub's rows for `records`, as if one node pushed them in order.
    pub(crate) fn of(records: &[Activity]) -> Rows {
        let columns: Vec<&'static str> = hub_activity::Column::iter().map(|c| c.as_str()).collect();
        let origin = Uuid::now_v7();
        let now = chrono::Utc::now();
        let values = records
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let row = activity_row(a, origin, i as i64 + 1, now);
                hub_activity::Column::iter()
                    .map(|c| row.get(c).into_value().unwrap_or(Value::Bool(None)))
                    .collect()
            })
            .collect();
        Rows { columns, values }
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }
}

fn unsupported(v: &Value) -> BenchError {
    BenchError::Check(format!("a hub column has a type the baseline does not encode: {v:?}"))
}

pub(crate) fn sqlite_value(v: &Value) -> Result<rusqlite::types::Value, BenchError> {
    use rusqlite::types::Value as S;
    Ok(match v {
        Value::Bool(b) => b.map_or(S::Null, |b| S::Integer(i64::from(b))),
        Value::TinyInt(n) => n.map_or(S::Null, |n| S::Integer(n.into())),
        Value::SmallInt(n) => n.map_or(S::Null, |n| S::Integer(n.into())),
        Value::Int(n) => n.map_or(S::Null, |n| S::Integer(n.into())),
        Value::BigInt(n) => n.map_or(S::Null, S::Integer),
        Value::Unsigned(n) => n.map_or(S::Null, |n| S::Integer(n.into())),
        Value::Double(x) => x.map_or(S::Null, S::Real),
        Value::String(s) => s.clone().map_or(S::Null, S::Text),
        Value::Uuid(u) => u.map_or(S::Null, |u| S::Blob(u.as_bytes().to_vec())),
        Value::ChronoDate(d) => d.map_or(S::Null, |d| S::Text(d.format("%F").to_string())),
        Value::ChronoDateTimeUtc(t) => {
            t.map_or(S::Null, |t| S::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false)))
        }
        other => return Err(unsupported(other)),
    })
}

/// Writes `rows` into the `activity` table of the SQLite file at `path` (a hub
/// database with its schema); returns the time of the transaction alone.
pub(crate) fn sqlite_insert(path: &Path, rows: &Rows) -> Result<Duration, BenchError> {
    let encoded: Vec<Vec<rusqlite::types::Value>> =
        rows.values.iter().map(|r| r.iter().map(sqlite_value).collect()).collect::<Result<_, _>>()?;
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let sql = format!(
        "INSERT INTO activity ({}) VALUES ({})",
        rows.columns.join(", "),
        vec!["?"; rows.columns.len()].join(", ")
    );
    let started = Instant::now();
    let txn = conn.transaction()?;
    {
        let mut stmt = txn.prepare(&sql)?;
        for r in &encoded {
            stmt.execute(rusqlite::params_from_iter(r.iter()))?;
        }
    }
    txn.commit()?;
    let took = started.elapsed();
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM activity", [], |r| r.get(0))?;
    if usize::try_from(n).ok() != Some(rows.len()) {
        return Err(BenchError::Check(format!("direct SQLite holds {n} rows, not {}", rows.len())));
    }
    Ok(took)
}

pub(crate) fn copy_field(v: &Value, out: &mut String) -> Result<(), BenchError> {
    let text = match v {
        Value::Bool(b) => b.map(|b| if b { "t" } else { "f" }.to_owned()),
        Value::TinyInt(n) => n.map(|n| n.to_string()),
        Value::SmallInt(n) => n.map(|n| n.to_string()),
        Value::Int(n) => n.map(|n| n.to_string()),
        Value::BigInt(n) => n.map(|n| n.to_string()),
        Value::Unsigned(n) => n.map(|n| n.to_string()),
        Value::Double(x) => x.map(|x| x.to_string()),
        Value::String(s) => s.clone(),
        Value::Uuid(u) => u.map(|u| u.to_string()),
        Value::ChronoDate(d) => d.map(|d| d.format("%F").to_string()),
        Value::ChronoDateTimeUtc(t) => t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        other => return Err(unsupported(other)),
    };
    match text {
        None => out.push_str("\\N"),
        Some(s) => {
            for ch in s.chars() {
                match ch {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
    Ok(())
}

/// Writes `rows` with `COPY ... FROM STDIN` into the `activity` table of the
/// PostgreSQL database at `url` (a hub database with its schema); returns the
/// time of the transaction alone.
pub(crate) async fn postgres_copy(url: &str, rows: &Rows) -> Result<Duration, BenchError> {
    use sea_orm::sqlx;
    let pg = |e: sqlx::Error| BenchError::Postgres(e.to_string());
    let mut data = String::with_capacity(rows.len() * 300);
    for r in &rows.values {
        for (i, v) in r.iter().enumerate() {
            if i > 0 {
                data.push('\t');
            }
            copy_field(v, &mut data)?;
        }
        data.push('\n');
    }
    let db = yanpei_store::connect(url).await?;
    let mut conn = db.get_postgres_connection_pool().acquire().await.map_err(pg)?;
    let statement = format!("COPY activity ({}) FROM STDIN", rows.columns.join(", "));
    let started = Instant::now();
    sqlx::query("BEGIN").execute(&mut *conn).await.map_err(pg)?;
    let mut copy = conn.copy_in_raw(&statement).await.map_err(pg)?;
    for chunk in data.as_bytes().chunks(1 << 20) {
        copy.send(chunk).await.map_err(pg)?;
    }
    let copied = copy.finish().await.map_err(pg)?;
    sqlx::query("COMMIT").execute(&mut *conn).await.map_err(pg)?;
    let took = started.elapsed();
    drop(conn);
    db.close().await.map_err(yanpei_store::StoreError::from)?;
    if usize::try_from(copied).ok() != Some(rows.len()) {
        return Err(BenchError::Check(format!("COPY wrote {copied} rows, not {}", rows.len())));
    }
    Ok(took)
}
