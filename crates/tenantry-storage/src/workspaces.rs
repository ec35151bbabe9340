//! Workspaces, counted on the organization's row so that concurrent additions cannot pass
//! the workspace quota.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tenantry_domain::{
    Actor, Event, OrganizationId, RuleViolation, TextLine, Workspace, WorkspaceId, limits,
};
use time::OffsetDateTime;

use crate::entities::{organizations, workspaces};
use crate::events;
use crate::members::finish;
use crate::organizations::{bump_count, organization_pk};
use crate::{Page, PageRequest, Store, StoreError};

impl Store {
    /// Adds a workspace; a full quota is [`RuleViolation::WorkspaceQuotaReached`] and a name
    /// the organization already has is a conflict.
    pub async fn create_workspace(
        &self,
        org: OrganizationId,
        workspace: &Workspace,
        by: Actor,
    ) -> Result<(), StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let bumped = bump_count(
                &txn,
                org,
                organizations::Column::WorkspaceCount,
                1,
                Some(organizations::Column::WorkspaceQuota),
                workspace.created_at,
            )
            .await?;
            if !bumped {
                let quota = organizations::Entity::find()
                    .select_only()
                    .column(organizations::Column::WorkspaceQuota)
                    .filter(organizations::Column::PublicId.eq(org.as_uuid()))
                    .into_tuple::<i32>()
                    .all(&txn)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or(StoreError::NotFound)?;
                return Err(RuleViolation::WorkspaceQuotaReached {
                    quota: u32::try_from(quota).unwrap_or(0),
                }
                .into());
            }
            let org_pk = organization_pk(&txn, org).await?;
            workspaces::Entity::insert(workspaces::ActiveModel {
                public_id: Set(workspace.id.as_uuid()),
                organization_id: Set(org_pk),
                name: Set(workspace.name.as_str().to_owned()),
                created_at: Set(workspace.created_at),
                ..Default::default()
            })
            .exec(&txn)
            .await
            .map_err(|e| {
                StoreError::unique(e, "the organization already has a workspace with this name")
            })?;
            let event = Event::workspace_created(org, workspace, by, workspace.created_at);
            events::append_holding_row(&txn, &event, None).await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    /// An organization's workspaces, in creation order.
    pub async fn list_workspaces(
        &self,
        org: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Workspace>, StoreError> {
        let org_pk = organization_pk(self.db(), org).await?;
        let mut query =
            workspaces::Entity::find().filter(workspaces::Column::OrganizationId.eq(org_pk));
        if let Some(after) = page.after {
            query = query.filter(workspaces::Column::PublicId.gt(after));
        }
        let models = query
            .order_by_asc(workspaces::Column::PublicId)
            .limit(page.limit + 1)
            .all(self.db())
            .await?;
        let items = models
            .into_iter()
            .map(|m| {
                Ok(Workspace {
                    id: WorkspaceId::from_uuid(m.public_id),
                    name: TextLine::parse(m.name, limits::TEXT_LINE_MAX_CHARS)
                        .map_err(|e| StoreError::Corrupt(format!("workspaces.name: {e}")))?,
                    created_at: m.created_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page::from_overfetch(items, page.limit, |w| w.id.as_uuid()))
    }

    /// Deletes a workspace of `org`.
    pub async fn delete_workspace(
        &self,
        org: OrganizationId,
        workspace: WorkspaceId,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let bumped = bump_count(
                &txn,
                org,
                organizations::Column::WorkspaceCount,
                -1,
                None,
                now,
            )
            .await?;
            if !bumped {
                return Err(StoreError::NotFound);
            }
            let org_pk = organization_pk(&txn, org).await?;
            let deleted = workspaces::Entity::delete_many()
                .filter(workspaces::Column::OrganizationId.eq(org_pk))
                .filter(workspaces::Column::PublicId.eq(workspace.as_uuid()))
                .exec(&txn)
                .await?;
            crate::exactly_one(deleted.rows_affected)?;
            let event = Event::workspace_deleted(org, workspace, by, now);
            events::append_holding_row(&txn, &event, None).await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }
}
