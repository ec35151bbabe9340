//! The `Limits` extractor: what a caller may do in an organization, after counting the
//! request against the organization's rate limit (the counters are `rate_limit.rs`'s).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use tenantry_domain::{
    Access, AccountType, Organization, OrganizationId, RateLimitCategory, RateLimitOverrides, Role,
};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::known_orgs::Known;
use crate::ops::{organization_not_found, read_organization};
use crate::state::AppState;

/// Counts the request against its limit and remembers the outcome for the answer's
/// headers; a request over its limit is a 429.
#[derive(Debug)]
pub struct Limits {
    req: HttpRequest,
    state: web::Data<AppState>,
}

impl Limits {
    /// What `caller` may do in `org`, after counting the request in `category` against the
    /// organization's limit (its tier's default, or its override).
    pub async fn access(
        &self,
        caller: &Caller,
        org: OrganizationId,
        category: RateLimitCategory,
    ) -> Result<Access, ApiError> {
        if caller.is_platform_admin() || !caller.may_see(org) {
            return caller.access_given(org, None);
        }
        // The caller's role and the organization's limits, in one query.
        let (role, tier, overrides) = self
            .state
            .store
            .organization_access(org, caller.user_id())
            .await
            .map_err(organization_not_found)?;
        let access = caller.access_given(org, role)?;
        self.count_in(org, tier, &overrides, category).await?;
        Ok(access)
    }

    /// As [`Limits::access`], answering the organization too, read in the same query as the
    /// caller's role: for a handler that needs the whole organization anyway.
    pub async fn access_and_read(
        &self,
        caller: &Caller,
        id: OrganizationId,
        category: RateLimitCategory,
    ) -> Result<(Access, Organization), ApiError> {
        let (access, org, _) = self.read_access(caller, id, Some(category)).await?;
        Ok((access, org))
    }

    /// What `caller` may do in `id`, the organization, and the caller's role there, read in
    /// one query; the request is counted in `category` (if any) against its limit.
    pub async fn read_access(
        &self,
        caller: &Caller,
        id: OrganizationId,
        category: Option<RateLimitCategory>,
    ) -> Result<(Access, Organization, Option<Role>), ApiError> {
        if caller.is_platform_admin() || !caller.may_see(id) {
            let access = caller.access_given(id, None)?;
            return Ok((access, read_organization(&self.state, id).await?, None));
        }
        let (org, role) = self
            .state
            .store
            .organization_with_role(id, caller.user_id())
            .await
            .map_err(organization_not_found)?;
        let access = caller.access_given(id, role)?;
        if let Some(category) = category {
            self.count_in(id, org.account_type, &org.rate_limit_overrides, category)
                .await?;
        }
        Ok((access, org, role))
    }

    /// As [`Limits::access_and_read`], from the organization as this process last changed it
    /// as this caller's user, and their role there (`known_orgs.rs`), rather than a read;
    /// `None` if it is not remembered. A change made from it applies only at its version;
    /// one that does not is decided again by [`Limits::read_access`], uncounted.
    pub async fn access_and_known(
        &self,
        caller: &Caller,
        id: OrganizationId,
        category: RateLimitCategory,
    ) -> Result<Option<(Access, Known)>, ApiError> {
        if !caller.is_platform_admin() && !caller.may_see(id) {
            return caller.access_given(id, None).map(|_| None);
        }
        let Some(known) = self.state.known.get(id, caller.user_id()) else {
            return Ok(None);
        };
        let access = caller.access_given(id, known.role)?;
        if !caller.is_platform_admin() {
            let org = &known.organization;
            self.count_in(id, org.account_type, &org.rate_limit_overrides, category)
                .await?;
        }
        Ok(Some((access, known)))
    }

    /// Counts the request against the organization's limit in `category`: its override, or
    /// its tier's default.
    async fn count_in(
        &self,
        org: OrganizationId,
        tier: AccountType,
        overrides: &RateLimitOverrides,
        category: RateLimitCategory,
    ) -> Result<(), ApiError> {
        let limit = overrides
            .get(category)
            .unwrap_or(self.state.tiers.get(tier).rate_limits.get(category));
        let key = format!("org:{org}:{}", category.as_str());
        self.count(&key, limit).await
    }

    /// Counts a request that names no organization against the calling key's limit.
    pub async fn key(&self, caller: &Caller) -> Result<(), ApiError> {
        let key = match caller {
            Caller::PlatformAdmin { .. } => return Ok(()),
            Caller::User { key_id, .. } | Caller::Organization { key_id, .. } => {
                format!("key:{key_id}")
            }
        };
        self.count(&key, self.state.key_rate_limit).await
    }

    async fn count(&self, key: &str, limit: u32) -> Result<(), ApiError> {
        let status = self.state.limiter.hit(key, limit).await;
        // `org:<id>:<category>` or `key:<id>`: the label is the category, never the id.
        let category = match key.rsplit_once(':') {
            Some((rest, category)) if rest.starts_with("org:") => category,
            _ => "key",
        };
        crate::metrics::rate_limit(category, status.allowed);
        self.req.extensions_mut().insert(status);
        if status.allowed {
            Ok(())
        } else {
            Err(ApiError::RateLimited {
                retry_after: status.retry_after,
            })
        }
    }
}

impl FromRequest for Limits {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.app_data::<web::Data<AppState>>()
                .cloned()
                .map(|state| Limits {
                    req: req.clone(),
                    state,
                })
                .ok_or_else(|| ApiError::internal("application state is missing")),
        )
    }
}
