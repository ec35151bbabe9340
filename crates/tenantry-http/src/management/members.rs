//! Members of an organization.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use tenantry_domain::{Access, UserId};
use tenantry_storage::StoreError;

use super::organizations::detail_response;
use super::views::*;
use crate::auth::Caller;
use crate::common::{CreateProblems, DeleteProblems, ReadProblems, WriteProblems, now};
use crate::error::ApiError;
use crate::extract::{JsonBody, NoQuery, Paging};
use crate::limits::Limits;
use crate::ops::{organization_not_found, read_organization, require_active};
use crate::path::{OrganizationIdPath, UserIdPath};
use crate::state::AppState;
use tenantry_domain::RateLimitCategory;

const TAG: &str = "members";

fn member_not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("the member"),
        other => other.into(),
    }
}

/// Add a member
///
/// Adds a user to the organization with a role. Owners and admins may add members; only
/// owners may add an owner. Fails with 409 when the user is already a member or the
/// organization has reached its `user_quota`.
#[utoipa::path(
    post,
    path = "/organization/{organization_id}/member",
    tag = TAG,
    operation_id = "add_member",
    request_body = AddMemberRequest,
    params(OrganizationIdPath),
    responses(
        (status = 201, description = "The new member.", body = MemberView),
        CreateProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/organization/{organization_id}/member")]
pub(super) async fn add_member(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(org): OrganizationIdPath,
    _query: NoQuery,
    body: JsonBody<AddMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let access = limits.access(&caller, org, RateLimitCategory::Data).await?;
    let request = body.0;
    let user = UserId::from_uuid(request.user_id);
    access.check_role_change(None, Some(request.role.into()))?;
    state.store.user(user).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::referenced_not_found("userId", "no user has this id"),
        other => other.into(),
    })?;
    require_active(&state, org, access).await?;
    let member = state
        .store
        .add_member(
            org,
            user,
            request.role.into(),
            access,
            caller.actor(),
            now(),
        )
        .await
        .map_err(organization_not_found)?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/organization/{org}/member/{user}"),
        ))
        .json(MemberView::from(&member)))
}

/// List members
///
/// Returns the organization's members with their roles, a page at a time (next page in
/// `Link: <…>; rel="next"`). Any member may read them.
#[utoipa::path(
    get,
    path = "/organization/{organization_id}/member/list",
    tag = TAG,
    operation_id = "list_members",
    params(
        OrganizationIdPath,
        Paging,
    ),
    responses(
        (status = 200, description = "A page of members.", body = Vec<MemberView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/{organization_id}/member/list")]
pub(super) async fn list_members(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(org): OrganizationIdPath,
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    let access = limits.access(&caller, org, RateLimitCategory::Data).await?;
    let page = state
        .store
        .list_members(org, paging.page())
        .await
        .map_err(organization_not_found)?;
    // An organization always has an owner: no member on the first page means there is no
    // such organization (the platform admin's access does not prove it exists).
    if page.items.is_empty()
        && matches!(access, Access::PlatformAdmin)
        && !state.store.organization_exists(org).await?
    {
        return Err(ApiError::not_found("the organization"));
    }
    let views: Vec<MemberView> = page.items.iter().map(MemberView::from).collect();
    Ok(paging.respond(
        &format!("/organization/{org}/member/list"),
        page.next,
        views,
    ))
}

/// Change a member's role
///
/// Gives a member another role. Owners and admins may; only owners grant or take the owner
/// role, and the last owner keeps it (409).
#[utoipa::path(
    patch,
    path = "/organization/{organization_id}/member/{user_id}",
    tag = TAG,
    operation_id = "update_member",
    request_body = UpdateMemberRequest,
    params(
        OrganizationIdPath,
        UserIdPath,
    ),
    responses(
        (status = 200, description = "The member.", body = MemberView),
        WriteProblems,
    ),
    security(("bearer" = [])),
)]
#[patch("/organization/{organization_id}/member/{user_id}")]
pub(super) async fn update_member(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(org): OrganizationIdPath,
    UserIdPath(user): UserIdPath,
    _query: NoQuery,
    body: JsonBody<UpdateMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let access = limits.access(&caller, org, RateLimitCategory::Data).await?;
    require_active(&state, org, access).await?;
    let member = state
        .store
        .change_member_role(org, user, body.0.role.into(), access, caller.actor(), now())
        .await
        .map_err(member_not_found)?;
    Ok(HttpResponse::Ok().json(MemberView::from(&member)))
}

/// Remove a team member
///
/// Removes a user from the organization and returns the organization with its remaining
/// members. Owners and admins may; only owners remove an owner, and the last owner stays
/// (409).
#[utoipa::path(
    delete,
    path = "/organization/{organization_id}/member/{user_id}",
    tag = TAG,
    operation_id = "remove_member",
    params(
        OrganizationIdPath,
        UserIdPath,
    ),
    responses(
        (status = 200, description = "The organization, without the removed member.", body = OrganizationDetailView,
         headers(("ETag" = String, description = "The organization's new version."))),
        DeleteProblems,
    ),
    security(("bearer" = [])),
)]
#[delete("/organization/{organization_id}/member/{user_id}")]
pub(super) async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(org): OrganizationIdPath,
    UserIdPath(user): UserIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let access = limits.access(&caller, org, RateLimitCategory::Data).await?;
    state
        .store
        .remove_member(org, user, access, caller.actor(), now())
        .await
        .map_err(member_not_found)?;
    // Their keys for this organization were revoked with them.
    state.keys.forget_all();
    let organization = read_organization(&state, org).await?;
    detail_response(&state, &organization, HttpResponse::Ok()).await
}
