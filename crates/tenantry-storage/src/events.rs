//! Events, written by each write in the transaction that makes its change (so there is
//! never a change without its event, nor an event without its change), and read back as
//! the audit log.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Value, json};
use tenantry_domain::{Actor, Change, Event, EventId, EventType, OrganizationId};
use time::OffsetDateTime;

use crate::entities::events;
use crate::{Page, PageRequest, Store, StoreError};

/// Filters of the audit log.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events of one organization; `None`: every event.
    pub organization: Option<OrganizationId>,
    /// Only events of these types; empty: every type.
    pub types: Vec<EventType>,
    /// Only events by this actor.
    pub actor: Option<ActorFilter>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

/// Whose events to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorFilter {
    /// Those of the user or key with this id (for a user, through any of their keys).
    Id(uuid::Uuid),
    /// Those of the platform admin, by its token or any admin key.
    PlatformAdmin,
}

/// Appends `event` inside `txn`. With `dedupe`, an event of that name written before is
/// kept and this one skipped (answers whether it was written).
///
/// On PostgreSQL, an organization's events (and the events of no organization) are
/// appended one transaction at a time (an advisory lock held to the commit), so that their
/// ids follow the order in which their changes commit: whoever reads them in id order, as
/// the webhook dispatcher does, reads them in the order they happened. A transaction that
/// holds the organization's row already is ordered by that lock: it appends with
/// [`append_holding_row`].
pub(crate) async fn append(
    db: &impl ConnectionTrait,
    event: &Event,
    dedupe: Option<String>,
) -> Result<bool, StoreError> {
    if db.get_database_backend() == DbBackend::Postgres {
        /// The first key of the two-key advisory locks that order an organization's events
        /// (the second is the organization folded to 32 bits; 0 for events of none).
        const EVENT_ORDER_LOCK: i32 = 0x7465_6e74;
        let folded = event.organization_id.map_or(0, |org| {
            let (high, low) = org.as_uuid().as_u64_pair();
            let folded = high ^ low;
            (folded ^ (folded >> 32)) as u32 as i32
        });
        db.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({EVENT_ORDER_LOCK}, {folded})"
        ))
        .await?;
    }
    append_holding_row(db, event, dedupe).await
}

/// As [`append`], in a transaction that created, updated or locked the event's
/// organization row (so no other transaction appends to its events until this one ends).
pub(crate) async fn append_holding_row(
    db: &impl ConnectionTrait,
    event: &Event,
    dedupe: Option<String>,
) -> Result<bool, StoreError> {
    let model = events::ActiveModel {
        public_id: Set(event.id.as_uuid()),
        event_type: Set(event.event_type.as_str().to_owned()),
        organization_id: Set(event.organization_id.map(|o| o.as_uuid())),
        actor_kind: Set(event.actor.kind().to_owned()),
        actor_id: Set(event.actor.id()),
        occurred_at: Set(event.occurred_at),
        data: Set(event.data.clone()),
        changes: Set(changes_json(event)),
        dedupe: Set(dedupe),
        dispatched: Set(false),
        trace_id: Set(crate::trace::current()),
        ..Default::default()
    };
    let inserted = events::Entity::insert(model)
        .on_conflict(
            OnConflict::column(events::Column::Dedupe)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// How the `changes` column holds an event's changes (read back by [`event_from_model`]).
pub(crate) fn changes_json(event: &Event) -> Value {
    event
        .changes
        .iter()
        .map(|c| json!({ "field": c.field, "from": c.from, "to": c.to }))
        .collect()
}

/// An `INSERT` of `event` that takes a row from the common table `source` (and writes
/// nothing when it has none): appended in the same statement as the change that makes
/// `source`'s row, on PostgreSQL.
pub(crate) fn insert_for_each_row_of(
    event: &Event,
    source: &str,
) -> sea_orm::sea_query::InsertStatement {
    use events::Column as E;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let json = |value: Value| Expr::val(value).cast_as("json");
    let mut values = Query::select();
    values
        .expr(Expr::val(event.id.as_uuid()))
        .expr(Expr::val(event.event_type.as_str()))
        .expr(Expr::val(event.organization_id.map(|o| o.as_uuid())))
        .expr(Expr::val(event.actor.kind()))
        .expr(Expr::val(event.actor.id()))
        .expr(Expr::val(event.occurred_at))
        .expr(json(event.data.clone()))
        .expr(json(changes_json(event)))
        .expr(Expr::val(false))
        .expr(Expr::val(crate::trace::current()))
        .from(Alias::new(source));
    let mut insert = Query::insert();
    insert
        .into_table(events::Entity)
        .columns([
            E::PublicId,
            E::EventType,
            E::OrganizationId,
            E::ActorKind,
            E::ActorId,
            E::OccurredAt,
            E::Data,
            E::Changes,
            E::Dispatched,
            E::TraceId,
        ])
        .select_from(values)
        .expect("the columns and values match");
    insert
}

impl Store {
    /// Events, newest first, a page at a time.
    pub async fn events(
        &self,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<Event>, StoreError> {
        use events::Column as E;
        let mut query = events::Entity::find();
        if let Some(org) = filter.organization {
            query = query.filter(E::OrganizationId.eq(org.as_uuid()));
        }
        if !filter.types.is_empty() {
            query = query.filter(E::EventType.is_in(filter.types.iter().map(|t| t.as_str())));
        }
        match filter.actor {
            None => {}
            Some(ActorFilter::Id(id)) => query = query.filter(E::ActorId.eq(id)),
            Some(ActorFilter::PlatformAdmin) => query = query.filter(E::ActorKind.eq("admin")),
        }
        if let Some(from) = filter.from {
            query = query.filter(E::OccurredAt.gte(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(E::OccurredAt.lte(to));
        }
        if let Some(after) = page.after {
            query = query.filter(E::PublicId.lt(after));
        }
        let models = query
            .order_by_desc(E::PublicId)
            .limit(page.limit + 1)
            .all(self.db())
            .await?;
        let items = models
            .into_iter()
            .map(event_from_model)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |e| e.id.as_uuid()))
    }

    /// Forgets the events that occurred before `before`, at most `batch` rows per
    /// statement so that no statement holds locks for long; answers how many went.
    pub async fn prune_events(
        &self,
        before: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        use events::Column as E;
        self.prune_before::<events::Entity>(E::Id, E::OccurredAt, before, batch)
            .await
    }
}

pub(crate) fn event_from_model(m: events::Model) -> Result<Event, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("an event's {what}"));
    let changes = match m.changes {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(mut map) => Ok(Change {
                    field: map
                        .remove("field")
                        .and_then(|f| f.as_str().map(str::to_owned))
                        .ok_or_else(|| corrupt("changes"))?,
                    from: map.remove("from").unwrap_or(Value::Null),
                    to: map.remove("to").unwrap_or(Value::Null),
                }),
                _ => Err(corrupt("changes")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(corrupt("changes")),
    };
    Ok(Event {
        id: EventId::from_uuid(m.public_id),
        event_type: EventType::parse(&m.event_type).map_err(|_| corrupt("type"))?,
        occurred_at: m.occurred_at,
        organization_id: m.organization_id.map(OrganizationId::from_uuid),
        actor: Actor::parse(&m.actor_kind, m.actor_id).map_err(|_| corrupt("actor"))?,
        data: m.data,
        changes,
    })
}
