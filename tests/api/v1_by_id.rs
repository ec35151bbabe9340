//! The organization-by-id API (`/v1/organizations/{id}`), field by field.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_tests::{
    ADMIN_TOKEN, TestApp, TestUser, assert_problem_names, data_url, parse, png_bytes,
};

async fn setup() -> (TestApp, TestUser, String) {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    (app, ada, org["id"].as_str().unwrap().to_owned())
}

fn path(org: &str) -> String {
    format!("/v1/organizations/{org}")
}

#[tokio::test]
async fn the_seed_example_request_is_answered_with_every_documented_field() {
    let (app, _ada, org) = setup().await;
    let logo = data_url("image/png", &png_bytes());
    let example = json!({
        "name": "Acme Research",
        "plan": "pilot",
        "user_quota": 1,
        "workspace_quota": 1,
        "analysis_quota": 1,
        "asset_evaluation_quota": 1,
        "search_credits": 1,
        "logo": logo,
        "salesforce_code": "SF-0001",
        "contract_end_date": "2023-12-25",
        "is_active": true,
        "modules": ["Assets"]
    });
    let (status, body) = app.patch(&path(&org), ADMIN_TOKEN, example).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], org.as_str());
    assert_eq!(body["name"], "Acme Research");
    assert_eq!(body["plan"], "pilot");
    for quota in [
        "user_quota",
        "workspace_quota",
        "analysis_quota",
        "asset_evaluation_quota",
        "search_credits",
    ] {
        assert_eq!(body[quota], 1, "{quota}");
    }
    assert_eq!(body["workspace_count"], 0);
    assert_eq!(body["modules"], json!(["Assets"]));
    assert_eq!(body["salesforce_code"], "SF-0001");
    assert_eq!(body["contract_end_date"], "2023-12-25");
    assert_eq!(body["is_active"], true);
    assert!(
        body.get("logo").is_none(),
        "the logo only with include_logo=true"
    );
    let mut fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "analysis_quota",
            "asset_evaluation_quota",
            "contract_end_date",
            "id",
            "is_active",
            "modules",
            "name",
            "plan",
            "salesforce_code",
            "search_credits",
            "user_quota",
            "workspace_count",
            "workspace_quota"
        ]
    );
    let (status, with_logo) = app
        .get(&format!("{}?include_logo=true", path(&org)), ADMIN_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(with_logo["logo"], logo);
}

