//! Webhooks: every event delivered to a real receiver, signed (checked with another
//! implementation of Standard Webhooks), in order, retried, and never to a refused address.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, Answer, Received, Receiver, TestApp, assert_problem_names};

const WAIT: Duration = Duration::from_secs(10);

/// Registers an endpoint for `receiver`; answers its id and secret.
async fn register(app: &TestApp, receiver: &Receiver, types: Value) -> (String, String) {
    let (status, body) = app
        .post(
            "/webhook-endpoint",
            ADMIN_TOKEN,
            json!({"url": receiver.url, "eventTypes": types, "description": "test receiver"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Verifies a request's signature with `secret`, as a receiver using the Standard Webhooks
/// library would.
fn verify(received: &Received, secret: &str) -> Result<(), String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &received.headers {
        headers.insert(
            HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    standardwebhooks::Webhook::new(secret)
        .map_err(|e| e.to_string())?
        .verify(received.body.as_bytes(), &headers)
        .map_err(|e| e.to_string())
}

fn types_of(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn events_arrive_signed_as_the_audit_log_shows_them() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start();
    let (_, secret) = register(&app, &receiver, json!([])).await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let received = receiver.wait_for(WAIT, |r| r.len() >= 3).await;
    // Order holds within an organization (and among events of none), not across them.
    let mut types = types_of(&received);
    assert_eq!(
        types
            .iter()
            .filter(|t| t.as_str() != "organization.created")
            .collect::<Vec<_>>(),
        ["user.created", "api_key.created"]
    );
    types.sort();
    assert_eq!(
        types,
        ["api_key.created", "organization.created", "user.created"]
    );
    let (_, log) = app.get("/events", ADMIN_TOKEN).await;
    for request in &received {
        verify(request, &secret).expect("the signature verifies");
        assert!(verify(request, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        let body = request.json();
        assert_eq!(request.header("webhook-id"), body["id"].as_str().unwrap());
        assert_eq!(request.header("content-type"), "application/json");
        let logged = log
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == body["id"])
            .expect("the event is in the audit log");
        assert_eq!(&body, logged, "a webhook's body is the audit log's event");
    }
    assert!(
        received
            .iter()
            .any(|r| r.json()["organizationId"] == org["id"])
    );
}

#[tokio::test]
async fn an_endpoint_receives_only_the_types_it_asked_for_and_only_later_events() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let receiver = Receiver::start();
    register(&app, &receiver, json!(["organization.created"])).await;
    app.new_user("Bob").await;
    app.create_organization(&ada.key, "Acme").await;
    let received = receiver.wait_for(WAIT, |r| !r.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(types_of(&receiver.received()), ["organization.created"]);
    assert_eq!(received.len(), 1);
}

/// Whether each event of type `kind` of `org` is marked dispatched, oldest first.
async fn dispatched(app: &TestApp, org: &Value, kind: &str) -> Vec<bool> {
    use sea_orm::{ConnectionTrait as _, Database, Statement};
    let db = Database::connect(app.database_url.as_str()).await.unwrap();
    let backend = db.get_database_backend();
    let (kind_at, org_at) = match backend {
        sea_orm::DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let id = uuid::Uuid::parse_str(org["id"].as_str().unwrap()).unwrap();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT dispatched FROM events WHERE event_type = {kind_at} \
                 AND organization_id = {org_at} ORDER BY id"
            ),
            [kind.into(), id.into()],
        ))
        .await
        .unwrap();
    db.close().await.unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<bool>(0).unwrap())
        .collect()
}

/// An event written while no endpoint is enabled is written dispatched: there is nothing
/// to deliver it to, so the dispatcher never reads it, nor writes it again to say so. One
/// written while an endpoint is enabled waits for the dispatcher. So for events written
/// in a transaction (a creation) and with their update in one statement (a change).
#[tokio::test]
async fn an_event_is_written_dispatched_while_no_endpoint_is_enabled() {
    // The dispatcher looks once at the start, then not for an hour.
    let app = TestApp::spawn_with(|state| {
        state.webhooks.idle_poll = Duration::from_secs(3600);
    })
    .await;
    let ok = |(status, body): (StatusCode, Value)| assert_eq!(status, StatusCode::OK, "{body}");
    let ada = app.new_user("Ada").await;
    let rename = |org: &Value, name: &str| {
        let path = format!("/v1/organizations/{}", org["id"].as_str().unwrap());
        let (app, key, body) = (&app, ada.key.clone(), json!({ "name": name }));
        async move { app.patch(&path, &key, body).await }
    };
    let receiver = Receiver::start();
    let alone = app.create_organization(&ada.key, "Alone").await;
    let (endpoint, _) = register(&app, &receiver, json!(["organization.created"])).await;
    let enable = |enabled: bool| {
        let path = format!("/webhook-endpoint/{endpoint}");
        let app = &app;
        async move {
            app.patch(&path, ADMIN_TOKEN, json!({ "enabled": enabled }))
                .await
        }
    };
    let watched = app.create_organization(&ada.key, "Watched").await;
    ok(enable(false).await);
    let disabled = app.create_organization(&ada.key, "Disabled").await;
    // Each changed once the endpoint is off again.
    for org in [&alone, &watched, &disabled] {
        ok(rename(org, "Changed").await);
    }
    let created = "organization.created";
    assert_eq!(dispatched(&app, &alone, created).await, [true]);
    assert_eq!(dispatched(&app, &watched, created).await, [false]);
    assert_eq!(dispatched(&app, &disabled, created).await, [true]);
    // And one changed while the endpoint is on.
    ok(enable(true).await);
    ok(rename(&alone, "Changed again").await);
    let updated = "organization.updated";
    assert_eq!(dispatched(&app, &alone, updated).await, [true, false]);
    assert_eq!(dispatched(&app, &watched, updated).await, [true]);
    assert_eq!(dispatched(&app, &disabled, updated).await, [true]);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn each_organizations_events_arrive_in_order_even_across_a_failure() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start();
    let (endpoint, _) = register(&app, &receiver, json!(["organization.updated"])).await;
    // The first attempt fails: nothing after it may overtake it.
    receiver.script([Answer::Status(503)]);
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    for n in 0..10 {
        let (status, _) = app
            .put(
                &format!("/organization/{id}"),
                &ada.key,
                json!({"name": format!("Acme {n}")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    receiver.wait_for(WAIT, |r| !r.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "the rest wait behind the failure"
    );
    let (status, deliveries) = app
        .get(
            &format!("/webhook-endpoint/{endpoint}/deliveries?limit=100"),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let failed = deliveries
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["attempts"] == 1)
        .expect("the failed delivery")
        .clone();
    assert_eq!(failed["status"], "pending");
    assert_eq!(failed["lastStatus"], 503);
    assert!(
        failed["lastError"]
            .as_str()
            .unwrap()
            .contains("scripted answer")
    );
    assert!(failed["nextAttemptAt"].is_string());
    // The retry comes 5 s later by itself; then everything, in order.
    let received = receiver.wait_for(WAIT, |r| r.len() >= 11).await;
    let names: Vec<String> = received
        .iter()
        .map(|r| r.json()["changes"][0]["to"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = std::iter::once("Acme 0".to_owned())
        .chain((0..10).map(|n| format!("Acme {n}")))
        .collect();
    assert_eq!(names, expected);
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id")
    );
}

#[tokio::test]
async fn a_burst_is_delivered_once_each_in_order_and_every_answer_recorded() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start();
    let (endpoint, _) = register(&app, &receiver, json!(["organization.updated"])).await;
    // A few other 2xx answers among the 200s: each delivery keeps its own.
    receiver.script([
        Answer::Status(201),
        Answer::Status(202),
        Answer::Status(201),
    ]);
    let ada = app.new_user("Ada").await;
    let mut orgs = Vec::new();
    for n in 0..4 {
        let org = app.create_organization(&ada.key, &format!("Org {n}")).await;
        orgs.push(org["id"].as_str().unwrap().to_owned());
    }
    const EACH: usize = 15;
    // The organizations' changes interleave; each one's are made in order.
    let writes = orgs.iter().map(|id| {
        let (app, key) = (&app, &ada.key);
        async move {
            for n in 0..EACH {
                let (status, _) = app
                    .put(
                        &format!("/organization/{id}"),
                        key,
                        json!({"name": format!("{id} {n}")}),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK);
            }
        }
    });
    futures_util::future::join_all(writes).await;
    let total = orgs.len() * EACH;
    let received = receiver.wait_for(WAIT, |r| r.len() >= total).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), total, "each event once");
    let mut ids: Vec<String> = received.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total);
    for id in &orgs {
        let names: Vec<String> = received
            .iter()
            .map(|r| r.json())
            .filter(|e| e["organizationId"] == id.as_str())
            .map(|e| e["changes"][0]["to"].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (0..EACH).map(|n| format!("{id} {n}")).collect();
        assert_eq!(names, expected, "{id}'s events in order");
    }
    // Every answer is recorded (the last ones moments after they were received).
    let path = format!("/webhook-endpoint/{endpoint}/deliveries?limit=100");
    let mut deliveries = Vec::new();
    for _ in 0..50 {
        let (status, body) = app.get(&path, ADMIN_TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        deliveries = body.as_array().unwrap().clone();
        if deliveries.len() == total && deliveries.iter().all(|d| d["status"] == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(deliveries.len(), total);
    let mut statuses = std::collections::BTreeMap::new();
    for delivery in &deliveries {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"], 1, "{delivery}");
        assert!(delivery["deliveredAt"].is_string(), "{delivery}");
        assert!(delivery["nextAttemptAt"].is_null(), "{delivery}");
        assert!(delivery["lastError"].is_null(), "{delivery}");
        *statuses
            .entry(delivery["lastStatus"].as_u64().unwrap())
            .or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        std::collections::BTreeMap::from([(200, total - 3), (201, 2), (202, 1)])
    );
}

#[tokio::test]
async fn a_slow_endpoint_times_out_and_a_retry_sends_it_again_now() {
    let app = TestApp::spawn_with(|state| {
        state.webhooks.timeout = Duration::from_millis(300);
    })
    .await;
    let receiver = Receiver::start();
    let (endpoint, _) = register(&app, &receiver, json!(["user.created"])).await;
    receiver.script([Answer::Hang(Duration::from_secs(2))]);
    app.create_user("ada@example.com", "Ada").await;
    receiver.wait_for(WAIT, |r| r.len() == 1).await;
    let path = format!("/webhook-endpoint/{endpoint}/deliveries");
    let delivery = loop {
        let (_, deliveries) = app.get(&path, ADMIN_TOKEN).await;
        if deliveries[0]["attempts"] == 1 {
            break deliveries[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(delivery["status"], "pending");
    assert_eq!(delivery["lastStatus"], Value::Null);
    assert!(
        delivery["lastError"].as_str().unwrap().contains("time-out"),
        "{delivery}"
    );
    let (status, retried) = app
        .post(
            &format!("{path}/{}/retry", delivery["id"].as_str().unwrap()),
            ADMIN_TOKEN,
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    receiver
        .wait_for(Duration::from_secs(3), |r| r.len() == 2)
        .await;
    let delivered = loop {
        let (_, deliveries) = app.get(&path, ADMIN_TOKEN).await;
        if deliveries[0]["status"] == "delivered" {
            break deliveries[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The retry started a new round: one attempt in it, which succeeded.
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(delivered["lastStatus"], 200);
    assert!(delivered["deliveredAt"].is_string());
}

#[tokio::test]
async fn gone_disables_the_endpoint_until_it_is_enabled_again() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start();
    let (endpoint, _) = register(&app, &receiver, json!(["user.created"])).await;
    receiver.script([Answer::Status(410)]);
    app.create_user("ada@example.com", "Ada").await;
    receiver.wait_for(WAIT, |r| r.len() == 1).await;
    let path = format!("/webhook-endpoint/{endpoint}");
    let view = loop {
        let (_, view) = app.get(&path, ADMIN_TOKEN).await;
        if view["enabled"] == false {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(view["disabledReason"].as_str().unwrap().contains("410"));
    // Disabled: what happens meanwhile is not sent, then or later.
    app.create_user("bob@example.com", "Bob").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.received().len(), 1);
    let (status, view) = app
        .patch(&path, ADMIN_TOKEN, json!({"enabled": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["disabledReason"], Value::Null);
    app.create_user("cy@example.com", "Cy").await;
    let received = receiver.wait_for(WAIT, |r| r.len() == 2).await;
    assert_eq!(received[1].json()["data"]["name"], "Cy");
    let (_, deliveries) = app.get(&format!("{path}/deliveries"), ADMIN_TOKEN).await;
    let statuses: Vec<&str> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"failed"), "{deliveries}");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_its_successor() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start();
    let (endpoint, old) = register(&app, &receiver, json!(["user.created"])).await;
    let (status, rotated) = app
        .post(
            &format!("/webhook-endpoint/{endpoint}/rotate-secret"),
            ADMIN_TOKEN,
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(rotated["previousSecretExpiresAt"].is_string());
    app.create_user("ada@example.com", "Ada").await;
    let received = receiver.wait_for(WAIT, |r| r.len() == 1).await;
    assert_eq!(
        received[0].header("webhook-signature").split(' ').count(),
        2
    );
    verify(&received[0], new).expect("the new secret verifies");
    verify(&received[0], &old).expect("the old secret still verifies");
}

#[tokio::test]
async fn endpoints_are_the_platform_admins_and_bad_input_changes_nothing() {
    let app = TestApp::spawn_with(|state| state.webhooks.allow_private = false).await;
    let ada = app.new_user("Ada").await;
    let (status, _) = app
        .post(
            "/webhook-endpoint",
            &ada.key,
            json!({"url": "https://hooks.example.com/x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get("/webhook-endpoint/list", &ada.key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    for (body, field) in [
        (json!({"url": "ftp://hooks.example.com/"}), "url"),
        (
            json!({"url": "https://user:secret@hooks.example.com/"}),
            "url",
        ),
        (json!({"url": "http://127.0.0.1:9/hooks"}), "url"),
        (json!({"url": "http://[::1]:9/hooks"}), "url"),
        (json!({"url": "http://169.254.169.254/latest"}), "url"),
        (json!({"url": "http://localhost:9/hooks"}), "url"),
        (
            json!({"url": "http://10.0.0.1/", "eventTypes": ["organization.exploded"]}),
            "eventTypes",
        ),
        (
            json!({"url": "http://10.0.0.1/", "eventTypes": ["user.created", "user.created"]}),
            "eventTypes",
        ),
        (
            json!({"url": "http://10.0.0.1/", "description": "a\u{7}b"}),
            "description",
        ),
        (
            json!({"url": "http://10.0.0.1/", "secret": "mine"}),
            "secret",
        ),
    ] {
        let (status, problem) = app.post("/webhook-endpoint", ADMIN_TOKEN, body).await;
        assert_problem_names(&problem, status, field);
    }
    let (status, list) = app.get("/webhook-endpoint/list", ADMIN_TOKEN).await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));

    let missing = uuid::Uuid::now_v7();
    for path in [
        format!("/webhook-endpoint/{missing}"),
        format!("/webhook-endpoint/{missing}/deliveries"),
    ] {
        let (status, _) = app.get(&path, ADMIN_TOKEN).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, body) = app.get("/webhook-endpoint/not-an-id", ADMIN_TOKEN).await;
    assert_problem_names(&body, status, "endpoint_id");
}

#[tokio::test]
async fn endpoints_are_listed_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start();
    let (first, _) = register(&app, &receiver, json!([])).await;
    let (second, _) = register(&app, &receiver, json!(["member.added"])).await;
    let (status, list) = app.get("/webhook-endpoint/list?limit=1", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["id"], first.as_str());
    assert!(
        list[0].get("secret").is_none(),
        "a list never shows a secret"
    );
    let path = format!("/webhook-endpoint/{second}");
    let (status, view) = app
        .patch(
            &path,
            ADMIN_TOKEN,
            json!({"eventTypes": [], "description": null, "enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["eventTypes"], json!([]));
    assert_eq!(view["description"], Value::Null);
    assert_eq!(view["enabled"], false);
    let (status, problem) = app
        .patch(&path, ADMIN_TOKEN, json!({"url": "gopher://x"}))
        .await;
    assert_problem_names(&problem, status, "url");
    let (_, unchanged) = app.get(&path, ADMIN_TOKEN).await;
    assert_eq!(unchanged["url"], receiver.url.as_str());
    let (status, _) = app.delete(&path, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&path, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_requests_trace_continues_in_the_webhooks_of_its_changes() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start();
    register(&app, &receiver, json!(["user.created"])).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .request(reqwest::Method::POST, "/user", ADMIN_TOKEN)
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&json!({"email": "ada@example.com", "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    app.create_user("bob@example.com", "Bob").await;
    let received = receiver.wait_for(WAIT, |r| r.len() == 2).await;
    let parent = |r: &Received| {
        let header = r.header("traceparent");
        let parts: Vec<String> = header.split('-').map(str::to_owned).collect();
        assert_eq!(parts.len(), 4, "{header}");
        assert_eq!(parts[0], "00");
        (parts[1].clone(), parts[2].clone())
    };
    let (ada_trace, ada_span) = parent(&received[0]);
    assert_eq!(ada_trace, trace, "the caller's trace continues");
    assert_ne!(ada_span, "00f067aa0ba902b7", "as a span of its own");
    let (bob_trace, _) = parent(&received[1]);
    assert_ne!(bob_trace, trace, "a request without a trace starts one");
    assert_eq!(bob_trace.len(), 32);
}

/// Claims made at the same moment, each on its own connections (as instances make them),
/// never take the same delivery: one that another claimer took while this one was looking
/// is skipped, not taken again.
#[tokio::test]
async fn concurrent_claims_never_take_the_same_delivery() {
    const ORGANIZATIONS: usize = 600;
    const CLAIMERS: usize = 16;
    // The server's own worker makes the deliveries but sends none.
    let app = TestApp::spawn_with(|state| state.webhooks.concurrency = 0).await;
    let receiver = Receiver::start();
    register(&app, &receiver, json!(["organization.created"])).await;
    let ada = app.new_user("Ada").await;
    // One event in each organization, so that every delivery is due at once.
    for _ in 0..ORGANIZATIONS {
        app.create_organization(&ada.key, "Acme").await;
    }
    while app.store.dispatch_events(1_000).await.unwrap() > 0 {}
    let mut claimers = Vec::new();
    for _ in 0..CLAIMERS {
        let store = tenantry_storage::Store::connect(&tenantry_storage::StoreOptions::new(
            app.database_url.clone(),
        ))
        .await
        .unwrap();
        claimers.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let now = time::OffsetDateTime::now_utc();
                let claimed = store
                    .claim_deliveries(now, Duration::from_secs(3_600), 2)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return taken;
                }
                taken.extend(claimed.into_iter().map(|d| d.id.to_string()));
            }
        }));
    }
    let mut taken = Vec::new();
    for claimer in claimers {
        taken.extend(claimer.await.unwrap());
    }
    let claims = taken.len();
    taken.sort();
    taken.dedup();
    assert_eq!(claims, taken.len(), "a delivery was claimed twice");
    assert_eq!(taken.len(), ORGANIZATIONS, "every delivery was claimed");
    assert!(receiver.received().is_empty());
}
