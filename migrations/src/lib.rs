//! Tenantry's database migrations. They are frozen history: each describes its tables with
//! its own identifiers and never imports the storage crate's entities, so later changes to
//! the entities cannot rewrite the past.

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_tables;
mod m20261123_000002_create_workspaces;
mod m20261125_000001_idempotency_headers;
mod m20261125_000002_revoke_keys_of_former_members;
mod m20261125_000003_create_usage_entries;
mod m20261125_000004_create_events;
mod m20261125_000005_create_webhooks;
mod m20261202_000001_sqlite_pending_rows;
mod m20261205_000001_pending_deliveries_index;
mod m20261205_000002_undispatched_events_index;
mod m20261205_000003_sqlite_events_dispatched_as_written;
mod m20261207_000001_sqlite_pending_event_columns;
mod m20261207_000002_sqlite_memberships_covering_index;

/// The SQLite index of memberships by organization that holds all their columns, which the
/// read of an organization with its caller's role names (`INDEXED BY`).
pub use m20261207_000002_sqlite_memberships_covering_index::INDEX as SQLITE_MEMBERSHIPS_INDEX;

/// Runs `statements` in order when the database is SQLite; on any other, nothing. For the
/// migrations that change what only SQLite has (its triggers, its columns for them).
async fn on_sqlite<S: AsRef<str>>(
    manager: &SchemaManager<'_>,
    statements: impl IntoIterator<Item = S>,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Sqlite {
        return Ok(());
    }
    for statement in statements {
        manager
            .get_connection()
            .execute_unprepared(statement.as_ref())
            .await?;
    }
    Ok(())
}

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tables::Migration),
            Box::new(m20261123_000002_create_workspaces::Migration),
            Box::new(m20261125_000001_idempotency_headers::Migration),
            Box::new(m20261125_000002_revoke_keys_of_former_members::Migration),
            Box::new(m20261125_000003_create_usage_entries::Migration),
            Box::new(m20261125_000004_create_events::Migration),
            Box::new(m20261125_000005_create_webhooks::Migration),
            Box::new(m20261202_000001_sqlite_pending_rows::Migration),
            Box::new(m20261205_000001_pending_deliveries_index::Migration),
            Box::new(m20261205_000002_undispatched_events_index::Migration),
            Box::new(m20261205_000003_sqlite_events_dispatched_as_written::Migration),
            Box::new(m20261207_000001_sqlite_pending_event_columns::Migration),
            Box::new(m20261207_000002_sqlite_memberships_covering_index::Migration),
        ]
    }
}
