//! Credits: usage recorded against the current billing cycle, atomically, each accepted call
//! with its entry in the usage ledger, and refunds of those entries.

use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tenantry_domain::{
    AccountType, Actor, CycleCredits, Event, Organization, OrganizationId, RuleViolation,
    TierTable, UsageCategory, UsageEntry, UsageEntryId, UsageThreshold, billing_cycle_start_date,
    limits,
};
use time::{Date, OffsetDateTime};

use crate::entities::organizations::{self, Column as C};
use crate::entities::{idempotency_keys, usage_entries};
use crate::events;
use crate::members::finish;
use crate::organizations::{from_model, organization_pk};
use crate::reusable::ByShape;
use crate::{Page, PageRequest, Replay, Store, StoreError, StoredResponse};

/// How often a usage record is retried when the billing day changes under it.
const ATTEMPTS: usize = 5;

/// A usage call to record.
#[derive(Debug, Clone)]
pub struct NewUsage {
    pub credits: u64,
    pub category: UsageCategory,
    pub actor: Actor,
    /// The caller's idempotency key, scoped to the organization, with the fingerprint of
    /// the request it came with.
    pub idempotency: Option<(String, String)>,
}

/// What recording usage did.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// The credits were used, and the entry written.
    New {
        organization: Organization,
        entry: UsageEntry,
    },
    /// A request with the same idempotency key was recorded before: its answer.
    Replayed(Replay),
}

/// Filters of the ledger's entries.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub cycle: Option<Date>,
    pub category: Option<UsageCategory>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

/// The idempotency scope of usage calls to one organization.
fn usage_scope(id: OrganizationId) -> String {
    format!("usage:{id}")
}

