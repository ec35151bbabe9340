//! On PostgreSQL, the undispatched events as an index of their own, in place of the index
//! of every event by whether it was dispatched.
//!
//! The webhook worker looks for undispatched events on every poll. PostgreSQL chose how by
//! its statistics, and statistics taken during a burst of writes (thousands of events not
//! yet dispatched) made a sequential scan of the table look cheapest: it then read every
//! event, the audit log of a year, to find the few new ones, on every poll, until the
//! table was analyzed again (5 ms a poll at 20,000 events). The look now asks for the
//! earliest undispatched event, and this index answers it in event order by reading only
//! the undispatched ones, whatever the estimate. The index it replaces held every event
//! and served nothing else. SQLite keeps that index: it has no statistics to go stale
//! (nothing runs `ANALYZE` on it), and its look was never slow.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX events_undispatched ON events (id) WHERE dispatched = FALSE",
        )
        .await?;
        db.execute_unprepared("DROP INDEX events_dispatched")
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("CREATE INDEX events_dispatched ON events (dispatched, id)")
            .await?;
        db.execute_unprepared("DROP INDEX events_undispatched")
            .await
            .map(drop)
    }
}
