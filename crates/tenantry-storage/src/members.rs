//! Memberships. Every change takes the organization's row first (bumping its version), so
//! concurrent changes to one organization are serialized on PostgreSQL and SQLite alike, and
//! the member count and last-owner rules hold under concurrency.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
};
use tenantry_domain::{
    Access, Actor, Event, Member, OrganizationId, Role, RuleViolation, UserId, check_keeps_an_owner,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::entities::{api_keys, memberships, organizations, users};
use crate::events;
use crate::organizations::{bump_count, organization_pk, user_pk};
use crate::revocations::{Revocation, announce};
use crate::users::user_from_model;
use crate::{Page, PageRequest, Store, StoreError};

/// A membership with its user, as a membership query that selects its user too names their
/// columns (`A_…` and `B_…`).
#[derive(Debug)]
struct MemberRow {
    membership: memberships::Model,
    user: users::Model,
}

impl FromQueryResult for MemberRow {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Ok(Self {
            membership: memberships::Model::from_query_result(row, "A_")?,
            user: users::Model::from_query_result(row, "B_")?,
        })
    }
}

/// A page of an organization's members with their users, in user-id order, after the
/// user `after`.
pub(crate) fn members_page(
    org: OrganizationId,
    after: Option<Uuid>,
) -> sea_orm::SelectTwo<memberships::Entity, users::Entity> {
    let org_pk = sea_orm::sea_query::Query::select()
        .column(organizations::Column::Id)
        .from(organizations::Entity)
        .and_where(organizations::Column::PublicId.eq(org.as_uuid()))
        .to_owned();
    let mut query = memberships::Entity::find()
        .find_also_related(users::Entity)
        // A scalar subquery: SQLite would build a temporary table for `IN (SELECT …)`.
        .filter(
            Expr::col((memberships::Entity, memberships::Column::OrganizationId))
                .eq(Expr::SubQuery(None, Box::new(org_pk.into()))),
        );
    if let Some(after) = after {
        query = query.filter(users::Column::PublicId.gt(after));
    }
    query.order_by_asc(users::Column::PublicId)
}

