//! Credits and overages: `POST /organization/{organization_id}/usage`.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp, TestUser, assert_problem_names};

async fn setup() -> (TestApp, TestUser, String) {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    (app, ada, org["id"].as_str().unwrap().to_owned())
}

/// Usage of `credits` by the platform admin, without an idempotency key.
fn usage(credits: u64) -> tenantry_storage::NewUsage {
    tenantry_storage::NewUsage {
        credits,
        category: tenantry_domain::UsageCategory::Compute,
        actor: tenantry_domain::Actor::PlatformAdmin(None),
        idempotency: None,
    }
}

fn no_answer(
    _: &tenantry_domain::Organization,
    _: &tenantry_domain::UsageEntry,
) -> tenantry_storage::StoredResponse {
    unreachable!("an answer is kept only for an idempotency key")
}

async fn use_credits(app: &TestApp, key: &str, org: &str, credits: Value) -> (StatusCode, Value) {
    app.post(
        &format!("/organization/{org}/usage"),
        key,
        json!({"credits": credits}),
    )
    .await
}

#[tokio::test]
async fn usage_within_the_allocation_is_recorded_on_every_surface() {
    let (app, ada, org) = setup().await;
    let (status, body) = use_credits(&app, &ada.key, &org, json!(250)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = body["entryId"]
        .as_str()
        .expect("the ledger entry's id")
        .to_owned();
    assert_eq!(
        body,
        json!({"organizationId": org, "entryId": entry, "creditCount": 750, "currentMonthUsage": 250, "overage": 0})
    );
    let (_, management) = app.get(&format!("/organization/{org}"), &ada.key).await;
    assert_eq!(
        (
            management["creditCount"].clone(),
            management["currentMonthUsage"].clone()
        ),
        (json!(750), json!(250))
    );
    let current = tenantry_tests::parse(
        app.request(reqwest::Method::GET, "/v1/organizations", &ada.key)
            .header("X-Organization-Id", &org)
            .send()
            .await
            .unwrap(),
    )
    .await
    .1;
    assert_eq!(
        (
            current["credit_count"].clone(),
            current["current_month_usage"].clone()
        ),
        (json!(750), json!(250))
    );
}

#[tokio::test]
async fn usage_beyond_the_allocation_without_auto_billing_is_402_and_records_nothing() {
    let (app, ada, org) = setup().await;
    assert_eq!(
        use_credits(&app, &ada.key, &org, json!(990)).await.0,
        StatusCode::OK
    );
    let (status, problem) = use_credits(&app, &ada.key, &org, json!(11)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{problem}");
    assert_eq!(problem["type"], "/problems/credits-exhausted");
    let (_, after) = app.get(&format!("/organization/{org}"), &ada.key).await;
    assert_eq!(after["currentMonthUsage"], 990);
    assert_eq!(
        use_credits(&app, &ada.key, &org, json!(10)).await.0,
        StatusCode::OK,
        "exactly to the allocation"
    );
}

#[tokio::test]
async fn with_auto_billing_usage_may_go_beyond_up_to_the_overage_cap() {
    let (app, ada, org) = setup().await;
    app.put(
        &format!("/organization/{org}"),
        ADMIN_TOKEN,
        json!({"autoBillingEnabled": true}),
    )
    .await;
    app.patch(
        &format!("/organization/{org}/max-overages"),
        &ada.key,
        json!({"maxOverages": 100}),
    )
    .await;
    let (status, body) = use_credits(&app, &ada.key, &org, json!(1_050)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["overage"], 50);
    assert_eq!(body["creditCount"], 0);
    assert_eq!(
        use_credits(&app, &ada.key, &org, json!(51)).await.0,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(
        use_credits(&app, &ada.key, &org, json!(50)).await.0,
        StatusCode::OK
    );
    // No cap: no limit while auto billing is on.
    app.patch(
        &format!("/organization/{org}/max-overages"),
        &ada.key,
        json!({"maxOverages": null}),
    )
    .await;
    let (status, body) = use_credits(&app, &ada.key, &org, json!(1_000_000)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["overage"], 1_000_100);
}

#[tokio::test]
async fn two_hundred_concurrent_calls_consume_exactly_up_to_the_cap() {
    let (app, ada, org) = setup().await;
    app.put(
        &format!("/organization/{org}"),
        ADMIN_TOKEN,
        json!({"autoBillingEnabled": true}),
    )
    .await;
    app.patch(
        &format!("/organization/{org}/max-overages"),
        &ada.key,
        json!({"maxOverages": 500}),
    )
    .await;
    // 1,000 credits of allocation and 500 of overage: 150 calls of 10 fit, 50 do not.
    let path = format!("/organization/{org}/usage");
    let calls = (0..200).map(|_| {
        app.post(
            &path,
            &ada.key,
            json!({"credits": 10, "category": "compute"}),
        )
    });
    let results = join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::PAYMENT_REQUIRED)
        .count();
    assert_eq!(
        (ok, refused),
        (150, 50),
        "{:?}",
        results.iter().map(|(s, _)| s.as_u16()).collect::<Vec<_>>()
    );
    let (_, after) = app.get(&format!("/organization/{org}"), &ada.key).await;
    assert_eq!(after["currentMonthUsage"], 10 * ok as u64);
    assert_eq!(after["currentMonthUsage"], 1_500);
}

#[tokio::test]
async fn a_new_billing_cycle_starts_from_zero() {
    let (app, ada, org) = setup().await;
    let last_month = time::OffsetDateTime::now_utc() - time::Duration::days(40);
    let tiers = tenantry_domain::TierTable::default();
    let organization = app.store.organization(org.parse().unwrap()).await.unwrap();
    app.store
        .record_usage(&organization, &usage(1_000), &tiers, last_month, no_answer)
        .await
        .unwrap();
    let (status, body) = use_credits(&app, &ada.key, &org, json!(1_000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["currentMonthUsage"], 1_000);
}

#[tokio::test]
async fn usage_recorded_from_a_stale_read_follows_a_billing_day_changed_since() {
    let (app, ada, org) = setup().await;
    let stale = app.store.organization(org.parse().unwrap()).await.unwrap();
    let today = time::OffsetDateTime::now_utc().date().day();
    // Another day than the one read, so that the first conditional update misses.
    let day = if stale.billing_cycle_start.get() == 1 {
        2
    } else {
        1
    };
    let (status, body) = app
        .put(
            &format!("/organization/{org}"),
            ADMIN_TOKEN,
            json!({"billingCycleStart": day}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recorded = app
        .store
        .record_usage(
            &stale,
            &usage(7),
            &tenantry_domain::TierTable::default(),
            time::OffsetDateTime::now_utc(),
            no_answer,
        )
        .await
        .unwrap();
    let tenantry_storage::Recorded::New { organization, .. } = recorded else {
        panic!("no idempotency key, no replay");
    };
    assert_eq!(organization.billing_cycle_start.get(), day);
    let (_, after) = app.get(&format!("/organization/{org}"), &ada.key).await;
    assert_eq!(after["currentMonthUsage"], 7, "today is day {today}");
}

#[tokio::test]
async fn usage_bodies_are_validated_and_members_of_other_organizations_see_nothing() {
    let (app, ada, org) = setup().await;
    let path = format!("/organization/{org}/usage");
    for (body, field) in [
        (json!({}), "credits"),
        (json!({"credits": 0}), "credits"),
        (json!({"credits": -5}), "credits"),
        (json!({"credits": 1.5}), "credits"),
        (json!({"credits": "10"}), "credits"),
        (json!({"credits": 1, "category": "metadata"}), "category"),
        (json!({"credits": 1, "category": null}), "category"),
        (json!({"credits": 1, "note": "x"}), "note"),
    ] {
        let (status, problem) = app.post(&path, &ada.key, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let eve = app.new_user("Eve").await;
    assert_eq!(
        use_credits(&app, &eve.key, &org, json!(1)).await.0,
        StatusCode::NOT_FOUND
    );
    let mia = app.new_user("Mia").await;
    app.add_member(&org, &mia.id, "member").await;
    assert_eq!(
        use_credits(&app, &mia.key, &org, json!(1)).await.0,
        StatusCode::OK,
        "members record usage"
    );
    let (_, after) = app.get(&format!("/organization/{org}"), &ada.key).await;
    assert_eq!(after["currentMonthUsage"], 1);
}

#[tokio::test]
async fn the_platform_admin_sets_an_enterprise_allocation_and_the_billing_day() {
    let (app, ada, org) = setup().await;
    let path = format!("/organization/{org}");
    let (status, body) = app
        .put(&path, ADMIN_TOKEN, json!({"accountType": "enterprise"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["creditCount"], 0,
        "the enterprise tier has no allocation of its own"
    );
    let (status, body) = app
        .put(
            &path,
            ADMIN_TOKEN,
            json!({"creditAllocation": 5_000_000, "billingCycleStart": 15}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["creditCount"], 5_000_000);
    let (_, current) = tenantry_tests::parse(
        app.request(reqwest::Method::GET, "/v1/organizations", &ada.key)
            .header("X-Organization-Id", &org)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(current["billing_cycle_start"], 15);
    assert_eq!(
        use_credits(&app, &ada.key, &org, json!(4_000_000)).await.0,
        StatusCode::OK
    );

    let (status, problem) = app
        .put(
            &path,
            &ada.key,
            json!({"creditAllocation": 10, "billingCycleStart": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_problem_names(&problem, status, "creditAllocation");
    assert_problem_names(&problem, status, "billingCycleStart");
    for (body, field) in [
        (json!({"billingCycleStart": 29}), "billingCycleStart"),
        (json!({"billingCycleStart": 0}), "billingCycleStart"),
        (json!({"creditAllocation": -1}), "creditAllocation"),
    ] {
        let (status, problem) = app.put(&path, ADMIN_TOKEN, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let (status, body) = app
        .put(&path, ADMIN_TOKEN, json!({"creditAllocation": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["creditCount"], 0, "back to the tier's (none)");
}

#[tokio::test]
async fn the_answer_to_usage_carries_the_version_and_counts_a_read_finds_after_it() {
    let (app, ada, org) = setup().await;
    let etag = |response: &reqwest::Response| response.headers()["etag"].to_owned();
    let mut seen = Vec::new();
    for credits in [10, 25, 5] {
        let recorded = app
            .request(
                reqwest::Method::POST,
                &format!("/organization/{org}/usage"),
                &ada.key,
            )
            .json(&json!({"credits": credits}))
            .send()
            .await
            .unwrap();
        let recorded_etag = etag(&recorded);
        let (status, body) = tenantry_tests::parse(recorded).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let read = app
            .request(
                reqwest::Method::GET,
                &format!("/organization/{org}"),
                &ada.key,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(etag(&read), recorded_etag, "after {credits} credits");
        let (_, read) = tenantry_tests::parse(read).await;
        for field in ["creditCount", "currentMonthUsage"] {
            assert_eq!(body[field], read[field], "{field} after {credits} credits");
        }
        seen.push(recorded_etag);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "each usage is a new version: {seen:?}");
}
