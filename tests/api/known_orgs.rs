//! A change through `PATCH /v1/organizations/{id}` made from the organization as this
//! process last changed it: while nothing else wrote it, it applies in one statement; once
//! something did (another instance, another route, a membership), the answer, the stored
//! row and the event are those of a change made from a fresh read, and so is the access.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp};

/// The newest `organization.updated` event's changes, and how many such events there are.
async fn updates(app: &TestApp, id: &str) -> (Value, usize) {
    let (status, events) = app
        .get(
            &format!("/events?organizationId={id}&type=organization.updated&limit=1000"),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let events = events.as_array().unwrap();
    (events[0]["changes"].clone(), events.len())
}

fn path(id: &str) -> String {
    format!("/v1/organizations/{id}")
}

#[tokio::test]
async fn a_change_after_another_instance_wrote_applies_to_what_it_wrote() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let id = app.create_organization(&ada.key, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = app.organization_key(&ada.key, &id).await;
    let (status, body) = app.patch(&path(&id), &key, json!({"name": "One"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Remembered here from this change: the next one applies to it in one statement.
    let (status, body) = app.patch(&path(&id), &key, json!({"name": "Two"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        updates(&app, &id).await.0,
        json!([{"field": "name", "from": "One", "to": "Two"}])
    );

    let other = app.another_instance(|_| {}).await;
    let (status, body) = other
        .patch(
            &path(&id),
            ADMIN_TOKEN,
            json!({"name": "Three", "user_quota": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, changed) = app.patch(&path(&id), &key, json!({"name": "Four"})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["name"], "Four");
    assert_eq!(
        changed["user_quota"], 7,
        "the other instance's change stands"
    );
    let (status, read) = app.get(&path(&id), &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed, read);
    let (changes, count) = updates(&app, &id).await;
    assert_eq!(
        changes,
        json!([{"field": "name", "from": "Three", "to": "Four"}])
    );
    assert_eq!(count, 4, "One, Two, Three with the quota, and Four");

    // A change that names nothing new answers the organization as it is.
    let (status, body) = other.patch(&path(&id), &key, json!({"name": "Five"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, unchanged) = app.patch(&path(&id), &key, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{unchanged}");
    assert_eq!(unchanged["name"], "Five");
}

#[tokio::test]
async fn a_member_given_a_lesser_role_elsewhere_is_refused_as_from_a_read() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let id = app.create_organization(&ada.key, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.add_member(&id, &bob.id, "admin").await;
    let bobs_key = app.organization_key(&bob.key, &id).await;
    let (status, body) = app
        .patch(&path(&id), &bobs_key, json!({"name": "Bob's"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Another instance makes Bob a member, who may not change the organization.
    let other = app.another_instance(|_| {}).await;
    let (status, body) = other
        .patch(
            &format!("/organization/{id}/member/{}", bob.id),
            &ada.key,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, before) = updates(&app, &id).await;

    let (status, body) = app
        .patch(&path(&id), &bobs_key, json!({"name": "Bob's again"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, read) = app.get(&path(&id), &ada.key).await;
    assert_eq!(read["name"], "Bob's");
    assert_eq!(updates(&app, &id).await.1, before, "no event");
}
