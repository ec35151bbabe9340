#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod api_key;
mod error;
mod event;
mod ids;
mod membership;
mod organization;
#[cfg(feature = "serde")]
pub mod serde_impls;
mod tiers;
mod usage;
mod user;
pub mod values;
mod webhook;
mod workspace;

pub use api_key::{ApiKey, ApiKeyName, ApiKeyScope, ApiKeySecret, KeyHash};
pub use error::{InvalidValue, RuleViolation};
pub use event::{Change, CycleCredits, Event, EventType, UsageThreshold};
pub use ids::{
    ApiKeyId, EventId, OrganizationId, UsageEntryId, UserId, WebhookDeliveryId, WebhookEndpointId,
    WorkspaceId,
};
pub use membership::{Access, Member, Role, check_keeps_an_owner, check_room_for_member};
pub use organization::{
    FieldChange, MaxOverages, NewOrganization, Organization, OrganizationChanges,
    OrganizationField, Usage, Writer, billing_cycle_start_date, defaults,
};
pub use tiers::{
    AccountType, Plan, RateLimitCategory, RateLimitOverrides, RateLimits, TierDefaults, TierTable,
};
pub use usage::{Actor, UsageCategory, UsageEntry, billing_cycle_end_date};
pub use user::{User, UserName};
pub use values::{
    BillingCycleDay, DomainName, Email, HttpUrl, ImageType, LlmCredentials, Logo, Metadata, Module,
    Modules, OrganizationName, Quota, SalesforceCode, TextLine, limits,
};
pub use webhook::{
    DeliveryStatus, PREVIOUS_SECRET_GRACE, RETRY_SCHEDULE, WebhookDelivery, WebhookEndpoint,
    WebhookHost, WebhookSecret, WebhookUrl, is_public_address, parse_event_types, retry_after,
};
pub use workspace::{Workspace, check_room_for_workspace};
