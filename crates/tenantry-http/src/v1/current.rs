//! The current-organization API: `GET` and `PATCH /v1/organizations`. The organization is
//! the one an organization-scoped key acts in, or the one `X-Organization-Id` names.
//!
//! In a `PATCH`, `null` leaves a field unchanged, exactly as absence does; `metadata`
//! replaces the whole object; `rate_limit_overrides` merges the categories it names over the
//! organization's current overrides.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenantry_domain::{
    Email, HttpUrl, LlmCredentials, Member, Metadata, Organization, OrganizationChanges,
    OrganizationField, OrganizationId, OrganizationName, RateLimits,
};
use tenantry_storage::PageRequest;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::common::{AccountTypeValue, Fields, ReadProblems, RoleValue, WriteProblems, now};
use crate::error::ApiError;
use crate::extract::{FieldCase, IfMatch, JsonBody, NoQuery, RequestBody, single_header};
use crate::limits::Limits;
use crate::ops::{apply_changes, authorize_changes, organization_not_found, read_organization};
use crate::state::AppState;
use tenantry_domain::RateLimitCategory;

const TAG: &str = "current organization";
/// The highest rate limit an override may set, in requests per minute.
pub(crate) const RATE_LIMIT_MAX: u32 = tenantry_domain::limits::RATE_LIMIT_MAX;
/// The most members the `users` list shows.
const USERS_MAX: u64 = 1000;
/// How often a change based on the current overrides is retried when another change wins.
const MERGE_ATTEMPTS: usize = 3;

/// Rate limits by operation type (requests per minute).
///
/// Five categories: `metadata` (configuration operations), `data` (objects and documents),
/// `search` (retrieval), `upload` (file uploads) and `compute` (batch processing). In a
/// response, the limits in force: the account tier's defaults with the organization's
/// overrides. In a request, the categories to override; the others keep their value.
#[derive(Debug, Clone, Default, Serialize, Validate, ToSchema)]
pub struct BaseRateLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[validate(range(max = RATE_LIMIT_MAX))]
    #[schema(nullable = false, default = 10, minimum = 0, maximum = 1000000)]
    pub metadata: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[validate(range(max = RATE_LIMIT_MAX))]
    #[schema(nullable = false, default = 10, minimum = 0, maximum = 1000000)]
    pub data: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[validate(range(max = RATE_LIMIT_MAX))]
    #[schema(nullable = false, default = 10, minimum = 0, maximum = 1000000)]
    pub search: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[validate(range(max = RATE_LIMIT_MAX))]
    #[schema(nullable = false, default = 10, minimum = 0, maximum = 1000000)]
    pub upload: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[validate(range(max = RATE_LIMIT_MAX))]
    #[schema(nullable = false, default = 10, minimum = 0, maximum = 1000000)]
    pub compute: Option<u32>,
}

/// Rate limits are read by hand rather than derived: a derived struct would also take a
/// JSON array (`[10, 20]`) as its fields in order, and a request must name its categories.
impl<'de> Deserialize<'de> for BaseRateLimits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = BaseRateLimits;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of requests per minute by category")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut limits = BaseRateLimits::default();
                while let Some(key) = map.next_key::<String>()? {
                    let slot = match key.as_str() {
                        "metadata" => &mut limits.metadata,
                        "data" => &mut limits.data,
                        "search" => &mut limits.search,
                        "upload" => &mut limits.upload,
                        "compute" => &mut limits.compute,
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<Limit>()?.0);
                }
                Ok(limits)
            }
        }

        /// One category's limit: a whole number, not null.
        struct Limit(u32);

        impl<'de> Deserialize<'de> for Limit {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = crate::common::non_null::<D, u32>(deserializer)?;
                Ok(Limit(value.expect("non_null answers a value")))
            }
        }

        deserializer.deserialize_map(Visitor)
    }
}

impl From<RateLimits> for BaseRateLimits {
    fn from(limits: RateLimits) -> Self {
        Self {
            metadata: Some(limits.metadata),
            data: Some(limits.data),
            search: Some(limits.search),
            upload: Some(limits.upload),
            compute: Some(limits.compute),
        }
    }
}

