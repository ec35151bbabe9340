//! Events: every write leaves one in the audit log, with its actor and changes; a rejected
//! one leaves none.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp, assert_problem_names, data_url, parse, png_bytes};

/// Every event, newest first (as the platform admin reads them).
async fn all_events(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/events?limit=1000", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

/// The newest event, which must be of `kind`.
async fn newest(app: &TestApp, kind: &str) -> Value {
    let events = all_events(app).await;
    let event = events.first().expect("an event").clone();
    assert_eq!(event["type"], kind, "{event:#}");
    event
}

fn actor(kind: &str, id: Option<&str>) -> Value {
    json!({"kind": kind, "id": id})
}

#[tokio::test]
async fn every_write_route_leaves_its_event_with_its_actor_and_changes() {
    let app = TestApp::spawn().await;

    let (status, user) = app
        .post(
            "/user",
            ADMIN_TOKEN,
            json!({"email": "ada@example.com", "name": "Ada"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ada = user["id"].as_str().unwrap().to_owned();
    let event = newest(&app, "user.created").await;
    assert_eq!(event["actor"], actor("admin", None));
    assert_eq!(event["organizationId"], Value::Null);
    assert_eq!(
        event["data"],
        json!({"id": ada, "email": "ada@example.com", "name": "Ada"})
    );
    assert_eq!(event["changes"], json!([]));

    let (status, key) = app
        .post(
            "/api-key",
            ADMIN_TOKEN,
            json!({"name": "laptop", "userId": ada}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ada_key = key["key"].as_str().unwrap().to_owned();
    let event = newest(&app, "api_key.created").await;
    assert_eq!(event["data"]["id"], key["id"]);
    assert_eq!(event["data"]["scope"], "user");
    assert!(
        !event.to_string().contains(&ada_key[8..]),
        "the secret leaked: {event}"
    );

    let org = app.create_organization(&ada_key, "Acme").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let event = newest(&app, "organization.created").await;
    assert_eq!(event["actor"], actor("user", Some(&ada)));
    assert_eq!(event["organizationId"], id.as_str());
    assert_eq!(event["data"]["name"], "Acme");
    assert_eq!(event["data"]["plan"], "pilot");

    // Each surface's update names its changes in the management API's spelling.
    let (status, _) = app
        .put(
            &format!("/organization/{id}"),
            &ada_key,
            json!({"name": "Acme Two", "domain": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let event = newest(&app, "organization.updated").await;
    assert_eq!(event["actor"], actor("user", Some(&ada)));
    assert_eq!(
        event["changes"],
        json!([{"field": "name", "from": "Acme", "to": "Acme Two"}]),
        "an unchanged field is not listed"
    );
    let (status, _) = app
        .patch(
            &format!("/organization/{id}/max-overages"),
            &ada_key,
            json!({"maxOverages": 50}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let event = newest(&app, "organization.updated").await;
    assert_eq!(
        event["changes"],
        json!([{"field": "maxOverages", "from": 0, "to": 50}])
    );
    let (status, _) = app
        .patch(
            &format!("/v1/organizations/{id}"),
            ADMIN_TOKEN,
            json!({"plan": "suite", "user_quota": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let event = newest(&app, "organization.updated").await;
    assert_eq!(event["actor"], actor("admin", None));
    assert_eq!(
        event["changes"],
        json!([
            {"field": "plan", "from": "pilot", "to": "suite"},
            {"field": "userQuota", "from": 25, "to": 30},
        ])
    );
    let logo = png_bytes();
    let (status, _) = app
        .patch(
            &format!("/v1/organizations/{id}"),
            &ada_key,
            json!({"logo": data_url("image/png", &logo)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let event = newest(&app, "organization.updated").await;
    assert_eq!(
        event["changes"],
        json!([{"field": "logo", "from": null, "to": {"type": "image/png", "size": logo.len()}}])
    );
    let response = app
        .request(Method::PATCH, "/v1/organizations", &ada_key)
        .header("X-Organization-Id", &id)
        .json(&json!({"default_llm_credentials": {"openai": "vault-openai"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let event = newest(&app, "organization.updated").await;
    assert_eq!(
        event["changes"],
        json!([{"field": "defaultLlmCredentials", "from": [], "to": ["openai"]}])
    );
    assert!(!event.to_string().contains("vault-openai"));

    // Members.
    let bob = app.new_user("Bob").await;
    let (status, _) = app
        .post(
            &format!("/organization/{id}/member"),
            &ada_key,
            json!({"userId": bob.id, "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let event = newest(&app, "member.added").await;
    assert_eq!(event["organizationId"], id.as_str());
    assert_eq!(event["data"]["userId"], bob.id.as_str());
    assert_eq!(event["data"]["role"], "member");
    let (status, _) = app
        .patch(
            &format!("/organization/{id}/member/{}", bob.id),
            &ada_key,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let event = newest(&app, "member.role_changed").await;
    assert_eq!(
        event["changes"],
        json!([{"field": "role", "from": "member", "to": "admin"}])
    );

    // Workspaces.
    let (status, workspace) = app
        .post(
            &format!("/organization/{id}/workspace"),
            &bob.key,
            json!({"name": "Lab"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let event = newest(&app, "workspace.created").await;
    assert_eq!(event["actor"], actor("user", Some(&bob.id)));
    assert_eq!(event["data"], json!({"id": workspace["id"], "name": "Lab"}));
    let (status, _) = app
        .delete(
            &format!(
                "/organization/{id}/workspace/{}",
                workspace["id"].as_str().unwrap()
            ),
            &ada_key,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    newest(&app, "workspace.deleted").await;

    // An organization key, as its own actor, then revoked.
    let (status, org_key) = app
        .post(
            "/api-key",
            &ada_key,
            json!({"name": "ci", "organizationId": id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let event = newest(&app, "api_key.created").await;
    assert_eq!(event["organizationId"], id.as_str());
    let (status, _) = app
        .delete(
            &format!("/api-key/{}", org_key["id"].as_str().unwrap()),
            &ada_key,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let event = newest(&app, "api_key.revoked").await;
    assert_eq!(event["data"]["id"], org_key["id"]);
    assert_eq!(event["organizationId"], id.as_str());

    let (status, _) = app
        .delete(&format!("/organization/{id}/member/{}", bob.id), &ada_key)
        .await;
    assert_eq!(status, StatusCode::OK);
    let event = newest(&app, "member.removed").await;
    assert_eq!(event["data"]["role"], "admin");

    // The organization goes; its log stays, for the platform admin.
    let (status, _) = app.delete(&format!("/organization/{id}"), &ada_key).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let event = newest(&app, "organization.deleted").await;
    assert_eq!(event["data"]["name"], "Acme Two");
    let (status, log) = app
        .get(&format!("/events?organizationId={id}"), ADMIN_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK);
    let types: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "organization.deleted",
            "member.removed",
            "api_key.revoked",
            "api_key.created",
            "workspace.deleted",
            "workspace.created",
            "member.role_changed",
            "member.added",
            "organization.updated",
            "organization.updated",
            "organization.updated",
            "organization.updated",
            "organization.updated",
            "organization.created",
        ]
    );
}

#[tokio::test]
async fn a_rejected_request_leaves_no_event() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap().to_owned();
    app.add_member(&id, &bob.id, "member").await;
    let before = all_events(&app).await;

    let rejected: Vec<(Method, String, &str, Value, StatusCode)> = vec![
        // Invalid, forbidden, conflicting, stale, unaffordable, unknown.
        (
            Method::POST,
            "/user".into(),
            ADMIN_TOKEN,
            json!({"email": "ada@example.com", "name": "Ada again"}),
            StatusCode::CONFLICT,
        ),
        (
            Method::POST,
            "/user".into(),
            ADMIN_TOKEN,
            json!({"email": "not an email", "name": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PUT,
            format!("/organization/{id}"),
            &bob.key,
            json!({"name": "Mine"}),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::PUT,
            format!("/organization/{id}"),
            &ada.key,
            json!({"plan": "suite"}),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::PATCH,
            format!("/v1/organizations/{id}"),
            ADMIN_TOKEN,
            json!({"user_quota": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            format!("/organization/{id}/usage"),
            &bob.key,
            json!({"credits": 1_000_000}),
            StatusCode::PAYMENT_REQUIRED,
        ),
        (
            Method::DELETE,
            format!("/organization/{id}/member/{}", ada.id),
            &ada.key,
            json!(null),
            StatusCode::CONFLICT,
        ),
        (
            Method::POST,
            format!("/organization/{id}/member"),
            &ada.key,
            json!({"userId": bob.id, "role": "member"}),
            StatusCode::CONFLICT,
        ),
        (
            Method::DELETE,
            format!("/organization/{id}"),
            &bob.key,
            json!(null),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::DELETE,
            format!("/api-key/{}", uuid::Uuid::now_v7()),
            ADMIN_TOKEN,
            json!(null),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, path, key, body, expected) in rejected {
        let mut request = app.request(method.clone(), &path, key);
        if !body.is_null() {
            request = request.json(&body);
        }
        let (status, answer) = parse(request.send().await.unwrap()).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
    }
    // A stale If-Match.
    let response = app
        .request(Method::PUT, &format!("/organization/{id}"), &ada.key)
        .header("If-Match", "\"999\"")
        .json(&json!({"name": "Stale"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(all_events(&app).await, before);
}

#[tokio::test]
async fn the_audit_log_filters_pages_and_is_for_managers_only() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let acme = app.create_organization(&ada.key, "Acme").await;
    let acme = acme["id"].as_str().unwrap().to_owned();
    let other = app.create_organization(&bob.key, "Other").await;
    let other = other["id"].as_str().unwrap().to_owned();
    app.add_member(&acme, &bob.id, "member").await;
    for name in ["One", "Two", "Three"] {
        let (status, _) = app
            .put(
                &format!("/organization/{acme}"),
                &ada.key,
                json!({"name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let path = format!("/organization/{acme}/events");

    // Only this organization's events, newest first.
    let (status, log) = app.get(&path, &ada.key).await;
    assert_eq!(status, StatusCode::OK);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 5, "{log:#?}");
    assert!(log.iter().all(|e| e["organizationId"] == acme.as_str()));
    assert_eq!(log[0]["changes"][0]["to"], "Three");

    // Filters: type (repeatable), actor, a time window.
    let (_, added) = app
        .get(
            &format!("{path}?type=member.added&type=organization.created"),
            &ada.key,
        )
        .await;
    assert_eq!(added.as_array().unwrap().len(), 2);
    let (_, by_admin) = app.get(&format!("{path}?actor=admin"), &ada.key).await;
    assert_eq!(by_admin.as_array().unwrap().len(), 1);
    assert_eq!(by_admin[0]["type"], "member.added");
    let (_, by_ada) = app.get(&format!("{path}?actor={}", ada.id), &ada.key).await;
    assert_eq!(by_ada.as_array().unwrap().len(), 4);
    let (_, future) = app
        .get(&format!("{path}?from=2999-01-01T00:00:00Z"), &ada.key)
        .await;
    assert_eq!(future, json!([]));

    // Paging follows Link to the end, each event once, with the filters kept.
    let mut seen = Vec::new();
    let mut next = Some(format!("{path}?limit=2&type=organization.updated"));
    while let Some(page) = next.take() {
        let response = app
            .request(Method::GET, &page, &ada.key)
            .send()
            .await
            .unwrap();
        next = response.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            link[link.find('<').unwrap() + 1..link.find('>').unwrap()].to_owned()
        });
        let (status, body) = parse(response).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
        seen.extend(body.as_array().unwrap().iter().map(|e| e["id"].clone()));
    }
    assert_eq!(seen.len(), 3);

    // Who may read: owners, admins and the platform admin; not members or others.
    let (status, _) = app.get(&path, &bob.key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .get(&format!("/organization/{other}/events"), &ada.key)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/events", &ada.key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&path, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK);

    // Bad input is named.
    for (query, field) in [
        ("type=organization.exploded", "type"),
        ("actor=bob", "actor"),
        ("from=yesterday", "from"),
        ("from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", "from"),
        ("limit=0", "limit"),
        ("cursor=3", "cursor"),
        ("sort=asc", "sort"),
    ] {
        let (status, body) = app.get(&format!("{path}?{query}"), &ada.key).await;
        assert_problem_names(&body, status, field);
    }
    let (status, body) = app.get("/events?organizationId=acme", ADMIN_TOKEN).await;
    assert_problem_names(&body, status, "organizationId");
    // A cursor past the end is an empty page.
    let (status, body) = app
        .get(&format!("{path}?cursor={}", uuid::Uuid::nil()), &ada.key)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn usage_thresholds_are_announced_once_each_per_cycle() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .put(
            &format!("/organization/{id}"),
            ADMIN_TOKEN,
            json!({"autoBillingEnabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .patch(
            &format!("/organization/{id}/max-overages"),
            &ada.key,
            json!({"maxOverages": 100}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let usage = format!("/organization/{id}/usage");
    let thresholds = || async {
        let (_, log) = app
            .get(
                &format!("/organization/{id}/events?type=usage.threshold_reached"),
                &ada.key,
            )
            .await;
        log.as_array()
            .unwrap()
            .iter()
            .rev()
            .map(|e| e["data"]["threshold"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (status, first) = app.post(&usage, &ada.key, json!({"credits": 799})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(thresholds().await.is_empty());
    let (status, _) = app.post(&usage, &ada.key, json!({"credits": 1})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(thresholds().await, ["allocation_80"]);
    let event = newest(&app, "usage.threshold_reached").await;
    assert_eq!(event["actor"], actor("user", Some(&ada.id)));
    assert_eq!(event["data"]["allocation"], 1000);
    assert_eq!(event["data"]["used"], 800);

    // Refunded below 80% and crossing it again: still once.
    let (status, _) = app
        .post(
            &format!("{usage}/{}/refund", first["entryId"].as_str().unwrap()),
            &ada.key,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app.post(&usage, &ada.key, json!({"credits": 900})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(thresholds().await, ["allocation_80"]);

    // One call past the allocation and to the cap crosses both at once.
    let (status, _) = app.post(&usage, &ada.key, json!({"credits": 199})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        thresholds().await,
        ["allocation_80", "allocation_100", "overage_cap"]
    );
}

#[tokio::test]
async fn events_past_their_retention_are_pruned_in_batches() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    app.create_organization(&ada.key, "Acme").await;
    let count = all_events(&app).await.len();
    assert_eq!(count, 3, "a user, their key, an organization");
    // Nothing is old enough yet.
    tenantry_http::maintenance::prune(&app.store, std::time::Duration::from_secs(3600)).await;
    assert_eq!(all_events(&app).await.len(), count);
    // With everything past its time, in batches of two.
    let later = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let removed = app.store.prune_events(later, 2).await.unwrap();
    assert_eq!(removed, count as u64);
    assert!(all_events(&app).await.is_empty());
}

#[tokio::test]
async fn concurrent_updates_each_tell_the_truth_about_from_and_to() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Name 0").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let path = format!("/organization/{id}");
    let writes = (1..=20).map(|n| app.put(&path, &ada.key, json!({"name": format!("Name {n}")})));
    for (status, body) in futures_util::future::join_all(writes).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, log) = app
        .get(
            &format!("/organization/{id}/events?type=organization.updated"),
            &ada.key,
        )
        .await;
    let mut log = log.as_array().unwrap().clone();
    log.reverse();
    assert_eq!(log.len(), 20);
    // Oldest first, each change starts where the one before it ended.
    let mut name = json!("Name 0");
    for (version, event) in (2..).zip(log.iter()) {
        let change = &event["changes"][0];
        assert_eq!(change["from"], name, "{log:#?}");
        name = change["to"].clone();
        assert_eq!(event["data"]["version"], version);
    }
    let (_, now) = app.get(&path, &ada.key).await;
    assert_eq!(now["name"], name);
}
