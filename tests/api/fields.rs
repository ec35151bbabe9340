//! One declaration of an organization's fields: whatever it says of a field holds on every
//! surface that carries it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantry_domain::OrganizationField;
use tenantry_http::extract::FieldCase;
use tenantry_tests::{ADMIN_TOKEN, TestApp, parse};

/// A valid value for each field a surface may carry, by its snake_case name: validation
/// passes, so what answers is the authorization.
fn sample(field: OrganizationField) -> Option<Value> {
    use OrganizationField as F;
    Some(match field {
        F::AccountType => json!("pro"),
        F::Plan => json!("suite"),
        F::ContractEndDate => json!("2030-01-31"),
        F::SalesforceCode => json!("SF-1"),
        F::IsActive => json!(false),
        F::AutoBillingEnabled => json!(true),
        F::BillingCycleStart => json!(5),
        F::CreditAllocation => json!(100),
        F::Modules => json!(["Search"]),
        F::UserQuota
        | F::WorkspaceQuota
        | F::AnalysisQuota
        | F::AssetEvaluationQuota
        | F::SearchCredits => json!(5),
        F::RateLimitOverrides => json!({"metadata": 5}),
        F::Infrastructure => json!("eu-dedicated-1"),
        F::ApiUrl => json!("https://api.acme.example"),
        F::AuthProviderOrgId => json!("org_123"),
        _ => return None,
    })
}

/// The surfaces that change an organization: their request schema, and how each spells a
/// field.
struct Surface {
    schema: &'static str,
    name: fn(OrganizationField) -> String,
}

impl Surface {
    /// A request to the organization `id` on this surface: `PATCH` its change (`PUT` on
    /// the management API), or `GET` it.
    fn request(
        &self,
        app: &TestApp,
        method: Method,
        id: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        match self.schema {
            "UpdateOrganizationRequest" => {
                let method = if method == Method::PATCH {
                    Method::PUT
                } else {
                    method
                };
                app.request(method, &format!("/organization/{id}"), key)
            }
            "OrganizationUpdate" => app
                .request(method, "/v1/organizations", key)
                .header("X-Organization-Id", id),
            _ => app.request(method, &format!("/v1/organizations/{id}"), key),
        }
    }
}

const SURFACES: [Surface; 3] = [
    Surface {
        schema: "UpdateOrganizationRequest",
        name: |f| FieldCase::Camel.name(f.snake_name()),
    },
    Surface {
        schema: "OrganizationUpdate",
        name: |f| match f {
            OrganizationField::Name => "organization_name".to_owned(),
            other => other.snake_name().to_owned(),
        },
    },
    Surface {
        schema: "PatchedOrganizationRequest",
        name: |f| f.snake_name().to_owned(),
    },
];

#[tokio::test]
async fn every_admin_only_field_is_refused_to_an_owner_on_every_surface_that_carries_it() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let document = tenantry_http::openapi_document();
    let version = || async {
        let response = app
            .request(Method::GET, &format!("/organization/{id}"), ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        response.headers()["etag"].to_str().unwrap().to_owned()
    };
    let mut checked = 0;
    for field in OrganizationField::ALL
        .iter()
        .copied()
        .filter(|f| f.requires_platform_admin())
    {
        for surface in &SURFACES {
            let name = (surface.name)(field);
            let schema = &document["components"]["schemas"][surface.schema]["properties"];
            if schema.get(&name).is_none() {
                continue;
            }
            let value = sample(field)
                .unwrap_or_else(|| panic!("no sample value for {field:?}: add one above"));
            let body = json!({ name.clone(): value });
            let before = version().await;
            let request = surface.request(&app, Method::PATCH, &id, &ada.key);
            let (status, problem) = parse(request.json(&body).send().await.unwrap()).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{field:?} as {name} on {}: {problem}",
                surface.schema
            );
            assert!(
                problem["errors"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["field"] == name.as_str())),
                "{field:?} named as {name}: {problem}"
            );
            assert_eq!(version().await, before, "a refused change changes nothing");
            // And the platform admin may write it there.
            let request = surface.request(&app, Method::PATCH, &id, ADMIN_TOKEN);
            let (status, answer) = parse(request.json(&body).send().await.unwrap()).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{field:?} on {}: {answer}",
                surface.schema
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 15,
        "only {checked} admin-only fields were found on the surfaces"
    );
}

/// A valid value for each field an owner may write, different from a new organization's.
fn manager_sample(field: OrganizationField) -> Option<Value> {
    use OrganizationField as F;
    Some(match field {
        F::Name => json!("Acme Written"),
        F::Logo => json!(tenantry_tests::data_url(
            "image/png",
            &tenantry_tests::png_bytes()
        )),
        F::LogoUrl => json!("https://cdn.acme.example/logo.png"),
        F::BillingEmail => json!("billing@acme.example"),
        F::NotificationsEmail => json!("notices@acme.example"),
        F::MaxOverages => json!(7),
        // Numbers at the edges of what JSON carries, and nesting.
        F::Metadata => json!({
            "id": 18_446_744_073_709_551_615_u64,
            "neg": i64::MIN,
            "pi": std::f64::consts::PI,
            "small": 2.5e-8,
            "nested": {"list": [1, "two", null, true]}
        }),
        F::DefaultLlmCredentials => json!({"openai": "vault-openai"}),
        F::NsfwCheckEnabled => json!(true),
        F::NsfwFailClosed => json!(true),
        _ => return None,
    })
}

#[tokio::test]
async fn a_change_of_every_field_answers_what_a_read_answers_after_it() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let document = tenantry_http::openapi_document();
    for surface in &SURFACES {
        let org = app.create_organization(&ada.key, "Acme").await;
        let id = org["id"].as_str().unwrap().to_owned();
        let schema = &document["components"]["schemas"][surface.schema]["properties"];
        let mut body = serde_json::Map::new();
        for &field in OrganizationField::ALL {
            let name = (surface.name)(field);
            if schema.get(&name).is_none() {
                continue;
            }
            let value = match field {
                // Unique among organizations.
                OrganizationField::Domain => {
                    json!(format!("{}.acme.example", surface.schema.to_lowercase()))
                }
                _ => sample(field)
                    .or_else(|| manager_sample(field))
                    .unwrap_or_else(|| panic!("no sample value for {field:?}: add one above")),
            };
            body.insert(name, value);
        }
        assert!(body.len() >= 8, "{}: {body:?}", surface.schema);
        let request = surface.request(&app, Method::PATCH, &id, ADMIN_TOKEN);
        let response = request.json(&body).send().await.unwrap();
        let etag = response.headers().get("etag").cloned();
        let (status, answer) = parse(response).await;
        assert_eq!(status, StatusCode::OK, "{}: {answer}", surface.schema);
        let read = surface
            .request(&app, Method::GET, &id, ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            read.headers().get("etag").cloned(),
            etag,
            "{}",
            surface.schema
        );
        let (status, read) = parse(read).await;
        assert_eq!(status, StatusCode::OK, "{read}");
        // The read may carry more (the management API's members): every field the answer
        // has, it has alike.
        let answer = answer.as_object().unwrap();
        assert!(answer.len() >= 10, "{answer:?}");
        for (name, value) in answer {
            assert_eq!(&read[name], value, "{name} on {}", surface.schema);
        }
    }
}
