//! Events: one record of every change, for the audit log and for webhooks.
//!
//! An event says what changed (`type`), when, in which organization, who did it, and a
//! payload (`data`); an update lists each changed field with its value before and after
//! (`changes`). Payloads are JSON in the management API's spelling (camelCase), and never
//! carry a secret: no key secret or hash, no logo bytes (the image's type and size
//! instead), LLM credentials by provider name only.

use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime};

use crate::api_key::{ApiKey, ApiKeyScope};
use crate::error::InvalidValue;
use crate::ids::{EventId, OrganizationId, UserId, WorkspaceId};
use crate::membership::{Member, Role};
use crate::organization::{FieldChange, Organization, OrganizationField};
use crate::tiers::RateLimitCategory;
use crate::usage::Actor;
use crate::user::User;
use crate::workspace::Workspace;

/// What kind of change an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// An organization was made.
    OrganizationCreated,
    /// Fields of an organization changed.
    OrganizationUpdated,
    /// An organization was deleted.
    OrganizationDeleted,
    /// A user became a member.
    MemberAdded,
    /// A member's role changed.
    MemberRoleChanged,
    /// A member left or was removed.
    MemberRemoved,
    /// An API key was made.
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// A workspace was made.
    WorkspaceCreated,
    /// A workspace was deleted.
    WorkspaceDeleted,
    /// A user was added.
    UserCreated,
    /// A billing cycle's usage reached 80% or 100% of the allocation, or the overage cap.
    UsageThresholdReached,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 12] = [
        Self::OrganizationCreated,
        Self::OrganizationUpdated,
        Self::OrganizationDeleted,
        Self::MemberAdded,
        Self::MemberRoleChanged,
        Self::MemberRemoved,
        Self::ApiKeyCreated,
        Self::ApiKeyRevoked,
        Self::WorkspaceCreated,
        Self::WorkspaceDeleted,
        Self::UserCreated,
        Self::UsageThresholdReached,
    ];

    /// The type's name, such as `organization.updated`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrganizationCreated => "organization.created",
            Self::OrganizationUpdated => "organization.updated",
            Self::OrganizationDeleted => "organization.deleted",
            Self::MemberAdded => "member.added",
            Self::MemberRoleChanged => "member.role_changed",
            Self::MemberRemoved => "member.removed",
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::WorkspaceCreated => "workspace.created",
            Self::WorkspaceDeleted => "workspace.deleted",
            Self::UserCreated => "user.created",
            Self::UsageThresholdReached => "usage.threshold_reached",
        }
    }

    /// Reads a type's name, such as `organization.updated`.
    ///
    /// ```
    /// use tenantry_domain::EventType;
    ///
    /// assert_eq!(EventType::parse("member.added"), Ok(EventType::MemberAdded));
    /// assert!(EventType::parse("member.joined").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .ok_or_else(|| {
                InvalidValue::new(format!(
                    "must be one of {}",
                    Self::ALL.map(EventType::as_str).join(", ")
                ))
            })
    }
}

/// One changed field of an update: its name in the management API's spelling, and its
/// value before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The field's name in the management API's spelling.
    pub field: String,
    /// Its value before.
    pub from: Value,
    /// Its value after.
    pub to: Value,
}

/// One change to Tenantry's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its public id (UUID v7: events sort by when they were written).
    pub id: EventId,
    /// What happened.
    pub event_type: EventType,
    /// When.
    pub occurred_at: OffsetDateTime,
    /// The organization it happened in; `None` for a user's own (a user, a user key).
    pub organization_id: Option<OrganizationId>,
    /// Who did it.
    pub actor: Actor,
    /// What the change made or removed, in the management API's spelling.
    pub data: Value,
    /// For an update: each changed field, from and to.
    pub changes: Vec<Change>,
}

