//! The typed client, `tenantry-client`, against the real server: the README's walk, both
//! `/v1/organizations` surfaces, usage and the error answers, each arriving as its type.

use tenantry_client::types::{
    AddMemberRequest, CreateApiKeyRequest, CreateOrganizationRequest, CreateUserRequest,
    OrganizationUpdate, PlanValue, RecordUsageRequest, RefundRequest, RoleValue, UsageCategory,
};
use tenantry_client::updates::{PatchedOrganizationRequest, UpdateOrganizationRequest};
use tenantry_client::{Client, Error, ProblemExt};
use tenantry_tests::{ADMIN_TOKEN, TestApp};
use uuid::Uuid;

fn admin(app: &TestApp) -> Client {
    Client::with_token(&app.address, ADMIN_TOKEN).unwrap()
}

/// A user made by the platform admin, and a client that acts as them.
async fn user(app: &TestApp, name: &str) -> (Uuid, Client) {
    let admin = admin(app);
    let made = admin
        .create_user()
        .body(
            CreateUserRequest::builder()
                .email(format!("{}@example.com", name.to_lowercase()))
                .name(name),
        )
        .send()
        .await
        .unwrap();
    let key = admin
        .create_api_key()
        .body(
            CreateApiKeyRequest::builder()
                .name(format!("{name}'s laptop"))
                .user_id(made.id),
        )
        .send()
        .await
        .unwrap();
    (made.id, Client::with_token(&app.address, &key.key).unwrap())
}

async fn organization(client: &Client, name: &str) -> Uuid {
    client
        .create_organization()
        .body(CreateOrganizationRequest::builder().organization_name(name))
        .send()
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn the_readme_walk_through_the_client() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = user(&app, "Ada").await;

    let request = || {
        ada.create_organization().idempotency_key("acme-1").body(
            CreateOrganizationRequest::builder()
                .organization_name("Acme")
                .domain(Some("acme.example".parse().unwrap())),
        )
    };
    let created = request().send().await.unwrap();
    assert_eq!(created.status(), 201);
    let again = request().send().await.unwrap();
    assert_eq!(again.id, created.id, "the retry answers the first call");
    assert_eq!(
        again.headers()["idempotent-replayed"].to_str().unwrap(),
        "true"
    );
    let org = created.id;

    let (bob_id, _bob) = user(&app, "Bob").await;
    let member = ada
        .add_member()
        .organization_id(org)
        .body(
            AddMemberRequest::builder()
                .user_id(bob_id)
                .role(RoleValue::Member),
        )
        .send()
        .await
        .unwrap();
    assert_eq!((member.user_id, member.role), (bob_id, RoleValue::Member));

    let detail = ada
        .get_organization()
        .organization_id(org)
        .send()
        .await
        .unwrap();
    assert_eq!(&*detail.name, "Acme");
    let mut members: Vec<_> = detail.members.iter().map(|m| (m.user_id, m.role)).collect();
    members.sort_by_key(|(id, _)| *id == bob_id);
    assert_eq!(
        members,
        [(ada_id, RoleValue::Owner), (bob_id, RoleValue::Member)]
    );
    let listed = ada.list_organizations().send().await.unwrap();
    assert_eq!(listed.iter().map(|o| o.id).collect::<Vec<_>>(), [org]);

    // Metering: 25 credits of search, the same call again, 5 given back, the summary, the ledger.
    let record = || {
        ada.create_usage()
            .organization_id(org)
            .idempotency_key("job-42")
            .body(
                RecordUsageRequest::builder()
                    .credits(std::num::NonZeroU64::new(25).unwrap())
                    .category(UsageCategory::Search),
            )
    };
    let used = record().send().await.unwrap();
    let replayed = record().send().await.unwrap();
    assert_eq!(replayed.entry_id, used.entry_id);
    assert_eq!(replayed.current_month_usage, 25, "recorded once");
    let refund = ada
        .create_usage_refund()
        .organization_id(org)
        .entry_id(used.entry_id)
        .body(RefundRequest::builder().credits(std::num::NonZeroU64::new(5)))
        .send()
        .await
        .unwrap();
    assert_eq!(refund.current_month_usage, 20);
    let summary = ada.get_usage().organization_id(org).send().await.unwrap();
    assert_eq!((summary.used, summary.allocation), (20, 1000));
    let entries = ada
        .list_usage_entries()
        .organization_id(org)
        .category(UsageCategory::Search)
        .send()
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "the use and its refund");
    assert_eq!(entries.iter().map(|e| e.credits).sum::<i64>(), summary.used);

    // The events the walk made, read through the client as well.
    let events = ada
        .list_organization_events()
        .organization_id(org)
        .send()
        .await
        .unwrap();
    assert!(!events.is_empty());
}