impl Store {
    /// Records usage in the billing cycle that contains `now`, in one transaction: the
    /// credits are consumed by one conditional statement (within the allocation, or beyond
    /// it while auto billing is on and the overage stays within `max_overages`), the ledger
    /// gains the call's entry, and, with an idempotency key, the answer `respond` makes is
    /// kept for retries. A refused call changes nothing: the answer is
    /// [`RuleViolation::CreditsExhausted`] or [`RuleViolation::OrganizationInactive`]. A
    /// retry with the same key replays the kept answer; a concurrent one waits for the
    /// first and replays it. A cycle that has ended is closed here, lazily: the new one
    /// starts from zero.
    ///
    /// The organization answered holds the cycle's usage and the version as the write left
    /// them; its other fields may be `org`'s, as the caller read it.
    pub async fn record_usage(
        &self,
        org: &Organization,
        usage: &NewUsage,
        tiers: &TierTable,
        now: OffsetDateTime,
        respond: impl FnOnce(&Organization, &UsageEntry) -> StoredResponse,
    ) -> Result<Recorded, StoreError> {
        let scope = usage_scope(org.id);
        if let Some((key, _)) = &usage.idempotency
            && let Some(replay) = self.idempotent_response(&scope, key).await?
        {
            return Ok(Recorded::Replayed(replay));
        }
        if usage.idempotency.is_none()
            && let Some((organization, entry)) = self
                .record_in_one_statement(org, usage, tiers, now, false)
                .await?
        {
            return Ok(Recorded::New {
                organization,
                entry,
            });
        }
        let (txn, _turn) = self.begin_write().await?;
        let result = record_in(&txn, org, usage, tiers, now).await;
        let (organization, entry) = match result {
            Ok(done) => done,
            Err(error) => {
                txn.rollback().await?;
                return Err(error);
            }
        };
        if let Some((key, request_hash)) = &usage.idempotency {
            let response = respond(&organization, &entry);
            let inserted = idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
                scope: Set(scope.clone()),
                idempotency_key: Set(key.clone()),
                request_hash: Set(request_hash.clone()),
                response_status: Set(i32::from(response.status)),
                response_body: Set(response.body.clone()),
                response_headers: Set(response.headers_json()),
                created_at: Set(now),
                ..Default::default()
            })
            .exec(&txn)
            .await;
            if let Err(error) = inserted {
                txn.rollback().await?;
                if StoreError::is_unique_violation(&error) {
                    // A concurrent call with the same key was recorded first: this one
                    // recorded nothing, and answers as the first did.
                    return match self.idempotent_response(&scope, key).await? {
                        Some(replay) => Ok(Recorded::Replayed(replay)),
                        None => Err(StoreError::Conflict(
                            "a request with this idempotency key is in progress".into(),
                        )),
                    };
                }
                return Err(error.into());
            }
        }
        txn.commit().await?;
        Ok(Recorded::New {
            organization,
            entry,
        })
    }

    /// As [`Store::record_usage`] for a call without an idempotency key, but only while the
    /// organization is still as `org` (the stored version is `org`'s) and the call is the
    /// common case that one statement decides: it leaves the cycle's usage below 80% of the
    /// allocation. Made for an organization remembered rather than read: the write checks
    /// the version, so a change since (to its fields, its usage or its members) writes
    /// nothing. `None`: nothing was written, because the organization is no longer as
    /// `org`, is gone or inactive, a threshold is near, the cycle has ended, or the call has
    /// an idempotency key; [`Store::record_usage`] decides it.
    ///
    /// The organization answered is `org` with the call applied, column for column.
    pub async fn record_usage_at(
        &self,
        org: &Organization,
        usage: &NewUsage,
        tiers: &TierTable,
        now: OffsetDateTime,
    ) -> Result<Option<(Organization, UsageEntry)>, StoreError> {
        if usage.idempotency.is_some() {
            return Ok(None);
        }
        self.record_in_one_statement(org, usage, tiers, now, true)
            .await
    }

    /// The common case of [`Store::record_usage`] in one statement: a call without an
    /// idempotency key that leaves the cycle's usage below 80% of the allocation
    /// ([`usage_below_thresholds`]), so that no threshold is crossed and the entry is all it
    /// appends; with `at_version`, only while the stored version is `org`'s. The `UPDATE`
    /// consumes the credits and appends the entry (on PostgreSQL with `WITH … INSERT`, on
    /// SQLite through `pending_entry` and its trigger). `None`: the call is not that case
    /// (or the billing day just changed), and the transaction decides it.
    async fn record_in_one_statement(
        &self,
        org: &Organization,
        usage: &NewUsage,
        tiers: &TierTable,
        now: OffsetDateTime,
        at_version: bool,
    ) -> Result<Option<(Organization, UsageEntry)>, StoreError> {
        let credits = credits_of(usage)?;
        let cycle = billing_cycle_start_date(now.date(), org.billing_cycle_start);
        let Some(mut below) = below_thresholds(org, cycle, credits, tiers) else {
            return Ok(None);
        };
        if at_version {
            below.version = Some(version_of(org)?);
        }
        let entry = UsageEntry {
            id: UsageEntryId::generate(),
            organization_id: org.id,
            credits,
            category: usage.category,
            cycle_start: cycle,
            actor: usage.actor,
            idempotency_key: None,
            refund_of: None,
            refunded: 0,
            created_at: now,
        };
        let statement = usage_statement(self.db().get_database_backend(), org, &below, &entry)?;
        let rows = self.write_one(statement).await??;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        // The statement changed these three; the rest of the row is `org`'s, or the
        // statement's conditions did not hold.
        let credits_used: i64 = row.try_get_by_index(1)?;
        let version: i64 = row.try_get_by_index(2)?;
        let mut organization = org.clone();
        organization.usage.credits_used = crate::organizations::non_negative(credits_used);
        organization.version = crate::organizations::non_negative(version);
        organization.updated_at = now;
        Ok(Some((organization, entry)))
    }

    /// Refunds `credits` of the usage entry `entry` (all that is left of it when `None`),
    /// in one transaction: the entry's refunded count grows only while it stays within the
    /// entry's credits (so concurrent refunds cannot go beyond), the organization's usage
    /// of the cycle shrinks by as much, and the ledger gains a refund entry referring to
    /// it. An entry of a cycle that has ended is not refunded (it would rewrite a closed
    /// bill).
    pub async fn refund_usage(
        &self,
        org: OrganizationId,
        entry: UsageEntryId,
        credits: Option<u64>,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Result<(Organization, UsageEntry), StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let result = refund_in(&txn, org, entry, credits, actor, now).await;
        finish(txn, result).await
    }

    /// An organization's ledger entries, newest first, a page at a time.
    pub async fn usage_entries(
        &self,
        org: OrganizationId,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Page<UsageEntry>, StoreError> {
        use usage_entries::Column as E;
        let org_pk = organization_pk(self.db(), org).await?;
        let mut query = usage_entries::Entity::find().filter(E::OrganizationId.eq(org_pk));
        if let Some(cycle) = filter.cycle {
            query = query.filter(E::CycleStart.eq(cycle));
        }
        if let Some(category) = filter.category {
            query = query.filter(E::Category.eq(category.as_str()));
        }
        if let Some(from) = filter.from {
            query = query.filter(E::CreatedAt.gte(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(E::CreatedAt.lte(to));
        }
        if let Some(after) = page.after {
            query = query.filter(E::PublicId.lt(after));
        }
        let models = query
            .order_by_desc(E::PublicId)
            .limit(page.limit + 1)
            .all(self.db())
            .await?;
        // The public ids of the entries this page's refunds refer to, in one query.
        let originals: Vec<i64> = models.iter().filter_map(|m| m.refund_of).collect();
        let public: std::collections::HashMap<i64, uuid::Uuid> = if originals.is_empty() {
            Default::default()
        } else {
            usage_entries::Entity::find()
                .select_only()
                .column(E::Id)
                .column(E::PublicId)
                .filter(E::Id.is_in(originals))
                .into_tuple::<(i64, uuid::Uuid)>()
                .all(self.db())
                .await?
                .into_iter()
                .collect()
        };
        let items = models
            .into_iter()
            .map(|model| {
                let refund_of = match model.refund_of {
                    None => None,
                    Some(pk) => Some(public.get(&pk).copied().ok_or_else(|| {
                        StoreError::Corrupt("a ledger entry's refunded entry".into())
                    })?),
                };
                entry_with(org, model, refund_of)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |e| e.id.as_uuid()))
    }

    /// Credits used in the cycle starting `cycle`, by category, from the ledger (refunds
    /// subtracted).
    pub async fn usage_by_category(
        &self,
        org: OrganizationId,
        cycle: Date,
    ) -> Result<Vec<(UsageCategory, i64)>, StoreError> {
        use usage_entries::Column as E;
        let org_pk = organization_pk(self.db(), org).await?;
        let rows: Vec<(String, i64)> = usage_entries::Entity::find()
            .select_only()
            .column(E::Category)
            .column_as(Expr::col(E::Credits).sum().cast_as("BIGINT"), "total")
            .filter(E::OrganizationId.eq(org_pk))
            .filter(E::CycleStart.eq(cycle))
            .group_by(E::Category)
            .into_tuple()
            .all(self.db())
            .await?;
        rows.into_iter()
            .map(|(category, total)| {
                UsageCategory::parse(&category)
                    .map(|c| (c, total))
                    .map_err(|e| StoreError::Corrupt(format!("a ledger category {e}")))
            })
            .collect()
    }

    /// Whether the organization's ledger has entries in the cycle starting `cycle`.
    pub async fn has_usage_in_cycle(
        &self,
        org: OrganizationId,
        cycle: Date,
    ) -> Result<bool, StoreError> {
        use usage_entries::Column as E;
        let org_pk = organization_pk(self.db(), org).await?;
        let found = usage_entries::Entity::find()
            .select_only()
            .column(E::Id)
            .filter(E::OrganizationId.eq(org_pk))
            .filter(E::CycleStart.eq(cycle))
            .limit(1)
            .into_tuple::<i64>()
            .all(self.db())
            .await?;
        Ok(!found.is_empty())
    }
}

/// What [`Store::record_in_one_statement`] reads back of the row it changed: its key (which
/// the ledger entry's insert reads on PostgreSQL), the cycle's usage and the version.
fn returning_counted() -> sea_orm::sea_query::ReturningClause {
    sea_orm::sea_query::Query::returning().columns([C::Id, C::CreditsUsed, C::Version])
}

/// When the common usage call is a small `UPDATE` (see [`usage_below_thresholds`]): the
/// organization's own allocation as it was read, and the usage the row must stay under
/// before the call.
#[derive(Debug, Clone, Copy)]
struct BelowThresholds {
    own_allocation: Option<i64>,
    under: i64,
    /// The version the row must still be at, if the write is of a remembered organization.
    version: Option<i64>,
}

/// `org`'s version, as stored.
fn version_of(org: &Organization) -> Result<i64, StoreError> {
    i64::try_from(org.version)
        .map_err(|_| StoreError::Corrupt(format!("{} has version {}", org.id, org.version)))
}

/// Whether a call of `credits` to `org` in `cycle` can be the small `UPDATE` of
/// [`usage_below_thresholds`], and its bounds if so. `None`: the call cannot be that case,
/// whatever is stored now.
fn below_thresholds(
    org: &Organization,
    cycle: Date,
    credits: i64,
    tiers: &TierTable,
) -> Option<BelowThresholds> {
    if !org.is_active || org.usage.cycle_start != cycle {
        return None;
    }
    let allocation = Ord::min(
        i64::try_from(org.monthly_allocation(tiers)).unwrap_or(i64::MAX),
        limits::CREDITS_MAX,
    );
    // `after * 5 < allocation * 4`, without multiplying: `after < ceil(allocation * 4/5)`.
    let eighty_percent = allocation - allocation / 5;
    if credits >= eighty_percent {
        return None;
    }
    let own_allocation = match org.credit_allocation {
        Some(own) => Some(i64::try_from(own).ok()?),
        None => None,
    };
    Some(BelowThresholds {
        own_allocation,
        // `used + credits < eighty_percent`, which cannot overflow.
        under: eighty_percent - credits,
        version: None,
    })
}

/// The common usage call as a small `UPDATE`: it applies only while the organization is
/// still as `org` was read in what matters here (active, in the same cycle and billing day,
/// on the same allocation), and while the cycle's usage after the call stays below 80% of
/// that allocation, so that it crosses no threshold (and appends no event). Below 80% it
/// is within the allocation, so the overage rules have nothing to say.
fn usage_below_thresholds(
    org: &Organization,
    below: &BelowThresholds,
    entry: &UsageEntry,
) -> sea_orm::UpdateMany<organizations::Entity> {
    let same_allocation = match below.own_allocation {
        Some(own) => C::CreditAllocation.eq(own),
        None => C::CreditAllocation.is_null(),
    };
    let update = organizations::Entity::update_many()
        .col_expr(C::CreditsUsed, Expr::col(C::CreditsUsed).add(entry.credits))
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(entry.created_at))
        .filter(C::PublicId.eq(org.id.as_uuid()))
        .filter(C::IsActive.eq(true))
        .filter(C::BillingCycleStart.eq(i32::from(org.billing_cycle_start.get())))
        .filter(C::UsageCycleStart.eq(entry.cycle_start))
        .filter(C::AccountType.eq(org.account_type.as_str()))
        .filter(same_allocation)
        .filter(Expr::col(C::CreditsUsed).lt(below.under));
    match below.version {
        Some(version) => update.filter(C::Version.eq(version)),
        None => update,
    }
}

/// The SQL of [`usage_statement`]s, by shape ([`usage_shape`]).
static USAGE_UPDATES: ByShape = ByShape::new();

/// The shape of a [`usage_statement`]: whether it names an own allocation, and a version.
fn usage_shape(below: &BelowThresholds) -> u128 {
    u128::from(below.own_allocation.is_some()) | u128::from(below.version.is_some()) << 1
}

/// [`Store::record_in_one_statement`]'s statement: [`usage_below_thresholds`] with its
/// ledger entry. Built once for each shape ([`usage_shape`]); its values are made without
/// building it (see [`ByShape`]).
fn usage_statement(
    backend: sea_orm::DbBackend,
    org: &Organization,
    below: &BelowThresholds,
    entry: &UsageEntry,
) -> Result<sea_orm::Statement, StoreError> {
    let postgres = backend == sea_orm::DbBackend::Postgres;
    let build = || {
        let update = usage_below_thresholds(org, below, entry);
        Ok(if postgres {
            use sea_orm::QueryTrait as _;
            crate::organizations::with_appended(
                backend,
                update.into_query(),
                insert_entry_for_each_row_of(entry),
                returning_counted(),
            )
        } else {
            let update = update.col_expr(
                crate::pending::entry_column(),
                crate::pending::entry(entry)?,
            );
            crate::organizations::returning_statement(backend, update, returning_counted())
        })
    };
    let values = || {
        // In the order sea-query binds them: the `SET`s, the `WHERE`, then the entry's.
        let mut values: Vec<sea_orm::Value> =
            vec![entry.credits.into(), 1i32.into(), entry.created_at.into()];
        if !postgres {
            values.push(crate::pending::entry_value(entry)?);
        }
        values.extend([
            org.id.as_uuid().into(),
            true.into(),
            i32::from(org.billing_cycle_start.get()).into(),
            entry.cycle_start.into(),
            org.account_type.as_str().into(),
        ]);
        values.extend(below.own_allocation.map(sea_orm::Value::from));
        values.push(below.under.into());
        values.extend(below.version.map(sea_orm::Value::from));
        if postgres {
            values.extend(insert_entry_values(entry));
        }
        Ok(values)
    };
    USAGE_UPDATES.statement(backend, usage_shape(below), build, values)
}

/// A call's credits, as stored: from 1 to [`limits::CREDITS_MAX`].
fn credits_of(usage: &NewUsage) -> Result<i64, StoreError> {
    i64::try_from(usage.credits)
        .ok()
        .filter(|c| (1..=limits::CREDITS_MAX).contains(c))
        .ok_or_else(|| StoreError::Conflict("credits must be from 1 to 10^12".into()))
}

/// Consumes the credits and writes the entry, inside `txn`.
async fn record_in(
    txn: &DatabaseTransaction,
    org: &Organization,
    usage: &NewUsage,
    tiers: &TierTable,
    now: OffsetDateTime,
) -> Result<(Organization, UsageEntry), StoreError> {
    let id = org.id;
    let credits = credits_of(usage)?;
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
        // Written so that no step can overflow 64 bits, whatever is stored: `used` is kept
        // within CREDITS_USED_MAX and `credits` within CREDITS_MAX, and the overage is
        // compared as `after - allocation` rather than the cap added to the allocation.
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
        let update = organizations::Entity::update_many()
            .col_expr(C::CreditsUsed, after)
            .col_expr(C::UsageCycleStart, Expr::value(cycle))
            .col_expr(C::Version, Expr::col(C::Version).add(1))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::PublicId.eq(id.as_uuid()))
            .filter(C::IsActive.eq(true))
            .filter(C::BillingCycleStart.eq(i32::from(day.get())))
            .filter(allowed);
        let updated = crate::organizations::update_returning(txn, update).await?;
        if let Some(model) = updated.into_iter().next() {
            let org_pk = model.id;
            let organization = from_model(model)?;
            let entry = UsageEntry {
                id: UsageEntryId::generate(),
                organization_id: id,
                credits,
                category: usage.category,
                cycle_start: cycle,
                actor: usage.actor,
                idempotency_key: usage.idempotency.as_ref().map(|(key, _)| key.clone()),
                refund_of: None,
                refunded: 0,
                created_at: now,
            };
            insert_entry(txn, org_pk, &entry, None).await?;
            announce_thresholds(txn, &organization, &entry, tiers, now).await?;
            return Ok((organization, entry));
        }
        let current = crate::organizations::read_in(txn, id).await?;
        if !current.is_active {
            return Err(RuleViolation::OrganizationInactive.into());
        }
        if current.billing_cycle_start != day {
            day = current.billing_cycle_start;
            continue;
        }
        current.check_usage(usage.credits, tiers, now.date())?;
    }
    Err(StoreError::Conflict(
        "the organization's billing cycle kept changing; retry".into(),
    ))
}

