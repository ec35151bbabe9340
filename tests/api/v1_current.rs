//! The current-organization API (`/v1/organizations`), field by field.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp, TestUser, assert_problem_names, parse};

/// An owner, their organization's id, and the app.
async fn setup() -> (TestApp, TestUser, String) {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    (app, ada, org["id"].as_str().unwrap().to_owned())
}

async fn get(app: &TestApp, key: &str, org: &str) -> (StatusCode, Value) {
    let request = app
        .request(Method::GET, "/v1/organizations", key)
        .header("X-Organization-Id", org);
    parse(request.send().await.unwrap()).await
}

async fn patch(app: &TestApp, key: &str, org: &str, body: Value) -> (StatusCode, Value) {
    let request = app
        .request(Method::PATCH, "/v1/organizations", key)
        .header("X-Organization-Id", org)
        .json(&body);
    parse(request.send().await.unwrap()).await
}

fn is_date_time(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

#[tokio::test]
async fn the_seed_example_request_is_answered_with_every_documented_field() {
    let (app, ada, org) = setup().await;
    let example = json!({
        "organization_name": "Acme Research",
        "logo_url": "https://cdn.acme.example/logo.png",
        "billing_email": "jsmith@example.com",
        "notifications_email": "jsmith@example.com",
        "metadata": {},
        "rate_limit_overrides": {"metadata": 10, "data": 10, "search": 10, "upload": 10, "compute": 10},
        "default_llm_credentials": {},
        "nsfw_check_enabled": true,
        "nsfw_fail_closed": true
    });
    let (status, body) = patch(&app, ADMIN_TOKEN, &org, example).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["organization_id"], org.as_str());
    assert_eq!(body["organization_name"], "Acme Research");
    assert_eq!(body["account_type"], "free");
    assert!(body["credit_count"].is_u64());
    assert_eq!(
        body["rate_limits"],
        json!({"metadata": 10, "data": 10, "search": 10, "upload": 10, "compute": 10})
    );
    assert!(is_date_time(&body["created_at"]) && is_date_time(&body["updated_at"]));
    assert_eq!(body["logo_url"], "https://cdn.acme.example/logo.png");
    assert_eq!(body["metadata"], json!({}));
    assert_eq!(body["billing_email"], "jsmith@example.com");
    assert_eq!(body["notifications_email"], "jsmith@example.com");
    assert_eq!(body["auto_billing_enabled"], false);
    assert_eq!(body["billing_cycle_start"], 1);
    assert_eq!(body["current_month_usage"], 0);
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["user_id"], ada.id.as_str());
    assert_eq!(users[0]["role"], "owner");
    assert_eq!(body["auth_provider_org_id"], Value::Null);
    assert_eq!(body["default_llm_credentials"], json!({}));
    assert_eq!(body["api_url"], Value::Null);
    let mut fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "account_type",
            "api_url",
            "auth_provider_org_id",
            "auto_billing_enabled",
            "billing_cycle_start",
            "billing_email",
            "created_at",
            "credit_count",
            "current_month_usage",
            "default_llm_credentials",
            "logo_url",
            "metadata",
            "notifications_email",
            "organization_id",
            "organization_name",
            "rate_limits",
            "updated_at",
            "users"
        ]
    );
    let (status, read) = get(&app, &ada.key, &org).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, body);
}

