use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp, parse};

const OPERATIONS: &[(&str, &str, &str)] = &[
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
    (
        "post",
        "/organization/{organization_id}/usage",
        "create_usage",
    ),
    ("get", "/organization/{organization_id}/usage", "get_usage"),
    (
        "get",
        "/organization/{organization_id}/entitlements",
        "get_entitlements",
    ),
    (
        "get",
        "/organization/{organization_id}/usage/entries",
        "list_usage_entries",
    ),
    (
        "post",
        "/organization/{organization_id}/usage/{entry_id}/refund",
        "create_usage_refund",
    ),
    (
        "post",
        "/organization/{organization_id}/workspace",
        "create_workspace",
    ),
    (
        "get",
        "/organization/{organization_id}/workspace/list",
        "list_workspaces",
    ),
    (
        "delete",
        "/organization/{organization_id}/workspace/{workspace_id}",
        "delete_workspace",
    ),
    (
        "get",
        "/organization/{organization_id}/events",
        "list_organization_events",
    ),
    ("get", "/events", "list_events"),
    ("post", "/webhook-endpoint", "create_webhook_endpoint"),
    ("get", "/webhook-endpoint/list", "list_webhook_endpoints"),
    (
        "get",
        "/webhook-endpoint/{endpoint_id}",
        "get_webhook_endpoint",
    ),
    (
        "patch",
        "/webhook-endpoint/{endpoint_id}",
        "update_webhook_endpoint",
    ),
    (
        "delete",
        "/webhook-endpoint/{endpoint_id}",
        "delete_webhook_endpoint",
    ),
    (
        "post",
        "/webhook-endpoint/{endpoint_id}/rotate-secret",
        "create_webhook_endpoint_secret",
    ),
    (
        "get",
        "/webhook-endpoint/{endpoint_id}/deliveries",
        "list_webhook_deliveries",
    ),
    (
        "post",
        "/webhook-endpoint/{endpoint_id}/deliveries/{delivery_id}/retry",
        "create_webhook_delivery_retry",
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
    let (status, used) = app
        .post(
            &format!("/organization/{id}/usage"),
            &ada,
            json!({"credits": 3}),
        )
        .await;
    record("create_usage", (status, used.clone()));
    record(
        "create_usage_refund",
        app.post(
            &format!(
                "/organization/{id}/usage/{}/refund",
                used["entryId"].as_str().unwrap()
            ),
            &ada,
            json!({}),
        )
        .await,
    );
    record(
        "get_usage",
        app.get(&format!("/organization/{id}/usage"), &ada).await,
    );
    record(
        "list_usage_entries",
        app.get(&format!("/organization/{id}/usage/entries"), &ada)
            .await,
    );
    record(
        "get_entitlements",
        app.get(&format!("/organization/{id}/entitlements"), &ada)
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
    assert_eq!(answers.len(), 22);
    for (name, body) in &answers {
        assert_ids_are_public(body, name);
    }
}

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    // The directory cargo gives the run, not the one compiled in: a build reused from another
    // checkout sharing the target directory would read that checkout's file.
    let path = std::path::Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == tenantry_http::openapi_json(),
        "openapi/openapi.json is stale: run `cargo xtask openapi` and commit the result"
    );
}

#[test]
fn every_request_body_is_closed() {
    let document = tenantry_http::openapi_document();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let body = &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            if let Some(name) = body
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                assert_eq!(
                    schemas[name]["additionalProperties"], false,
                    "{method} {path}: {name}"
                );
            }
        }
    }
}

/// What Swagger UI shows and executes: every JSON body has an example of its own (not one
/// generated from the schema, with placeholder ids and every optional field), every error
/// status an example with that status, every path parameter a note on what to paste, and
/// no `null` where OpenAPI wants a list (Swagger UI fails to execute such an operation).
#[test]
fn every_operation_shows_examples_that_fit_it() {
    let document = tenantry_http::openapi_document();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let context = format!("{method} {path}");
            for key in ["parameters", "requestBody", "responses"] {
                assert!(
                    operation.get(key).is_none_or(|v| !v.is_null()),
                    "{context}: {key} is null"
                );
            }
            if let Some(media) = operation.pointer("/requestBody/content/application~1json") {
                assert!(media.get("example").is_some(), "{context}: no body example");
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                let Some(media) = response.pointer("/content/application~1problem+json") else {
                    continue;
                };
                let examples: Vec<&Value> = match (media.get("example"), media.get("examples")) {
                    (Some(one), None) => vec![one],
                    (None, Some(named)) => named
                        .as_object()
                        .unwrap()
                        .values()
                        .map(|e| &e["value"])
                        .collect(),
                    _ => panic!("{context} {status}: no example"),
                };
                for example in examples {
                    assert_eq!(
                        example["status"].to_string(),
                        *status,
                        "{context} {status}: {example}"
                    );
                    assert!(example["type"].as_str().unwrap().starts_with("/problems/"));
                }
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "path" {
                    assert!(
                        parameter["description"]
                            .as_str()
                            .is_some_and(|d| d.contains("Paste")),
                        "{context}: {} says not what to paste",
                        parameter["name"]
                    );
                }
            }
        }
    }
}

