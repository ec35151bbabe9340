//! Rate limits per organization and category, and per key for requests that name no
//! organization. The clock is fixed, so a test never straddles two windows unless it moves
//! the clock itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry_domain::TierTable;
use tenantry_http::AppState;
use tenantry_http::rate_limit::{Clock, RateLimiter};
use tenantry_tests::{ADMIN_TOKEN, TestApp, parse};

/// 30 seconds into a minute.
const NOW: u64 = 29_000_000 * 60 + 30;

#[derive(Debug)]
struct FixedClock(AtomicU64);

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The documented tier defaults, a fixed clock, and `key_limit` requests per key.
fn limited(key_limit: u32) -> impl FnOnce(&mut AppState) {
    move |state| {
        state.tiers = TierTable::default();
        state.key_rate_limit = key_limit;
        state.limiter = Arc::new(RateLimiter::local(Arc::new(FixedClock(AtomicU64::new(
            NOW,
        )))));
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_request_over_the_limit_is_429_and_the_headers_count_down() {
    let app = TestApp::spawn_with(limited(1_000)).await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    for remaining in (0..10).rev() {
        let response = app
            .request(Method::GET, &path, &ada.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "x-ratelimit-limit"),
            "10",
            "the free tier's default"
        );
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            remaining.to_string()
        );
        assert_eq!(
            header(&response, "x-ratelimit-reset"),
            (NOW + 30).to_string()
        );
    }
    let response = app
        .request(Method::GET, &path, &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // The ten requests of this window still weigh on the next one until 6 s into it.
    assert_eq!(header(&response, "retry-after"), "36");
    assert_eq!(header(&response, "x-ratelimit-remaining"), "0");
    let (_, problem) = parse(response).await;
    assert_eq!(problem["type"], "/problems/rate-limited");

    // Writes to the organization count in the same category.
    let (status, _) = app.put(&path, &ada.key, json!({"name": "Acme 2"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The platform admin is not limited, and its answers carry no rate-limit headers.
    let response = app
        .request(Method::GET, &path, ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn an_override_changes_the_limit_at_once() {
    let app = TestApp::spawn_with(limited(1_000)).await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let (status, _) = app.patch("/v1/organizations", ADMIN_TOKEN, json!({})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the admin names the organization"
    );
    let set = |limit: u32| {
        app.request(Method::PATCH, "/v1/organizations", ADMIN_TOKEN)
            .header("X-Organization-Id", id)
            .json(&json!({"rate_limit_overrides": {"metadata": limit}}))
            .send()
    };
    assert_eq!(set(3).await.unwrap().status(), StatusCode::OK);
    let path = format!("/organization/{id}");
    for _ in 0..3 {
        assert_eq!(app.get(&path, &ada.key).await.0, StatusCode::OK);
    }
    assert_eq!(
        app.get(&path, &ada.key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(set(6).await.unwrap().status(), StatusCode::OK);
    let response = app
        .request(Method::GET, &path, &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the new limit holds at once"
    );
    assert_eq!(header(&response, "x-ratelimit-limit"), "6");
    assert_eq!(
        header(&response, "x-ratelimit-remaining"),
        "2",
        "the fourth counted in this window: the refused one was not counted"
    );
    assert_eq!(app.get(&path, &ada.key).await.0, StatusCode::OK);
    assert_eq!(app.get(&path, &ada.key).await.0, StatusCode::OK);
    assert_eq!(
        app.get(&path, &ada.key).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the seventh counted in this window"
    );
}

#[tokio::test]
async fn one_organizations_traffic_never_throttles_anothers_nor_another_category() {
    let app = TestApp::spawn_with(limited(1_000)).await;
    let ada = app.new_user("Ada").await;
    let busy = app.create_organization(&ada.key, "Busy").await;
    let quiet = app.create_organization(&ada.key, "Quiet").await;
    let busy_path = format!("/organization/{}", busy["id"].as_str().unwrap());
    for _ in 0..10 {
        app.get(&busy_path, &ada.key).await;
    }
    assert_eq!(
        app.get(&busy_path, &ada.key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let quiet_path = format!("/organization/{}", quiet["id"].as_str().unwrap());
    assert_eq!(app.get(&quiet_path, &ada.key).await.0, StatusCode::OK);
    let members = format!("{busy_path}/member/list");
    let response = app
        .request(Method::GET, &members, &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "members count in the data category"
    );
    assert_eq!(header(&response, "x-ratelimit-remaining"), "9");
}

#[tokio::test]
async fn usage_counts_in_the_category_it_names() {
    let app = TestApp::spawn_with(limited(1_000)).await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.request(Method::PATCH, "/v1/organizations", ADMIN_TOKEN)
        .header("X-Organization-Id", id)
        .json(&json!({"rate_limit_overrides": {"search": 2}}))
        .send()
        .await
        .unwrap();
    let path = format!("/organization/{id}/usage");
    for _ in 0..2 {
        assert_eq!(
            app.post(&path, &ada.key, json!({"credits": 1, "category": "search"}))
                .await
                .0,
            StatusCode::OK
        );
    }
    let (status, _) = app
        .post(&path, &ada.key, json!({"credits": 1, "category": "search"}))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = app.post(&path, &ada.key, json!({"credits": 1})).await;
    assert_eq!(status, StatusCode::OK, "compute is counted apart");
    let (_, org) = app.get(&format!("/organization/{id}"), ADMIN_TOKEN).await;
    assert_eq!(
        org["currentMonthUsage"], 3,
        "a refused call records nothing"
    );
}

#[tokio::test]
async fn requests_naming_no_organization_count_against_the_key() {
    let app = TestApp::spawn_with(limited(3)).await;
    let ada = app.new_user("Ada").await;
    for remaining in (0..3).rev() {
        let response = app
            .request(Method::GET, "/organization/list", &ada.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            remaining.to_string()
        );
    }
    let response = app
        .request(Method::GET, "/user/me", &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let bob = app.new_user("Bob").await;
    assert_eq!(
        app.get("/user/me", &bob.key).await.0,
        StatusCode::OK,
        "another key has its own"
    );
}

/// A burst at the end of one minute leaves nothing for the start of the next: the limit
/// holds over any sixty seconds, not per calendar minute.
#[tokio::test]
async fn a_burst_across_a_minutes_end_is_held_to_the_limit() {
    burst_across_a_minutes_end(None).await;
    // The same in Redis, when one is configured (CI starts one).
    if let Ok(url) = std::env::var("TENANTRY_TEST_REDIS_URL") {
        burst_across_a_minutes_end(Some(url)).await;
    }
}

async fn burst_across_a_minutes_end(redis: Option<String>) {
    let clock = Arc::new(FixedClock(AtomicU64::new(NOW + 29)));
    let for_state: Arc<dyn Clock> = clock.clone();
    let app = TestApp::spawn_with(move |state| {
        state.tiers = TierTable::default();
        state.limiter = Arc::new(match redis {
            None => RateLimiter::local(for_state),
            Some(url) => {
                let prefix = format!("tenantry-test:{}:", uuid::Uuid::now_v7());
                RateLimiter::redis(&url, &prefix, for_state).unwrap()
            }
        });
    })
    .await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let mut allowed = 0;
    for _ in 0..20 {
        if app.get(&path, &ada.key).await.0 == StatusCode::OK {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10, "the last second of a minute");
    clock.0.store(NOW + 31, Ordering::Relaxed);
    let mut allowed = 0;
    for _ in 0..20 {
        if app.get(&path, &ada.key).await.0 == StatusCode::OK {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 0, "two seconds later, in the next minute");
}

/// Two instances on one database and one Redis enforce one limit. Runs when
/// `TENANTRY_TEST_REDIS_URL` names a Redis (CI starts one).
#[tokio::test]
async fn two_instances_share_one_limit_through_redis() {
    let Ok(url) = std::env::var("TENANTRY_TEST_REDIS_URL") else {
        eprintln!("TENANTRY_TEST_REDIS_URL is not set: the shared limit is not tested here");
        return;
    };
    let prefix = format!("tenantry-test:{}:", uuid::Uuid::now_v7());
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(AtomicU64::new(NOW)));
    let shared = |clock: Arc<dyn Clock>| {
        let url = url.clone();
        let prefix = prefix.clone();
        move |state: &mut AppState| {
            state.tiers = TierTable::default();
            state.limiter = Arc::new(RateLimiter::redis(&url, &prefix, clock).unwrap());
        }
    };
    let first = TestApp::spawn_with(shared(clock.clone())).await;
    let second = first.another_instance(shared(clock)).await;
    let ada = first.new_user("Ada").await;
    let org = first.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let mut successes = 0;
    for i in 0..30 {
        let app = if i % 2 == 0 { &first } else { &second };
        if app.get(&path, &ada.key).await.0 == StatusCode::OK {
            successes += 1;
        }
    }
    assert_eq!(
        successes, 10,
        "the free tier's 10 per minute, across both instances"
    );
    let (_, ready) = second.get("/readyz", "").await;
    assert_eq!(ready["rateLimits"], "redis");
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_local_counting_and_says_so() {
    let app = TestApp::spawn_with(|state| {
        state.tiers = TierTable::default();
        state.limiter = Arc::new(
            RateLimiter::redis(
                "redis://127.0.0.1:1/",
                "unreachable:",
                Arc::new(FixedClock(AtomicU64::new(NOW))),
            )
            .unwrap(),
        );
    })
    .await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    for _ in 0..10 {
        assert_eq!(
            app.get(&path, &ada.key).await.0,
            StatusCode::OK,
            "the service keeps answering"
        );
    }
    assert_eq!(
        app.get(&path, &ada.key).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "and keeps limiting"
    );
    let (status, ready) = app.get("/readyz", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["rateLimits"], "local (redis unreachable)");
}

/// A `PATCH` made from the organization as this instance last changed it is counted once,
/// from what it remembered; when another instance wrote meanwhile, it is decided again from
/// a read, and still counted once.
#[tokio::test]
async fn a_change_decided_again_after_another_instance_wrote_is_counted_once() {
    let app = TestApp::spawn_with(limited(1_000)).await;
    let ada = app.new_user("Ada").await;
    let id = app.create_organization(&ada.key, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = app.organization_key(&ada.key, &id).await;
    let response = app
        .request(Method::PATCH, "/v1/organizations", ADMIN_TOKEN)
        .header("X-Organization-Id", &id)
        .json(&json!({"rate_limit_overrides": {"metadata": 4}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let path = format!("/v1/organizations/{id}");
    let patch = |name: &'static str| {
        app.request(Method::PATCH, &path, &key)
            .json(&json!({"name": name}))
            .send()
    };
    // The first is read and counted, the second made from what the first left here.
    assert_eq!(patch("One").await.unwrap().status(), StatusCode::OK);
    assert_eq!(patch("Two").await.unwrap().status(), StatusCode::OK);
    let other = app.another_instance(|_| {}).await;
    let (status, body) = other
        .patch(&path, ADMIN_TOKEN, json!({"name": "Elsewhere"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No longer as remembered: decided again from a read, and counted once in all.
    let third = patch("Three").await.unwrap();
    assert_eq!(third.status(), StatusCode::OK);
    assert_eq!(header(&third, "x-ratelimit-remaining"), "1");
    let fourth = patch("Four").await.unwrap();
    assert_eq!(fourth.status(), StatusCode::OK);
    assert_eq!(header(&fourth, "x-ratelimit-remaining"), "0");
    assert_eq!(
        patch("Five").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
