use sea_orm::{DbErr, SqlErr};
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
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    /// A stored value that the domain rejects: a bug or a hand-edited database.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        match &error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(error),
            _ => Self::Database(error),
        }
    }
}

impl StoreError {
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
