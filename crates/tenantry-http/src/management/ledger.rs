//! The usage ledger: refunds, the summary of a billing cycle, and the entries.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use tenantry_domain::{
    Access, Organization, RateLimitCategory, TierTable, UsageEntry, billing_cycle_end_date,
    billing_cycle_start_date, limits,
};
use tenantry_storage::{EntryFilter, PageRequest, StoreError};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::usage::UsageCategory;
use crate::auth::Caller;
use crate::common::{
    CreateProblems, GuardedListProblems, ReadProblems, format_date, non_null, now, parse_date,
};
use crate::error::{ApiError, FieldError};
use crate::extract::{FieldCase, JsonBody, NoQuery, Paging, RequestBody};
use crate::limits::Limits;
use crate::ops::organization_not_found;
use crate::path::{EntryIdPath, OrganizationIdPath};
use crate::state::AppState;

const TAG: &str = "usage";

/// What to refund of a usage entry.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// How many of the entry's credits to give back; all that is left of it when absent.
    #[serde(default, deserialize_with = "non_null")]
    #[validate(range(min = 1, max = CREDITS_MAX))]
    #[schema(
        nullable = false,
        minimum = 1,
        maximum = 1000000000000_i64,
        example = 5
    )]
    pub credits: Option<i64>,
}

const CREDITS_MAX: i64 = limits::CREDITS_MAX;

impl RequestBody for RefundRequest {
    const CASE: FieldCase = FieldCase::Camel;
}

/// Who made a ledger entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActorView {
    /// `user`, `key` (an organization key acting as no user) or `admin` (the platform admin).
    #[schema(example = "user")]
    pub kind: String,
    /// The user's or key's id; for the platform admin, its key's id, or `null` for the
    /// configured token.
    pub id: Option<Uuid>,
}

/// One entry of the usage ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageEntryView {
    pub id: Uuid,
    /// Credits used (above zero), or given back by a refund (below zero).
    #[schema(example = 25)]
    pub credits: i64,
    pub category: UsageCategory,
    /// The first day of the billing cycle the entry counts in.
    #[schema(value_type = String, format = Date, example = "2026-11-01")]
    pub cycle_start: String,
    pub actor: ActorView,
    /// The `Idempotency-Key` the usage call came with, if any.
    pub idempotency_key: Option<String>,
    /// For a refund: the usage entry it gives credits back for.
    pub refund_of: Option<Uuid>,
    /// For a usage entry: how many of its credits were refunded since.
    #[schema(minimum = 0)]
    pub refunded: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&UsageEntry> for UsageEntryView {
    fn from(entry: &UsageEntry) -> Self {
        Self {
            id: entry.id.as_uuid(),
            credits: entry.credits,
            category: entry.category.into(),
            cycle_start: format_date(entry.cycle_start),
            actor: ActorView {
                kind: entry.actor.kind().to_owned(),
                id: entry.actor.id(),
            },
            idempotency_key: entry.idempotency_key.clone(),
            refund_of: entry.refund_of.map(|id| id.as_uuid()),
            refunded: entry.refunded,
            created_at: entry.created_at,
        }
    }
}

/// A refund, and the organization's credits after it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    /// The refund's own ledger entry.
    pub entry: UsageEntryView,
    /// Credits left in the current billing cycle.
    #[schema(minimum = 0)]
    pub credit_count: u64,
    /// Credits used in the current billing cycle.
    #[schema(minimum = 0)]
    pub current_month_usage: u64,
}

/// Credits used in a cycle, by category.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct UsageByCategory {
    pub search: i64,
    pub upload: i64,
    pub compute: i64,
}

