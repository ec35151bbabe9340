//! API keys: only their hashes are stored.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tenantry_domain::{
    Actor, ApiKey, ApiKeyId, ApiKeyScope, Event, KeyHash, OrganizationId, TextLine, UserId,
};
use time::OffsetDateTime;

use crate::entities::{api_keys, organizations, users};
use crate::events;
use crate::members::finish;
use crate::organizations::{organization_pk, user_pk};
use crate::revocations::{Revocation, announce};
use crate::{Page, PageRequest, Store, StoreError, exactly_one};

const ADMIN: &str = "admin";
const USER: &str = "user";
const ORGANIZATION: &str = "organization";

/// Which keys a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFilter {
    All,
    /// Keys acting as this user, in any scope.
    User(UserId),
    /// Keys scoped to this organization.
    Organization(OrganizationId),
    /// Keys scoped to this organization that act as this user.
    OrganizationUser(OrganizationId, UserId),
}

impl Store {
    /// Stores a key by its hash, with its event.
    pub async fn create_api_key(
        &self,
        key: &ApiKey,
        hash: &KeyHash,
        by: Actor,
    ) -> Result<(), StoreError> {
        let (scope, user, organization) = match key.scope {
            ApiKeyScope::PlatformAdmin => (ADMIN, None, None),
            ApiKeyScope::User(user) => (USER, Some(user), None),
            ApiKeyScope::Organization {
                organization_id,
                user_id,
            } => (ORGANIZATION, user_id, Some(organization_id)),
        };
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let user_id = match user {
                Some(user) => Some(user_pk(&txn, user).await?),
                None => None,
            };
            let organization_id = match organization {
                Some(org) => Some(organization_pk(&txn, org).await?),
                None => None,
            };
            api_keys::Entity::insert(api_keys::ActiveModel {
                public_id: Set(key.id.as_uuid()),
                name: Set(key.name.as_str().to_owned()),
                prefix: Set(key.prefix.clone()),
                key_hash: Set(hash.as_str().to_owned()),
                scope: Set(scope.to_owned()),
                user_id: Set(user_id),
                organization_id: Set(organization_id),
                created_at: Set(key.created_at),
                revoked_at: Set(key.revoked_at),
                ..Default::default()
            })
            .exec(&txn)
            .await
            .map_err(|e| StoreError::unique(e, "this key exists already"))?;
            let event = Event::api_key_created(key, by, key.created_at);
            events::append(&txn, &event, None).await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    /// The live (not revoked) key with this hash.
    pub async fn api_key_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError> {
        let found = self
            .keys_query()
            .filter(api_keys::Column::KeyHash.eq(hash.as_str()))
            .filter(api_keys::Column::RevokedAt.is_null())
            .into_tuple::<KeyRow>()
            .all(self.db())
            .await?
            .into_iter()
            .next();
        found.map(key_from_row).transpose()
    }

    /// The key with this id, revoked or not.
    pub async fn api_key(&self, id: ApiKeyId) -> Result<ApiKey, StoreError> {
        let found = self
            .keys_query()
            .filter(api_keys::Column::PublicId.eq(id.as_uuid()))
            .into_tuple::<KeyRow>()
            .all(self.db())
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)?;
        key_from_row(found)
    }

