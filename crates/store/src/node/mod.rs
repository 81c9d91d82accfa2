//! A node's local store: activities, the outbox, and the node's settings.
//!
//! Every local change (record, edit, delete) writes the activity row and its
//! outbox entry in one transaction, so nothing recorded can miss the outbox.
//!
//! One file per concern, each adding its own `impl NodeStore`: `meta` (the meta table:
//! sequence counter, acknowledgements, pull cursor, roster part), `records` (recording,
//! editing, reading), `outbox` (what waits for the hub, its answers, quarantine),
//! `pull` (applying what the hub sent), `compare` (anti-entropy), `conflicts`, and the
//! leaf `lineage` (a version's ancestry, its maker, the version an edit was made from).

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};

use crate::migration::NodeMigrator;
use crate::{Db, StoreError};

pub mod change;
mod compare;
mod conflicts;
mod lineage;
mod meta;
mod outbox;
mod pull;
mod records;
mod settings;

pub use compare::PeriodDigest;
pub use outbox::{OutboxEntry, Quarantined};
pub use pull::{PullApplied, PulledRecord};
pub use settings::NodeSettings;

use meta::{get_meta, key, set_meta};

/// A node's local store.
#[derive(Debug, Clone)]
pub struct NodeStore {
    db: Arc<Db>,
    node_id: Uuid,
    school: SchoolCode,
}

impl NodeStore {
    /// Creates a store for `school` at `url`, or opens the existing one.
    ///
    /// A store belongs to one school for life: opening it for another school fails.
    pub async fn open_or_init(url: &str, school: &SchoolCode) -> Result<NodeStore, StoreError> {
        Self::open_or_init_as(url, school, Uuid::now_v7()).await
    }

    /// [`NodeStore::open_or_init`], a new store taking `node_id` (the id an enrollment bound
    /// into the node's certificate); an existing store keeps its own.
    pub async fn open_or_init_as(
        url: &str,
        school: &SchoolCode,
        node_id: Uuid,
    ) -> Result<NodeStore, StoreError> {
        let db = Db::open(url).await?;
        NodeMigrator::up(&db.conn(), None).await?;
        let txn = db.begin_write().await?;
        match get_meta(&txn, key::SCHOOL).await? {
            Some(existing) if existing != school.as_str() => {
                return Err(StoreError::Invalid(format!(
                    "this store belongs to school {existing}, not {school}"
                )));
            }
            Some(_) => {}
            None => {
                set_meta(&txn, key::SCHOOL, school.as_str()).await?;
                set_meta(&txn, key::NODE_ID, &node_id.to_string()).await?;
            }
        }
        txn.commit().await?;
        db.close().await;
        Self::open(url).await
    }

    /// Opens an existing store.
    pub async fn open(url: &str) -> Result<NodeStore, StoreError> {
        let db = Db::open(url).await?;
        let conn = db.conn();
        NodeMigrator::up(&conn, None).await?;
        let school = get_meta(&conn, key::SCHOOL).await?.ok_or_else(|| {
            StoreError::NotFound("this node store has not been set up: run `yanpei node init` first".into())
        })?;
        let node_id = get_meta(&conn, key::NODE_ID)
            .await?
            .ok_or_else(|| StoreError::Corrupt("meta node_id is missing".into()))?;
        Ok(NodeStore {
            node_id: node_id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("meta node_id is not a UUID: {node_id:?}")))?,
            school: school
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("meta school_code is invalid: {school:?}")))?,
            db,
        })
    }

    /// The current connection (for tests and tools; a cheap clone of the pool handle).
    /// It is replaced after a storage error in a write: take it anew for each use.
    pub fn connection(&self) -> DatabaseConnection {
        self.db.conn()
    }

    fn conn(&self) -> DatabaseConnection {
        self.db.conn()
    }

    /// Closes the store's database (the store is not used afterwards).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// This node's identity.
    pub fn node_id(&self) -> Uuid {
        self.node_id
    }

    /// The school this node records for.
    pub fn school(&self) -> &SchoolCode {
        &self.school
    }

    /// Writes a consistent copy of the whole store to `path` (SQLite `VACUUM INTO`),
    /// safe while the store is in use.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        let target = path.display().to_string().replace('\'', "''");
        self.conn().execute_unprepared(&format!("VACUUM INTO '{target}'")).await?;
        Ok(())
    }

    fn check_school(&self, a: &Activity) -> Result<(), StoreError> {
        if !a.involves(&self.school) {
            return Err(StoreError::PermissionDenied(format!(
                "记录属于学校 {}，且未注明本校（{}）为相关学校：本节点只记录涉及本校的活动",
                a.school, self.school
            )));
        }
        Ok(())
    }
}
