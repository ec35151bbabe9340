//! Idempotency keys: the first answer to a request, kept to replay to its retries.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::entities::idempotency_keys;
use crate::{Store, StoreError};

/// An answer as it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
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
    /// The answer kept for this record's scope and key, if any.
    pub async fn idempotent_response(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<Replay>, StoreError> {
        let found = idempotency_keys::Entity::find()
            .filter(idempotency_keys::Column::Scope.eq(record.scope.as_str()))
            .filter(idempotency_keys::Column::IdempotencyKey.eq(record.key.as_str()))
            .all(self.db())
            .await?
            .into_iter()
            .next();
        Ok(found.map(|m| Replay {
            response: StoredResponse {
                status: u16::try_from(m.response_status).unwrap_or(500),
                body: m.response_body,
            },
            request_hash: m.request_hash,
        }))
    }
}
