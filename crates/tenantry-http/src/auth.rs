//! Who is calling: the API key in `Authorization` (`Bearer <key>` or the bare key) resolved
//! to a caller, and what that caller may do in an organization.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use tenantry_domain::{
    Access, Actor, ApiKeyId, ApiKeyScope, KeyHash, OrganizationId, Role, UserId,
};

use crate::error::ApiError;
use crate::extract::single_header;
use crate::state::AppState;

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The platform administrator, by the configured token (`key_id` `None`) or a stored
    /// admin key.
    PlatformAdmin { key_id: Option<ApiKeyId> },
    /// A user, acting in every organization they belong to.
    User { user_id: UserId, key_id: ApiKeyId },
    /// A key scoped to one organization: as its user's role there, or as an organization
    /// admin when it has no user.
    Organization {
        organization_id: OrganizationId,
        user_id: Option<UserId>,
        key_id: ApiKeyId,
    },
}

impl Caller {
    pub fn is_platform_admin(&self) -> bool {
        matches!(self, Self::PlatformAdmin { .. })
    }

    /// The stored key this caller presented, if it presented one (not the configured admin
    /// token).
    pub fn key_id(&self) -> Option<ApiKeyId> {
        match *self {
            Self::PlatformAdmin { key_id } => key_id,
            Self::User { key_id, .. } | Self::Organization { key_id, .. } => Some(key_id),
        }
    }

    /// The user this caller acts as, if any.
    pub fn user_id(&self) -> Option<UserId> {
        match *self {
            Self::PlatformAdmin { .. } => None,
            Self::User { user_id, .. } => Some(user_id),
            Self::Organization { user_id, .. } => user_id,
        }
    }

    /// Who this caller is in the usage ledger and the audit trail: a key that acts as a
    /// user is that user.
    pub fn actor(&self) -> Actor {
        match *self {
            Self::PlatformAdmin { key_id } => Actor::PlatformAdmin(key_id),
            Self::User { user_id, .. }
            | Self::Organization {
                user_id: Some(user_id),
                ..
            } => Actor::User(user_id),
            Self::Organization {
                user_id: None,
                key_id,
                ..
            } => Actor::Key(key_id),
        }
    }

    /// A stable name of the caller, for scoping idempotency keys.
    pub fn scope_key(&self) -> String {
        match self {
            Self::PlatformAdmin { .. } => "admin".to_owned(),
            Self::User { user_id, .. } => format!("user:{user_id}"),
            Self::Organization { key_id, .. } => format!("key:{key_id}"),
        }
    }

    /// What this caller may do in `org`. An organization the caller may not see answers
    /// 404, exactly as one that does not exist.
    pub async fn access_to(
        &self,
        state: &AppState,
        org: OrganizationId,
    ) -> Result<Access, ApiError> {
        if self.is_platform_admin() || !self.may_see(org) {
            return self.access_given(org, None);
        }
        let role = match self.user_id() {
            Some(user) => state.store.role_of(org, user).await?,
            None => None,
        };
        self.access_given(org, role)
    }

    /// Whether this caller can see `org` at all, before any membership is known: an
    /// organization-scoped key sees its own organization only.
    pub fn may_see(&self, org: OrganizationId) -> bool {
        !matches!(self, Self::Organization { organization_id, .. } if *organization_id != org)
    }

    /// What this caller may do in `org`, given its user's role there (`None`: not a member,
    /// or no user).
    pub fn access_given(
        &self,
        org: OrganizationId,
        role: Option<Role>,
    ) -> Result<Access, ApiError> {
        let not_found = || ApiError::not_found("the organization");
        match *self {
            Self::PlatformAdmin { .. } => Ok(Access::PlatformAdmin),
            _ if !self.may_see(org) => Err(not_found()),
            Self::Organization { user_id: None, .. } => Ok(Access::Member(Role::Admin)),
            Self::User { .. } | Self::Organization { .. } => {
                role.map(Access::Member).ok_or_else(not_found)
            }
        }
    }

    async fn authenticate(state: &AppState, presented: &str) -> Result<Self, ApiError> {
        let hash = KeyHash::of(presented);
        if state
            .admin_token
            .as_ref()
            .is_some_and(|admin| admin.matches(&hash))
        {
            return Ok(Self::PlatformAdmin { key_id: None });
        }
        let generation = match state.keys.get(&hash) {
            Ok(caller) => {
                crate::metrics::key_cache(true);
                return Ok(caller);
            }
            Err(generation) => {
                crate::metrics::key_cache(false);
                generation
            }
        };
        let key = state.store.api_key_by_hash(&hash).await?.ok_or_else(|| {
            ApiError::Unauthorized("the API key is invalid or has been revoked".into())
        })?;
        let caller = match key.scope {
            ApiKeyScope::PlatformAdmin => Self::PlatformAdmin {
                key_id: Some(key.id),
            },
            ApiKeyScope::User(user_id) => Self::User {
                user_id,
                key_id: key.id,
            },
            ApiKeyScope::Organization {
                organization_id,
                user_id,
            } => Self::Organization {
                organization_id,
                user_id,
                key_id: key.id,
            },
        };
        state.keys.remember(&hash, caller, generation);
        Ok(caller)
    }
}

/// The key in an `Authorization` header: `Bearer <key>` or the bare key.
fn presented_key(req: &HttpRequest) -> Result<String, ApiError> {
    let missing =
        || ApiError::Unauthorized("an API key is required in the Authorization header".into());
    let value = single_header(req, "Authorization")?.ok_or_else(missing)?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is malformed".into()))?
        .trim();
    let key = match value.split_once(' ') {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("bearer")
                && rest
                    .trim()
                    .split_once(' ')
                    .is_some_and(|(again, _)| again.eq_ignore_ascii_case("bearer")) =>
        {
            // What Swagger UI sends when `Bearer <key>` is pasted into its Authorize dialog.
            return Err(ApiError::Unauthorized(
                "the Authorization header says `Bearer` twice: give the key alone (in Swagger UI's Authorize dialog, paste the key without `Bearer`)".into(),
            ));
        }
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => {
            return Err(ApiError::Unauthorized(
                "the Authorization header must be `Bearer <key>` or the key alone".into(),
            ));
        }
        None => value,
    };
    if key.is_empty() {
        return Err(missing());
    }
    Ok(key.to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let key = presented_key(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state is missing"))?;
            Caller::authenticate(&state, &key?).await
        })
    }
}
