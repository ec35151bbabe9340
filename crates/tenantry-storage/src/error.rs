use sea_orm::{DbErr, RuntimeErr, SqlErr};
use tenantry_domain::RuleViolation;
use thiserror::Error;

/// What can go wrong in the store. Callers tell "not there", "conflicts with what is there"
/// and "a rule forbids it" apart from failures of the database itself.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint: the message names what is taken.
    #[error("{0}")]
    Conflict(String),
    /// A rule of the domain that the change would break.
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    /// The stored version is not the one the caller expected.
    #[error("the resource has changed since it was read")]
    VersionMismatch,
    /// The database could not be reached or did not answer in time.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] DbErr),
    /// A stored value that the domain rejects: a bug or a hand-edited database.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] DbErr),
    /// The database could not be opened at start: what was being opened (a SQLite path, or
    /// a PostgreSQL address without its password) and why.
    #[error("could not open {target}: {cause}")]
    Open { target: String, cause: String },
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(error)
        } else {
            Self::Database(error)
        }
    }
}

/// Whether `error` says the database could not be reached (down, restarting, or the pool
/// timed out), rather than that a statement failed.
fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            match error.as_ref() {
                Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
                Sqlx::Protocol(_) | Sqlx::Tls(_) => true,
                // SQLSTATE class 08 (connection exception) and 57P (the server shutting down).
                Sqlx::Database(db) => db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
                _ => false,
            }
        }
        _ => false,
    }
}

impl StoreError {
    /// Whether no pooled connection came free within the acquire timeout: the pool is too
    /// small for the load (or the database too slow).
    pub fn is_pool_timeout(&self) -> bool {
        use sea_orm::sqlx::Error as Sqlx;
        match self {
            Self::Unavailable(DbErr::ConnectionAcquire(
                sea_orm::error::ConnAcquireErr::Timeout,
            )) => true,
            Self::Unavailable(
                DbErr::Exec(RuntimeErr::SqlxError(error))
                | DbErr::Query(RuntimeErr::SqlxError(error)),
            ) => matches!(error.as_ref(), Sqlx::PoolTimedOut),
            _ => false,
        }
    }

    /// Maps a unique violation to [`StoreError::Conflict`] with `message`, anything else as
    /// usual.
    pub(crate) fn unique(error: DbErr, message: &str) -> Self {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict(message.to_owned()),
            _ => Self::from(error),
        }
    }

    pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
        matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
    }
}
