//! Users.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use tenantry_domain::{Email, TextLine, User};

use super::views::*;
use crate::auth::Caller;
use crate::common::{CreateProblems, Fields, ReadProblems, now};
use crate::error::ApiError;
use crate::extract::{JsonBody, NoQuery};
use crate::limits::Limits;
use crate::state::AppState;

const TAG: &str = "users";

/// Create a user
///
/// Adds a person who can then be given API keys and made a member of organizations. Only
/// the platform admin may. An email already taken (in any letter case) is a 409.
#[utoipa::path(
    post,
    path = "/user",
    tag = TAG,
    operation_id = "create_user",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The new user.", body = UserView),
        CreateProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/user")]
pub(super) async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    _query: NoQuery,
    body: JsonBody<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    limits.key(&caller).await?;
    if !caller.is_platform_admin() {
        return Err(ApiError::Forbidden {
            detail: "only the platform admin may create users".into(),
            fields: Vec::new(),
        });
    }
    let request = body.0;
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(request.email));
    let name = fields.check("name", TextLine::user_name(request.name));
    let (email, name) = fields.finish((email, name))?;
    let user = User::new(email.expect("checked"), name.expect("checked"), now());
    state.store.create_user(&user, caller.actor()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/user/me"))
        .json(UserView::from(&user)))
}

/// Get the calling user
///
/// Returns the user the API key acts as. The platform admin's token and organization keys
/// without a user act as no user (404).
#[utoipa::path(
    get,
    path = "/user/me",
    tag = TAG,
    operation_id = "get_current_user",
    responses(
        (status = 200, description = "The calling user.", body = UserView),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/user/me")]
pub(super) async fn get_current_user(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    limits.key(&caller).await?;
    let user_id = caller
        .user_id()
        .ok_or_else(|| ApiError::NotFound("this API key acts as no user".into()))?;
    let user = state.store.user(user_id).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}
