//! The storage error type: says what went wrong and whether retrying may help.

use sea_orm::DbErr;

/// What a storage operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or is busy; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
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

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
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
        matches!(self, StoreError::Unavailable(_))
    }
}
