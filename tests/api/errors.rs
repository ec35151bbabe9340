use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry_tests::{TestApp, parse};

#[tokio::test]
async fn malformed_json_and_non_objects_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let (_, before) = app.get(&path, &ada.key).await;
    for body in [
        "{",
        "not json",
        "[]",
        "[{\"name\": \"x\"}]",
        "\"name\"",
        "42",
        "null",
        "",
    ] {
        let response = app
            .request(Method::PUT, &path, &ada.key)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let (status, problem) = parse(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?} -> {problem}");
        assert_eq!(problem["type"], "/problems/malformed-request");
        assert_eq!(problem["status"], 400);
    }
    let (_, after) = app.get(&path, &ada.key).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let huge = json!({"organizationName": "x".repeat(1024 * 1024)});
    let (status, problem) = app.post("/organization", &ada.key, huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_eq!(problem["type"], "/problems/payload-too-large");
    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let response = app
        .request(Method::POST, "/organization", &ada.key)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("organizationName=Acme")
        .send()
        .await
        .unwrap();
    let (status, problem) = parse(response).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{problem}");
}

#[tokio::test]
async fn unknown_routes_are_problem_json_and_every_answer_has_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let (_, problem) = parse(response).await;
    assert_eq!(problem["status"], 404);
    let other = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), id);
}

#[tokio::test]
async fn unknown_query_parameters_are_rejected_by_name() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let (status, problem) = app
        .get(
            &format!(
                "/organization/{}?includeLogo=true",
                org["id"].as_str().unwrap()
            ),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    tenantry_tests::assert_problem_names(&problem, status, "includeLogo");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/healthz", "").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    let (status, body) = app.get("/readyz", "").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"status": "ready", "rateLimits": "local"})
        )
    );
}

#[tokio::test]
async fn a_method_a_path_does_not_take_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let response = app
        .request(Method::PATCH, "/organization/list", &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    let response = app
        .request(Method::POST, "/user/me", &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (status, problem) = parse(response).await;
    assert_eq!(problem["status"], status.as_u16());
}

#[tokio::test]
async fn other_methods_on_a_list_path_are_405_not_an_item_route() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    for (method, path) in [
        (Method::PUT, "/api-key/list".to_owned()),
        (Method::DELETE, "/api-key/list".to_owned()),
        (Method::DELETE, "/organization/list".to_owned()),
        (Method::OPTIONS, format!("/organization/{id}/member/list")),
        (Method::PATCH, format!("/organization/{id}/member/list")),
        (Method::DELETE, format!("/organization/{id}/workspace/list")),
        (Method::PATCH, "/webhook-endpoint/list".to_owned()),
        (Method::DELETE, "/webhook-endpoint/list".to_owned()),
    ] {
        let response = app
            .request(method.clone(), &path, &ada.key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["allow"], "GET, HEAD", "{method} {path}");
    }
}

#[tokio::test]
async fn whole_numbers_written_as_floats_are_whole_numbers() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let (status, body) = app
        .patch(
            &format!("/organization/{id}/max-overages"),
            &ada.key,
            json!({"maxOverages": 5.0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["maxOverages"], 5);
    let (status, _) = app
        .patch(
            &format!("/organization/{id}/max-overages"),
            &ada.key,
            json!({"maxOverages": 5.5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn if_match_takes_the_etag_or_the_bare_version() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let put = |if_match: &'static str| {
        app.request(Method::PUT, &path, &ada.key)
            .header("If-Match", if_match)
            .json(&json!({"name": "Acme 2"}))
            .send()
    };
    assert_eq!(
        put("1").await.unwrap().status(),
        StatusCode::OK,
        "the bare version"
    );
    assert_eq!(
        put("\"2\"").await.unwrap().status(),
        StatusCode::OK,
        "the ETag"
    );
    assert_eq!(
        put("2").await.unwrap().status(),
        StatusCode::PRECONDITION_FAILED,
        "stale"
    );
    assert_eq!(
        put("W/\"3\"").await.unwrap().status(),
        StatusCode::PRECONDITION_FAILED,
        "a weak tag fails the strong comparison"
    );
    assert_eq!(
        put("null").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
