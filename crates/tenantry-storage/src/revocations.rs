//! Telling every instance that keys stopped being valid.
//!
//! Each instance remembers briefly which caller a key stands for. A write that ends keys (a
//! revocation, the deletion of an organization, the removal of a member whose
//! organization-scoped keys go with them) announces it with PostgreSQL's `NOTIFY`, in the
//! transaction that makes the change, so the announcement goes out exactly when the change
//! commits. Every instance listens and forgets at once. On SQLite there is nothing to
//! announce to: one process serves a SQLite database, and the cache's lifetime bounds any
//! other.

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tenantry_domain::ApiKeyId;

use crate::{Store, StoreError};

/// The channel revocations are announced on.
const CHANNEL: &str = "tenantry_key_revocations";

/// What stopped being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// One key.
    Key(ApiKeyId),
    /// Keys no one instance can name cheaply (an organization's, a member's): forget all.
    All,
}

impl Revocation {
    fn payload(self) -> String {
        match self {
            Self::Key(id) => format!("key:{id}"),
            Self::All => "all".to_owned(),
        }
    }

    fn from_payload(payload: &str) -> Self {
        payload
            .strip_prefix("key:")
            .and_then(|id| id.parse().ok())
            .map_or(Self::All, Self::Key)
    }
}

/// What a [`RevocationListener`] heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    Revoked(Revocation),
    /// The connection was lost and made again: announcements in between were missed.
    Reconnected,
}

/// Announces `revocation` on `db` (a transaction, to go out when it commits).
pub(crate) async fn announce(
    db: &impl ConnectionTrait,
    revocation: Revocation,
) -> Result<(), StoreError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), revocation.payload().into()],
    ))
    .await?;
    Ok(())
}

/// Hears the revocations every instance announces.
#[allow(
    missing_debug_implementations,
    reason = "sqlx's PgListener has no Debug"
)]
pub struct RevocationListener {
    listener: PgListener,
}

impl RevocationListener {
    /// The next thing heard. An error means the database could not be reached; calling
    /// again tries to reconnect.
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        match self.listener.try_recv().await {
            Ok(Some(notification)) => Ok(Heard::Revoked(Revocation::from_payload(
                notification.payload(),
            ))),
            Ok(None) => Ok(Heard::Reconnected),
            Err(error) => Err(StoreError::Database(sea_orm::DbErr::Conn(
                sea_orm::RuntimeErr::SqlxError(error.into()),
            ))),
        }
    }
}

impl Store {
    /// Starts listening for revocations, on PostgreSQL (`None` on SQLite, where there is
    /// no other instance to hear from).
    pub async fn listen_for_revocations(&self) -> Result<Option<RevocationListener>, StoreError> {
        if self.db().get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let pool = self.db().get_postgres_connection_pool();
        let to_error = |error: sea_orm::sqlx::Error| {
            StoreError::Database(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
                error.into(),
            )))
        };
        let mut listener = PgListener::connect_with(pool).await.map_err(to_error)?;
        listener.listen(CHANNEL).await.map_err(to_error)?;
        Ok(Some(RevocationListener { listener }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let id = ApiKeyId::generate();
        for revocation in [Revocation::Key(id), Revocation::All] {
            assert_eq!(Revocation::from_payload(&revocation.payload()), revocation);
        }
        assert_eq!(Revocation::from_payload("garbage"), Revocation::All);
    }
}
