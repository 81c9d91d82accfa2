//! Test support, for tests only: a fresh SQLite file or a fresh PostgreSQL
//! database per test. Crates take this as a dev-dependency, so none of it is
//! compiled into a shipped binary.
//!
//! PostgreSQL is found at `YANPEI_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Where it is absent, tests that
//! need it skip, except under CI (`CI` set), where its absence is a failure.
//! Every skip writes one line to stderr past the test harness's capture, so a
//! passing run still shows it:
//!
//! ```text
//! skipped PostgreSQL test rollup: no server at postgres://... (...) [2 PostgreSQL tests skipped so far in this test binary]
//! ```
//!
//! `cargo test 2>&1 | grep -c 'skipped PostgreSQL'` counts them.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("YANPEI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// PostgreSQL tests this test binary skipped so far.
static SKIPPED: AtomicU32 = AtomicU32::new(0);

/// How many PostgreSQL tests this test binary has skipped so far (no server answered).
pub fn postgres_skips() -> u32 {
    SKIPPED.load(Ordering::Relaxed)
}

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

/// Decides what a test does when no PostgreSQL server answers at `admin`:
/// under CI it fails; elsewhere the skip is counted and said on one line of stderr.
///
/// # Panics
/// Under CI: the PostgreSQL pass must run there.
fn skip_postgres(what: &str, admin: &str, error: &dyn std::fmt::Display) {
    if std::env::var_os("CI").is_some() {
        panic!("CI requires PostgreSQL at {admin}, but connecting failed: {error}");
    }
    let n = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
    let tests = if n == 1 { "test" } else { "tests" };
    // Straight to the process's stderr: `eprintln!` inside a test is captured and shown only on failure.
    let line = format!(
        "skipped PostgreSQL test {what}: no server at {admin} ({error}); set YANPEI_TEST_POSTGRES or start \
         PostgreSQL to run it [{n} PostgreSQL {tests} skipped so far in this test binary]\n"
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The admin URL of the test PostgreSQL server when it answers, for a test
/// that makes its own databases; `None` (the skip counted and said) where no
/// server answers outside CI.
///
/// # Panics
/// Under CI when the server does not answer: the PostgreSQL pass must run there.
pub async fn postgres_server(what: &str) -> Option<String> {
    let admin = postgres_admin_url();
    match Database::connect(&admin).await {
        Ok(db) => {
            if let Err(e) = db.close().await {
                panic!("closing the connection to {admin} failed: {e}");
            }
            Some(admin)
        }
        Err(e) => {
            skip_postgres(what, &admin, &e);
            None
        }
    }
}

/// Creates an empty PostgreSQL database for one test and returns its URL;
/// `None` (the skip counted and said) where no server answers outside CI.
///
/// # Panics
/// Under CI when the server does not answer: the PostgreSQL pass must run there.
pub async fn fresh_postgres(prefix: &str) -> Option<String> {
    let admin = postgres_admin_url();
    let db = match Database::connect(&admin).await {
        Ok(db) => db,
        Err(e) => {
            skip_postgres(prefix, &admin, &e);
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