/// A billing cycle's credits.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSummaryView {
    pub organization_id: Uuid,
    /// The cycle's first day.
    #[schema(value_type = String, format = Date, example = "2026-11-01")]
    pub cycle_start: String,
    /// The cycle's last day.
    #[schema(value_type = String, format = Date, example = "2026-11-30")]
    pub cycle_end: String,
    /// Credits per cycle (today's allocation, for an earlier cycle too).
    #[schema(minimum = 0)]
    pub allocation: u64,
    /// Credits used in the cycle, refunds subtracted.
    #[schema(minimum = 0)]
    pub used: u64,
    /// Credits left of the allocation.
    #[schema(minimum = 0)]
    pub remaining: u64,
    /// Credits used beyond the allocation.
    #[schema(minimum = 0)]
    pub overage: u64,
    /// The most credits that may be used beyond the allocation with auto billing on;
    /// `null` is no cap.
    pub max_overages: Option<u64>,
    pub by_category: UsageByCategory,
}

/// Refund usage
///
/// Gives back credits of a usage entry of the current billing cycle: `credits` of them, or
/// all that is left of the entry. The refund is a ledger entry of its own that refers to
/// the original; an entry is never refunded beyond its credits, even by concurrent refunds
/// (409 beyond). An entry of an earlier cycle is not refunded (409): its bill is closed.
/// Owners, admins and the platform admin may refund.
#[utoipa::path(
    post,
    path = "/organization/{organization_id}/usage/{entry_id}/refund",
    tag = TAG,
    operation_id = "create_usage_refund",
    request_body = RefundRequest,
    params(
        OrganizationIdPath,
        EntryIdPath,
    ),
    responses(
        (status = 201, description = "The refund was recorded.", body = RefundView,
         headers(("ETag" = String, description = "The organization's new version."))),
        CreateProblems,
    ),
    security(("bearer" = [])),
)]
#[post("/organization/{organization_id}/usage/{entry_id}/refund")]
pub(super) async fn create_usage_refund(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(org): OrganizationIdPath,
    EntryIdPath(entry): EntryIdPath,
    _query: NoQuery,
    body: JsonBody<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let access = limits.access(&caller, org, RateLimitCategory::Data).await?;
    if !access.can_manage() {
        return Err(ApiError::Forbidden {
            detail: "only the organization's owners and admins may refund usage".into(),
            fields: Vec::new(),
        });
    }
    let credits = body.0.credits.map(i64::unsigned_abs);
    let now = now();
    let (organization, refund) = state
        .store
        .refund_usage(org, entry, credits, caller.actor(), now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("the usage entry"),
            other => other.into(),
        })?;
    let today = now.date();
    Ok(HttpResponse::Created()
        .insert_header((header::ETAG, organization.etag()))
        .json(RefundView {
            entry: UsageEntryView::from(&refund),
            credit_count: organization.credit_count(&state.tiers, today),
            current_month_usage: organization.current_month_usage(today),
        }))
}

/// Which cycle to summarize.
#[derive(Debug, Clone, Copy, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CycleQuery {
    /// The first day of the cycle (`YYYY-MM-DD`); the current cycle when absent. It must
    /// fall on the organization's billing-cycle day (or be the first day of an earlier cycle
    /// that has usage, if that day has since changed) and not after the current cycle:
    /// another day is refused with 422 naming `cycle`.
    #[param(value_type = Option<String>, format = Date, example = "2026-11-01")]
    pub cycle: Option<Date>,
}

impl actix_web::FromRequest for CycleQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let result = query_pairs(req).and_then(|pairs| {
            let mut query = Self::default();
            let mut errors = Vec::new();
            for (name, value) in pairs {
                match name.as_str() {
                    "cycle" => match parse_date(&value) {
                        Ok(date) => query.cycle = Some(date),
                        Err(_) => errors.push(FieldError::new(
                            "cycle",
                            "must be a date such as 2026-11-01",
                        )),
                    },
                    other => errors.push(FieldError::new(other, "unknown query parameter")),
                }
            }
            if errors.is_empty() {
                Ok(query)
            } else {
                Err(ApiError::Validation(errors))
            }
        });
        std::future::ready(result)
    }
}

