//! Webhook endpoints (the platform admin's): where events are delivered, their signing
//! secrets, and their deliveries.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use tenantry_domain::{
    PREVIOUS_SECRET_GRACE, TextLine, WebhookDelivery, WebhookEndpoint, WebhookEndpointId,
    WebhookSecret, WebhookUrl, limits, parse_event_types,
};
use tenantry_storage::{StoreError, WebhookEndpointChanges};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::events::EventTypeValue;
use crate::auth::Caller;
use crate::common::{
    AdminListProblems, AdminReadProblems, CreateProblems, DeleteProblems, Fields, WriteProblems,
    non_null, now,
};
use crate::destinations::check_destination;
use crate::error::ApiError;
use crate::extract::{FieldCase, JsonBody, NoQuery, Paging, RequestBody};
use crate::limits::Limits;
use crate::path::{DeliveryIdPath, EndpointIdPath};
use crate::state::AppState;

const TAG: &str = "webhooks";

/// A webhook endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpointView {
    pub id: Uuid,
    #[schema(example = "https://hooks.example.com/tenantry")]
    pub url: String,
    /// The event types it receives; empty: every type.
    pub event_types: Vec<EventTypeValue>,
    pub description: Option<String>,
    /// Whether events are sent to it. Tenantry disables an endpoint that answers
    /// `410 Gone`.
    pub enabled: bool,
    /// Why Tenantry disabled it, if it did.
    pub disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&WebhookEndpoint> for WebhookEndpointView {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id.as_uuid(),
            url: endpoint.url.to_string(),
            event_types: endpoint.event_types.iter().map(|t| (*t).into()).collect(),
            description: endpoint.description.as_ref().map(ToString::to_string),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// A new endpoint, with its signing secret: shown in this answer only.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhookEndpointView {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointView,
    /// The signing secret (`whsec_` and base64), shown once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// A new signing secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSecretView {
    /// The new signing secret, shown once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    /// Until when the secret it replaces keeps signing beside it (both signatures are
    /// sent in `webhook-signature`).
    #[serde(with = "time::serde::rfc3339")]
    pub previous_secret_expires_at: OffsetDateTime,
}

/// What it takes to register an endpoint.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhookEndpointRequest {
    /// An `http` or `https` URL with a host name or an IPv4 address, without credentials
    /// or a fragment. Unless the server allows private
    /// addresses, it must not be (or resolve to) a loopback, private, link-local or
    /// unique-local address.
    #[validate(custom(function = "crate::common::checks::webhook_url"))]
    #[schema(example = "https://hooks.example.com/tenantry", max_length = 2048)]
    pub url: String,
    /// The event types to receive; absent or empty: every type.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, value_type = Option<Vec<EventTypeValue>>, example = json!(["organization.updated", "member.added"]))]
    pub event_types: Option<Vec<String>>,
    /// What the endpoint is for.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(custom(function = "crate::common::checks::text_line"))]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 255,
        example = "Billing sync"
    )]
    pub description: Option<String>,
}

impl RequestBody for CreateWebhookEndpointRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// What to change of an endpoint; absent fields keep their value.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWebhookEndpointRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[validate(custom(function = "crate::common::checks::webhook_url"))]
    #[schema(nullable = false, max_length = 2048)]
    pub url: Option<String>,
    /// The event types to receive; empty: every type.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, value_type = Option<Vec<EventTypeValue>>)]
    pub event_types: Option<Vec<String>>,
    /// `false` stops sending (events meanwhile are not sent later); `true` sends again.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub enabled: Option<bool>,
    /// `null` clears it.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[validate(custom(function = "crate::common::checks::text_line"))]
    #[schema(min_length = 1, max_length = 255)]
    pub description: Option<Option<String>>,
}

impl RequestBody for UpdateWebhookEndpointRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatusValue {
    Pending,
    Delivered,
    Failed,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryView {
    pub id: Uuid,
    /// The event (its `webhook-id`).
    pub event_id: Uuid,
    pub event_type: EventTypeValue,
    /// `pending` until an attempt is answered 2xx (`delivered`), or until every attempt
    /// failed or the endpoint answered 410 (`failed`).
    pub status: DeliveryStatusValue,
    #[schema(minimum = 0)]
    pub attempts: u32,
    /// The status the endpoint last answered, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed: the answer's status and a short excerpt, a time-out, a
    /// refused connection or address.
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

impl From<&WebhookDelivery> for WebhookDeliveryView {
    fn from(delivery: &WebhookDelivery) -> Self {
        use tenantry_domain::DeliveryStatus as S;
        Self {
            id: delivery.id.as_uuid(),
            event_id: delivery.event_id.as_uuid(),
            event_type: delivery.event_type.into(),
            status: match delivery.status {
                S::Pending => DeliveryStatusValue::Pending,
                S::Delivered => DeliveryStatusValue::Delivered,
                S::Failed => DeliveryStatusValue::Failed,
            },
            attempts: delivery.attempts,
            last_status: delivery.last_status,
            last_error: delivery.last_error.clone(),
            next_attempt_at: delivery.next_attempt_at,
            created_at: delivery.created_at,
            delivered_at: delivery.delivered_at,
        }
    }
}

/// Refuses everyone but the platform admin (after counting the request against the key).
async fn admin_only(caller: &Caller, limits: &Limits) -> Result<(), ApiError> {
    limits.key(caller).await?;
    if caller.is_platform_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            detail: "only the platform admin may manage webhook endpoints".into(),
            fields: Vec::new(),
        })
    }
}

fn endpoint_not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("the webhook endpoint"),
        other => other.into(),
    }
}

/// Parses a URL and checks where it leads; an error names `url`.
async fn destination(
    state: &AppState,
    fields: &mut Fields,
    url: Option<String>,
) -> Option<WebhookUrl> {
    let url = fields.optional("url", url, WebhookUrl::parse)?;
    match check_destination(&url, state.webhooks.allow_private).await {
        Ok(()) => Some(url),
        Err(message) => {
            fields.push("url", message);
            None
        }
    }
}

fn new_secret() -> Result<WebhookSecret, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(WebhookSecret::from_random_bytes(bytes))
}

/// Register a webhook endpoint
///
/// Registers a URL to send events to, signed as Standard Webhooks are: `webhook-id` (the
/// event's id), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` and the
/// base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the secret's bytes). The
/// answer holds the signing secret, shown this once. `eventTypes` picks the types to
/// receive (all when absent or empty). An endpoint receives the events that occur after it
/// is registered, at least once, each organization's in order; an attempt not answered 2xx
/// within 10 s is tried again after 5 s, 30 s, 2 min, 10 min, 1 h, 6 h and 24 h, then
/// given up; `410 Gone` disables the endpoint. The platform admin alone may.
#[utoipa::path(
    post,
    path = "/webhook-endpoint",
    tag = TAG,
    operation_id = "create_webhook_endpoint",
    request_body = CreateWebhookEndpointRequest,
    responses(
        (status = 201, description = "The endpoint, with its secret (shown once).", body = CreatedWebhookEndpointView,
         headers(("Location" = String, description = "The endpoint's URL."))),
        CreateProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/webhook-endpoint")]
pub(super) async fn create_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    _query: NoQuery,
    body: JsonBody<CreateWebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, &limits).await?;
    let request = body.0;
    let mut fields = Fields::default();
    let url = destination(&state, &mut fields, Some(request.url)).await;
    let event_types = fields.optional("eventTypes", request.event_types, |types| {
        parse_event_types(types.iter().map(String::as_str))
    });
    let description = fields.optional("description", request.description, |d| {
        TextLine::parse(d, limits::TEXT_LINE_MAX_CHARS)
    });
    let (url, event_types, description) = fields.finish((url, event_types, description))?;
    let now = now();
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::generate(),
        url: url.expect("checked above"),
        event_types: event_types.unwrap_or_default(),
        description,
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    let secret = new_secret()?;
    state
        .store
        .create_webhook_endpoint(&endpoint, &secret)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/webhook-endpoint/{}", endpoint.id),
        ))
        .json(CreatedWebhookEndpointView {
            endpoint: WebhookEndpointView::from(&endpoint),
            secret: secret.expose().to_owned(),
        }))
}