/// Appends a `usage.threshold_reached` event for each threshold this entry's credits
/// crossed, once per threshold and cycle: a threshold crossed again (after a refund, or a
/// raised allocation) is not announced twice.
async fn announce_thresholds(
    txn: &DatabaseTransaction,
    org: &Organization,
    entry: &UsageEntry,
    tiers: &TierTable,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let credits = CycleCredits {
        cycle_start: entry.cycle_start,
        allocation: org.monthly_allocation(tiers),
        used: org.usage.credits_used,
        max_overages: org.max_overages,
        auto_billing_enabled: org.auto_billing_enabled,
    };
    let before = credits.used.saturating_sub(entry.credits.unsigned_abs());
    for threshold in UsageThreshold::crossed(before, &credits) {
        let event = Event::usage_threshold_reached(org.id, threshold, credits, entry.actor, now);
        let once = format!(
            "usage.threshold_reached:{}:{}:{}",
            org.id,
            entry.cycle_start,
            threshold.as_str()
        );
        events::append_holding_row(txn, &event, Some(once)).await?;
    }
    Ok(())
}

async fn refund_in(
    txn: &DatabaseTransaction,
    org: OrganizationId,
    entry_id: UsageEntryId,
    credits: Option<u64>,
    actor: Actor,
    now: OffsetDateTime,
) -> Result<(Organization, UsageEntry), StoreError> {
    use usage_entries::Column as E;
    let org_pk = organization_pk(txn, org).await?;
    let original = usage_entries::Entity::find()
        .filter(E::OrganizationId.eq(org_pk))
        .filter(E::PublicId.eq(entry_id.as_uuid()))
        .all(txn)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)?;
    let entry_pk = original.id;
    let original = entry_from_model(txn, org, original).await?;
    if original.is_refund() {
        return Err(StoreError::Conflict("a refund cannot be refunded".into()));
    }
    let current = crate::organizations::read_in(txn, org).await?;
    let cycle = billing_cycle_start_date(now.date(), current.billing_cycle_start);
    if original.cycle_start != cycle {
        return Err(StoreError::Conflict(format!(
            "the entry counted in the billing cycle of {}, which has ended: refunding it would change a closed bill",
            original.cycle_start
        )));
    }
    let left = original.refundable();
    let amount = credits.unwrap_or(left);
    if amount == 0 || amount > left {
        return Err(StoreError::Conflict(format!(
            "the entry has {left} credits left to refund"
        )));
    }
    let amount_i64 =
        i64::try_from(amount).map_err(|_| StoreError::Conflict("too many credits".into()))?;
    // Only while it stays within the entry: concurrent refunds cannot go beyond it.
    let grown = usage_entries::Entity::update_many()
        .col_expr(E::Refunded, Expr::col(E::Refunded).add(amount_i64))
        .filter(E::Id.eq(entry_pk))
        .filter(
            Expr::col(E::Refunded)
                .add(amount_i64)
                .lte(Expr::col(E::Credits)),
        )
        .exec(txn)
        .await?;
    if grown.rows_affected != 1 {
        return Err(StoreError::Conflict(format!(
            "the entry has fewer than {amount} credits left to refund"
        )));
    }
    let update = organizations::Entity::update_many()
        .col_expr(C::CreditsUsed, Expr::col(C::CreditsUsed).sub(amount_i64))
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(org_pk))
        .filter(C::UsageCycleStart.eq(cycle))
        .filter(Expr::col(C::CreditsUsed).gte(amount_i64));
    let updated = crate::organizations::update_returning(txn, update).await?;
    let Some(model) = updated.into_iter().next() else {
        return Err(StoreError::Corrupt(
            "the organization's usage is below its ledger's".into(),
        ));
    };
    let organization = from_model(model)?;
    let refund = UsageEntry {
        id: UsageEntryId::generate(),
        organization_id: org,
        credits: -amount_i64,
        category: original.category,
        cycle_start: cycle,
        actor,
        idempotency_key: None,
        refund_of: Some(original.id),
        refunded: 0,
        created_at: now,
    };
    insert_entry(txn, org_pk, &refund, Some(entry_pk)).await?;
    Ok((organization, refund))
}

