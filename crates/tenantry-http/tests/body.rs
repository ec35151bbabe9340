//! The JSON body extractor, fed arbitrary bytes and arbitrary JSON for every request body
//! type: each input is taken or refused with a 4xx problem, never a 5xx or a panic.

use proptest::prelude::*;
use serde_json::{Value, json};
use tenantry_http::extract::{RequestBody, parse_body};
use tenantry_http::management::{
    AddMemberRequest, CreateApiKeyRequest, CreateOrganizationRequest, CreateUserRequest,
    CreateWorkspaceRequest, RecordUsageRequest, SetMaxOveragesRequest, UpdateMemberRequest,
    UpdateOrganizationRequest,
};
use tenantry_http::v1::{OrganizationUpdate, PatchedOrganizationRequest};

fn outcome<T: RequestBody>(body: &[u8]) -> Result<(), u16> {
    match parse_body::<T>(body) {
        Ok(_) => Ok(()),
        Err(error) => Err(error.problem().status),
    }
}

/// Every body type's verdict on `body`: each must be taken or refused with a 4xx.
fn check_all(body: &[u8]) -> Result<(), TestCaseError> {
    let verdicts = [
        outcome::<CreateOrganizationRequest>(body),
        outcome::<UpdateOrganizationRequest>(body),
        outcome::<SetMaxOveragesRequest>(body),
        outcome::<AddMemberRequest>(body),
        outcome::<UpdateMemberRequest>(body),
        outcome::<CreateUserRequest>(body),
        outcome::<CreateApiKeyRequest>(body),
        outcome::<CreateWorkspaceRequest>(body),
        outcome::<RecordUsageRequest>(body),
        outcome::<OrganizationUpdate>(body),
        outcome::<PatchedOrganizationRequest>(body),
    ];
    for verdict in verdicts {
        if let Err(status) = verdict {
            prop_assert!((400..500).contains(&status), "status {status} for {body:?}");
        }
    }
    Ok(())
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        // The fields the bodies take, so that values reach their checks.
        prop::sample::select(vec![
            "organizationName",
            "name",
            "domain",
            "logoUrl",
            "accountType",
            "plan",
            "isActive",
            "autoBillingEnabled",
            "creditAllocation",
            "billingCycleStart",
            "maxOverages",
            "userId",
            "role",
            "email",
            "organizationId",
            "credits",
            "category",
            "organization_name",
            "logo_url",
            "billing_email",
            "metadata",
            "rate_limit_overrides",
            "default_llm_credentials",
            "nsfw_check_enabled",
            "user_quota",
            "search_credits",
            "logo",
            "salesforce_code",
            "contract_end_date",
            "is_active",
            "modules",
            "metadata.x",
        ])
        .prop_map(str::to_owned),
        ".{0,12}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(json!(1e300)),
        Just(json!("admin")),
        Just(json!("2030-01-31")),
        Just(json!("0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e0f")),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_are_taken_or_a_4xx(body in prop::collection::vec(any::<u8>(), 0..256)) {
        check_all(&body)?;
    }

    #[test]
    fn any_json_object_is_taken_or_a_4xx(
        fields in prop::collection::vec((key(), json()), 0..8),
    ) {
        let object = Value::Object(fields.into_iter().collect());
        check_all(object.to_string().as_bytes())?;
    }

    #[test]
    fn hand_written_json_with_repeats_and_long_numbers_is_a_4xx_at_worst(
        key in key(),
        digits in "[1-9][0-9]{0,40}(\\.[0-9]{1,30})?(e[+-]?[0-9]{1,3})?",
        repeat in any::<bool>(),
    ) {
        let key = serde_json::to_string(&key).unwrap();
        let body = if repeat {
            format!("{{{key}:{digits},{key}:{digits}}}")
        } else {
            format!("{{{key}:{digits}}}")
        };
        check_all(body.as_bytes())?;
        if repeat {
            prop_assert_eq!(outcome::<UpdateOrganizationRequest>(body.as_bytes()), Err(400));
        }
    }
}
