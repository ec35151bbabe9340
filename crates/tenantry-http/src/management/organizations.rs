//! Organizations in the management API.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use tenantry_domain::{
    Access, BillingCycleDay, DomainName, HttpUrl, KeyHash, NewOrganization, Organization,
    OrganizationChanges, OrganizationName,
};
use tenantry_storage::{Created, IdempotencyRecord, PageRequest, StoredResponse};

use super::views::*;
use crate::auth::Caller;
use crate::common::{
    CreateProblems, DeleteProblems, Fields, ListProblems, ReadProblems, WriteProblems, now,
};
use crate::error::{ApiError, FieldError};
use crate::extract::{
    FieldCase, IfMatch, JsonBody, NoQuery, Paging, idempotency_key, replay_response,
    request_fingerprint,
};
use crate::limits::Limits;
use crate::ops::{apply_changes, authorize_changes, organization_not_found};
use crate::path::OrganizationIdPath;
use crate::state::AppState;
use tenantry_domain::RateLimitCategory;

const TAG: &str = "organizations";

/// The most members an organization's detail lists.
const DETAIL_MEMBERS_MAX: u64 = 1000;

/// Create an organization
///
/// Creates an organization with the calling user as its only owner. The platform admin
/// creates one for another user with `ownerUserId`. With an `Idempotency-Key` header, a
/// retry of the same request answers as the first did and creates nothing more.
#[utoipa::path(
    post,
    path = "/organization",
    tag = TAG,
    operation_id = "create_organization",
    request_body = CreateOrganizationRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]{1,255}$", description = "Makes retries of this request safe: the same key answers as the first request did.", max_length = 255),
    ),
    responses(
        (status = 201, description = "The organization was created.", body = OrganizationView,
         headers(("ETag" = String, description = "The organization's version."), ("Location" = String, description = "The organization's URL."))),
        CreateProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/organization")]
pub(super) async fn create_organization(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    req: HttpRequest,
    _query: NoQuery,
    body: JsonBody<CreateOrganizationRequest>,
) -> Result<HttpResponse, ApiError> {
    limits.key(&caller).await?;
    let request = body.0;
    let idempotency_key = idempotency_key(&req)?;
    let owner = match (caller, request.owner_user_id) {
        (Caller::PlatformAdmin { .. }, Some(owner)) => owner.into(),
        (Caller::PlatformAdmin { .. }, None) => {
            return Err(ApiError::validation(
                "ownerUserId",
                "is required when the platform admin creates an organization",
            ));
        }
        (Caller::User { user_id, .. }, None) => user_id,
        (Caller::User { user_id, .. }, Some(owner)) if owner == user_id.as_uuid() => user_id,
        (Caller::User { .. }, Some(_)) => {
            return Err(ApiError::Forbidden {
                detail: "only the platform admin may create an organization for another user"
                    .into(),
                fields: vec![FieldError::new(
                    "ownerUserId",
                    "only the platform admin may set this field",
                )],
            });
        }
        (Caller::Organization { .. }, _) => {
            return Err(ApiError::Forbidden {
                detail: "an organization-scoped key cannot create organizations".into(),
                fields: Vec::new(),
            });
        }
    };
    let mut fields = Fields::default();
    let name = fields.check(
        "organizationName",
        OrganizationName::parse(request.organization_name),
    );
    let domain = fields.optional("domain", request.domain, DomainName::parse);
    let name = fields.finish(name)?.expect("checked above");
    let now = now();
    let mut org = Organization::new(NewOrganization { name, domain }, now);
    org.member_count = 1;
    let view = OrganizationView::new(&org, &state.tiers, now);
    let body = serde_json::to_string(&view).map_err(ApiError::internal)?;
    let headers = vec![
        (
            header::LOCATION.to_string(),
            format!("/organization/{}", org.id),
        ),
        (header::ETAG.to_string(), org.etag()),
    ];
    let record = idempotency_key.map(|key| IdempotencyRecord {
        scope: caller.scope_key(),
        key,
        request_hash: request_fingerprint(&req),
        response: StoredResponse {
            status: 201,
            headers: headers.clone(),
            body: body.clone(),
        },
    });
    match state
        .store
        .create_organization(&org, owner, record.as_ref(), caller.actor())
        .await
        // The owner is the one thing the store looks up that may be missing.
        .map_err(|e| match e {
            tenantry_storage::StoreError::NotFound => {
                ApiError::referenced_not_found("ownerUserId", "no user has this id")
            }
            other => other.into(),
        })? {
        Created::New => {
            let mut response = HttpResponse::Created();
            for header in headers {
                response.insert_header(header);
            }
            Ok(response.content_type("application/json").body(body))
        }
        Created::Replayed(replay) => {
            let record = record.expect("a replay needs a record");
            replay_response(replay, &record.request_hash)
        }
    }
}

/// List organizations
///
/// Returns the organizations the caller belongs to (all of them for the platform admin; the
/// one an organization-scoped key acts in), in a stable order, a page at a time. The next
/// page, if any, is announced in a `Link: <…>; rel="next"` header.
#[utoipa::path(
    get,
    path = "/organization/list",
    tag = TAG,
    operation_id = "list_organizations",
    params(Paging),
    responses(
        (status = 200, description = "A page of organizations.", body = Vec<OrganizationView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        ListProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/list")]
pub(super) async fn list_organizations(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    limits.key(&caller).await?;
    let now = now();
    let page = match caller {
        Caller::PlatformAdmin { .. } => state.store.list_organizations(None, paging.page()).await?,
        Caller::User { user_id, .. } => {
            state
                .store
                .list_organizations(Some(user_id), paging.page())
                .await?
        }
        Caller::Organization {
            organization_id, ..
        } => {
            let visible = caller.access_to(&state, organization_id).await.is_ok()
                && paging
                    .cursor
                    .is_none_or(|after| after < organization_id.as_uuid());
            let items = if visible {
                vec![state.store.organization(organization_id).await?]
            } else {
                Vec::new()
            };
            tenantry_storage::Page { items, next: None }
        }
    };
    let views: Vec<OrganizationView> = page
        .items
        .iter()
        .map(|org| OrganizationView::new(org, &state.tiers, now))
        .collect();
    Ok(paging.respond("/organization/list", page.next, views))
}

/// Get an organization
///
/// Returns the organization with its members. Any member may read it; to anyone else it
/// does not exist (404).
#[utoipa::path(
    get,
    path = "/organization/{organization_id}",
    tag = TAG,
    operation_id = "get_organization",
    params(OrganizationIdPath),
    responses(
        (status = 200, description = "The organization.", body = OrganizationDetailView,
         headers(("ETag" = String, description = "The organization's version, for `If-Match`."))),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/{organization_id}")]
pub(super) async fn get_organization(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(id): OrganizationIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let (_, org) = limits
        .access_and_read(&caller, id, RateLimitCategory::Metadata)
        .await?;
    detail_response(&state, &org, HttpResponse::Ok()).await
}

/// Answers with the organization and its members, and its ETag.
pub(super) async fn detail_response(
    state: &AppState,
    org: &Organization,
    mut response: actix_web::HttpResponseBuilder,
) -> Result<HttpResponse, ApiError> {
    let members = state
        .store
        .list_members(
            org.id,
            PageRequest {
                after: None,
                limit: DETAIL_MEMBERS_MAX,
            },
        )
        .await?;
    let view = OrganizationDetailView {
        organization: OrganizationView::new(org, &state.tiers, now()),
        members: members.items.iter().map(MemberView::from).collect(),
    };
    Ok(response
        .insert_header((header::ETAG, org.etag()))
        .json(view))
}

/// Update an organization
///
/// Changes the fields the body names and leaves the others as they are. Owners and admins
/// change the name, domain and logo URL; the commercial fields (`accountType`, `plan`,
/// `isActive`, `autoBillingEnabled`, `creditAllocation`, `billingCycleStart`) are the
/// platform admin's. With `If-Match`, the change
/// applies only to the version that ETag names (else 412).
#[utoipa::path(
    put,
    path = "/organization/{organization_id}",
    tag = TAG,
    operation_id = "update_organization",
    request_body = UpdateOrganizationRequest,
    params(
        OrganizationIdPath,
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^ *(\*|W/"[!#-+\--~]*"|"[!#-+\--~]*"|[0-9]{1,19}) *(, *(\*|W/"[!#-+\--~]*"|"[!#-+\--~]*"|[0-9]{1,19}) *)*$"#, description = "The ETag of the version this change is based on, or a comma-separated list of them (the change applies if the current version is one of them; a weak tag never matches), or `*`."),
    ),
    responses(
        (status = 200, description = "The updated organization.", body = OrganizationView,
         headers(("ETag" = String, description = "The organization's new version."))),
        WriteProblems,
    ),
    security(("bearer" = [])),
)]
#[put("/organization/{organization_id}")]
pub(super) async fn update_organization(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(id): OrganizationIdPath,
    if_match: IfMatch,
    _query: NoQuery,
    body: JsonBody<UpdateOrganizationRequest>,
) -> Result<HttpResponse, ApiError> {
    // The organization as it is now: the write applies to this version unless another
    // change comes first.
    let (access, known) = limits
        .access_and_read(&caller, id, RateLimitCategory::Metadata)
        .await?;
    let request = body.0;
    let mut fields = Fields::default();
    // One or the other, as the document's schema says (`not: required [both]`).
    if request.name.is_some() && request.organization_name.is_some() {
        fields.push(
            "organizationName",
            "give the name as `name` or as `organizationName`, not both",
        );
    }
    let name = request.name.or(request.organization_name);
    let changes = OrganizationChanges {
        name: fields.optional("name", name, OrganizationName::parse),
        domain: fields.nullable("domain", request.domain, DomainName::parse),
        logo_url: fields.nullable("logoUrl", request.logo_url, HttpUrl::parse),
        account_type: request.account_type.map(Into::into),
        plan: request.plan.map(Into::into),
        is_active: request.is_active,
        auto_billing_enabled: request.auto_billing_enabled,
        credit_allocation: request
            .credit_allocation
            .map(|a| a.map(|a| a.unsigned_abs())),
        billing_cycle_start: fields.optional(
            "billingCycleStart",
            request.billing_cycle_start,
            BillingCycleDay::parse,
        ),
        ..Default::default()
    };
    let changes = fields.finish(changes)?;
    authorize_changes(access, &changes, |f| FieldCase::Camel.name(f.snake_name()))?;
    let org = apply_changes(
        &state,
        id,
        access,
        caller.actor(),
        &changes,
        &if_match,
        Some(&known),
    )
    .await?;
    let view = OrganizationView::new(&org, &state.tiers, now());
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, org.etag()))
        .json(view))
}

