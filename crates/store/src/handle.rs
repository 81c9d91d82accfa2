//! A store's handle on its database: the connection every operation uses, the one way
//! to run a write transaction ([`Db::begin_write`]), and the replacement of the
//! connection after a storage error.
//!
//! Why replace it: sqlx counts how deep a connection is in transactions, and SQLite may
//! roll a whole transaction back by itself on a full disk or an I/O error. The failed
//! `ROLLBACK` that follows leaves the count at one while SQLite is in none, so the next
//! `BEGIN` becomes a `SAVEPOINT`; after one more failure the connection sits inside a
//! transaction that no later `RELEASE` commits, and everything acknowledged after it is
//! lost when the process ends. So on SQLite, after any database error in a write
//! transaction (and whenever the connection says it is still inside one when a write
//! begins), the pool is replaced by a new one and the old one is closed, which makes
//! SQLite roll back whatever it held. PostgreSQL needs no replacement: sqlx rolls a
//! dropped transaction back and decrements its count whether or not the `ROLLBACK`
//! succeeds, the server keeps the real state, and a connection that fails its ping when
//! it returns to the pool is closed, not reused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::watch;

use crate::{StoreError, connect};

/// The database behind a store, shared by its clones.
#[derive(Debug)]
pub struct Db {
    url: String,
    backend: DbBackend,
    /// The connection (a pool) and its generation (how many times it was replaced).
    conn: RwLock<(u64, DatabaseConnection)>,
    /// Serialises replacements.
    replacing: tokio::sync::Mutex<()>,
    /// The last replacement failed: the next write tries again before it begins.
    stale: AtomicBool,
    /// `close` was called: no more replacements, no more writes.
    closed: AtomicBool,
    /// How many storage faults (full, I/O, read-only) writes have met.
    faults: watch::Sender<u64>,
}

impl Db {
    /// Connects to `url` (see [`connect`]).
    pub async fn open(url: &str) -> Result<Arc<Db>, StoreError> {
        let conn = connect(url).await?;
        Ok(Arc::new(Db {
            url: url.to_owned(),
            backend: conn.get_database_backend(),
            conn: RwLock::new((0, conn)),
            replacing: tokio::sync::Mutex::new(()),
            stale: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            faults: watch::Sender::new(0),
        }))
    }

    /// The current connection (a cheap clone of the pool handle). Reads use it directly;
    /// writes go through [`Db::begin_write`].
    pub fn conn(&self) -> DatabaseConnection {
        self.conn.read().unwrap_or_else(PoisonError::into_inner).1.clone()
    }

    fn current(&self) -> (u64, DatabaseConnection) {
        self.conn.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The engine.
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Counts the storage faults (full disk, I/O error, read-only) write transactions
    /// have met; it changes on each one.
    pub fn faults(&self) -> watch::Receiver<u64> {
        self.faults.subscribe()
    }

    fn note_fault(&self, e: &StoreError) {
        if let Some(fault) = e.storage_fault() {
            tracing::warn!(%fault, error = %e, "a write met a storage fault");
            self.faults.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Replaces the connection with a new one and closes the old one in the background
    /// (SQLite then rolls back whatever it held). PostgreSQL: nothing to do.
    pub async fn reset(&self) -> Result<(), StoreError> {
        let generation = self.current().0;
        self.replace(generation, "asked for").await
    }

    /// Replaces connection `generation` unless another replacement already did.
    async fn replace(&self, generation: u64, why: &str) -> Result<(), StoreError> {
        if self.backend != DbBackend::Sqlite {
            return Ok(());
        }
        let _one_at_a_time = self.replacing.lock().await;
        if self.current().0 != generation || self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let fresh = match connect(&self.url).await {
            Ok(c) => c,
            Err(e) => {
                self.stale.store(true, Ordering::Release);
                tracing::error!(error = %e, why, "could not reconnect to the database; the next write tries again");
                return Err(e);
            }
        };
        let old = {
            let mut slot = self.conn.write().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *slot, (generation + 1, fresh)).1
        };
        self.stale.store(false, Ordering::Release);
        tracing::warn!(why, generation = generation + 1, "database connection replaced");
        // Closing waits until the old connection is back in its pool (a dropped
        // transaction returns it), then closes it: SQLite rolls back what it held.
        tokio::spawn(async move {
            if let Err(e) = old.close().await {
                tracing::warn!(error = %e, "closing the replaced database connection failed");
            }
        });
        Ok(())
    }

    /// Whether the SQLite connection believes it is still inside a transaction while
    /// nobody uses it: its transaction count is wrong, and it must not be trusted.
    async fn left_in_transaction(conn: &DatabaseConnection) -> Result<bool, StoreError> {
        use sea_orm::sqlx::Connection;
        let c = conn
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(format!("acquiring the database connection: {e}")))?;
        Ok(c.is_in_transaction())
    }

    /// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite (it takes the write lock
    /// at once, waiting for it up to the busy timeout, instead of failing when a read
    /// would later turn into a write), a plain `BEGIN` on PostgreSQL.
    ///
    /// Every statement runs through the returned [`WriteTxn`]. Any database error (of a
    /// statement, of `BEGIN` or `COMMIT`) replaces the connection (SQLite) before the
    /// error reaches the caller; a transaction dropped without commit for another reason
    /// (an error of the body's own, a dropped future) has its connection checked, and
    /// replaced if it is left inside a transaction, and every write checks it before it
    /// begins. A storage fault (full disk, I/O error, read-only) is also counted in
    /// [`Db::faults`]. Nothing is acknowledged unless `commit` succeeded.
    pub async fn begin_write(self: &Arc<Self>) -> Result<WriteTxn, StoreError> {
        // A write that queued on a connection just replaced (its pool closed) starts
        // again on the new one.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let generation = self.current().0;
            match self.try_begin_write().await {
                Err(StoreError::Unavailable(_)) if attempts < 3 && self.current().0 != generation => {}
                other => return other,
            }
        }
    }

