//! Account tiers, plans and rate limits. The tier defaults are data: one table, which a
//! deployment may override, not code paths.

use std::fmt;

use crate::error::InvalidValue;

/// The account tier, which fixes the monthly credit allocation and the default rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AccountType {
    /// Where every new organization starts.
    #[default]
    Free,
    /// A paying team.
    Pro,
    /// A larger paying team.
    Team,
    /// A contract of its own.
    Enterprise,
}

impl AccountType {
    /// Every tier, smallest first.
    pub const ALL: [AccountType; 4] = [Self::Free, Self::Pro, Self::Team, Self::Enterprise];

    /// The tier's name: `free`, `pro`, `team` or `enterprise`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Pro => "pro",
            Self::Team => "team",
            Self::Enterprise => "enterprise",
        }
    }

    /// Reads a tier's name.
    ///
    /// ```
    /// use tenantry_domain::AccountType;
    ///
    /// assert_eq!(AccountType::parse("pro"), Ok(AccountType::Pro));
    /// assert!(AccountType::parse("gold").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .ok_or_else(|| InvalidValue::new("must be one of free, pro, team, enterprise"))
    }
}

impl fmt::Display for AccountType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The commercial plan an organization is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Plan {
    /// A trial; where every new organization starts.
    #[default]
    Pilot,
    /// The entry plan.
    Starter,
    /// The full product.
    Suite,
    /// A contract of its own.
    Enterprise,
}

impl Plan {
    /// Every plan.
    pub const ALL: [Plan; 4] = [Self::Pilot, Self::Starter, Self::Suite, Self::Enterprise];

    /// The plan's name: `pilot`, `starter`, `suite` or `enterprise`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pilot => "pilot",
            Self::Starter => "starter",
            Self::Suite => "suite",
            Self::Enterprise => "enterprise",
        }
    }

    /// Reads a plan's name.
    ///
    /// ```
    /// use tenantry_domain::Plan;
    ///
    /// assert_eq!(Plan::parse("suite"), Ok(Plan::Suite));
    /// assert!(Plan::parse("premium").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
            .ok_or_else(|| InvalidValue::new("must be one of pilot, starter, suite, enterprise"))
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation types that are rate limited separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitCategory {
    /// Reading and changing organizations.
    Metadata,
    /// Members, keys and workspaces.
    Data,
    /// Usage recorded for searches.
    Search,
    /// Usage recorded for uploads.
    Upload,
    /// Usage recorded for computation.
    Compute,
}

impl RateLimitCategory {
    /// Every category.
    pub const ALL: [RateLimitCategory; 5] = [
        Self::Metadata,
        Self::Data,
        Self::Search,
        Self::Upload,
        Self::Compute,
    ];

    /// The category's name: `metadata`, `data`, `search`, `upload` or `compute`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Metadata => "metadata",
            Self::Data => "data",
            Self::Search => "search",
            Self::Upload => "upload",
            Self::Compute => "compute",
        }
    }
}

/// Requests per minute for each category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimits {
    /// Organization reads and writes a minute.
    pub metadata: u32,
    /// Member, key and workspace requests a minute.
    pub data: u32,
    /// Search usage calls a minute.
    pub search: u32,
    /// Upload usage calls a minute.
    pub upload: u32,
    /// Compute usage calls a minute.
    pub compute: u32,
}

impl RateLimits {
    /// The same limit for every category.
    pub const fn uniform(per_minute: u32) -> Self {
        Self {
            metadata: per_minute,
            data: per_minute,
            search: per_minute,
            upload: per_minute,
            compute: per_minute,
        }
    }

    /// The limit of one category.
    ///
    /// ```
    /// use tenantry_domain::{RateLimitCategory, RateLimitOverrides, RateLimits};
    ///
    /// let tier = RateLimits::uniform(60);
    /// let overrides = RateLimitOverrides { search: Some(600), ..Default::default() };
    /// let limits = tier.merged(&overrides);
    /// assert_eq!(limits.get(RateLimitCategory::Search), 600);
    /// assert_eq!(limits.get(RateLimitCategory::Metadata), 60, "the tier's, not overridden");
    /// ```
    pub const fn get(&self, category: RateLimitCategory) -> u32 {
        match category {
            RateLimitCategory::Metadata => self.metadata,
            RateLimitCategory::Data => self.data,
            RateLimitCategory::Search => self.search,
            RateLimitCategory::Upload => self.upload,
            RateLimitCategory::Compute => self.compute,
        }
    }

    /// These limits with each category the overrides name replaced.
    pub fn merged(self, overrides: &RateLimitOverrides) -> Self {
        Self {
            metadata: overrides.metadata.unwrap_or(self.metadata),
            data: overrides.data.unwrap_or(self.data),
            search: overrides.search.unwrap_or(self.search),
            upload: overrides.upload.unwrap_or(self.upload),
            compute: overrides.compute.unwrap_or(self.compute),
        }
    }
}

