//! Usage: credits consumed against the current billing cycle.

use actix_web::http::header;
use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use tenantry_domain::{OrganizationId, RateLimitCategory};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::common::{UsageProblems, non_null, now};
use crate::error::ApiError;
use crate::extract::{FieldCase, JsonBody, NoQuery, RequestBody, path_id};
use crate::ops::organization_not_found;
use crate::rate_limit::Limits;
use crate::state::AppState;

const TAG: &str = "usage";
/// The most credits one call records.
const CREDITS_MAX: i64 = tenantry_domain::limits::CREDITS_MAX;

/// The rate-limit category a usage call counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageCategory {
    Search,
    Upload,
    #[default]
    Compute,
}

impl From<UsageCategory> for RateLimitCategory {
    fn from(category: UsageCategory) -> Self {
        match category {
            UsageCategory::Search => Self::Search,
            UsageCategory::Upload => Self::Upload,
            UsageCategory::Compute => Self::Compute,
        }
    }
}

/// Credits to record.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordUsageRequest {
    /// How many credits this use consumes: a whole number above 0.
    #[validate(range(min = 1, max = CREDITS_MAX))]
    #[schema(minimum = 1, maximum = 1000000000000_i64, example = 25)]
    pub credits: i64,
    /// The rate-limit category the call counts in: `search`, `upload` or `compute` (the
    /// default).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub category: Option<UsageCategory>,
}

impl RequestBody for RecordUsageRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// The organization's credits after the usage.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub organization_id: Uuid,
    /// Credits left in the current billing cycle.
    #[schema(minimum = 0)]
    pub credit_count: u64,
    /// Credits used in the current billing cycle.
    #[schema(minimum = 0)]
    pub current_month_usage: u64,
    /// Credits used beyond the allocation in the current billing cycle.
    #[schema(minimum = 0)]
    pub overage: u64,
}

/// Record usage
///
/// Consumes credits from the organization's current billing cycle, atomically: within the
/// monthly allocation, and beyond it only while auto billing is on and the overage stays
/// within `maxOverages`. Otherwise the answer is 402 and nothing is recorded. A new billing
/// cycle (from `billing_cycle_start`) starts from zero. Any member may record usage.
#[utoipa::path(
    post,
    path = "/organization/{organization_id}/usage",
    tag = TAG,
    operation_id = "create_usage",
    request_body = RecordUsageRequest,
    params(("organization_id" = Uuid, Path, description = "Organization ID", example = "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e0f")),
    responses(
        (status = 200, description = "The usage was recorded.", body = UsageView,
         headers(("ETag" = String, description = "The organization's new version."))),
        UsageProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/organization/{organization_id}/usage")]
pub(super) async fn create_usage(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    path: web::Path<String>,
    _query: NoQuery,
    body: JsonBody<RecordUsageRequest>,
) -> Result<HttpResponse, ApiError> {
    let id: OrganizationId = path_id("organization_id", &path)?;
    let request = body.0;
    let category = request.category.unwrap_or_default().into();
    let (_, org) = limits.access_and_read(&caller, id, category).await?;
    let credits = u64::try_from(request.credits).unwrap_or(0);
    let now = now();
    let org = state
        .store
        .record_usage_from(&org, credits, &state.tiers, now)
        .await
        .map_err(organization_not_found)?;
    let today = now.date();
    let view = UsageView {
        organization_id: org.id.as_uuid(),
        credit_count: org.credit_count(&state.tiers, today),
        current_month_usage: org.current_month_usage(today),
        overage: org.overage(&state.tiers, today),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, org.etag()))
        .json(view))
}
