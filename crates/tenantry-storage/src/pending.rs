//! On SQLite, the row a change to an organization appends, carried by the change's own
//! `UPDATE` in columns that a trigger empties into the row's table (see the migrations
//! `sqlite_pending_rows` and `sqlite_pending_event_columns`). An event's values are bound
//! to columns of their own, as an `INSERT` binds them; a usage entry's ride in one JSON
//! object, each value written as SQLite stores it when bound (ids as the hex of their
//! bytes, stored as blobs; times as RFC 3339; dates as `YYYY-MM-DD`). Either way the row
//! appended is the row an `INSERT` would have written.

use sea_orm::sea_query::{Alias, Expr, SimpleExpr};
use serde::Serialize;
use tenantry_domain::{Event, UsageEntry};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::StoreError;

/// The columns whose values become an event, in the order of [`event_values`] (see the
/// migration `sqlite_pending_event_columns`; the event's organization is the updated row's).
pub(crate) const EVENT_COLUMNS: [&str; 8] = [
    "pending_event_id",
    "pending_event_type",
    "pending_event_actor_kind",
    "pending_event_actor_id",
    "pending_event_occurred_at",
    "pending_event_data",
    "pending_event_changes",
    "pending_event_trace_id",
];

/// The column whose value becomes a usage entry.
pub(crate) fn entry_column() -> Alias {
    Alias::new("pending_entry")
}

/// `event`'s values for [`EVENT_COLUMNS`], bound as the `INSERT` of an event binds them.
pub(crate) fn event_values(event: &Event) -> Result<[sea_orm::Value; 8], StoreError> {
    let changes = serde_json::to_string(&crate::events::Changes(&event.changes))
        .map_err(|e| StoreError::Corrupt(format!("an event's changes: {e}")))?;
    Ok([
        event.id.as_uuid().into(),
        event.event_type.as_str().into(),
        event.actor.kind().into(),
        event.actor.id().into(),
        event.occurred_at.into(),
        event.data.to_string().into(),
        changes.into(),
        crate::trace::current().into(),
    ])
}

/// An id as the hex of its bytes.
struct Hex(Uuid);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = Uuid::encode_buffer();
        serializer.serialize_str(self.0.simple().encode_lower(&mut buffer))
    }
}

/// `entry`, for `pending_entry`. The organization is the updated row's.
pub(crate) fn entry(entry: &UsageEntry) -> Result<SimpleExpr, StoreError> {
    entry_value(entry).map(Expr::val)
}

/// [`entry`]'s bound value.
pub(crate) fn entry_value(entry: &UsageEntry) -> Result<sea_orm::Value, StoreError> {
    /// The trigger's row.
    #[derive(Serialize)]
    struct Row<'a> {
        public_id: Hex,
        credits: i64,
        category: &'static str,
        cycle_start: String,
        actor_kind: &'static str,
        actor_id: Option<Hex>,
        idempotency_key: Option<&'a str>,
        created_at: String,
    }
    let row = Row {
        public_id: Hex(entry.id.as_uuid()),
        credits: entry.credits,
        category: entry.category.as_str(),
        cycle_start: date(entry.cycle_start)?,
        actor_kind: entry.actor.kind(),
        actor_id: entry.actor.id().map(Hex),
        idempotency_key: entry.idempotency_key.as_deref(),
        created_at: timestamp(entry.created_at)?,
    };
    let text = serde_json::to_string(&row)
        .map_err(|e| StoreError::Corrupt(format!("a usage entry: {e}")))?;
    Ok(text.into())
}

fn timestamp(at: time::OffsetDateTime) -> Result<String, StoreError> {
    at.format(&Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("a time that RFC 3339 cannot write: {e}")))
}

fn date(day: time::Date) -> Result<String, StoreError> {
    day.format(time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|e| StoreError::Corrupt(format!("a date that cannot be written: {e}")))
}
