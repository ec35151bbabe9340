//! Workspaces of an organization, counted against its workspace quota.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use tenantry_domain::{TextLine, Workspace, limits};
use tenantry_storage::StoreError;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::common::{CreateProblems, DeleteProblems, Fields, ReadProblems, now};
use crate::error::ApiError;
use crate::extract::{FieldCase, JsonBody, NoQuery, Paging, RequestBody};
use crate::limits::Limits;
use crate::ops::{organization_not_found, require_active};
use crate::path::{OrganizationIdPath, WorkspaceIdPath};
use crate::state::AppState;
use tenantry_domain::RateLimitCategory;

const TAG: &str = "workspaces";

/// A workspace.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    pub id: Uuid,
    #[schema(example = "Research")]
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Workspace> for WorkspaceView {
    fn from(workspace: &Workspace) -> Self {
        Self {
            id: workspace.id.as_uuid(),
            name: workspace.name.to_string(),
            created_at: workspace.created_at,
        }
    }
}

/// A workspace to create.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkspaceRequest {
    /// Unique within the organization.
    #[validate(custom(function = "crate::common::checks::text_line"))]
    #[schema(example = "Research", min_length = 1, max_length = 255)]
    pub name: String,
}

impl RequestBody for CreateWorkspaceRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

fn forbidden() -> ApiError {
    ApiError::Forbidden {
        detail: "only the organization's owners and admins may create or delete workspaces".into(),
        fields: Vec::new(),
    }
}

/// Create a workspace
///
/// Adds a workspace. Owners and admins may; 409 when the organization has reached its
/// `workspace_quota` or already has a workspace of that name.
#[utoipa::path(
    post,
    path = "/organization/{organization_id}/workspace",
    tag = TAG,
    operation_id = "create_workspace",
    request_body = CreateWorkspaceRequest,
    params(OrganizationIdPath),
    responses((status = 201, description = "The new workspace.", body = WorkspaceView), CreateProblems),
    security(("bearer" = [])),
)]
#[post("/organization/{organization_id}/workspace")]
pub(super) async fn create_workspace(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(org): OrganizationIdPath,
    _query: NoQuery,
    body: JsonBody<CreateWorkspaceRequest>,
) -> Result<HttpResponse, ApiError> {
    let access = limits.access(&caller, org, RateLimitCategory::Data).await?;
    if !access.can_manage() {
        return Err(forbidden());
    }
    let mut fields = Fields::default();
    let name = fields.check(
        "name",
        TextLine::parse(body.0.name, limits::TEXT_LINE_MAX_CHARS),
    );
    let name = fields.finish(name)?.expect("checked");
    require_active(&state, org, access).await?;
    let workspace = Workspace::new(name, now());
    state
        .store
        .create_workspace(org, &workspace, caller.actor())
        .await
        .map_err(organization_not_found)?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/organization/{org}/workspace/{}", workspace.id),
        ))
        .json(WorkspaceView::from(&workspace)))
}

/// List workspaces
///
/// Returns the organization's workspaces in creation order, a page at a time (next page in
/// `Link: <…>; rel="next"`). Any member may read them.
#[utoipa::path(
    get,
    path = "/organization/{organization_id}/workspace/list",
    tag = TAG,
    operation_id = "list_workspaces",
    params(
        OrganizationIdPath,
        Paging,
    ),
    responses(
        (status = 200, description = "A page of workspaces.", body = Vec<WorkspaceView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/{organization_id}/workspace/list")]
pub(super) async fn list_workspaces(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(org): OrganizationIdPath,
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    limits.access(&caller, org, RateLimitCategory::Data).await?;
    let page = state
        .store
        .list_workspaces(org, paging.page())
        .await
        .map_err(organization_not_found)?;
    let views: Vec<WorkspaceView> = page.items.iter().map(WorkspaceView::from).collect();
    Ok(paging.respond(
        &format!("/organization/{org}/workspace/list"),
        page.next,
        views,
    ))
}

/// Delete a workspace
///
/// Deletes a workspace, freeing its place in the quota. Owners and admins may.
#[utoipa::path(
    delete,
    path = "/organization/{organization_id}/workspace/{workspace_id}",
    tag = TAG,
    operation_id = "delete_workspace",
    params(
        OrganizationIdPath,
        WorkspaceIdPath,
    ),
    responses((status = 204, description = "The workspace is gone."), DeleteProblems),
    security(("bearer" = [])),
)]
#[delete("/organization/{organization_id}/workspace/{workspace_id}")]
pub(super) async fn delete_workspace(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(org): OrganizationIdPath,
    WorkspaceIdPath(workspace): WorkspaceIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    if !limits
        .access(&caller, org, RateLimitCategory::Data)
        .await?
        .can_manage()
    {
        return Err(forbidden());
    }
    state
        .store
        .delete_workspace(org, workspace, caller.actor(), now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("the workspace"),
            other => other.into(),
        })?;
    Ok(HttpResponse::NoContent().finish())
}
