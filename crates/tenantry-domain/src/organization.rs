//! The organization aggregate.

use time::{Date, Month, OffsetDateTime};

use crate::error::RuleViolation;
use crate::ids::OrganizationId;
use crate::tiers::{AccountType, Plan, RateLimitOverrides, RateLimits, TierTable};
use crate::values::{
    BillingCycleDay, DomainName, Email, HttpUrl, LlmCredentials, Logo, Metadata, Modules,
    OrganizationName, Quota, SalesforceCode, TextLine, limits,
};

/// The most credits an organization may use beyond its allocation when auto billing is on;
/// `None` is no cap.
pub type MaxOverages = Option<u64>;

/// Quotas a new organization starts with, until the platform admin sets its own.
pub mod defaults {
    /// Members.
    pub const USER_QUOTA: u32 = 25;
    /// Workspaces.
    pub const WORKSPACE_QUOTA: u32 = 10;
    /// Analyses.
    pub const ANALYSIS_QUOTA: u32 = 100;
    /// Asset evaluations.
    pub const ASSET_EVALUATION_QUOTA: u32 = 100;
    /// Searches.
    pub const SEARCH_CREDITS: u32 = 1_000;
    /// No overage until someone decides how much may be billed.
    pub const MAX_OVERAGES: Option<u64> = Some(0);
}

/// Credits used in the billing cycle that started on `cycle_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The cycle's first day.
    pub cycle_start: Date,
    /// Credits used in it, refunds subtracted.
    pub credits_used: u64,
}

/// One organization, with every field the three documented APIs know of.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    /// Its public id.
    pub id: OrganizationId,
    // Identity.
    /// Its name.
    pub name: OrganizationName,
    /// Its web domain, unique among organizations.
    pub domain: Option<DomainName>,
    /// Its logo image, kept in the database.
    pub logo: Option<Logo>,
    /// Where its logo is, when it is kept elsewhere.
    pub logo_url: Option<HttpUrl>,
    // Contacts.
    /// Where bills go.
    pub billing_email: Option<Email>,
    /// Where notices go.
    pub notifications_email: Option<Email>,
    // Commercial terms.
    /// Its account tier, which fixes its default credits and rate limits.
    pub account_type: AccountType,
    /// Its commercial plan.
    pub plan: Plan,
    /// When its contract ends.
    pub contract_end_date: Option<Date>,
    /// Its reference in the CRM.
    pub salesforce_code: Option<SalesforceCode>,
    /// Whether it may be used; an inactive organization records no usage and gains nothing.
    pub is_active: bool,
    /// Whether usage may go on beyond the monthly allocation, billed as overage.
    pub auto_billing_enabled: bool,
    /// The day of the month its billing cycles start.
    pub billing_cycle_start: BillingCycleDay,
    /// Credits per billing cycle set for this organization; `None` takes the tier's.
    pub credit_allocation: Option<u64>,
    // Entitlements.
    /// The product modules it may use.
    pub modules: Modules,
    /// How many members it may have.
    pub user_quota: Quota,
    /// How many workspaces it may have.
    pub workspace_quota: Quota,
    /// How many analyses it may run.
    pub analysis_quota: Quota,
    /// How many asset evaluations it may run.
    pub asset_evaluation_quota: Quota,
    /// Its search allowance.
    pub search_credits: Quota,
    // Limits.
    /// Its own rate limits, per category, instead of its tier's.
    pub rate_limit_overrides: RateLimitOverrides,
    /// How many credits it may use beyond its allocation with auto billing on (`None`: no cap).
    pub max_overages: MaxOverages,
    // Settings.
    /// Free-form data of the customer's own (a JSON object).
    pub metadata: Metadata,
    /// Its LLM providers' credentials.
    pub default_llm_credentials: LlmCredentials,
    /// Whether content is checked for NSFW material.
    pub nsfw_check_enabled: bool,
    /// Whether content is refused when the NSFW check cannot run.
    pub nsfw_fail_closed: bool,
    /// The dedicated infrastructure this organization runs on; `None` is the shared plane.
    pub infrastructure: Option<TextLine>,
    /// The API base URL of its dedicated infrastructure.
    pub api_url: Option<HttpUrl>,
    /// Its id at the authentication provider.
    pub auth_provider_org_id: Option<TextLine>,
    // Usage and counts.
    /// What it used in its latest billing cycle.
    pub usage: Usage,
    /// How many members it has.
    pub member_count: u64,
    /// How many workspaces it has.
    pub workspace_count: u64,
    /// Bumped by every change; the ETag.
    pub version: u64,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// What it takes to make an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrganization {
    /// Its name.
    pub name: OrganizationName,
    /// Its web domain, if it has one.
    pub domain: Option<DomainName>,
}