    /// Live keys, in creation order.
    pub async fn list_api_keys(
        &self,
        filter: KeyFilter,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        let mut query = self
            .keys_query()
            .filter(api_keys::Column::RevokedAt.is_null());
        query = match filter {
            KeyFilter::All => query,
            KeyFilter::User(user) => query.filter(users::Column::PublicId.eq(user.as_uuid())),
            KeyFilter::Organization(org) => {
                query.filter(organizations::Column::PublicId.eq(org.as_uuid()))
            }
            KeyFilter::OrganizationUser(org, user) => query
                .filter(organizations::Column::PublicId.eq(org.as_uuid()))
                .filter(users::Column::PublicId.eq(user.as_uuid())),
        };
        if let Some(after) = page.after {
            query = query.filter(api_keys::Column::PublicId.gt(after));
        }
        let rows = query
            .order_by_asc(api_keys::Column::PublicId)
            .limit(page.limit + 1)
            .into_tuple::<KeyRow>()
            .all(self.db())
            .await?;
        let items = rows
            .into_iter()
            .map(key_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |key| {
            key.id.as_uuid()
        }))
    }

    /// Revokes a key, with its event: from now on it authenticates nothing.
    pub async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let key = self
                .keys_query()
                .filter(api_keys::Column::PublicId.eq(id.as_uuid()))
                .into_tuple::<KeyRow>()
                .all(&txn)
                .await?
                .into_iter()
                .next()
                .ok_or(StoreError::NotFound)?;
            let key = key_from_row(key)?;
            let result = api_keys::Entity::update_many()
                .col_expr(
                    api_keys::Column::RevokedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .filter(api_keys::Column::PublicId.eq(id.as_uuid()))
                .filter(api_keys::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
            exactly_one(result.rows_affected)?;
            announce(&txn, Revocation::Key(id)).await?;
            events::append(&txn, &Event::api_key_revoked(&key, by, now), None).await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    /// The live platform admin keys with one of these names.
    pub async fn admin_keys_named(&self, names: &[&str]) -> Result<Vec<ApiKeyId>, StoreError> {
        let ids: Vec<uuid::Uuid> = api_keys::Entity::find()
            .select_only()
            .column(api_keys::Column::PublicId)
            .filter(api_keys::Column::Scope.eq(ADMIN))
            .filter(api_keys::Column::Name.is_in(names.iter().copied()))
            .filter(api_keys::Column::RevokedAt.is_null())
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(ids.into_iter().map(ApiKeyId::from_uuid).collect())
    }

    /// Whether a platform admin key is stored.
    pub async fn has_admin_key(&self) -> Result<bool, StoreError> {
        let count = api_keys::Entity::find()
            .filter(api_keys::Column::Scope.eq(ADMIN))
            .filter(api_keys::Column::RevokedAt.is_null())
            .count(self.db())
            .await?;
        Ok(count > 0)
    }

    fn keys_query(&self) -> sea_orm::Select<api_keys::Entity> {
        api_keys::Entity::find()
            .select_only()
            .columns([
                api_keys::Column::PublicId,
                api_keys::Column::Name,
                api_keys::Column::Prefix,
                api_keys::Column::Scope,
            ])
            .column_as(users::Column::PublicId, "user_public_id")
            .column_as(organizations::Column::PublicId, "organization_public_id")
            .columns([api_keys::Column::CreatedAt, api_keys::Column::RevokedAt])
            .left_join(users::Entity)
            .left_join(organizations::Entity)
    }
}

type KeyRow = (
    uuid::Uuid,
    String,
    String,
    String,
    Option<uuid::Uuid>,
    Option<uuid::Uuid>,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

fn key_from_row(row: KeyRow) -> Result<ApiKey, StoreError> {
    let (id, name, prefix, scope, user, organization, created_at, revoked_at) = row;
    let scope = match (scope.as_str(), user, organization) {
        (ADMIN, _, _) => ApiKeyScope::PlatformAdmin,
        (USER, Some(user), _) => ApiKeyScope::User(UserId::from_uuid(user)),
        (ORGANIZATION, user, Some(org)) => ApiKeyScope::Organization {
            organization_id: OrganizationId::from_uuid(org),
            user_id: user.map(UserId::from_uuid),
        },
        _ => return Err(StoreError::Corrupt(format!("api_keys.scope: {scope}"))),
    };
    Ok(ApiKey {
        id: ApiKeyId::from_uuid(id),
        name: TextLine::api_key_name(name)
            .map_err(|e| StoreError::Corrupt(format!("api_keys.name: {e}")))?,
        prefix,
        scope,
        created_at,
        revoked_at,
    })
}
