//! Writes that append their row in the change's own statement (an update with its event,
//! usage with its ledger entry) write the row an `INSERT` in a transaction writes: on
//! SQLite, where a trigger moves it from the organization's pending columns, each column is
//! compared with the same column of a row written the other way. And a change that fails
//! leaves no row of its own behind.

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait as _, Database, DbBackend, Statement};
use serde_json::json;
use tenantry_tests::{TestApp, TestUser};

/// Each column of the row as `typeof(column)` and, for text, its shape (each run of digits
/// as one `9`), so that two rows written at different times and with different ids compare
/// equal exactly when SQLite stores them alike.
async fn shapes(app: &TestApp, table: &str, public_id_hex: &str) -> Vec<(String, String)> {
    let db = Database::connect(app.database_url.as_str()).await.unwrap();
    let columns = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect::<Vec<_>>();
    let digit_runs = regex::Regex::new("[0-9]+").unwrap();
    let mut shapes = Vec::new();
    for column in columns {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                format!(
                    "SELECT typeof({column}) AS kind, CASE typeof({column}) WHEN 'text' THEN {column} END AS text FROM {table} WHERE hex(public_id) = upper('{public_id_hex}')"
                ),
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {table} row {public_id_hex}"));
        let kind: String = row.try_get("", "kind").unwrap();
        let text: Option<String> = row.try_get("", "text").unwrap();
        let shape = match (kind.as_str(), column.as_str()) {
            // Values that differ from row to row by nature: their kind is what matters.
            ("blob" | "integer", _) | (_, "data" | "changes" | "trace_id" | "event_type") => {
                String::new()
            }
            // Each run of digits as one `9`: RFC 3339 writes as many fraction digits as
            // a time needs, whichever way it is stored.
            _ => digit_runs
                .replace_all(&text.unwrap_or_default(), "9")
                .into_owned(),
        };
        shapes.push((format!("{column}: {kind}"), shape));
    }
    shapes
}

fn hex(id: &str) -> String {
    id.replace('-', "")
}

/// A server on SQLite (`None` on PostgreSQL, which appends with `WITH … INSERT` and needs
/// no such check), a user and their organization's id.
async fn on_sqlite() -> Option<(TestApp, TestUser, String)> {
    let app = TestApp::spawn().await;
    if !app.database_url.starts_with("sqlite") {
        return None;
    }
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap().to_owned();
    Some((app, ada, id))
}

#[tokio::test]
async fn an_event_appended_with_its_update_is_stored_as_an_inserted_one() {
    let Some((app, ada, id)) = on_sqlite().await else {
        return;
    };
    let (status, body) = app
        .patch(
            &format!("/v1/organizations/{id}"),
            &ada.key,
            json!({"name": "Acme 2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, events) = app
        .get(&format!("/organization/{id}/events"), &ada.key)
        .await;
    let events = events.as_array().unwrap();
    assert_eq!(events[0]["type"], "organization.updated", "{events:?}");
    assert_eq!(events[1]["type"], "organization.created", "{events:?}");
    let updated = shapes(&app, "events", &hex(events[0]["id"].as_str().unwrap())).await;
    let created = shapes(&app, "events", &hex(events[1]["id"].as_str().unwrap())).await;
    assert_eq!(updated, created);
    assert_eq!(
        events[0]["changes"],
        json!([{"field": "name", "from": "Acme", "to": "Acme 2"}])
    );
    assert_no_pending_rows(&app).await;
}

#[tokio::test]
async fn a_ledger_entry_appended_with_its_usage_is_stored_as_an_inserted_one() {
    let Some((app, ada, id)) = on_sqlite().await else {
        return;
    };
    let usage = format!("/organization/{id}/usage");
    // Without a key: one statement. With one: the transaction that keeps the answer.
    let (status, first) = app
        .post(
            &usage,
            &ada.key,
            json!({"credits": 2, "category": "search"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let response = app
        .request(Method::POST, &usage, &ada.key)
        .header("Idempotency-Key", "job-1")
        .json(&json!({"credits": 3, "category": "search"}))
        .send()
        .await
        .unwrap();
    let (status, second) = tenantry_tests::parse(response).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let one = shapes(
        &app,
        "usage_entries",
        &hex(first["entryId"].as_str().unwrap()),
    )
    .await;
    let other = shapes(
        &app,
        "usage_entries",
        &hex(second["entryId"].as_str().unwrap()),
    )
    .await;
    // The idempotency key is the one column that tells them apart.
    let without_key = |shapes: Vec<(String, String)>| {
        shapes
            .into_iter()
            .filter(|(column, _)| !column.starts_with("idempotency_key"))
            .collect::<Vec<_>>()
    };
    assert_eq!(without_key(one), without_key(other));
    let (_, summary) = app.get(&usage, &ada.key).await;
    assert_eq!(summary["used"], 5, "{summary}");
    assert_no_pending_rows(&app).await;
}

/// On either database: an update refused by the database (a domain another organization
/// has) after its access read leaves no event, and the next update of the same writer
/// commits with its own.
#[tokio::test]
async fn an_update_the_database_refuses_leaves_no_event_and_the_next_one_commits() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let taken = app.create_organization(&ada.key, "Taken").await;
    let taken = taken["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .put(
            &format!("/organization/{taken}"),
            &ada.key,
            json!({"domain": "taken.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let path = format!("/organization/{id}");
    for _ in 0..3 {
        let (status, body) = app
            .put(&path, &ada.key, json!({"domain": "taken.example"}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    let (status, body) = app.put(&path, &ada.key, json!({"name": "Acme 2"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["domain"], serde_json::Value::Null, "{body}");
    let (_, events) = app
        .get(&format!("/organization/{id}/events"), &ada.key)
        .await;
    let types: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["organization.updated", "organization.created"]);
    assert_eq!(
        events[0]["changes"],
        json!([{"field": "name", "from": "Acme", "to": "Acme 2"}])
    );
}

async fn assert_no_pending_rows(app: &TestApp) {
    let db = Database::connect(app.database_url.as_str()).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT count(*) AS n FROM organizations WHERE pending_entry IS NOT NULL \
             OR pending_event_id IS NOT NULL OR pending_event_type IS NOT NULL \
             OR pending_event_actor_kind IS NOT NULL OR pending_event_actor_id IS NOT NULL \
             OR pending_event_occurred_at IS NOT NULL OR pending_event_data IS NOT NULL \
             OR pending_event_changes IS NOT NULL OR pending_event_trace_id IS NOT NULL",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<i64>("", "n").unwrap(),
        0,
        "the triggers empty them"
    );
}
