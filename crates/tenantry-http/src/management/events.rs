//! The audit log: every change, newest first, for one organization or for all of them.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use serde_json::Value;
use tenantry_domain::{Access, Event, EventType, OrganizationId, RateLimitCategory};
use tenantry_storage::{ActorFilter, EventFilter, PageRequest};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ledger::{ActorView, LogWindow, query_pairs};
use crate::auth::Caller;
use crate::common::{AdminListProblems, GuardedListProblems};
use crate::error::ApiError;
use crate::extract::Paging;
use crate::limits::Limits;
use crate::path::OrganizationIdPath;
use crate::state::AppState;

const TAG: &str = "events";

/// The kinds of change an event records.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum EventTypeValue {
    #[serde(rename = "organization.created")]
    OrganizationCreated,
    #[serde(rename = "organization.updated")]
    OrganizationUpdated,
    #[serde(rename = "organization.deleted")]
    OrganizationDeleted,
    #[serde(rename = "member.added")]
    MemberAdded,
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked,
    #[serde(rename = "workspace.created")]
    WorkspaceCreated,
    #[serde(rename = "workspace.deleted")]
    WorkspaceDeleted,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "usage.threshold_reached")]
    UsageThresholdReached,
}

impl From<EventType> for EventTypeValue {
    fn from(value: EventType) -> Self {
        match value {
            EventType::OrganizationCreated => Self::OrganizationCreated,
            EventType::OrganizationUpdated => Self::OrganizationUpdated,
            EventType::OrganizationDeleted => Self::OrganizationDeleted,
            EventType::MemberAdded => Self::MemberAdded,
            EventType::MemberRoleChanged => Self::MemberRoleChanged,
            EventType::MemberRemoved => Self::MemberRemoved,
            EventType::ApiKeyCreated => Self::ApiKeyCreated,
            EventType::ApiKeyRevoked => Self::ApiKeyRevoked,
            EventType::WorkspaceCreated => Self::WorkspaceCreated,
            EventType::WorkspaceDeleted => Self::WorkspaceDeleted,
            EventType::UserCreated => Self::UserCreated,
            EventType::UsageThresholdReached => Self::UsageThresholdReached,
        }
    }
}

/// One changed field of an update.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeView {
    /// The field's name in the management API's spelling.
    #[schema(example = "plan")]
    pub field: String,
    /// Its value before.
    #[schema(value_type = Value, example = "pilot")]
    pub from: Value,
    /// Its value after.
    #[schema(value_type = Value, example = "suite")]
    pub to: Value,
}

/// A change to Tenantry's state: an entry of the audit log, and the body of a webhook.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// The event's id (UUID v7).
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventTypeValue,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The organization it happened in; `null` for a user's own (`user.created`, a user
    /// key).
    pub organization_id: Option<Uuid>,
    /// Who made the change.
    pub actor: ActorView,
    /// What the change made or removed, in the management API's spelling; each type's
    /// payload is described under the document's `webhooks`. Never a secret: no key
    /// secret or hash, no logo bytes (their type and size), LLM credentials by provider
    /// name only.
    #[schema(value_type = Object)]
    pub data: Value,
    /// For `organization.updated` and `member.role_changed`: each changed field, from and
    /// to. Empty for the other types.
    pub changes: Vec<ChangeView>,
}

impl From<&Event> for EventView {
    fn from(event: &Event) -> Self {
        Self {
            id: event.id.as_uuid(),
            event_type: event.event_type.into(),
            occurred_at: event.occurred_at,
            organization_id: event.organization_id.map(|o| o.as_uuid()),
            actor: ActorView {
                kind: event.actor.kind().to_owned(),
                id: event.actor.id(),
            },
            data: event.data.clone(),
            changes: event
                .changes
                .iter()
                .map(|c| ChangeView {
                    field: c.field.clone(),
                    from: c.from.clone(),
                    to: c.to.clone(),
                })
                .collect(),
        }
    }
}

/// Filters and paging of the audit log.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// How many events a page holds at most: 1 to 1000, 100 if not given.
    #[param(minimum = 1, maximum = 1000, default = 100, value_type = Option<u32>)]
    pub limit: Option<u64>,
    /// Where the page starts: the `cursor` of the previous page's `Link: rel="next"`.
    #[param(value_type = Option<String>, format = Uuid)]
    pub cursor: Option<Uuid>,
    /// Only events of this type; repeat it for several (`type=member.added&type=member.removed`).
    #[param(rename = "type", value_type = Option<Vec<EventTypeValue>>, explode = true)]
    pub types: Vec<EventType>,
    /// Only the changes of this user or key (its id), or of the platform admin (`admin`).
    #[param(value_type = Option<String>, example = "admin", pattern = "^(admin|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub actor: Option<String>,
    /// Only events at or after this time (RFC 3339); not after `to` (422).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<OffsetDateTime>,
    /// Only events at or before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<OffsetDateTime>,
    #[param(ignore)]
    actor_filter: Option<ActorFilter>,
}

/// `/events` also takes the organization, which may be gone.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AllEventsQuery {
    /// Only the events of this organization, even one that was deleted.
    #[param(value_type = Option<String>, format = Uuid)]
    pub organization_id: Option<Uuid>,
}

