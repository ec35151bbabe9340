//! Organizations: create, read, list, update, delete.

use sea_orm::RelationTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, ReturningClause};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use serde_json::{Map, Value, json};
use tenantry_domain::{
    AccountType, Actor, BillingCycleDay, DomainName, Email, Event, FieldChange, HttpUrl, ImageType,
    LlmCredentials, Logo, Metadata, Modules, Organization, OrganizationChanges, OrganizationId,
    OrganizationName, Plan, Quota, RateLimitCategory, RateLimitOverrides, Role, RuleViolation,
    SalesforceCode, TextLine, Usage, UserId, limits,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::entities::{idempotency_keys, memberships, organizations, users};
use crate::events;
use crate::idempotency::{IdempotencyRecord, Replay};
use crate::pending;
use crate::reusable::{ByShape, Reusable};
use crate::revocations::{Revocation, announce};
use crate::rows::{ORGANIZATION_COLUMNS, organization_at, returning as returning_organization};
use crate::{Page, PageRequest, Store, StoreError, exactly_one};

/// What creating an organization did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// The organization was made now.
    New,
    /// An earlier request with the same idempotency key made it; here is its answer.
    Replayed(Replay),
}

impl Store {
    /// Creates `org` with `owner` as its owner, atomically, with its event. With an
    /// idempotency record, a second request with the same key creates nothing and gets the
    /// first answer back.
    pub async fn create_organization(
        &self,
        org: &Organization,
        owner: UserId,
        idempotency: Option<&IdempotencyRecord>,
        by: Actor,
    ) -> Result<Created, StoreError> {
        if let Some(record) = idempotency
            && let Some(stored) = self.idempotent_response(&record.scope, &record.key).await?
        {
            return Ok(Created::Replayed(stored));
        }
        let (txn, _turn) = self.begin_write().await?;
        let owner_pk = user_pk(&txn, owner).await?;
        let mut model = to_active_model(org);
        model.member_count = Set(1);
        let inserted = organizations::Entity::insert(model)
            .exec(&txn)
            .await
            .map_err(|e| {
                StoreError::unique(e, "an organization with this domain already exists")
            })?;
        memberships::Entity::insert(memberships::ActiveModel {
            organization_id: Set(inserted.last_insert_id),
            user_id: Set(owner_pk),
            role: Set(Role::Owner.as_str().to_owned()),
            joined_at: Set(org.created_at),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        events::append_holding_row(
            &txn,
            &Event::organization_created(org, by, org.created_at),
            None,
        )
        .await?;
        if let Some(record) = idempotency {
            let result = idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
                scope: Set(record.scope.clone()),
                idempotency_key: Set(record.key.clone()),
                request_hash: Set(record.request_hash.clone()),
                response_status: Set(i32::from(record.response.status)),
                response_body: Set(record.response.body.clone()),
                response_headers: Set(record.response.headers_json()),
                created_at: Set(org.created_at),
                ..Default::default()
            })
            .exec(&txn)
            .await;
            if let Err(error) = result {
                txn.rollback().await?;
                if StoreError::is_unique_violation(&error) {
                    // A concurrent request with the same key won the race: answer as it did.
                    return match self.idempotent_response(&record.scope, &record.key).await? {
                        Some(stored) => Ok(Created::Replayed(stored)),
                        None => Err(StoreError::Conflict(
                            "a request with this idempotency key is in progress".into(),
                        )),
                    };
                }
                return Err(error.into());
            }
        }
        txn.commit().await?;
        Ok(Created::New)
    }

