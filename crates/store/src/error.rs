//! The storage error type: says what went wrong and whether retrying may help.

use std::ops::Deref;

use sea_orm::{DbErr, RuntimeErr};

/// What a storage operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or is busy; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database cannot store anything now (its disk is full, an I/O error, it is
    /// read-only). Nothing of the failed write was kept and the connection was replaced;
    /// retrying after an operator fixes the disk may succeed.
    #[error("database cannot write ({fault}): {detail}")]
    Storage {
        /// What is wrong with the storage.
        fault: StorageFault,
        /// The database's own message.
        detail: String,
    },
    /// A row the caller named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not touch that row (another school's record).
    #[error("{0}")]
    PermissionDenied(String),
    /// The input breaks a rule the store enforces.
    #[error("{0}")]
    Invalid(String),
    /// The stored state contradicts itself (a bug or a tampered file).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(DbErr),
}

/// Why the storage cannot take writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// The disk (or the database's size limit) is full: SQLITE_FULL, PostgreSQL `disk_full`.
    Full,
    /// Reading or writing the files failed: SQLITE_IOERR, PostgreSQL `io_error`.
    Io,
    /// The database or its files are read-only.
    ReadOnly,
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StorageFault::Full => "disk full",
            StorageFault::Io => "I/O error",
            StorageFault::ReadOnly => "read-only",
        })
    }
}

/// The storage fault a database error reports, if it is one.
fn storage_fault(e: &DbErr) -> Option<StorageFault> {
    use sea_orm::sqlx::Error;
    let (DbErr::Exec(RuntimeErr::SqlxError(x))
    | DbErr::Query(RuntimeErr::SqlxError(x))
    | DbErr::Conn(RuntimeErr::SqlxError(x))) = e
    else {
        return None;
    };
    if let Error::Database(d) = x.deref() {
        let code = d.code().unwrap_or_default();
        if d.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
            // The extended result code; the primary one is its low byte.
            match code.parse::<u32>().map(|n| n & 0xff) {
                Ok(13) => return Some(StorageFault::Full),    // SQLITE_FULL
                Ok(10 | 14) => return Some(StorageFault::Io), // SQLITE_IOERR, SQLITE_CANTOPEN
                Ok(8) => return Some(StorageFault::ReadOnly), // SQLITE_READONLY
                _ => {}
            }
        } else {
            // PostgreSQL's SQLSTATE.
            match &*code {
                "53100" => return Some(StorageFault::Full),     // disk_full
                "58030" => return Some(StorageFault::Io),       // io_error
                "25006" => return Some(StorageFault::ReadOnly), // read_only_sql_transaction
                _ => {}
            }
        }
    }
    let text = x.to_string();
    if text.contains("database or disk is full") || text.contains("No space left on device") {
        Some(StorageFault::Full)
    } else if text.contains("disk I/O error") {
        Some(StorageFault::Io)
    } else if text.contains("readonly database") {
        Some(StorageFault::ReadOnly)
    } else {
        None
    }
}

/// Whether the error says the connection itself is gone (the server ended it, the
/// network failed): nothing of the transaction was kept, and a new connection may work.
fn connection_lost(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error;
    let (DbErr::Exec(RuntimeErr::SqlxError(x)) | DbErr::Query(RuntimeErr::SqlxError(x))) = e else {
        return false;
    };
    match x.deref() {
        Error::Io(_) | Error::PoolClosed | Error::PoolTimedOut | Error::WorkerCrashed => true,
        // PostgreSQL: connection_exception (08...), admin/crash shutdown, cannot connect now.
        Error::Database(d) => {
            d.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>().is_some()
                && d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
        }
        _ => false,
    }
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        if let Some(fault) = storage_fault(&e) {
            return StoreError::Storage { fault, detail: e.to_string() };
        }
        if connection_lost(&e) {
            return StoreError::Unavailable(e.to_string());
        }
        match &e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(e.to_string()),
            _ => {
                let text = e.to_string();
                // SQLITE_BUSY / SQLITE_LOCKED and PostgreSQL serialization failures are transient.
                if text.contains("database is locked")
                    || text.contains("database table is locked")
                    || text.contains("could not serialize access")
                    || text.contains("deadlock detected")
                {
                    StoreError::Unavailable(text)
                } else {
                    StoreError::Db(e)
                }
            }
        }
    }
}

impl StoreError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Storage { .. })
    }

    /// The storage fault behind this error (full disk, I/O error, read-only), if any.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            StoreError::Storage { fault, .. } => Some(*fault),
            _ => None,
        }
    }

    /// Whether the database itself reported this error (as opposed to a rule the
    /// store enforces): after such an error a transaction's state is in doubt.
    pub fn is_from_database(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Storage { .. } | StoreError::Db(_))
    }
}
