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
use sea_orm_migration::sea_orm::DbBackend;

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

/// Dispatched as written: when no endpoint is enabled (as `sqlite_events_dispatched_as_written`).
const AS_WRITTEN: &str = "NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled = TRUE)";

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

/// The trigger it replaces, as `sqlite_events_dispatched_as_written` left it.
fn former_trigger() -> String {
    format!(
        "CREATE TRIGGER organizations_pending_event
         AFTER UPDATE OF pending_event ON organizations
         WHEN NEW.pending_event IS NOT NULL
         BEGIN
           INSERT INTO events (public_id, event_type, organization_id, actor_kind, actor_id,
                               occurred_at, data, changes, dispatched, trace_id)
           VALUES (unhex(NEW.pending_event ->> '$.public_id'),
                   NEW.pending_event ->> '$.event_type',
                   unhex(NEW.pending_event ->> '$.organization_id'),
                   NEW.pending_event ->> '$.actor_kind',
                   unhex(NEW.pending_event ->> '$.actor_id'),
                   NEW.pending_event ->> '$.occurred_at',
                   NEW.pending_event ->> '$.data',
                   NEW.pending_event ->> '$.changes',
                   {AS_WRITTEN},
                   NEW.pending_event ->> '$.trace_id');
           UPDATE organizations SET pending_event = NULL WHERE id = NEW.id;
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
    statements.push(former_trigger());
    statements
}

async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    for statement in statements {
        manager
            .get_connection()
            .execute_unprepared(&statement)
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction, so on one connection (see `sqlite_events_dispatched_as_written`).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, up()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, down()).await
    }
}
