//! On SQLite, a change to an organization and the row it appends (its event, or a usage
//! entry) in one statement. SQLite has no data-modifying common table expressions, so the
//! `UPDATE` of the organization carries the row to append in a column of its own
//! (`pending_event`, `pending_entry`: a JSON object), and a trigger moves it into its table
//! and clears the column, inside the same statement. One statement is atomic by itself: a
//! write needs no `BEGIN`, `COMMIT` or the round trips they cost.
//!
//! The JSON holds each value as SQLite would store it when bound: ids as the hex of their
//! 16 bytes (stored as blobs), times as RFC 3339 text, dates as `YYYY-MM-DD`, JSON columns
//! as their text. PostgreSQL writes both in one statement with `WITH … INSERT`, and needs
//! none of this.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE organizations ADD COLUMN pending_event TEXT NULL",
    "ALTER TABLE organizations ADD COLUMN pending_entry TEXT NULL",
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
               0,
               NEW.pending_event ->> '$.trace_id');
       UPDATE organizations SET pending_event = NULL WHERE id = NEW.id;
     END",
    "CREATE TRIGGER organizations_pending_entry
     AFTER UPDATE OF pending_entry ON organizations
     WHEN NEW.pending_entry IS NOT NULL
     BEGIN
       INSERT INTO usage_entries (public_id, organization_id, credits, category, cycle_start,
                                  actor_kind, actor_id, idempotency_key, refund_of, refunded,
                                  created_at)
       VALUES (unhex(NEW.pending_entry ->> '$.public_id'),
               NEW.id,
               NEW.pending_entry ->> '$.credits',
               NEW.pending_entry ->> '$.category',
               NEW.pending_entry ->> '$.cycle_start',
               NEW.pending_entry ->> '$.actor_kind',
               unhex(NEW.pending_entry ->> '$.actor_id'),
               NEW.pending_entry ->> '$.idempotency_key',
               NULL,
               0,
               NEW.pending_entry ->> '$.created_at');
       UPDATE organizations SET pending_entry = NULL WHERE id = NEW.id;
     END",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER organizations_pending_entry",
    "DROP TRIGGER organizations_pending_event",
    "ALTER TABLE organizations DROP COLUMN pending_entry",
    "ALTER TABLE organizations DROP COLUMN pending_event",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_sqlite(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_sqlite(manager, DOWN).await
    }
}