/// An organization's own rate limits, per category; a category left `None` keeps the tier's
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RateLimitOverrides {
    /// Organization reads and writes a minute, if not the tier's.
    pub metadata: Option<u32>,
    /// Member, key and workspace requests a minute, if not the tier's.
    pub data: Option<u32>,
    /// Search usage calls a minute, if not the tier's.
    pub search: Option<u32>,
    /// Upload usage calls a minute, if not the tier's.
    pub upload: Option<u32>,
    /// Compute usage calls a minute, if not the tier's.
    pub compute: Option<u32>,
}

impl RateLimitOverrides {
    /// The override of one category, if any.
    pub fn get(&self, category: RateLimitCategory) -> Option<u32> {
        match category {
            RateLimitCategory::Metadata => self.metadata,
            RateLimitCategory::Data => self.data,
            RateLimitCategory::Search => self.search,
            RateLimitCategory::Upload => self.upload,
            RateLimitCategory::Compute => self.compute,
        }
    }

    /// Sets (or with `None` removes) the override of one category.
    pub fn set(&mut self, category: RateLimitCategory, value: Option<u32>) {
        let slot = match category {
            RateLimitCategory::Metadata => &mut self.metadata,
            RateLimitCategory::Data => &mut self.data,
            RateLimitCategory::Search => &mut self.search,
            RateLimitCategory::Upload => &mut self.upload,
            RateLimitCategory::Compute => &mut self.compute,
        };
        *slot = value;
    }

    /// Whether no category is overridden.
    pub fn is_empty(&self) -> bool {
        RateLimitCategory::ALL
            .iter()
            .all(|c| self.get(*c).is_none())
    }
}

/// What an account tier gives by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierDefaults {
    /// Credits per billing cycle; `None` where the allocation is set per organization.
    pub monthly_credits: Option<u64>,
    /// Requests a minute per category.
    pub rate_limits: RateLimits,
}

/// The defaults of every account tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierTable {
    /// The free tier's.
    pub free: TierDefaults,
    /// The pro tier's.
    pub pro: TierDefaults,
    /// The team tier's.
    pub team: TierDefaults,
    /// The enterprise tier's.
    pub enterprise: TierDefaults,
}

impl Default for TierTable {
    fn default() -> Self {
        Self {
            free: TierDefaults {
                monthly_credits: Some(1_000),
                rate_limits: RateLimits::uniform(10),
            },
            pro: TierDefaults {
                monthly_credits: Some(100_000),
                rate_limits: RateLimits::uniform(60),
            },
            team: TierDefaults {
                monthly_credits: Some(1_000_000),
                rate_limits: RateLimits::uniform(300),
            },
            enterprise: TierDefaults {
                monthly_credits: None,
                rate_limits: RateLimits::uniform(1_000),
            },
        }
    }
}

impl TierTable {
    /// The defaults of `tier`.
    ///
    /// ```
    /// use tenantry_domain::{AccountType, TierTable};
    ///
    /// let tiers = TierTable::default();
    /// assert_eq!(tiers.get(AccountType::Free).monthly_credits, Some(1_000));
    /// ```
    pub fn get(&self, tier: AccountType) -> &TierDefaults {
        match tier {
            AccountType::Free => &self.free,
            AccountType::Pro => &self.pro,
            AccountType::Team => &self.team,
            AccountType::Enterprise => &self.enterprise,
        }
    }

    /// The defaults of `tier`, to change (a deployment's own tier table).
    pub fn get_mut(&mut self, tier: AccountType) -> &mut TierDefaults {
        match tier {
            AccountType::Free => &mut self.free,
            AccountType::Pro => &mut self.pro,
            AccountType::Team => &mut self.team,
            AccountType::Enterprise => &mut self.enterprise,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table_follows_the_documented_tiers() {
        let table = TierTable::default();
        assert_eq!(table.get(AccountType::Free).monthly_credits, Some(1_000));
        assert_eq!(table.get(AccountType::Pro).monthly_credits, Some(100_000));
        assert_eq!(
            table.get(AccountType::Team).monthly_credits,
            Some(1_000_000)
        );
        assert_eq!(table.get(AccountType::Enterprise).monthly_credits, None);
        assert_eq!(
            table.get(AccountType::Free).rate_limits,
            RateLimits::uniform(10)
        );
        assert_eq!(
            table.get(AccountType::Enterprise).rate_limits.compute,
            1_000
        );
    }

    #[test]
    fn an_override_replaces_only_its_own_category() {
        let overrides = RateLimitOverrides {
            search: Some(99),
            ..Default::default()
        };
        let merged = RateLimits::uniform(60).merged(&overrides);
        assert_eq!(merged.search, 99);
        for category in [
            RateLimitCategory::Metadata,
            RateLimitCategory::Data,
            RateLimitCategory::Upload,
            RateLimitCategory::Compute,
        ] {
            assert_eq!(merged.get(category), 60);
        }
    }

    #[test]
    fn tiers_and_plans_parse_only_their_documented_names() {
        assert_eq!(AccountType::parse("team").unwrap(), AccountType::Team);
        assert!(AccountType::parse("Team").is_err());
        assert_eq!(Plan::parse("suite").unwrap(), Plan::Suite);
        assert!(Plan::parse("gold").is_err());
    }
}
