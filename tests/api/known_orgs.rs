//! A change through `PATCH /v1/organizations/{id}`, or usage recorded through
//! `POST /organization/{id}/usage`, made from the organization as this process last changed
//! it: while nothing else wrote it, it applies in one statement; once something did
//! (another instance, another route, a membership), the answer, the stored row, the ledger
//! and the events are those of a change made from a fresh read, and so is the access.

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

/// A new organization of the key's user: its id.
async fn acme(app: &TestApp, key: &str) -> String {
    app.create_organization(key, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn path(id: &str) -> String {
    format!("/v1/organizations/{id}")
}

#[tokio::test]
async fn a_change_after_another_instance_wrote_applies_to_what_it_wrote() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let id = acme(&app, &ada.key).await;
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
    let id = acme(&app, &ada.key).await;
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

async fn use_credits(app: &TestApp, key: &str, id: &str, credits: u64) -> (StatusCode, Value) {
    app.post(
        &format!("/organization/{id}/usage"),
        key,
        json!({"credits": credits}),
    )
    .await
}

/// The organization's ledger: how many entries, and the credits they add up to.
async fn ledger(app: &TestApp, key: &str, id: &str) -> (usize, i64) {
    let (status, entries) = app
        .get(&format!("/organization/{id}/usage/entries?limit=100"), key)
        .await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    let entries = entries.as_array().unwrap();
    let credits = entries.iter().map(|e| e["credits"].as_i64().unwrap()).sum();
    (entries.len(), credits)
}

#[tokio::test]
async fn usage_after_another_instance_wrote_counts_from_what_is_stored() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let id = acme(&app, &ada.key).await;
    for used in [100, 200] {
        // The second call is made from the organization the first one left remembered.
        let (status, body) = use_credits(&app, &ada.key, &id, 100).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["currentMonthUsage"], used, "{body}");
    }

    let other = app.another_instance(|_| {}).await;
    let (status, body) = use_credits(&other, &ada.key, &id, 300).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = use_credits(&app, &ada.key, &id, 100).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["currentMonthUsage"], &body["creditCount"]),
        (&json!(600), &json!(400)),
        "the other instance's usage counts: {body}"
    );
    assert_eq!(ledger(&app, &ada.key, &id).await, (4, 600));

    // Then a change of its fields made from the organization this call left remembered
    // answers what is stored, and usage goes on from it.
    let key = app.organization_key(&ada.key, &id).await;
    let (status, changed) = app.patch(&path(&id), &key, json!({"name": "Acme 2"})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (status, read) = app.get(&path(&id), &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed, read);
    let (status, body) = use_credits(&app, &ada.key, &id, 50).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["currentMonthUsage"], 650, "{body}");
    let (_, management) = app.get(&format!("/organization/{id}"), &ada.key).await;
    assert_eq!(
        (&management["name"], &management["currentMonthUsage"]),
        (&json!("Acme 2"), &json!(650))
    );

    // Deactivated elsewhere: refused as from a read, and nothing recorded.
    let (status, body) = other
        .patch(&path(&id), ADMIN_TOKEN, json!({"is_active": false}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = use_credits(&app, &ada.key, &id, 100).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(ledger(&app, &ada.key, &id).await, (5, 650));
}

#[tokio::test]
async fn usage_by_a_member_removed_elsewhere_is_refused_as_from_a_read() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let id = acme(&app, &ada.key).await;
    app.add_member(&id, &bob.id, "member").await;
    for _ in 0..2 {
        let (status, body) = use_credits(&app, &bob.key, &id, 10).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let other = app.another_instance(|_| {}).await;
    let (status, body) = other
        .delete(&format!("/organization/{id}/member/{}", bob.id), &ada.key)
        .await;
    assert!(status.is_success(), "{status}: {body}");
    let (status, refused) = use_credits(&app, &bob.key, &id, 10).await;
    let (fresh_status, fresh) = use_credits(&other, &bob.key, &id, 10).await;
    assert!(!status.is_success(), "{status}: {refused}");
    assert_eq!((status, &refused), (fresh_status, &fresh));
    assert_eq!(ledger(&app, &ada.key, &id).await, (2, 20));
}

#[tokio::test]
async fn usage_crossing_a_threshold_from_a_remembered_organization_announces_it() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let id = acme(&app, &ada.key).await;
    // The free tier's 1,000 credits: 700, then 100 more (remembered) reaches 80%.
    for (credits, used) in [(700, 700), (100, 800)] {
        let (status, body) = use_credits(&app, &ada.key, &id, credits).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["currentMonthUsage"], used, "{body}");
    }
    let (status, events) = app
        .get(
            &format!("/organization/{id}/events?type=usage.threshold_reached"),
            &ada.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let thresholds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["threshold"].as_str().unwrap())
        .collect();
    assert_eq!(thresholds, ["allocation_80"]);
    assert_eq!(ledger(&app, &ada.key, &id).await, (2, 800));
}
