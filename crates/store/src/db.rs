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

/// The query parameter of a `sqlite://` URL that caps the database's size in pages.
const MAX_PAGE_COUNT: &str = "max_page_count";

/// Splits `max_page_count=N` off a `sqlite://` URL's query (sqlx does not know it):
/// the URL without it, and N if it was there.
fn split_page_cap(url: &str) -> Result<(String, Option<u64>), StoreError> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None)) };
    let mut cap = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((MAX_PAGE_COUNT, n)) => {
                cap = Some(n.parse::<u64>().map_err(|_| {
                    StoreError::Invalid(format!("{MAX_PAGE_COUNT}={n:?} in the database URL is not a number"))
                })?);
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, cap))
}

/// Connects to `url` (`sqlite://PATH?mode=rwc` or `postgres://...`).
///
/// SQLite gets WAL, `synchronous=FULL` (an acknowledgement promises
/// durability), a 10 s `busy_timeout`, foreign keys, and one connection: a
/// single writer, so transactions never fail on a lock upgrade. A `sqlite://`
/// URL may carry `max_page_count=N` (tests): every connection then runs
/// `PRAGMA max_page_count = N`, so the file cannot grow past N pages and a
/// write that needs more fails as on a full disk.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let backend = Backend::of_url(url).ok_or_else(|| {
        StoreError::Invalid(format!(
            "unsupported database URL {url:?}: use sqlite://PATH?mode=rwc or postgres://USER@HOST/DB"
        ))
    })?;
    let (url, page_cap) = match backend {
        Backend::Sqlite => split_page_cap(url)?,
        Backend::Postgres => (url.to_owned(), None),
    };
    let mut opts = ConnectOptions::new(url);
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    match backend {
        Backend::Sqlite => {
            opts.max_connections(1).min_connections(1);
            opts.map_sqlx_sqlite_opts(move |o| {
                let o = o
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .create_if_missing(true);
                match page_cap {
                    Some(n) => o.pragma(MAX_PAGE_COUNT, n.to_string()),
                    None => o,
                }
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

#[cfg(test)]
mod tests {
    use super::split_page_cap;

    #[test]
    fn the_page_cap_leaves_the_url() {
        let (url, cap) = split_page_cap("sqlite:///tmp/a.db?mode=rwc&max_page_count=40").unwrap();
        assert_eq!((url.as_str(), cap), ("sqlite:///tmp/a.db?mode=rwc", Some(40)));
        let (url, cap) = split_page_cap("sqlite:///tmp/a.db?max_page_count=7").unwrap();
        assert_eq!((url.as_str(), cap), ("sqlite:///tmp/a.db", Some(7)));
        let (url, cap) = split_page_cap("sqlite:///tmp/a.db?mode=rwc").unwrap();
        assert_eq!((url.as_str(), cap), ("sqlite:///tmp/a.db?mode=rwc", None));
        assert!(split_page_cap("sqlite:///tmp/a.db?max_page_count=lots").is_err());
    }
}