/// Delete an organization
///
/// Deletes the organization with its memberships and keys. Only its owners and the
/// platform admin may.
#[utoipa::path(
    delete,
    path = "/organization/{organization_id}",
    tag = TAG,
    operation_id = "delete_organization",
    params(OrganizationIdPath),
    responses((status = 204, description = "The organization is gone."), DeleteProblems),
    security(("bearer" = [])),
)]
#[delete("/organization/{organization_id}")]
pub(super) async fn delete_organization(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(id): OrganizationIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let access = limits
        .access(&caller, id, RateLimitCategory::Metadata)
        .await?;
    if !matches!(
        access,
        Access::PlatformAdmin | Access::Member(tenantry_domain::Role::Owner)
    ) {
        return Err(ApiError::Forbidden {
            detail: "only the organization's owners may delete it".into(),
            fields: Vec::new(),
        });
    }
    state
        .store
        .delete_organization(id, caller.actor(), now())
        .await
        .map_err(organization_not_found)?;
    // Its organization-scoped keys went with it.
    state.keys.forget_all();
    Ok(HttpResponse::NoContent().finish())
}

/// Set the max overage limit
///
/// Sets how many credits the organization may use beyond its monthly allocation while auto
/// billing is on: a whole number of credits, or `null` for no cap. Owners and admins may.
#[utoipa::path(
    patch,
    path = "/organization/{organization_id}/max-overages",
    tag = TAG,
    operation_id = "set_max_overages",
    request_body = SetMaxOveragesRequest,
    params(
        OrganizationIdPath,
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^ *(\*|W/"[!#-+\--~]*"|"[!#-+\--~]*"|[0-9]{1,19}) *(, *(\*|W/"[!#-+\--~]*"|"[!#-+\--~]*"|[0-9]{1,19}) *)*$"#, description = "The ETag of the version this change is based on, or a comma-separated list of them (the change applies if the current version is one of them; a weak tag never matches), or `*`."),
    ),
    responses(
        (status = 200, description = "The overage configuration.", body = MaxOveragesView,
         headers(("ETag" = String, description = "The organization's new version."))),
        WriteProblems,
    ),
    security(("bearer" = [])),
)]
#[patch("/organization/{organization_id}/max-overages")]
pub(super) async fn set_max_overages(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(id): OrganizationIdPath,
    if_match: IfMatch,
    _query: NoQuery,
    body: JsonBody<SetMaxOveragesRequest>,
) -> Result<HttpResponse, ApiError> {
    let (access, known) = limits
        .access_and_read(&caller, id, RateLimitCategory::Metadata)
        .await?;
    let Some(max_overages) = body.0.max_overages else {
        return Err(ApiError::validation(
            "maxOverages",
            "is required (a whole number of credits, or null for no cap)",
        ));
    };
    let changes = OrganizationChanges {
        max_overages: Some(max_overages.map(|v| v.unsigned_abs())),
        ..Default::default()
    };
    authorize_changes(access, &changes, |f| FieldCase::Camel.name(f.snake_name()))?;
    let org = apply_changes(
        &state,
        id,
        access,
        caller.actor(),
        &changes,
        &if_match,
        Some(&known),
    )
    .await?;
    let now = now();
    let view = MaxOveragesView {
        organization_id: org.id.as_uuid(),
        max_overages: org.max_overages,
        auto_billing_enabled: org.auto_billing_enabled,
        credit_count: org.credit_count(&state.tiers, now.date()),
        current_month_usage: org.current_month_usage(now.date()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, org.etag()))
        .json(view))
}

