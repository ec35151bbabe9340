//! Events: one row for every change, written in the transaction that makes it. The audit
//! log reads them; webhooks deliver them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    PublicId,
    EventType,
    OrganizationId,
    ActorKind,
    ActorId,
    OccurredAt,
    Data,
    Changes,
    Dedupe,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(big_pk_auto(Events::Id))
                    .col(uuid_uniq(Events::PublicId))
                    .col(text(Events::EventType))
                    // The organization's public id, not a foreign key: its audit log
                    // outlives it.
                    .col(uuid_null(Events::OrganizationId))
                    .col(text(Events::ActorKind))
                    .col(uuid_null(Events::ActorId))
                    .col(timestamp_with_time_zone(Events::OccurredAt))
                    .col(json(Events::Data))
                    .col(json(Events::Changes))
                    // Names an event that may happen once only (a usage threshold in a
                    // cycle); a second insert with the same name is skipped.
                    .col(text_null(Events::Dedupe).unique_key())
                    .to_owned(),
            )
            .await?;
        // An organization's log, newest first; and the pruning of old events.
        manager
            .create_index(
                Index::create()
                    .name("events_organization_public_id")
                    .table(Events::Table)
                    .col(Events::OrganizationId)
                    .col(Events::PublicId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("events_occurred_at")
                    .table(Events::Table)
                    .col(Events::OccurredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}
