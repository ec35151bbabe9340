//! Several instances on one database: every rule holds across them exactly as on one.
//!
//! By default each instance is a separate server in this process with its own connections.
//! With `TENANTRY_TEST_INSTANCES` (CI's `.ci/instances`), they are `tenantry serve`
//! processes on one PostgreSQL and one Redis, and the rate limit is checked across them too.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry_tests::{ADMIN_TOKEN, TestApp, parse};

async fn two() -> (TestApp, TestApp) {
    if let Some((addresses, database)) = tenantry_tests::external_instances() {
        return (
            TestApp::attach(&addresses[0], &database).await,
            TestApp::attach(&addresses[1], &database).await,
        );
    }
    let first = TestApp::spawn().await;
    let second = first.another_instance(|_| {}).await;
    (first, second)
}

fn pick(apps: &(TestApp, TestApp), i: usize) -> &TestApp {
    if i.is_multiple_of(2) {
        &apps.0
    } else {
        &apps.1
    }
}

#[tokio::test]
async fn an_idempotency_key_creates_one_organization_across_instances() {
    let apps = two().await;
    let ada = apps.0.new_user("Ada").await;
    let key = format!("across-{}", uuid::Uuid::now_v7());
    let requests = (0..8).map(|i| {
        pick(&apps, i)
            .request(Method::POST, "/organization", &ada.key)
            .header("Idempotency-Key", key.as_str())
            .json(&json!({"organizationName": "Acme"}))
            .send()
    });
    let responses = join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        let (status, body) = parse(response.unwrap()).await;
        assert!(
            status == StatusCode::CREATED || status == StatusCode::CONFLICT,
            "{status} {body}"
        );
        if status == StatusCode::CREATED {
            ids.push(body["id"].clone());
        }
    }
    assert!(!ids.is_empty() && ids.windows(2).all(|w| w[0] == w[1]));
    let (_, list) = apps.1.get("/organization/list", &ada.key).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn if_match_holds_across_instances() {
    let apps = two().await;
    let ada = apps.0.new_user("Ada").await;
    let org = apps.0.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let read = apps
        .0
        .request(Method::GET, &path, &ada.key)
        .send()
        .await
        .unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        apps.1
            .put(&path, &ada.key, json!({"name": "From B"}))
            .await
            .0,
        StatusCode::OK
    );
    let stale = apps
        .0
        .request(Method::PUT, &path, &ada.key)
        .header("If-Match", etag)
        .json(&json!({"name": "Stale from A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(apps.0.get(&path, &ada.key).await.1["name"], "From B");
}

#[tokio::test]
async fn the_last_owner_and_the_user_quota_hold_across_instances() {
    let apps = two().await;
    let ada = apps.0.new_user("Ada").await;
    let bea = apps.0.new_user("Bea").await;
    let org = apps.0.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    apps.0.add_member(id, &bea.id, "owner").await;
    let paths = [&ada.id, &bea.id].map(|user| format!("/organization/{id}/member/{user}"));
    let removals = paths
        .iter()
        .enumerate()
        .map(|(i, path)| pick(&apps, i).delete(path, ADMIN_TOKEN));
    let results = join_all(removals).await;
    let statuses: Vec<_> = results.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
        "{statuses:?}"
    );

    apps.1
        .patch(
            &format!("/v1/organizations/{id}"),
            ADMIN_TOKEN,
            json!({"user_quota": 2}),
        )
        .await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(apps.0.new_user(&format!("User {i}")).await);
    }
    let path = format!("/organization/{id}/member");
    let adds = users.iter().enumerate().map(|(i, u)| {
        pick(&apps, i).post(
            &path,
            ADMIN_TOKEN,
            json!({"userId": u.id, "role": "member"}),
        )
    });
    let created = join_all(adds)
        .await
        .into_iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    assert_eq!(
        apps.1
            .get(&format!("/organization/{id}"), ADMIN_TOKEN)
            .await
            .1["memberCount"],
        2
    );
}

#[tokio::test]
async fn a_credit_cap_holds_across_instances() {
    let apps = two().await;
    let ada = apps.0.new_user("Ada").await;
    let org = apps.0.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    apps.0
        .put(
            &format!("/organization/{id}"),
            ADMIN_TOKEN,
            json!({"autoBillingEnabled": true}),
        )
        .await;
    apps.1
        .patch(
            &format!("/organization/{id}/max-overages"),
            &ada.key,
            json!({"maxOverages": 500}),
        )
        .await;
    let path = format!("/organization/{id}/usage");
    let calls = (0..200).map(|i| pick(&apps, i).post(&path, &ada.key, json!({"credits": 10})));
    let results = join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 150);
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::PAYMENT_REQUIRED)
    );
    assert_eq!(
        apps.1.get(&format!("/organization/{id}"), &ada.key).await.1["currentMonthUsage"],
        1_500
    );
}

