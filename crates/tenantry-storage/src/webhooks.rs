//! Webhook endpoints and the outbox's deliveries.
//!
//! An event is written with its change (`events.dispatched = false`, or `true` when no
//! endpoint is enabled, as there is nothing to deliver it to); the dispatcher then
//! makes one delivery row per event and endpoint that wants it, and marks the event
//! dispatched, in one transaction. Senders claim due deliveries with a lease (on PostgreSQL
//! `FOR UPDATE SKIP LOCKED`, so instances never claim the same row), send them, and record
//! the outcome. A delivery waits while an earlier one for the same endpoint and
//! organization is pending, so each endpoint receives an organization's events in order.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use serde_json::Value;
use tenantry_domain::{
    DeliveryStatus, Event, EventId, EventType, TextLine, WebhookDelivery, WebhookDeliveryId,
    WebhookEndpoint, WebhookEndpointId, WebhookSecret, WebhookUrl, limits,
};
use time::OffsetDateTime;

use crate::entities::{events, webhook_deliveries, webhook_endpoints};
use crate::members::finish;
use crate::{Page, PageRequest, Store, StoreError, exactly_one};

/// What to change of an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookEndpointChanges {
    pub url: Option<WebhookUrl>,
    pub event_types: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
    pub description: Option<Option<TextLine>>,
}

/// A delivery claimed for sending: the event, where to send it and the secrets to sign
/// it with.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    key: i64,
    pub id: WebhookDeliveryId,
    pub endpoint: WebhookEndpointId,
    endpoint_key: i64,
    pub url: WebhookUrl,
    /// The current secret first, then one rotated out less than a day ago.
    pub secrets: Vec<WebhookSecret>,
    pub event: Event,
    /// The W3C trace id of the request that made the change, if it had one.
    pub trace_id: Option<String>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// Anything else; with `retry_at`, tried again then, else failed for good.
    Failed {
        status: Option<u16>,
        error: String,
        retry_at: Option<OffsetDateTime>,
    },
    /// `410 Gone`: the delivery fails and the endpoint is disabled.
    Gone,
}

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";
/// Delivered attempts recorded by one statement at most (a bound on its parameters).
const FINISHED_PER_STATEMENT: usize = 500;

