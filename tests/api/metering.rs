//! Metering you can bill from: idempotent usage, the ledger, refunds and the summary.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp, TestUser, assert_problem_names, parse};

async fn setup() -> (TestApp, TestUser, String) {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    (app, ada, org["id"].as_str().unwrap().to_owned())
}

/// Sends a usage call with an idempotency key; returns the status, the ETag and the raw
/// body.
async fn use_with_key(
    app: &TestApp,
    key: &str,
    org: &str,
    idempotency: &str,
    body: Value,
) -> (StatusCode, Option<String>, String) {
    let response = app
        .request(Method::POST, &format!("/organization/{org}/usage"), key)
        .header("Idempotency-Key", idempotency)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, etag, response.text().await.unwrap())
}

/// Every ledger entry of the organization, newest first, following `Link` to the end.
async fn all_entries(app: &TestApp, key: &str, org: &str, query: &str) -> Vec<Value> {
    let mut url = format!("/organization/{org}/usage/entries?limit=1000{query}");
    let mut entries = Vec::new();
    loop {
        let response = app.request(Method::GET, &url, key).send().await.unwrap();
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let (status, body) = parse(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        entries.extend(body.as_array().unwrap().iter().cloned());
        match link {
            Some(link) => {
                url = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned();
            }
            None => return entries,
        }
    }
}

async fn summary(app: &TestApp, key: &str, org: &str) -> Value {
    let (status, body) = app.get(&format!("/organization/{org}/usage"), key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_retried_usage_call_answers_as_the_first_and_records_once() {
    let (app, ada, org) = setup().await;
    let body = json!({"credits": 40, "category": "search"});
    let first = use_with_key(&app, &ada.key, &org, "job-1", body.clone()).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.2);
    let retry = use_with_key(&app, &ada.key, &org, "job-1", body.clone()).await;
    assert_eq!(retry, first, "status, ETag and body byte for byte");
    let other_body = use_with_key(&app, &ada.key, &org, "job-1", json!({"credits": 41})).await;
    assert_eq!(other_body.0, StatusCode::CONFLICT, "{}", other_body.2);

    let entries = all_entries(&app, &ada.key, &org, "").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["idempotencyKey"], "job-1");
    assert_eq!(entries[0]["credits"], 40);
    assert_eq!(entries[0]["category"], "search");
    assert_eq!(entries[0]["actor"], json!({"kind": "user", "id": ada.id}));
    assert_eq!(summary(&app, &ada.key, &org).await["used"], 40);

    // The key is the organization's: the same key elsewhere is another call.
    let other = app.create_organization(&ada.key, "Other").await;
    let other = other["id"].as_str().unwrap();
    let elsewhere = use_with_key(&app, &ada.key, other, "job-1", body).await;
    assert_eq!(elsewhere.0, StatusCode::OK);
    assert_ne!(elsewhere.2, first.2);

    // A malformed or repeated key is refused and records nothing.
    let (status, problem) = parse(
        app.request(
            Method::POST,
            &format!("/organization/{org}/usage"),
            &ada.key,
        )
        .header("Idempotency-Key", "x".repeat(256))
        .json(&json!({"credits": 1}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&problem, status, "Idempotency-Key");
    assert_eq!(all_entries(&app, &ada.key, &org, "").await.len(), 1);
}

#[tokio::test]
async fn two_hundred_concurrent_calls_sharing_one_key_record_once() {
    let (app, ada, org) = setup().await;
    let calls =
        (0..200).map(|_| use_with_key(&app, &ada.key, &org, "the-same-job", json!({"credits": 3})));
    let answers = join_all(calls).await;
    let bodies: Vec<&String> = answers
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::OK)
        .map(|(_, _, body)| body)
        .collect();
    assert!(!bodies.is_empty());
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every success is the first answer"
    );
    for (status, _, body) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "{status} {body}"
        );
    }
    assert_eq!(all_entries(&app, &ada.key, &org, "").await.len(), 1);
    assert_eq!(summary(&app, &ada.key, &org).await["used"], 3);
}

