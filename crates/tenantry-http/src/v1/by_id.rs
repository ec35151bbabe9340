//! The organization-by-id API: `GET` and `PATCH /v1/organizations/{id}`.
//!
//! In a `PATCH`, an absent field is left as it is; `null` clears a field that may be empty
//! (`logo`, `salesforce_code`, `contract_end_date`) and is a 422 for any other. The logo
//! (a data URL, possibly large) is in an answer only with `include_logo=true`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, patch, web};
use serde::{Deserialize, Serialize};
use tenantry_domain::{
    Logo, Modules, Organization, OrganizationChanges, OrganizationField, OrganizationName, Quota,
    SalesforceCode, limits,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::common::{
    Fields, ModuleValue, PlanValue, ReadProblems, WriteProblems, format_date, non_null, now,
    parse_date,
};
use crate::error::{ApiError, FieldError};
use crate::extract::{FieldCase, IfMatch, JsonBody, RequestBody};
use crate::limits::Limits;
use crate::ops::{apply_changes, authorize_changes, organization_not_found};
use crate::path::IdPath;
use crate::state::AppState;
use tenantry_domain::RateLimitCategory;

const TAG: &str = "organizations by id";

/// A body with a logo may be larger than most: a 1 MiB image in base64 and the rest.
pub(crate) const LOGO_BODY_LIMIT: usize = 2 * 1024 * 1024;

const QUOTA_MAX: i64 = limits::QUOTA_MAX as i64;

/// An organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationById {
    #[schema(example = "3c90c3cc-0d44-4b50-8888-8dd25736052a", read_only)]
    pub id: Uuid,
    #[schema(max_length = 255)]
    pub name: String,
    pub plan: PlanValue,
    #[schema(minimum = 0, maximum = 2147483647)]
    pub user_quota: u32,
    #[schema(minimum = 0, maximum = 2147483647)]
    pub workspace_quota: u32,
    #[schema(minimum = 0, maximum = 2147483647)]
    pub analysis_quota: u32,
    pub workspace_count: u64,
    #[schema(read_only)]
    pub modules: Vec<ModuleValue>,
    #[schema(minimum = 0, maximum = 2147483647, required = false)]
    pub asset_evaluation_quota: u32,
    #[schema(minimum = 0, maximum = 2147483647, required = false)]
    pub search_credits: u32,
    /// Binary content of the logo encoded in base64 with appropriate header ex:
    /// data:image/png;base64,XXXXXX. Present only with `include_logo=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub logo: Option<Option<String>>,
    /// SalesForce organization code
    #[schema(max_length = 50)]
    pub salesforce_code: Option<String>,
    /// Contract end date
    #[schema(value_type = Option<String>, format = Date)]
    pub contract_end_date: Option<String>,
    #[schema(required = false)]
    pub is_active: bool,
}

impl OrganizationById {
    fn new(org: &Organization, include_logo: bool) -> Self {
        Self {
            id: org.id.as_uuid(),
            name: org.name.to_string(),
            plan: org.plan.into(),
            user_quota: org.user_quota.get(),
            workspace_quota: org.workspace_quota.get(),
            analysis_quota: org.analysis_quota.get(),
            workspace_count: org.workspace_count,
            modules: org.modules.iter().map(ModuleValue::from).collect(),
            asset_evaluation_quota: org.asset_evaluation_quota.get(),
            search_credits: org.search_credits.get(),
            logo: include_logo.then(|| org.logo.as_ref().map(Logo::to_data_url)),
            salesforce_code: org.salesforce_code.as_ref().map(ToString::to_string),
            contract_end_date: org.contract_end_date.map(format_date),
            is_active: org.is_active,
        }
    }
}