/// Partial update payload for organization metadata. `null` leaves a field unchanged.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct OrganizationUpdate {
    /// Updated display name for the organization.
    #[serde(default)]
    #[validate(custom(function = "crate::common::checks::organization_name"))]
    #[schema(min_length = 1, max_length = 255)]
    pub organization_name: Option<String>,
    /// Updated organization logo URL (e.g., custom logo to override auto-generated logo).
    #[serde(default)]
    #[validate(custom(function = "crate::common::checks::http_url"))]
    #[schema(min_length = 1, max_length = 2048)]
    pub logo_url: Option<String>,
    /// Updated billing contact email.
    #[serde(default)]
    #[validate(custom(function = "crate::common::checks::email"))]
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub billing_email: Option<String>,
    /// Set the opt-in single address that receives alert/system notifications (absent or
    /// `null` leaves it unchanged).
    #[serde(default)]
    #[validate(custom(function = "crate::common::checks::email"))]
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub notifications_email: Option<String>,
    /// Replace metadata with provided dictionary when set (at most 64 keys and 16 KiB).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// Per-org rate-limit overrides (merged on top of tier defaults). Platform admin only.
    #[serde(default)]
    #[validate(nested)]
    pub rate_limit_overrides: Option<BaseRateLimits>,
    /// Map of provider names to secret names for org-wide LLM credentials.
    #[serde(default)]
    pub default_llm_credentials: Option<BTreeMap<String, String>>,
    /// Toggle NSFW upload classification + hard-reject for this organization. Applies only
    /// to SHARED-plane tenants (infrastructure is None). None leaves the current setting
    /// unchanged.
    #[serde(default)]
    pub nsfw_check_enabled: Option<bool>,
    /// Toggle fail-closed behaviour for the NSFW gate (reject uploads when the classifier
    /// is unavailable instead of allowing them). None leaves the current setting unchanged.
    #[serde(default)]
    pub nsfw_fail_closed: Option<bool>,
}

impl RequestBody for OrganizationUpdate {
    const CASE: FieldCase = FieldCase::Snake;
}

/// A member of the organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationUser {
    pub user_id: Uuid,
    #[schema(format = Email)]
    pub email: String,
    pub name: String,
    pub role: RoleValue,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

impl From<&Member> for OrganizationUser {
    fn from(member: &Member) -> Self {
        Self {
            user_id: member.user.id.as_uuid(),
            email: member.user.email.to_string(),
            name: member.user.name.to_string(),
            role: member.role.into(),
            joined_at: member.joined_at,
        }
    }
}

/// Response model for organization endpoints.
///
/// The organization is named by its public id only (`organization_id`, a UUID); the
/// database's own key never leaves the server.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationModel {
    #[schema(example = "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e0f")]
    pub organization_id: String,
    pub organization_name: String,
    /// Account tier with monthly credit allocations. Tiers: FREE: 1,000 credits/month; PRO:
    /// 100,000 credits/month; TEAM: 1,000,000 credits/month; ENTERPRISE: custom credits.
    pub account_type: AccountTypeValue,
    /// Credits left in the current billing cycle.
    pub credit_count: u64,
    pub rate_limits: BaseRateLimits,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub logo_url: Option<String>,
    #[schema(value_type = Object, required = false)]
    pub metadata: Map<String, Value>,
    #[schema(format = Email)]
    pub billing_email: Option<String>,
    #[schema(format = Email)]
    pub notifications_email: Option<String>,
    #[schema(default = false, required = false)]
    pub auto_billing_enabled: bool,
    #[schema(default = 1, minimum = 1, maximum = 28, required = false)]
    pub billing_cycle_start: u8,
    /// Credits used in the current billing cycle.
    #[schema(default = 0, required = false)]
    pub current_month_usage: u64,

    pub users: Option<Vec<OrganizationUser>>,
    pub auth_provider_org_id: Option<String>,
    #[schema(required = false)]
    pub default_llm_credentials: BTreeMap<String, String>,
    pub api_url: Option<String>,
}

