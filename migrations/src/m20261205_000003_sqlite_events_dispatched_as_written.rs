//! On SQLite, an event written while no webhook endpoint is enabled is written already
//! dispatched, and the undispatched events are an index of their own (as on PostgreSQL
//! since `undispatched_events_index`), in place of the index of every event by whether it
//! was dispatched.
//!
//! There is nothing to deliver such an event to (an endpoint receives the events written
//! after it is registered), so the dispatcher need never read it nor write it again to say
//! so, and with this index it takes no entry in any index of the dispatcher's: the other
//! one took an entry of every event, a page more for each write to change and for the
//! dispatcher's write of the flag to move. Inserts written by the storage crate decide the
//! flag the same way; the trigger of `sqlite_pending_rows`, which appends an update's
//! event, is made again to do so. The index's condition is spelled as the dispatcher's
//! statements spell it, so SQLite sees that they imply it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The trigger as `sqlite_pending_rows` made it, with `dispatched` written as `dispatched`
/// says.
pub(crate) fn trigger(dispatched: &str) -> String {
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
                   {dispatched},
                   NEW.pending_event ->> '$.trace_id');
           UPDATE organizations SET pending_event = NULL WHERE id = NEW.id;
         END"
    )
}

/// Dispatched as written: when no endpoint is enabled.
pub(crate) const AS_WRITTEN: &str =
    "NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled = TRUE)";

fn up() -> Vec<String> {
    vec![
        "DROP TRIGGER organizations_pending_event".to_owned(),
        trigger(AS_WRITTEN),
        "CREATE INDEX events_undispatched ON events (id) WHERE dispatched = FALSE".to_owned(),
        "DROP INDEX events_dispatched".to_owned(),
    ]
}

fn down() -> Vec<String> {
    vec![
        "CREATE INDEX events_dispatched ON events (dispatched, id)".to_owned(),
        "DROP INDEX events_undispatched".to_owned(),
        "DROP TRIGGER organizations_pending_event".to_owned(),
        trigger("0"),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction, so on one connection: SQLite parses some schema statements
    /// against the schema its connection last read, and a pooled connection may have read
    /// it before the last migration.
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
