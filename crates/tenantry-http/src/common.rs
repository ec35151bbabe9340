//! Pieces every surface shares: enum values as the documented APIs spell them, clocks,
//! conversions that collect every invalid field, and the documented problem responses.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use tenantry_domain::{AccountType, InvalidValue, Module, Plan, Role};
use time::OffsetDateTime;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, response::Response};
use utoipa::{IntoResponses, ToSchema};

use crate::error::{ApiError, FieldError, PROBLEM_JSON};

/// A date as the APIs write it: `2026-11-01`.
pub(crate) fn format_date(date: time::Date) -> String {
    date.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// A date as the APIs take it: `2026-11-01`.
pub(crate) fn parse_date(value: &str) -> Result<time::Date, InvalidValue> {
    time::Date::parse(
        value,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| InvalidValue::new("must be a date such as 2023-12-25"))
}

/// The current time, to the microsecond (the precision every supported database keeps), so
/// what a write answers equals what a later read shows.
pub fn now() -> OffsetDateTime {
    tenantry_storage::now()
}

/// Deserializes a field that may be absent but not `null`.
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)?
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must not be null"))
}

/// Collects the errors of every field of a request while converting it to domain values.
#[derive(Debug, Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    /// Keeps the value, or records why `field` is invalid.
    pub fn check<T>(&mut self, field: &str, result: Result<T, InvalidValue>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors.push(FieldError::new(field, error.message()));
                None
            }
        }
    }

    /// Parses an optional value: absent stays absent.
    pub fn optional<V, T>(
        &mut self,
        field: &str,
        value: Option<V>,
        parse: impl FnOnce(V) -> Result<T, InvalidValue>,
    ) -> Option<T> {
        value.and_then(|v| self.check(field, parse(v)))
    }

    /// Parses a value that may be cleared: absent stays absent, `null` clears.
    pub fn nullable<V, T>(
        &mut self,
        field: &str,
        value: Option<Option<V>>,
        parse: impl FnOnce(V) -> Result<T, InvalidValue>,
    ) -> Option<Option<T>> {
        match value {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => self.check(field, parse(v)).map(Some),
        }
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `value` if no field was invalid, else a 422 naming each one.
    pub fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// An account tier, as the APIs spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountTypeValue {
    Free,
    Pro,
    Team,
    Enterprise,
}

impl From<AccountType> for AccountTypeValue {
    fn from(value: AccountType) -> Self {
        match value {
            AccountType::Free => Self::Free,
            AccountType::Pro => Self::Pro,
            AccountType::Team => Self::Team,
            AccountType::Enterprise => Self::Enterprise,
        }
    }
}

impl From<AccountTypeValue> for AccountType {
    fn from(value: AccountTypeValue) -> Self {
        match value {
            AccountTypeValue::Free => Self::Free,
            AccountTypeValue::Pro => Self::Pro,
            AccountTypeValue::Team => Self::Team,
            AccountTypeValue::Enterprise => Self::Enterprise,
        }
    }
}

/// A commercial plan, as the APIs spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlanValue {
    Pilot,
    Starter,
    Suite,
    Enterprise,
}

impl From<Plan> for PlanValue {
    fn from(value: Plan) -> Self {
        match value {
            Plan::Pilot => Self::Pilot,
            Plan::Starter => Self::Starter,
            Plan::Suite => Self::Suite,
            Plan::Enterprise => Self::Enterprise,
        }
    }
}

impl From<PlanValue> for Plan {
    fn from(value: PlanValue) -> Self {
        match value {
            PlanValue::Pilot => Self::Pilot,
            PlanValue::Starter => Self::Starter,
            PlanValue::Suite => Self::Suite,
            PlanValue::Enterprise => Self::Enterprise,
        }
    }
}

/// A product module, as the organization-by-id API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ModuleValue {
    Assets,
    Models,
    Search,
    Sources,
    Shopping,
    Website,
    Dashboard,
}

impl From<ModuleValue> for Module {
    fn from(value: ModuleValue) -> Self {
        match value {
            ModuleValue::Assets => Self::Assets,
            ModuleValue::Models => Self::Models,
            ModuleValue::Search => Self::Search,
            ModuleValue::Sources => Self::Sources,
            ModuleValue::Shopping => Self::Shopping,
            ModuleValue::Website => Self::Website,
            ModuleValue::Dashboard => Self::Dashboard,
        }
    }
}

