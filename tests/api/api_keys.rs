use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry_http::key_cache::KeyCache;
use tenantry_tests::{ADMIN_TOKEN, TestApp, assert_problem_names};

#[tokio::test]
async fn a_key_is_shown_once_and_listed_without_it() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let (status, created) = app
        .post("/api-key", &ada.key, json!({"name": "laptop"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["userId"], ada.id.as_str());
    assert_eq!(created["organizationId"], serde_json::Value::Null);
    let mut fields: Vec<_> = created.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "createdAt",
            "id",
            "key",
            "name",
            "organizationId",
            "prefix",
            "userId"
        ]
    );

    let (status, list) = app.get("/api-key/list", &ada.key).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "the admin-made test key and this one");
    assert!(list.iter().all(|k| k.get("key").is_none()));
    assert!(list.iter().any(|k| k["id"] == created["id"]));

    let (status, me) = app.get("/user/me", key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], ada.id.as_str());
}

#[tokio::test]
async fn both_authorization_forms_work_and_bad_keys_are_401() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bare = app
        .client
        .get(app.url("/user/me"))
        .header("Authorization", &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::OK);
    let bearer = app
        .client
        .get(app.url("/user/me"))
        .header("Authorization", format!("bearer {}", ada.key))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);

    // `Bearer <key>` pasted into Swagger UI's Authorize dialog arrives as `Bearer Bearer`.
    let (status, problem) = tenantry_tests::parse(
        app.client
            .get(app.url("/user/me"))
            .header("Authorization", format!("Bearer Bearer {}", ada.key))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        problem["detail"].as_str().unwrap().contains("key alone"),
        "{problem}"
    );

    for header in [
        None,
        Some(""),
        Some("Bearer "),
        Some("Bearer tnt_nope"),
        Some("Basic abc def"),
    ] {
        let mut request = app.client.get(app.url("/organization/list"));
        if let Some(value) = header {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

#[tokio::test]
async fn a_revoked_key_is_401_at_once() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let (_, created) = app
        .post("/api-key", &ada.key, json!({"name": "temp"}))
        .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.get("/user/me", key).await.0, StatusCode::OK);
    let (status, _) = app
        .delete(
            &format!("/api-key/{}", created["id"].as_str().unwrap()),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = app.get("/user/me", key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let (_, list) = app.get("/api-key/list", &ada.key).await;
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == created["id"])
    );
    let (status, _) = app
        .delete(
            &format!("/api-key/{}", created["id"].as_str().unwrap()),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoking twice");
}

/// A second instance on the same database whose key cache keeps entries for `ttl`.
async fn with_second_instance(ttl: Duration) -> (TestApp, TestApp) {
    let first = TestApp::spawn().await;
    let second = first
        .another_instance(|state| state.keys = Arc::new(KeyCache::new(ttl)))
        .await;
    (first, second)
}

#[tokio::test]
async fn another_instance_refuses_a_revoked_key_once_its_cache_entry_expires() {
    let (first, second) = with_second_instance(Duration::from_millis(300)).await;
    let ada = first.new_user("Ada").await;
    let (_, created) = first
        .post("/api-key", &ada.key, json!({"name": "temp"}))
        .await;
    let key = created["key"].as_str().unwrap();
    // Both instances have now looked the key up, and remember it.
    assert_eq!(first.get("/user/me", key).await.0, StatusCode::OK);
    assert_eq!(second.get("/user/me", key).await.0, StatusCode::OK);
    let path = format!("/api-key/{}", created["id"].as_str().unwrap());
    assert_eq!(
        first.delete(&path, &ada.key).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        first.get("/user/me", key).await.0,
        StatusCode::UNAUTHORIZED,
        "the revoking instance forgets at once"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = second.get("/user/me", key).await.0;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "the other instance still takes the revoked key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_a_key_cache_every_instance_refuses_a_revoked_key_at_once() {
    let (first, second) = with_second_instance(Duration::ZERO).await;
    let ada = first.new_user("Ada").await;
    let (_, created) = first
        .post("/api-key", &ada.key, json!({"name": "temp"}))
        .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(second.get("/user/me", key).await.0, StatusCode::OK);
    let path = format!("/api-key/{}", created["id"].as_str().unwrap());
    first.delete(&path, &ada.key).await;
    assert_eq!(
        second.get("/user/me", key).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn deleting_an_organization_ends_its_keys_at_once() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let acme = app.create_organization(&ada.key, "Acme").await;
    let acme_id = acme["id"].as_str().unwrap();
    let key = &app.organization_key(&ada.key, acme_id).await;
    assert_eq!(app.get("/organization/list", key).await.0, StatusCode::OK);
    let (status, _) = app
        .delete(&format!("/organization/{acme_id}"), &ada.key)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/organization/list", key).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn users_cannot_touch_other_users_keys() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let (status, problem) = app
        .post(
            "/api-key",
            &ada.key,
            json!({"name": "sneaky", "userId": bob.id}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_problem_names(&problem, status, "userId");
    let (_, bobs) = app
        .post("/api-key", &bob.key, json!({"name": "bob's"}))
        .await;
    let (status, _) = app
        .delete(
            &format!("/api-key/{}", bobs["id"].as_str().unwrap()),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/user/me", bobs["key"].as_str().unwrap()).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn organization_keys_act_in_one_organization_only() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let acme = app.create_organization(&ada.key, "Acme").await;
    let other = app.create_organization(&ada.key, "Other").await;
    let acme_id = acme["id"].as_str().unwrap();
    let (status, created) = app
        .post(
            "/api-key",
            &ada.key,
            json!({"name": "acme ci", "organizationId": acme_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["organizationId"], acme_id);
    let key = created["key"].as_str().unwrap();

    assert_eq!(
        app.get(&format!("/organization/{acme_id}"), key).await.0,
        StatusCode::OK
    );
    let (status, _) = app
        .get(
            &format!("/organization/{}", other["id"].as_str().unwrap()),
            key,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/organization/list", key).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], acme_id);
    let (status, _) = app
        .post("/organization", key, json!({"organizationName": "New"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn only_owners_and_admins_make_organization_keys() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let mia = app.new_user("Mia").await;
    let eve = app.new_user("Eve").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(id, &mia.id, "member").await;
    let (status, problem) = app
        .post(
            "/api-key",
            &mia.key,
            json!({"name": "k", "organizationId": id}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_problem_names(&problem, status, "organizationId");
    let (status, _) = app
        .post(
            "/api-key",
            &eve.key,
            json!({"name": "k", "organizationId": id}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an organization Eve cannot see"
    );
}

#[tokio::test]
async fn key_bodies_are_validated() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "k", "userId": "x"}), "userId"),
        (json!({"name": "k", "organizationId": 5}), "organizationId"),
        (json!({"name": "k", "scope": "all"}), "scope"),
    ] {
        let (status, problem) = app.post("/api-key", &ada.key, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let (status, problem) = app
        .post(
            "/api-key",
            ADMIN_TOKEN,
            json!({"name": "k", "userId": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_problem_names(&problem, status, "userId");
    let (status, _) = app
        .request(Method::DELETE, "/api-key/not-a-uuid", &ada.key)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_organization_key_acts_with_its_holders_current_role() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let cy = app.new_user("Cy").await;
    let acme = app.create_organization(&ada.key, "Acme").await;
    let acme_id = acme["id"].as_str().unwrap();
    app.add_member(acme_id, &bob.id, "admin").await;
    app.add_member(acme_id, &cy.id, "member").await;
    let ada_key = app.organization_key(&ada.key, acme_id).await;
    // The platform admin makes Bob's key; Cy gets one the same way.
    let scoped = |user: &str| json!({"name": "scoped", "userId": user, "organizationId": acme_id});
    let (status, bob_key) = app.post("/api-key", ADMIN_TOKEN, scoped(&bob.id)).await;
    assert_eq!(status, StatusCode::CREATED, "{bob_key}");
    let bob_key = bob_key["key"].as_str().unwrap().to_owned();
    let (_, cy_key) = app.post("/api-key", ADMIN_TOKEN, scoped(&cy.id)).await;
    let cy_key = cy_key["key"].as_str().unwrap().to_owned();

    let listed = |key: String| {
        let app = &app;
        async move {
            let (status, body) = app.get("/api-key/list", &key).await;
            (status, body.as_array().map_or(0, Vec::len))
        }
    };
    assert_eq!(
        listed(bob_key.clone()).await,
        (StatusCode::OK, 3),
        "an admin sees all three"
    );
    assert_eq!(
        listed(cy_key.clone()).await,
        (StatusCode::OK, 1),
        "a member sees their own"
    );

    // Demoted, Bob's key sees what a member sees.
    let (status, _) = app
        .patch(
            &format!("/organization/{acme_id}/member/{}", bob.id),
            &ada.key,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(bob_key.clone()).await, (StatusCode::OK, 1));

    // Removed, Bob's key is refused everywhere, and it is gone from the list.
    let (status, _) = app
        .delete(
            &format!("/organization/{acme_id}/member/{}", bob.id),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(bob_key.clone()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(&format!("/organization/{acme_id}"), &bob_key)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(listed(ada_key).await, (StatusCode::OK, 2));
    // Bob's own user key still works; he is just not in Acme.
    assert_eq!(app.get("/user/me", &bob.key).await.0, StatusCode::OK);
}

#[tokio::test]
async fn on_postgresql_a_revocation_reaches_another_instance_at_once() {
    let first = TestApp::spawn_with(|state| {
        state.keys = Arc::new(KeyCache::new(Duration::from_secs(600)));
    })
    .await;
    if !first.database_url.starts_with("postgres") {
        // One process serves a SQLite database; the cache's lifetime bounds any other.
        return;
    }
    let second = first
        .another_instance(|state| state.keys = Arc::new(KeyCache::new(Duration::from_secs(600))))
        .await;
    let ada = first.new_user("Ada").await;
    let acme = first.create_organization(&ada.key, "Acme").await;
    let acme_id = acme["id"].as_str().unwrap();
    let bob = first.new_user("Bob").await;
    first.add_member(acme_id, &bob.id, "admin").await;
    let (_, created) = first
        .post("/api-key", &ada.key, json!({"name": "temp"}))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let scoped = first.organization_key(&bob.key, acme_id).await;
    let org_key = first.organization_key(&ada.key, acme_id).await;
    for k in [&key, &scoped, &org_key] {
        assert_eq!(second.get("/organization/list", k).await.0, StatusCode::OK);
    }
    let refused_soon = |k: String| {
        let second = &second;
        async move {
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                let status = second.get("/organization/list", &k).await.0;
                if status == StatusCode::UNAUTHORIZED {
                    return true;
                }
                if Instant::now() > deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // A revoked key, a removed member's organization key, a deleted organization's key.
    first
        .delete(
            &format!("/api-key/{}", created["id"].as_str().unwrap()),
            &ada.key,
        )
        .await;
    assert!(refused_soon(key).await, "the revoked key");
    first
        .delete(
            &format!("/organization/{acme_id}/member/{}", bob.id),
            &ada.key,
        )
        .await;
    assert!(refused_soon(scoped).await, "the removed member's key");
    first
        .delete(&format!("/organization/{acme_id}"), &ada.key)
        .await;
    assert!(
        refused_soon(org_key).await,
        "the deleted organization's key"
    );
}
