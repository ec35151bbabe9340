//! The pending webhook deliveries in event order, as an index of their own.
//!
//! The worker claims the earliest pending deliveries by event id. Walking the index of every
//! delivery by event id, the database stepped over each delivered one before the first
//! pending one, on every claim, and delivered rows are kept as long as their events: a claim
//! grew slower with every delivery ever made (9 ms after 4,000). This index holds only the
//! pending ones, so a claim reads what it takes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on both databases; the claim's `status = 'pending'` is
        // spelled as a literal so that it implies this index's condition.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (event_id) \
                 WHERE status = 'pending'",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX webhook_deliveries_pending")
            .await
            .map(drop)
    }
}