impl From<Module> for ModuleValue {
    fn from(value: Module) -> Self {
        match value {
            Module::Assets => Self::Assets,
            Module::Models => Self::Models,
            Module::Search => Self::Search,
            Module::Sources => Self::Sources,
            Module::Shopping => Self::Shopping,
            Module::Website => Self::Website,
            Module::Dashboard => Self::Dashboard,
        }
    }
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleValue {
    Owner,
    Admin,
    Member,
}

impl From<Role> for RoleValue {
    fn from(value: Role) -> Self {
        match value {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
        }
    }
}

impl From<RoleValue> for Role {
    fn from(value: RoleValue) -> Self {
        match value {
            RoleValue::Owner => Self::Owner,
            RoleValue::Admin => Self::Admin,
            RoleValue::Member => Self::Member,
        }
    }
}

fn problem_response(status: u16) -> (String, RefOr<Response>) {
    let description = match status {
        400 => "The body is not JSON, or not a JSON object.",
        401 => "No API key, or an invalid or revoked one.",
        403 => "The caller may see this but not do this; `errors` names the fields.",
        404 => "No such resource, or one the caller may not see.",
        402 => {
            "The credits left and the overage allowed do not cover this usage; nothing was recorded."
        }
        409 => "A conflict: the last owner, a full quota, a duplicate.",
        412 => "The `If-Match` ETag is not the current one.",
        413 => "The body is larger than the limit.",
        415 => "The body is not JSON.",
        429 => "The rate limit is reached; `Retry-After` says when to retry.",
        422 => "A field is invalid or unknown; `errors` names each one.",
        503 => "The database is unavailable.",
        _ => "An error.",
    };
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, content);
    (status.to_string(), RefOr::T(response.build()))
}

macro_rules! problems {
    ($($(#[$doc:meta])* $name:ident: [$($status:literal),*];)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    [$($status),*].into_iter().map(problem_response).collect()
                }
            }
        )*
    };
}

problems! {
    /// The errors of an authenticated read of one resource.
    ReadProblems: [401, 404, 422, 429, 503];
    /// The errors of an authenticated list.
    ListProblems: [401, 422, 429, 503];
    /// The errors of a list inside an organization that only some of its members may read.
    GuardedListProblems: [401, 403, 404, 422, 429, 503];
    /// The errors of a list that only the platform admin may read.
    AdminListProblems: [401, 403, 422, 429, 503];
    /// The errors of a read that only the platform admin may make.
    AdminReadProblems: [401, 403, 404, 422, 429, 503];
    /// The errors of a write with a body.
    WriteProblems: [400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 503];
    /// The errors of a write with a body that creates.
    CreateProblems: [400, 401, 403, 404, 409, 413, 415, 422, 429, 503];
    /// The errors of recording usage.
    UsageProblems: [400, 401, 402, 403, 404, 409, 413, 415, 422, 429, 503];
    /// The errors of a delete.
    DeleteProblems: [401, 403, 404, 409, 422, 429, 503];
}

/// `validator` checks that run the domain's own parsers, so that a body's invalid text
/// fields are all named in one answer, beside its invalid numbers and unknown fields (the
/// handler parses them again into domain values; the parsers are the source of truth).
pub(crate) mod checks {
    use std::borrow::Cow;

    use tenantry_domain::{
        DomainName, Email, HttpUrl, InvalidValue, OrganizationName, SalesforceCode, TextLine,
        limits,
    };
    use validator::ValidationError;

    fn invalid(error: InvalidValue) -> ValidationError {
        ValidationError::new("invalid").with_message(Cow::Owned(error.to_string()))
    }

    pub(crate) fn organization_name<T: AsRef<str>>(value: &T) -> Result<(), ValidationError> {
        OrganizationName::parse(value.as_ref())
            .map(drop)
            .map_err(invalid)
    }

    pub(crate) fn email<T: AsRef<str>>(value: &T) -> Result<(), ValidationError> {
        Email::parse(value.as_ref()).map(drop).map_err(invalid)
    }

    pub(crate) fn domain<T: AsRef<str>>(value: &T) -> Result<(), ValidationError> {
        DomainName::parse(value.as_ref()).map(drop).map_err(invalid)
    }

    pub(crate) fn http_url<T: AsRef<str>>(value: &T) -> Result<(), ValidationError> {
        HttpUrl::parse(value.as_ref()).map(drop).map_err(invalid)
    }

    pub(crate) fn salesforce_code<T: AsRef<str>>(value: &T) -> Result<(), ValidationError> {
        SalesforceCode::parse(value.as_ref())
            .map(drop)
            .map_err(invalid)
    }

    /// A person's name.
    pub(crate) fn person_name<T: AsRef<str>>(value: &T) -> Result<(), ValidationError> {
        TextLine::parse(value.as_ref(), limits::NAME_MAX_CHARS)
            .map(drop)
            .map_err(invalid)
    }

    /// A key's or a workspace's name.
    pub(crate) fn text_line<T: AsRef<str>>(value: &T) -> Result<(), ValidationError> {
        TextLine::parse(value.as_ref(), limits::TEXT_LINE_MAX_CHARS)
            .map(drop)
            .map_err(invalid)
    }

    /// A webhook endpoint's URL (where it leads is checked apart).
    pub(crate) fn webhook_url<T: AsRef<str>>(value: &T) -> Result<(), ValidationError> {
        tenantry_domain::WebhookUrl::parse(value.as_ref())
            .map(drop)
            .map_err(invalid)
    }
}
