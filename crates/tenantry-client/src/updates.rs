//! The request bodies of the updates that tell "leave it" from "clear it".
//!
//! In these bodies a field left out keeps its value and a field sent as `null` is cleared (or
//! falls back to its default). A generated `Option<T>` cannot say both, so these three types
//! are written here, and the generator is told to use them: a field that can be cleared is an
//! `Option<Option<T>>` (`None` leaves it, `Some(None)` sends `null`, `Some(Some(v))` sets it).
//! Their values are checked by the server, which answers a bad one with a problem naming the
//! field. A test holds their field names to the document's.
//!
//! ```
//! use tenantry_client::updates::UpdateOrganizationRequest;
//!
//! // Clear the domain, keep everything else.
//! let body = UpdateOrganizationRequest { domain: Some(None), ..Default::default() };
//! assert_eq!(serde_json::to_value(&body).unwrap(), serde_json::json!({ "domain": null }));
//! ```

use serde::{Deserialize, Serialize};

use crate::types::{AccountTypeValue, EventTypeValue, ModuleValue, PlanValue};

/// The body of `PUT /organization/{organization_id}`: the fields to change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    /// The organization's name (`organizationName` is the same field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The organization's name, in the spelling `POST /organization` takes.
    #[serde(
        rename = "organizationName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub organization_name: Option<String>,
    /// Its domain; `Some(None)` removes it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    pub domain: Option<Option<String>>,
    /// The URL of its logo; `Some(None)` removes it.
    #[serde(
        rename = "logoUrl",
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    pub logo_url: Option<Option<String>>,
    /// Its account tier. Platform admin only.
    #[serde(
        rename = "accountType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub account_type: Option<AccountTypeValue>,
    /// Its plan. Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanValue>,
    /// Whether it is active. Platform admin only.
    #[serde(rename = "isActive", default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// Whether overage is billed automatically. Platform admin only.
    #[serde(
        rename = "autoBillingEnabled",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_billing_enabled: Option<bool>,
    /// Credits per billing cycle; `Some(None)` takes the account tier's. Platform admin only.
    #[serde(
        rename = "creditAllocation",
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    pub credit_allocation: Option<Option<u64>>,
    /// The day of the month (1 to 28) its billing cycle starts. Platform admin only.
    #[serde(
        rename = "billingCycleStart",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub billing_cycle_start: Option<u8>,
}

/// The body of `PATCH /v1/organizations/{id}`: the fields to change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchedOrganizationRequest {
    /// The organization's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its plan. Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanValue>,
    /// How many users it may have. Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_quota: Option<u32>,
    /// How many workspaces it may have. Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_quota: Option<u32>,
    /// Its analysis quota. Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_quota: Option<u32>,
    /// Its asset evaluation quota. Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_evaluation_quota: Option<u32>,
    /// Its search credits. Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_credits: Option<u32>,
    /// Its logo as a `data:image/…;base64,…` URL; `Some(None)` removes it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    pub logo: Option<Option<String>>,
    /// Its Salesforce code; `Some(None)` removes it. Platform admin only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    pub salesforce_code: Option<Option<String>>,
    /// When its contract ends; `Some(None)` removes the date. Platform admin only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    pub contract_end_date: Option<Option<chrono::NaiveDate>>,
    /// Whether it is active. Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// The modules it may use (at least one). Platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<Vec<ModuleValue>>,
}

/// The body of `PATCH /webhook-endpoint/{endpoint_id}`: the fields to change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    /// Where events are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The event types it receives; `Some(vec![])` means every type.
    #[serde(
        rename = "eventTypes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_types: Option<Vec<EventTypeValue>>,
    /// Whether events are sent to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// What it is for; `Some(None)` removes the description.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    pub description: Option<Option<String>>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::Serialize;
    use serde_json::Value;

    use super::{
        PatchedOrganizationRequest, UpdateOrganizationRequest, UpdateWebhookEndpointRequest,
    };
    use crate::types::{AccountTypeValue, EventTypeValue, ModuleValue, PlanValue};

    /// The property names the document gives `schema`.
    fn documented(schema: &str) -> BTreeSet<String> {
        let document: Value =
            serde_json::from_str(include_str!("../../../openapi/openapi.json")).unwrap();
        document["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} is in the document"))
            .keys()
            .cloned()
            .collect()
    }

    fn sent(body: &impl Serialize) -> BTreeSet<String> {
        serde_json::to_value(body)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn every_documented_field_can_be_sent_and_no_other() {
        let put = UpdateOrganizationRequest {
            name: Some("a".into()),
            organization_name: Some("a".into()),
            domain: Some(None),
            logo_url: Some(None),
            account_type: Some(AccountTypeValue::Pro),
            plan: Some(PlanValue::Starter),
            is_active: Some(true),
            auto_billing_enabled: Some(true),
            credit_allocation: Some(None),
            billing_cycle_start: Some(1),
        };
        assert_eq!(sent(&put), documented("UpdateOrganizationRequest"));
        let patch = PatchedOrganizationRequest {
            name: Some("a".into()),
            plan: Some(PlanValue::Starter),
            user_quota: Some(1),
            workspace_quota: Some(1),
            analysis_quota: Some(1),
            asset_evaluation_quota: Some(1),
            search_credits: Some(1),
            logo: Some(None),
            salesforce_code: Some(None),
            contract_end_date: Some(None),
            is_active: Some(true),
            modules: Some(vec![ModuleValue::Search]),
        };
        assert_eq!(sent(&patch), documented("PatchedOrganizationRequest"));
        let endpoint = UpdateWebhookEndpointRequest {
            url: Some("https://example.com".into()),
            event_types: Some(vec![EventTypeValue::OrganizationCreated]),
            enabled: Some(true),
            description: Some(None),
        };
        assert_eq!(sent(&endpoint), documented("UpdateWebhookEndpointRequest"));
    }

    #[test]
    fn left_out_cleared_and_set_are_three_different_bodies() {
        let keep = PatchedOrganizationRequest::default();
        let clear = PatchedOrganizationRequest {
            salesforce_code: Some(None),
            ..Default::default()
        };
        let set = PatchedOrganizationRequest {
            salesforce_code: Some(Some("SF-1".into())),
            ..Default::default()
        };
        assert_eq!(serde_json::to_string(&keep).unwrap(), "{}");
        assert_eq!(
            serde_json::to_string(&clear).unwrap(),
            r#"{"salesforce_code":null}"#
        );
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"{"salesforce_code":"SF-1"}"#
        );
        for body in [keep, clear, set] {
            let text = serde_json::to_string(&body).unwrap();
            assert_eq!(
                serde_json::from_str::<PatchedOrganizationRequest>(&text).unwrap(),
                body
            );
        }
    }
}
