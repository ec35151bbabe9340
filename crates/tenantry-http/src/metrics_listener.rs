//! The metrics listener: `GET /metrics` on an address of its own
//! (`TENANTRY_METRICS_LISTEN`), rendering what [`crate::metrics`] records, with the gauges
//! read from the state at scrape time. Apart from the recording points so that they (which
//! the error table and the request path call) depend on nothing.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics::gauge;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::metrics::install;
use crate::state::AppState;

/// Sets the gauges read at scrape time: the database pool, Redis, the webhook backlog.
async fn refresh(state: &AppState) {
    if let Some((size, idle)) = state.store.pool_status() {
        gauge!("tenantry_db_pool_connections", "state" => "idle").set(idle as f64);
        gauge!("tenantry_db_pool_connections", "state" => "in_use")
            .set(size.saturating_sub(idle as u32) as f64);
    }
    gauge!("tenantry_db_pool_max_connections").set(f64::from(state.store.max_connections()));
    // Only where rate limits are shared through Redis: 1 while it answers, 0 while the
    // instance counts alone.
    match state.limiter.mode() {
        "local" => {}
        "redis" => gauge!("tenantry_redis_up").set(1.0),
        _ => gauge!("tenantry_redis_up").set(0.0),
    }
    match state
        .store
        .oldest_due_delivery(time::OffsetDateTime::now_utc())
        .await
    {
        Ok(oldest) => {
            let lag = oldest.map_or(0.0, |due| {
                (time::OffsetDateTime::now_utc() - due)
                    .as_seconds_f64()
                    .max(0.0)
            });
            gauge!("tenantry_webhook_lag_seconds").set(lag);
        }
        Err(error) => tracing::warn!(%error, "metrics: cannot read the webhook backlog"),
    }
}

async fn scrape(state: web::Data<AppState>, handle: web::Data<PrometheusHandle>) -> HttpResponse {
    refresh(&state).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}

/// The metrics listener: `GET /metrics` in Prometheus' text format. Starts recording.
pub fn server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let handle = web::Data::new(install());
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(handle.clone())
            .route("/metrics", web::get().to(scrape))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .run();
    Ok(server)
}