/// Get the organization's logo
///
/// Serves the logo as the image itself, with its content type and an ETag of its bytes
/// (`If-None-Match` answers 304). Any member may read it; 404 when there is none.
#[utoipa::path(
    get,
    path = "/organization/{organization_id}/logo",
    tag = TAG,
    operation_id = "get_organization_logo",
    params(
        OrganizationIdPath,
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of a copy the client holds."),
    ),
    responses(
        (status = 200, description = "The logo.",
         content((Image = "image/png"), (Image = "image/jpeg"), (Image = "image/gif"), (Image = "image/webp")),
         headers(("ETag" = String, description = "The image's hash."))),
        (status = 304, description = "The client's copy is current."),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/{organization_id}/logo")]
pub(super) async fn get_organization_logo(
    caller: Caller,
    limits: Limits,
    req: HttpRequest,
    OrganizationIdPath(id): OrganizationIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let (_, org) = limits
        .access_and_read(&caller, id, RateLimitCategory::Metadata)
        .await?;
    let logo = org
        .logo
        .ok_or_else(|| ApiError::NotFound("the organization has no logo".into()))?;
    let etag = format!("\"{}\"", &KeyHash::of_bytes(logo.bytes()).as_str()[..32]);
    let current = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if current {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .content_type(logo.image_type().content_type())
        .body(logo.into_bytes()))
}
