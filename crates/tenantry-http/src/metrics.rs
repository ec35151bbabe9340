//! Prometheus metrics, served on a listener of their own (`TENANTRY_METRICS_LISTEN`).
//!
//! Nothing is recorded until [`install`] is called: with metrics off, each recording point
//! is one relaxed load of a flag. Labels name routes by their template
//! (`/organization/{organization_id}`), categories, outcomes and statuses, never an
//! organization, a user or a key.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Request latency buckets, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Starts recording, once per process; answers the handle that renders what was recorded.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("tenantry_http_request_duration_seconds".into()),
                    &LATENCY_BUCKETS,
                )
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (a host program's): then these
            // metrics go to it, and this handle renders nothing of them.
            let _ = metrics::set_global_recorder(recorder);
            ENABLED.store(true, Ordering::Relaxed);
            gauge!(
                "tenantry_build_info",
                "version" => env!("CARGO_PKG_VERSION"),
                "commit" => option_env!("TENANTRY_COMMIT").unwrap_or("unknown"),
            )
            .set(1.0);
            handle
        })
        .clone()
}

pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// One answered request, by its route's template (never its path: no id becomes a label).
pub(crate) fn request(route: &str, method: &str, status: u16, elapsed: Duration) {
    if !enabled() {
        return;
    }
    counter!(
        "tenantry_http_requests_total",
        "route" => route.to_owned(),
        "method" => method.to_owned(),
        "status" => status.to_string(),
    )
    .increment(1);
    histogram!(
        "tenantry_http_request_duration_seconds",
        "route" => route.to_owned(),
        "method" => method.to_owned(),
    )
    .record(elapsed.as_secs_f64());
}

/// A rate-limit decision in `category` (`key` for requests that name no organization).
pub(crate) fn rate_limit(category: &str, allowed: bool) {
    if !enabled() {
        return;
    }
    counter!(
        "tenantry_rate_limit_decisions_total",
        "category" => category.to_owned(),
        "outcome" => if allowed { "allowed" } else { "limited" },
    )
    .increment(1);
}

/// Credits used by an accepted usage call.
pub(crate) fn usage(category: &'static str, credits: u64) {
    if !enabled() {
        return;
    }
    counter!("tenantry_usage_credits_total", "category" => category).increment(credits);
}

/// A usage call refused for `reason` (`credits`, `inactive`).
pub(crate) fn usage_refused(category: &'static str, reason: &'static str) {
    if !enabled() {
        return;
    }
    counter!("tenantry_usage_refused_total", "category" => category, "reason" => reason)
        .increment(1);
}

/// A key looked up in the key cache.
pub(crate) fn key_cache(hit: bool) {
    if !enabled() {
        return;
    }
    counter!(
        "tenantry_key_cache_lookups_total",
        "outcome" => if hit { "hit" } else { "miss" },
    )
    .increment(1);
}

/// A webhook attempt's outcome: `delivered`, `retry`, `failed` or `gone`.
pub(crate) fn webhook(outcome: &'static str) {
    if !enabled() {
        return;
    }
    counter!("tenantry_webhook_deliveries_total", "outcome" => outcome).increment(1);
}

/// A request answered 503 because no database connection came free within
/// `TENANTRY_DATABASE_ACQUIRE_TIMEOUT_MS`. (The pool reports no wait times: its `in_use`
/// gauge at its maximum, and this count, say it is too small.)
pub(crate) fn pool_timeout() {
    if !enabled() {
        return;
    }
    counter!("tenantry_db_pool_acquire_timeouts_total").increment(1);
}
