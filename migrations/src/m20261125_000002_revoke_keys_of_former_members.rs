//! An organization-scoped key acts as its user's role in that organization; once the user
//! has left it, the key stands for no one there. Removing a member now revokes such keys;
//! this revokes those left behind by removals made before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::TimeDateTimeWithTimeZone;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    UserId,
    OrganizationId,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    UserId,
    OrganizationId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let still_a_member = Query::select()
            .expr(Expr::val(1))
            .from(Memberships::Table)
            .and_where(
                Expr::col((Memberships::Table, Memberships::OrganizationId))
                    .equals((ApiKeys::Table, ApiKeys::OrganizationId)),
            )
            .and_where(
                Expr::col((Memberships::Table, Memberships::UserId))
                    .equals((ApiKeys::Table, ApiKeys::UserId)),
            )
            .to_owned();
        let update = Query::update()
            .table(ApiKeys::Table)
            .value(ApiKeys::RevokedAt, TimeDateTimeWithTimeZone::now_utc())
            .and_where(Expr::col(ApiKeys::RevokedAt).is_null())
            .and_where(Expr::col(ApiKeys::OrganizationId).is_not_null())
            .and_where(Expr::col(ApiKeys::UserId).is_not_null())
            .and_where(Expr::exists(still_a_member).not())
            .to_owned();
        manager.exec_stmt(update).await
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        // A revocation is not undone.
        Ok(())
    }
}
