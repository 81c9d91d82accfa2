//! Storage for the hub and the node agent, through sea-orm.
//!
//! SQLite is the embedded default (one file, WAL, `synchronous=FULL`, one
//! writer); PostgreSQL serves counties that outgrow one machine. Every
//! operation that sync relies on is one transaction here, so a cut
//! connection or a crash leaves either all of it or none of it.

pub mod account;
pub mod audit;
mod batch;
mod convert;
mod db;
pub mod decide;
pub mod enrollment;
pub mod entity;
mod error;
mod handle;
pub mod hub;
mod ledger;
pub mod migration;
pub mod node;
pub mod people;
pub mod planted;
mod probe;
pub mod reconcile;
pub mod rollup;
mod roster;
mod shared;
mod sql;
mod stats;
pub mod weekly;

pub use db::{Backend, connect, sqlite_url};
pub use error::{StorageFault, StoreError};
pub use handle::{Db, WriteTxn};
pub use sea_orm::DatabaseConnection;
pub use shared::Conflict;

/// Runs one SQL statement with no parameters (administrative: `CREATE DATABASE`, ...).
pub async fn execute(db: &DatabaseConnection, sql: &str) -> Result<(), StoreError> {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(sql).await?;
    Ok(())
}

/// Parses a JSON array of strings (as stored in ledger columns).
pub fn parse_string_list(text: &str) -> Option<Vec<String>> {
    serde_json::from_str(text).ok()
}
