//! The usage ledger: one immutable entry for every accepted usage call and every refund.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UsageEntries {
    Table,
    Id,
    PublicId,
    OrganizationId,
    Credits,
    Category,
    CycleStart,
    ActorKind,
    ActorId,
    IdempotencyKey,
    RefundOf,
    Refunded,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageEntries::Table)
                    .col(big_pk_auto(UsageEntries::Id))
                    .col(uuid_uniq(UsageEntries::PublicId))
                    .col(big_integer(UsageEntries::OrganizationId))
                    // Above zero for usage, below zero for a refund.
                    .col(big_integer(UsageEntries::Credits))
                    .col(text(UsageEntries::Category))
                    .col(date(UsageEntries::CycleStart))
                    .col(text(UsageEntries::ActorKind))
                    .col(uuid_null(UsageEntries::ActorId))
                    .col(text_null(UsageEntries::IdempotencyKey))
                    .col(big_integer_null(UsageEntries::RefundOf))
                    .col(big_integer(UsageEntries::Refunded).default(0))
                    .col(timestamp_with_time_zone(UsageEntries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("usage_entries_organization_fk")
                            .from(UsageEntries::Table, UsageEntries::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("usage_entries_refund_of_fk")
                            .from(UsageEntries::Table, UsageEntries::RefundOf)
                            .to(UsageEntries::Table, UsageEntries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // An organization's entries, newest first, and a cycle's entries by category.
        manager
            .create_index(
                Index::create()
                    .name("usage_entries_organization_public_id")
                    .table(UsageEntries::Table)
                    .col(UsageEntries::OrganizationId)
                    .col(UsageEntries::PublicId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("usage_entries_organization_cycle")
                    .table(UsageEntries::Table)
                    .col(UsageEntries::OrganizationId)
                    .col(UsageEntries::CycleStart)
                    .col(UsageEntries::Category)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UsageEntries::Table).to_owned())
            .await
    }
}