#[tokio::test]
async fn the_organization_comes_from_the_key_or_the_header() {
    let (app, ada, org) = setup().await;
    let org_key = &app.organization_key(&ada.key, &org).await;
    let (status, body) = app.get("/v1/organizations", org_key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["organization_id"], org.as_str());

    let (status, problem) = app.get("/v1/organizations", &ada.key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("X-Organization-Id"),
        "{problem}"
    );
    let (status, problem) = get(&app, &ada.key, "not-a-uuid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&problem, status, "X-Organization-Id");

    let bob = app.new_user("Bob").await;
    let (status, _) = get(&app, &bob.key, &org).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = app.create_organization(&bob.key, "Other").await;
    let (status, _) = get(&app, org_key, other["id"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an organization key sees only its organization"
    );
}

#[tokio::test]
async fn null_and_absence_both_leave_every_field_unchanged() {
    let (app, ada, org) = setup().await;
    let full = json!({
        "organization_name": "Acme",
        "logo_url": "https://acme.example/l.png",
        "billing_email": "billing@acme.example",
        "notifications_email": "alerts@acme.example",
        "metadata": {"tier": "gold"},
        "default_llm_credentials": {"openai": "acme-openai"},
        "nsfw_check_enabled": true,
        "nsfw_fail_closed": false
    });
    let (status, before) = patch(&app, &ada.key, &org, full.clone()).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let nulls: serde_json::Map<String, Value> = full
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    let (status, after_nulls) = patch(&app, &ada.key, &org, Value::Object(nulls)).await;
    assert_eq!(status, StatusCode::OK, "{after_nulls}");
    let (status, after_empty) = patch(&app, &ada.key, &org, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "organization_name",
        "logo_url",
        "billing_email",
        "notifications_email",
        "metadata",
        "default_llm_credentials",
        "rate_limits",
    ] {
        assert_eq!(after_nulls[field], before[field], "{field}");
        assert_eq!(after_empty[field], before[field], "{field}");
    }
    let org_id = org.parse().unwrap();
    let stored = app.store.organization(org_id).await.unwrap();
    assert!(
        stored.nsfw_check_enabled && !stored.nsfw_fail_closed,
        "null left the NSFW flags as set"
    );
}

#[tokio::test]
async fn metadata_replaces_the_whole_object() {
    let (app, ada, org) = setup().await;
    patch(
        &app,
        &ada.key,
        &org,
        json!({"metadata": {"a": 1, "b": {"c": [1, 2]}}}),
    )
    .await;
    let (status, body) = patch(&app, &ada.key, &org, json!({"metadata": {"d": true}})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["metadata"], json!({"d": true}));
    let (_, body) = patch(&app, &ada.key, &org, json!({"metadata": {}})).await;
    assert_eq!(body["metadata"], json!({}));
}

#[tokio::test]
async fn each_documented_field_takes_valid_values() {
    let (app, ada, org) = setup().await;
    let (status, body) = patch(
        &app,
        &ada.key,
        &org,
        json!({
            "organization_name": "Ünïcode Org",
            "logo_url": "http://localhost:9000/logo.png",
            "billing_email": "Billing@Acme.Example",
            "notifications_email": "ops+alerts@acme.example",
            "default_llm_credentials": {"openai": "acme/openai-key", "anthropic": "acme-anthropic"}
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["organization_name"], "Ünïcode Org");
    assert_eq!(body["logo_url"], "http://localhost:9000/logo.png");
    assert_eq!(body["billing_email"], "Billing@acme.example");
    assert_eq!(body["notifications_email"], "ops+alerts@acme.example");
    assert_eq!(
        body["default_llm_credentials"],
        json!({"anthropic": "acme-anthropic", "openai": "acme/openai-key"})
    );
}

#[tokio::test]
async fn each_kind_of_invalid_value_is_422_naming_the_field_and_changes_nothing() {
    let (app, ada, org) = setup().await;
    let (_, before) = get(&app, &ada.key, &org).await;
    let many_keys: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!(i))).collect();
    let cases = [
        (json!({"organization_name": ""}), "organization_name"),
        (
            json!({"organization_name": "x".repeat(256)}),
            "organization_name",
        ),
        (json!({"organization_name": 42}), "organization_name"),
        (
            json!({"organization_name": "bad\u{0}name"}),
            "organization_name",
        ),
        (
            json!({"logo_url": "ftp://acme.example/logo.png"}),
            "logo_url",
        ),
        (json!({"logo_url": "logo.png"}), "logo_url"),
        (json!({"billing_email": "not-an-email"}), "billing_email"),
        (json!({"billing_email": 7}), "billing_email"),
        (json!({"notifications_email": "a@b"}), "notifications_email"),
        (json!({"metadata": []}), "metadata"),
        (json!({"metadata": "text"}), "metadata"),
        (json!({"metadata": many_keys}), "metadata"),
        (
            json!({"metadata": {"big": "x".repeat(17 * 1024)}}),
            "metadata",
        ),
        (
            json!({"default_llm_credentials": {"OpenAI": "key"}}),
            "default_llm_credentials",
        ),
        (
            json!({"default_llm_credentials": {"openai": "has space"}}),
            "default_llm_credentials",
        ),
        (
            json!({"default_llm_credentials": {"openai": 5}}),
            "default_llm_credentials.openai",
        ),
        (
            json!({"default_llm_credentials": ["openai"]}),
            "default_llm_credentials",
        ),
        (json!({"nsfw_check_enabled": "yes"}), "nsfw_check_enabled"),
        (json!({"nsfw_fail_closed": 1}), "nsfw_fail_closed"),
        (json!({"organisation_name": "typo"}), "organisation_name"),
    ];
    for (body, field) in cases {
        let (status, problem) = patch(&app, &ada.key, &org, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let admin_cases = [
        (
            json!({"rate_limit_overrides": {"search": -1}}),
            "rate_limit_overrides.search",
        ),
        (
            json!({"rate_limit_overrides": {"search": "10"}}),
            "rate_limit_overrides.search",
        ),
        (
            json!({"rate_limit_overrides": {"search": null}}),
            "rate_limit_overrides.search",
        ),
        (
            json!({"rate_limit_overrides": {"search": 1_000_001}}),
            "rate_limit_overrides.search",
        ),
        (
            json!({"rate_limit_overrides": {"searches": 5}}),
            "rate_limit_overrides.searches",
        ),
        (
            json!({"rate_limit_overrides": [10]}),
            "rate_limit_overrides",
        ),
    ];
    for (body, field) in admin_cases {
        let (status, problem) = patch(&app, ADMIN_TOKEN, &org, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let (_, after) = get(&app, &ada.key, &org).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn an_override_of_one_category_leaves_the_others_at_the_tiers_default() {
    // The documented tier defaults, not the lifted limits of the other tests.
    let app =
        TestApp::spawn_with(|state| state.tiers = tenantry_domain::TierTable::default()).await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = patch(
        &app,
        ADMIN_TOKEN,
        &org,
        json!({"rate_limit_overrides": {"search": 99}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rate_limits"],
        json!({"metadata": 10, "data": 10, "search": 99, "upload": 10, "compute": 10})
    );

    // Another category later: merged, the first one kept.
    let (_, body) = patch(
        &app,
        ADMIN_TOKEN,
        &org,
        json!({"rate_limit_overrides": {"upload": 3}}),
    )
    .await;
    assert_eq!(
        body["rate_limits"],
        json!({"metadata": 10, "data": 10, "search": 99, "upload": 3, "compute": 10})
    );

    // `null`, like absence, leaves the overrides as they are.
    let (status, body) = patch(
        &app,
        ADMIN_TOKEN,
        &org,
        json!({"rate_limit_overrides": null}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["rate_limits"],
        json!({"metadata": 10, "data": 10, "search": 99, "upload": 3, "compute": 10})
    );

    // A new tier moves the defaults; the overrides stay.
    let (status, _) = app
        .put(
            &format!("/organization/{org}"),
            ADMIN_TOKEN,
            json!({"accountType": "pro"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = get(&app, &ada.key, &org).await;
    assert_eq!(body["account_type"], "pro");
    assert_eq!(body["credit_count"], 100_000);
    assert_eq!(
        body["rate_limits"],
        json!({"metadata": 60, "data": 60, "search": 99, "upload": 3, "compute": 60})
    );
}

#[tokio::test]
async fn admin_only_fields_from_anyone_else_are_403_listing_them() {
    let (app, ada, org) = setup().await;
    let mia = app.new_user("Mia").await;
    app.add_member(&org, &mia.id, "member").await;
    let (_, before) = get(&app, &ada.key, &org).await;
    let (status, problem) = patch(
        &app,
        &ada.key,
        &org,
        json!({"organization_name": "Acme 2", "rate_limit_overrides": {"search": 1000}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_problem_names(&problem, status, "rate_limit_overrides");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1);

    let (status, problem) = patch(
        &app,
        &mia.key,
        &org,
        json!({"organization_name": "Mine", "metadata": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_problem_names(&problem, status, "organization_name");
    assert_problem_names(&problem, status, "metadata");
    let (status, _) = get(&app, &mia.key, &org).await;
    assert_eq!(status, StatusCode::OK, "members read");
    let (_, after) = get(&app, &ada.key, &org).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn nsfw_settings_are_refused_for_dedicated_infrastructure() {
    let (app, ada, org) = setup().await;
    let changes = tenantry_domain::OrganizationChanges {
        infrastructure: Some(Some(
            tenantry_domain::TextLine::parse("ray-cluster-7", 255).unwrap(),
        )),
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
    let (status, problem) = patch(&app, &ada.key, &org, json!({"nsfw_check_enabled": true})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("shared plane"));
    let stored = app.store.organization(org.parse().unwrap()).await.unwrap();
    assert!(!stored.nsfw_check_enabled);
    let (status, _) = patch(
        &app,
        &ada.key,
        &org,
        json!({"organization_name": "Still fine"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn api_url_is_the_organizations_own_or_the_servers() {
    let app = TestApp::spawn_with(|state| {
        state.public_url = Some("https://tenantry.acme.example".into())
    })
    .await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let (_, body) = get(&app, &ada.key, id).await;
    assert_eq!(body["api_url"], "https://tenantry.acme.example");
    let changes = tenantry_domain::OrganizationChanges {
        api_url: Some(Some(
            tenantry_domain::HttpUrl::parse("https://eu.api.acme.example").unwrap(),
        )),
        ..Default::default()
    };
    app.store
        .update_organization(
            id.parse().unwrap(),
            &changes,
            None,
            tenantry_domain::Actor::PlatformAdmin(None),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let (_, body) = get(&app, &ada.key, id).await;
    assert_eq!(body["api_url"], "https://eu.api.acme.example");
}

#[tokio::test]
async fn a_stale_if_match_is_412() {
    let (app, ada, org) = setup().await;
    let response = app
        .request(Method::GET, "/v1/organizations", &ada.key)
        .header("X-Organization-Id", &org)
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    patch(&app, &ada.key, &org, json!({"organization_name": "Newer"})).await;
    let response = app
        .request(Method::PATCH, "/v1/organizations", &ada.key)
        .header("X-Organization-Id", &org)
        .header("If-Match", etag)
        .json(&json!({"organization_name": "Stale"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    let (_, body) = get(&app, &ada.key, &org).await;
    assert_eq!(body["organization_name"], "Newer");
}
