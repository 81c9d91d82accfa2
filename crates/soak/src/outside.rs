//! Reading the hub from outside: its SQLite files are copied after the hub process
//! exited (the WAL with them, as a crash would leave them) and the copy is opened by
//! a fresh connection in this process, so nothing the hub under test holds in memory
//! (an open transaction, a cache) can make a record look held.

use std::collections::BTreeMap;
use std::path::Path;

use sea_orm::{ConnectionTrait, Statement};
use yanpei_store::hub::{HubStore, StatsFilter};
use yanpei_store::node::NodeStore;
use yanpei_store::{StoreError, sqlite_url};

use crate::check::{HubSnapshot, NodeSnapshot};
use crate::hubdb::{HubDb, copy_sqlite};

/// Reads the hub database at `db` (a SQLite file of a hub that is not running)
/// through a copy in `work`.
pub async fn read_hub(db: &Path, work: &Path) -> Result<HubSnapshot, StoreError> {
    let copy = work.join("hub-copy.sqlite");
    copy_sqlite(db, &copy).map_err(|e| StoreError::Invalid(format!("copy {}: {e}", db.display())))?;
    read_hub_url(&sqlite_url(&copy)).await
}

/// Reads the hub's database (SQLite through a copy, PostgreSQL through a fresh
/// connection of this process: the hub process has exited).
pub(crate) async fn read_hub_db(db: &HubDb, work: &Path) -> Result<HubSnapshot, StoreError> {
    match db {
        HubDb::Sqlite(path) => read_hub(path, work).await,
        HubDb::Postgres { .. } => read_hub_url(&db.url()).await,
    }
}

/// Reads the hub database at `url`, which no hub process holds open.
async fn read_hub_url(url: &str) -> Result<HubSnapshot, StoreError> {
    let url = url.to_owned();
    // Before the store's open, which rebuilds rollup tables it finds empty.
    let raw = yanpei_store::connect(&url).await?;
    let one =
        |t: &str| Statement::from_string(raw.get_database_backend(), format!("SELECT 1 FROM {t} LIMIT 1"));
    let rollups_were_empty = raw.query_one_raw(one("rollup_week")).await.map_err(StoreError::from)?.is_none()
        && raw
            .query_one_raw(Statement::from_string(
                raw.get_database_backend(),
                "SELECT 1 FROM activity WHERE NOT deleted LIMIT 1".to_owned(),
            ))
            .await
            .map_err(StoreError::from)?
            .is_some();
    let schools: Vec<String> = raw
        .query_all_raw(Statement::from_string(
            raw.get_database_backend(),
            "SELECT DISTINCT school_code FROM activity".to_owned(),
        ))
        .await
        .map_err(StoreError::from)?
        .iter()
        .filter_map(|row| row.try_get::<String>("", "school_code").ok())
        .collect();
    let ledger_rejections = raw
        .query_all_raw(Statement::from_string(
            raw.get_database_backend(),
            "SELECT rejections FROM sync_session WHERE rejected > 0".to_owned(),
        ))
        .await
        .map_err(StoreError::from)?
        .iter()
        .filter_map(|row| row.try_get::<String>("", "rejections").ok())
        .collect::<Vec<_>>()
        .join("\n");
    raw.close().await.map_err(StoreError::from)?;

    let store = HubStore::open(&url).await?;
    let mut records = BTreeMap::new();
    for s in schools {
        let code = s.parse().map_err(|_| StoreError::Corrupt(format!("a record of school {s:?}")))?;
        records.extend(store.activities_of(&code).await?);
    }
    let conflicts = store.conflicts(None, false, 10_000_000).await?.into_iter().map(|c| c.losing).collect();
    let rollups = store.rollups().await?;
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for c in store.stats(&StatsFilter::default()).await? {
        *counted.entry(c.school).or_default() += c.count;
    }
    store.connection().clone().close().await.map_err(StoreError::from)?;
    Ok(HubSnapshot { records, conflicts, rollups, rollups_were_empty, counted, ledger_rejections })
}

/// Reads a node store (opened afresh; its agent is gone).
pub async fn read_node(
    path: &Path,
    name: &str,
    sync_errors: Vec<String>,
) -> Result<NodeSnapshot, StoreError> {
    let store = NodeStore::open(&sqlite_url(path)).await?;
    let snapshot = NodeSnapshot {
        name: name.to_owned(),
        school: store.school().clone(),
        records: store.all().await?,
        pending: store.pending_count().await?,
        quarantined: store.quarantined().await?.into_iter().map(|q| (q.activity, q.reason)).collect(),
        sync_errors,
    };
    Ok(snapshot)
}