impl Event {
    fn new(
        event_type: EventType,
        organization_id: Option<OrganizationId>,
        actor: Actor,
        data: Value,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: EventId::generate(),
            event_type,
            occurred_at: now,
            organization_id,
            actor,
            data,
            changes: Vec::new(),
        }
    }

    /// `organization.created`: every field of the new organization.
    pub fn organization_created(org: &Organization, actor: Actor, now: OffsetDateTime) -> Self {
        let mut data = Map::new();
        data.insert("id".into(), json!(org.id.as_uuid()));
        for field in OrganizationField::ALL {
            data.insert(field.api_name(), org.field(*field).to_json());
        }
        Self::new(
            EventType::OrganizationCreated,
            Some(org.id),
            actor,
            Value::Object(data),
            now,
        )
    }

    /// `organization.updated`: the fields whose value changed from `before` to `after`,
    /// among `fields` (those the change named), and the new version.
    pub fn organization_updated(
        before: &Organization,
        after: &Organization,
        fields: &[OrganizationField],
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        let changes = fields
            .iter()
            .filter_map(|field| {
                let from = before.field(*field).to_json();
                let to = after.field(*field).to_json();
                (from != to).then(|| Change {
                    field: field.api_name(),
                    from,
                    to,
                })
            })
            .collect();
        let mut event = Self::new(
            EventType::OrganizationUpdated,
            Some(after.id),
            actor,
            json!({ "id": after.id.as_uuid(), "version": after.version }),
            now,
        );
        event.changes = changes;
        event
    }

    /// `organization.deleted`: its id and name.
    pub fn organization_deleted(org: &Organization, actor: Actor, now: OffsetDateTime) -> Self {
        Self::new(
            EventType::OrganizationDeleted,
            Some(org.id),
            actor,
            json!({ "id": org.id.as_uuid(), "name": org.name.as_str() }),
            now,
        )
    }

    /// `member.added`: the user and their role.
    pub fn member_added(
        org: OrganizationId,
        member: &Member,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self::new(
            EventType::MemberAdded,
            Some(org),
            actor,
            member_data(member.user.id, Some(&member.user), member.role),
            now,
        )
    }

    /// `member.role_changed`: the user, with the role as a change.
    pub fn member_role_changed(
        org: OrganizationId,
        member: &Member,
        from: Role,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        let mut event = Self::new(
            EventType::MemberRoleChanged,
            Some(org),
            actor,
            member_data(member.user.id, Some(&member.user), member.role),
            now,
        );
        event.changes = vec![Change {
            field: "role".into(),
            from: json!(from.as_str()),
            to: json!(member.role.as_str()),
        }];
        event
    }

    /// `member.removed`: the user and the role they had; `keysRevoked` counts the keys
    /// for this organization that left with them.
    pub fn member_removed(
        org: OrganizationId,
        user: UserId,
        role: Role,
        keys_revoked: u64,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        let mut data = member_data(user, None, role);
        data["keysRevoked"] = json!(keys_revoked);
        Self::new(EventType::MemberRemoved, Some(org), actor, data, now)
    }

    /// `api_key.created`: the key's id, name, prefix and scope, never its secret or hash.
    pub fn api_key_created(key: &ApiKey, actor: Actor, now: OffsetDateTime) -> Self {
        Self::new(
            EventType::ApiKeyCreated,
            key.organization_id(),
            actor,
            key_data(key),
            now,
        )
    }

    /// `api_key.revoked`: the key as `api_key.created` describes it.
    pub fn api_key_revoked(key: &ApiKey, actor: Actor, now: OffsetDateTime) -> Self {
        Self::new(
            EventType::ApiKeyRevoked,
            key.organization_id(),
            actor,
            key_data(key),
            now,
        )
    }

    /// `workspace.created`: its id and name.
    pub fn workspace_created(
        org: OrganizationId,
        workspace: &Workspace,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self::new(
            EventType::WorkspaceCreated,
            Some(org),
            actor,
            json!({ "id": workspace.id.as_uuid(), "name": workspace.name.as_str() }),
            now,
        )
    }

    /// `workspace.deleted`: its id.
    pub fn workspace_deleted(
        org: OrganizationId,
        workspace: WorkspaceId,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self::new(
            EventType::WorkspaceDeleted,
            Some(org),
            actor,
            json!({ "id": workspace.as_uuid() }),
            now,
        )
    }

    /// `user.created`: the user's id, email and name.
    pub fn user_created(user: &User, actor: Actor, now: OffsetDateTime) -> Self {
        Self::new(EventType::UserCreated, None, actor, user_data(user), now)
    }

    /// `usage.threshold_reached`: which threshold, in which cycle, and the credits then.
    pub fn usage_threshold_reached(
        org: OrganizationId,
        threshold: UsageThreshold,
        credits: CycleCredits,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self::new(
            EventType::UsageThresholdReached,
            Some(org),
            actor,
            json!({
                "threshold": threshold.as_str(),
                "cycleStart": date_text(credits.cycle_start),
                "allocation": credits.allocation,
                "used": credits.used,
                "maxOverages": credits.max_overages,
            }),
            now,
        )
    }
}

