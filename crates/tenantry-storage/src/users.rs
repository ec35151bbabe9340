//! Users.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tenantry_domain::{Actor, Email, Event, TextLine, User, UserId};

use crate::entities::users;
use crate::events;
use crate::members::finish;
use crate::{Store, StoreError};

impl Store {
    /// Adds a user, with its event; an email already taken (in any letter case) is a
    /// conflict.
    pub async fn create_user(&self, user: &User, by: Actor) -> Result<(), StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let result = async {
            users::Entity::insert(users::ActiveModel {
                public_id: Set(user.id.as_uuid()),
                email: Set(user.email.as_str().to_owned()),
                email_normalized: Set(user.email.normalized()),
                name: Set(user.name.as_str().to_owned()),
                created_at: Set(user.created_at),
                ..Default::default()
            })
            .exec(&txn)
            .await
            .map_err(|e| StoreError::unique(e, "a user with this email already exists"))?;
            let event = Event::user_created(user, by, user.created_at);
            events::append(&txn, &event, None).await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    pub async fn user(&self, id: UserId) -> Result<User, StoreError> {
        let model = users::Entity::find()
            .filter(users::Column::PublicId.eq(id.as_uuid()))
            .all(self.db())
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)?;
        user_from_model(model)
    }
}

pub(crate) fn user_from_model(m: users::Model) -> Result<User, StoreError> {
    fn corrupt(column: &'static str) -> impl Fn(tenantry_domain::InvalidValue) -> StoreError {
        move |e| StoreError::Corrupt(format!("users.{column}: {e}"))
    }
    Ok(User {
        id: UserId::from_uuid(m.public_id),
        email: Email::parse(m.email).map_err(corrupt("email"))?,
        name: TextLine::user_name(m.name).map_err(corrupt("name"))?,
        created_at: m.created_at,
    })
}