/// List webhook endpoints
///
/// Every endpoint, in registration order, a page at a time; never their secrets. The
/// platform admin alone may.
#[utoipa::path(
    get,
    path = "/webhook-endpoint/list",
    tag = TAG,
    operation_id = "list_webhook_endpoints",
    params(Paging),
    responses(
        (status = 200, description = "A page of endpoints.", body = Vec<WebhookEndpointView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        AdminListProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/webhook-endpoint/list")]
pub(super) async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, &limits).await?;
    let page = state.store.list_webhook_endpoints(paging.page()).await?;
    let views: Vec<WebhookEndpointView> =
        page.items.iter().map(WebhookEndpointView::from).collect();
    Ok(paging.respond("/webhook-endpoint/list", page.next, views))
}

/// Get a webhook endpoint
///
/// One endpoint, without its secret. The platform admin alone may.
#[utoipa::path(
    get,
    path = "/webhook-endpoint/{endpoint_id}",
    tag = TAG,
    operation_id = "get_webhook_endpoint",
    params(EndpointIdPath),
    responses(
        (status = 200, description = "The endpoint.", body = WebhookEndpointView),
        AdminReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/webhook-endpoint/{endpoint_id}")]
pub(super) async fn get_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    EndpointIdPath(id): EndpointIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, &limits).await?;
    let endpoint = state
        .store
        .webhook_endpoint(id)
        .await
        .map_err(endpoint_not_found)?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(&endpoint)))
}

/// Update a webhook endpoint
///
/// Changes its URL (checked as at registration), its event types or its description, or
/// disables it (`enabled: false`) or enables it again, which also clears why Tenantry
/// disabled it. A disabled endpoint is sent nothing: deliveries made before it was
/// disabled resume when it is enabled, but events that occur while it is disabled are
/// never sent to it (the audit log keeps them). The platform admin alone may.
#[utoipa::path(
    patch,
    path = "/webhook-endpoint/{endpoint_id}",
    tag = TAG,
    operation_id = "update_webhook_endpoint",
    request_body = UpdateWebhookEndpointRequest,
    params(EndpointIdPath),
    responses(
        (status = 200, description = "The endpoint as it is now.", body = WebhookEndpointView),
        WriteProblems,
    ),
    security(("bearer" = [])),
)]
#[patch("/webhook-endpoint/{endpoint_id}")]
pub(super) async fn update_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    EndpointIdPath(id): EndpointIdPath,
    _query: NoQuery,
    body: JsonBody<UpdateWebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, &limits).await?;
    let request = body.0;
    let mut fields = Fields::default();
    let url = destination(&state, &mut fields, request.url).await;
    let event_types = fields.optional("eventTypes", request.event_types, |types| {
        parse_event_types(types.iter().map(String::as_str))
    });
    let description = fields.nullable("description", request.description, |d| {
        TextLine::parse(d, limits::TEXT_LINE_MAX_CHARS)
    });
    let changes = fields.finish(WebhookEndpointChanges {
        url,
        event_types,
        enabled: request.enabled,
        description,
    })?;
    let endpoint = state
        .store
        .update_webhook_endpoint(id, &changes, now())
        .await
        .map_err(endpoint_not_found)?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(&endpoint)))
}

/// Delete a webhook endpoint
///
/// Removes the endpoint and its deliveries: nothing more is sent to it. The platform admin
/// alone may.
#[utoipa::path(
    delete,
    path = "/webhook-endpoint/{endpoint_id}",
    tag = TAG,
    operation_id = "delete_webhook_endpoint",
    params(EndpointIdPath),
    responses((status = 204, description = "The endpoint is gone."), DeleteProblems),
    security(("bearer" = [])),
)]
#[delete("/webhook-endpoint/{endpoint_id}")]
pub(super) async fn delete_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    EndpointIdPath(id): EndpointIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, &limits).await?;
    state
        .store
        .delete_webhook_endpoint(id)
        .await
        .map_err(endpoint_not_found)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a webhook endpoint's secret