impl Store {
    /// Stores an endpoint with its signing secret.
    pub async fn create_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &WebhookSecret,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await?;
        webhook_endpoints::Entity::insert(webhook_endpoints::ActiveModel {
            public_id: Set(endpoint.id.as_uuid()),
            url: Set(endpoint.url.as_str().to_owned()),
            event_types: Set(types_json(&endpoint.event_types)),
            description: Set(endpoint.description.as_ref().map(|d| d.as_str().to_owned())),
            enabled: Set(endpoint.enabled),
            disabled_reason: Set(None),
            secret: Set(secret.expose().to_owned()),
            previous_secret: Set(None),
            previous_secret_until: Set(None),
            created_at: Set(endpoint.created_at),
            updated_at: Set(endpoint.updated_at),
            ..Default::default()
        })
        .exec(self.db())
        .await?;
        Ok(())
    }

    pub async fn webhook_endpoint(
        &self,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, StoreError> {
        let model = find_endpoint(self.db(), id).await?;
        endpoint_from_model(model)
    }

    /// Endpoints in creation order.
    pub async fn list_webhook_endpoints(
        &self,
        page: PageRequest,
    ) -> Result<Page<WebhookEndpoint>, StoreError> {
        use webhook_endpoints::Column as W;
        let mut query = webhook_endpoints::Entity::find();
        if let Some(after) = page.after {
            query = query.filter(W::PublicId.gt(after));
        }
        let models = query
            .order_by_asc(W::PublicId)
            .limit(page.limit + 1)
            .all(self.db())
            .await?;
        let items = models
            .into_iter()
            .map(endpoint_from_model)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |e| e.id.as_uuid()))
    }

    /// Changes an endpoint; enabling it forgets why it was disabled.
    pub async fn update_webhook_endpoint(
        &self,
        id: WebhookEndpointId,
        changes: &WebhookEndpointChanges,
        now: OffsetDateTime,
    ) -> Result<WebhookEndpoint, StoreError> {
        use webhook_endpoints::Column as W;
        let _turn = self.write_turn().await?;
        let mut update = webhook_endpoints::Entity::update_many()
            .col_expr(W::UpdatedAt, Expr::value(now))
            .filter(W::PublicId.eq(id.as_uuid()));
        if let Some(url) = &changes.url {
            update = update.col_expr(W::Url, Expr::value(url.as_str()));
        }
        if let Some(types) = &changes.event_types {
            update = update.col_expr(W::EventTypes, Expr::value(types_json(types)));
        }
        if let Some(enabled) = changes.enabled {
            update = update.col_expr(W::Enabled, Expr::value(enabled));
            if enabled {
                update = update.col_expr(W::DisabledReason, Expr::value(Option::<String>::None));
            }
        }
        if let Some(description) = &changes.description {
            update = update.col_expr(
                W::Description,
                Expr::value(description.as_ref().map(|d| d.as_str().to_owned())),
            );
        }
        let updated = update.exec_with_returning(self.db()).await?;
        let model = updated.into_iter().next().ok_or(StoreError::NotFound)?;
        endpoint_from_model(model)
    }

    /// Deletes an endpoint with its deliveries.
    pub async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<(), StoreError> {
        let _turn = self.write_turn().await?;
        let deleted = webhook_endpoints::Entity::delete_many()
            .filter(webhook_endpoints::Column::PublicId.eq(id.as_uuid()))
            .exec(self.db())
            .await?;
        exactly_one(deleted.rows_affected)
    }

    /// Makes `secret` the endpoint's signing secret; the one it replaces keeps signing
    /// beside it until `previous_until`.
    pub async fn rotate_webhook_secret(
        &self,
        id: WebhookEndpointId,
        secret: &WebhookSecret,
        previous_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        use webhook_endpoints::Column as W;
        let _turn = self.write_turn().await?;
        let updated = webhook_endpoints::Entity::update_many()
            .col_expr(W::PreviousSecret, Expr::col(W::Secret))
            .col_expr(W::PreviousSecretUntil, Expr::value(previous_until))
            .col_expr(W::Secret, Expr::value(secret.expose()))
            .col_expr(W::UpdatedAt, Expr::value(now))
            .filter(W::PublicId.eq(id.as_uuid()))
            .exec(self.db())
            .await?;
        exactly_one(updated.rows_affected)
    }

    /// An endpoint's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        use webhook_deliveries::Column as D;
        let endpoint_key = find_endpoint(self.db(), endpoint).await?.id;
        let mut query = webhook_deliveries::Entity::find().filter(D::EndpointId.eq(endpoint_key));
        if let Some(after) = page.after {
            query = query.filter(D::PublicId.lt(after));
        }
        let models = query
            .order_by_desc(D::PublicId)
            .limit(page.limit + 1)
            .all(self.db())
            .await?;
        let items = deliveries_with_events(self.db(), models).await?;
        Ok(Page::from_overfetch(items, page.limit, |d| d.id.as_uuid()))
    }

    /// Makes a delivery due now, whatever became of it, with a new round of attempts; 409
    /// while it is being sent.
    pub async fn retry_webhook_delivery(
        &self,
        endpoint: WebhookEndpointId,
        delivery: WebhookDeliveryId,
        now: OffsetDateTime,
    ) -> Result<WebhookDelivery, StoreError> {
        use webhook_deliveries::Column as D;
        let endpoint_key = find_endpoint(self.db(), endpoint).await?.id;
        let _turn = self.write_turn().await?;
        // A new round of attempts: the schedule starts again from the first wait.
        let updated = webhook_deliveries::Entity::update_many()
            .col_expr(D::Status, Expr::value(PENDING))
            .col_expr(D::Attempts, Expr::value(0))
            .col_expr(D::NextAttemptAt, Expr::value(now))
            .filter(D::EndpointId.eq(endpoint_key))
            .filter(D::PublicId.eq(delivery.as_uuid()))
            .filter(D::LeaseUntil.is_null().or(D::LeaseUntil.lt(now)))
            .exec_with_returning(self.db())
            .await?;
        match updated.into_iter().next() {
            Some(model) => Ok(deliveries_with_events(self.db(), vec![model])
                .await?
                .remove(0)),
            None => {
                let exists = webhook_deliveries::Entity::find()
                    .filter(D::EndpointId.eq(endpoint_key))
                    .filter(D::PublicId.eq(delivery.as_uuid()))
                    .all(self.db())
                    .await?;
                if exists.is_empty() {
                    Err(StoreError::NotFound)
                } else {
                    Err(StoreError::Conflict(
                        "the delivery is being sent now; retry it after this attempt".into(),
                    ))
                }
            }
        }
    }

    /// Makes the deliveries of up to `batch` undispatched events, in event order, and marks
    /// those events dispatched; answers how many events it took. An endpoint receives the
    /// events written after it was registered (that occurred after it, too): one written
    /// while no endpoint was enabled was written dispatched, and is in the audit log only.
    pub async fn dispatch_events(&self, batch: u64) -> Result<u64, StoreError> {
        use events::Column as E;
        let waiting: Vec<i64> = earliest_undispatched().into_tuple().all(self.db()).await?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            if txn.get_database_backend() == DbBackend::Postgres {
                /// One dispatcher at a time, so that deliveries are made in event order.
                const DISPATCH_LOCK: i64 = 0x7465_6e61_6e75;
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DISPATCH_LOCK})"))
                    .await?;
            }
            let pending: Vec<(i64, String, Option<uuid::Uuid>, OffsetDateTime)> =
                events::Entity::find()
                    .select_only()
                    .columns([E::Id, E::EventType, E::OrganizationId, E::OccurredAt])
                    .filter(Expr::col(E::Dispatched).eq(literal(false)))
                    .order_by_asc(E::Id)
                    .limit(batch)
                    .into_tuple()
                    .all(&txn)
                    .await?;
            if pending.is_empty() {
                return Ok(0);
            }
            let endpoints = webhook_endpoints::Entity::find()
                .filter(webhook_endpoints::Column::Enabled.eq(true))
                .all(&txn)
                .await?
                .into_iter()
                .map(|m| Ok((m.id, endpoint_from_model(m)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut deliveries = Vec::new();
            for (event_key, event_type, organization, occurred_at) in &pending {
                let Ok(event_type) = EventType::parse(event_type) else {
                    return Err(StoreError::Corrupt("an event's type".into()));
                };
                for (endpoint_key, endpoint) in &endpoints {
                    if endpoint.receives(event_type) && *occurred_at >= endpoint.created_at {
                        deliveries.push(webhook_deliveries::ActiveModel {
                            public_id: Set(WebhookDeliveryId::generate().as_uuid()),
                            endpoint_id: Set(*endpoint_key),
                            event_id: Set(*event_key),
                            order_key: Set(organization.map(|o| o.to_string()).unwrap_or_default()),
                            status: Set(PENDING.to_owned()),
                            attempts: Set(0),
                            next_attempt_at: Set(Some(*occurred_at)),
                            created_at: Set(crate::now()),
                            ..Default::default()
                        });
                    }
                }
            }
            for chunk in deliveries.chunks(500) {
                webhook_deliveries::Entity::insert_many(chunk.to_vec())
                    .exec_without_returning(&txn)
                    .await?;
            }
            let keys: Vec<i64> = pending.iter().map(|(key, ..)| *key).collect();
            events::Entity::update_many()
                .col_expr(E::Dispatched, Expr::value(true))
                .filter(E::Id.is_in(keys))
                .exec(&txn)
                .await?;
            Ok(pending.len() as u64)
        }
        .await;
        finish(txn, result).await
    }

    /// Claims up to `limit` due deliveries until `now + lease`: each is the earliest
    /// pending one of its endpoint and organization, its endpoint is enabled, and no one
    /// else holds it. On PostgreSQL, instances skip the rows another is claiming.
    pub async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        use webhook_deliveries::Column as D;
        let due: Vec<i64> = webhook_deliveries::Entity::find()
            .select_only()
            .column(D::Id)
            .filter(Expr::col(D::Status).eq(literal(PENDING)))
            .filter(D::NextAttemptAt.lte(now))
            .limit(1)
            .into_tuple()
            .all(self.db())
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.db().get_database_backend();
        // `LIMIT` takes a number written into the statement: SQLite would otherwise plan
        // it anew on every run (see the crate's docs). The status is written into it too
        // (see [`literal`]), so that both databases walk the index of pending deliveries
        // (`webhook_deliveries_pending`) rather than every delivery ever made.
        let sql = match backend {
            // The due deliveries come first, in event order, fenced (`OFFSET 0`) from the
            // rest of the statement, and are joined to their rows again to lock them; only
            // then is each one asked whether an earlier delivery of its organization is
            // pending, and the walk stops at the `LIMIT`th that is not. PostgreSQL plans
            // by its statistics, which a backlog outgrows: a table analyzed while few
            // deliveries were pending is estimated to hold a handful, and in the plain
            // form it then asked every pending delivery (at 6,000 pending, 22,000 index
            // pages read and 14 ms a claim) before sorting the few it wanted. In this form
            // a stale estimate costs a sort of the due ones' ids, no more.
            //
            // The state and the lease are asked again of `d`, the row locked. `due` was
            // read as the statement began; a row another instance claimed and committed
            // since is no longer locked, so `SKIP LOCKED` does not skip it, and PostgreSQL
            // rechecks only the locked row's own conditions against its newest version.
            // Asked of `due` alone, such a row would be claimed twice.
            DbBackend::Postgres => format!(
                "UPDATE webhook_deliveries SET lease_until = $2 WHERE id IN (\
                   SELECT d.id FROM (\
                     SELECT c.id, c.endpoint_id, c.order_key, c.event_id \
                     FROM webhook_deliveries c \
                     WHERE c.status = '{PENDING}' AND c.next_attempt_at <= $1 \
                       AND (c.lease_until IS NULL OR c.lease_until < $1) \
                     ORDER BY c.event_id OFFSET 0) due \
                   JOIN webhook_deliveries d ON d.id = due.id \
                   JOIN webhook_endpoints e ON e.id = due.endpoint_id AND e.enabled \
                   WHERE d.status = '{PENDING}' \
                     AND (d.lease_until IS NULL OR d.lease_until < $1) \
                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                     WHERE p.endpoint_id = due.endpoint_id AND p.order_key = due.order_key \
                       AND p.status = '{PENDING}' AND p.event_id < due.event_id) \
                   LIMIT {limit} FOR UPDATE OF d SKIP LOCKED) \
                 RETURNING id"
            ),
            _ => format!(
                "UPDATE webhook_deliveries SET lease_until = ?2 WHERE id IN (\
                   SELECT d.id FROM webhook_deliveries d \
                   JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled \
                   WHERE d.status = '{PENDING}' AND d.next_attempt_at <= ?1 \
                     AND (d.lease_until IS NULL OR d.lease_until < ?1) \
                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                       WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key \
                         AND p.status = '{PENDING}' AND p.event_id < d.event_id) \
                   ORDER BY d.event_id LIMIT {limit}) \
                 RETURNING id"
            ),
        };
        let until = now + lease;
        let statement = Statement::from_sql_and_values(backend, sql, [now.into(), until.into()]);
        let claimed: Vec<i64> = {
            let _turn = self.write_turn().await?;
            self.db()
                .query_all_raw(statement)
                .await?
                .into_iter()
                .map(|row| row.try_get::<i64>("", "id"))
                .collect::<Result<_, _>>()?
        };
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let deliveries = webhook_deliveries::Entity::find()
            .filter(D::Id.is_in(claimed))
            .order_by_asc(D::EventId)
            .all(self.db())
            .await?;
        let endpoint_keys: Vec<i64> = deliveries.iter().map(|d| d.endpoint_id).collect();
        let endpoints: HashMap<i64, webhook_endpoints::Model> = webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::Id.is_in(endpoint_keys))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let event_keys: Vec<i64> = deliveries.iter().map(|d| d.event_id).collect();
        let events: HashMap<i64, events::Model> = events::Entity::find()
            .filter(events::Column::Id.is_in(event_keys))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        deliveries
            .into_iter()
            .map(|d| {
                let endpoint = endpoints
                    .get(&d.endpoint_id)
                    .ok_or_else(|| StoreError::Corrupt("a delivery's endpoint".into()))?;
                let event = events
                    .get(&d.event_id)
                    .cloned()
                    .ok_or_else(|| StoreError::Corrupt("a delivery's event".into()))?;
                let mut secrets = vec![parse_secret(&endpoint.secret)?];
                if let (Some(previous), Some(until)) =
                    (&endpoint.previous_secret, endpoint.previous_secret_until)
                    && until > now
                {
                    secrets.push(parse_secret(previous)?);
                }
                Ok(ClaimedDelivery {
                    key: d.id,
                    id: WebhookDeliveryId::from_uuid(d.public_id),
                    endpoint: WebhookEndpointId::from_uuid(endpoint.public_id),
                    endpoint_key: endpoint.id,
                    url: WebhookUrl::parse(endpoint.url.clone())
                        .map_err(|e| StoreError::Corrupt(format!("webhook_endpoints.url: {e}")))?,
                    secrets,
                    trace_id: event.trace_id.clone(),
                    event: crate::events::event_from_model(event)?,
                    attempts: u32::try_from(d.attempts).unwrap_or(0),
                })
            })
            .collect()
    }

    /// When the longest-waiting due delivery became due (`None`: nothing is due): how far
    /// the webhook worker lags.
    pub async fn oldest_due_delivery(
        &self,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        use webhook_deliveries::Column as D;
        let oldest: Vec<Option<OffsetDateTime>> = webhook_deliveries::Entity::find()
            .select_only()
            .column(D::NextAttemptAt)
            .filter(Expr::col(D::Status).eq(literal(PENDING)))
            .filter(D::NextAttemptAt.lte(now))
            .order_by_asc(D::NextAttemptAt)
            .limit(1)
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(oldest.into_iter().next().flatten())
    }

    /// Records how each of several attempts went, and lets their deliveries go. The
    /// delivered ones (nearly all, as a rule) are recorded together: one statement for
    /// each answer status and attempt count among them, rather than one per delivery, so
    /// that a busy worker does not pay a round trip and a commit for every delivery. Each
    /// other outcome is recorded as [`Store::finish_delivery`] does.
    pub async fn finish_deliveries(
        &self,
        finished: &[(ClaimedDelivery, DeliveryOutcome)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        use webhook_deliveries::Column as D;
        let mut delivered: BTreeMap<(u16, u32), Vec<i64>> = BTreeMap::new();
        let mut others = Vec::new();
        for (delivery, outcome) in finished {
            match outcome {
                DeliveryOutcome::Delivered { status } => delivered
                    .entry((*status, delivery.attempts + 1))
                    .or_default()
                    .push(delivery.key),
                other => others.push((delivery, other)),
            }
        }
        // One failure does not keep the rest from being recorded; the first is answered.
        let mut result = Ok(());
        let none = Option::<OffsetDateTime>::None;
        for ((status, attempts), keys) in delivered {
            for keys in keys.chunks(FINISHED_PER_STATEMENT) {
                let recorded = async {
                    let _turn = self.write_turn().await?;
                    webhook_deliveries::Entity::update_many()
                        .col_expr(
                            D::Attempts,
                            Expr::value(i32::try_from(attempts).unwrap_or(i32::MAX)),
                        )
                        .col_expr(D::LeaseUntil, Expr::value(none))
                        .col_expr(D::LastAttemptAt, Expr::value(now))
                        .col_expr(D::Status, Expr::value(DELIVERED))
                        .col_expr(D::LastStatus, Expr::value(i32::from(status)))
                        .col_expr(D::LastError, Expr::value(Option::<String>::None))
                        .col_expr(D::DeliveredAt, Expr::value(now))
                        .col_expr(D::NextAttemptAt, Expr::value(none))
                        .filter(D::Id.is_in(keys.iter().copied()))
                        .exec(self.db())
                        .await?;
                    Ok(())
                }
                .await;
                result = result.and(recorded);
            }
        }
        for (delivery, outcome) in others {
            result = result.and(self.finish_delivery(delivery, outcome, now).await);
        }
        result
    }

    /// Records how an attempt went, and lets the delivery go: one statement, or two in a
    /// transaction for a `410 Gone` (which disables the endpoint too).
    pub async fn finish_delivery(
        &self,
        delivery: &ClaimedDelivery,
        outcome: &DeliveryOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        use webhook_deliveries::Column as D;
        let attempts = i32::try_from(delivery.attempts + 1).unwrap_or(i32::MAX);
        let update = webhook_deliveries::Entity::update_many()
            .col_expr(D::Attempts, Expr::value(attempts))
            .col_expr(D::LeaseUntil, Expr::value(Option::<OffsetDateTime>::None))
            .col_expr(D::LastAttemptAt, Expr::value(now))
            .filter(D::Id.eq(delivery.key));
        let none = Option::<OffsetDateTime>::None;
        match outcome {
            DeliveryOutcome::Delivered { status } => {
                let _turn = self.write_turn().await?;
                update
                    .col_expr(D::Status, Expr::value(DELIVERED))
                    .col_expr(D::LastStatus, Expr::value(i32::from(*status)))
                    .col_expr(D::LastError, Expr::value(Option::<String>::None))
                    .col_expr(D::DeliveredAt, Expr::value(now))
                    .col_expr(D::NextAttemptAt, Expr::value(none))
                    .exec(self.db())
                    .await?;
                Ok(())
            }
            DeliveryOutcome::Failed {
                status,
                error,
                retry_at,
            } => {
                let status_now = if retry_at.is_some() { PENDING } else { FAILED };
                let _turn = self.write_turn().await?;
                update
                    .col_expr(D::Status, Expr::value(status_now))
                    .col_expr(D::LastStatus, Expr::value(status.map(i32::from)))
                    .col_expr(D::LastError, Expr::value(error.clone()))
                    .col_expr(D::NextAttemptAt, Expr::value(*retry_at))
                    .exec(self.db())
                    .await?;
                Ok(())
            }
            DeliveryOutcome::Gone => {
                let (txn, _turn) = self.begin_write().await?;
                let result = async {
                    update
                        .col_expr(D::Status, Expr::value(FAILED))
                        .col_expr(D::LastStatus, Expr::value(410))
                        .col_expr(
                            D::LastError,
                            Expr::value("the endpoint answered 410 Gone and was disabled"),
                        )
                        .col_expr(D::NextAttemptAt, Expr::value(none))
                        .exec(&txn)
                        .await?;
                    webhook_endpoints::Entity::update_many()
                        .col_expr(webhook_endpoints::Column::Enabled, Expr::value(false))
                        .col_expr(
                            webhook_endpoints::Column::DisabledReason,
                            Expr::value(format!(
                                "the endpoint answered 410 Gone at {}",
                                now.format(&time::format_description::well_known::Rfc3339)
                                    .unwrap_or_default()
                            )),
                        )
                        .col_expr(webhook_endpoints::Column::UpdatedAt, Expr::value(now))
                        .filter(webhook_endpoints::Column::Id.eq(delivery.endpoint_key))
                        .exec(&txn)
                        .await?;
                    Ok(())
                }
                .await;
                finish(txn, result).await
            }
        }
    }
}

