//! What an attack on the running server found, one regression test for each finding and
//! its siblings: ambiguous requests, altered input, missing headers, slow clients.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp, TestUser, assert_problem_names, parse};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn setup() -> (TestApp, TestUser, String) {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    (app, ada, org["id"].as_str().unwrap().to_owned())
}

/// Sends `body` as raw JSON text (so that it may hold what `serde_json` would not write).
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = app
        .request(method, path, key)
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    parse(request.send().await.expect("the server answers")).await
}

#[tokio::test]
async fn a_key_repeated_in_a_body_is_a_400_naming_it_and_changes_nothing() {
    let (app, ada, org) = setup().await;
    let bob = app.new_user("Bob").await;
    let (status, body) = send_raw(
        &app,
        Method::POST,
        &format!("/organization/{org}/member"),
        &ada.key,
        &format!(
            r#"{{"userId":"{}","role":"member","role":"owner"}}"#,
            bob.id
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_problem_names(&body, status, "role");
    let (_, members) = app
        .get(&format!("/organization/{org}/member/list"), &ada.key)
        .await;
    assert_eq!(members.as_array().unwrap().len(), 1, "{members}");

    let (status, body) = send_raw(
        &app,
        Method::POST,
        &format!("/organization/{org}/usage"),
        &ada.key,
        r#"{"credits":1,"credits":900}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_problem_names(&body, status, "credits");
    let (_, detail) = app.get(&format!("/organization/{org}"), &ada.key).await;
    assert_eq!(
        detail["creditCount"], 1000,
        "nothing was recorded: {detail}"
    );

    // Nested objects too, on another surface.
    let request = app
        .request(Method::PATCH, "/v1/organizations", &ada.key)
        .header("X-Organization-Id", &org)
        .header("Content-Type", "application/json")
        .body(r#"{"metadata":{"plan":"a","plan":"b"}}"#);
    let (status, body) = parse(request.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_problem_names(&body, status, "metadata.plan");
}

#[tokio::test]
async fn metadata_numbers_come_back_as_sent_or_are_refused() {
    let (app, ada, org) = setup().await;
    let patch = |body: &'static str| {
        app.request(Method::PATCH, "/v1/organizations", &ada.key)
            .header("X-Organization-Id", &org)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let (status, body) = parse(
        patch(r#"{"metadata":{"big":123456789012345678901234567890}}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_problem_names(&body, status, "metadata.big");

    let response = patch(
        r#"{"metadata":{"id":18446744073709551615,"neg":-9223372036854775808,"pi":3.141592653589793,"small":2.5e-8}}"#,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .request(Method::GET, "/v1/organizations", &ada.key)
        .header("X-Organization-Id", &org)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    for kept in [
        "18446744073709551615",
        "-9223372036854775808",
        "3.141592653589793",
    ] {
        assert!(text.contains(kept), "{kept} in {text}");
    }
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["metadata"]["small"].as_f64(), Some(2.5e-8));
}

#[tokio::test]
async fn credentials_and_other_single_headers_sent_twice_are_a_400() {
    let (app, ada, org) = setup().await;
    let response = app
        .client
        .get(app.url(&format!("/organization/{org}")))
        .header("Authorization", format!("Bearer {}", ada.key))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    let (status, body) = parse(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_problem_names(&body, status, "Authorization");

    let other = app.create_organization(&ada.key, "Other").await;
    let request = app
        .request(Method::GET, "/v1/organizations", &ada.key)
        .header("X-Organization-Id", &org)
        .header("X-Organization-Id", other["id"].as_str().unwrap());
    let (status, body) = parse(request.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_problem_names(&body, status, "X-Organization-Id");

    let request = app
        .request(Method::POST, "/organization", &ada.key)
        .header("Idempotency-Key", "one")
        .header("Idempotency-Key", "two")
        .json(&json!({"organizationName": "Twice"}));
    let (status, body) = parse(request.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_problem_names(&body, status, "Idempotency-Key");
    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "nothing was created");
}

#[tokio::test]
async fn every_answer_says_nosniff_and_authenticated_ones_are_not_stored() {
    let (app, ada, org) = setup().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
    assert!(health.headers().get("cache-control").is_none());
    let swagger = app
        .client
        .get(app.url("/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(swagger.headers()["x-content-type-options"], "nosniff");

    for (path, key) in [
        (format!("/organization/{org}"), ada.key.as_str()),
        ("/organization/list".to_owned(), ada.key.as_str()),
        (format!("/organization/{org}"), "not-a-key"),
        ("/no/such/route".to_owned(), ada.key.as_str()),
    ] {
        let response = app.request(Method::GET, &path, key).send().await.unwrap();
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }

    // The logo keeps its own, private revalidation.
    let logo = tenantry_tests::data_url("image/png", &tenantry_tests::png_bytes());
    let (status, _) = app
        .patch(
            &format!("/v1/organizations/{org}"),
            &ada.key,
            json!({"logo": logo}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = app
        .request(Method::GET, &format!("/organization/{org}/logo"), &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_ne!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn head_is_answered_wherever_get_is() {
    let (app, ada, org) = setup().await;
    let health = app.client.head(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let response = app
        .request(Method::HEAD, &format!("/organization/{org}"), &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("etag"));
    assert!(response.bytes().await.unwrap().is_empty(), "no body");
    // Where no GET is, HEAD is not either; and Allow lists HEAD beside GET.
    let response = app
        .request(Method::HEAD, "/organization", &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = app
        .request(Method::PUT, "/organization/list", &ada.key)
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
}

#[tokio::test]
async fn a_body_trickled_slower_than_the_timeout_is_a_408() {
    let app = TestApp::spawn_with(|state| state.body_timeout = Duration::from_secs(1)).await;
    let ada = app.new_user("Ada").await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /organization HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"organ",
        ada.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            // Keep trickling a byte now and then, as a slow client would.
            let _ = stream.write_all(b" ").await;
            match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => {
                    answer.extend_from_slice(&buffer[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Err(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server answers within its body timeout");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(list, json!([]), "nothing was created");
}

#[tokio::test]
async fn if_match_compares_strongly_and_takes_lists_and_a_star() {
    let (app, ada, org) = setup().await;
    let path = format!("/v1/organizations/{org}");
    let send = |tag: &'static str, name: &'static str| {
        app.request(Method::PATCH, &path, &ada.key)
            .header("If-Match", tag)
            .json(&json!({"name": name}))
            .send()
    };
    let etag = app
        .request(Method::GET, &format!("/organization/{org}"), &ada.key)
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(etag, "\"1\"");

    let weak = send("W/\"1\"", "Weak").await.unwrap();
    assert_eq!(weak.status(), StatusCode::PRECONDITION_FAILED);
    let list = send("\"7\", \"1\"", "Listed").await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let stale_list = send("\"1\", \"9\"", "Stale").await.unwrap();
    assert_eq!(stale_list.status(), StatusCode::PRECONDITION_FAILED);
    let star = send("*", "Star").await.unwrap();
    assert_eq!(star.status(), StatusCode::OK);
    let (status, body) = parse(send("three", "Malformed").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&body, status, "If-Match");
    let (_, after) = app.get(&path, &ada.key).await;
    assert_eq!(after["name"], "Star");
}

#[tokio::test]
async fn names_must_show_something_and_hold_no_direction_override() {
    let (app, ada, org) = setup().await;
    let invisible = [
        "\u{200b}",
        "\u{feff}",
        " \u{200b} ",
        "\u{2800}",
        "abc\u{202e}gnp.exe",
        "\u{2067}Acme",
    ];
    for name in invisible {
        let checks = [
            (
                app.post("/organization", &ada.key, json!({"organizationName": name}))
                    .await,
                "organizationName",
            ),
            (
                app.post(
                    "/user",
                    ADMIN_TOKEN,
                    json!({"email": "x@example.com", "name": name}),
                )
                .await,
                "name",
            ),
            (
                app.post(
                    &format!("/organization/{org}/workspace"),
                    &ada.key,
                    json!({"name": name}),
                )
                .await,
                "name",
            ),
            (
                app.post("/api-key", &ada.key, json!({"name": name})).await,
                "name",
            ),
            (
                app.patch(
                    &format!("/v1/organizations/{org}"),
                    &ada.key,
                    json!({"name": name}),
                )
                .await,
                "name",
            ),
        ];
        for ((status, body), field) in checks {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {body}");
            assert_problem_names(&body, status, field);
        }
    }
    let (status, body) = app
        .post(
            "/organization",
            &ada.key,
            json!({"organizationName": "Café\u{200d}Zwölf"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "visible with a joiner: {body}");
    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "nothing invisible was made"
    );
}

#[test]
fn the_documented_if_match_pattern_agrees_with_the_server() {
    let document = tenantry_http::openapi_document();
    let parameters = document["paths"]["/v1/organizations/{id}"]["patch"]["parameters"]
        .as_array()
        .unwrap();
    let pattern = parameters
        .iter()
        .find(|p| p["name"] == "If-Match")
        .and_then(|p| p["schema"]["pattern"].as_str())
        .expect("If-Match has a pattern");
    let regex = regex::Regex::new(pattern).unwrap();
    for accepted in [
        "*",
        "\"3\"",
        "3",
        "W/\"3\"",
        "\"1\", \"2\"",
        "\"x\",*",
        "\"abc\"",
    ] {
        assert!(regex.is_match(accepted), "{accepted}");
    }
    for refused in ["", "three", "\"3", "W/3", "\"a b\"", "\"a,b\"", "1,,2", ","] {
        assert!(!regex.is_match(refused), "{refused}");
    }
}

#[tokio::test]
async fn credit_amounts_are_bounded_and_usage_never_overflows() {
    let (app, ada, org) = setup().await;
    let (status, body) = app
        .patch(
            &format!("/organization/{org}/max-overages"),
            ADMIN_TOKEN,
            json!({"maxOverages": 9_223_372_036_854_775_000_u64}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_problem_names(&body, status, "maxOverages");

    // Amounts stored before the bounds existed (or written by hand) still cannot make the
    // arithmetic overflow: a cap near 2^63 beside the largest allocation.
    let (status, body) = app
        .put(
            &format!("/organization/{org}"),
            ADMIN_TOKEN,
            json!({"autoBillingEnabled": true, "creditAllocation": 1_000_000_000_000_u64}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changes = tenantry_domain::OrganizationChanges {
        max_overages: Some(Some(i64::MAX as u64 - 5)),
        ..Default::default()
    };
    app.store
        .update_organization(
            org.parse().unwrap(),
            &changes,
            None,
            tenantry_domain::Actor::PlatformAdmin(None),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    for _ in 0..3 {
        let (status, body) = app
            .post(
                &format!("/organization/{org}/usage"),
                &ada.key,
                json!({"credits": 1_000_000_000_000_u64}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .post(
            &format!("/organization/{org}/usage"),
            &ada.key,
            json!({"credits": 1_000_000_000_001_u64}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_problem_names(&body, status, "credits");
}

#[tokio::test]
async fn an_inactive_organization_is_read_and_shrunk_but_not_used_or_grown() {
    let (app, ada, org) = setup().await;
    let bob = app.new_user("Bob").await;
    let cy = app.new_user("Cy").await;
    app.add_member(&org, &bob.id, "member").await;
    let org_path = format!("/organization/{org}");
    let (status, body) = app
        .put(&org_path, ADMIN_TOKEN, json!({"isActive": false}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, before) = app.get(&org_path, &ada.key).await;

    let refused = [
        app.post(
            &format!("{org_path}/usage"),
            &ada.key,
            json!({"credits": 1}),
        )
        .await,
        app.post(
            &format!("{org_path}/usage"),
            ADMIN_TOKEN,
            json!({"credits": 1}),
        )
        .await,
        app.put(&org_path, &ada.key, json!({"name": "Renamed"}))
            .await,
        app.patch(
            &format!("/v1/organizations/{org}"),
            &ada.key,
            json!({"name": "Renamed"}),
        )
        .await,
        app.post(
            &format!("{org_path}/member"),
            &ada.key,
            json!({"userId": cy.id, "role": "member"}),
        )
        .await,
        app.patch(
            &format!("{org_path}/member/{}", bob.id),
            &ada.key,
            json!({"role": "admin"}),
        )
        .await,
        app.post(
            &format!("{org_path}/workspace"),
            &ada.key,
            json!({"name": "New"}),
        )
        .await,
        app.post(
            "/api-key",
            &ada.key,
            json!({"name": "scoped", "organizationId": org}),
        )
        .await,
    ];
    for (status, body) in refused {
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["type"], "/problems/organization-inactive", "{body}");
    }
    let (status, after) = app.get(&org_path, &ada.key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, before, "nothing changed");
    assert_eq!(after["isActive"], false);

    // Shrinking it is still allowed: a member may be removed.
    let (status, _) = app
        .delete(&format!("{org_path}/member/{}", bob.id), &ada.key)
        .await;
    assert_eq!(status, StatusCode::OK);

    // The platform admin changes it, and activates it again; then it is used as before.
    let (status, body) = app
        .put(
            &org_path,
            ADMIN_TOKEN,
            json!({"isActive": true, "name": "Back"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("{org_path}/usage"),
            &ada.key,
            json!({"credits": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Found by the stateful contract tests as the platform admin: a deleted organization's
/// audit log and member list still answered 200 (the admin's access does not go through a
/// membership, which proves the organization exists for everyone else).
#[tokio::test]
async fn a_deleted_organization_is_gone_for_the_platform_admin_too() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .delete(&format!("/organization/{org}"), ADMIN_TOKEN)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for sub in [
        "",
        "/entitlements",
        "/events",
        "/logo",
        "/member/list",
        "/usage",
        "/usage/entries",
        "/workspace/list",
    ] {
        let (status, body) = app
            .get(&format!("/organization/{org}{sub}"), ADMIN_TOKEN)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET …{sub}: {body}");
    }
    // Its events stay readable where the documentation says.
    let (status, events) = app
        .get(&format!("/events?organizationId={org}"), ADMIN_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events[0]["type"], "organization.deleted");
}