async fn insert_entry(
    db: &impl ConnectionTrait,
    org_pk: i64,
    entry: &UsageEntry,
    refund_of: Option<i64>,
) -> Result<(), StoreError> {
    usage_entries::Entity::insert(usage_entries::ActiveModel {
        public_id: Set(entry.id.as_uuid()),
        organization_id: Set(org_pk),
        credits: Set(entry.credits),
        category: Set(entry.category.as_str().to_owned()),
        cycle_start: Set(entry.cycle_start),
        actor_kind: Set(entry.actor.kind().to_owned()),
        actor_id: Set(entry.actor.id()),
        idempotency_key: Set(entry.idempotency_key.clone()),
        refund_of: Set(refund_of),
        refunded: Set(0),
        created_at: Set(entry.created_at),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// An `INSERT` of `entry` for the organization row of the common table `updated` (and of
/// nothing when it has none), on PostgreSQL.
fn insert_entry_for_each_row_of(entry: &UsageEntry) -> sea_orm::sea_query::InsertStatement {
    use sea_orm::sea_query::{Alias, Query};
    use usage_entries::Column as E;
    let mut values = Query::select();
    values
        .expr(Expr::val(entry.id.as_uuid()))
        .expr(Expr::col((Alias::new("updated"), C::Id)))
        .expr(Expr::val(entry.credits))
        .expr(Expr::val(entry.category.as_str()))
        .expr(Expr::val(entry.cycle_start))
        .expr(Expr::val(entry.actor.kind()))
        .expr(Expr::val(entry.actor.id()))
        .expr(Expr::val(entry.idempotency_key.clone()))
        .expr(Expr::val(0i64))
        .expr(Expr::val(entry.created_at))
        .from(Alias::new("updated"));
    let mut insert = Query::insert();
    insert
        .into_table(usage_entries::Entity)
        .columns([
            E::PublicId,
            E::OrganizationId,
            E::Credits,
            E::Category,
            E::CycleStart,
            E::ActorKind,
            E::ActorId,
            E::IdempotencyKey,
            E::Refunded,
            E::CreatedAt,
        ])
        .select_from(values)
        .expect("the columns and values match");
    insert
}

/// The values [`insert_entry_for_each_row_of`] binds, in its order, made without building
/// it.
fn insert_entry_values(entry: &UsageEntry) -> [sea_orm::Value; 9] {
    [
        entry.id.as_uuid().into(),
        entry.credits.into(),
        entry.category.as_str().into(),
        entry.cycle_start.into(),
        entry.actor.kind().into(),
        entry.actor.id().into(),
        entry.idempotency_key.clone().into(),
        0i64.into(),
        entry.created_at.into(),
    ]
}

async fn entry_from_model(
    db: &impl ConnectionTrait,
    org: OrganizationId,
    m: usage_entries::Model,
) -> Result<UsageEntry, StoreError> {
    let refund_of = match m.refund_of {
        None => None,
        Some(pk) => {
            let public: Vec<uuid::Uuid> = usage_entries::Entity::find()
                .select_only()
                .column(usage_entries::Column::PublicId)
                .filter(usage_entries::Column::Id.eq(pk))
                .into_tuple()
                .all(db)
                .await?;
            Some(
                *public
                    .first()
                    .ok_or_else(|| StoreError::Corrupt("a ledger entry's refunded entry".into()))?,
            )
        }
    };
    entry_with(org, m, refund_of)
}

/// An entry from its row, given the public id of the entry it refunds (if any).
fn entry_with(
    org: OrganizationId,
    m: usage_entries::Model,
    refund_of: Option<uuid::Uuid>,
) -> Result<UsageEntry, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("a ledger entry's {what}"));
    let refund_of = refund_of.map(UsageEntryId::from_uuid);
    Ok(UsageEntry {
        id: UsageEntryId::from_uuid(m.public_id),
        organization_id: org,
        credits: m.credits,
        category: UsageCategory::parse(&m.category).map_err(|_| corrupt("category"))?,
        cycle_start: m.cycle_start,
        actor: Actor::parse(&m.actor_kind, m.actor_id).map_err(|_| corrupt("actor"))?,
        idempotency_key: m.idempotency_key,
        refund_of,
        refunded: u64::try_from(m.refunded).map_err(|_| corrupt("refunded credits"))?,
        created_at: m.created_at,
    })
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

#[cfg(test)]
mod tests {
    use tenantry_domain::{NewOrganization, OrganizationName, UserId};

    use super::*;

    /// The common usage call's statement is built with sea-query once for each shape (an
    /// organization on its tier's allocation, or its own; read, or remembered at a
    /// version): after that, its SQL is kept and its values made by hand are the ones
    /// sea-query binds, on both databases.
    #[test]
    fn a_usage_statement_is_built_once_a_shape_and_its_values_made_as_sea_query_binds_them() {
        let now = OffsetDateTime::now_utc();
        let tiers = TierTable::default();
        let on_its_tier = Organization::new(
            NewOrganization {
                name: OrganizationName::parse("Acme").unwrap(),
                domain: None,
            },
            now,
        );
        let mut its_own = on_its_tier.clone();
        its_own.credit_allocation = Some(5_000);
        for org in [on_its_tier, its_own] {
            let cycle = billing_cycle_start_date(now.date(), org.billing_cycle_start);
            let read = below_thresholds(&org, cycle, 3, &tiers).unwrap();
            let remembered = BelowThresholds {
                version: Some(7),
                ..read
            };
            let entry = UsageEntry {
                id: UsageEntryId::generate(),
                organization_id: org.id,
                credits: 3,
                category: UsageCategory::Search,
                cycle_start: cycle,
                actor: Actor::User(UserId::generate()),
                idempotency_key: None,
                refund_of: None,
                refunded: 0,
                created_at: now,
            };
            for (below, backend) in [read, remembered].into_iter().flat_map(|b| {
                [
                    (b, sea_orm::DbBackend::Sqlite),
                    (b, sea_orm::DbBackend::Postgres),
                ]
            }) {
                let first = usage_statement(backend, &org, &below, &entry).unwrap();
                let shape = usage_shape(&below);
                assert!(
                    USAGE_UPDATES.keeps(backend, shape),
                    "{backend:?}: {below:?}"
                );
                let again = usage_statement(backend, &org, &below, &entry).unwrap();
                assert_eq!(again, first, "{backend:?}: {below:?}");
            }
        }
    }
}
