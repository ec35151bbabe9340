use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp, assert_problem_names, parse};

fn is_rfc3339(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

#[tokio::test]
async fn creating_an_organization_makes_the_caller_its_owner() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let response = app
        .request(Method::POST, "/organization", &ada.key)
        .json(&json!({"organizationName": "Acme", "domain": "Acme.Example"}))
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let (status, org) = parse(response).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = org["id"].as_str().unwrap();
    assert_eq!(location, format!("/organization/{id}"));
    assert_eq!(etag, "\"1\"");
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["domain"], "acme.example");
    assert_eq!(org["logoUrl"], Value::Null);
    assert_eq!(org["accountType"], "free");
    assert_eq!(org["plan"], "pilot");
    assert_eq!(org["isActive"], true);
    assert_eq!(org["creditCount"], 1000);
    assert_eq!(org["currentMonthUsage"], 0);
    assert_eq!(org["autoBillingEnabled"], false);
    assert_eq!(org["maxOverages"], 0);
    assert_eq!(org["memberCount"], 1);
    assert!(is_rfc3339(&org["createdAt"]) && is_rfc3339(&org["updatedAt"]));
    let mut keys: Vec<&str> = org
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accountType",
            "autoBillingEnabled",
            "createdAt",
            "creditCount",
            "currentMonthUsage",
            "domain",
            "id",
            "isActive",
            "logoUrl",
            "maxOverages",
            "memberCount",
            "name",
            "plan",
            "updatedAt"
        ]
    );

    let (status, detail) = app.get(&location, &ada.key).await;
    assert_eq!(status, StatusCode::OK);
    let members = detail["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["userId"], ada.id.as_str());
    assert_eq!(members[0]["role"], "owner");
    assert_eq!(members[0]["email"], "ada@example.com");
    assert!(is_rfc3339(&members[0]["joinedAt"]));
    for field in [
        "id",
        "name",
        "domain",
        "createdAt",
        "updatedAt",
        "memberCount",
    ] {
        assert_eq!(detail[field], org[field], "{field}");
    }
}