fn member_data(user: UserId, details: Option<&User>, role: Role) -> Value {
    let mut data = json!({ "userId": user.as_uuid(), "role": role.as_str() });
    if let Some(user) = details {
        data["email"] = json!(user.email.as_str());
        data["name"] = json!(user.name.as_str());
    }
    data
}

fn user_data(user: &User) -> Value {
    json!({
        "id": user.id.as_uuid(),
        "email": user.email.as_str(),
        "name": user.name.as_str(),
    })
}

fn key_data(key: &ApiKey) -> Value {
    let scope = match key.scope {
        ApiKeyScope::PlatformAdmin => "admin",
        ApiKeyScope::User(_) => "user",
        ApiKeyScope::Organization { .. } => "organization",
    };
    json!({
        "id": key.id.as_uuid(),
        "name": key.name.as_str(),
        "prefix": key.prefix,
        "scope": scope,
        "userId": key.user_id().map(|u| u.as_uuid()),
        "organizationId": key.organization_id().map(|o| o.as_uuid()),
    })
}

fn date_text(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// A point of a billing cycle's usage that is announced once per cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageThreshold {
    /// 80% of the allocation.
    Allocation80,
    /// The whole allocation.
    Allocation100,
    /// The allocation and the whole overage cap: no more usage this cycle.
    OverageCap,
}

/// A billing cycle's credits, as a usage threshold is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleCredits {
    /// The billing cycle's first day.
    pub cycle_start: Date,
    /// The cycle's allocation of credits.
    pub allocation: u64,
    /// Credits used in the cycle.
    pub used: u64,
    /// The overage cap in force (`None`: no cap); only counts with auto billing on.
    pub max_overages: Option<u64>,
    /// Whether usage may go beyond the allocation.
    pub auto_billing_enabled: bool,
}

impl UsageThreshold {
    /// Every threshold.
    pub const ALL: [UsageThreshold; 3] =
        [Self::Allocation80, Self::Allocation100, Self::OverageCap];

    /// `allocation_80`, `allocation_100` or `overage_cap`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allocation80 => "allocation_80",
            Self::Allocation100 => "allocation_100",
            Self::OverageCap => "overage_cap",
        }
    }

    /// Whether `credits.used` is at or past this threshold. An organization without an
    /// allocation has no percentage thresholds; without auto billing or without a cap,
    /// none for the cap.
    pub fn is_reached(self, credits: &CycleCredits) -> bool {
        let allocation = credits.allocation;
        match self {
            Self::Allocation80 => {
                allocation > 0 && u128::from(credits.used) * 5 >= u128::from(allocation) * 4
            }
            Self::Allocation100 => allocation > 0 && credits.used >= allocation,
            Self::OverageCap => match (credits.auto_billing_enabled, credits.max_overages) {
                (true, Some(cap)) => {
                    u128::from(credits.used) >= u128::from(allocation) + u128::from(cap)
                }
                _ => false,
            },
        }
    }

    /// The thresholds that usage going from `before` to `credits.used` crossed.
    pub fn crossed(before: u64, credits: &CycleCredits) -> Vec<UsageThreshold> {
        let earlier = CycleCredits {
            used: before,
            ..*credits
        };
        Self::ALL
            .into_iter()
            .filter(|t| t.is_reached(credits) && !t.is_reached(&earlier))
            .collect()
    }
}

impl OrganizationField {
    /// The field's name in the management API's spelling (camelCase).
    pub fn api_name(self) -> String {
        crate::values::camel_case(self.snake_name())
    }
}

