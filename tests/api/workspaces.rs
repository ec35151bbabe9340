//! Workspaces and the workspace quota.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tenantry_tests::{ADMIN_TOKEN, TestApp, TestUser, assert_problem_names};

async fn setup() -> (TestApp, TestUser, String) {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    (app, ada, org["id"].as_str().unwrap().to_owned())
}

async fn set_workspace_quota(app: &TestApp, org: &str, quota: u32) {
    let (status, body) = app
        .patch(
            &format!("/v1/organizations/{org}"),
            ADMIN_TOKEN,
            json!({"workspace_quota": quota}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn workspace_count(app: &TestApp, org: &str) -> u64 {
    app.get(&format!("/v1/organizations/{org}"), ADMIN_TOKEN)
        .await
        .1["workspace_count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn owners_create_list_and_delete_workspaces_and_the_count_follows() {
    let (app, ada, org) = setup().await;
    let path = format!("/organization/{org}/workspace");
    let (status, research) = app.post(&path, &ada.key, json!({"name": "Research"})).await;
    assert_eq!(status, StatusCode::CREATED, "{research}");
    assert_eq!(research["name"], "Research");
    assert!(research["id"].is_string() && research["createdAt"].is_string());
    app.post(&path, &ada.key, json!({"name": "Sales"})).await;
    assert_eq!(workspace_count(&app, &org).await, 2);

    let (status, list) = app.get(&format!("{path}/list"), &ada.key).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].clone())
        .collect();
    assert_eq!(names, [json!("Research"), json!("Sales")]);

    let (status, _) = app
        .delete(
            &format!("{path}/{}", research["id"].as_str().unwrap()),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(workspace_count(&app, &org).await, 1);
    let (status, _) = app
        .delete(
            &format!("{path}/{}", research["id"].as_str().unwrap()),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_workspace_quota_holds_and_lowering_it_removes_nothing() {
    let (app, ada, org) = setup().await;
    let path = format!("/organization/{org}/workspace");
    set_workspace_quota(&app, &org, 2).await;
    for name in ["A", "B"] {
        assert_eq!(
            app.post(&path, &ada.key, json!({"name": name})).await.0,
            StatusCode::CREATED
        );
    }
    let (status, problem) = app.post(&path, &ada.key, json!({"name": "C"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/quota-exceeded", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("workspace quota")
    );

    set_workspace_quota(&app, &org, 1).await;
    assert_eq!(
        workspace_count(&app, &org).await,
        2,
        "lowering the quota removes nothing"
    );
    let (_, list) = app.get(&format!("{path}/list"), &ada.key).await;
    let first = list[0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("{path}/{first}"), &ada.key).await;
    assert_eq!(
        app.post(&path, &ada.key, json!({"name": "D"})).await.0,
        StatusCode::CONFLICT,
        "still at the quota"
    );
}

#[tokio::test]
async fn concurrent_additions_racing_for_the_last_workspace_let_exactly_one_in() {
    let (app, ada, org) = setup().await;
    let path = format!("/organization/{org}/workspace");
    set_workspace_quota(&app, &org, 3).await;
    app.post(&path, &ada.key, json!({"name": "one"})).await;
    app.post(&path, &ada.key, json!({"name": "two"})).await;
    let results =
        join_all((0..8).map(|i| app.post(&path, &ada.key, json!({"name": format!("race {i}")}))))
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
    assert_eq!(workspace_count(&app, &org).await, 3);
    let (_, list) = app.get(&format!("{path}/list"), &ada.key).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn names_are_unique_and_checked_and_members_only_read() {
    let (app, ada, org) = setup().await;
    let path = format!("/organization/{org}/workspace");
    app.post(&path, &ada.key, json!({"name": "Research"})).await;
    let (status, _) = app.post(&path, &ada.key, json!({"name": "Research"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x", "size": 1}), "size"),
    ] {
        let (status, problem) = app.post(&path, &ada.key, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let mia = app.new_user("Mia").await;
    app.add_member(&org, &mia.id, "member").await;
    assert_eq!(
        app.post(&path, &mia.key, json!({"name": "Mine"})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("{path}/list"), &mia.key).await.0,
        StatusCode::OK
    );
    assert_eq!(workspace_count(&app, &org).await, 1);
}
