//! Organizations, users, memberships, API keys and idempotency keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    PublicId,
    Name,
    Domain,
    LogoType,
    LogoData,
    LogoUrl,
    BillingEmail,
    NotificationsEmail,
    AccountType,
    Plan,
    ContractEndDate,
    SalesforceCode,
    IsActive,
    AutoBillingEnabled,
    BillingCycleStart,
    CreditAllocation,
    Modules,
    UserQuota,
    WorkspaceQuota,
    AnalysisQuota,
    AssetEvaluationQuota,
    SearchCredits,
    RateLimitOverrides,
    MaxOverages,
    Metadata,
    DefaultLlmCredentials,
    NsfwCheckEnabled,
    NsfwFailClosed,
    Infrastructure,
    ApiUrl,
    AuthProviderOrgId,
    UsageCycleStart,
    CreditsUsed,
    MemberCount,
    WorkspaceCount,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    PublicId,
    Email,
    EmailNormalized,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    OrganizationId,
    UserId,
    Role,
    JoinedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    PublicId,
    Name,
    Prefix,
    KeyHash,
    Scope,
    UserId,
    OrganizationId,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    Scope,
    IdempotencyKey,
    RequestHash,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(big_pk_auto(Organizations::Id))
                    .col(uuid_uniq(Organizations::PublicId))
                    .col(text(Organizations::Name))
                    .col(text_null(Organizations::Domain))
                    .col(text_null(Organizations::LogoType))
                    .col(blob_null(Organizations::LogoData))
                    .col(text_null(Organizations::LogoUrl))
                    .col(text_null(Organizations::BillingEmail))
                    .col(text_null(Organizations::NotificationsEmail))
                    .col(text(Organizations::AccountType))
                    .col(text(Organizations::Plan))
                    .col(date_null(Organizations::ContractEndDate))
                    .col(text_null(Organizations::SalesforceCode))
                    .col(boolean(Organizations::IsActive))
                    .col(boolean(Organizations::AutoBillingEnabled))
                    .col(integer(Organizations::BillingCycleStart))
                    .col(big_integer_null(Organizations::CreditAllocation))
                    .col(json_binary(Organizations::Modules))
                    .col(integer(Organizations::UserQuota))
                    .col(integer(Organizations::WorkspaceQuota))
                    .col(integer(Organizations::AnalysisQuota))
                    .col(integer(Organizations::AssetEvaluationQuota))
                    .col(integer(Organizations::SearchCredits))
                    .col(json_binary(Organizations::RateLimitOverrides))
                    .col(big_integer_null(Organizations::MaxOverages))
                    .col(json_binary(Organizations::Metadata))
                    .col(json_binary(Organizations::DefaultLlmCredentials))
                    .col(boolean(Organizations::NsfwCheckEnabled))
                    .col(boolean(Organizations::NsfwFailClosed))
                    .col(text_null(Organizations::Infrastructure))
                    .col(text_null(Organizations::ApiUrl))
                    .col(text_null(Organizations::AuthProviderOrgId))
                    .col(date(Organizations::UsageCycleStart))
                    .col(big_integer(Organizations::CreditsUsed))
                    .col(big_integer(Organizations::MemberCount))
                    .col(big_integer(Organizations::WorkspaceCount))
                    .col(big_integer(Organizations::Version))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("organizations_domain_key")
                    .table(Organizations::Table)
                    .col(Organizations::Domain)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(uuid_uniq(Users::PublicId))
                    .col(text(Users::Email))
                    .col(text_uniq(Users::EmailNormalized))
                    .col(text(Users::Name))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(big_pk_auto(Memberships::Id))
                    .col(big_integer(Memberships::OrganizationId))
                    .col(big_integer(Memberships::UserId))
                    .col(text(Memberships::Role))
                    .col(timestamp_with_time_zone(Memberships::JoinedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("memberships_organization_fk")
                            .from(Memberships::Table, Memberships::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("memberships_user_fk")
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_organization_user_key")
                    .table(Memberships::Table)
                    .col(Memberships::OrganizationId)
                    .col(Memberships::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_user_organization_idx")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .col(Memberships::OrganizationId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(big_pk_auto(ApiKeys::Id))
                    .col(uuid_uniq(ApiKeys::PublicId))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::Prefix))
                    .col(text_uniq(ApiKeys::KeyHash))
                    .col(text(ApiKeys::Scope))
                    .col(big_integer_null(ApiKeys::UserId))
                    .col(big_integer_null(ApiKeys::OrganizationId))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("api_keys_user_fk")
                            .from(ApiKeys::Table, ApiKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("api_keys_organization_fk")
                            .from(ApiKeys::Table, ApiKeys::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("api_keys_user_idx", ApiKeys::UserId),
            ("api_keys_organization_idx", ApiKeys::OrganizationId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ApiKeys::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(big_pk_auto(IdempotencyKeys::Id))
                    .col(text(IdempotencyKeys::Scope))
                    .col(text(IdempotencyKeys::IdempotencyKey))
                    .col(text(IdempotencyKeys::RequestHash))
                    .col(integer(IdempotencyKeys::ResponseStatus))
                    .col(text(IdempotencyKeys::ResponseBody))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_scope_key")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::Scope)
                    .col(IdempotencyKeys::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyKeys::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
