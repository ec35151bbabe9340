//! The management API's request and response bodies.

use serde::{Deserialize, Serialize};
use tenantry_domain::{ApiKey, Member, Organization, TierTable, User};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::common::{AccountTypeValue, PlanValue, RoleValue, checks, non_null};
use crate::extract::{FieldCase, RequestBody};

/// An organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationView {
    /// The organization's id.
    #[schema(example = "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e0f")]
    pub id: Uuid,
    #[schema(example = "Acme Inc.", max_length = 255)]
    pub name: String,
    /// The organization's primary domain.
    #[schema(example = "acme.example")]
    pub domain: Option<String>,
    /// A URL of the organization's logo.
    pub logo_url: Option<String>,
    pub account_type: AccountTypeValue,
    pub plan: PlanValue,
    pub is_active: bool,
    /// Credits left in the current billing cycle.
    #[schema(minimum = 0)]
    pub credit_count: u64,
    /// Credits used in the current billing cycle.
    #[schema(minimum = 0)]
    pub current_month_usage: u64,
    pub auto_billing_enabled: bool,
    /// The most credits that may be used beyond the allocation with auto billing on;
    /// `null` is no cap.
    #[schema(minimum = 0)]
    pub max_overages: Option<u64>,
    #[schema(minimum = 0)]
    pub member_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl OrganizationView {
    pub fn new(org: &Organization, tiers: &TierTable, now: OffsetDateTime) -> Self {
        Self {
            id: org.id.as_uuid(),
            name: org.name.to_string(),
            domain: org.domain.as_ref().map(ToString::to_string),
            logo_url: org.logo_url.as_ref().map(ToString::to_string),
            account_type: org.account_type.into(),
            plan: org.plan.into(),
            is_active: org.is_active,
            credit_count: org.credit_count(tiers, now.date()),
            current_month_usage: org.current_month_usage(now.date()),
            auto_billing_enabled: org.auto_billing_enabled,
            max_overages: org.max_overages,
            member_count: org.member_count,
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}

/// An organization with its members.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationDetailView {
    #[serde(flatten)]
    pub organization: OrganizationView,
    pub members: Vec<MemberView>,
}

/// A member of an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: Uuid,
    #[schema(example = "jsmith@example.com")]
    pub email: String,
    pub name: String,
    pub role: RoleValue,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

impl From<&Member> for MemberView {
    fn from(member: &Member) -> Self {
        Self {
            user_id: member.user.id.as_uuid(),
            email: member.user.email.to_string(),
            name: member.user.name.to_string(),
            role: member.role.into(),
            joined_at: member.joined_at,
        }
    }
}

/// The overage settings and usage of an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaxOveragesView {
    pub organization_id: Uuid,
    /// `null` is no cap.
    #[schema(minimum = 0)]
    pub max_overages: Option<u64>,
    pub auto_billing_enabled: bool,
    #[schema(minimum = 0)]
    pub credit_count: u64,
    #[schema(minimum = 0)]
    pub current_month_usage: u64,
}

/// A user.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    #[schema(example = "jsmith@example.com")]
    pub email: String,
    #[schema(example = "Jo Smith")]
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.to_string(),
            name: user.name.to_string(),
            created_at: user.created_at,
        }
    }
}

/// An API key, without the key itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: Uuid,
    #[schema(example = "CI deploys")]
    pub name: String,
    /// The first characters of the key, to recognise it.
    #[schema(example = "tnt_Xy3k9QpL")]
    pub prefix: String,
    /// The user the key acts as; `null` for the platform admin's keys and for
    /// organization keys without a user.
    pub user_id: Option<Uuid>,
    /// The one organization the key acts in; `null` when it is not scoped to one.
    pub organization_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id.as_uuid(),
            name: key.name.to_string(),
            prefix: key.prefix.clone(),
            user_id: key.user_id().map(|u| u.as_uuid()),
            organization_id: key.organization_id().map(|o| o.as_uuid()),
            created_at: key.created_at,
        }
    }
}