pub(super) fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::BadRequest("the query string is malformed".into()))
}

/// Read usage
///
/// A billing cycle's credits: the allocation, what was used (refunds subtracted) and by
/// category, what remains, the overage and its cap. Without `cycle`, the current cycle;
/// with it, an earlier one, from the ledger (with today's allocation and cap). Any member
/// may read it.
#[utoipa::path(
    get,
    path = "/organization/{organization_id}/usage",
    tag = TAG,
    operation_id = "get_usage",
    params(
        OrganizationIdPath,
        CycleQuery,
    ),
    responses(
        (status = 200, description = "The cycle's credits.", body = UsageSummaryView),
        ReadProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/{organization_id}/usage")]
pub(super) async fn get_usage(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(id): OrganizationIdPath,
    query: CycleQuery,
) -> Result<HttpResponse, ApiError> {
    let (_, org) = limits
        .access_and_read(&caller, id, RateLimitCategory::Metadata)
        .await?;
    let today = now().date();
    let current = billing_cycle_start_date(today, org.billing_cycle_start);
    let cycle = match query.cycle {
        None => current,
        Some(cycle) if cycle == current => current,
        Some(cycle) => {
            let invalid = |message: &str| ApiError::validation("cycle", message);
            if cycle > current {
                return Err(invalid("must not be after the current cycle"));
            }
            let a_start = cycle.day() == org.billing_cycle_start.get()
                || state.store.has_usage_in_cycle(id, cycle).await?;
            if !a_start {
                return Err(invalid(&format!(
                    "must be the first day of a billing cycle: the organization's cycles start on day {} of the month",
                    org.billing_cycle_start.get()
                )));
            }
            cycle
        }
    };
    let by_category = state
        .store
        .usage_by_category(id, cycle)
        .await
        .map_err(organization_not_found)?;
    Ok(HttpResponse::Ok().json(summary(
        &org,
        &state.tiers,
        cycle,
        current,
        today,
        &by_category,
    )))
}

fn summary(
    org: &Organization,
    tiers: &TierTable,
    cycle: Date,
    current: Date,
    today: Date,
    by_category: &[(tenantry_domain::UsageCategory, i64)],
) -> UsageSummaryView {
    let mut categories = UsageByCategory::default();
    for (category, total) in by_category {
        match category {
            tenantry_domain::UsageCategory::Search => categories.search = *total,
            tenantry_domain::UsageCategory::Upload => categories.upload = *total,
            tenantry_domain::UsageCategory::Compute => categories.compute = *total,
        }
    }
    let allocation = org.monthly_allocation(tiers);
    let used = if cycle == current {
        org.current_month_usage(today)
    } else {
        by_category
            .iter()
            .map(|(_, total)| *total)
            .sum::<i64>()
            .max(0)
            .unsigned_abs()
    };
    UsageSummaryView {
        organization_id: org.id.as_uuid(),
        cycle_start: format_date(cycle),
        cycle_end: format_date(billing_cycle_end_date(cycle, org.billing_cycle_start)),
        allocation,
        used,
        remaining: allocation.saturating_sub(used),
        overage: used.saturating_sub(allocation),
        max_overages: org.max_overages,
        by_category: categories,
    }
}

/// Filters and paging of the ledger's entries.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// How many entries a page holds at most: 1 to 1000, 100 if not given.
    #[param(minimum = 1, maximum = 1000, default = 100, value_type = Option<u32>)]
    pub limit: Option<u64>,
    /// Where the page starts: the `cursor` of the previous page's `Link: rel="next"`.
    #[param(value_type = Option<String>, format = Uuid)]
    pub cursor: Option<Uuid>,
    /// Only the entries of the cycle that starts on this day (`YYYY-MM-DD`).
    #[param(value_type = Option<String>, format = Date, example = "2026-11-01")]
    pub cycle: Option<Date>,
    /// Only the entries of this category.
    #[param(value_type = Option<UsageCategory>)]
    pub category: Option<tenantry_domain::UsageCategory>,
    /// Only the entries made at or after this time (RFC 3339); not after `to` (422).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<OffsetDateTime>,
    /// Only the entries made at or before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<OffsetDateTime>,
}

