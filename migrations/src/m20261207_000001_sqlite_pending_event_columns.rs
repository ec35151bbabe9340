//! On SQLite, an organization's update carries its event in columns of their own, one for
//! each value of the event's row, in place of one JSON object (`pending_event`, of
//! `sqlite_pending_rows`).
//!
//! The trigger took each of nine values out of that object, and SQLite parsed it, and
//! unescaped the organization's JSON held in it as a string, to do so: 8% of the
//! instructions of a `PATCH`, which the columns save. Bound to columns, each
//! value arrives as the update's other values do, already as it is stored: ids as blobs,
//! times as RFC 3339, JSON as its text. The trigger copies them into the event, takes the
//! organization's id from the row itself, and clears them, in the same statement.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The columns, as added; each is cleared by the trigger as soon as the update is made.
const COLUMNS: [(&str, &str); 8] = [
    ("pending_event_id", "BLOB"),
    ("pending_event_type", "TEXT"),
    ("pending_event_actor_kind", "TEXT"),
    ("pending_event_actor_id", "BLOB"),
    ("pending_event_occurred_at", "TEXT"),
    ("pending_event_data", "TEXT"),
    ("pending_event_changes", "TEXT"),
    ("pending_event_trace_id", "TEXT"),
];

use crate::m20261205_000003_sqlite_events_dispatched_as_written::{self as former, AS_WRITTEN};

fn trigger() -> String {
    let cleared = COLUMNS
        .iter()
        .map(|(name, _)| format!("{name} = NULL"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE TRIGGER organizations_pending_event
         AFTER UPDATE OF pending_event_id ON organizations
         WHEN NEW.pending_event_id IS NOT NULL
         BEGIN
           INSERT INTO events (public_id, event_type, organization_id, actor_kind, actor_id,
                               occurred_at, data, changes, dispatched, trace_id)
           VALUES (NEW.pending_event_id,
                   NEW.pending_event_type,
                   NEW.public_id,
                   NEW.pending_event_actor_kind,
                   NEW.pending_event_actor_id,
                   NEW.pending_event_occurred_at,
                   NEW.pending_event_data,
                   NEW.pending_event_changes,
                   {AS_WRITTEN},
                   NEW.pending_event_trace_id);
           UPDATE organizations SET {cleared} WHERE id = NEW.id;
         END"
    )
}

fn up() -> Vec<String> {
    let mut statements = vec!["DROP TRIGGER organizations_pending_event".to_owned()];
    statements.extend(
        COLUMNS
            .iter()
            .map(|(name, kind)| format!("ALTER TABLE organizations ADD COLUMN {name} {kind} NULL")),
    );
    statements.push("ALTER TABLE organizations DROP COLUMN pending_event".to_owned());
    statements.push(trigger());
    statements
}

fn down() -> Vec<String> {
    let mut statements = vec![
        "DROP TRIGGER organizations_pending_event".to_owned(),
        "ALTER TABLE organizations ADD COLUMN pending_event TEXT NULL".to_owned(),
    ];
    statements.extend(
        COLUMNS
            .iter()
            .map(|(name, _)| format!("ALTER TABLE organizations DROP COLUMN {name}")),
    );
    // The trigger it replaces, as `sqlite_events_dispatched_as_written` left it.
    statements.push(former::trigger(AS_WRITTEN));
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction, so on one connection (see `sqlite_events_dispatched_as_written`).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_sqlite(manager, up()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_sqlite(manager, down()).await
    }
}