/// A new API key: `key` is shown in this answer only.
// Its `Debug` leaves the key out (written by hand below).
#[derive(Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The key. It is shown once, here; only its hash is kept.
    #[schema(example = "tnt_Xy3k9QpL2mV8rT5wZ1aB4cD7eF0gH6jK3lN9oP2qS5u")]
    pub key: String,
    pub prefix: String,
    pub user_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for CreatedApiKeyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKeyView")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("key", &"[REDACTED]")
            .field("prefix", &self.prefix)
            .field("user_id", &self.user_id)
            .field("organization_id", &self.organization_id)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What it takes to create an organization.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrganizationRequest {
    /// Name of the organization.
    #[validate(custom(function = "checks::organization_name"))]
    #[schema(example = "Acme Inc.", min_length = 1, max_length = 255)]
    pub organization_name: String,
    /// Primary domain for the organization.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(custom(function = "checks::domain"))]
    #[schema(example = "acme.example", max_length = 253, nullable = false)]
    pub domain: Option<String>,
    /// The organization's first owner. Only the platform admin names one (and must); any
    /// other caller becomes the owner.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub owner_user_id: Option<Uuid>,
}

impl RequestBody for CreateOrganizationRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// The fields to change; absent fields keep their value.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOrganizationRequest {
    /// The organization's name.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(custom(function = "checks::organization_name"))]
    #[schema(nullable = false, min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// The organization's name, as the create body spells it.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(custom(function = "checks::organization_name"))]
    #[schema(nullable = false, min_length = 1, max_length = 255)]
    pub organization_name: Option<String>,
    /// The primary domain; `null` clears it.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[validate(custom(function = "checks::domain"))]
    #[schema(max_length = 253)]
    pub domain: Option<Option<String>>,
    /// A URL of the logo; `null` clears it.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[validate(custom(function = "checks::http_url"))]
    #[schema(max_length = 2048)]
    pub logo_url: Option<Option<String>>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub account_type: Option<AccountTypeValue>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub plan: Option<PlanValue>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub auto_billing_enabled: Option<bool>,
    /// Credits per billing cycle for this organization; `null` takes the account tier's
    /// (the enterprise tier has none of its own). Platform admin only.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[validate(range(min = 0, max = CREDITS_MAX))]
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    pub credit_allocation: Option<Option<i64>>,
    /// The day of the month (1 to 28) on which billing cycles start. Platform admin only.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(range(min = 1, max = 28))]
    #[schema(nullable = false, minimum = 1, maximum = 28)]
    pub billing_cycle_start: Option<i64>,
}

/// The largest credit allocation or overage cap that may be set.
pub(crate) const CREDITS_MAX: i64 = tenantry_domain::limits::CREDITS_MAX;

impl RequestBody for UpdateOrganizationRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// The overage cap to set.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetMaxOveragesRequest {
    /// The most credits that may be used beyond the allocation with auto billing on, or
    /// `null` for no cap. Required.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[validate(range(min = 0, max = CREDITS_MAX))]
    #[schema(required = true, minimum = 0, maximum = 1000000000000_i64)]
    pub max_overages: Option<Option<i64>>,
}

impl RequestBody for SetMaxOveragesRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// A user to add to an organization.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberRequest {
    pub user_id: Uuid,
    pub role: RoleValue,
}

impl RequestBody for AddMemberRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// A member's new role.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateMemberRequest {
    pub role: RoleValue,
}

impl RequestBody for UpdateMemberRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// A user to create.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserRequest {
    #[validate(custom(function = "checks::email"))]
    #[schema(example = "jsmith@example.com", format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    #[validate(custom(function = "checks::person_name"))]
    #[schema(example = "Jo Smith", min_length = 1, max_length = 255)]
    pub name: String,
}

impl RequestBody for CreateUserRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// An API key to create.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKeyRequest {
    #[validate(custom(function = "checks::text_line"))]
    #[schema(example = "CI deploys", min_length = 1, max_length = 255)]
    pub name: String,
    /// The user the key acts as; the caller when absent. Only the platform admin names
    /// another user.
    pub user_id: Option<Uuid>,
    /// Scopes the key to this one organization, where the caller must be an owner or admin.
    pub organization_id: Option<Uuid>,
}

impl RequestBody for CreateApiKeyRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// An image's bytes.
#[derive(Debug, Clone, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Image(pub Vec<u8>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_keys_debug_output_hides_the_key() {
        let view = CreatedApiKeyView {
            id: Uuid::nil(),
            name: "ci".into(),
            key: "tnt_very-secret-key-material".into(),
            prefix: "tnt_very".into(),
            user_id: None,
            organization_id: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let printed = format!("{view:?} {view:#?}");
        assert!(!printed.contains("very-secret-key-material"), "{printed}");
    }
}
