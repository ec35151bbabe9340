//! The usage ledger: every credit an organization used, and every refund, one immutable
//! entry each, so that a bill can be checked line by line.

use time::{Date, Month, OffsetDateTime};

use crate::error::InvalidValue;
use crate::ids::{ApiKeyId, OrganizationId, UsageEntryId, UserId};
use crate::tiers::RateLimitCategory;
use crate::values::BillingCycleDay;

/// What a usage call consumed credits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageCategory {
    /// Searches.
    Search,
    /// Uploads.
    Upload,
    /// Computation (analyses, evaluations).
    Compute,
}

impl UsageCategory {
    /// Every category.
    pub const ALL: [UsageCategory; 3] = [Self::Search, Self::Upload, Self::Compute];

    /// The category's name: `search`, `upload` or `compute`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Search => "search",
            Self::Upload => "upload",
            Self::Compute => "compute",
        }
    }

    /// Reads a category's name.
    ///
    /// ```
    /// use tenantry_domain::UsageCategory;
    ///
    /// assert_eq!(UsageCategory::parse("search"), Ok(UsageCategory::Search));
    /// assert!(UsageCategory::parse("metadata").is_err(), "a rate-limit category only");
    /// ```
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == value)
            .ok_or_else(|| InvalidValue::new("must be search, upload or compute"))
    }

    /// The rate-limit category a usage call of this kind counts in.
    pub const fn rate_limit_category(self) -> RateLimitCategory {
        match self {
            Self::Search => RateLimitCategory::Search,
            Self::Upload => RateLimitCategory::Upload,
            Self::Compute => RateLimitCategory::Compute,
        }
    }
}

/// Who made a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The platform admin, through the configured token (`None`) or a stored admin key.
    PlatformAdmin(Option<ApiKeyId>),
    /// A user, through any of their keys.
    User(UserId),
    /// An organization key that acts as no user.
    Key(ApiKeyId),
}

impl Actor {
    /// `admin`, `user` or `key`.
    pub const fn kind(self) -> &'static str {
        match self {
            Self::PlatformAdmin(_) => "admin",
            Self::User(_) => "user",
            Self::Key(_) => "key",
        }
    }

    /// The id of the user or key, if any.
    pub fn id(self) -> Option<uuid::Uuid> {
        match self {
            Self::PlatformAdmin(key) => key.map(|k| k.as_uuid()),
            Self::User(user) => Some(user.as_uuid()),
            Self::Key(key) => Some(key.as_uuid()),
        }
    }

    /// The actor a stored kind and id stand for.
    pub fn parse(kind: &str, id: Option<uuid::Uuid>) -> Result<Self, InvalidValue> {
        match (kind, id) {
            ("admin", id) => Ok(Self::PlatformAdmin(id.map(ApiKeyId::from_uuid))),
            ("user", Some(id)) => Ok(Self::User(UserId::from_uuid(id))),
            ("key", Some(id)) => Ok(Self::Key(ApiKeyId::from_uuid(id))),
            _ => Err(InvalidValue::new("is not an actor")),
        }
    }
}

/// One entry of the usage ledger: credits used (positive) or refunded (negative, with the
/// entry it refunds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEntry {
    /// Its public id (UUID v7).
    pub id: UsageEntryId,
    /// The organization whose credits it counts.
    pub organization_id: OrganizationId,
    /// Credits used (above zero), or refunded (below zero).
    pub credits: i64,
    /// What the credits were used for.
    pub category: UsageCategory,
    /// The first day of the billing cycle the entry counts in.
    pub cycle_start: Date,
    /// Who made the call.
    pub actor: Actor,
    /// The call's `Idempotency-Key`, if it had one.
    pub idempotency_key: Option<String>,
    /// The usage entry a refund gives credits back for.
    pub refund_of: Option<UsageEntryId>,
    /// For a usage entry: how many of its credits were refunded since.
    pub refunded: u64,
    /// When it was recorded.
    pub created_at: OffsetDateTime,
}

impl UsageEntry {
    /// Whether this entry refunds another.
    pub fn is_refund(&self) -> bool {
        self.refund_of.is_some()
    }

    /// For a usage entry, the credits that may still be refunded.
    pub fn refundable(&self) -> u64 {
        if self.is_refund() {
            0
        } else {
            self.credits.unsigned_abs().saturating_sub(self.refunded)
        }
    }
}

/// The last day of the billing cycle that starts on `cycle_start`, for an organization
/// billed on `day`: the day before the next cycle starts.
pub fn billing_cycle_end_date(cycle_start: Date, day: BillingCycleDay) -> Date {
    let (year, month) = match cycle_start.month() {
        Month::December => (cycle_start.year() + 1, Month::January),
        month => (cycle_start.year(), month.next()),
    };
    let next = Date::from_calendar_date(year, month, day.get()).expect("day 1..=28 exists");
    next.previous_day().expect("not the first day of time")
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn categories_and_actors_round_trip() {
        for category in UsageCategory::ALL {
            assert_eq!(UsageCategory::parse(category.as_str()).unwrap(), category);
        }
        assert!(UsageCategory::parse("metadata").is_err());
        for actor in [
            Actor::PlatformAdmin(None),
            Actor::PlatformAdmin(Some(ApiKeyId::generate())),
            Actor::User(UserId::generate()),
            Actor::Key(ApiKeyId::generate()),
        ] {
            assert_eq!(Actor::parse(actor.kind(), actor.id()).unwrap(), actor);
        }
        assert!(Actor::parse("user", None).is_err());
    }

    #[test]
    fn a_cycle_ends_the_day_before_the_next_starts() {
        let day = BillingCycleDay::parse(15).unwrap();
        assert_eq!(
            billing_cycle_end_date(date!(2026 - 12 - 15), day),
            date!(2027 - 01 - 14)
        );
        let first = BillingCycleDay::parse(1).unwrap();
        assert_eq!(
            billing_cycle_end_date(date!(2026 - 02 - 01), first),
            date!(2026 - 02 - 28)
        );
    }
}
