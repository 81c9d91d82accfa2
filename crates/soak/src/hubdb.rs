//! Where the hub process keeps its database: a SQLite file (on a tmpfs when its disk
//! may fill) or a PostgreSQL database of its own on a shared server. Both are backed
//! up and restored while the hub is stopped: SQLite by copying its files, PostgreSQL
//! by `CREATE DATABASE … TEMPLATE` (a copy the server makes of a database nobody is
//! connected to).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use crate::SoakError;

/// The hub's database.
#[derive(Debug, Clone)]
pub(crate) enum HubDb {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A database `name` on the PostgreSQL server at `admin` (its backup: `name_bak`).
    Postgres {
        /// The server's admin URL (any database on it).
        admin: String,
        /// This schedule's database.
        name: String,
    },
}

impl HubDb {
    /// A fresh PostgreSQL database for schedule `seed` on the server at `admin`.
    pub(crate) async fn fresh_postgres(admin: &str, seed: u64) -> Result<HubDb, SoakError> {
        let name = format!("yanpei_intent_{}_{seed}", std::process::id());
        let db = HubDb::Postgres { admin: admin.to_owned(), name: name.clone() };
        let conn = db.admin().await?;
        exec(&conn, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
        exec(&conn, &format!("DROP DATABASE IF EXISTS \"{name}_bak\" WITH (FORCE)")).await?;
        exec(&conn, &format!("CREATE DATABASE \"{name}\"")).await?;
        let _ = conn.close().await;
        Ok(db)
    }

    /// The URL the hub and the checker connect to.
    pub(crate) fn url(&self) -> String {
        match self {
            HubDb::Sqlite(path) => yanpei_store::sqlite_url(path),
            HubDb::Postgres { admin, name } => with_database(admin, name),
        }
    }

    async fn admin(&self) -> Result<DatabaseConnection, SoakError> {
        let HubDb::Postgres { admin, .. } = self else {
            return Err(SoakError::Unexpected("not a PostgreSQL hub".into()));
        };
        Database::connect(admin.as_str())
            .await
            .map_err(|e| SoakError::Process(format!("PostgreSQL at {admin}: {e}")))
    }

    /// Takes the copy a later restore puts back (hub stopped). `backup` is the SQLite copy's path.
    pub(crate) async fn backup(&self, backup: &Path) -> Result<(), SoakError> {
        match self {
            HubDb::Sqlite(path) => Ok(copy_sqlite(path, backup)?),
            HubDb::Postgres { name, .. } => {
                let conn = self.admin().await?;
                exec(&conn, &format!("DROP DATABASE IF EXISTS \"{name}_bak\" WITH (FORCE)")).await?;
                let made = copy_database(&conn, name, &format!("{name}_bak")).await;
                let _ = conn.close().await;
                made
            }
        }
    }

    /// Puts the backup back in place of the hub's database (hub stopped).
    pub(crate) async fn restore(&self, backup: &Path) -> Result<(), SoakError> {
        match self {
            HubDb::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let f = with_suffix(path, suffix);
                    if f.exists() {
                        std::fs::remove_file(f)?;
                    }
                }
                Ok(copy_sqlite(backup, path)?)
            }
            HubDb::Postgres { name, .. } => {
                let conn = self.admin().await?;
                exec(&conn, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
                let made = copy_database(&conn, &format!("{name}_bak"), name).await;
                let _ = conn.close().await;
                made
            }
        }
    }

    /// Drops a PostgreSQL schedule's databases (nothing for SQLite: its files stay for inspection).
    pub(crate) async fn remove(&self) -> Result<(), SoakError> {
        if let HubDb::Postgres { name, .. } = self {
            let conn = self.admin().await?;
            exec(&conn, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
            exec(&conn, &format!("DROP DATABASE IF EXISTS \"{name}_bak\" WITH (FORCE)")).await?;
            let _ = conn.close().await;
        }
        Ok(())
    }
}

/// `admin` with its database replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn exec(conn: &DatabaseConnection, sql: &str) -> Result<(), SoakError> {
    conn.execute_unprepared(sql).await.map_err(|e| SoakError::Process(format!("{sql}: {e}")))?;
    Ok(())
}

/// `CREATE DATABASE to TEMPLATE from`, retried while the stopped hub's last
/// connections to `from` are still going away.
async fn copy_database(conn: &DatabaseConnection, from: &str, to: &str) -> Result<(), SoakError> {
    let sql = format!("CREATE DATABASE \"{to}\" TEMPLATE \"{from}\"");
    let mut last = String::new();
    for _ in 0..100 {
        match conn.execute_unprepared(&sql).await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(SoakError::Process(format!("{sql}: {last}")))
}

/// The hub database file's companions that hold committed data.
const SUFFIXES: [&str; 2] = ["", "-wal"];

/// Copies the SQLite database at `db` (and its WAL) to `to` (a file path).
pub(crate) fn copy_sqlite(db: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let target = with_suffix(to, suffix);
        if target.exists() {
            std::fs::remove_file(&target)?;
        }
    }
    for suffix in SUFFIXES {
        let from = with_suffix(db, suffix);
        if from.exists() {
            std::fs::copy(&from, with_suffix(to, suffix))?;
        }
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_replaced_in_the_admin_url() {
        assert_eq!(with_database("postgres://p@h:5432/test", "x"), "postgres://p@h:5432/x");
        assert_eq!(
            with_database("postgres://p@h/test?sslmode=disable", "x"),
            "postgres://p@h/x?sslmode=disable"
        );
    }
}
