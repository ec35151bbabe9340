//! Who is calling, once authenticated (see `auth.rs`), and what that decides without the
//! database: which organization a key may see, the actor it is in the ledger and the audit
//! log. A leaf: it knows no state, no store and no request.

use tenantry_domain::{Access, Actor, ApiKeyId, OrganizationId, Role, UserId};

use crate::error::ApiError;

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The platform administrator, by the configured token (`key_id` `None`) or a stored
    /// admin key.
    PlatformAdmin { key_id: Option<ApiKeyId> },
    /// A user, acting in every organization they belong to.
    User { user_id: UserId, key_id: ApiKeyId },
    /// A key scoped to one organization: as its user's role there, or as an organization
    /// admin when it has no user.
    Organization {
        organization_id: OrganizationId,
        user_id: Option<UserId>,
        key_id: ApiKeyId,
    },
}

impl Caller {
    pub fn is_platform_admin(&self) -> bool {
        matches!(self, Self::PlatformAdmin { .. })
    }

    /// The stored key this caller presented, if it presented one (not the configured admin
    /// token).
    pub fn key_id(&self) -> Option<ApiKeyId> {
        match *self {
            Self::PlatformAdmin { key_id } => key_id,
            Self::User { key_id, .. } | Self::Organization { key_id, .. } => Some(key_id),
        }
    }

    /// The user this caller acts as, if any.
    pub fn user_id(&self) -> Option<UserId> {
        match *self {
            Self::PlatformAdmin { .. } => None,
            Self::User { user_id, .. } => Some(user_id),
            Self::Organization { user_id, .. } => user_id,
        }
    }

    /// Who this caller is in the usage ledger and the audit trail: a key that acts as a
    /// user is that user.
    pub fn actor(&self) -> Actor {
        match *self {
            Self::PlatformAdmin { key_id } => Actor::PlatformAdmin(key_id),
            Self::User { user_id, .. }
            | Self::Organization {
                user_id: Some(user_id),
                ..
            } => Actor::User(user_id),
            Self::Organization {
                user_id: None,
                key_id,
                ..
            } => Actor::Key(key_id),
        }
    }

    /// A stable name of the caller, for scoping idempotency keys.
    pub fn scope_key(&self) -> String {
        match self {
            Self::PlatformAdmin { .. } => "admin".to_owned(),
            Self::User { user_id, .. } => format!("user:{user_id}"),
            Self::Organization { key_id, .. } => format!("key:{key_id}"),
        }
    }

    /// Whether this caller can see `org` at all, before any membership is known: an
    /// organization-scoped key sees its own organization only.
    pub fn may_see(&self, org: OrganizationId) -> bool {
        !matches!(self, Self::Organization { organization_id, .. } if *organization_id != org)
    }

    /// What this caller may do in `org`, given its user's role there (`None`: not a member,
    /// or no user).
    pub fn access_given(
        &self,
        org: OrganizationId,
        role: Option<Role>,
    ) -> Result<Access, ApiError> {
        let not_found = || ApiError::not_found("the organization");
        match *self {
            Self::PlatformAdmin { .. } => Ok(Access::PlatformAdmin),
            _ if !self.may_see(org) => Err(not_found()),
            Self::Organization { user_id: None, .. } => Ok(Access::Member(Role::Admin)),
            Self::User { .. } | Self::Organization { .. } => {
                role.map(Access::Member).ok_or_else(not_found)
            }
        }
    }
}
