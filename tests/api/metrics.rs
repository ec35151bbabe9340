//! Prometheus metrics: scraped from their own listener and parsed as Prometheus would.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;
use tenantry_tests::{ADMIN_TOKEN, TestApp};

/// One sample: its name, its labels and its value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses Prometheus' text format (the lines that are not comments).
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("a number in {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = BTreeMap::new();
                for pair in body.split("\",").filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once("=\"").expect("key=\"value\"");
                    labels.insert(key.to_owned(), value.trim_end_matches('"').to_owned());
                }
                (name.to_owned(), labels)
            }
        };
        samples.push((name, labels, value));
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .reduce(|a, b| a + b)
}

#[tokio::test]
async fn metrics_count_requests_usage_and_limits_without_ids() {
    let app = TestApp::spawn().await;
    let metrics = app.metrics();
    let receiver = tenantry_tests::Receiver::start();
    let (status, _) = app
        .post(
            "/webhook-endpoint",
            ADMIN_TOKEN,
            json!({"url": receiver.url, "eventTypes": ["user.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let (status, _) = app.get(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(status, StatusCode::OK);
    let usage = format!("/organization/{id}/usage");
    let (status, _) = app
        .post(
            &usage,
            &ada.key,
            json!({"credits": 25, "category": "search"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            &usage,
            &ada.key,
            json!({"credits": 5000, "category": "search"}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let (status, _) = app.get("/no/such/path", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    receiver
        .wait_for(std::time::Duration::from_secs(10), |r| !r.is_empty())
        .await;
    // The attempt is counted once its outcome is recorded, just after the answer.
    let scrape = || async {
        reqwest::get(format!("{metrics}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let mut text = scrape().await;
    for _ in 0..100 {
        if text.contains("tenantry_webhook_deliveries_total{outcome=\"delivered\"}") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        text = scrape().await;
    }
    let samples = parse(&text);
    let at_least = |name: &str, labels: &[(&str, &str)], min: f64| {
        let found = value(&samples, name, labels);
        assert!(
            found.is_some_and(|v| v >= min),
            "{name} {labels:?} = {found:?}, expected at least {min}\n{text}"
        );
    };
    at_least(
        "tenantry_http_requests_total",
        &[
            ("route", "/organization/{organization_id}"),
            ("method", "GET"),
            ("status", "200"),
        ],
        1.0,
    );
    at_least(
        "tenantry_http_requests_total",
        &[("route", "unmatched"), ("status", "404")],
        1.0,
    );
    at_least(
        "tenantry_http_request_duration_seconds_count",
        &[("route", "/organization/{organization_id}/usage")],
        2.0,
    );
    at_least(
        "tenantry_usage_credits_total",
        &[("category", "search")],
        25.0,
    );
    at_least(
        "tenantry_usage_refused_total",
        &[("category", "search"), ("reason", "credits")],
        1.0,
    );
    at_least(
        "tenantry_rate_limit_decisions_total",
        &[("category", "metadata"), ("outcome", "allowed")],
        1.0,
    );
    at_least("tenantry_key_cache_lookups_total", &[], 1.0);
    at_least("tenantry_db_pool_connections", &[("state", "idle")], 0.0);
    at_least("tenantry_db_pool_max_connections", &[], 1.0);
    at_least("tenantry_webhook_lag_seconds", &[], 0.0);
    at_least(
        "tenantry_webhook_deliveries_total",
        &[("outcome", "delivered")],
        1.0,
    );
    at_least(
        "tenantry_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    // No organization, user or key id in any label.
    let uuid = regex::Regex::new(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-").unwrap();
    for (name, labels, _) in &samples {
        for (key, value) in labels {
            assert!(!uuid.is_match(value), "{name}{{{key}={value}}}");
        }
    }
    assert!(!text.contains(id) && !text.contains(&ada.id));
}

#[tokio::test]
async fn requests_that_found_no_free_connection_are_counted() {
    // One connection, and little patience: 400 concurrent requests queue for it longer
    // than 50 ms in all, and the last ones give up.
    // On SQLite whatever the tests' database: the pool is sqlx's on both, and a PostgreSQL
    // connection takes longer to open than the patience given here.
    let database = tenantry_tests::TestDatabase::sqlite();
    // The schema first, with a patient pool: migrating within 50 ms is not what is tested,
    // and a loaded machine may not.
    tenantry_storage::Store::connect(&tenantry_storage::StoreOptions::new(database.url.clone()))
        .await
        .expect("the database opens")
        .close()
        .await
        .expect("it closes");
    let mut options = tenantry_storage::StoreOptions::new(database.url.clone());
    options.max_connections = 1;
    options.acquire_timeout = std::time::Duration::from_millis(50);
    let app = TestApp::spawn_on(options, |_| {}).await;
    let metrics = app.metrics();
    let requests = (0..400).map(|_| app.get("/organization/list", ADMIN_TOKEN));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(
        refused > 0,
        "some of 400 requests waited over 50 ms: {statuses:?}"
    );
    let text = reqwest::get(format!("{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = value(
        &parse(&text),
        "tenantry_db_pool_acquire_timeouts_total",
        &[],
    );
    assert!(
        counted.is_some_and(|n| n >= 1.0),
        "{counted:?} timeouts counted, {refused} answered 503\n{text}"
    );
    drop(database);
}