impl OrganizationModel {
    fn new(org: &Organization, members: &[Member], state: &AppState) -> Self {
        let today = now().date();
        Self {
            organization_id: org.id.to_string(),
            organization_name: org.name.to_string(),
            account_type: org.account_type.into(),
            credit_count: org.credit_count(&state.tiers, today),
            rate_limits: org.rate_limits(&state.tiers).into(),
            created_at: org.created_at,
            updated_at: org.updated_at,
            logo_url: org.logo_url.as_ref().map(ToString::to_string),
            metadata: org.metadata.as_map().clone(),
            billing_email: org.billing_email.as_ref().map(ToString::to_string),
            notifications_email: org.notifications_email.as_ref().map(ToString::to_string),
            auto_billing_enabled: org.auto_billing_enabled,
            billing_cycle_start: org.billing_cycle_start.get(),
            current_month_usage: org.current_month_usage(today),
            users: Some(members.iter().map(OrganizationUser::from).collect()),
            auth_provider_org_id: org.auth_provider_org_id.as_ref().map(ToString::to_string),
            default_llm_credentials: org
                .default_llm_credentials
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            api_url: org
                .api_url
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| state.public_url.clone()),
        }
    }
}

/// How this API names an organization's fields.
fn field_name(field: OrganizationField) -> String {
    match field {
        OrganizationField::Name => "organization_name".to_owned(),
        other => other.snake_name().to_owned(),
    }
}

/// The organization the caller acts in: its organization-scoped key's, or the one
/// `X-Organization-Id` names.
fn current_organization(caller: &Caller, req: &HttpRequest) -> Result<OrganizationId, ApiError> {
    match (single_header(req, "X-Organization-Id")?, caller) {
        (Some(value), _) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<Uuid>().ok())
            .map(OrganizationId::from_uuid)
            .ok_or_else(|| ApiError::validation("X-Organization-Id", "must be an organization's id (a UUID)")),
        (None, Caller::Organization { organization_id, .. }) => Ok(*organization_id),
        (None, _) => Err(ApiError::BadRequest(
            "the X-Organization-Id header is required: this API key is not scoped to one organization, so name the organization in X-Organization-Id".into(),
        )),
    }
}

async fn respond(state: &AppState, org: &Organization) -> Result<HttpResponse, ApiError> {
    let members = state
        .store
        .list_members(
            org.id,
            PageRequest {
                after: None,
                limit: USERS_MAX,
            },
        )
        .await
        .map_err(organization_not_found)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, org.etag()))
        .json(OrganizationModel::new(org, &members.items, state)))
}