/// The fields to change. Absent fields keep their value; `null` clears `logo`,
/// `salesforce_code` and `contract_end_date`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct PatchedOrganizationRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[validate(custom(function = "crate::common::checks::organization_name"))]
    #[schema(nullable = false, min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub plan: Option<PlanValue>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(range(min = 0, max = QUOTA_MAX))]
    #[schema(nullable = false, minimum = 0, maximum = 2147483647)]
    pub user_quota: Option<i64>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(range(min = 0, max = QUOTA_MAX))]
    #[schema(nullable = false, minimum = 0, maximum = 2147483647)]
    pub workspace_quota: Option<i64>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(range(min = 0, max = QUOTA_MAX))]
    #[schema(nullable = false, minimum = 0, maximum = 2147483647)]
    pub analysis_quota: Option<i64>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(range(min = 0, max = QUOTA_MAX))]
    #[schema(nullable = false, minimum = 0, maximum = 2147483647)]
    pub asset_evaluation_quota: Option<i64>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(range(min = 0, max = QUOTA_MAX))]
    #[schema(nullable = false, minimum = 0, maximum = 2147483647)]
    pub search_credits: Option<i64>,
    /// Binary content of the logo encoded in base64 with appropriate header ex:
    /// data:image/png;base64,XXXXXX (png, jpeg, gif or webp; at most 1 MiB decoded).
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub logo: Option<Option<String>>,
    /// Platform admin only.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[validate(custom(function = "crate::common::checks::salesforce_code"))]
    #[schema(max_length = 50)]
    pub salesforce_code: Option<Option<String>>,
    /// Platform admin only.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, format = Date)]
    pub contract_end_date: Option<Option<String>>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(length(min = 1))]
    #[schema(nullable = false, min_items = 1)]
    pub modules: Option<Vec<ModuleValue>>,
}

impl RequestBody for PatchedOrganizationRequest {
    const CASE: FieldCase = FieldCase::Snake;
}

/// Whether an answer carries the logo.
#[derive(Debug, Clone, Copy, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogoQuery {
    /// If set to true, include the logo field in the response. Defaults to false.
    #[param(default = false, value_type = Option<bool>)]
    include_logo: bool,
}

impl FromRequest for LogoQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map_err(|_| ApiError::BadRequest("the query string is malformed".into()))
            .and_then(|pairs| {
                let mut query = LogoQuery::default();
                let mut errors = Vec::new();
                for (name, value) in pairs {
                    match (name.as_str(), value.as_str()) {
                        ("include_logo", "true") => query.include_logo = true,
                        ("include_logo", "false") => query.include_logo = false,
                        ("include_logo", _) => {
                            errors.push(FieldError::new("include_logo", "must be true or false"))
                        }
                        (other, _) => {
                            errors.push(FieldError::new(other, "unknown query parameter"))
                        }
                    }
                }
                if errors.is_empty() {
                    Ok(query)
                } else {
                    Err(ApiError::Validation(errors))
                }
            });
        std::future::ready(result)
    }
}

fn respond(org: &Organization, query: LogoQuery) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, org.etag()))
        .json(OrganizationById::new(org, query.include_logo))
}