impl Organization {
    /// A new organization on the free tier and the pilot plan, with the default quotas and
    /// every module, and no members yet.
    pub fn new(new: NewOrganization, now: OffsetDateTime) -> Self {
        let quota = |value: u32| Quota::parse(i64::from(value)).expect("defaults are in range");
        let billing_cycle_start = BillingCycleDay::default();
        Self {
            id: OrganizationId::generate(),
            name: new.name,
            domain: new.domain,
            logo: None,
            logo_url: None,
            billing_email: None,
            notifications_email: None,
            account_type: AccountType::default(),
            plan: Plan::default(),
            contract_end_date: None,
            salesforce_code: None,
            is_active: true,
            auto_billing_enabled: false,
            billing_cycle_start,
            credit_allocation: None,
            modules: Modules::all(),
            user_quota: quota(defaults::USER_QUOTA),
            workspace_quota: quota(defaults::WORKSPACE_QUOTA),
            analysis_quota: quota(defaults::ANALYSIS_QUOTA),
            asset_evaluation_quota: quota(defaults::ASSET_EVALUATION_QUOTA),
            search_credits: quota(defaults::SEARCH_CREDITS),
            rate_limit_overrides: RateLimitOverrides::default(),
            max_overages: defaults::MAX_OVERAGES,
            metadata: Metadata::default(),
            default_llm_credentials: LlmCredentials::default(),
            nsfw_check_enabled: false,
            nsfw_fail_closed: false,
            infrastructure: None,
            api_url: None,
            auth_provider_org_id: None,
            usage: Usage {
                cycle_start: billing_cycle_start_date(now.date(), billing_cycle_start),
                credits_used: 0,
            },
            member_count: 0,
            workspace_count: 0,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// Credits per billing cycle: the organization's own allocation, else its tier's.
    pub fn monthly_allocation(&self, tiers: &TierTable) -> u64 {
        self.credit_allocation
            .or(tiers.get(self.account_type).monthly_credits)
            .unwrap_or(0)
    }

    /// Credits used in the billing cycle that contains `today`.
    pub fn current_month_usage(&self, today: Date) -> u64 {
        if self.usage.cycle_start == billing_cycle_start_date(today, self.billing_cycle_start) {
            self.usage.credits_used
        } else {
            0
        }
    }

    /// Credits left in the billing cycle that contains `today` (never below zero).
    pub fn credit_count(&self, tiers: &TierTable, today: Date) -> u64 {
        self.monthly_allocation(tiers)
            .saturating_sub(self.current_month_usage(today))
    }

    /// Credits used beyond the allocation in the billing cycle that contains `today`.
    pub fn overage(&self, tiers: &TierTable, today: Date) -> u64 {
        self.current_month_usage(today)
            .saturating_sub(self.monthly_allocation(tiers))
    }

    /// Whether `credits` more may be used now: within the allocation, or beyond it while
    /// auto billing is on and the overage stays within `max_overages` (`None`: no cap).
    pub fn check_usage(
        &self,
        credits: u64,
        tiers: &TierTable,
        today: Date,
    ) -> Result<(), RuleViolation> {
        let allocation = self.monthly_allocation(tiers);
        let after = self.current_month_usage(today).saturating_add(credits);
        if after > limits::CREDITS_USED_MAX as u64 {
            return Err(RuleViolation::CreditsExhausted {
                requested: credits,
                left: (limits::CREDITS_USED_MAX as u64)
                    .saturating_sub(self.current_month_usage(today)),
            });
        }
        let within_allocation = after <= allocation;
        let within_overage = self.auto_billing_enabled
            && self
                .max_overages
                .is_none_or(|cap| after <= allocation.saturating_add(cap));
        if within_allocation || within_overage {
            return Ok(());
        }
        let left = match (self.auto_billing_enabled, self.max_overages) {
            (true, Some(cap)) => allocation.saturating_add(cap),
            _ => allocation,
        }
        .saturating_sub(self.current_month_usage(today));
        Err(RuleViolation::CreditsExhausted {
            requested: credits,
            left,
        })
    }

    /// The rate limits in force: the tier's defaults with this organization's overrides.
    pub fn rate_limits(&self, tiers: &TierTable) -> RateLimits {
        tiers
            .get(self.account_type)
            .rate_limits
            .merged(&self.rate_limit_overrides)
    }

    /// Whether this organization runs on the shared plane (no dedicated infrastructure).
    pub fn is_on_shared_plane(&self) -> bool {
        self.infrastructure.is_none()
    }

    /// The ETag of this version of the organization.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// The first day of the billing cycle that contains `today`, for cycles starting on `day`.
pub fn billing_cycle_start_date(today: Date, day: BillingCycleDay) -> Date {
    let day = day.get();
    if today.day() >= day {
        Date::from_calendar_date(today.year(), today.month(), day).expect("day 1..=28 exists")
    } else {
        let (year, month) = match today.month() {
            Month::January => (today.year() - 1, Month::December),
            month => (today.year(), month.previous()),
        };
        Date::from_calendar_date(year, month, day).expect("day 1..=28 exists")
    }
}

/// Who may write a field of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The organization's owners and admins (and the platform admin).
    Managers,
    /// The platform admin alone: commercial terms, entitlements, quotas, limits and where
    /// the organization runs.
    PlatformAdmin,
}

/// Declares every field a change to an organization may name, once: its name in
/// [`OrganizationChanges`] and on [`Organization`], the type of its new value, its variant of
/// [`OrganizationField`] and [`FieldChange`], its snake_case name (the documented APIs'
/// spelling; the management API writes it in camelCase), and who may write it. Everything
/// that must know every field is derived from this table or matches [`FieldChange`]
/// exhaustively, so a new row does not compile until each such place handles it.
macro_rules! organization_fields {
    ($(
        $(#[$doc:meta])*
        $field:ident: $ty:ty => $variant:ident, $snake:literal, $writer:ident;
    )*) => {
        /// A field of the organization that a change may name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OrganizationField {
            $($(#[$doc])* $variant,)*
        }

        impl OrganizationField {
            /// Every field, in the table's order.
            pub const ALL: &'static [OrganizationField] = &[$(Self::$variant,)*];

            /// The field's name in snake_case, as the documented APIs spell it.
            pub const fn snake_name(self) -> &'static str {
                match self {
                    $(Self::$variant => $snake,)*
                }
            }

            /// Who may write the field.
            pub const fn writer(self) -> Writer {
                match self {
                    $(Self::$variant => Writer::$writer,)*
                }
            }

            /// Whether only the platform admin may write the field.
            pub const fn requires_platform_admin(self) -> bool {
                matches!(self.writer(), Writer::PlatformAdmin)
            }
        }

        /// A change to an organization. `None` leaves a field as it is; for a field that
        /// may be empty, `Some(None)` clears it.
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct OrganizationChanges {
            $($(#[$doc])* pub $field: Option<$ty>,)*
        }

        /// One field's new value, as a change names it.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum FieldChange<'a> {
            $($(#[$doc])* $variant(&'a $ty),)*
        }

        impl FieldChange<'_> {
            /// The field this value is for.
            pub const fn field(&self) -> OrganizationField {
                match self {
                    $(Self::$variant(_) => OrganizationField::$variant,)*
                }
            }
        }

        impl Organization {
            /// The value of one field, as a change would name it.
            pub fn field(&self, field: OrganizationField) -> FieldChange<'_> {
                match field {
                    $(OrganizationField::$variant => FieldChange::$variant(&self.$field),)*
                }
            }
        }

        impl OrganizationChanges {
            /// Each field this change names, with its new value, in the table's order.
            pub fn changes(&self) -> Vec<FieldChange<'_>> {
                let mut out = Vec::new();
                $(
                    if let Some(value) = &self.$field {
                        out.push(FieldChange::$variant(value));
                    }
                )*
                out
            }

            /// This change applied to `org` (without touching its version or timestamps).
            pub fn apply_to(&self, org: &mut Organization) {
                $(
                    if let Some(value) = &self.$field {
                        org.$field = value.clone();
                    }
                )*
            }
        }
    };
}

organization_fields! {
    /// The organization's name.
    name: OrganizationName => Name, "name", Managers;
    /// Its web domain, unique among organizations.
    domain: Option<DomainName> => Domain, "domain", Managers;
    /// Its logo image, kept in the database.
    logo: Option<Logo> => Logo, "logo", Managers;
    /// Where its logo is, when it is kept elsewhere.
    logo_url: Option<HttpUrl> => LogoUrl, "logo_url", Managers;
    /// Where bills go.
    billing_email: Option<Email> => BillingEmail, "billing_email", Managers;
    /// Where notices go.
    notifications_email: Option<Email> => NotificationsEmail, "notifications_email", Managers;
    /// Its account tier, which fixes its default credits and rate limits.
    account_type: AccountType => AccountType, "account_type", PlatformAdmin;
    /// Its commercial plan.
    plan: Plan => Plan, "plan", PlatformAdmin;
    /// When its contract ends.
    contract_end_date: Option<Date> => ContractEndDate, "contract_end_date", PlatformAdmin;
    /// Its reference in the CRM.
    salesforce_code: Option<SalesforceCode> => SalesforceCode, "salesforce_code", PlatformAdmin;
    /// Whether it may be used; an inactive organization records no usage and gains nothing.
    is_active: bool => IsActive, "is_active", PlatformAdmin;
    /// Whether usage may go on beyond the monthly allocation, billed as overage.
    auto_billing_enabled: bool => AutoBillingEnabled, "auto_billing_enabled", PlatformAdmin;
    /// The day of the month its billing cycles start.
    billing_cycle_start: BillingCycleDay => BillingCycleStart, "billing_cycle_start", PlatformAdmin;
    /// Its own credits per cycle, instead of its tier's.
    credit_allocation: Option<u64> => CreditAllocation, "credit_allocation", PlatformAdmin;
    /// The product modules it may use.
    modules: Modules => Modules, "modules", PlatformAdmin;
    /// How many members it may have.
    user_quota: Quota => UserQuota, "user_quota", PlatformAdmin;
    /// How many workspaces it may have.
    workspace_quota: Quota => WorkspaceQuota, "workspace_quota", PlatformAdmin;
    /// How many analyses it may run.
    analysis_quota: Quota => AnalysisQuota, "analysis_quota", PlatformAdmin;
    /// How many asset evaluations it may run.
    asset_evaluation_quota: Quota => AssetEvaluationQuota, "asset_evaluation_quota", PlatformAdmin;
    /// Its search allowance.
    search_credits: Quota => SearchCredits, "search_credits", PlatformAdmin;
    /// Its own rate limits, per category, instead of its tier's.
    rate_limit_overrides: RateLimitOverrides => RateLimitOverrides, "rate_limit_overrides", PlatformAdmin;
    /// How many credits it may use beyond its allocation with auto billing on (`None`: no cap).
    max_overages: MaxOverages => MaxOverages, "max_overages", Managers;
    /// Free-form data of the customer's own (a JSON object).
    metadata: Metadata => Metadata, "metadata", Managers;
    /// Its LLM providers' credentials.
    default_llm_credentials: LlmCredentials => DefaultLlmCredentials, "default_llm_credentials", Managers;
    /// Whether content is checked for NSFW material.
    nsfw_check_enabled: bool => NsfwCheckEnabled, "nsfw_check_enabled", Managers;
    /// Whether content is refused when the NSFW check cannot run.
    nsfw_fail_closed: bool => NsfwFailClosed, "nsfw_fail_closed", Managers;
    /// The dedicated infrastructure it runs on; `None` is the shared plane.
    infrastructure: Option<TextLine> => Infrastructure, "infrastructure", PlatformAdmin;
    /// The API base URL of its dedicated infrastructure.
    api_url: Option<HttpUrl> => ApiUrl, "api_url", PlatformAdmin;
    /// Its id at the authentication provider.
    auth_provider_org_id: Option<TextLine> => AuthProviderOrgId, "auth_provider_org_id", PlatformAdmin;
}

impl OrganizationChanges {
    /// The fields this change names.
    pub fn fields(&self) -> Vec<OrganizationField> {
        self.changes().iter().map(FieldChange::field).collect()
    }

    /// Whether the change names no field.
    pub fn is_empty(&self) -> bool {
        self.changes().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;
    use crate::tiers::RateLimitCategory;

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
    fn a_new_organization_starts_free_active_and_unused() {
        let org = org();
        assert_eq!(org.account_type, AccountType::Free);
        assert_eq!(org.plan, Plan::Pilot);
        assert!(org.is_active);
        assert!(!org.auto_billing_enabled);
        assert_eq!(org.billing_cycle_start.get(), 1);
        assert_eq!(org.current_month_usage(date!(2026 - 03 - 10)), 0);
        assert_eq!(
            org.credit_count(&TierTable::default(), date!(2026 - 03 - 10)),
            1_000
        );
        assert_eq!(org.version, 1);
        assert_eq!(org.etag(), "\"1\"");
    }

    #[test]
    fn billing_cycles_start_on_their_day_of_the_month() {
        let day = BillingCycleDay::parse(15).unwrap();
        assert_eq!(
            billing_cycle_start_date(date!(2026 - 03 - 15), day),
            date!(2026 - 03 - 15)
        );
        assert_eq!(
            billing_cycle_start_date(date!(2026 - 03 - 14), day),
            date!(2026 - 02 - 15)
        );
        assert_eq!(
            billing_cycle_start_date(date!(2026 - 01 - 02), day),
            date!(2025 - 12 - 15)
        );
    }

    #[test]
    fn usage_of_a_past_cycle_counts_as_none() {
        let mut org = org();
        org.usage = Usage {
            cycle_start: date!(2026 - 03 - 01),
            credits_used: 400,
        };
        let tiers = TierTable::default();
        assert_eq!(org.credit_count(&tiers, date!(2026 - 03 - 31)), 600);
        assert_eq!(org.current_month_usage(date!(2026 - 04 - 01)), 0);
        assert_eq!(org.credit_count(&tiers, date!(2026 - 04 - 01)), 1_000);
        org.usage.credits_used = 1_500;
        assert_eq!(org.credit_count(&tiers, date!(2026 - 03 - 31)), 0);
    }

    #[test]
    fn the_allocation_comes_from_the_tier_unless_set() {
        let mut org = org();
        let tiers = TierTable::default();
        org.account_type = AccountType::Enterprise;
        assert_eq!(org.monthly_allocation(&tiers), 0);
        org.credit_allocation = Some(5_000_000);
        assert_eq!(org.monthly_allocation(&tiers), 5_000_000);
        org.account_type = AccountType::Pro;
        org.credit_allocation = None;
        assert_eq!(org.monthly_allocation(&tiers), 100_000);
    }

    #[test]
    fn usage_stays_within_the_allocation_unless_auto_billing_allows_overage() {
        let tiers = TierTable::default();
        let today = date!(2026 - 03 - 10);
        let mut org = org();
        org.usage = Usage {
            cycle_start: date!(2026 - 03 - 01),
            credits_used: 900,
        };
        assert!(org.check_usage(100, &tiers, today).is_ok());
        assert_eq!(
            org.check_usage(101, &tiers, today),
            Err(RuleViolation::CreditsExhausted {
                requested: 101,
                left: 100
            })
        );
        org.auto_billing_enabled = true;
        org.max_overages = Some(50);
        assert!(org.check_usage(150, &tiers, today).is_ok());
        assert!(org.check_usage(151, &tiers, today).is_err());
        org.max_overages = None;
        assert!(org.check_usage(1_000_000, &tiers, today).is_ok());
        org.usage.credits_used = 1_200;
        assert_eq!(org.overage(&tiers, today), 200);
        // A new cycle starts from zero.
        org.auto_billing_enabled = false;
        assert!(
            org.check_usage(1_000, &tiers, date!(2026 - 04 - 01))
                .is_ok()
        );
    }

    #[test]
    fn effective_rate_limits_merge_overrides_over_the_tier() {
        let mut org = org();
        org.account_type = AccountType::Team;
        org.rate_limit_overrides
            .set(RateLimitCategory::Upload, Some(5));
        let limits = org.rate_limits(&TierTable::default());
        assert_eq!(limits.upload, 5);
        assert_eq!(limits.metadata, 300);
    }

    #[test]
    fn a_change_names_its_fields_and_applies_only_them() {
        let mut org = org();
        let changes = OrganizationChanges {
            name: Some(OrganizationName::parse("Beta").unwrap()),
            domain: Some(None),
            plan: Some(Plan::Suite),
            ..Default::default()
        };
        assert_eq!(
            changes.fields(),
            [
                OrganizationField::Name,
                OrganizationField::Domain,
                OrganizationField::Plan
            ]
        );
        org.domain = Some(DomainName::parse("acme.com").unwrap());
        let before = org.clone();
        changes.apply_to(&mut org);
        assert_eq!(org.name.as_str(), "Beta");
        assert_eq!(org.domain, None);
        assert_eq!(org.plan, Plan::Suite);
        assert_eq!(org.account_type, before.account_type);
        assert!(OrganizationChanges::default().is_empty());
    }
}