#[tokio::test]
async fn a_rate_limit_holds_across_instance_processes() {
    if tenantry_tests::external_instances().is_none() {
        eprintln!("TENANTRY_TEST_INSTANCES is not set: see rate_limits for the shared limit");
        return;
    }
    let apps = two().await;
    let ada = apps.0.new_user("Ada").await;
    let org = apps.0.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let set = apps
        .1
        .request(Method::PATCH, "/v1/organizations", ADMIN_TOKEN)
        .header("X-Organization-Id", id)
        .json(&json!({"rate_limit_overrides": {"metadata": 10}}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let path = format!("/organization/{id}");
    let results = join_all((0..30).map(|i| pick(&apps, i).get(&path, &ada.key))).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    // A minute's window may end during the burst; then the next one allows 10 more.
    assert!(ok == 10 || ok == 20, "{ok} successes across the instances");
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS)
    );
}

/// Run by `.ci/instances`, whose processes remember keys for a minute: a revocation made
/// through one must reach the other long before that.
#[tokio::test]
async fn a_revoked_key_is_refused_by_the_other_process_at_once() {
    let Some((addresses, database)) = tenantry_tests::external_instances() else {
        return;
    };
    let first = TestApp::attach(&addresses[0], &database).await;
    let second = TestApp::attach(&addresses[1], &database).await;
    let ada = first.new_user("Ada").await;
    let (_, created) = first
        .post("/api-key", &ada.key, json!({"name": "temp"}))
        .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(second.get("/user/me", key).await.0, StatusCode::OK);
    let path = format!("/api-key/{}", created["id"].as_str().unwrap());
    assert_eq!(
        first.delete(&path, &ada.key).await.0,
        StatusCode::NO_CONTENT
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while second.get("/user/me", key).await.0 != StatusCode::UNAUTHORIZED {
        assert!(
            std::time::Instant::now() < deadline,
            "the other process still takes the revoked key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_usage_call_retried_across_instances_records_once() {
    let apps = two().await;
    let ada = apps.0.new_user("Ada").await;
    let org = apps.0.create_organization(&ada.key, "Acme").await;
    let org = org["id"].as_str().unwrap().to_owned();
    let key = format!("usage-{}", uuid::Uuid::now_v7());
    let calls = (0..40).map(|i| {
        pick(&apps, i)
            .request(
                Method::POST,
                &format!("/organization/{org}/usage"),
                &ada.key,
            )
            .header("Idempotency-Key", key.as_str())
            .json(&json!({"credits": 2}))
            .send()
    });
    let mut bodies = Vec::new();
    for response in join_all(calls).await {
        let (status, body) = parse(response.unwrap()).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::CONFLICT,
            "{status} {body}"
        );
        if status == StatusCode::OK {
            bodies.push(body);
        }
    }
    assert!(!bodies.is_empty() && bodies.windows(2).all(|w| w[0] == w[1]));
    let (_, entries) = apps
        .1
        .get(&format!("/organization/{org}/usage/entries"), &ada.key)
        .await;
    assert_eq!(entries.as_array().unwrap().len(), 1, "{entries}");
    let (_, summary) = apps
        .1
        .get(&format!("/organization/{org}/usage"), &ada.key)
        .await;
    assert_eq!(summary["used"], 2);
}

#[tokio::test]
async fn webhooks_are_sent_once_per_attempt_across_instances() {
    let apps = two().await;
    let receiver = tenantry_tests::Receiver::start();
    let (status, endpoint) = apps
        .0
        .post(
            "/webhook-endpoint",
            ADMIN_TOKEN,
            json!({"url": receiver.url, "eventTypes": ["organization.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");
    let ada = apps.0.new_user("Ada").await;
    let creations = (0..40).map(|i| pick(&apps, i).create_organization(&ada.key, "Acme"));
    let ids: std::collections::BTreeSet<String> = join_all(creations)
        .await
        .into_iter()
        .map(|org| org["id"].as_str().unwrap().to_owned())
        .collect();
    let ours = |received: &[tenantry_tests::Received]| -> Vec<String> {
        received
            .iter()
            .map(|r| r.json())
            .filter(|e| ids.contains(e["organizationId"].as_str().unwrap_or_default()))
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    receiver
        .wait_for(std::time::Duration::from_secs(20), |r| ours(r).len() >= 40)
        .await;
    // Both instances send; give a duplicate time to show.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let mut delivered = ours(&receiver.received());
    assert_eq!(delivered.len(), 40, "each event sent once");
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), 40);
    let (status, _) = apps
        .1
        .delete(
            &format!("/webhook-endpoint/{}", endpoint["id"].as_str().unwrap()),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
