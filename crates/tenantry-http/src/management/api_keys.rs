//! API keys.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use tenantry_domain::{
    Access, ApiKey, ApiKeyId, ApiKeyScope, ApiKeySecret, OrganizationId, TextLine, UserId,
};
use tenantry_storage::{KeyFilter, StoreError};

use super::views::*;
use crate::auth::Caller;
use crate::common::{CreateProblems, DeleteProblems, Fields, ListProblems, now};
use crate::error::{ApiError, FieldError};
use crate::extract::{JsonBody, NoQuery, Paging};
use crate::limits::Limits;
use crate::ops::{organization_not_found, require_active};
use crate::path::KeyIdPath;
use crate::state::AppState;

const TAG: &str = "api-keys";

/// Create an API key
///
/// Makes a key and shows it once, in this answer; only its hash is kept. Without `userId`
/// the key acts as the caller; with `organizationId` it acts in that organization alone,
/// where the caller must be an owner or admin. Only the platform admin names another user.
#[utoipa::path(
    post,
    path = "/api-key",
    tag = TAG,
    operation_id = "create_api_key",
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The new key, shown this once.", body = CreatedApiKeyView),
        CreateProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/api-key")]
pub(super) async fn create_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    _query: NoQuery,
    body: JsonBody<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    limits.key(&caller).await?;
    let request = body.0;
    let mut fields = Fields::default();
    let name = fields.check("name", TextLine::api_key_name(request.name));
    let name = fields.finish(name)?.expect("checked");
    let user = request.user_id.map(UserId::from_uuid);
    let org = request.organization_id.map(OrganizationId::from_uuid);

    let user = match caller {
        Caller::Organization { .. } => {
            return Err(ApiError::Forbidden {
                detail: "an organization-scoped key cannot create keys".into(),
                fields: Vec::new(),
            });
        }
        Caller::User { user_id, .. } => match user {
            None => Some(user_id),
            Some(other) if other == user_id => Some(user_id),
            Some(_) => {
                return Err(ApiError::Forbidden {
                    detail: "only the platform admin may create keys for another user".into(),
                    fields: vec![FieldError::new(
                        "userId",
                        "only the platform admin may set this field",
                    )],
                });
            }
        },
        Caller::PlatformAdmin { .. } => {
            if let Some(user) = user {
                state.store.user(user).await.map_err(|e| match e {
                    StoreError::NotFound => {
                        ApiError::referenced_not_found("userId", "no user has this id")
                    }
                    other => other.into(),
                })?;
            }
            user
        }
    };
    if let Some(org) = org {
        let access = caller.access_to(&state, org).await?;
        state
            .store
            .organization(org)
            .await
            .map_err(organization_not_found)?;
        if !access.can_manage() {
            return Err(ApiError::Forbidden {
                detail: "only the organization's owners and admins may create keys for it".into(),
                fields: vec![FieldError::new(
                    "organizationId",
                    "the caller is not an owner or admin of it",
                )],
            });
        }
        if caller.is_platform_admin()
            && let Some(user) = user
            && state.store.role_of(org, user).await?.is_none()
        {
            return Err(ApiError::validation(
                "userId",
                "is not a member of the organization",
            ));
        }
        require_active(&state, org, access).await?;
    }
    let scope = match (user, org) {
        (None, None) => ApiKeyScope::PlatformAdmin,
        (Some(user), None) => ApiKeyScope::User(user),
        (user_id, Some(organization_id)) => ApiKeyScope::Organization {
            organization_id,
            user_id,
        },
    };
    let (key, secret) = new_key(name, scope)?;
    state
        .store
        .create_api_key(&key, &secret.hash(), caller.actor())
        .await?;
    let view = CreatedApiKeyView {
        id: key.id.as_uuid(),
        name: key.name.to_string(),
        key: secret.expose().to_owned(),
        prefix: key.prefix.clone(),
        user_id: key.user_id().map(|u| u.as_uuid()),
        organization_id: key.organization_id().map(|o| o.as_uuid()),
        created_at: key.created_at,
    };
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// A new key with `scope`, and its secret to show once.
pub(crate) fn new_key(
    name: TextLine,
    scope: ApiKeyScope,
) -> Result<(ApiKey, ApiKeySecret), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    let secret = ApiKeySecret::from_random_bytes(bytes);
    let key = ApiKey {
        id: ApiKeyId::generate(),
        name,
        prefix: secret.prefix(),
        scope,
        created_at: now(),
        revoked_at: None,
    };
    Ok((key, secret))
}

/// List API keys
///
/// Returns the live keys the caller can manage, without the keys themselves: the caller's
/// own (all of them for the platform admin; those of its organization for an
/// organization key), a page at a time.
#[utoipa::path(
    get,
    path = "/api-key/list",
    tag = TAG,
    operation_id = "list_api_keys",
    params(Paging),
    responses(
        (status = 200, description = "A page of keys.", body = Vec<ApiKeyView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        ListProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/api-key/list")]
pub(super) async fn list_api_keys(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    limits.key(&caller).await?;
    let filter = match caller {
        Caller::PlatformAdmin { .. } => KeyFilter::All,
        Caller::User { user_id, .. } => KeyFilter::User(user_id),
        Caller::Organization {
            organization_id,
            user_id: None,
            ..
        } => KeyFilter::Organization(organization_id),
        // A key acts as its holder's role now: an owner or admin sees the organization's
        // keys, a member their own, and a former member nothing.
        Caller::Organization {
            organization_id,
            user_id: Some(user_id),
            ..
        } => match state.store.role_of(organization_id, user_id).await? {
            None => {
                return Err(ApiError::Unauthorized(
                    "the API key's user is no longer a member of its organization".into(),
                ));
            }
            Some(role) if Access::Member(role).can_manage() => {
                KeyFilter::Organization(organization_id)
            }
            Some(_) => KeyFilter::OrganizationUser(organization_id, user_id),
        },
    };
    let page = state.store.list_api_keys(filter, paging.page()).await?;
    let views: Vec<ApiKeyView> = page.items.iter().map(ApiKeyView::from).collect();
    Ok(paging.respond("/api-key/list", page.next, views))
}

/// Revoke an API key
///
/// Revokes a key at once: it authenticates nothing from then on. A user revokes their own
/// keys, owners and admins their organization's, the platform admin any.
#[utoipa::path(
    delete,
    path = "/api-key/{key_id}",
    tag = TAG,
    operation_id = "delete_api_key",
    params(KeyIdPath),
    responses((status = 204, description = "The key is revoked."), DeleteProblems),
    security(("bearer" = [])),
)]
#[delete("/api-key/{key_id}")]
pub(super) async fn delete_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    KeyIdPath(id): KeyIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    limits.key(&caller).await?;
    let not_found = || ApiError::not_found("the API key");
    let key = state.store.api_key(id).await.map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    if key.revoked_at.is_some() {
        return Err(not_found());
    }
    let own = caller.user_id().is_some_and(|me| key.user_id() == Some(me))
        && !matches!(caller, Caller::Organization { .. });
    let allowed = caller.is_platform_admin()
        || own
        || match key.organization_id() {
            Some(org) => caller
                .access_to(&state, org)
                .await
                .is_ok_and(|a| a.can_manage()),
            None => false,
        };
    if !allowed {
        return Err(not_found());
    }
    state
        .store
        .revoke_api_key(id, caller.actor(), now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(),
            other => other.into(),
        })?;
    state.keys.forget_key(id);
    Ok(HttpResponse::NoContent().finish())
}
