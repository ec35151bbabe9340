use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tenantry_tests::{ADMIN_TOKEN, TestApp, assert_problem_names};

#[tokio::test]
async fn owners_add_list_change_and_remove_members() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();

    let (status, member) = app
        .post(
            &format!("/organization/{id}/member"),
            &ada.key,
            json!({"userId": bob.id, "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    assert_eq!(member["userId"], bob.id.as_str());
    assert_eq!(member["email"], "bob@example.com");
    assert_eq!(member["name"], "Bob");
    assert_eq!(member["role"], "member");
    assert!(member["joinedAt"].is_string());

    let (status, list) = app
        .get(&format!("/organization/{id}/member/list"), &bob.key)
        .await;
    assert_eq!(status, StatusCode::OK);
    let roles: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["userId"].clone(), m["role"].clone()))
        .collect();
    assert_eq!(
        roles,
        [
            (json!(ada.id), json!("owner")),
            (json!(bob.id), json!("member"))
        ]
    );

    let (status, changed) = app
        .patch(
            &format!("/organization/{id}/member/{}", bob.id),
            &ada.key,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["role"], "admin");

    let (status, org_after) = app
        .delete(&format!("/organization/{id}/member/{}", bob.id), &ada.key)
        .await;
    assert_eq!(status, StatusCode::OK, "{org_after}");
    assert_eq!(org_after["id"], id);
    assert_eq!(org_after["memberCount"], 1);
    assert_eq!(org_after["members"].as_array().unwrap().len(), 1);
    let (status, _) = app.get(&format!("/organization/{id}"), &bob.key).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a removed member no longer sees the organization"
    );
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed_or_demoted() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let (status, problem) = app
        .delete(&format!("/organization/{id}/member/{}", ada.id), &ada.key)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/last-owner", "{problem}");
    let (status, problem) = app
        .patch(
            &format!("/organization/{id}/member/{}", ada.id),
            ADMIN_TOKEN,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["type"], "/problems/last-owner", "{problem}");
    let (_, after) = app.get(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(after["memberCount"], 1);
    assert_eq!(after["members"][0]["role"], "owner");

    // With a second owner, the first may go.
    let bea = app.new_user("Bea").await;
    app.add_member(id, &bea.id, "owner").await;
    let (status, _) = app
        .delete(&format!("/organization/{id}/member/{}", ada.id), &bea.key)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_removals_of_two_owners_leave_one() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bea = app.new_user("Bea").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(id, &bea.id, "owner").await;
    let paths = [
        format!("/organization/{id}/member/{}", ada.id),
        format!("/organization/{id}/member/{}", bea.id),
    ];
    let results = join_all(paths.iter().map(|p| app.delete(p, ADMIN_TOKEN))).await;
    let statuses: Vec<_> = results.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let (_, after) = app.get(&format!("/organization/{id}"), ADMIN_TOKEN).await;
    assert_eq!(after["memberCount"], 1);
    assert_eq!(after["members"][0]["role"], "owner");
}

#[tokio::test]
async fn only_owners_touch_owners_and_members_manage_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let adam = app.new_user("Adam").await;
    let mia = app.new_user("Mia").await;
    let cy = app.new_user("Cy").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(id, &adam.id, "admin").await;
    app.add_member(id, &mia.id, "member").await;
    let add = format!("/organization/{id}/member");

    let (status, _) = app
        .post(&add, &adam.key, json!({"userId": cy.id, "role": "owner"}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an admin cannot make an owner"
    );
    let (status, _) = app.delete(&format!("{add}/{}", ada.id), &adam.key).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an admin cannot remove an owner"
    );
    let (status, _) = app
        .post(&add, &mia.key, json!({"userId": cy.id, "role": "member"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member cannot add members");
    let (status, _) = app
        .patch(
            &format!("{add}/{}", mia.id),
            &mia.key,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a member cannot promote themselves"
    );

    let (_, list) = app.get(&format!("{add}/list"), &ada.key).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
    let (status, _) = app
        .post(&add, &adam.key, json!({"userId": cy.id, "role": "member"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "an admin adds members");
}

#[tokio::test]
async fn member_bodies_are_validated() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let add = format!("/organization/{id}/member");
    let missing_user = uuid::Uuid::now_v7().to_string();
    let cases = [
        (json!({"userId": bob.id}), "role"),
        (json!({"role": "member"}), "userId"),
        (json!({"userId": bob.id, "role": "boss"}), "role"),
        (json!({"userId": "bob", "role": "member"}), "userId"),
        (
            json!({"userId": bob.id, "role": "member", "extra": true}),
            "extra",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = app.post(&add, &ada.key, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let (status, problem) = app
        .post(
            &add,
            &ada.key,
            json!({"userId": missing_user, "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a user that does not exist");
    assert_problem_names(&problem, status, "userId");
    app.add_member(id, &bob.id, "member").await;
    let (status, _) = app
        .post(&add, &ada.key, json!({"userId": bob.id, "role": "admin"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "already a member");
    let (_, org) = app.get(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(org["memberCount"], 2);
}

async fn set_user_quota(app: &TestApp, id: &str, quota: u32) {
    // The management surface does not expose quotas; set them through the store, as the
    // platform admin's seed-002 surface will.
    let changes = tenantry_domain::OrganizationChanges {
        user_quota: Some(tenantry_domain::Quota::parse(i64::from(quota)).unwrap()),
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
}

#[tokio::test]
async fn the_member_count_never_exceeds_the_user_quota() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    set_user_quota(&app, id, 2).await;
    let bob = app.new_user("Bob").await;
    let cy = app.new_user("Cy").await;
    app.add_member(id, &bob.id, "member").await;
    let (status, problem) = app
        .post(
            &format!("/organization/{id}/member"),
            &ada.key,
            json!({"userId": cy.id, "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/quota-exceeded", "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("user quota"));
    let (_, after) = app.get(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(after["memberCount"], 2);
}

#[tokio::test]
async fn concurrent_additions_racing_for_the_last_place_let_exactly_one_in() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    set_user_quota(&app, id, 2).await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(app.new_user(&format!("User {i}")).await);
    }
    let path = format!("/organization/{id}/member");
    let results = join_all(users.iter().map(|u| {
        app.post(
            &path,
            ADMIN_TOKEN,
            json!({"userId": u.id, "role": "member"}),
        )
    }))
    .await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT)
    );
    let (_, after) = app.get(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(after["memberCount"], 2);
    assert_eq!(after["members"].as_array().unwrap().len(), 2);
}