impl actix_web::FromRequest for EntriesQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(query_pairs(req).and_then(|pairs| EntriesQuery::parse(&pairs)))
    }
}

/// What every newest-first log takes besides its own filters: the page size, where the
/// page starts, and a time window.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LogWindow {
    pub(super) limit: Option<u64>,
    pub(super) cursor: Option<Uuid>,
    pub(super) from: Option<OffsetDateTime>,
    pub(super) to: Option<OffsetDateTime>,
}

impl LogWindow {
    /// Parses a log's query: these four parameters, and the log's own through `own`,
    /// which answers `None` for a name it does not know, else whether its value is good.
    /// Every bad or unknown parameter is named in one 422, and `from` must not be after
    /// `to`.
    pub(super) fn parse(
        pairs: &[(String, String)],
        mut own: impl FnMut(&str, &str) -> Option<Result<(), String>>,
    ) -> Result<Self, ApiError> {
        let mut window = Self::default();
        let mut errors = Vec::new();
        let time = |value: &str| OffsetDateTime::parse(value, &Rfc3339).ok();
        for (name, value) in pairs {
            let error = |message: &str| FieldError::new(name.as_str(), message);
            match name.as_str() {
                "limit" => match value.parse::<u64>() {
                    Ok(limit) if (1..=Paging::MAX_LIMIT).contains(&limit) => {
                        window.limit = Some(limit)
                    }
                    _ => errors.push(error("must be a whole number from 1 to 1000")),
                },
                "cursor" => match value.parse::<Uuid>() {
                    Ok(cursor) => window.cursor = Some(cursor),
                    Err(_) => {
                        errors.push(error("must be the cursor of a Link rel=\"next\" header"))
                    }
                },
                "from" => match time(value) {
                    Some(at) => window.from = Some(at),
                    None => errors.push(error(
                        "must be a date and time such as 2026-11-01T00:00:00Z",
                    )),
                },
                "to" => match time(value) {
                    Some(at) => window.to = Some(at),
                    None => errors.push(error(
                        "must be a date and time such as 2026-11-30T23:59:59Z",
                    )),
                },
                other => match own(other, value) {
                    None => errors.push(FieldError::new(other, "unknown query parameter")),
                    Some(Err(message)) => errors.push(error(&message)),
                    Some(Ok(())) => {}
                },
            }
        }
        if let (Some(from), Some(to)) = (window.from, window.to)
            && from > to
        {
            errors.push(FieldError::new("from", "must not be after `to`"));
        }
        if errors.is_empty() {
            Ok(window)
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    /// The `Link` to the page after `cursor`, with the log's own `filters` and this window.
    pub(super) fn next_link(
        &self,
        path: &str,
        limit: u64,
        cursor: Uuid,
        filters: Vec<(&'static str, String)>,
    ) -> String {
        let mut pairs = vec![("limit", limit.to_string()), ("cursor", cursor.to_string())];
        pairs.extend(filters);
        for (name, at) in [("from", self.from), ("to", self.to)] {
            if let Some(at) = at.and_then(|t| t.format(&Rfc3339).ok()) {
                pairs.push((name, at));
            }
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("<{path}?{query}>; rel=\"next\"")
    }
}

impl EntriesQuery {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut query = Self::default();
        let window = LogWindow::parse(pairs, |name, value| match name {
            "cycle" => Some(
                parse_date(value)
                    .map(|date| query.cycle = Some(date))
                    .map_err(|_| "must be a date such as 2026-11-01".to_owned()),
            ),
            "category" => Some(
                tenantry_domain::UsageCategory::parse(value)
                    .map(|category| query.category = Some(category))
                    .map_err(|e| e.to_string()),
            ),
            _ => None,
        })?;
        query.limit = window.limit;
        query.cursor = window.cursor;
        query.from = window.from;
        query.to = window.to;
        Ok(query)
    }

    fn window(&self) -> LogWindow {
        LogWindow {
            limit: self.limit,
            cursor: self.cursor,
            from: self.from,
            to: self.to,
        }
    }

    /// The query string of the next page after `cursor`.
    fn next_link(&self, path: &str, limit: u64, cursor: Uuid) -> String {
        let mut filters = Vec::new();
        if let Some(cycle) = self.cycle {
            filters.push(("cycle", format_date(cycle)));
        }
        if let Some(category) = self.category {
            filters.push(("category", category.as_str().to_owned()));
        }
        self.window().next_link(path, limit, cursor, filters)
    }
}

/// List usage entries
///
/// The usage ledger, newest first, a page at a time (next page in `Link: <…>; rel="next"`):
/// every accepted usage call and every refund, with who made it. Filters: `cycle`,
/// `category`, `from`, `to`. Owners, admins and the platform admin may read it.
#[utoipa::path(
    get,
    path = "/organization/{organization_id}/usage/entries",
    tag = TAG,
    operation_id = "list_usage_entries",
    params(
        OrganizationIdPath,
        EntriesQuery,
    ),
    responses(
        (status = 200, description = "A page of entries, newest first.", body = Vec<UsageEntryView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        GuardedListProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/{organization_id}/usage/entries")]
pub(super) async fn list_usage_entries(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    OrganizationIdPath(id): OrganizationIdPath,
    query: EntriesQuery,
) -> Result<HttpResponse, ApiError> {
    let access = limits.access(&caller, id, RateLimitCategory::Data).await?;
    if !matches!(access, Access::PlatformAdmin) && !access.can_manage() {
        return Err(ApiError::Forbidden {
            detail: "only the organization's owners and admins may read its usage entries".into(),
            fields: Vec::new(),
        });
    }
    let limit = query.limit.unwrap_or(Paging::DEFAULT_LIMIT);
    let filter = EntryFilter {
        cycle: query.cycle,
        category: query.category,
        from: query.from,
        to: query.to,
    };
    let page = state
        .store
        .usage_entries(
            id,
            &filter,
            PageRequest {
                after: query.cursor,
                limit,
            },
        )
        .await
        .map_err(organization_not_found)?;
    let views: Vec<UsageEntryView> = page.items.iter().map(UsageEntryView::from).collect();
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = page.next {
        let path = format!("/organization/{id}/usage/entries");
        response.insert_header((header::LINK, query.next_link(&path, limit, cursor)));
    }
    Ok(response.json(views))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn entry_filters_are_parsed_and_each_bad_one_is_named() {
        let query = EntriesQuery::parse(&pairs(&[
            ("cycle", "2026-11-01"),
            ("category", "search"),
            ("from", "2026-11-01T00:00:00Z"),
            ("to", "2026-11-30T00:00:00Z"),
        ]))
        .unwrap();
        assert_eq!(query.category, Some(tenantry_domain::UsageCategory::Search));
        let link = query.next_link("/x", 10, Uuid::nil());
        assert!(
            link.contains("category=search") && link.contains("cycle=2026-11-01"),
            "{link}"
        );
        let error = EntriesQuery::parse(&pairs(&[
            ("cycle", "November"),
            ("category", "metadata"),
            ("from", "2026-12-01T00:00:00Z"),
            ("to", "2026-11-01T00:00:00Z"),
            ("limit", "0"),
            ("sort", "asc"),
        ]))
        .unwrap_err();
        let named: Vec<String> = error
            .problem()
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect();
        for field in ["cycle", "category", "from", "limit", "sort"] {
            assert!(named.iter().any(|n| n == field), "{field} in {named:?}");
        }
    }
}