///
/// Makes a new signing secret, shown in this answer only. The secret it replaces keeps
/// signing beside it for 24 hours (`webhook-signature` then carries both signatures,
/// space-separated), so a receiver can switch without losing a delivery. The platform
/// admin alone may.
#[utoipa::path(
    post,
    path = "/webhook-endpoint/{endpoint_id}/rotate-secret",
    tag = TAG,
    operation_id = "create_webhook_endpoint_secret",
    params(EndpointIdPath),
    responses(
        (status = 201, description = "The new secret (shown once).", body = WebhookSecretView),
        CreateProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/webhook-endpoint/{endpoint_id}/rotate-secret")]
pub(super) async fn create_webhook_endpoint_secret(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    EndpointIdPath(id): EndpointIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, &limits).await?;
    let secret = new_secret()?;
    let now = now();
    let until = now + PREVIOUS_SECRET_GRACE;
    state
        .store
        .rotate_webhook_secret(id, &secret, until, now)
        .await
        .map_err(endpoint_not_found)?;
    Ok(HttpResponse::Created().json(WebhookSecretView {
        secret: secret.expose().to_owned(),
        previous_secret_expires_at: until,
    }))
}

/// List a webhook endpoint's deliveries
///
/// Each event's delivery to the endpoint, newest first, a page at a time: its status,
/// attempts, the last answer's status (or why it failed) and when the next attempt is due.
/// The platform admin alone may.
#[utoipa::path(
    get,
    path = "/webhook-endpoint/{endpoint_id}/deliveries",
    tag = TAG,
    operation_id = "list_webhook_deliveries",
    params(
        EndpointIdPath,
        Paging,
    ),
    responses(
        (status = 200, description = "A page of deliveries, newest first.", body = Vec<WebhookDeliveryView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        AdminReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/webhook-endpoint/{endpoint_id}/deliveries")]
pub(super) async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    EndpointIdPath(id): EndpointIdPath,
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, &limits).await?;
    let page = state
        .store
        .webhook_deliveries(id, paging.page())
        .await
        .map_err(endpoint_not_found)?;
    let views: Vec<WebhookDeliveryView> =
        page.items.iter().map(WebhookDeliveryView::from).collect();
    Ok(paging.respond(
        &format!("/webhook-endpoint/{id}/deliveries"),
        page.next,
        views,
    ))
}

/// Retry a webhook delivery
///
/// Sends the delivery again as soon as the worker can (still after any earlier pending
/// delivery of the same organization to this endpoint), whatever became of it, with a new
/// round of attempts (`attempts` starts again from zero): a failed one is tried on the
/// usual schedule again, a delivered one is sent once more (with the same `webhook-id`).
/// 409 while an attempt is under way. The platform admin alone may.
#[utoipa::path(
    post,
    path = "/webhook-endpoint/{endpoint_id}/deliveries/{delivery_id}/retry",
    tag = TAG,
    operation_id = "create_webhook_delivery_retry",
    params(
        EndpointIdPath,
        DeliveryIdPath,
    ),
    responses(
        (status = 202, description = "The delivery is due now.", body = WebhookDeliveryView),
        CreateProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/webhook-endpoint/{endpoint_id}/deliveries/{delivery_id}/retry")]
pub(super) async fn create_webhook_delivery_retry(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    EndpointIdPath(id): EndpointIdPath,
    DeliveryIdPath(delivery): DeliveryIdPath,
    _query: NoQuery,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, &limits).await?;
    let delivery = state
        .store
        .retry_webhook_delivery(id, delivery, now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("the webhook endpoint or delivery"),
            other => other.into(),
        })?;
    Ok(HttpResponse::Accepted().json(WebhookDeliveryView::from(&delivery)))
}
