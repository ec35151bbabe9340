//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

/// The state of the service.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthView {
    #[schema(example = "ok")]
    pub(crate) status: &'static str,
    /// Where rate limits are counted: `local`, `redis`, or `local (redis unreachable)`.
    #[serde(rename = "rateLimits", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) rate_limits: Option<&'static str>,
}

/// Check liveness
///
/// Answers 200 while the process serves requests.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "get_health",
    responses((status = 200, description = "The process is alive.", body = HealthView)),
)]
#[get("/healthz")]
pub(crate) async fn get_health() -> HttpResponse {
    HttpResponse::Ok().json(HealthView {
        status: "ok",
        rate_limits: None,
    })
}

/// Check readiness
///
/// Answers 200 when the database answers, else 503: a load balancer sends traffic only to
/// ready instances. `rateLimits` says where rate limits are counted; `local (redis
/// unreachable)` means the shared limit is degraded to this instance's own.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready to serve.", body = HealthView),
        (status = 503, description = "The database does not answer.", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/readyz")]
pub(crate) async fn get_readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(Some(e)))?;
    Ok(HttpResponse::Ok().json(HealthView {
        status: "ready",
        rate_limits: Some(state.limiter.mode()),
    }))
}

pub(crate) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(get_health).service(get_readiness);
}
