//! Opening a database: SQLite with the pragmas durability needs, or PostgreSQL.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::StoreError;

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// For counties and provinces that outgrow one machine.
    Postgres,
}

impl Backend {
    /// The engine of a database URL, if it is one yanpei supports.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Connects to `url` (`sqlite://PATH?mode=rwc` or `postgres://...`).
///
/// SQLite gets WAL, `synchronous=FULL` (an acknowledgement promises
/// durability), a 10 s `busy_timeout`, foreign keys, and one connection: a
/// single writer, so transactions never fail on a lock upgrade.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let backend = Backend::of_url(url).ok_or_else(|| {
        StoreError::Invalid(format!(
            "unsupported database URL {url:?}: use sqlite://PATH?mode=rwc or postgres://USER@HOST/DB"
        ))
    })?;
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    match backend {
        Backend::Sqlite => {
            opts.max_connections(1).min_connections(1);
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .create_if_missing(true)
            });
        }
        Backend::Postgres => {
            opts.max_connections(16).min_connections(1);
        }
    }
    Ok(Database::connect(opts).await?)
}

/// The `sqlite://` URL of a file path.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}