/// The earliest undispatched event's key, the dispatcher's look on every poll. The
/// earliest, not any: asked in event order, each database reads the index of the
/// undispatched events (`events_undispatched`) whatever it estimates their number to be,
/// rather than scanning every event for one.
pub(crate) fn earliest_undispatched() -> sea_orm::Select<events::Entity> {
    use events::Column as E;
    events::Entity::find()
        .select_only()
        .column(E::Id)
        .filter(Expr::col(E::Dispatched).eq(literal(false)))
        .order_by_asc(E::Id)
        .limit(1)
}

/// A constant written into a statement rather than bound to it. The worker's polling
/// statements look for the few rows in one state (undispatched events, pending deliveries)
/// among all those ever made. Bound, the state is a parameter to PostgreSQL, whose generic
/// plan (which it may choose from a statement's sixth run on) cannot know it is the rare one, and read every
/// event on each poll; written in, every plan walks the index of that state alone.
fn literal(value: impl Into<sea_orm::Value>) -> Expr {
    Expr::Constant(value.into())
}

fn types_json(types: &[EventType]) -> Value {
    Value::Array(
        types
            .iter()
            .map(|t| Value::String(t.as_str().to_owned()))
            .collect(),
    )
}

fn parse_secret(value: &str) -> Result<WebhookSecret, StoreError> {
    WebhookSecret::parse(value).map_err(|_| StoreError::Corrupt("webhook_endpoints.secret".into()))
}