/// Get organization
///
/// Returns the organization with this id, to any of its members. The logo is included only
/// with `include_logo=true`.
#[utoipa::path(
    get,
    path = "/v1/organizations/{id}",
    tag = TAG,
    operation_id = "get_organization_by_id",
    params(
        IdPath,
        LogoQuery,
    ),
    responses(
        (status = 200, description = "The organization.", body = OrganizationById,
         headers(("ETag" = String, description = "The organization's version, for `If-Match`."))),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/v1/organizations/{id}")]
pub(super) async fn get_organization_by_id(
    caller: Caller,
    limits: Limits,
    IdPath(id): IdPath,
    query: LogoQuery,
) -> Result<HttpResponse, ApiError> {
    let (_, org) = limits
        .access_and_read(&caller, id, RateLimitCategory::Metadata)
        .await?;
    Ok(respond(&org, query))
}

/// Update organization
///
/// Changes the fields the body names. Owners and admins change `name` and `logo`; the plan,
/// quotas, modules, `salesforce_code`, `contract_end_date` and `is_active` are the platform
/// admin's (a request naming one from anyone else is a 403 listing them). With `If-Match`,
/// the change applies only to the version that ETag names (else 412).
#[utoipa::path(
    patch,
    path = "/v1/organizations/{id}",
    tag = TAG,
    operation_id = "update_organization_by_id",
    request_body = PatchedOrganizationRequest,
    params(
        IdPath,
        LogoQuery,
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^ *(\*|W/"[!#-+\--~]*"|"[!#-+\--~]*"|[0-9]{1,19}) *(, *(\*|W/"[!#-+\--~]*"|"[!#-+\--~]*"|[0-9]{1,19}) *)*$"#, description = "The ETag of the version this change is based on, or a comma-separated list of them (the change applies if the current version is one of them; a weak tag never matches), or `*`."),
    ),
    responses(
        (status = 200, description = "The updated organization.", body = OrganizationById,
         headers(("ETag" = String, description = "The organization's new version."))),
        WriteProblems,
    ),
    security(("bearer" = [])),
)]
#[patch("/v1/organizations/{id}")]
pub(super) async fn update_organization_by_id(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    IdPath(id): IdPath,
    query: LogoQuery,
    if_match: IfMatch,
    body: JsonBody<PatchedOrganizationRequest, LOGO_BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    // The organization as this process last changed it (`known_orgs.rs`), or as it is now.
    let remembered = limits
        .access_and_known(&caller, id, RateLimitCategory::Metadata)
        .await?;
    let read = match remembered {
        Some(_) => None,
        None => Some(
            limits
                .read_access(&caller, id, Some(RateLimitCategory::Metadata))
                .await?,
        ),
    };
    let request = body.0;
    let mut fields = Fields::default();
    let quota = |value: i64| Quota::parse(value);
    let changes = OrganizationChanges {
        name: fields.optional("name", request.name, OrganizationName::parse),
        plan: request.plan.map(Into::into),
        user_quota: fields.optional("user_quota", request.user_quota, quota),
        workspace_quota: fields.optional("workspace_quota", request.workspace_quota, quota),
        analysis_quota: fields.optional("analysis_quota", request.analysis_quota, quota),
        asset_evaluation_quota: fields.optional(
            "asset_evaluation_quota",
            request.asset_evaluation_quota,
            quota,
        ),
        search_credits: fields.optional("search_credits", request.search_credits, quota),
        logo: fields.nullable("logo", request.logo, |v| Logo::parse_data_url(&v)),
        salesforce_code: fields.nullable(
            "salesforce_code",
            request.salesforce_code,
            SalesforceCode::parse,
        ),
        contract_end_date: fields.nullable(
            "contract_end_date",
            request.contract_end_date,
            |v: String| parse_date(&v),
        ),
        is_active: request.is_active,
        modules: fields.optional("modules", request.modules, |m| {
            Modules::new(m.into_iter().map(Into::into))
        }),
        ..Default::default()
    };
    let changes = fields.finish(changes)?;
    let name = |f: OrganizationField| f.snake_name().to_owned();
    let user = caller.user_id();
    if let Some((access, known)) = remembered {
        // Only a change that would be written as remembered is tried so: anything else
        // (a refusal, a version to check, no change) is decided from a read.
        let org = &known.organization;
        let tried = !changes.is_empty()
            && authorize_changes(access, &changes, name).is_ok()
            && (!if_match.is_conditional() || if_match.single() == Some(org.version))
            && (access.is_platform_admin() || org.is_active);
        if tried {
            let written = state
                .store
                .update_organization_at(org, &changes, caller.actor(), now())
                .await;
            match written {
                Ok(Some(after)) => {
                    state.known.remember(&after, user, known.role);
                    return Ok(respond(&after, query));
                }
                // No longer as remembered: decided again from a read.
                Ok(None) => {}
                Err(error) => {
                    state.known.forget(id, user);
                    return Err(organization_not_found(error));
                }
            }
        }
        state
            .known
            .forget_before(id, user, org.version.saturating_add(1));
    }
    // Counted once: when the organization was remembered, the request already was.
    let (access, known, role) = match read {
        Some(read) => read,
        None => limits.read_access(&caller, id, None).await?,
    };
    authorize_changes(access, &changes, name)?;
    let written = apply_changes(
        &state,
        id,
        access,
        caller.actor(),
        &changes,
        &if_match,
        Some(&known),
    )
    .await;
    match &written {
        Ok(org) => state.known.remember(org, user, role),
        Err(_) => state.known.forget(id, user),
    }
    Ok(respond(&written?, query))
}
