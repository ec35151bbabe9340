//! On SQLite, the row a change to an organization appends, carried by the change's own
//! `UPDATE` in a column that a trigger empties into the row's table (see the migration
//! `sqlite_pending_rows`). Each value is written as SQLite stores it when bound, so a row
//! appended this way is the row an `INSERT` would have written: ids as the hex of their
//! bytes (stored as blobs), times as RFC 3339, dates as `YYYY-MM-DD`, JSON as its text.

use sea_orm::sea_query::{Alias, Expr, SimpleExpr};
use serde_json::{Value, json};
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

/// `event`, for `pending_event`.
pub(crate) fn event(event: &Event) -> Result<SimpleExpr, StoreError> {
    let row = json!({
        "public_id": hex(event.id.as_uuid()),
        "event_type": event.event_type.as_str(),
        "organization_id": event.organization_id.map(|o| hex(o.as_uuid())),
        "actor_kind": event.actor.kind(),
        "actor_id": event.actor.id().map(hex),
        "occurred_at": timestamp(event.occurred_at)?,
        "data": event.data.to_string(),
        "changes": crate::events::changes_json(event).to_string(),
        "trace_id": crate::trace::current(),
    });
    Ok(Expr::val(row.to_string()))
}

/// `entry`, for `pending_entry`. The organization is the updated row's.
pub(crate) fn entry(entry: &UsageEntry) -> Result<SimpleExpr, StoreError> {
    let row = json!({
        "public_id": hex(entry.id.as_uuid()),
        "credits": entry.credits,
        "category": entry.category.as_str(),
        "cycle_start": date(entry.cycle_start)?,
        "actor_kind": entry.actor.kind(),
        "actor_id": entry.actor.id().map(hex),
        "idempotency_key": entry.idempotency_key,
        "created_at": timestamp(entry.created_at)?,
    });
    Ok(Expr::val(row.to_string()))
}

fn hex(id: Uuid) -> Value {
    Value::String(id.simple().to_string())
}

fn timestamp(at: time::OffsetDateTime) -> Result<String, StoreError> {
    at.format(&Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("a time that RFC 3339 cannot write: {e}")))
}

fn date(day: time::Date) -> Result<String, StoreError> {
    day.format(time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|e| StoreError::Corrupt(format!("a date that cannot be written: {e}")))
}
