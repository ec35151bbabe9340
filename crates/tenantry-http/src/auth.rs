//! Who is calling: the API key in `Authorization` (`Bearer <key>` or the bare key) resolved
//! to a caller, and what that caller may do in an organization.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use tenantry_domain::{Access, ApiKeyScope, KeyHash, OrganizationId};

pub use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::single_header;
use crate::state::AppState;

impl Caller {
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