/// Every create links to what uses what it made, and each link names a real operation and
/// only parameters that operation has, so that a client or a stateful fuzzer can follow it.
#[test]
fn links_lead_from_each_create_to_real_operations() {
    let document = tenantry_http::openapi_document();
    let mut operations = std::collections::BTreeMap::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            operations.insert(operation["operationId"].as_str().unwrap(), operation);
        }
    }
    for (id, operation) in &operations {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let Some(links) = response.get("links").and_then(Value::as_object) else {
                assert!(
                    !(id.starts_with("create_") && status == "201")
                        || ["create_usage_refund", "create_webhook_endpoint_secret"].contains(id),
                    "{id} makes something and links to nothing"
                );
                continue;
            };
            for (name, link) in links {
                let target = operations
                    .get(link["operationId"].as_str().unwrap())
                    .unwrap_or_else(|| panic!("{id}'s link {name} names no operation"));
                let names: Vec<&str> = target["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                for parameter in link["parameters"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    assert!(
                        names.contains(&parameter.as_str()),
                        "{id}'s link {name} sets {parameter}, which the operation does not take"
                    );
                }
            }
        }
    }
}

/// The pattern the document gives at `pointer`, as a regex.
fn pattern_at(pointer: &str) -> regex::Regex {
    let document = tenantry_http::openapi_document();
    let pattern = document.pointer(pointer).and_then(Value::as_str);
    regex::Regex::new(pattern.unwrap_or_else(|| panic!("a pattern at {pointer}"))).unwrap()
}

/// The documented pattern and the parser agree on every sample.
fn assert_agree(pointer: &str, parse: impl Fn(&str) -> bool, samples: &[&str]) {
    let regex = pattern_at(pointer);
    for sample in samples {
        assert_eq!(
            regex.is_match(sample),
            parse(sample),
            "{pointer}: {sample:?}"
        );
    }
}