impl Store {
    /// The role of `user` in `org`, if they are a member.
    pub async fn role_of(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<Role>, StoreError> {
        let role = memberships::Entity::find()
            .select_only()
            .column(memberships::Column::Role)
            .inner_join(organizations::Entity)
            .inner_join(users::Entity)
            .filter(organizations::Column::PublicId.eq(org.as_uuid()))
            .filter(users::Column::PublicId.eq(user.as_uuid()))
            .into_tuple::<String>()
            .all(self.db())
            .await?
            .into_iter()
            .next();
        role.map(|r| parse_role(&r)).transpose()
    }

    /// Members in user-id order. An organization that does not exist has none.
    pub async fn list_members(
        &self,
        org: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Member>, StoreError> {
        let query = members_page(org, page.after);
        let statement = crate::limited(self.db().get_database_backend(), &query, page.limit + 1);
        let items = self
            .read_all(statement)
            .await?
            .iter()
            .map(|row| {
                let row = MemberRow::from_query_result(row, "")?;
                member_from(row.membership, row.user)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |m| {
            m.user.id.as_uuid()
        }))
    }

    /// Adds `user` to `org` with `role`, as `actor`. Fails with a conflict when the user is
    /// already a member, and with [`RuleViolation::UserQuotaReached`] when the organization
    /// is full.
    pub async fn add_member(
        &self,
        org: OrganizationId,
        user: UserId,
        role: Role,
        actor: Access,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<Member, StoreError> {
        actor.check_role_change(None, Some(role))?;
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let bumped = bump_count(
                &txn,
                org,
                organizations::Column::MemberCount,
                1,
                Some(organizations::Column::UserQuota),
                now,
            )
            .await?;
            if !bumped {
                let quota = organizations::Entity::find()
                    .select_only()
                    .column(organizations::Column::UserQuota)
                    .filter(organizations::Column::PublicId.eq(org.as_uuid()))
                    .into_tuple::<i32>()
                    .all(&txn)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or(StoreError::NotFound)?;
                return Err(RuleViolation::UserQuotaReached {
                    quota: u32::try_from(quota).unwrap_or(0),
                }
                .into());
            }
            let org_pk = organization_pk(&txn, org).await?;
            let user_model = find_user(&txn, user).await?;
            let membership = memberships::ActiveModel {
                organization_id: Set(org_pk),
                user_id: Set(user_model.id),
                role: Set(role.as_str().to_owned()),
                joined_at: Set(now),
                ..Default::default()
            };
            memberships::Entity::insert(membership)
                .exec(&txn)
                .await
                .map_err(|e| {
                    StoreError::unique(e, "the user is already a member of the organization")
                })?;
            let member = Member {
                user: user_from_model(user_model)?,
                role,
                joined_at: now,
            };
            events::append_holding_row(&txn, &Event::member_added(org, &member, by, now), None)
                .await?;
            Ok(member)
        }
        .await;
        finish(txn, result).await
    }

    /// Gives a member another role, as `actor`; the last owner keeps theirs.
    pub async fn change_member_role(
        &self,
        org: OrganizationId,
        user: UserId,
        role: Role,
        actor: Access,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<Member, StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let (membership, org_pk) = lock_membership(&txn, org, user, 0, now).await?;
            let current = parse_role(&membership.role)?;
            actor.check_role_change(Some(current), Some(role))?;
            check_keeps_an_owner(owner_count(&txn, org_pk).await?, current, Some(role))?;
            memberships::Entity::update_many()
                .col_expr(memberships::Column::Role, Expr::value(role.as_str()))
                .filter(memberships::Column::Id.eq(membership.id))
                .exec(&txn)
                .await?;
            let user_model = find_user(&txn, user).await?;
            let member = Member {
                user: user_from_model(user_model)?,
                role,
                joined_at: membership.joined_at,
            };
            if role != current {
                let event = Event::member_role_changed(org, &member, current, by, now);
                events::append_holding_row(&txn, &event, None).await?;
            }
            Ok(member)
        }
        .await;
        finish(txn, result).await
    }

    /// Removes a member, as `actor`; the last owner cannot be removed.
    pub async fn remove_member(
        &self,
        org: OrganizationId,
        user: UserId,
        actor: Access,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let (membership, org_pk) = lock_membership(&txn, org, user, -1, now).await?;
            let current = parse_role(&membership.role)?;
            actor.check_role_change(Some(current), None)?;
            check_keeps_an_owner(owner_count(&txn, org_pk).await?, current, None)?;
            memberships::Entity::delete_by_id(membership.id)
                .exec(&txn)
                .await?;
            // The keys they held for this organization alone leave with them.
            let revoked = api_keys::Entity::update_many()
                .col_expr(api_keys::Column::RevokedAt, Expr::value(now))
                .filter(api_keys::Column::OrganizationId.eq(org_pk))
                .filter(api_keys::Column::UserId.eq(membership.user_id))
                .filter(api_keys::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
            if revoked.rows_affected > 0 {
                announce(&txn, Revocation::All).await?;
            }
            let event = Event::member_removed(org, user, current, revoked.rows_affected, by, now);
            events::append_holding_row(&txn, &event, None).await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }
}

/// Commits on success, rolls back on failure.
pub(crate) async fn finish<T>(
    txn: DatabaseTransaction,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(error) => {
            txn.rollback().await?;
            Err(error)
        }
    }
}

/// Takes the organization's row (adding `count_delta` to its member count and bumping its
/// version), then finds the membership.
async fn lock_membership(
    txn: &DatabaseTransaction,
    org: OrganizationId,
    user: UserId,
    count_delta: i64,
    now: OffsetDateTime,
) -> Result<(memberships::Model, i64), StoreError> {
    let bumped = bump_count(
        txn,
        org,
        organizations::Column::MemberCount,
        count_delta,
        None,
        now,
    )
    .await?;
    if !bumped {
        return Err(StoreError::NotFound);
    }
    let org_pk = organization_pk(txn, org).await?;
    let user_pk = user_pk(txn, user).await?;
    let membership = memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(org_pk))
        .filter(memberships::Column::UserId.eq(user_pk))
        .all(txn)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)?;
    Ok((membership, org_pk))
}

async fn owner_count(db: &impl ConnectionTrait, org_pk: i64) -> Result<u64, StoreError> {
    Ok(memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(org_pk))
        .filter(memberships::Column::Role.eq(Role::Owner.as_str()))
        .count(db)
        .await?)
}

async fn find_user(db: &impl ConnectionTrait, user: UserId) -> Result<users::Model, StoreError> {
    users::Entity::find()
        .filter(users::Column::PublicId.eq(user.as_uuid()))
        .all(db)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

fn parse_role(value: &str) -> Result<Role, StoreError> {
    Role::parse(value).map_err(|e| StoreError::Corrupt(format!("memberships.role: {e}")))
}

fn member_from(membership: memberships::Model, user: users::Model) -> Result<Member, StoreError> {
    Ok(Member {
        role: parse_role(&membership.role)?,
        joined_at: membership.joined_at,
        user: user_from_model(user)?,
    })
}