#[tokio::test]
async fn both_v1_surfaces_through_the_client() {
    let app = TestApp::spawn().await;
    let (_, ada) = user(&app, "Ada").await;
    let org = organization(&ada, "Acme").await;

    // The current organization: chosen by header, changed with PATCH.
    let current = ada
        .get_current_organization()
        .x_organization_id(org)
        .send()
        .await
        .unwrap();
    assert_eq!(current.organization_name, "Acme");
    assert_eq!(current.organization_id, org.to_string());
    let renamed = ada
        .update_current_organization()
        .x_organization_id(org)
        .body(
            OrganizationUpdate::builder().organization_name(Some("Acme Labs".try_into().unwrap())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.organization_name, "Acme Labs");

    // By id: the platform admin sets a plan and a Salesforce code, then clears the code.
    let admin = admin(&app);
    let patched = admin
        .update_organization_by_id()
        .id(org)
        .body(PatchedOrganizationRequest {
            plan: Some(PlanValue::Suite),
            salesforce_code: Some(Some("SF-1".into())),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(patched.plan, PlanValue::Suite);
    assert_eq!(
        patched.salesforce_code.as_deref().map(|c| c.as_str()),
        Some("SF-1")
    );
    let cleared = admin
        .update_organization_by_id()
        .id(org)
        .body(PatchedOrganizationRequest {
            salesforce_code: Some(None),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.salesforce_code, None);
    assert_eq!(cleared.plan, PlanValue::Suite, "what was left out is kept");
    let read = ada.get_organization_by_id().id(org).send().await.unwrap();
    assert_eq!(
        (read.name.as_str(), read.plan),
        ("Acme Labs", PlanValue::Suite)
    );

    // The management API's PUT: a domain set, then removed with null.
    for domain in [Some("acme.example".to_owned()), None] {
        let updated = ada
            .update_organization()
            .organization_id(org)
            .body(UpdateOrganizationRequest {
                domain: Some(domain.clone()),
                ..Default::default()
            })
            .send()
            .await
            .unwrap();
        assert_eq!(updated.domain, domain);
    }
}

#[tokio::test]
async fn error_answers_arrive_as_typed_problems() {
    let app = TestApp::spawn().await;
    let (_, ada) = user(&app, "Ada").await;
    let org = organization(&ada, "Acme").await;

    // Unknown organization.
    let missing = ada
        .get_organization()
        .organization_id(Uuid::now_v7())
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(missing.problem_type(), Some("/problems/not-found"));

    // A member may not change what only the platform admin may: the field is named.
    let forbidden = ada
        .update_organization_by_id()
        .id(org)
        .body(PatchedOrganizationRequest {
            plan: Some(PlanValue::Enterprise),
            ..Default::default()
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(forbidden.status().map(|s| s.as_u16()), Some(403));
    assert_eq!(forbidden.problem_fields(), ["plan"]);

    // A value the server refuses: the hand-written update bodies leave checking to it.
    let invalid = admin(&app)
        .update_organization_by_id()
        .id(org)
        .body(PatchedOrganizationRequest {
            name: Some(String::new()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(invalid.status().map(|s| s.as_u16()), Some(422));
    assert_eq!(invalid.problem_type(), Some("/problems/validation"));
    assert_eq!(invalid.problem_fields(), ["name"]);

    // The same idempotency key with another body.
    let admin = admin(&app);
    let keyed = |credits: u64| {
        admin
            .create_usage()
            .organization_id(org)
            .idempotency_key("k-1")
            .body(
                RecordUsageRequest::builder().credits(std::num::NonZeroU64::new(credits).unwrap()),
            )
    };
    keyed(1).send().await.unwrap();
    let reused = keyed(2).send().await.unwrap_err();
    assert_eq!(reused.status().map(|s| s.as_u16()), Some(409));

    // Credits run out: 402, and nothing recorded.
    let spend = |credits: u64| {
        ada.create_usage()
            .organization_id(org)
            .body(
                RecordUsageRequest::builder().credits(std::num::NonZeroU64::new(credits).unwrap()),
            )
            .send()
    };
    spend(999).await.unwrap();
    let exhausted = spend(1).await.unwrap_err();
    assert_eq!(exhausted.status().map(|s| s.as_u16()), Some(402));
    assert_eq!(
        exhausted.problem_type(),
        Some("/problems/credits-exhausted")
    );

    // A wrong key.
    let stranger = Client::with_token(&app.address, "tnt_not-a-key").unwrap();
    let unauthorized = stranger.list_organizations().send().await.unwrap_err();
    assert_eq!(unauthorized.status().map(|s| s.as_u16()), Some(401));
    assert!(unauthorized.problem().is_some());

    // A value the document forbids is refused before anything is sent.
    let too_long = ada
        .create_organization()
        .body(CreateOrganizationRequest::builder().organization_name("x".repeat(256)))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(too_long, Error::InvalidRequest(_)), "{too_long}");
    assert_eq!(too_long.problem(), None);
    let listed = ada.list_organizations().send().await.unwrap();
    assert_eq!(listed.len(), 1, "nothing was made");

    // No server at all: no problem, an error that says so.
    let nowhere = Client::with_token("http://127.0.0.1:9", ADMIN_TOKEN).unwrap();
    let refused = nowhere.get_health().send().await.unwrap_err();
    assert!(matches!(refused, Error::CommunicationError(_)), "{refused}");
}
