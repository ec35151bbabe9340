//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`.
//!
//! Each kind of error has one row in `ApiError::kind`: its status, a stable `type` slug
//! and a title. The cause of a server-side failure is logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tenantry_domain::RuleViolation;
use tenantry_storage::StoreError;
use utoipa::ToSchema;

pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid, unknown or forbidden field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as the client named it (`metadata.plan`, `modules[1]`, a header or a
    /// query parameter).
    #[schema(example = "organizationName")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must be between 1 and 255 characters long")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem: every error answer of the API has this shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem; stable, safe to match on.
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    #[schema(example = "Invalid request")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422, minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong this time.
    #[schema(example = "1 field is invalid")]
    pub detail: String,
    /// The fields at fault, for validation and authorization errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldError>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// A malformed request whose fault lies in named fields (a key repeated in the body, a
    /// header sent twice).
    #[error("{detail}")]
    MalformedField {
        detail: String,
        fields: Vec<FieldError>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{detail}")]
    Forbidden {
        detail: String,
        fields: Vec<FieldError>,
    },
    #[error("{0}")]
    NotFound(String),
    /// A resource a request body names does not exist (or the caller may not see it).
    #[error("{detail}")]
    ReferencedNotFound {
        detail: String,
        fields: Vec<FieldError>,
    },
    #[error("{detail}")]
    MethodNotAllowed { detail: String, allow: String },
    #[error("{0}")]
    Conflict(String),
    #[error(
        "the resource has changed since it was read; read it again and retry with its new ETag"
    )]
    PreconditionFailed,
    #[error("{0}")]
    PaymentRequired(String),
    #[error("too many requests: the rate limit is reached; retry after {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    /// The organization is inactive and the action would use or extend it.
    #[error("{0}")]
    OrganizationInactive(String),
    /// The change would leave the organization without an owner.
    #[error("{0}")]
    LastOwner(String),
    /// The organization has as many members (or workspaces) as its quota allows.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{} invalid", describe_count(.0.len()))]
    Validation(Vec<FieldError>),
    #[error("the service is unavailable; try again shortly")]
    Unavailable(#[source] Option<StoreError>),
    #[error("an internal error occurred")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn describe_count(count: usize) -> String {
    if count == 1 {
        "1 field is".to_owned()
    } else {
        format!("{count} fields are")
    }
}

