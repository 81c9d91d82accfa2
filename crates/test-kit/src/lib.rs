//! Test support, for tests only (crates take it as a dev-dependency): a fresh
//! SQLite file or a fresh PostgreSQL database per test.
//!
//! PostgreSQL is found at `YANPEI_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Where it is absent, tests that
//! need it print a loud notice and skip, except under CI (`CI` set), where
//! its absence is a failure.

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("YANPEI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique name for a test database.
fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // PostgreSQL cuts names at 63 bytes: a long prefix is shortened so the unique part stays.
    let cut = prefix.char_indices().nth(32).map_or(prefix.len(), |(i, _)| i);
    format!("{}_{}_{n}_{nanos}", &prefix[..cut], std::process::id())
}

/// Creates an empty PostgreSQL database for one test and returns its URL;
/// `None` (after a loud notice) where no server answers outside CI.
///
/// # Panics
/// Under CI when the server does not answer: the PostgreSQL pass must run there.
pub async fn fresh_postgres(prefix: &str) -> Option<String> {
    let admin = postgres_admin_url();
    let db = match Database::connect(&admin).await {
        Ok(db) => db,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("CI requires PostgreSQL at {admin}, but connecting failed: {e}");
            }
            eprintln!(
                "\n!!! SKIPPING PostgreSQL test {prefix}: no server at {admin} ({e}).\n\
                 !!! Set YANPEI_TEST_POSTGRES or start PostgreSQL to run it.\n"
            );
            return None;
        }
    };
    let name = unique(prefix).to_lowercase();
    if let Err(e) = db.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await {
        panic!("creating test database {name} failed: {e}");
    }
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
    Some(format!("{base}/{name}"))
}

/// A fresh SQLite file URL in a new temporary directory (kept for inspection on failure).
pub fn fresh_sqlite(prefix: &str) -> String {
    let dir = std::env::temp_dir().join("yanpei-tests").join(unique(prefix));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("creating {}: {e}", dir.display());
    }
    yanpei_store::sqlite_url(&dir.join("db.sqlite"))
}
