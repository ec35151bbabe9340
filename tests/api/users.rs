use reqwest::StatusCode;
use serde_json::json;
use tenantry_tests::{ADMIN_TOKEN, TestApp, assert_problem_names};

#[tokio::test]
async fn the_platform_admin_creates_users_and_they_read_themselves() {
    let app = TestApp::spawn().await;
    let (status, user) = app
        .post(
            "/user",
            ADMIN_TOKEN,
            json!({"email": "Ada@Example.com", "name": "Ada"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email"], "Ada@example.com");
    assert_eq!(user["name"], "Ada");
    assert!(user["createdAt"].is_string());
    let mut keys: Vec<_> = user.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["createdAt", "email", "id", "name"]);

    let key = app.user_key(user["id"].as_str().unwrap()).await;
    let (status, me) = app.get("/user/me", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me, user);

    let (status, _) = app.get("/user/me", ADMIN_TOKEN).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the admin token acts as no user"
    );
}

#[tokio::test]
async fn a_duplicate_email_in_any_case_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", "Ada").await;
    let (status, problem) = app
        .post(
            "/user",
            ADMIN_TOKEN,
            json!({"email": "ADA@example.com", "name": "Ada 2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
}

#[tokio::test]
async fn only_the_platform_admin_creates_users() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let (status, _) = app
        .post(
            "/user",
            &ada.key,
            json!({"email": "eve@example.com", "name": "Eve"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn invalid_users_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"name": "Ada"}), "email"),
        (json!({"email": "not-an-email", "name": "Ada"}), "email"),
        (json!({"email": "ada@example", "name": "Ada"}), "email"),
        (json!({"email": "ada@example.com"}), "name"),
        (json!({"email": "ada@example.com", "name": ""}), "name"),
        (
            json!({"email": "ada@example.com", "name": "x".repeat(256)}),
            "name",
        ),
        (
            json!({"email": "ada@example.com", "name": "Ada", "admin": true}),
            "admin",
        ),
    ] {
        let (status, problem) = app.post("/user", ADMIN_TOKEN, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
}

#[tokio::test]
async fn every_invalid_field_of_a_body_is_named_in_one_answer() {
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .post(
            "/user",
            ADMIN_TOKEN,
            json!({"email": "not-an-email", "name": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&problem, status, "email");
    assert_problem_names(&problem, status, "name");

    let ada = app.new_user("Ada").await;
    let (status, problem) = app
        .post(
            "/organization",
            &ada.key,
            json!({"organizationName": "\u{200b}", "domain": "not a domain"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&problem, status, "organizationName");
    assert_problem_names(&problem, status, "domain");
    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(list, json!([]), "nothing was created");
}