/// One row of the error table.
struct Kind {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// A 404 for a resource that the body's `field` names.
    pub fn referenced_not_found(field: &str, message: &str) -> Self {
        Self::ReferencedNotFound {
            detail: format!("{field}: {message}"),
            fields: vec![FieldError::new(field, message)],
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} was not found"))
    }

    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }

    fn kind(&self) -> Kind {
        let (status, slug, title) = match self {
            Self::BadRequest(_) | Self::MalformedField { .. } => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
            ),
            Self::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            Self::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound(_) | Self::ReferencedNotFound { .. } => {
                (StatusCode::NOT_FOUND, "not-found", "Not found")
            }
            Self::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            Self::PaymentRequired(_) => (
                StatusCode::PAYMENT_REQUIRED,
                "credits-exhausted",
                "Credits exhausted",
            ),
            Self::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            Self::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            Self::RequestTimeout(_) => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request body too slow",
            ),
            Self::OrganizationInactive(_) => (
                StatusCode::CONFLICT,
                "organization-inactive",
                "Organization inactive",
            ),
            Self::LastOwner(_) => (StatusCode::CONFLICT, "last-owner", "Last owner"),
            Self::QuotaExceeded(_) => (StatusCode::CONFLICT, "quota-exceeded", "Quota reached"),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        };
        Kind {
            status,
            slug,
            title,
        }
    }

    /// One error of each kind a client may meet, as an example for the OpenAPI document
    /// (each documented error status shows its own). Built from the same table as real
    /// answers, so an example cannot drift from what the server sends.
    pub fn examples() -> Vec<(&'static str, Self)> {
        vec![
            (
                "malformed",
                Self::BadRequest("the body is not valid JSON: EOF while parsing an object at line 1 column 1".into()),
            ),
            (
                "no-key",
                Self::Unauthorized(
                    "an API key is required: send `Authorization: Bearer <key>`".into(),
                ),
            ),
            (
                "forbidden",
                Self::Forbidden {
                    detail: "only the platform admin may change plan".into(),
                    fields: vec![FieldError::new("plan", "only the platform admin may change it")],
                },
            ),
            (
                "credits",
                Self::PaymentRequired(
                    "the organization has no credits left this cycle: 0 of 1000 remain, 25 were asked".into(),
                ),
            ),
            ("not-found", Self::not_found("the organization")),
            (
                "conflict",
                Self::Conflict("an organization with this domain exists already".into()),
            ),
            (
                "inactive",
                Self::OrganizationInactive(
                    "the organization is inactive: it records no usage".into(),
                ),
            ),
            (
                "last-owner",
                Self::LastOwner("an organization must keep at least one owner".into()),
            ),
            (
                "quota",
                Self::QuotaExceeded("the organization has reached its user quota of 25".into()),
            ),
            ("stale", Self::PreconditionFailed),
            ("too-large", Self::PayloadTooLarge(1 << 20)),
            (
                "media-type",
                Self::UnsupportedMediaType(
                    "the body must be sent as Content-Type: application/json".into(),
                ),
            ),
            (
                "invalid",
                Self::Validation(vec![
                    FieldError::new("email", "must be an email address such as ada@example.com"),
                    FieldError::new("name", "must not be empty"),
                ]),
            ),
            ("rate-limited", Self::RateLimited { retry_after: 42 }),
            ("unavailable", Self::Unavailable(None)),
        ]
    }

    pub fn problem(&self) -> Problem {
        let kind = self.kind();
        let errors = match self {
            Self::Validation(errors)
            | Self::MalformedField { fields: errors, .. }
            | Self::Forbidden { fields: errors, .. }
            | Self::ReferencedNotFound { fields: errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        Problem {
            problem_type: format!("/problems/{}", kind.slug),
            title: kind.title.to_owned(),
            status: kind.status.as_u16(),
            detail: self.to_string(),
            errors,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().status
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => {
                tracing::error!(error = %cause, cause = ?cause, "request failed")
            }
            Self::Unavailable(cause) => {
                if cause.as_ref().is_some_and(StoreError::is_pool_timeout) {
                    crate::metrics::pool_timeout();
                }
                tracing::warn!(cause = ?cause, "service unavailable")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if matches!(self, Self::Unauthorized(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Self::MethodNotAllowed { allow, .. } = self
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            response.insert_header((header::ALLOW, value));
        }
        if let Self::RateLimited { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if matches!(self, Self::RequestTimeout(_)) {
            // The rest of the body may still be on its way: do not wait for it.
            response.force_close();
        }
        if matches!(self, Self::Unavailable(_)) {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<RuleViolation> for ApiError {
    fn from(rule: RuleViolation) -> Self {
        match rule {
            RuleViolation::LastOwner => Self::LastOwner(rule.to_string()),
            RuleViolation::UserQuotaReached { .. }
            | RuleViolation::WorkspaceQuotaReached { .. } => Self::QuotaExceeded(rule.to_string()),
            RuleViolation::CreditsExhausted { .. } => Self::PaymentRequired(rule.to_string()),
            RuleViolation::OrganizationInactive => Self::OrganizationInactive(rule.to_string()),
            RuleViolation::OnlyOwnersTouchOwners | RuleViolation::Forbidden(_) => Self::Forbidden {
                detail: rule.to_string(),
                fields: Vec::new(),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("the resource was not found".into()),
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Rule(rule) => rule.into(),
            StoreError::VersionMismatch => Self::PreconditionFailed,
            StoreError::Unavailable(_) => Self::Unavailable(Some(error)),
            error => Self::internal(error),
        }
    }
}
