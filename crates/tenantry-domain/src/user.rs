use time::OffsetDateTime;

use crate::error::InvalidValue;
use crate::ids::UserId;
use crate::values::{Email, TextLine, limits};

/// A person's display name: 1 to 255 characters on one line.
pub type UserName = TextLine;

impl TextLine {
    /// A user's display name.
    ///
    /// ```
    /// use tenantry_domain::TextLine;
    ///
    /// assert_eq!(TextLine::user_name("Ada Lovelace").unwrap().as_str(), "Ada Lovelace");
    /// assert!(TextLine::user_name("").is_err());
    /// assert!(TextLine::user_name("Ada\nLovelace").is_err(), "one line");
    /// ```
    pub fn user_name(value: impl Into<String>) -> Result<UserName, InvalidValue> {
        TextLine::parse(value, limits::NAME_MAX_CHARS)
    }
}

/// A person who can belong to organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Their public id.
    pub id: UserId,
    /// Their email address, unique among users whatever its letter case.
    pub email: Email,
    /// How they are shown.
    pub name: UserName,
    /// When they were added.
    pub created_at: OffsetDateTime,
}

impl User {
    /// A new user with a new id.
    ///
    /// ```
    /// use tenantry_domain::{Email, TextLine, User};
    ///
    /// let ada = User::new(
    ///     Email::parse("ada@example.com").unwrap(),
    ///     TextLine::user_name("Ada").unwrap(),
    ///     time::OffsetDateTime::now_utc(),
    /// );
    /// assert_eq!(ada.email.as_str(), "ada@example.com");
    /// ```
    pub fn new(email: Email, name: UserName, now: OffsetDateTime) -> Self {
        Self {
            id: UserId::generate(),
            email,
            name,
            created_at: now,
        }
    }
}
