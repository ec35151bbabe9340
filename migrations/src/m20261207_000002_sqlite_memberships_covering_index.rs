//! On SQLite, an index of memberships by organization that holds every column of the
//! membership, so that the reads of an organization's memberships find what they need in
//! the index alone.
//!
//! Every request about an organization begins with a read of it joined to the caller's
//! membership (`organization_read` in the store), and the detail goes on to read a page of
//! its members. Through the unique index of (organization, user), SQLite found each
//! membership's row id in the index, then read the row itself, in another table, for the
//! role and the time joined: a second page a membership. In a large database those pages
//! are seldom in the connection's cache, so each is a read from the kernel: at 1,000,000
//! organizations a request for the detail or the entitlements made 4.8 such reads (0.6 at
//! 10,000). Through this index a membership costs its one page, which both reads share:
//! 4.2.
//!
//! SQLite's planner takes this index for the page of members by itself, but keeps the
//! unique index for an equality on both of its columns, so the read with the caller's role
//! names this one (`INDEXED BY`). The unique index stays: it is what refuses a second
//! membership of one user. PostgreSQL keeps its plan: it chooses by its statistics, and
//! its cost was flat across those sizes.

use sea_orm_migration::prelude::*;

use crate::on_sqlite;

/// The index's name, which the store's read of an organization names on SQLite.
pub const INDEX: &str = "memberships_organization_covering_idx";

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The row id (`id`) is in every index entry already.
        on_sqlite(
            manager,
            [format!(
                "CREATE INDEX {INDEX} ON memberships (organization_id, user_id, role, joined_at)"
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_sqlite(manager, [format!("DROP INDEX {INDEX}")]).await
    }
}