impl EventsQuery {
    fn from_request(
        req: &HttpRequest,
        allow_organization: bool,
    ) -> Result<(Self, Option<Uuid>), ApiError> {
        let pairs = query_pairs(req)?;
        let mut query = Self::default();
        let mut organization = None;
        let window = LogWindow::parse(&pairs, |name, value| match name {
            "type" => Some(
                EventType::parse(value)
                    .map(|t| {
                        if !query.types.contains(&t) {
                            query.types.push(t);
                        }
                    })
                    .map_err(|e| e.to_string()),
            ),
            "actor" if value == "admin" => {
                query.actor = Some(value.to_owned());
                query.actor_filter = Some(ActorFilter::PlatformAdmin);
                Some(Ok(()))
            }
            "actor" => Some(
                value
                    .parse::<Uuid>()
                    .map(|id| {
                        query.actor = Some(value.to_owned());
                        query.actor_filter = Some(ActorFilter::Id(id));
                    })
                    .map_err(|_| "must be a user's or key's id, or admin".to_owned()),
            ),
            "organizationId" if allow_organization => Some(
                value
                    .parse::<Uuid>()
                    .map(|id| organization = Some(id))
                    .map_err(|_| "must be an organization's id".to_owned()),
            ),
            _ => None,
        })?;
        query.limit = window.limit;
        query.cursor = window.cursor;
        query.from = window.from;
        query.to = window.to;
        Ok((query, organization))
    }

    /// The link to the page after `cursor`, with the same filters.
    fn next_link(
        &self,
        path: &str,
        organization: Option<Uuid>,
        limit: u64,
        cursor: Uuid,
    ) -> String {
        let mut filters: Vec<(&'static str, String)> = self
            .types
            .iter()
            .map(|t| ("type", t.as_str().to_owned()))
            .collect();
        if let Some(actor) = &self.actor {
            filters.push(("actor", actor.clone()));
        }
        if let Some(org) = organization {
            filters.push(("organizationId", org.to_string()));
        }
        let window = LogWindow {
            limit: self.limit,
            cursor: self.cursor,
            from: self.from,
            to: self.to,
        };
        window.next_link(path, limit, cursor, filters)
    }
}

/// A page of the events of `organization` (all when `None`); `path` and `in_query` (the
/// `organizationId` the query named) make the link to the next.
async fn page(
    state: &AppState,
    query: &EventsQuery,
    organization: Option<Uuid>,
    path: &str,
    in_query: Option<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(Paging::DEFAULT_LIMIT);
    let filter = EventFilter {
        organization: organization.map(OrganizationId::from_uuid),
        types: query.types.clone(),
        actor: query.actor_filter,
        from: query.from,
        to: query.to,
    };
    let page = state
        .store
        .events(
            &filter,
            PageRequest {
                after: query.cursor,
                limit,
            },
        )
        .await?;
    let views: Vec<EventView> = page.items.iter().map(EventView::from).collect();
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = page.next {
        response.insert_header((header::LINK, query.next_link(path, in_query, limit, cursor)));
    }
    Ok(response.json(views))
}

/// List an organization's events
///
/// The organization's audit log, newest first, a page at a time (next page in
/// `Link: <…>; rel="next"`): every change to it, its members, keys, workspaces and usage
/// thresholds, with who made it and, for updates, each field from and to. Filters: `type`
/// (repeatable), `actor`, `from`, `to`. Owners, admins and the platform admin may read it;
/// events are kept for `TENANTRY_EVENT_RETENTION_DAYS` (365 by default).
#[utoipa::path(
    get,
    path = "/organization/{organization_id}/events",
    tag = TAG,
    operation_id = "list_organization_events",
    params(
        OrganizationIdPath,
        EventsQuery,
    ),
    responses(
        (status = 200, description = "A page of events, newest first.", body = Vec<EventView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        GuardedListProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/organization/{organization_id}/events")]
pub(super) async fn list_organization_events(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    req: HttpRequest,
    OrganizationIdPath(id): OrganizationIdPath,
) -> Result<HttpResponse, ApiError> {
    let (query, _) = EventsQuery::from_request(&req, false)?;
    let access = limits.access(&caller, id, RateLimitCategory::Data).await?;
    if !matches!(access, Access::PlatformAdmin) && !access.can_manage() {
        return Err(ApiError::Forbidden {
            detail: "only the organization's owners and admins may read its events".into(),
            fields: Vec::new(),
        });
    }
    // A member's access proves the organization exists; the platform admin's does not. A
    // deleted organization's events are read through `GET /events?organizationId=`.
    if matches!(access, Access::PlatformAdmin) && !state.store.organization_exists(id).await? {
        return Err(ApiError::not_found("the organization"));
    }
    page(
        &state,
        &query,
        Some(id.as_uuid()),
        &format!("/organization/{id}/events"),
        None,
    )
    .await
}

/// List all events
///
/// Every organization's events and every user's, newest first, a page at a time (next
/// page in `Link: <…>; rel="next"`). Filters: `type` (repeatable), `actor`, `from`, `to`,
/// and `organizationId` (which finds a deleted organization's events too). The platform
/// admin alone may read it.
#[utoipa::path(
    get,
    path = "/events",
    tag = TAG,
    operation_id = "list_events",
    params(EventsQuery, AllEventsQuery),
    responses(
        (status = 200, description = "A page of events, newest first.", body = Vec<EventView>,
         headers(("Link" = String, description = "The next page: `<url>; rel=\"next\"`."))),
        AdminListProblems,
    ),
    security(("bearer" = [])),
)]
#[get("/events")]
pub(super) async fn list_events(
    state: web::Data<AppState>,
    caller: Caller,
    limits: Limits,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    limits.key(&caller).await?;
    let (query, organization) = EventsQuery::from_request(&req, true)?;
    if !caller.is_platform_admin() {
        return Err(ApiError::Forbidden {
            detail: "only the platform admin may read every organization's events".into(),
            fields: Vec::new(),
        });
    }
    page(&state, &query, organization, "/events", organization).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_spelled_as_the_domain_spells_it() {
        for t in EventType::ALL {
            let json = serde_json::to_value(EventTypeValue::from(t)).unwrap();
            assert_eq!(json, t.as_str());
        }
    }
}
