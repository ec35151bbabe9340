//! The headers of an idempotent request's first answer (its `Location` and `ETag`), so that a
//! retry is answered whole.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    ResponseHeaders,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKeys::Table)
                    // A JSON list of [name, value] pairs; answers kept before this
                    // migration replay without headers, as they did.
                    .add_column(
                        ColumnDef::new(IdempotencyKeys::ResponseHeaders)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKeys::Table)
                    .drop_column(IdempotencyKeys::ResponseHeaders)
                    .to_owned(),
            )
            .await
    }
}
