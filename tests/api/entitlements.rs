//! The entitlements check: what an organization may use now, in one read.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry_tests::{ADMIN_TOKEN, TestApp, parse};

#[tokio::test]
async fn entitlements_say_what_an_organization_may_use_now() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let eve = app.new_user("Eve").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(id, &bob.id, "member").await;
    let path = format!("/organization/{id}/entitlements");
    let (status, _) = app
        .post(
            &format!("/organization/{id}/workspace"),
            &ada.key,
            json!({"name": "Lab"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post(
            &format!("/organization/{id}/usage"),
            &bob.key,
            json!({"credits": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let request = app
        .request(Method::PATCH, "/v1/organizations", ADMIN_TOKEN)
        .header("X-Organization-Id", id)
        .json(&json!({"rate_limit_overrides": {"search": 77}}));
    assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);

    let response = app
        .request(Method::GET, &path, &bob.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let (_, body) = parse(response).await;
    assert_eq!(body["organizationId"], id);
    assert_eq!(body["active"], true);
    assert_eq!(body["plan"], "pilot");
    assert_eq!(body["accountType"], "free");
    assert_eq!(body["modules"].as_array().unwrap().len(), 7);
    assert_eq!(body["quotas"]["users"], json!({"limit": 25, "used": 2}));
    assert_eq!(
        body["quotas"]["workspaces"],
        json!({"limit": 10, "used": 1})
    );
    assert_eq!(body["quotas"]["analyses"], json!({"limit": 100}));
    assert_eq!(
        body["credits"],
        json!({"allocation": 1000, "used": 30, "remaining": 970, "maxOverages": 0, "autoBillingEnabled": false})
    );
    assert_eq!(body["rateLimits"]["search"], 77);
    // The others are the tier's, which test servers lift.
    assert_eq!(
        body["rateLimits"]["metadata"],
        tenantry_domain::limits::RATE_LIMIT_MAX
    );

    // Unchanged: 304 without a body, for the tag as given, weak, in a list, or `*`.
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"0\", {etag}"),
        "*".into(),
    ] {
        let response = app
            .request(Method::GET, &path, &bob.key)
            .header("If-None-Match", tag.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tag}");
        assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
        assert!(response.bytes().await.unwrap().is_empty());
    }
    // Any change makes a new answer.
    app.post(
        &format!("/organization/{id}/usage"),
        &bob.key,
        json!({"credits": 1}),
    )
    .await;
    let response = app
        .request(Method::GET, &path, &bob.key)
        .header("If-None-Match", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, body) = parse(response).await;
    assert_eq!(body["credits"]["used"], 31);

    // Inactive: said so.
    app.put(
        &format!("/organization/{id}"),
        ADMIN_TOKEN,
        json!({"isActive": false}),
    )
    .await;
    let (status, body) = app.get(&path, &ada.key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], false);
    // Someone else's organization is not there.
    assert_eq!(app.get(&path, &eve.key).await.0, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&format!("{path}?fields=all"), &ada.key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
