//! Credits: usage recorded against the current billing cycle, atomically.

use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tenantry_domain::{
    AccountType, Organization, OrganizationId, RuleViolation, TierTable, billing_cycle_start_date,
    limits,
};
use time::OffsetDateTime;

use crate::entities::organizations::{self, Column as C};
use crate::organizations::from_model;
use crate::{Store, StoreError};

/// How often a usage record is retried when the billing day changes under it.
const ATTEMPTS: usize = 5;

impl Store {
    /// Records `credits` of usage in the billing cycle that contains `now`, in one
    /// conditional statement: it applies only while the usage stays within the allocation, or
    /// beyond it while auto billing is on and the overage stays within `max_overages`.
    /// Otherwise nothing changes and the answer is [`tenantry_domain::RuleViolation::CreditsExhausted`]
    /// (or `OrganizationInactive`: an inactive organization records no usage).
    /// A cycle that has ended is closed here, lazily: the new one starts from zero.
    pub async fn record_usage(
        &self,
        id: OrganizationId,
        credits: u64,
        tiers: &TierTable,
        now: OffsetDateTime,
    ) -> Result<Organization, StoreError> {
        let org = self.organization(id).await?;
        self.record_usage_from(&org, credits, tiers, now).await
    }

    /// As [`Store::record_usage`], for an organization the caller has just read: the update
    /// is tried first with the billing day read then, so no read precedes it (should the day
    /// have changed since, the update applies to nothing, and the organization is read
    /// again).
    pub async fn record_usage_from(
        &self,
        org: &Organization,
        credits: u64,
        tiers: &TierTable,
        now: OffsetDateTime,
    ) -> Result<Organization, StoreError> {
        let id = org.id;
        let credits = i64::try_from(credits)
            .ok()
            .filter(|c| *c <= limits::CREDITS_MAX)
            .ok_or_else(|| StoreError::Conflict("too many credits in one call".into()))?;
        let mut day = org.billing_cycle_start;
        for _ in 0..ATTEMPTS {
            let cycle = billing_cycle_start_date(now.date(), day);
            let in_cycle = Expr::col(C::UsageCycleStart).eq(cycle);
            let used: SimpleExpr = Expr::case(in_cycle, Expr::col(C::CreditsUsed))
                .finally(0i64)
                .into();
            let after = used.clone().add(credits);
            let allocation: SimpleExpr =
                Func::coalesce([Expr::col(C::CreditAllocation), tier_allocation(tiers)]).into();
            // Written so that no step can overflow 64 bits, whatever is stored: `used` is
            // kept within CREDITS_USED_MAX and `credits` within CREDITS_MAX, and the
            // overage is compared as `after - allocation` rather than the cap added to the
            // allocation.
            let allowed = used.clone().lte(limits::CREDITS_USED_MAX - credits).and(
                after
                    .clone()
                    .lte(allocation.clone())
                    .or(Expr::col(C::AutoBillingEnabled).eq(true).and(
                        Expr::col(C::MaxOverages)
                            .is_null()
                            .or(after.clone().sub(allocation).lte(Expr::col(C::MaxOverages))),
                    )),
            );
            let updated = organizations::Entity::update_many()
                .col_expr(C::CreditsUsed, after)
                .col_expr(C::UsageCycleStart, Expr::value(cycle))
                .col_expr(C::Version, Expr::col(C::Version).add(1))
                .col_expr(C::UpdatedAt, Expr::value(now))
                .filter(C::PublicId.eq(id.as_uuid()))
                .filter(C::IsActive.eq(true))
                .filter(C::BillingCycleStart.eq(i32::from(day.get())))
                .filter(allowed)
                .exec_with_returning(self.db())
                .await?;
            if let Some(model) = updated.into_iter().next() {
                return from_model(model);
            }
            let current = self.organization(id).await?;
            if !current.is_active {
                return Err(RuleViolation::OrganizationInactive.into());
            }
            if current.billing_cycle_start != day {
                day = current.billing_cycle_start;
                continue;
            }
            current.check_usage(credits as u64, tiers, now.date())?;
        }
        Err(StoreError::Conflict(
            "the organization's billing cycle kept changing; retry".into(),
        ))
    }
}

/// The monthly credits of the organization's tier, as SQL over its `account_type`.
fn tier_allocation(tiers: &TierTable) -> SimpleExpr {
    let credits = |tier: AccountType| {
        tiers.get(tier).monthly_credits.map_or(0, |c| {
            Ord::min(i64::try_from(c).unwrap_or(i64::MAX), limits::CREDITS_MAX)
        })
    };
    let mut case = Expr::case(
        Expr::col(C::AccountType).eq(AccountType::Free.as_str()),
        credits(AccountType::Free),
    );
    for tier in [AccountType::Pro, AccountType::Team, AccountType::Enterprise] {
        case = case.case(Expr::col(C::AccountType).eq(tier.as_str()), credits(tier));
    }
    case.finally(0i64).into()
}