#[tokio::test]
async fn the_platform_admin_creates_organizations_for_a_named_owner() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let (status, body) = app
        .post(
            "/organization",
            ADMIN_TOKEN,
            json!({"organizationName": "Acme"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&body, status, "ownerUserId");

    let (status, org) = app
        .post(
            "/organization",
            ADMIN_TOKEN,
            json!({"organizationName": "Acme", "ownerUserId": ada.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], org["id"]);
}

#[tokio::test]
async fn a_user_cannot_create_an_organization_for_someone_else() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let (status, body) = app
        .post(
            "/organization",
            &ada.key,
            json!({"organizationName": "Acme", "ownerUserId": bob.id}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_problem_names(&body, status, "ownerUserId");
    let (_, list) = app.get("/organization/list", ADMIN_TOKEN).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn invalid_create_bodies_are_422_naming_each_field_and_create_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let cases = [
        (json!({}), "organizationName"),
        (json!({"organizationName": ""}), "organizationName"),
        (json!({"organizationName": "   "}), "organizationName"),
        (
            json!({"organizationName": "x".repeat(256)}),
            "organizationName",
        ),
        (json!({"organizationName": "a\u{0}b"}), "organizationName"),
        (json!({"organizationName": 42}), "organizationName"),
        (json!({"organizationName": null}), "organizationName"),
        (
            json!({"organizationName": "Acme", "domain": "not a domain"}),
            "domain",
        ),
        (
            json!({"organizationName": "Acme", "domain": "localhost"}),
            "domain",
        ),
        (
            json!({"organizationName": "Acme", "ownerUserId": "nope"}),
            "ownerUserId",
        ),
        (
            json!({"organizationName": "Acme", "organisationName": "typo"}),
            "organisationName",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = app.post("/organization", &ada.key, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let (_, list) = app.get("/organization/list", ADMIN_TOKEN).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn every_unknown_field_is_named() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let (status, body) = app
        .post(
            "/organization",
            &ada.key,
            json!({"organizationName": "Acme", "colour": "red", "size": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&body, status, "colour");
    assert_problem_names(&body, status, "size");
}

#[tokio::test]
async fn a_duplicate_domain_is_a_conflict() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let body = json!({"organizationName": "Acme", "domain": "acme.example"});
    assert_eq!(
        app.post("/organization", &ada.key, body.clone()).await.0,
        StatusCode::CREATED
    );
    let (status, problem) = app.post("/organization", &ada.key, body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/conflict");
    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_creates_one_organization() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let body = json!({"organizationName": "Acme"});
    let send = |key: &'static str, body: Value| {
        app.request(Method::POST, "/organization", &ada.key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send("retry-1", body.clone()).await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_headers = first.headers().clone();
    let (status, first) = parse(first).await;
    assert_eq!(status, StatusCode::CREATED);
    let second = send("retry-1", body.clone()).await.unwrap();
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    // The replay is the first answer whole: what it made, where, and at which version.
    for name in ["location", "etag", "content-type"] {
        assert_eq!(
            second.headers().get(name),
            first_headers.get(name),
            "{name}"
        );
    }
    assert!(first_headers.contains_key("location") && first_headers.contains_key("etag"));
    let (status, second) = parse(second).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first, second);

    let (status, problem) = parse(
        send("retry-1", json!({"organizationName": "Other"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );

    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], first["id"]);
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_create_one_organization() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let requests = (0..8).map(|_| {
        app.request(Method::POST, "/organization", &ada.key)
            .header("Idempotency-Key", "same")
            .json(&json!({"organizationName": "Acme"}))
            .send()
    });
    let responses = join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        let (status, body) = parse(response.unwrap()).await;
        if status == StatusCode::CREATED {
            ids.push(body["id"].clone());
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
        }
    }
    assert!(!ids.is_empty());
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let (_, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_organization_the_caller_is_not_in_is_404_like_a_missing_one() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let missing = uuid::Uuid::now_v7();
    for path in [
        format!("/organization/{id}"),
        format!("/organization/{missing}"),
    ] {
        let (status, body) = app.get(&path, &bob.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["type"], "/problems/not-found");
    }
    let (status, _) = app
        .put(
            &format!("/organization/{id}"),
            &bob.key,
            json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete(&format!("/organization/{id}"), &bob.key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, after) = app.get(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(after["name"], "Acme");
}

#[tokio::test]
async fn a_malformed_organization_id_is_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let (status, body) = app.get("/organization/not-a-uuid", &ada.key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&body, status, "organization_id");
}

#[tokio::test]
async fn listing_pages_through_every_organization_once() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_organization(&ada.key, &format!("Org {i}")).await["id"].clone());
    }
    // Another user's organizations are not listed.
    let bob = app.new_user("Bob").await;
    app.create_organization(&bob.key, "Bob's").await;

    let mut seen = Vec::new();
    let mut next = Some("/organization/list?limit=3".to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let response = app
            .request(Method::GET, &path, &ada.key)
            .send()
            .await
            .unwrap();
        next = response.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_owned()
        });
        let (status, page) = parse(response).await;
        assert_eq!(status, StatusCode::OK);
        let page = page.as_array().unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.iter().map(|o| o["id"].clone()));
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "each organization once, in creation order");

    let (_, all) = app.get("/organization/list", ADMIN_TOKEN).await;
    assert_eq!(all.as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn list_paging_parameters_are_checked() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=x", "cursor"),
        ("page=2", "page"),
    ] {
        let (status, body) = app
            .get(&format!("/organization/list?{query}"), &ada.key)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_problem_names(&body, status, field);
    }
    let (status, _) = app.get("/organization/list?limit=1000", &ada.key).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn owners_update_the_profile_and_only_the_columns_named() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let (status, updated) = app
        .put(&path, &ada.key, json!({"name": "Acme Labs", "domain": "acme.example", "logoUrl": "https://cdn.acme.example/logo.png"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Acme Labs");
    assert_eq!(updated["domain"], "acme.example");
    assert_eq!(updated["logoUrl"], "https://cdn.acme.example/logo.png");
    assert_eq!(updated["createdAt"], org["createdAt"]);
    assert_ne!(updated["updatedAt"], org["updatedAt"]);

    // The create body's spelling works too; absent fields are left alone; null clears.
    let (status, updated) = app
        .put(
            &path,
            &ada.key,
            json!({"organizationName": "Acme 2", "logoUrl": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Acme 2");
    assert_eq!(updated["domain"], "acme.example");
    assert_eq!(updated["logoUrl"], Value::Null);
}

#[tokio::test]
async fn invalid_updates_are_422_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let (_, before) = app.get(&path, &ada.key).await;
    let cases = [
        (json!({"name": null}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "y".repeat(256)}), "name"),
        (json!({"organizationName": 7}), "organizationName"),
        (
            json!({"name": "A", "organizationName": "B"}),
            "organizationName",
        ),
        // The document allows one of the two, so even the same name twice is refused.
        (
            json!({"name": "Acme", "organizationName": "Acme"}),
            "organizationName",
        ),
        (json!({"domain": "bad domain"}), "domain"),
        (json!({"logoUrl": "ftp://example.com/logo.png"}), "logoUrl"),
        (json!({"logoUrl": "not a url"}), "logoUrl"),
        (json!({"plan": "gold"}), "plan"),
        (json!({"accountType": "FREE"}), "accountType"),
        (json!({"isActive": "yes"}), "isActive"),
        (json!({"isActive": null}), "isActive"),
        (json!({"nmae": "typo"}), "nmae"),
    ];
    for (body, field) in cases {
        let (status, problem) = app.put(&path, &ada.key, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let (_, after) = app.get(&path, &ada.key).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn commercial_fields_are_the_platform_admins_and_a_refusal_names_them() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let (_, before) = app.get(&path, &ada.key).await;
    let (status, problem) = app
        .put(&path, &ada.key, json!({"name": "Acme Pro", "plan": "suite", "accountType": "pro", "isActive": false, "autoBillingEnabled": true}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    for field in ["plan", "accountType", "isActive", "autoBillingEnabled"] {
        assert_problem_names(&problem, status, field);
    }
    assert!(
        !problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "name")
    );
    let (_, after) = app.get(&path, &ada.key).await;
    assert_eq!(before, after);

    let (status, updated) = app
        .put(
            &path,
            ADMIN_TOKEN,
            json!({"plan": "suite", "accountType": "pro", "autoBillingEnabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["plan"], "suite");
    assert_eq!(updated["accountType"], "pro");
    assert_eq!(updated["creditCount"], 100_000);
    assert_eq!(updated["autoBillingEnabled"], true);
}

#[tokio::test]
async fn members_may_read_but_not_write() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(id, &bob.id, "member").await;
    let path = format!("/organization/{id}");
    let (status, before) = app.get(&path, &bob.key).await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = app.put(&path, &bob.key, json!({"name": "Bob's now"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_problem_names(&problem, status, "name");
    let (status, _) = app
        .patch(
            &format!("{path}/max-overages"),
            &bob.key,
            json!({"maxOverages": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.delete(&path, &bob.key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, after) = app.get(&path, &bob.key).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn reads_carry_an_etag_and_a_stale_if_match_is_412_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let path = format!("/organization/{}", org["id"].as_str().unwrap());
    let read = app
        .request(Method::GET, &path, &ada.key)
        .send()
        .await
        .unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();

    let write = |if_match: String, name: &'static str| {
        app.request(Method::PUT, &path, &ada.key)
            .header("If-Match", if_match)
            .json(&json!({"name": name}))
            .send()
    };
    let response = write(etag.clone(), "First").await.unwrap();
    let new_etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(new_etag, etag);

    let (status, problem) = parse(write(etag.clone(), "Stale").await.unwrap()).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{problem}");
    assert_eq!(problem["type"], "/problems/precondition-failed");
    let (status, problem) = parse(write("\"garbage\"".into(), "Garbage").await.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::PRECONDITION_FAILED,
        "a tag of no representation of ours never matches"
    );
    assert_eq!(problem["type"], "/problems/precondition-failed");
    let (status, problem) = parse(write("garbage".into(), "Garbage").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not a tag at all");
    assert_problem_names(&problem, status, "If-Match");
    let (_, after) = app.get(&path, &ada.key).await;
    assert_eq!(after["name"], "First");

    let (status, _) = parse(write("*".into(), "Any").await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn max_overages_take_a_whole_number_or_null() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let path = format!("/organization/{id}/max-overages");
    let (status, body) = app
        .patch(&path, &ada.key, json!({"maxOverages": 5000}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"organizationId": id, "maxOverages": 5000, "autoBillingEnabled": false, "creditCount": 1000, "currentMonthUsage": 0})
    );
    let (status, body) = app
        .patch(&path, &ada.key, json!({"maxOverages": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["maxOverages"], Value::Null);
    for bad in [
        json!({}),
        json!({"maxOverages": -1}),
        json!({"maxOverages": 1.5}),
        json!({"maxOverages": "10"}),
        json!({"max": 1}),
    ] {
        let (status, problem) = app.patch(&path, &ada.key, bad.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad} -> {problem}"
        );
    }
    let (_, org) = app.get(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(org["maxOverages"], Value::Null);
}

#[tokio::test]
async fn owners_delete_organizations_with_their_members_and_keys() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(id, &bob.id, "admin").await;
    let org_key = &app.organization_key(&ada.key, id).await;

    let (status, _) = app.delete(&format!("/organization/{id}"), &bob.key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins may not delete");
    let (status, body) = app.delete(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app.get(&format!("/organization/{id}"), ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/organization/list", org_key).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the organization's keys went with it"
    );
    let (_, bobs) = app.get("/organization/list", &bob.key).await;
    assert_eq!(bobs, json!([]));
}

#[tokio::test]
async fn paging_goes_on_when_the_cursors_organization_is_deleted() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.create_organization(&ada.key, &format!("Org {i}")).await["id"].clone());
    }
    let response = app
        .request(Method::GET, "/organization/list?limit=2", &ada.key)
        .send()
        .await
        .unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let next = link[1..link.find('>').unwrap()].to_owned();
    let (_, first) = parse(response).await;
    let cursor = first[1]["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/organization/{cursor}"), &ada.key)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, rest) = app.get(&next, &ada.key).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<_> = rest
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(ids, created[2..4], "the page after the deleted one");
}

#[tokio::test]
async fn an_owner_who_does_not_exist_is_404_naming_the_field_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .post(
            "/organization",
            ADMIN_TOKEN,
            json!({"organizationName": "Acme", "ownerUserId": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_problem_names(&problem, status, "ownerUserId");
    let (_, list) = app.get("/organization/list", ADMIN_TOKEN).await;
    assert_eq!(list, json!([]));
}

/// Organizations made with the store's bulk import, as the benchmark seeds them.
fn imported(count: usize, domain_of_last: Option<&str>) -> Vec<tenantry_domain::Organization> {
    use tenantry_domain::{DomainName, NewOrganization, Organization, OrganizationName};
    let now = time::OffsetDateTime::now_utc();
    (0..count)
        .map(|i| {
            let domain = if i + 1 == count {
                domain_of_last.map(|d| DomainName::parse(d).unwrap())
            } else {
                None
            };
            Organization::new(
                NewOrganization {
                    name: OrganizationName::parse(format!("Imported {i}")).unwrap(),
                    domain,
                },
                now,
            )
        })
        .collect()
}

#[tokio::test]
async fn imported_organizations_are_served_like_created_ones_and_an_import_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let owner: tenantry_domain::UserId = ada.id.parse().unwrap();
    // More than one batch of rows.
    let orgs = imported(1_201, None);
    app.store.import_organizations(owner, &orgs).await.unwrap();
    let (status, page) = app.get("/organization/list?limit=1000", &ada.key).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 1000);
    assert_eq!(page[0]["id"], orgs[0].id.to_string());
    assert_eq!(page[999]["name"], "Imported 999");
    let last = orgs.last().unwrap().id;
    let (status, org) = app.get(&format!("/organization/{last}"), &ada.key).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    assert_eq!(org["memberCount"], 1);
    assert_eq!(org["members"][0]["role"], "owner");

    // A domain already taken fails the whole import: nothing of it is left.
    let (status, taken) = app
        .post(
            "/organization",
            &ada.key,
            json!({"organizationName": "Taken", "domain": "taken.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{taken}");
    let more = imported(600, Some("taken.example"));
    assert!(app.store.import_organizations(owner, &more).await.is_err());
    let (status, _) = app
        .get(&format!("/organization/{}", more[0].id), &ada.key)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_members_list_holds_their_organizations_alone_and_an_unknown_user_has_none() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let mine = app.create_organization(&ada.key, "Acme").await;
    app.create_organization(&bob.key, "Globex").await;
    let (status, list) = app.get("/organization/list", &ada.key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<&str> = list
        .as_array()
        .expect("a list of organizations")
        .iter()
        .map(|org| org["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine["id"].as_str().unwrap()]);
    // A user the database does not know (a key cached past its user's deletion, say) has an
    // empty page, not an error: the user's key comes from a subquery that finds nothing.
    let page = app
        .store
        .list_organizations(
            Some(tenantry_domain::UserId::generate()),
            tenantry_storage::PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
}
