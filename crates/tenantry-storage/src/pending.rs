//! On SQLite, the row a change to an organization appends, carried by the change's own
//! `UPDATE` in a column that a trigger empties into the row's table (see the migration
//! `sqlite_pending_rows`). Each value is written as SQLite stores it when bound, so a row
//! appended this way is the row an `INSERT` would have written: ids as the hex of their
//! bytes (stored as blobs), times as RFC 3339, dates as `YYYY-MM-DD`, JSON as its text.

use sea_orm::sea_query::{Alias, Expr, SimpleExpr};
use serde::Serialize;
use tenantry_domain::{Event, UsageEntry};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::StoreError;

/// The column whose value becomes an event.
pub(crate) fn event_column() -> Alias {
    Alias::new("pending_event")
}

/// The column whose value becomes a usage entry.
pub(crate) fn entry_column() -> Alias {
    Alias::new("pending_entry")
}

/// `event`, for `pending_event`, written in one pass (it is on the path of every write).
pub(crate) fn event(event: &Event) -> Result<SimpleExpr, StoreError> {
    event_value(event).map(Expr::val)
}

/// [`event`]'s bound value.
pub(crate) fn event_value(event: &Event) -> Result<sea_orm::Value, StoreError> {
    /// The trigger's row.
    #[derive(Serialize)]
    struct Row {
        public_id: Hex,
        event_type: &'static str,
        organization_id: Option<Hex>,
        actor_kind: &'static str,
        actor_id: Option<Hex>,
        occurred_at: String,
        /// JSON columns hold their text.
        data: String,
        changes: String,
        trace_id: Option<String>,
    }
    let changes = serde_json::to_string(&crate::events::Changes(&event.changes))
        .map_err(|e| StoreError::Corrupt(format!("an event's changes: {e}")))?;
    let row = Row {
        public_id: Hex(event.id.as_uuid()),
        event_type: event.event_type.as_str(),
        organization_id: event.organization_id.map(|o| Hex(o.as_uuid())),
        actor_kind: event.actor.kind(),
        actor_id: event.actor.id().map(Hex),
        occurred_at: timestamp(event.occurred_at)?,
        data: event.data.to_string(),
        changes,
        trace_id: crate::trace::current(),
    };
    let text =
        serde_json::to_string(&row).map_err(|e| StoreError::Corrupt(format!("an event: {e}")))?;
    Ok(text.into())
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
