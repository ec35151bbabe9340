//! Usage: credits consumed against the current billing cycle.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use tenantry_domain::{Organization, UsageEntry};
use tenantry_storage::{NewUsage, Recorded, StoredResponse};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::common::{UsageProblems, non_null, now};
use crate::error::ApiError;
use crate::extract::{
    FieldCase, JsonBody, NoQuery, RequestBody, idempotency_key, replay_response,
    request_fingerprint,
};
use crate::limits::Limits;
use crate::ops::organization_not_found;
use crate::path::OrganizationIdPath;
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

impl From<UsageCategory> for tenantry_domain::UsageCategory {
    fn from(category: UsageCategory) -> Self {
        match category {
            UsageCategory::Search => Self::Search,
            UsageCategory::Upload => Self::Upload,
            UsageCategory::Compute => Self::Compute,
        }
    }
}

impl From<tenantry_domain::UsageCategory> for UsageCategory {
    fn from(category: tenantry_domain::UsageCategory) -> Self {
        match category {
            tenantry_domain::UsageCategory::Search => Self::Search,
            tenantry_domain::UsageCategory::Upload => Self::Upload,
            tenantry_domain::UsageCategory::Compute => Self::Compute,
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

/// The organization's credits after the usage, and the ledger entry that records it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub organization_id: Uuid,
    /// The ledger entry of this usage: what a refund names.
    pub entry_id: Uuid,
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

impl UsageView {
    fn new(
        org: &Organization,
        entry: &UsageEntry,
        tiers: &tenantry_domain::TierTable,
        now: time::OffsetDateTime,
    ) -> Self {
        let today = now.date();
        Self {
            organization_id: org.id.as_uuid(),
            entry_id: entry.id.as_uuid(),
            credit_count: org.credit_count(tiers, today),
            current_month_usage: org.current_month_usage(today),
            overage: org.overage(tiers, today),
        }
    }
}

/// Record usage
///
/// Consumes credits from the organization's current billing cycle, atomically: within the
/// monthly allocation, and beyond it only while auto billing is on and the overage stays
/// within `maxOverages`. Otherwise the answer is 402 and nothing is recorded. Each accepted
/// call appends one entry to the usage ledger, in the same transaction; with an
/// `Idempotency-Key`, a retry answers as the first call did and records nothing more. A new
/// billing cycle (from `billing_cycle_start`) starts from zero. An inactive organization
/// records no usage (409). Any member may record usage.
#[utoipa::path(
    post,
    path = "/organization/{organization_id}/usage",
    tag = TAG,
    operation_id = "create_usage",
    request_body = RecordUsageRequest,
    params(
        OrganizationIdPath,
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]{1,255}$", description = "Makes retries of this call safe: the same key with the same body answers as the first call did and records nothing more; with another body it is a 409. Scoped to the organization, kept 40 days.", max_length = 255),
    ),
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
    req: HttpRequest,
    OrganizationIdPath(id): OrganizationIdPath,
    _query: NoQuery,
    body: JsonBody<RecordUsageRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let idempotency = idempotency_key(&req)?;
    let category: tenantry_domain::UsageCategory = request.category.unwrap_or_default().into();
    let rate_limited = category.rate_limit_category();
    let usage = NewUsage {
        credits: u64::try_from(request.credits).unwrap_or(0),
        category,
        actor: caller.actor(),
        idempotency: idempotency.map(|key| (key, request_fingerprint(&req))),
    };
    let tiers = &state.tiers;
    let now = now();
    let user = caller.user_id();
    // The organization as this process last changed it (`known_orgs.rs`): the common call
    // is written from it, at its version, without a read.
    let remembered = match usage.idempotency {
        None => limits.access_and_known(&caller, id, rate_limited).await?,
        Some(_) => None,
    };
    let counted = remembered.is_some();
    if let Some((_, known)) = remembered {
        let written = state
            .store
            .record_usage_at(&known.organization, &usage, tiers, now)
            .await;
        match written {
            Ok(Some((organization, entry))) => {
                state.known.remember(&organization, user, known.role);
                crate::metrics::usage(category.as_str(), entry.credits.unsigned_abs());
                return Ok(HttpResponse::Ok()
                    .insert_header((header::ETAG, organization.etag()))
                    .json(UsageView::new(&organization, &entry, tiers, now)));
            }
            // Not as remembered, or not the common call: decided from a read.
            Ok(None) => {}
            Err(error) => {
                state.known.forget(id, user);
                return Err(organization_not_found(error));
            }
        }
        let tried = known.organization.version;
        state.known.forget_before(id, user, tried.saturating_add(1));
    }
    // Counted once: when the organization was remembered, the request already was.
    let (_, org, role) = limits
        .read_access(&caller, id, (!counted).then_some(rate_limited))
        .await?;
    let recorded = state
        .store
        .record_usage(&org, &usage, tiers, now, |org, entry| StoredResponse {
            status: 200,
            headers: vec![(header::ETAG.to_string(), org.etag())],
            body: serde_json::to_string(&UsageView::new(org, entry, tiers, now))
                .unwrap_or_default(),
        })
        .await
        .map_err(|error| {
            use tenantry_domain::RuleViolation as R;
            match &error {
                tenantry_storage::StoreError::Rule(R::CreditsExhausted { .. }) => {
                    crate::metrics::usage_refused(category.as_str(), "credits");
                }
                tenantry_storage::StoreError::Rule(R::OrganizationInactive) => {
                    crate::metrics::usage_refused(category.as_str(), "inactive");
                }
                _ => {}
            }
            organization_not_found(error)
        })?;
    match recorded {
        Recorded::New {
            organization,
            entry,
        } => {
            // Remembered only if this call was the one write since the read: then the rest
            // of the row is as read, column for column.
            if organization.version == org.version + 1 {
                state.known.remember(&organization, user, role);
            } else {
                state.known.forget_before(id, user, organization.version);
            }
            crate::metrics::usage(category.as_str(), entry.credits.unsigned_abs());
            Ok(HttpResponse::Ok()
                .insert_header((header::ETAG, organization.etag()))
                .json(UsageView::new(&organization, &entry, tiers, now)))
        }
        Recorded::Replayed(replay) => {
            let hash = usage.idempotency.map(|(_, hash)| hash).unwrap_or_default();
            replay_response(replay, &hash)
        }
    }
}
