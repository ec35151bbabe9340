use time::OffsetDateTime;

use crate::error::InvalidValue;
use crate::ids::UserId;
use crate::values::{Email, TextLine, limits};

/// A person's display name: 1 to 255 characters on one line.
pub type UserName = TextLine;

impl TextLine {
    /// A user's display name.
    pub fn user_name(value: impl Into<String>) -> Result<UserName, InvalidValue> {
        TextLine::parse(value, limits::NAME_MAX_CHARS)
    }
}

/// A person who can belong to organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: UserName,
    pub created_at: OffsetDateTime,
}

impl User {
    pub fn new(email: Email, name: UserName, now: OffsetDateTime) -> Self {
        Self {
            id: UserId::generate(),
            email,
            name,
            created_at: now,
        }
    }
}