async fn find_endpoint(
    db: &impl ConnectionTrait,
    id: WebhookEndpointId,
) -> Result<webhook_endpoints::Model, StoreError> {
    webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::PublicId.eq(id.as_uuid()))
        .all(db)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

fn endpoint_from_model(m: webhook_endpoints::Model) -> Result<WebhookEndpoint, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("webhook_endpoints.{what}"));
    let event_types = match &m.event_types {
        Value::Array(items) => items
            .iter()
            .map(|t| {
                t.as_str()
                    .and_then(|t| EventType::parse(t).ok())
                    .ok_or_else(|| corrupt("event_types"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(corrupt("event_types")),
    };
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::from_uuid(m.public_id),
        url: WebhookUrl::parse(m.url).map_err(|_| corrupt("url"))?,
        event_types,
        description: m
            .description
            .map(|d| TextLine::parse(d, limits::TEXT_LINE_MAX_CHARS))
            .transpose()
            .map_err(|_| corrupt("description"))?,
        enabled: m.enabled,
        disabled_reason: m.disabled_reason,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Deliveries with their events' public ids and types, in the order given.
async fn deliveries_with_events(
    db: &impl ConnectionTrait,
    models: Vec<webhook_deliveries::Model>,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let keys: Vec<i64> = models.iter().map(|m| m.event_id).collect();
    let events: HashMap<i64, (uuid::Uuid, String)> = if keys.is_empty() {
        HashMap::new()
    } else {
        events::Entity::find()
            .select_only()
            .columns([
                events::Column::Id,
                events::Column::PublicId,
                events::Column::EventType,
            ])
            .filter(events::Column::Id.is_in(keys))
            .into_tuple::<(i64, uuid::Uuid, String)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(key, id, t)| (key, (id, t)))
            .collect()
    };
    let corrupt = |what: &str| StoreError::Corrupt(format!("webhook_deliveries.{what}"));
    models
        .into_iter()
        .map(|m| {
            let (event_id, event_type) = events.get(&m.event_id).ok_or_else(|| corrupt("event"))?;
            Ok(WebhookDelivery {
                id: WebhookDeliveryId::from_uuid(m.public_id),
                event_id: EventId::from_uuid(*event_id),
                event_type: EventType::parse(event_type).map_err(|_| corrupt("event type"))?,
                status: DeliveryStatus::parse(&m.status).map_err(|_| corrupt("status"))?,
                attempts: u32::try_from(m.attempts).unwrap_or(0),
                last_status: m.last_status.and_then(|s| u16::try_from(s).ok()),
                last_error: m.last_error,
                next_attempt_at: m.next_attempt_at,
                created_at: m.created_at,
                delivered_at: m.delivered_at,
            })
        })
        .collect()
}
