use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp, parse};

const OPERATIONS: [(&str, &str, &str); 22] = [
    ("post", "/organization", "create_organization"),
    ("get", "/organization/list", "list_organizations"),
    ("get", "/organization/{organization_id}", "get_organization"),
    (
        "put",
        "/organization/{organization_id}",
        "update_organization",
    ),
    (
        "delete",
        "/organization/{organization_id}",
        "delete_organization",
    ),
    (
        "patch",
        "/organization/{organization_id}/max-overages",
        "set_max_overages",
    ),
    (
        "post",
        "/organization/{organization_id}/member",
        "add_member",
    ),
    (
        "get",
        "/organization/{organization_id}/member/list",
        "list_members",
    ),
    (
        "patch",
        "/organization/{organization_id}/member/{user_id}",
        "update_member",
    ),
    (
        "delete",
        "/organization/{organization_id}/member/{user_id}",
        "remove_member",
    ),
    ("post", "/user", "create_user"),
    ("get", "/user/me", "get_current_user"),
    ("post", "/api-key", "create_api_key"),
    ("get", "/api-key/list", "list_api_keys"),
    ("delete", "/api-key/{key_id}", "delete_api_key"),
    (
        "get",
        "/organization/{organization_id}/logo",
        "get_organization_logo",
    ),
    ("get", "/v1/organizations", "get_current_organization"),
    ("patch", "/v1/organizations", "update_current_organization"),
    ("get", "/v1/organizations/{id}", "get_organization_by_id"),
    (
        "patch",
        "/v1/organizations/{id}",
        "update_organization_by_id",
    ),
    ("get", "/healthz", "get_health"),
    ("get", "/readyz", "get_readiness"),
];

#[tokio::test]
async fn the_served_spec_documents_every_operation() {
    let app = TestApp::spawn().await;
    let (status, spec) = parse(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec["openapi"], "3.1.0");
    let committed: Value = serde_json::from_str(&tenantry_http::openapi_json()).unwrap();
    assert!(
        spec == committed,
        "the served document is the committed one"
    );
    let mut count = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            count += 1;
            let listed = OPERATIONS.iter().find(|(m, p, _)| m == method && p == path);
            let (_, _, id) = listed.unwrap_or_else(|| panic!("{method} {path} is not expected"));
            assert_eq!(operation["operationId"], *id);
            for field in ["summary", "description"] {
                assert!(
                    operation[field].as_str().is_some_and(|s| !s.is_empty()),
                    "{id} {field}"
                );
            }
            assert_eq!(operation["tags"].as_array().map(Vec::len), Some(1), "{id}");
            if !path.ends_with('z') {
                assert_eq!(operation["security"], json!([{"bearer": []}]), "{id}");
                let unauthorized =
                    &operation["responses"]["401"]["content"]["application/problem+json"];
                assert_eq!(
                    unauthorized["schema"]["$ref"], "#/components/schemas/Problem",
                    "{id}"
                );
            }
        }
    }
    assert_eq!(count, OPERATIONS.len());
}

#[tokio::test]
async fn swagger_ui_is_served_without_downloads() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(app.url("/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"));
    let redirect = app.client.get(app.url("/swagger-ui")).send().await.unwrap();
    assert!(redirect.status().is_redirection());
    assert_eq!(redirect.headers()["location"], "/swagger-ui/");
}

/// Every value under a key that names an id is a UUID string (or null): no database key
/// ever leaves the server.
fn assert_ids_are_public(value: &Value, context: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let lower = key.to_ascii_lowercase();
                assert!(
                    !lower.contains("internal") && lower != "pk",
                    "{context}: {key}"
                );
                if lower == "id" || lower.ends_with("id") || lower.ends_with("_id") {
                    let ok = inner.is_null()
                        || inner
                            .as_str()
                            .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok());
                    assert!(ok, "{context}: {key} = {inner}");
                }
                assert_ids_are_public(inner, context);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| assert_ids_are_public(item, context)),
        _ => {}
    }
}

#[tokio::test]
async fn no_response_anywhere_contains_a_database_key() {
    let app = TestApp::spawn().await;
    let mut answers: Vec<(String, Value)> = Vec::new();
    let mut record = |name: &str, (status, body): (StatusCode, Value)| {
        assert!(status.is_success(), "{name}: {status} {body}");
        answers.push((name.to_owned(), body));
    };
    let ada_id = app.create_user("ada@example.com", "Ada").await;
    let (status, user) = app
        .post(
            "/user",
            ADMIN_TOKEN,
            json!({"email": "bob@example.com", "name": "Bob"}),
        )
        .await;
    record("create_user", (status, user.clone()));
    let bob_id = user["id"].as_str().unwrap().to_owned();
    let (status, key) = app
        .post(
            "/api-key",
            ADMIN_TOKEN,
            json!({"name": "ada", "userId": ada_id}),
        )
        .await;
    record("create_api_key", (status, key.clone()));
    let ada = key["key"].as_str().unwrap().to_owned();
    record("get_current_user", app.get("/user/me", &ada).await);
    let (status, org) = app
        .post("/organization", &ada, json!({"organizationName": "Acme"}))
        .await;
    record("create_organization", (status, org.clone()));
    let id = org["id"].as_str().unwrap().to_owned();
    record(
        "list_organizations",
        app.get("/organization/list", &ada).await,
    );
    record(
        "get_organization",
        app.get(&format!("/organization/{id}"), &ada).await,
    );
    record(
        "update_organization",
        app.put(
            &format!("/organization/{id}"),
            &ada,
            json!({"name": "Acme 2"}),
        )
        .await,
    );
    record(
        "set_max_overages",
        app.patch(
            &format!("/organization/{id}/max-overages"),
            &ada,
            json!({"maxOverages": 10}),
        )
        .await,
    );
    record(
        "add_member",
        app.post(
            &format!("/organization/{id}/member"),
            &ada,
            json!({"userId": bob_id, "role": "member"}),
        )
        .await,
    );
    record(
        "list_members",
        app.get(&format!("/organization/{id}/member/list"), &ada)
            .await,
    );
    record(
        "update_member",
        app.patch(
            &format!("/organization/{id}/member/{bob_id}"),
            &ada,
            json!({"role": "admin"}),
        )
        .await,
    );
    record(
        "remove_member",
        app.delete(&format!("/organization/{id}/member/{bob_id}"), &ada)
            .await,
    );
    let (status, org_key) = app
        .post(
            "/api-key",
            &ada,
            json!({"name": "ci", "organizationId": id}),
        )
        .await;
    record("create_org_api_key", (status, org_key.clone()));
    record("list_api_keys", app.get("/api-key/list", ADMIN_TOKEN).await);
    record(
        "delete_api_key",
        app.delete(
            &format!("/api-key/{}", org_key["id"].as_str().unwrap()),
            &ada,
        )
        .await,
    );
    record("get_health", app.get("/healthz", "").await);
    record("get_readiness", app.get("/readyz", "").await);
    let (status, _) = app
        .request(Method::DELETE, &format!("/organization/{id}"), &ada)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(answers.len(), 17);
    for (name, body) in &answers {
        assert_ids_are_public(body, name);
    }
}

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == tenantry_http::openapi_json(),
        "openapi/openapi.json is stale: run `cargo xtask openapi` and commit the result"
    );
}