/// Get Organization
///
/// Returns the caller's organization: the one its organization-scoped key acts in, or the
/// one the `X-Organization-Id` header names. `rate_limits` are the limits in force (the
/// account tier's defaults with the organization's overrides) and `users` its members.
#[utoipa::path(
    get,
    path = "/v1/organizations",
    tag = TAG,
    operation_id = "get_current_organization",
    params(("X-Organization-Id" = Option<String>, Header, nullable = false, format = Uuid, description = "The organization, for keys not scoped to one.")),
    responses(
        (status = 200, description = "Successful Response", body = OrganizationModel,
         headers(("ETag" = String, description = "The organization's version, for `If-Match`."))),
        (status = 400, description = "No organization named: send X-Organization-Id.", body = crate::error::Problem, content_type = "application/problem+json"),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/v1/organizations")]
pub(super) async fn get_current_organization(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    req: HttpRequest,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let id = current_organization(&caller, &req)?;
    let (_, org) = limits
        .access_and_read(&caller, id, RateLimitCategory::Metadata)
        .await?;
    respond(&state, &org).await
}

/// Update Organization
///
/// Changes the caller's organization. `null` and absence both leave a field unchanged;
/// `metadata` replaces the whole object; `rate_limit_overrides` sets the categories it names
/// (platform admin only). The NSFW settings apply only to organizations on the shared plane
/// (409 for one on dedicated infrastructure). With `If-Match`, the change applies only to
/// the version that ETag names (else 412).
#[utoipa::path(
    patch,
    path = "/v1/organizations",
    tag = TAG,
    operation_id = "update_current_organization",
    request_body = OrganizationUpdate,
    params(
        ("X-Organization-Id" = Option<String>, Header, nullable = false, format = Uuid, description = "The organization, for keys not scoped to one."),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^ *(\*|W/"[!#-+\--~]*"|"[!#-+\--~]*"|[0-9]{1,19}) *(, *(\*|W/"[!#-+\--~]*"|"[!#-+\--~]*"|[0-9]{1,19}) *)*$"#, description = "The ETag of the version this change is based on, or a comma-separated list of them (the change applies if the current version is one of them; a weak tag never matches), or `*`."),
    ),
    responses(
        (status = 200, description = "Successful Response", body = OrganizationModel,
         headers(("ETag" = String, description = "The organization's new version."))),
        WriteProblems,
    ),
    security(("bearer" = [])),
)]
#[patch("/v1/organizations")]
pub(super) async fn update_current_organization(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    req: HttpRequest,
    if_match: IfMatch,
    _query: NoQuery,
    body: JsonBody<OrganizationUpdate>,
) -> Result<HttpResponse, ApiError> {
    let id = current_organization(&caller, &req)?;
    let access = limits
        .access(&caller, id, RateLimitCategory::Metadata)
        .await?;
    let request = body.0;
    let mut fields = Fields::default();
    let mut changes = OrganizationChanges {
        name: fields.optional(
            "organization_name",
            request.organization_name,
            OrganizationName::parse,
        ),
        logo_url: fields
            .optional("logo_url", request.logo_url, HttpUrl::parse)
            .map(Some),
        billing_email: fields
            .optional("billing_email", request.billing_email, Email::parse)
            .map(Some),
        notifications_email: fields
            .optional(
                "notifications_email",
                request.notifications_email,
                Email::parse,
            )
            .map(Some),
        metadata: fields.optional("metadata", request.metadata, Metadata::from_map),
        default_llm_credentials: fields.optional(
            "default_llm_credentials",
            request.default_llm_credentials,
            LlmCredentials::parse,
        ),
        nsfw_check_enabled: request.nsfw_check_enabled,
        nsfw_fail_closed: request.nsfw_fail_closed,
        ..Default::default()
    };
    let overrides = request.rate_limit_overrides;
    if overrides.is_some() {
        // Named here so the authorization below sees it; the value is merged per attempt.
        changes.rate_limit_overrides = Some(Default::default());
    }
    let mut changes = fields.finish(changes)?;
    authorize_changes(access, &changes, field_name)?;

    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = read_organization(&state, id).await?;
        let nsfw = changes.nsfw_check_enabled.is_some() || changes.nsfw_fail_closed.is_some();
        if nsfw && !current.is_on_shared_plane() {
            return Err(ApiError::Conflict(
                "the NSFW settings apply only to organizations on the shared plane; this organization runs on dedicated infrastructure".into(),
            ));
        }
        // The merge is applied to the version it was made from: the one `If-Match` names
        // (checked now), else the one just read.
        let expected = match if_match.version_for(current.version)? {
            Some(version) => IfMatch::single_version(version),
            None if overrides.is_some() => IfMatch::single_version(current.version),
            None => IfMatch::ANY,
        };
        if let Some(body) = &overrides {
            let mut merged = current.rate_limit_overrides;
            merged.metadata = body.metadata.or(merged.metadata);
            merged.data = body.data.or(merged.data);
            merged.search = body.search.or(merged.search);
            merged.upload = body.upload.or(merged.upload);
            merged.compute = body.compute.or(merged.compute);
            changes.rate_limit_overrides = Some(merged);
        }
        match apply_changes(
            &state,
            id,
            access,
            caller.actor(),
            &changes,
            &expected,
            Some(&current),
        )
        .await
        {
            Err(ApiError::PreconditionFailed)
                if !if_match.is_conditional() && attempt < MERGE_ATTEMPTS =>
            {
                continue;
            }
            Err(ApiError::PreconditionFailed) if !if_match.is_conditional() => {
                return Err(ApiError::Conflict(
                    "the organization kept changing while this change was applied; retry it".into(),
                ));
            }
            result => {
                let org = result?;
                return respond(&state, &org).await;
            }
        }
    }
}