    async fn try_begin_write(self: &Arc<Self>) -> Result<WriteTxn, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store was closed".into()));
        }
        let (mut generation, mut conn) = self.current();
        if self.backend == DbBackend::Sqlite {
            if self.stale.load(Ordering::Acquire) {
                self.replace(generation, "a previous replacement failed").await?;
                (generation, conn) = self.current();
            }
            if Self::left_in_transaction(&conn).await? {
                self.replace(generation, "the connection was left inside a transaction").await?;
                (generation, conn) = self.current();
            }
        }
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        match conn.begin_with_options(options).await {
            Ok(txn) => {
                Ok(WriteTxn { txn: Some(txn), db: self.clone(), generation, failed: AtomicBool::new(false) })
            }
            Err(DbErr::ConnectionAcquire(e)) => {
                // Closed by a replacement, or the pool timed out: nothing was begun.
                Err(StoreError::Unavailable(format!("acquiring the database connection: {e}")))
            }
            Err(e) => {
                let e = StoreError::from(e);
                self.note_fault(&e);
                // The replacement's own failure is logged; the caller gets the first error.
                let _ = self.replace(generation, "BEGIN failed").await;
                Err(e)
            }
        }
    }

    /// Closes the connection (the store is not used afterwards).
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _no_replacement_meanwhile = self.replacing.lock().await;
        if let Err(e) = self.conn().close().await {
            tracing::warn!(error = %e, "closing the database failed");
        }
    }
}

/// A write transaction begun by [`Db::begin_write`]. Run statements through it (it is a
/// [`ConnectionTrait`]), then [`WriteTxn::commit`]; dropped without commit, it rolls
/// back.
#[derive(Debug)]
pub struct WriteTxn {
    txn: Option<DatabaseTransaction>,
    db: Arc<Db>,
    generation: u64,
    /// A statement failed in the database: the transaction's state is in doubt.
    failed: AtomicBool,
}

impl WriteTxn {
    fn inner(&self) -> Result<&DatabaseTransaction, DbErr> {
        self.txn.as_ref().ok_or_else(|| DbErr::Custom("the write transaction has ended".into()))
    }

    /// After a statement fails in the database (not sea-orm's own checks, such as an
    /// update that matched no row, which leave the transaction as it was), replaces the
    /// connection (SQLite) before the error reaches the body: this transaction can only
    /// roll back, and the next write begins on the new connection, while the old one
    /// closes once this transaction is dropped.
    async fn seen<T>(&self, r: Result<T, DbErr>) -> Result<T, DbErr> {
        if let Err(e) = &r
            && matches!(e, DbErr::Exec(_) | DbErr::Query(_) | DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
        {
            self.failed.store(true, Ordering::Release);
            self.db.note_fault(&StoreError::from(e.clone()));
            // Its own failure is logged and marks the handle stale; the body gets `e`.
            let _ = self.db.replace(self.generation, "a statement of a write transaction failed").await;
        }
        r
    }

    /// Commits. On failure the connection is replaced (SQLite) before the error returns,
    /// so nothing of the transaction survives and the next write starts clean.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let Some(txn) = self.txn.take() else { return Ok(()) };
        if self.failed.load(Ordering::Acquire) {
            drop(txn);
            let _ = self.db.replace(self.generation, "commit after a failed statement").await;
            return Err(StoreError::Unavailable(
                "a statement of this transaction failed; nothing of it was written".into(),
            ));
        }
        match txn.commit().await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = StoreError::from(e);
                self.db.note_fault(&e);
                let _ = self.db.replace(self.generation, "COMMIT failed").await;
                Err(e)
            }
        }
    }
}

impl Drop for WriteTxn {
    fn drop(&mut self) {
        let Some(txn) = self.txn.take() else { return };
        // Not committed: an error ended the body, or its future was dropped. sea-orm
        // queues the ROLLBACK as the transaction drops.
        drop(txn);
        if self.db.backend != DbBackend::Sqlite {
            return;
        }
        let (db, generation) = (self.db.clone(), self.generation);
        let failed = self.failed.load(Ordering::Acquire);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            db.stale.store(true, Ordering::Release);
            return;
        };
        runtime.spawn(async move {
            let why = if failed {
                // Replaced when the statement failed, unless that replacement failed.
                "a statement of a write transaction failed"
            } else {
                // An error of the body's own, or its future was dropped: the ROLLBACK
                // should have left the connection clean; check that it did.
                match Db::left_in_transaction(&db.conn()).await {
                    Ok(false) => return,
                    Ok(true) => "a rolled-back transaction left the connection inside one",
                    Err(_) => "the connection could not be checked after a rollback",
                }
            };
            let _ = db.replace(generation, why).await;
        });
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.db.backend
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.seen(self.inner()?.execute_raw(stmt).await).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.seen(self.inner()?.execute_unprepared(sql).await).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.seen(self.inner()?.query_one_raw(stmt).await).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.seen(self.inner()?.query_all_raw(stmt).await).await
    }

    fn support_returning(&self) -> bool {
        self.db.backend.support_returning()
    }
}