#[tokio::test]
async fn the_ledger_adds_up_to_the_usage_after_concurrent_calls_retries_and_refunds() {
    let (app, ada, org) = setup().await;
    let (status, _) = app
        .put(
            &format!("/organization/{org}"),
            ADMIN_TOKEN,
            json!({"creditAllocation": 1_000_000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let callers = (0..200u64).map(|i| {
        let app = &app;
        let ada = &ada;
        let org = &org;
        async move {
            let key = format!("call-{i}");
            let category = ["search", "upload", "compute"][(i % 3) as usize];
            let body = json!({"credits": 1 + i % 7, "category": category});
            let (status, _, first) = use_with_key(app, &ada.key, org, &key, body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{first}");
            // A retry, as after a timeout.
            let (status, _, again) = use_with_key(app, &ada.key, org, &key, body).await;
            assert_eq!((status, &again), (StatusCode::OK, &first));
            if i % 4 == 0 {
                let entry: Value = serde_json::from_str(&first).unwrap();
                let (status, refund) = app
                    .post(
                        &format!(
                            "/organization/{org}/usage/{}/refund",
                            entry["entryId"].as_str().unwrap()
                        ),
                        &ada.key,
                        json!({"credits": 1}),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{refund}");
            }
        }
    });
    join_all(callers).await;
    let expected: u64 = (0..200u64).map(|i| 1 + i % 7).sum::<u64>() - 50;
    let entries = all_entries(&app, &ada.key, &org, "").await;
    assert_eq!(entries.len(), 250, "one entry per call and per refund");
    let total: i64 = entries.iter().map(|e| e["credits"].as_i64().unwrap()).sum();
    let summary = summary(&app, &ada.key, &org).await;
    assert_eq!(summary["used"], expected);
    assert_eq!(total as u64, expected, "the ledger adds up to the usage");
    let by_category = &summary["byCategory"];
    let categories: i64 = ["search", "upload", "compute"]
        .iter()
        .map(|c| by_category[c].as_i64().unwrap())
        .sum();
    assert_eq!(categories as u64, expected);
    let (_, detail) = app.get(&format!("/organization/{org}"), &ada.key).await;
    assert_eq!(detail["currentMonthUsage"], expected);
}

#[tokio::test]
async fn refunds_give_back_at_most_an_entrys_credits() {
    let (app, ada, org) = setup().await;
    let bob = app.new_user("Bob").await;
    app.add_member(&org, &bob.id, "member").await;
    let (status, used) = app
        .post(
            &format!("/organization/{org}/usage"),
            &ada.key,
            json!({"credits": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let entry = used["entryId"].as_str().unwrap().to_owned();
    let refund_path = format!("/organization/{org}/usage/{entry}/refund");

    let (status, problem) = app.post(&refund_path, &bob.key, json!({})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "members do not refund: {problem}"
    );
    let (status, refund) = app
        .post(&refund_path, &ada.key, json!({"credits": 4}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{refund}");
    assert_eq!(refund["entry"]["credits"], -4);
    assert_eq!(refund["entry"]["refundOf"], entry);
    assert_eq!(refund["currentMonthUsage"], 6);
    let (status, problem) = app
        .post(&refund_path, &ada.key, json!({"credits": 7}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "beyond what is left: {problem}"
    );
    for (body, field) in [
        (json!({"credits": 0}), "credits"),
        (json!({"credits": null}), "credits"),
        (json!({"credits": "all"}), "credits"),
    ] {
        let (status, problem) = app.post(&refund_path, &ada.key, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_problem_names(&problem, status, field);
    }

    // Concurrent refunds of one credit each: exactly what is left goes back.
    let attempts = (0..20).map(|_| app.post(&refund_path, &ada.key, json!({"credits": 1})));
    let outcomes = join_all(attempts).await;
    let granted = outcomes
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(granted, 6, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT)
    );
    assert_eq!(summary(&app, &ada.key, &org).await["used"], 0);

    // Nothing left, a refund of a refund, an unknown entry, another organization's entry.
    let (status, _) = app.post(&refund_path, &ada.key, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let refund_id = refund["entry"]["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/organization/{org}/usage/{refund_id}/refund"),
            &ada.key,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post(
            &format!("/organization/{org}/usage/{}/refund", uuid::Uuid::now_v7()),
            &ada.key,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = app.create_organization(&ada.key, "Other").await;
    let other = other["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/organization/{other}/usage/{entry}/refund"),
            &ada.key,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .post(
            &format!("/organization/{org}/usage/not-an-id/refund"),
            &ada.key,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&problem, status, "entry_id");
}

#[tokio::test]
async fn an_earlier_cycle_is_read_from_the_ledger_and_its_entries_are_not_refunded() {
    let (app, ada, org) = setup().await;
    let organization = app.store.organization(org.parse().unwrap()).await.unwrap();
    let last_month = time::OffsetDateTime::now_utc() - time::Duration::days(40);
    let recorded = app
        .store
        .record_usage(
            &organization,
            &tenantry_storage::NewUsage {
                credits: 70,
                category: tenantry_domain::UsageCategory::Upload,
                actor: tenantry_domain::Actor::PlatformAdmin(None),
                idempotency: None,
            },
            &tenantry_domain::TierTable::default(),
            last_month,
            |_, _| unreachable!(),
        )
        .await
        .unwrap();
    let tenantry_storage::Recorded::New { entry, .. } = recorded else {
        panic!("recorded")
    };
    let cycle = entry.cycle_start.to_string();
    let (status, problem) = app
        .post(
            &format!("/organization/{org}/usage/{}/refund", entry.id),
            &ada.key,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a closed bill: {problem}");
    assert!(problem["detail"].as_str().unwrap().contains("ended"));

    let (status, earlier) = app
        .get(
            &format!("/organization/{org}/usage?cycle={cycle}"),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{earlier}");
    assert_eq!(earlier["used"], 70);
    assert_eq!(earlier["byCategory"]["upload"], 70);
    assert_eq!(earlier["cycleStart"], cycle);
    let current = summary(&app, &ada.key, &org).await;
    assert_eq!(current["used"], 0, "a new cycle starts from zero");
    assert_ne!(current["cycleStart"], cycle);

    let entries = all_entries(&app, &ada.key, &org, &format!("&cycle={cycle}")).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor"], json!({"kind": "admin", "id": null}));
    let current_start = current["cycleStart"].as_str().unwrap();
    assert!(
        all_entries(&app, &ada.key, &org, &format!("&cycle={current_start}"))
            .await
            .is_empty()
    );

    for query in [
        "cycle=yesterday",
        "cycle=2999-01-01",
        "cycle=2020-01-17",
        "week=1",
    ] {
        let (status, problem) = app
            .get(&format!("/organization/{org}/usage?{query}"), &ada.key)
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        let name = query.split('=').next().unwrap();
        assert_problem_names(&problem, status, name);
    }
}

#[tokio::test]
async fn entries_page_newest_first_filter_and_are_for_managers() {
    let (app, ada, org) = setup().await;
    let bob = app.new_user("Bob").await;
    app.add_member(&org, &bob.id, "member").await;
    let mut ids = Vec::new();
    for (credits, category) in [(1, "search"), (2, "upload"), (3, "search"), (4, "compute")] {
        let (status, body) = app
            .post(
                &format!("/organization/{org}/usage"),
                &bob.key,
                json!({"credits": credits, "category": category}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["entryId"].clone());
    }
    // Refused calls write nothing: over the allocation, invalid, not allowed.
    for (key, body, expected) in [
        (
            &bob.key,
            json!({"credits": 1_000_000}),
            StatusCode::PAYMENT_REQUIRED,
        ),
        (
            &bob.key,
            json!({"credits": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &bob.key,
            json!({"credits": 1, "category": "metadata"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, problem) = app
            .post(&format!("/organization/{org}/usage"), key, body)
            .await;
        assert_eq!(status, expected, "{problem}");
    }

    let (status, _) = app
        .get(&format!("/organization/{org}/usage/entries"), &bob.key)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a member reads the summary only"
    );
    assert_eq!(summary(&app, &bob.key, &org).await["used"], 10);

    let page = app
        .request(
            Method::GET,
            &format!("/organization/{org}/usage/entries?limit=3"),
            &ada.key,
        )
        .send()
        .await
        .unwrap();
    let link = page.headers()["link"].to_str().unwrap().to_owned();
    let (_, first) = parse(page).await;
    let first: Vec<Value> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(first, vec![ids[3].clone(), ids[2].clone(), ids[1].clone()]);
    assert!(
        link.contains("limit=3") && link.contains("cursor="),
        "{link}"
    );
    let all = all_entries(&app, &ada.key, &org, "").await;
    assert_eq!(all.len(), 4);
    assert_eq!(all[0]["actor"], json!({"kind": "user", "id": bob.id}));

    let searches = all_entries(&app, &ada.key, &org, "&category=search").await;
    assert_eq!(searches.len(), 2);
    let far = all_entries(
        &app,
        &ada.key,
        &org,
        "&from=2999-01-01T00:00:00Z&to=2999-12-31T00:00:00Z",
    )
    .await;
    assert!(far.is_empty());
    let (_, body) = app
        .get(
            &format!("/organization/{org}/usage/entries?limit=1000"),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(
        body.as_array().unwrap().len(),
        4,
        "the platform admin reads them"
    );

    for (query, field) in [
        ("from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", "from"),
        ("category=metadata", "category"),
        ("cycle=soon", "cycle"),
        ("to=yesterday", "to"),
        ("limit=5000", "limit"),
        ("order=asc", "order"),
    ] {
        let (status, problem) = app
            .get(
                &format!("/organization/{org}/usage/entries?{query}"),
                &ada.key,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_problem_names(&problem, status, field);
    }
}

#[tokio::test]
async fn idempotency_keys_are_kept_forty_days_then_pruned() {
    let (app, ada, org) = setup().await;
    let organization = app.store.organization(org.parse().unwrap()).await.unwrap();
    let at = |days: i64| time::OffsetDateTime::now_utc() - time::Duration::days(days);
    for (key, days) in [("old", 41), ("recent", 39)] {
        app.store
            .record_usage(
                &organization,
                &tenantry_storage::NewUsage {
                    credits: 1,
                    category: tenantry_domain::UsageCategory::Compute,
                    actor: tenantry_domain::Actor::User(ada.id.parse().unwrap()),
                    idempotency: Some((key.to_owned(), "fingerprint".to_owned())),
                },
                &tenantry_domain::TierTable::default(),
                at(days),
                |_, _| tenantry_storage::StoredResponse {
                    status: 200,
                    headers: Vec::new(),
                    body: "{}".into(),
                },
            )
            .await
            .unwrap();
    }
    let retention =
        time::Duration::try_from(tenantry_http::maintenance::IDEMPOTENCY_RETENTION).unwrap();
    let removed = app
        .store
        .prune_idempotency_keys(time::OffsetDateTime::now_utc() - retention, 1)
        .await
        .unwrap();
    assert_eq!(removed, 1, "only the key older than forty days");
    // The recent key still replays; the pruned one is a new call.
    let recent = use_with_key(&app, &ada.key, &org, "recent", json!({"credits": 1})).await;
    assert_eq!(
        recent.0,
        StatusCode::CONFLICT,
        "kept: another request's key"
    );
    let old = use_with_key(&app, &ada.key, &org, "old", json!({"credits": 1})).await;
    assert_eq!(old.0, StatusCode::OK, "{}", old.2);
}