impl FieldChange<'_> {
    /// The value as an event shows it: as the management API spells it, a logo as its
    /// type and size, LLM credentials as their provider names.
    pub fn to_json(&self) -> Value {
        fn text<T: AsRef<str>>(value: &Option<T>) -> Value {
            value
                .as_ref()
                .map_or(Value::Null, |v| Value::String(v.as_ref().to_owned()))
        }
        match self {
            Self::Name(name) => json!(name.as_str()),
            Self::Domain(domain) => text(domain),
            Self::Logo(logo) => logo.as_ref().map_or(Value::Null, |logo| {
                json!({ "type": logo.image_type().content_type(), "size": logo.bytes().len() })
            }),
            Self::LogoUrl(url) => text(url),
            Self::BillingEmail(email) => text(email),
            Self::NotificationsEmail(email) => text(email),
            Self::AccountType(tier) => json!(tier.as_str()),
            Self::Plan(plan) => json!(plan.as_str()),
            Self::ContractEndDate(date) => date.map_or(Value::Null, |d| json!(date_text(d))),
            Self::SalesforceCode(code) => text(code),
            Self::IsActive(value) | Self::AutoBillingEnabled(value) => json!(value),
            Self::BillingCycleStart(day) => json!(day.get()),
            Self::CreditAllocation(credits) => json!(credits),
            Self::Modules(modules) => json!(modules.iter().map(|m| m.as_str()).collect::<Vec<_>>()),
            Self::UserQuota(quota)
            | Self::WorkspaceQuota(quota)
            | Self::AnalysisQuota(quota)
            | Self::AssetEvaluationQuota(quota)
            | Self::SearchCredits(quota) => json!(quota.get()),
            Self::RateLimitOverrides(overrides) => Value::Object(
                RateLimitCategory::ALL
                    .into_iter()
                    .filter_map(|c| overrides.get(c).map(|v| (c.as_str().to_owned(), json!(v))))
                    .collect(),
            ),
            Self::MaxOverages(max) => json!(max),
            Self::Metadata(metadata) => metadata.to_json(),
            Self::DefaultLlmCredentials(credentials) => {
                json!(credentials.iter().map(|(name, _)| name).collect::<Vec<_>>())
            }
            Self::NsfwCheckEnabled(value) | Self::NsfwFailClosed(value) => json!(value),
            Self::Infrastructure(value) => text(value),
            Self::ApiUrl(url) => text(url),
            Self::AuthProviderOrgId(id) => text(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;
    use crate::organization::{NewOrganization, OrganizationChanges};
    use crate::values::{ImageType, LlmCredentials, Logo, OrganizationName};

    fn org() -> Organization {
        Organization::new(
            NewOrganization {
                name: OrganizationName::parse("Acme").unwrap(),
                domain: None,
            },
            datetime!(2026-03-10 12:00 UTC),
        )
    }

    #[test]
    fn every_type_parses_back_from_its_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Ok(t));
        }
        assert!(EventType::parse("organization.exploded").is_err());
    }

    #[test]
    fn an_update_lists_only_the_fields_whose_value_changed() {
        let before = org();
        let mut after = before.clone();
        let changes = OrganizationChanges {
            name: Some(OrganizationName::parse("Beta").unwrap()),
            plan: Some(before.plan),
            ..Default::default()
        };
        changes.apply_to(&mut after);
        let event = Event::organization_updated(
            &before,
            &after,
            &changes.fields(),
            Actor::PlatformAdmin(None),
            datetime!(2026-03-10 12:00 UTC),
        );
        assert_eq!(
            event.changes,
            [Change {
                field: "name".into(),
                from: json!("Acme"),
                to: json!("Beta"),
            }]
        );
    }

    #[test]
    fn secrets_never_reach_an_event() {
        let mut org = org();
        let png = b"\x89PNG\r\n\x1a\n-rest-of-the-image".to_vec();
        org.logo = Some(Logo::from_bytes(ImageType::Png, png.clone()).unwrap());
        org.default_llm_credentials =
            LlmCredentials::parse([("openai".to_owned(), "vault:openai-key".to_owned())]).unwrap();
        let event = Event::organization_created(&org, Actor::PlatformAdmin(None), org.created_at);
        assert_eq!(
            event.data["logo"],
            json!({ "type": "image/png", "size": png.len() })
        );
        assert_eq!(event.data["defaultLlmCredentials"], json!(["openai"]));
        assert!(!event.data.to_string().contains("vault:openai-key"));
        assert_eq!(event.data["salesforceCode"], Value::Null);
    }

    #[test]
    fn usage_thresholds_are_crossed_once_on_the_way_up() {
        let credits = |used| CycleCredits {
            cycle_start: date!(2026 - 03 - 01),
            allocation: 1_000,
            used,
            max_overages: Some(100),
            auto_billing_enabled: true,
        };
        assert!(UsageThreshold::crossed(0, &credits(799)).is_empty());
        assert_eq!(
            UsageThreshold::crossed(799, &credits(800)),
            [UsageThreshold::Allocation80]
        );
        assert_eq!(
            UsageThreshold::crossed(0, &credits(1_100)),
            UsageThreshold::ALL
        );
        assert!(UsageThreshold::crossed(1_000, &credits(1_050)).is_empty());
        // No allocation: no percentages.
        let none = CycleCredits {
            allocation: 0,
            max_overages: None,
            ..credits(5)
        };
        assert!(UsageThreshold::crossed(0, &none).is_empty());
    }
}
