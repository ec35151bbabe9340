//! Idempotency keys: the first answer to a request, kept to replay to its retries.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;

use crate::entities::idempotency_keys;
use crate::{Store, StoreError};

/// An answer as it was sent: its status, the headers that describe what it made (such as
/// `Location` and `ETag`), and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl StoredResponse {
    pub(crate) fn headers_json(&self) -> String {
        serde_json::to_string(&self.headers).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// An answer kept for an idempotency key, and the fingerprint of the request it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub response: StoredResponse,
    pub request_hash: String,
}

/// What to keep for an idempotent request: who sent it (`scope`), its key, a fingerprint of
/// its body and the answer it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    pub response: StoredResponse,
}

impl Store {
    /// The answer kept for this idempotency key of this scope, if any.
    pub async fn idempotent_response(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<Replay>, StoreError> {
        let found = idempotency_keys::Entity::find()
            .filter(idempotency_keys::Column::Scope.eq(scope))
            .filter(idempotency_keys::Column::IdempotencyKey.eq(key))
            .all(self.db())
            .await?
            .into_iter()
            .next();
        found
            .map(|m| {
                let headers = serde_json::from_str(&m.response_headers)
                    .map_err(|e| StoreError::Corrupt(format!("a kept answer's headers: {e}")))?;
                Ok(Replay {
                    response: StoredResponse {
                        status: u16::try_from(m.response_status).unwrap_or(500),
                        headers,
                        body: m.response_body,
                    },
                    request_hash: m.request_hash,
                })
            })
            .transpose()
    }

    /// Forgets the answers kept for idempotency keys before `before`, at most `batch` rows
    /// per statement so that no statement holds locks for long; answers how many went.
    pub async fn prune_idempotency_keys(
        &self,
        before: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        use idempotency_keys::Column as C;
        self.prune_before::<idempotency_keys::Entity>(C::Id, C::CreatedAt, before, batch)
            .await
    }
}
