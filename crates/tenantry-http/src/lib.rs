//! Tenantry's HTTP API: actix-web handlers, the DTOs of each surface, problem+json errors,
//! the OpenAPI document and Swagger UI.

pub mod auth;
mod caller;
pub mod common;
mod destinations;
pub mod error;
pub mod extract;
mod health;
mod json_text;
pub mod key_cache;
pub mod known_orgs;
pub mod limits;
pub mod maintenance;
pub mod management;
pub mod metrics;
pub mod metrics_listener;
mod openapi;
mod ops;
pub mod path;
pub mod rate_limit;
pub mod revocations;
pub mod state;
pub mod trace;
pub mod v1;
mod webhook_docs;
pub mod webhooks;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::{ResourceDef, Server, Service as _};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{App, HttpMessage as _, HttpRequest, HttpResponse, HttpServer, web};
use rate_limit::RateStatus;
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_actix_web::AppExt as _;
use utoipa_swagger_ui::SwaggerUi;

pub use error::{ApiError, FieldError, Problem};
pub use openapi::{openapi, openapi_document, openapi_json};
pub use state::AppState;

/// Registers every documented operation. Routes are tried in this order, so the ones
/// probes and products call most come first: health, then the two `/v1` surfaces (whose
/// paths no other route shares), then the management API.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    health::configure(cfg);
    v1::configure(cfg);
    management::configure(cfg);
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub workers: usize,
    /// How long a graceful shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the HTTP server on `listener`. It stops gracefully (finishing requests in flight)
/// on SIGTERM or SIGINT.
pub fn server(
    state: AppState,
    listener: TcpListener,
    options: &ServerOptions,
) -> std::io::Result<Server> {
    let spec = openapi_document();
    let known = web::Data::new(KnownRoutes::from_spec(&spec));
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(known.clone())
            .wrap_fn(|mut req, srv| {
                let request_id = req.extensions().get::<RequestId>().copied();
                // HEAD is answered wherever GET is: routed as GET, and the connection
                // sends the headers alone (it knows the request was a HEAD).
                if req.method() == Method::HEAD {
                    req.head_mut().method = Method::GET;
                }
                let authenticated = req.headers().contains_key(header::AUTHORIZATION);
                let method = req.method().clone();
                let started = std::time::Instant::now();
                let trace_id = req.extensions().get::<trace::TraceId>().cloned();
                // The changes this request makes carry its trace id to their webhooks.
                let response = tenantry_storage::trace::scope(trace_id.map(|t| t.0), srv.call(req));
                async move {
                    let mut response = response.await?;
                    if metrics::enabled() {
                        metrics::request(
                            &trace::route_of(response.request()),
                            method.as_str(),
                            response.status().as_u16(),
                            started.elapsed(),
                        );
                    }
                    let headers = response.headers_mut();
                    headers.insert(
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    );
                    // What one caller may see is no cache's to keep; an answer that sets
                    // its own policy (the logo's private revalidation) keeps it.
                    if authenticated && !headers.contains_key(header::CACHE_CONTROL) {
                        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    }
                    let status = response.request().extensions().get::<RateStatus>().copied();
                    if let Some(status) = status {
                        let headers = response.headers_mut();
                        for (name, value) in [
                            ("x-ratelimit-limit", u64::from(status.limit)),
                            ("x-ratelimit-remaining", u64::from(status.remaining)),
                            ("x-ratelimit-reset", status.reset),
                        ] {
                            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
                        }
                    }
                    if let Some(id) = request_id
                        && let Ok(value) = HeaderValue::from_str(&id.to_string())
                    {
                        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
                    }
                    Ok(response)
                }
            })
            .wrap(TracingLogger::<trace::TracedRootSpan>::new())
            .into_utoipa_app()
            .configure(routes)
            .into_app()
            .service(
                SwaggerUi::new("/swagger-ui/{_:.*}")
                    .external_url_unchecked("/openapi.json", spec.clone()),
            )
            .route("/swagger-ui", web::get().to(swagger_redirect))
            .default_service(web::to(unrouted))
    })
    .listen(listener)?
    .workers(options.workers)
    .shutdown_timeout(options.shutdown_timeout.as_secs())
    .run();
    Ok(server)
}

async fn swagger_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/swagger-ui/"))
        .finish()
}

/// The documented paths and their methods, to tell a wrong method (405) from a wrong path
/// (404).
#[derive(Debug)]
struct KnownRoutes(Vec<(ResourceDef, Vec<String>)>);

impl KnownRoutes {
    fn from_spec(spec: &serde_json::Value) -> Self {
        let routes = spec["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let methods = item
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .filter(|k| {
                        ["get", "put", "post", "delete", "patch", "head", "options"]
                            .contains(&k.as_str())
                    })
                    .map(|k| k.to_ascii_uppercase())
                    .collect::<Vec<_>>();
                let mut methods = methods;
                if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                    methods.push("HEAD".to_owned());
                }
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods some documented operation takes at `path`. Of the documented paths that
    /// match, the most specific win: `/organization/{organization_id}/member/list` over
    /// `/organization/{organization_id}/member/{user_id}`.
    fn methods_at(&self, path: &str) -> Vec<&str> {
        let variables = |def: &ResourceDef| def.pattern().map_or(0, |p| p.matches('{').count());
        let matching: Vec<_> = self
            .0
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .collect();
        let fewest = matching
            .iter()
            .map(|(def, _)| variables(def))
            .min()
            .unwrap_or(0);
        let chosen = matching
            .into_iter()
            .filter(|(def, _)| variables(def) == fewest);
        let mut methods: Vec<&str> = chosen
            .into_iter()
            .flat_map(|(_, methods)| methods.iter().map(String::as_str))
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }
}

/// Answers a request no operation takes: 405 with `Allow` for a documented path, else 404.
pub(crate) async fn unrouted(
    req: HttpRequest,
    known: web::Data<KnownRoutes>,
) -> Result<HttpResponse, ApiError> {
    let methods = known.methods_at(req.path());
    if methods.is_empty() {
        return Err(ApiError::NotFound(format!(
            "there is no operation at {}",
            req.path()
        )));
    }
    Err(ApiError::MethodNotAllowed {
        detail: format!(
            "{} is not an operation of {}; it takes {}",
            req.method(),
            req.path(),
            methods.join(", ")
        ),
        allow: methods.join(", "),
    })
}