#[test]
fn documented_patterns_agree_with_the_parsers() {
    use tenantry_domain::{DomainName, Email, HttpUrl, Logo, OrganizationName};
    let schemas = "/components/schemas";
    assert_agree(
        &format!("{schemas}/CreateOrganizationRequest/properties/organizationName/pattern"),
        |s| OrganizationName::parse(s).is_ok(),
        &[
            "Acme",
            " Acme ",
            "Ünï",
            "   ",
            "",
            "a\u{0}b",
            "a\nb",
            "a\u{85}b",
            "\u{a0}",
            "x\u{a0}",
            "\u{200b}",
            "\u{feff}",
            " \u{200b}\u{2800} ",
            "abc\u{202e}gnp.exe",
            "\u{2066}x",
            "x\u{200d}y",
            "\u{3164}",
            "a\u{061c}",
            "日本",
        ],
    );
    for pointer in [
        "CreateWorkspaceRequest/properties/name",
        "CreateUserRequest/properties/name",
        "CreateApiKeyRequest/properties/name",
    ] {
        assert_agree(
            &format!("{schemas}/{pointer}/pattern"),
            |s| tenantry_domain::TextLine::parse(s, 255).is_ok(),
            &[
                "Ada",
                "\u{200b}",
                "\u{feff}x",
                "a\u{202d}b",
                "\t",
                " ",
                "ok\u{00ad}",
            ],
        );
    }
    assert_agree(
        &format!("{schemas}/CreateOrganizationRequest/properties/domain/pattern"),
        |s| DomainName::parse(s).is_ok(),
        &[
            "acme.example",
            "ACME.example.",
            "a.b.c.d",
            "xn--p1ai.xn--p1ai",
            "localhost",
            "a..b",
            "-a.com",
            "a-.com",
            "1.2.3.4",
            "a.1com",
            "a_b.com",
            "acme.example..",
            "a.b-",
        ],
    );
    assert_agree(
        &format!("{schemas}/UpdateOrganizationRequest/properties/logoUrl/pattern"),
        |s| HttpUrl::parse(s).is_ok(),
        &[
            "https://cdn.acme.example/logo.png",
            "http://localhost:8080",
            "http://A",
            "https://a:65535",
            "https://a:65536",
            "https://a:00080",
            "https://a:0",
            "https://1.2.3.4/",
            "ftp://a.b",
            "https://a b",
            "https://a.example?x=1#y",
            "HTTPS://a.example",
            "https://",
            "http://6.P:65436/rE",
        ],
    );
    assert_agree(
        &format!("{schemas}/CreateUserRequest/properties/email/pattern"),
        |s| Email::parse(s).is_ok(),
        &[
            "ada@example.com",
            "a.b+c@x.example",
            "gqpgmds_`}@n.0k2vjybi.net",
            "a..b@x.com",
            ".a@x.com",
            "a@x",
            "a@x.com.",
            "a b@x.com",
            "@x.com",
            "a@1.2",
        ],
    );
    let png = tenantry_tests::data_url("image/png", &tenantry_tests::png_bytes());
    let gif_lie = tenantry_tests::data_url("image/gif", &tenantry_tests::png_bytes());
    let jpeg = tenantry_tests::data_url("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]);
    let webp = tenantry_tests::data_url("image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ");
    let gif = tenantry_tests::data_url("image/gif", b"GIF87a\x01\x00");
    let png_signature = tenantry_tests::data_url("image/png", b"\x89PNG\r\n\x1a\n");
    assert_agree(
        &format!("{schemas}/PatchedOrganizationRequest/properties/logo/pattern"),
        |s| Logo::parse_data_url(s).is_ok(),
        &[
            &png,
            &gif_lie,
            &jpeg,
            &webp,
            &gif,
            &png_signature,
            "data:image/png;base64,iVBORw0KGgo",
            "data:image/png;base64,",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "https://a.example/l.png",
            "data:image/png;base64,iVBORw0KGgoB",
            "data:image/png;base64,iVBORw0KGgoBAA==",
            // RIFF, a size, then 0xd7 'E' 'B' 'P' rather than "WEBP": the third character of
            // its quantum must carry 'W''s top bits (value 1 modulo 4), which 'X' does not.
            "data:image/webp;base64,UklGRtZ/YBvXRUJQSn2JOPc=",
            "data:image/webp;base64,UklGRtZ/YBtXRUJQSn2JOPc=",
        ],
    );
}

#[test]
fn the_documented_webhook_url_pattern_agrees_with_the_parser() {
    assert_agree(
        "/components/schemas/CreateWebhookEndpointRequest/properties/url/pattern",
        |s| tenantry_domain::WebhookUrl::parse(s).is_ok(),
        &[
            "https://hooks.example.com/tenantry",
            "http://127.0.0.1:9000/in?x=1",
            "http://[::1]:8080/",
            "http://localhost",
            "https://a:65535",
            "https://a:65536",
            "https://a:080",
            "https://a:0",
            "https://user:pw@a.example/",
            "https://a.example/#frag",
            "https://a.example#frag",
            "ftp://a.example",
            "https://a b",
            "https://-a.example",
            "https://",
            "HTTPS://a.example",
        ],
    );
}

#[tokio::test]
async fn every_event_type_is_documented_and_real_payloads_match_their_schema() {
    let document = tenantry_http::openapi_document();
    let webhooks = document["webhooks"]
        .as_object()
        .expect("a webhooks section");
    for event_type in tenantry_domain::EventType::ALL {
        assert!(
            webhooks.contains_key(event_type.as_str()),
            "{} is documented",
            event_type.as_str()
        );
    }
    // Events of several types, as a run makes them.
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(id, &bob.id, "member").await;
    let (_, events) = app.get("/events?limit=1000", ADMIN_TOKEN).await;
    for event in events.as_array().unwrap() {
        let t = event["type"].as_str().unwrap();
        let data = &webhooks[t]["post"]["requestBody"]["content"]["application/json"]["schema"]["allOf"]
            [1]["properties"]["data"];
        let documented: std::collections::BTreeSet<&String> =
            data["properties"].as_object().unwrap().keys().collect();
        let sent: std::collections::BTreeSet<&String> =
            event["data"].as_object().unwrap().keys().collect();
        assert_eq!(sent, documented, "{t}: the payload's fields are documented");
    }
}
