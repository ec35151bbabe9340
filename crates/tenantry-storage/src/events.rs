//! Events, written by each write in the transaction that makes its change (so there is
//! never a change without its event, nor an event without its change), and read back as
//! the audit log.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
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
    use sea_orm::sea_query::{Expr, Query};
    let mut values = row_values(event, Expr::val);
    values.push(Expr::val(dedupe));
    let mut columns = COLUMNS.to_vec();
    columns.push(events::Column::Dedupe);
    let mut insert = Query::insert();
    insert
        .into_table(events::Entity)
        .columns(columns)
        .values(values)
        .expect("the columns and values match")
        .on_conflict(
            OnConflict::column(events::Column::Dedupe)
                .do_nothing()
                .to_owned(),
        );
    let inserted = db.execute(&insert).await?;
    Ok(inserted.rows_affected() == 1)
}

/// How the `changes` column holds an event's changes (read back by [`event_from_model`]):
/// `[{field, from, to}, …]`. Written straight to text where a write needs its text (SQLite's
/// pending row), or made a value with [`changes_json`].
pub(crate) struct Changes<'a>(pub(crate) &'a [Change]);

impl serde::Serialize for Changes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        struct One<'a>(&'a Change);
        impl serde::Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("field", &self.0.field)?;
                map.serialize_entry("from", &self.0.from)?;
                map.serialize_entry("to", &self.0.to)?;
                map.end()
            }
        }
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for change in self.0 {
            seq.serialize_element(&One(change))?;
        }
        seq.end()
    }
}

/// An event's [`Changes`] as a JSON value.
pub(crate) fn changes_json(event: &Event) -> Value {
    serde_json::to_value(Changes(&event.changes))
        .expect("strings and JSON values always make a JSON value")
}

/// The columns an appended event writes, in the order of [`row_values`].
const COLUMNS: [events::Column; 10] = [
    events::Column::PublicId,
    events::Column::EventType,
    events::Column::OrganizationId,
    events::Column::ActorKind,
    events::Column::ActorId,
    events::Column::OccurredAt,
    events::Column::Data,
    events::Column::Changes,
    events::Column::Dispatched,
    events::Column::TraceId,
];

/// The values of `event`'s row, in the order of [`COLUMNS`]; `json` writes a JSON column's.
///
/// An event is written already dispatched when no webhook endpoint is enabled: there is
/// nothing to deliver it to (an endpoint receives the events written after it is
/// registered, see [`Store::dispatch_events`]), so the dispatcher never needs to read it,
/// nor write it again to say so. Most events of a Tenantry without webhooks are so. (On
/// SQLite, an update's event is written by a trigger, which decides the same way: see the
/// migration `sqlite_events_dispatched_as_written`.)
fn row_values(
    event: &Event,
    json: impl Fn(Value) -> sea_orm::sea_query::SimpleExpr,
) -> Vec<sea_orm::sea_query::SimpleExpr> {
    use crate::entities::webhook_endpoints;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let no_endpoint_enabled = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(webhook_endpoints::Entity)
            .and_where(webhook_endpoints::Column::Enabled.eq(true))
            .take(),
    )
    .not();
    vec![
        Expr::val(event.id.as_uuid()),
        Expr::val(event.event_type.as_str()),
        Expr::val(event.organization_id.map(|o| o.as_uuid())),
        Expr::val(event.actor.kind()),
        Expr::val(event.actor.id()),
        Expr::val(event.occurred_at),
        json(event.data.clone()),
        json(changes_json(event)),
        no_endpoint_enabled,
        Expr::val(crate::trace::current()),
    ]
}

/// The values [`insert_for_each_row_of`] binds, in its order, made without building it: the
/// row's, in [`COLUMNS`]' order, with `dispatched`'s condition binding `1` and `true`.
pub(crate) fn insert_for_each_row_values(event: &Event) -> [sea_orm::Value; 11] {
    [
        event.id.as_uuid().into(),
        event.event_type.as_str().into(),
        event.organization_id.map(|o| o.as_uuid()).into(),
        event.actor.kind().into(),
        event.actor.id().into(),
        event.occurred_at.into(),
        event.data.clone().into(),
        changes_json(event).into(),
        1i32.into(),
        true.into(),
        crate::trace::current().into(),
    ]
}

/// An `INSERT` of `event` that takes a row from the common table `source` (and writes
/// nothing when it has none): appended in the same statement as the change that makes
/// `source`'s row, on PostgreSQL.
pub(crate) fn insert_for_each_row_of(
    event: &Event,
    source: &str,
) -> sea_orm::sea_query::InsertStatement {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    // A parameter in a `SELECT`'s list has no type PostgreSQL can infer: cast to JSON.
    let json = |value: Value| Expr::val(value).cast_as("json");
    let mut values = Query::select();
    values
        .exprs(row_values(event, json))
        .from(Alias::new(source));
    let mut insert = Query::insert();
    insert
        .into_table(events::Entity)
        .columns(COLUMNS)
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
