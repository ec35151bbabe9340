//! The entitlements check: what an organization may use now, in one read.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use tenantry_domain::{RateLimitCategory, RateLimits};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::common::{AccountTypeValue, ModuleValue, PlanValue, ReadProblems, now};
use crate::error::ApiError;
use crate::extract::NoQuery;
use crate::limits::Limits;
use crate::path::OrganizationIdPath;
use crate::state::AppState;

const TAG: &str = "entitlements";

/// A quota and how much of it is in use.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountedQuota {
    #[schema(minimum = 0, example = 25)]
    pub limit: u32,
    #[schema(minimum = 0, example = 3)]
    pub used: u64,
}

/// A quota whose use other services count.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaLimit {
    #[schema(minimum = 0, example = 100)]
    pub limit: u32,
}

/// Every quota of the organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotasView {
    /// Members, against the user quota.
    pub users: CountedQuota,
    pub workspaces: CountedQuota,
    pub analyses: QuotaLimit,
    pub asset_evaluations: QuotaLimit,
    pub search_credits: QuotaLimit,
}

/// The current billing cycle's credits.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditsView {
    #[schema(minimum = 0)]
    pub allocation: u64,
    #[schema(minimum = 0)]
    pub used: u64,
    #[schema(minimum = 0)]
    pub remaining: u64,
    /// The most credits that may be used beyond the allocation; `null` is no cap.
    pub max_overages: Option<u64>,
    /// Whether usage may go beyond the allocation (up to `maxOverages`).
    pub auto_billing_enabled: bool,
}

/// Requests per minute in force, by category.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RateLimitsView {
    pub metadata: u32,
    pub data: u32,
    pub search: u32,
    pub upload: u32,
    pub compute: u32,
}

impl From<RateLimits> for RateLimitsView {
    fn from(limits: RateLimits) -> Self {
        Self {
            metadata: limits.metadata,
            data: limits.data,
            search: limits.search,
            upload: limits.upload,
            compute: limits.compute,
        }
    }
}

/// What the organization may use now.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntitlementsView {
    pub organization_id: Uuid,
    /// An inactive organization records no usage and gains no members, workspaces or keys.
    pub active: bool,
    pub plan: PlanValue,
    pub account_type: AccountTypeValue,
    pub modules: Vec<ModuleValue>,
    pub quotas: QuotasView,
    pub credits: CreditsView,
    pub rate_limits: RateLimitsView,
}

/// Check entitlements
///
/// What the organization may use now, in one read: whether it is active, its plan and
/// tier, its modules, each quota (with the members and workspaces in use), the current
/// cycle's credits and the rate limits in force. Meant to be called on every request of a
/// product: the answer carries an `ETag`, and `If-None-Match` with it answers 304 while
/// nothing changed. Any member may read it.
#[utoipa::path(
    get,
    path = "/organization/{organization_id}/entitlements",
    tag = TAG,
    operation_id = "get_entitlements",
    params(
        OrganizationIdPath,
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of an earlier answer: 304 without a body while it is still current."),
    ),
    responses(
        (status = 200, description = "The organization's entitlements.", body = EntitlementsView,
         headers(("ETag" = String, description = "The organization's version."))),
        (status = 304, description = "Unchanged since the ETag sent in `If-None-Match`.",
         headers(("ETag" = String, description = "The organization's version."))),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/{organization_id}/entitlements")]
pub(super) async fn get_entitlements(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    req: HttpRequest,
    OrganizationIdPath(id): OrganizationIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let (_, org) = limits
        .access_and_read(&caller, id, RateLimitCategory::Metadata)
        .await?;
    let etag = org.etag();
    // The weak comparison of RFC 9110 §13.1.2: `W/"3"` matches `"3"`, and `*` anything.
    let unchanged = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    if unchanged {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let tiers = &state.tiers;
    let today = now().date();
    let view = EntitlementsView {
        organization_id: org.id.as_uuid(),
        active: org.is_active,
        plan: org.plan.into(),
        account_type: org.account_type.into(),
        modules: org.modules.iter().map(Into::into).collect(),
        quotas: QuotasView {
            users: CountedQuota {
                limit: org.user_quota.get(),
                used: org.member_count,
            },
            workspaces: CountedQuota {
                limit: org.workspace_quota.get(),
                used: org.workspace_count,
            },
            analyses: QuotaLimit {
                limit: org.analysis_quota.get(),
            },
            asset_evaluations: QuotaLimit {
                limit: org.asset_evaluation_quota.get(),
            },
            search_credits: QuotaLimit {
                limit: org.search_credits.get(),
            },
        },
        credits: CreditsView {
            allocation: org.monthly_allocation(tiers),
            used: org.current_month_usage(today),
            remaining: org.credit_count(tiers, today),
            max_overages: org.max_overages,
            auto_billing_enabled: org.auto_billing_enabled,
        },
        rate_limits: org.rate_limits(tiers).into(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .json(view))
}