#[tokio::test]
async fn include_logo_both_ways_and_nothing_else() {
    let (app, ada, org) = setup().await;
    let logo = data_url("image/png", &png_bytes());
    let (status, body) = app
        .patch(
            &format!("{}?include_logo=true", path(&org)),
            &ada.key,
            json!({"logo": logo}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["logo"], logo);
    let (_, body) = app
        .get(&format!("{}?include_logo=false", path(&org)), &ada.key)
        .await;
    assert!(body.get("logo").is_none());
    let (_, body) = app.get(&path(&org), &ada.key).await;
    assert!(body.get("logo").is_none());

    let (_, other) = setup_other(&app).await;
    let (_, body) = app
        .get(&format!("{}?include_logo=true", path(&other)), ADMIN_TOKEN)
        .await;
    assert_eq!(
        body["logo"],
        Value::Null,
        "an organization without a logo answers null"
    );

    for query in ["include_logo=yes", "include_logo=", "includeLogo=true"] {
        let (status, problem) = app.get(&format!("{}?{query}", path(&org)), &ada.key).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let field = query.split('=').next().unwrap();
        assert_problem_names(&problem, status, field);
    }
}

async fn setup_other(app: &TestApp) -> (TestUser, String) {
    let bob = app.new_user("Bob").await;
    let org = app.create_organization(&bob.key, "Other").await;
    (bob, org["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn null_clears_nullable_fields_and_is_422_for_the_others() {
    let (app, ada, org) = setup().await;
    let logo = data_url("image/png", &png_bytes());
    let (status, _) = app
        .patch(
            &path(&org),
            ADMIN_TOKEN,
            json!({"logo": logo, "salesforce_code": "SF-1", "contract_end_date": "2030-01-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .patch(
            &format!("{}?include_logo=true", path(&org)),
            ADMIN_TOKEN,
            json!({"logo": null, "salesforce_code": null, "contract_end_date": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["logo"], Value::Null);
    assert_eq!(body["salesforce_code"], Value::Null);
    assert_eq!(body["contract_end_date"], Value::Null);

    let (_, before) = app.get(&path(&org), &ada.key).await;
    for field in [
        "name",
        "plan",
        "user_quota",
        "workspace_quota",
        "analysis_quota",
        "asset_evaluation_quota",
        "search_credits",
        "is_active",
        "modules",
    ] {
        let (status, problem) = app
            .patch(&path(&org), ADMIN_TOKEN, json!({field: null}))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {problem}"
        );
        assert_problem_names(&problem, status, field);
    }
    let (_, after) = app.get(&path(&org), &ada.key).await;
    assert_eq!(before, after);

    // Absence leaves everything as it is.
    let (status, unchanged) = app.patch(&path(&org), ADMIN_TOKEN, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unchanged, before);
}

#[tokio::test]
async fn each_field_takes_its_valid_values() {
    let (app, _ada, org) = setup().await;
    let (status, body) = app
        .patch(
            &path(&org),
            ADMIN_TOKEN,
            json!({
                "name": "n".repeat(255),
                "plan": "enterprise",
                "user_quota": 0,
                "workspace_quota": 2147483647,
                "analysis_quota": 5,
                "asset_evaluation_quota": 6,
                "search_credits": 7,
                "salesforce_code": "s".repeat(50),
                "contract_end_date": "2024-02-29",
                "is_active": false,
                "modules": ["Website", "Assets", "Dashboard", "Assets"]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["plan"], "enterprise");
    assert_eq!(body["user_quota"], 0);
    assert_eq!(body["workspace_quota"], 2147483647);
    assert_eq!(body["is_active"], false);
    assert_eq!(body["modules"], json!(["Assets", "Website", "Dashboard"]));
    assert_eq!(body["contract_end_date"], "2024-02-29");
    for image in ["image/jpeg", "image/gif", "image/webp"] {
        let bytes: Vec<u8> = match image {
            "image/jpeg" => vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10],
            "image/gif" => b"GIF89a\x01\x00\x01\x00".to_vec(),
            _ => b"RIFF\x10\x00\x00\x00WEBPVP8 ".to_vec(),
        };
        let (status, body) = app
            .patch(
                &path(&org),
                ADMIN_TOKEN,
                json!({"logo": data_url(image, &bytes)}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{image}: {body}");
    }
}

#[tokio::test]
async fn each_kind_of_invalid_value_is_422_naming_the_field_and_changes_nothing() {
    let (app, ada, org) = setup().await;
    let (_, before) = app
        .get(&format!("{}?include_logo=true", path(&org)), &ada.key)
        .await;
    let png = png_bytes();
    let mut huge = png.clone();
    huge.resize(1024 * 1024 + 1, 0);
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "n".repeat(256)}), "name"),
        (json!({"name": ["Acme"]}), "name"),
        (json!({"plan": "gold"}), "plan"),
        (json!({"plan": "Pilot"}), "plan"),
        (json!({"user_quota": -1}), "user_quota"),
        (json!({"user_quota": 2147483648i64}), "user_quota"),
        (json!({"workspace_quota": 1.5}), "workspace_quota"),
        (json!({"analysis_quota": "1"}), "analysis_quota"),
        (
            json!({"asset_evaluation_quota": -5}),
            "asset_evaluation_quota",
        ),
        (json!({"search_credits": 99999999999i64}), "search_credits"),
        (json!({"logo": "https://acme.example/logo.png"}), "logo"),
        (
            json!({"logo": data_url("image/svg+xml", b"<svg/>")}),
            "logo",
        ),
        (json!({"logo": data_url("image/gif", &png)}), "logo"),
        (
            json!({"logo": "data:image/png;base64,%%%not-base64"}),
            "logo",
        ),
        (json!({"logo": data_url("image/png", &huge)}), "logo"),
        (json!({"logo": 12}), "logo"),
        (
            json!({"salesforce_code": "s".repeat(51)}),
            "salesforce_code",
        ),
        (
            json!({"contract_end_date": "2023-13-01"}),
            "contract_end_date",
        ),
        (
            json!({"contract_end_date": "25/12/2023"}),
            "contract_end_date",
        ),
        (
            json!({"contract_end_date": "2023-12-25T00:00:00Z"}),
            "contract_end_date",
        ),
        (json!({"is_active": "true"}), "is_active"),
        (json!({"modules": []}), "modules"),
        (json!({"modules": ["assets"]}), "modules[0]"),
        (json!({"modules": "Assets"}), "modules"),
        (json!({"nmae": "typo"}), "nmae"),
    ];
    for (body, field) in cases {
        let (status, problem) = app.patch(&path(&org), ADMIN_TOKEN, body.clone()).await;
        let shown = body.to_string().chars().take(120).collect::<String>();
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{shown} -> {problem}"
        );
        assert_problem_names(&problem, status, field);
        assert!(
            problem.to_string().len() < 2_000,
            "an error does not repeat a large value"
        );
    }
    let (_, after) = app
        .get(&format!("{}?include_logo=true", path(&org)), &ada.key)
        .await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn commercial_fields_from_an_owner_are_403_listing_them() {
    let (app, ada, org) = setup().await;
    let (_, before) = app.get(&path(&org), &ada.key).await;
    let (status, problem) = app
        .patch(
            &path(&org),
            &ada.key,
            json!({"name": "Mine", "plan": "suite", "user_quota": 100, "modules": ["Assets"], "is_active": false, "salesforce_code": "x", "contract_end_date": "2030-01-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    for field in [
        "plan",
        "user_quota",
        "modules",
        "is_active",
        "salesforce_code",
        "contract_end_date",
    ] {
        assert_problem_names(&problem, status, field);
    }
    assert!(
        !problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "name")
    );
    let (_, after) = app.get(&path(&org), &ada.key).await;
    assert_eq!(before, after);

    // The owner's own fields go through.
    let (status, body) = app
        .patch(
            &path(&org),
            &ada.key,
            json!({"name": "Acme Labs", "logo": data_url("image/png", &png_bytes())}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Acme Labs");
}

#[tokio::test]
async fn logos_are_served_as_images_with_an_etag() {
    let (app, ada, org) = setup().await;
    let logo_path = format!("/organization/{org}/logo");
    let (status, _) = app.get(&logo_path, &ada.key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.patch(
        &path(&org),
        &ada.key,
        json!({"logo": data_url("image/png", &png_bytes())}),
    )
    .await;

    let response = app
        .request(Method::GET, &logo_path, &ada.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(response.bytes().await.unwrap().to_vec(), png_bytes());
    let cached = app
        .request(Method::GET, &logo_path, &ada.key)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    let bob = app.new_user("Bob").await;
    let (status, _) = app.get(&logo_path, &bob.key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only members see it");
}

#[tokio::test]
async fn a_logo_body_may_exceed_one_mebibyte_but_not_two() {
    let (app, ada, org) = setup().await;
    let mut image = png_bytes();
    image.resize(1000 * 1024, 7);
    let (status, body) = app
        .patch(
            &path(&org),
            &ada.key,
            json!({"logo": data_url("image/png", &image)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = app
        .request(Method::PATCH, &path(&org), &ada.key)
        .header("Content-Type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_three_apis_agree_on_every_shared_value() {
    let (app, ada, org) = setup().await;
    app.patch(
        &path(&org),
        ADMIN_TOKEN,
        json!({"name": "Shared Co", "is_active": false, "plan": "suite"}),
    )
    .await;
    app.put(
        &format!("/organization/{org}"),
        ADMIN_TOKEN,
        json!({"accountType": "team", "logoUrl": "https://shared.example/l.png"}),
    )
    .await;
    let (_, management) = app.get(&format!("/organization/{org}"), &ada.key).await;
    let (_, by_id) = app.get(&path(&org), &ada.key).await;
    let current = parse(
        app.request(Method::GET, "/v1/organizations", &ada.key)
            .header("X-Organization-Id", &org)
            .send()
            .await
            .unwrap(),
    )
    .await
    .1;
    assert_eq!(management["id"], by_id["id"]);
    assert_eq!(management["id"], current["organization_id"]);
    assert_eq!(management["name"], by_id["name"]);
    assert_eq!(management["name"], current["organization_name"]);
    assert_eq!(management["isActive"], by_id["is_active"]);
    assert_eq!(management["isActive"], false);
    assert_eq!(management["plan"], by_id["plan"]);
    assert_eq!(management["accountType"], current["account_type"]);
    assert_eq!(management["creditCount"], current["credit_count"]);
    assert_eq!(management["creditCount"], 1_000_000);
    assert_eq!(
        management["currentMonthUsage"],
        current["current_month_usage"]
    );
    assert_eq!(
        management["autoBillingEnabled"],
        current["auto_billing_enabled"]
    );
    assert_eq!(management["logoUrl"], current["logo_url"]);
    assert_eq!(management["createdAt"], current["created_at"]);
    assert_eq!(management["updatedAt"], current["updated_at"]);
    assert_eq!(
        management["memberCount"],
        current["users"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn quotas_set_here_bind_the_management_api() {
    let (app, ada, org) = setup().await;
    let (status, _) = app
        .patch(&path(&org), ADMIN_TOKEN, json!({"user_quota": 1}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let bob = app.new_user("Bob").await;
    let (status, _) = app
        .post(
            &format!("/organization/{org}/member"),
            &ada.key,
            json!({"userId": bob.id, "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_id_must_be_a_uuid_and_visible() {
    let (app, _ada, org) = setup().await;
    let (status, problem) = app.get("/v1/organizations/nope", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem_names(&problem, status, "id");
    let eve = app.new_user("Eve").await;
    let (status, _) = app
        .patch(&path(&org), &eve.key, json!({"name": "Eve's"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