    /// Creates many organizations, each with `owner` as its owner, in one transaction of
    /// multi-row inserts: all of them or none. An import's (or a benchmark's) way in, many
    /// times faster than one by one; it takes no idempotency key and answers nothing per
    /// organization. On PostgreSQL the planner's statistics of the tables are refreshed
    /// after it.
    pub async fn import_organizations(
        &self,
        owner: UserId,
        orgs: &[Organization],
    ) -> Result<(), StoreError> {
        /// Rows per statement: about 40 columns each stays well inside the bound-parameter
        /// limits of SQLite (32,766) and PostgreSQL (65,535).
        const ROWS: usize = 500;
        let (txn, _turn) = self.begin_write().await?;
        let owner_pk = user_pk(&txn, owner).await?;
        for chunk in orgs.chunks(ROWS) {
            let models = chunk.iter().map(|org| {
                let mut model = to_active_model(org);
                model.member_count = Set(1);
                model
            });
            organizations::Entity::insert_many(models)
                .exec_without_returning(&txn)
                .await
                .map_err(|e| {
                    StoreError::unique(e, "an organization with this domain already exists")
                })?;
            // The database keys of the rows just made, by public id (a multi-row insert
            // does not promise the order it returns keys in).
            let keys: std::collections::HashMap<Uuid, i64> = organizations::Entity::find()
                .select_only()
                .column(organizations::Column::PublicId)
                .column(organizations::Column::Id)
                .filter(organizations::Column::PublicId.is_in(chunk.iter().map(|o| o.id.as_uuid())))
                .into_tuple::<(Uuid, i64)>()
                .all(&txn)
                .await?
                .into_iter()
                .collect();
            let memberships = chunk
                .iter()
                .map(|org| {
                    let pk = keys.get(&org.id.as_uuid()).copied().ok_or_else(|| {
                        StoreError::Corrupt(format!("organization {} was not inserted", org.id))
                    })?;
                    Ok(memberships::ActiveModel {
                        organization_id: Set(pk),
                        user_id: Set(owner_pk),
                        role: Set(Role::Owner.as_str().to_owned()),
                        joined_at: Set(org.created_at),
                        ..Default::default()
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            memberships::Entity::insert_many(memberships)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        if self.db().get_database_backend() == sea_orm::DbBackend::Postgres {
            // PostgreSQL plans with statistics that autovacuum refreshes in its own time:
            // until then it takes the imported rows for a handful, and a member's page, say,
            // sorts every membership instead of walking the index.
            self.db()
                .execute_unprepared("ANALYZE organizations, memberships")
                .await?;
        }
        Ok(())
    }

    /// The organization with this id.
    pub async fn organization(&self, id: OrganizationId) -> Result<Organization, StoreError> {
        read_in(self.db(), id).await
    }

    /// Whether the organization exists, reading nothing but its key.
    pub async fn organization_exists(&self, id: OrganizationId) -> Result<bool, StoreError> {
        let keys: Vec<i64> = organizations::Entity::find()
            .select_only()
            .column(organizations::Column::Id)
            .filter(organizations::Column::PublicId.eq(id.as_uuid()))
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(!keys.is_empty())
    }

    /// In one query: the organization, and the role of `user` in it (`None`: not a member,
    /// or no user).
    pub async fn organization_with_role(
        &self,
        id: OrganizationId,
        user: Option<UserId>,
    ) -> Result<(Organization, Option<Role>), StoreError> {
        let statement = organization_read(self.db().get_database_backend(), id, user);
        let rows = self.read_all(statement).await?;
        let (model, membership) = match (rows.first(), user) {
            (None, _) => None,
            (Some(row), None) => Some((organization_at(row, 0)?, None)),
            (Some(row), Some(_)) => Some((
                organization_at(row, 0)?,
                row.try_get_by_index::<Option<String>>(ORGANIZATION_COLUMNS)?,
            )),
        }
        .ok_or(StoreError::NotFound)?;
        let role = membership
            .map(|role| {
                Role::parse(&role)
                    .map_err(|e| StoreError::Corrupt(format!("memberships.role: {e}")))
            })
            .transpose()?;
        Ok((from_model(model)?, role))
    }

    /// In one query: the role of `user` in the organization (`None`: not a member, or no
    /// user), and what its rate limits derive from (its tier and its overrides).
    pub async fn organization_access(
        &self,
        id: OrganizationId,
        user: Option<UserId>,
    ) -> Result<(Option<Role>, AccountType, RateLimitOverrides), StoreError> {
        let query = organizations::Entity::find()
            .select_only()
            .column(organizations::Column::AccountType)
            .column(organizations::Column::RateLimitOverrides)
            .filter(organizations::Column::PublicId.eq(id.as_uuid()));
        let row = match user {
            None => query
                .into_tuple::<(String, Value)>()
                .all(self.db())
                .await?
                .into_iter()
                .next()
                .map(|(tier, overrides)| (tier, overrides, None)),
            Some(user) => query
                .column(memberships::Column::Role)
                .join(sea_orm::JoinType::LeftJoin, membership_of(user))
                .into_tuple::<(String, Value, Option<String>)>()
                .all(self.db())
                .await?
                .into_iter()
                .next(),
        };
        let (tier, overrides, role) = row.ok_or(StoreError::NotFound)?;
        let role = role
            .map(|r| {
                Role::parse(&r).map_err(|e| StoreError::Corrupt(format!("memberships.role: {e}")))
            })
            .transpose()?;
        let tier = AccountType::parse(&tier).map_err(corrupt("account_type"))?;
        Ok((role, tier, overrides_from_json(&overrides)))
    }

    /// Organizations in id order (creation order), all of them or those `member` belongs to.
    pub async fn list_organizations(
        &self,
        member: Option<UserId>,
        page: PageRequest,
    ) -> Result<Page<Organization>, StoreError> {
        // Pages follow the organizations' database keys (their creation order), so that a
        // member's page walks the (user, organization) index and the full list the primary
        // key: a page costs the same however many organizations there are. The cursor stays
        // the public id of the page's last organization.
        let after = match page.after {
            None => None,
            Some(after) => match organization_pk(self.db(), OrganizationId::from_uuid(after)).await
            {
                Ok(pk) => Some(pk),
                // The cursor's organization is gone: continue from where its id sorts.
                Err(StoreError::NotFound) => Some(
                    organizations::Entity::find()
                        .select_only()
                        .column(organizations::Column::Id)
                        .filter(organizations::Column::PublicId.lt(after))
                        .order_by_desc(organizations::Column::PublicId)
                        .into_tuple::<i64>()
                        .one(self.db())
                        .await?
                        .unwrap_or(0),
                ),
                Err(error) => return Err(error),
            },
        };
        let mut query = organizations::Entity::find();
        match member {
            Some(user) => {
                // The member's key comes from a scalar subquery in the same statement (a user
                // that does not exist has no memberships, so an empty page), which each
                // database evaluates once before walking the (user, organization) index.
                query = query
                    .inner_join(memberships::Entity)
                    .filter(
                        Expr::col((memberships::Entity, memberships::Column::UserId))
                            .eq(user_pk_value(user.as_uuid())),
                    )
                    .order_by_asc(memberships::Column::OrganizationId);
                if let Some(after) = after {
                    query = query.filter(memberships::Column::OrganizationId.gt(after));
                }
            }
            None => {
                query = query.order_by_asc(organizations::Column::Id);
                if let Some(after) = after {
                    query = query.filter(organizations::Column::Id.gt(after));
                }
            }
        }
        let statement = crate::limited(self.db().get_database_backend(), &query, page.limit + 1);
        // On the pool rather than the store's own connections: a page's statement is long
        // enough that the pool's round trip more does not show, and SQLite serves more of
        // them at once on the pool's connections (measured: 1.02-1.06x the ceiling's CPU
        // against 1.19-1.20x on the two readers).
        let items = self
            .db()
            .query_all_raw(statement)
            .await?
            .iter()
            .map(|row| from_model(organization_at(row, 0)?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |org| {
            org.id.as_uuid()
        }))
    }

    /// Applies `changes`, writing only the columns they name and bumping the version, with
    /// its `organization.updated` event. With `expected_version`, the change applies only
    /// if the stored version is that one.
    pub async fn update_organization(
        &self,
        id: OrganizationId,
        changes: &OrganizationChanges,
        expected_version: Option<u64>,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<Organization, StoreError> {
        self.update_organization_if(id, changes, expected_version, false, by, now, None)
            .await
    }

    /// As [`Store::update_organization`]; with `require_active`, the change applies only
    /// while the organization is active (else [`RuleViolation::OrganizationInactive`]).
    ///
    /// In one transaction: the row is read and locked (the event's "from" values), updated
    /// (the row comes back with the update) and the event appended, so a concurrent change
    /// can neither slip between the checks and the write nor make the event lie.
    ///
    /// `known` is the organization as the caller just read it: when it passes the checks,
    /// the update applies only to that version (`WHERE version = …`), which saves reading
    /// the row again; if another change came first, the row is read and locked as above.
    #[allow(
        clippy::too_many_arguments,
        reason = "each is one condition of the write"
    )]
    pub async fn update_organization_if(
        &self,
        id: OrganizationId,
        changes: &OrganizationChanges,
        expected_version: Option<u64>,
        require_active: bool,
        by: Actor,
        now: OffsetDateTime,
        known: Option<&Organization>,
    ) -> Result<Organization, StoreError> {
        if let Some(before) = known
            && before.id == id
            && expected_version.is_none_or(|v| v == before.version)
            && (!require_active || before.is_active)
        {
            // One statement: the update and, only if it applied, its event.
            if let Some(after) = self
                .update_organization_at(before, changes, by, now)
                .await?
            {
                return Ok(after);
            }
        }
        self.update_locked(id, changes, expected_version, require_active, by, now)
            .await
    }

    /// Applies `changes` to the organization only while it is still as `before` (the
    /// stored version is `before`'s), with its `organization.updated` event, in one
    /// statement: on SQLite the event rides in the `pending_event_*` columns, which a
    /// trigger moves into the events; on PostgreSQL a `WITH … INSERT` appends it if (and
    /// only if) the update applied. `None`: it is not (another change came first, or it
    /// is gone), and nothing was written.
    ///
    /// The change applied to `before` in memory is what the row becomes: every write of an
    /// organization bumps its version, so the row the update matched is `before`, column
    /// for column. The event is made from it, and so is the answer: the statement returns
    /// the version alone, rather than a row of forty columns to decode.
    pub async fn update_organization_at(
        &self,
        before: &Organization,
        changes: &OrganizationChanges,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Organization>, StoreError> {
        let mut after = before.clone();
        changes.apply_to(&mut after);
        after.version = before.version + 1;
        after.updated_at = now;
        let event = Event::organization_updated(before, &after, &changes.fields(), by, now);
        let backend = self.db().get_database_backend();
        let statement = known_update(backend, before, changes, &event, now)?;
        let rows = self.write_one(statement).await?.map_err(|e| {
            StoreError::unique(e, "an organization with this domain already exists")
        })?;
        Ok((!rows.is_empty()).then_some(after))
    }

    /// The update of a row read and locked first, and its event, in one transaction.
    async fn update_locked(
        &self,
        id: OrganizationId,
        changes: &OrganizationChanges,
        expected_version: Option<u64>,
        require_active: bool,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<Organization, StoreError> {
        use organizations::Column as C;
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let before = organizations::Entity::find()
                .filter(C::PublicId.eq(id.as_uuid()))
                .lock_exclusive()
                .all(&txn)
                .await?
                .into_iter()
                .next()
                .ok_or(StoreError::NotFound)?;
            let before = from_model(before)?;
            if require_active && !before.is_active {
                return Err(RuleViolation::OrganizationInactive.into());
            }
            if expected_version.is_some_and(|v| v != before.version) {
                return Err(StoreError::VersionMismatch);
            }
            let updated = update_returning(&txn, update_statement(id, changes, now))
                .await
                .map_err(|e| {
                    StoreError::unique(e, "an organization with this domain already exists")
                })?;
            let after = match <[_; 1]>::try_from(updated) {
                Ok([model]) => from_model(model)?,
                Err(models) => {
                    return Err(StoreError::Corrupt(format!(
                        "{} organizations have the id {id}",
                        models.len()
                    )));
                }
            };
            let event = Event::organization_updated(&before, &after, &changes.fields(), by, now);
            events::append_holding_row(&txn, &event, None).await?;
            Ok(after)
        }
        .await;
        crate::members::finish(txn, result).await
    }

    /// Deletes an organization with its memberships and keys, with its event.
    pub async fn delete_organization(
        &self,
        id: OrganizationId,
        by: Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            let org = organizations::Entity::find()
                .filter(organizations::Column::PublicId.eq(id.as_uuid()))
                .lock_exclusive()
                .all(&txn)
                .await?
                .into_iter()
                .next()
                .ok_or(StoreError::NotFound)?;
            let org = from_model(org)?;
            let event = Event::organization_deleted(&org, by, now);
            events::append_holding_row(&txn, &event, None).await?;
            let result = organizations::Entity::delete_many()
                .filter(organizations::Column::PublicId.eq(id.as_uuid()))
                .exec(&txn)
                .await?;
            exactly_one(result.rows_affected)?;
            // Its keys went with it (the foreign key cascades).
            announce(&txn, Revocation::All).await
        }
        .await;
        crate::members::finish(txn, result).await
    }
}

/// The organization rows an `UPDATE` returning [`returning_organization`] answers, decoded
/// by position.
async fn updated_rows(
    db: &impl ConnectionTrait,
    statement: sea_orm::Statement,
) -> Result<Vec<organizations::Model>, sea_orm::DbErr> {
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| organization_at(row, 0))
        .collect()
}

/// Runs an `UPDATE` of organizations, answering the rows it changed as they are now.
pub(crate) async fn update_returning(
    db: &impl ConnectionTrait,
    update: sea_orm::UpdateMany<organizations::Entity>,
) -> Result<Vec<organizations::Model>, sea_orm::DbErr> {
    updated_rows(
        db,
        returning_statement(db.get_database_backend(), update, returning_organization()),
    )
    .await
}

/// An `UPDATE` of organizations that answers `returning` of the rows it changed, as they
/// are now (every column, [`returning_organization`], is read back with
/// [`organization_at`]).
pub(crate) fn returning_statement(
    backend: sea_orm::DbBackend,
    update: sea_orm::UpdateMany<organizations::Entity>,
    returning: ReturningClause,
) -> sea_orm::Statement {
    use sea_orm::QueryTrait as _;
    let mut update = update.into_query();
    update.returning(returning);
    backend.build(&update)
}

/// `RETURNING` only the version: for a write that knows what the row becomes, and needs
/// to hear only whether it applied.
pub(crate) fn returning_version() -> ReturningClause {
    sea_orm::sea_query::Query::returning().column(organizations::Column::Version)
}

/// On PostgreSQL, one statement: `update` (an `UPDATE` of organizations) as
/// the common table `updated`, `insert` (which reads `updated`, so it writes only if the
/// update did) as `appended`, answering `returning` of the updated rows (which must name
/// what `insert` reads of `updated`).
pub(crate) fn with_appended(
    backend: sea_orm::DbBackend,
    mut update: sea_orm::sea_query::UpdateStatement,
    insert: sea_orm::sea_query::InsertStatement,
    returning: ReturningClause,
) -> sea_orm::Statement {
    use sea_orm::sea_query::{Alias, Asterisk, CommonTableExpression, Query, WithQuery};
    // Each part is moved into the next, never cloned: the statement holds the event's JSON.
    update.returning(returning);
    let mut updated = CommonTableExpression::new();
    updated.query(update).table_name(Alias::new("updated"));
    let mut appended = CommonTableExpression::new();
    appended.query(insert).table_name(Alias::new("appended"));
    let mut select = Query::select();
    select.column(Asterisk).from(Alias::new("updated"));
    let mut with = WithQuery::new();
    with.cte(updated).cte(appended).query(select);
    backend.build(&with)
}

/// The SQL of [`known_update`]s, by the columns they write.
static KNOWN_UPDATES: ByShape = ByShape::new();

/// [`Store::update_organization_at`]'s statement: the update of a row still at `before`'s
/// version with its event. Its SQL follows the columns `changes` writes, and is built once
/// for each set of them; its values are made without building it (see [`ByShape`]).
fn known_update(
    backend: sea_orm::DbBackend,
    before: &Organization,
    changes: &OrganizationChanges,
    event: &Event,
    now: OffsetDateTime,
) -> Result<sea_orm::Statement, StoreError> {
    let columns = changed_columns(changes);
    let shape = shape_of(&columns);
    let postgres = backend == sea_orm::DbBackend::Postgres;
    let build = || {
        use sea_orm::QueryTrait as _;
        let update = update_of_columns(before.id, columns.clone(), now)
            .filter(organizations::Column::Version.eq(before.version as i64));
        Ok(if postgres {
            let insert = events::insert_for_each_row_of(event, "updated");
            with_appended(backend, update.into_query(), insert, returning_version())
        } else {
            let update = pending::EVENT_COLUMNS
                .iter()
                .zip(pending::event_values(event)?)
                .fold(update, |update, (column, value)| {
                    update.col_expr(Alias::new(*column), Expr::value(value))
                });
            returning_statement(backend, update, returning_version())
        })
    };
    let values = || {
        // In the order sea-query binds them: the `SET`s, the `WHERE`, then the event's.
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(columns.len() + 16);
        values.push(1i32.into());
        values.push(now.into());
        values.extend(columns.iter().map(|(_, value)| value.clone()));
        if !postgres {
            values.extend(pending::event_values(event)?);
        }
        values.push(before.id.as_uuid().into());
        values.push((before.version as i64).into());
        if postgres {
            values.extend(events::insert_for_each_row_values(event));
        }
        Ok(values)
    };
    KNOWN_UPDATES.statement(backend, shape, build, values)
}

/// Which columns `columns` names, one bit each: the shape of a [`known_update`].
fn shape_of(columns: &[(organizations::Column, sea_orm::Value)]) -> u128 {
    columns
        .iter()
        .fold(0, |shape, (column, _)| shape | 1 << (*column as u32))
}

/// The `UPDATE` that writes `changes` and bumps the version.
fn update_statement(
    id: OrganizationId,
    changes: &OrganizationChanges,
    now: OffsetDateTime,
) -> sea_orm::UpdateMany<organizations::Entity> {
    update_of_columns(id, changed_columns(changes), now)
}

/// The `UPDATE` that writes `columns` and bumps the version.
fn update_of_columns(
    id: OrganizationId,
    columns: Vec<(organizations::Column, sea_orm::Value)>,
    now: OffsetDateTime,
) -> sea_orm::UpdateMany<organizations::Entity> {
    use organizations::Column as C;
    let mut update = organizations::Entity::update_many()
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::PublicId.eq(id.as_uuid()));
    for (column, value) in columns {
        update = update.col_expr(column, Expr::value(value));
    }
    update
}

/// Adds `delta` to one of the organization's counters (`member_count`, `workspace_count`)
/// and bumps its version; with `below`, only while the counter is under that column (its
/// quota). Taking the row this way first serializes concurrent changes to one organization.
/// Answers whether the row was changed.
pub(crate) async fn bump_count(
    db: &impl ConnectionTrait,
    org: OrganizationId,
    counter: organizations::Column,
    delta: i64,
    below: Option<organizations::Column>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    use organizations::Column as C;
    let mut update = organizations::Entity::update_many()
        .col_expr(counter, Expr::col(counter).add(delta))
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::PublicId.eq(org.as_uuid()));
    if let Some(quota) = below {
        update = update.filter(Expr::col(counter).lt(Expr::col(quota)));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Joins an organization to the membership of `user` in it, if there is one.
fn membership_of(user: UserId) -> sea_orm::RelationDef {
    membership_of_user(user.as_uuid())
}

/// `SELECT id FROM users WHERE public_id = user`: a user's database key, as a subquery.
fn user_pk_query(user: Uuid) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(users::Column::Id)
        .from(users::Entity)
        .and_where(Expr::col(users::Column::PublicId).eq(user))
        .to_owned()
}

/// `(SELECT id FROM users WHERE public_id = user)`: a user's database key as a scalar
/// subquery (`NULL` when there is no such user), which both databases evaluate once.
/// Compared with `=` rather than `IN`: SQLite answers `IN (SELECT …)` by building a
/// temporary table of the subquery's rows on every execution.
fn user_pk_value(user: Uuid) -> Expr {
    Expr::SubQuery(None, Box::new(user_pk_query(user).into()))
}

/// Joins an organization to the membership of `user` in it, if there is one.
fn membership_of_user(user: Uuid) -> sea_orm::RelationDef {
    use sea_orm::sea_query::IntoCondition;
    organizations::Relation::Memberships
        .def()
        .on_condition(move |_organizations, memberships| {
            Expr::col((memberships, memberships::Column::UserId))
                .eq(user_pk_value(user))
                .into_condition()
        })
}

/// The statement [`Store::organization_with_role`] runs: the organization's columns and,
/// with a user, that user's role in it (`NULL`: not a member) as one more column. Every
/// request about an organization begins here, so its SQL is built once.
pub(crate) fn organization_read(
    backend: DbBackend,
    id: OrganizationId,
    user: Option<UserId>,
) -> Statement {
    use sea_orm::QueryTrait as _;
    static ALONE: Reusable<1> = Reusable::new();
    static WITH_ROLE: Reusable<2> = Reusable::new();
    let by_id =
        |id: Uuid| organizations::Entity::find().filter(organizations::Column::PublicId.eq(id));
    match user {
        None => ALONE.statement(backend, [id.as_uuid()], |[id]| by_id(id).build(backend)),
        Some(user) => WITH_ROLE.statement(backend, [id.as_uuid(), user.as_uuid()], |[id, user]| {
            let mut statement = by_id(id)
                .column_as(memberships::Column::Role, "role")
                .join(sea_orm::JoinType::LeftJoin, membership_of_user(user))
                .build(backend);
            if backend == DbBackend::Sqlite {
                statement.sql = through_covering_index(&statement.sql);
            }
            statement
        }),
    }
}

/// `sql`, a read of an organization joined to a membership, with the join through the
/// SQLite index that holds every column of a membership, so that the role is read from the
/// index's page rather than from the membership's row (the migration that makes the index
/// says why the planner has to be told).
fn through_covering_index(sql: &str) -> String {
    let join = r#"LEFT JOIN "memberships""#;
    assert!(sql.contains(join), "the read joins memberships: {sql}");
    sql.replacen(
        join,
        &format!(
            r#"{join} INDEXED BY "{}""#,
            tenantry_migrations::SQLITE_MEMBERSHIPS_INDEX
        ),
        1,
    )
}

pub(crate) async fn user_pk(db: &impl ConnectionTrait, id: UserId) -> Result<i64, StoreError> {
    users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::PublicId.eq(id.as_uuid()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

/// Reads an organization on `db` (the pool, or a transaction).
pub(crate) async fn read_in(
    db: &impl ConnectionTrait,
    id: OrganizationId,
) -> Result<Organization, StoreError> {
    use sea_orm::QueryTrait as _;
    let select = organizations::Entity::find()
        .filter(organizations::Column::PublicId.eq(id.as_uuid()))
        .build(db.get_database_backend());
    let rows = db.query_all_raw(select).await?;
    let row = rows.first().ok_or(StoreError::NotFound)?;
    from_model(organization_at(row, 0)?)
}

pub(crate) async fn organization_pk(
    db: &impl ConnectionTrait,
    id: OrganizationId,
) -> Result<i64, StoreError> {
    organizations::Entity::find()
        .select_only()
        .column(organizations::Column::Id)
        .filter(organizations::Column::PublicId.eq(id.as_uuid()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

fn modules_json(modules: &Modules) -> Value {
    Value::Array(
        modules
            .iter()
            .map(|m| Value::String(m.as_str().to_owned()))
            .collect(),
    )
}

fn overrides_json(overrides: &RateLimitOverrides) -> Value {
    let map: Map<String, Value> = RateLimitCategory::ALL
        .into_iter()
        .filter_map(|c| overrides.get(c).map(|v| (c.as_str().to_owned(), json!(v))))
        .collect();
    Value::Object(map)
}

fn overrides_from_json(value: &Value) -> RateLimitOverrides {
    let mut overrides = RateLimitOverrides::default();
    if let Value::Object(map) = value {
        for category in RateLimitCategory::ALL {
            let value = map.get(category.as_str()).and_then(Value::as_u64);
            overrides.set(
                category,
                value.map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
            );
        }
    }
    overrides
}

fn credentials_json(credentials: &LlmCredentials) -> Value {
    Value::Object(
        credentials
            .iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect(),
    )
}

fn text<T: AsRef<str>>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(|v| v.as_ref().to_owned())
}

/// The columns a change writes, with their values: one arm per field, so a new field does
/// not compile until it says which columns it writes.
fn changed_columns(changes: &OrganizationChanges) -> Vec<(organizations::Column, sea_orm::Value)> {
    use organizations::Column as C;
    let mut columns: Vec<(C, sea_orm::Value)> = Vec::new();
    for change in changes.changes() {
        match change {
            FieldChange::Name(name) => columns.push((C::Name, name.as_str().into())),
            FieldChange::Domain(domain) => columns.push((C::Domain, text(domain).into())),
            FieldChange::Logo(logo) => {
                columns.push((
                    C::LogoType,
                    logo.as_ref()
                        .map(|l| l.image_type().content_type().to_owned())
                        .into(),
                ));
                columns.push((
                    C::LogoData,
                    logo.as_ref().map(|l| l.bytes().to_vec()).into(),
                ));
            }
            FieldChange::LogoUrl(url) => columns.push((C::LogoUrl, text(url).into())),
            FieldChange::BillingEmail(email) => columns.push((C::BillingEmail, text(email).into())),
            FieldChange::NotificationsEmail(email) => {
                columns.push((C::NotificationsEmail, text(email).into()));
            }
            FieldChange::AccountType(account_type) => {
                columns.push((C::AccountType, account_type.as_str().into()));
            }
            FieldChange::Plan(plan) => columns.push((C::Plan, plan.as_str().into())),
            FieldChange::ContractEndDate(date) => {
                columns.push((C::ContractEndDate, (*date).into()))
            }
            FieldChange::SalesforceCode(code) => {
                columns.push((C::SalesforceCode, text(code).into()))
            }
            FieldChange::IsActive(active) => columns.push((C::IsActive, (*active).into())),
            FieldChange::AutoBillingEnabled(enabled) => {
                columns.push((C::AutoBillingEnabled, (*enabled).into()));
            }
            FieldChange::BillingCycleStart(day) => {
                columns.push((C::BillingCycleStart, i32::from(day.get()).into()));
            }
            FieldChange::CreditAllocation(allocation) => {
                columns.push((C::CreditAllocation, allocation.map(|a| a as i64).into()));
            }
            FieldChange::Modules(modules) => {
                columns.push((C::Modules, modules_json(modules).into()))
            }
            FieldChange::UserQuota(quota) => columns.push((C::UserQuota, quota_value(*quota))),
            FieldChange::WorkspaceQuota(quota) => {
                columns.push((C::WorkspaceQuota, quota_value(*quota)));
            }
            FieldChange::AnalysisQuota(quota) => {
                columns.push((C::AnalysisQuota, quota_value(*quota)))
            }
            FieldChange::AssetEvaluationQuota(quota) => {
                columns.push((C::AssetEvaluationQuota, quota_value(*quota)));
            }
            FieldChange::SearchCredits(quota) => {
                columns.push((C::SearchCredits, quota_value(*quota)))
            }
            FieldChange::RateLimitOverrides(overrides) => {
                columns.push((C::RateLimitOverrides, overrides_json(overrides).into()));
            }
            FieldChange::MaxOverages(max) => {
                columns.push((C::MaxOverages, max.map(|m| m as i64).into()));
            }
            FieldChange::Metadata(metadata) => {
                columns.push((C::Metadata, metadata.to_json().into()))
            }
            FieldChange::DefaultLlmCredentials(credentials) => {
                columns.push((
                    C::DefaultLlmCredentials,
                    credentials_json(credentials).into(),
                ));
            }
            FieldChange::NsfwCheckEnabled(enabled) => {
                columns.push((C::NsfwCheckEnabled, (*enabled).into()));
            }
            FieldChange::NsfwFailClosed(closed) => {
                columns.push((C::NsfwFailClosed, (*closed).into()))
            }
            FieldChange::Infrastructure(infrastructure) => {
                columns.push((C::Infrastructure, text(infrastructure).into()));
            }
            FieldChange::ApiUrl(url) => columns.push((C::ApiUrl, text(url).into())),
            FieldChange::AuthProviderOrgId(id) => {
                columns.push((C::AuthProviderOrgId, text(id).into()));
            }
        }
    }
    columns
}

fn quota_value(quota: Quota) -> sea_orm::Value {
    (quota.get() as i32).into()
}

fn to_active_model(org: &Organization) -> organizations::ActiveModel {
    organizations::ActiveModel {
        id: Default::default(),
        public_id: Set(org.id.as_uuid()),
        name: Set(org.name.as_str().to_owned()),
        domain: Set(text(&org.domain)),
        logo_type: Set(org
            .logo
            .as_ref()
            .map(|l| l.image_type().content_type().to_owned())),
        logo_data: Set(org.logo.as_ref().map(|l| l.bytes().to_vec())),
        logo_url: Set(text(&org.logo_url)),
        billing_email: Set(text(&org.billing_email)),
        notifications_email: Set(text(&org.notifications_email)),
        account_type: Set(org.account_type.as_str().to_owned()),
        plan: Set(org.plan.as_str().to_owned()),
        contract_end_date: Set(org.contract_end_date),
        salesforce_code: Set(text(&org.salesforce_code)),
        is_active: Set(org.is_active),
        auto_billing_enabled: Set(org.auto_billing_enabled),
        billing_cycle_start: Set(i32::from(org.billing_cycle_start.get())),
        credit_allocation: Set(org.credit_allocation.map(|a| a as i64)),
        modules: Set(modules_json(&org.modules)),
        user_quota: Set(org.user_quota.get() as i32),
        workspace_quota: Set(org.workspace_quota.get() as i32),
        analysis_quota: Set(org.analysis_quota.get() as i32),
        asset_evaluation_quota: Set(org.asset_evaluation_quota.get() as i32),
        search_credits: Set(org.search_credits.get() as i32),
        rate_limit_overrides: Set(overrides_json(&org.rate_limit_overrides)),
        max_overages: Set(org.max_overages.map(|m| m as i64)),
        metadata: Set(org.metadata.to_json()),
        default_llm_credentials: Set(credentials_json(&org.default_llm_credentials)),
        nsfw_check_enabled: Set(org.nsfw_check_enabled),
        nsfw_fail_closed: Set(org.nsfw_fail_closed),
        infrastructure: Set(text(&org.infrastructure)),
        api_url: Set(text(&org.api_url)),
        auth_provider_org_id: Set(text(&org.auth_provider_org_id)),
        usage_cycle_start: Set(org.usage.cycle_start),
        credits_used: Set(org.usage.credits_used as i64),
        member_count: Set(org.member_count as i64),
        workspace_count: Set(org.workspace_count as i64),
        version: Set(org.version as i64),
        created_at: Set(org.created_at),
        updated_at: Set(org.updated_at),
    }
}

fn corrupt(column: &str) -> impl Fn(tenantry_domain::InvalidValue) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("organizations.{column}: {e}"))
}

fn opt<T, E>(
    value: Option<String>,
    parse: impl Fn(String) -> Result<T, E>,
) -> Result<Option<T>, E> {
    value.map(parse).transpose()
}

pub(crate) fn from_model(m: organizations::Model) -> Result<Organization, StoreError> {
    let quota =
        |column: &'static str, value: i32| Quota::parse(i64::from(value)).map_err(corrupt(column));
    let logo = match (m.logo_type, m.logo_data) {
        (Some(content_type), Some(bytes)) => {
            let image_type = ImageType::from_content_type(&content_type)
                .ok_or_else(|| StoreError::Corrupt("organizations.logo_type".into()))?;
            Some(Logo::from_bytes(image_type, bytes).map_err(corrupt("logo_data"))?)
        }
        _ => None,
    };
    let modules = match &m.modules {
        Value::Array(items) => Modules::parse(items.iter().filter_map(Value::as_str)),
        _ => Modules::new([]),
    }
    .map_err(corrupt("modules"))?;
    let mut overrides = RateLimitOverrides::default();
    if let Value::Object(map) = &m.rate_limit_overrides {
        for category in RateLimitCategory::ALL {
            let value = map.get(category.as_str()).and_then(Value::as_u64);
            overrides.set(
                category,
                value.map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
            );
        }
    }
    let credentials = match m.default_llm_credentials {
        Value::Object(map) => LlmCredentials::parse(
            map.into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned())),
        ),
        _ => Ok(LlmCredentials::default()),
    }
    .map_err(corrupt("default_llm_credentials"))?;
    Ok(Organization {
        id: OrganizationId::from_uuid(m.public_id),
        name: OrganizationName::parse(m.name).map_err(corrupt("name"))?,
        domain: opt(m.domain, DomainName::parse).map_err(corrupt("domain"))?,
        logo,
        logo_url: opt(m.logo_url, HttpUrl::parse).map_err(corrupt("logo_url"))?,
        billing_email: opt(m.billing_email, Email::parse).map_err(corrupt("billing_email"))?,
        notifications_email: opt(m.notifications_email, Email::parse)
            .map_err(corrupt("notifications_email"))?,
        account_type: AccountType::parse(&m.account_type).map_err(corrupt("account_type"))?,
        plan: Plan::parse(&m.plan).map_err(corrupt("plan"))?,
        contract_end_date: m.contract_end_date,
        salesforce_code: opt(m.salesforce_code, SalesforceCode::parse)
            .map_err(corrupt("salesforce_code"))?,
        is_active: m.is_active,
        auto_billing_enabled: m.auto_billing_enabled,
        billing_cycle_start: BillingCycleDay::parse(i64::from(m.billing_cycle_start))
            .map_err(corrupt("billing_cycle_start"))?,
        credit_allocation: m.credit_allocation.map(non_negative),
        modules,
        user_quota: quota("user_quota", m.user_quota)?,
        workspace_quota: quota("workspace_quota", m.workspace_quota)?,
        analysis_quota: quota("analysis_quota", m.analysis_quota)?,
        asset_evaluation_quota: quota("asset_evaluation_quota", m.asset_evaluation_quota)?,
        search_credits: quota("search_credits", m.search_credits)?,
        rate_limit_overrides: overrides,
        max_overages: m.max_overages.map(non_negative),
        metadata: Metadata::parse(m.metadata).map_err(corrupt("metadata"))?,
        default_llm_credentials: credentials,
        nsfw_check_enabled: m.nsfw_check_enabled,
        nsfw_fail_closed: m.nsfw_fail_closed,
        infrastructure: opt(m.infrastructure, |v| {
            TextLine::parse(v, limits::TEXT_LINE_MAX_CHARS)
        })
        .map_err(corrupt("infrastructure"))?,
        api_url: opt(m.api_url, HttpUrl::parse).map_err(corrupt("api_url"))?,
        auth_provider_org_id: opt(m.auth_provider_org_id, |v| {
            TextLine::parse(v, limits::TEXT_LINE_MAX_CHARS)
        })
        .map_err(corrupt("auth_provider_org_id"))?,
        usage: Usage {
            cycle_start: m.usage_cycle_start,
            credits_used: non_negative(m.credits_used),
        },
        member_count: non_negative(m.member_count),
        workspace_count: non_negative(m.workspace_count),
        version: non_negative(m.version),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// A count or amount read back from an integer column, which is never negative.
pub(crate) fn non_negative(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use tenantry_domain::{NewOrganization, OrganizationName};

    use super::*;

    /// A change of every field, to the value `org` has.
    fn every_field_of(org: &Organization) -> OrganizationChanges {
        OrganizationChanges {
            name: Some(org.name.clone()),
            domain: Some(org.domain.clone()),
            logo: Some(org.logo.clone()),
            logo_url: Some(org.logo_url.clone()),
            billing_email: Some(org.billing_email.clone()),
            notifications_email: Some(org.notifications_email.clone()),
            account_type: Some(org.account_type),
            plan: Some(org.plan),
            contract_end_date: Some(org.contract_end_date),
            salesforce_code: Some(org.salesforce_code.clone()),
            is_active: Some(org.is_active),
            auto_billing_enabled: Some(org.auto_billing_enabled),
            billing_cycle_start: Some(org.billing_cycle_start),
            credit_allocation: Some(org.credit_allocation),
            modules: Some(org.modules.clone()),
            user_quota: Some(org.user_quota),
            workspace_quota: Some(org.workspace_quota),
            analysis_quota: Some(org.analysis_quota),
            asset_evaluation_quota: Some(org.asset_evaluation_quota),
            search_credits: Some(org.search_credits),
            rate_limit_overrides: Some(org.rate_limit_overrides),
            max_overages: Some(org.max_overages),
            metadata: Some(org.metadata.clone()),
            default_llm_credentials: Some(org.default_llm_credentials.clone()),
            nsfw_check_enabled: Some(org.nsfw_check_enabled),
            nsfw_fail_closed: Some(org.nsfw_fail_closed),
            infrastructure: Some(org.infrastructure.clone()),
            api_url: Some(org.api_url.clone()),
            auth_provider_org_id: Some(org.auth_provider_org_id.clone()),
        }
    }

    /// The update of a known row is built with sea-query once for each set of columns:
    /// after that, its SQL is kept and its values made by hand are the ones sea-query
    /// binds, on both databases, for a change of one field and of every field.
    #[test]
    fn a_known_update_is_built_once_a_shape_and_its_values_made_as_sea_query_binds_them() {
        let now = OffsetDateTime::now_utc();
        let mut before = Organization::new(
            NewOrganization {
                name: OrganizationName::parse("Acme").unwrap(),
                domain: None,
            },
            now,
        );
        before.version = 7;
        let name_only = OrganizationChanges {
            name: Some(OrganizationName::parse("Acme Two").unwrap()),
            ..Default::default()
        };
        for changes in [name_only, every_field_of(&before)] {
            for backend in [sea_orm::DbBackend::Sqlite, sea_orm::DbBackend::Postgres] {
                let mut after = before.clone();
                changes.apply_to(&mut after);
                let event = Event::organization_updated(
                    &before,
                    &after,
                    &changes.fields(),
                    Actor::PlatformAdmin(None),
                    now,
                );
                let first = known_update(backend, &before, &changes, &event, now).unwrap();
                let shape = shape_of(&changed_columns(&changes));
                assert!(
                    KNOWN_UPDATES.keeps(backend, shape),
                    "{backend:?}: {:?}",
                    changes.fields()
                );
                let again = known_update(backend, &before, &changes, &event, now).unwrap();
                assert_eq!(again, first, "{backend:?}: {:?}", changes.fields());
                assert!(first.sql.contains("RETURNING"), "{}", first.sql);
            }
        }
    }
}
