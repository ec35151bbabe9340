//! The OpenAPI document, built from the same registration as the routes.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tenantry",
        description = "A self-hostable organization service: organizations, their members, plans, quotas and limits.\n\nAuthenticate with `Authorization: Bearer <key>` (or the bare key). Errors are RFC 9457 `application/problem+json`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&Security),
    tags(
        (name = "organizations", description = "Organizations: create, list, read, update, delete, overage caps."),
        (name = "members", description = "The members of an organization and their roles."),
        (name = "users", description = "The people who belong to organizations."),
        (name = "api-keys", description = "API keys: made once, shown once, revocable."),
        (name = "health", description = "Liveness and readiness."),
    ),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key, as `Authorization: Bearer <key>` or as the bare key `Authorization: <key>`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of the whole API, without starting a server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes)
        .split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api
}

/// The OpenAPI document as committed in `openapi/openapi.json`: pretty JSON ending in a
/// newline.
pub fn openapi_json() -> String {
    let mut text = serde_json::to_string_pretty(&openapi()).expect("the document serializes");
    text.push('\n');
    text
}
