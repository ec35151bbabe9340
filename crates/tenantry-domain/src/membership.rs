//! Members, roles and who may do what.

use std::fmt;

use time::OffsetDateTime;

use crate::error::{InvalidValue, RuleViolation};
use crate::organization::OrganizationField;
use crate::user::User;

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything in the organization, including its deletion and the owner role; an
    /// organization always keeps one.
    Owner,
    /// Manages the profile, settings, members (but owners) and keys.
    Admin,
    /// Reads the organization and records usage.
    Member,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Self::Owner, Self::Admin, Self::Member];

    /// The role's name: `owner`, `admin` or `member`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Reads a role's name.
    ///
    /// ```
    /// use tenantry_domain::Role;
    ///
    /// assert_eq!(Role::parse("admin"), Ok(Role::Admin));
    /// assert!(Role::parse("Admin").is_err(), "names are lower case");
    /// assert!(Role::parse("superuser").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == value)
            .ok_or_else(|| InvalidValue::new("must be one of owner, admin, member"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's membership of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Who.
    pub user: User,
    /// With which role.
    pub role: Role,
    /// Since when.
    pub joined_at: OffsetDateTime,
}

/// What a caller may do in one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The platform's administrator: everything, everywhere.
    PlatformAdmin,
    /// A member acting with their role.
    Member(Role),
}

impl Access {
    /// Whether this is the platform admin.
    pub fn is_platform_admin(self) -> bool {
        matches!(self, Self::PlatformAdmin)
    }

    /// Owners, admins and the platform admin manage the profile, settings and members.
    pub fn can_manage(self) -> bool {
        matches!(
            self,
            Self::PlatformAdmin | Self::Member(Role::Owner | Role::Admin)
        )
    }

    /// Whether this caller may write `field`.
    pub fn may_change(self, field: OrganizationField) -> bool {
        match self {
            Self::PlatformAdmin => true,
            Self::Member(_) if field.requires_platform_admin() => false,
            Self::Member(_) => self.can_manage(),
        }
    }

    /// The fields among `fields` that this caller may not write.
    pub fn forbidden_fields(
        self,
        fields: impl IntoIterator<Item = OrganizationField>,
    ) -> Vec<OrganizationField> {
        fields
            .into_iter()
            .filter(|f| !self.may_change(*f))
            .collect()
    }

    /// Checks that this caller may give `target` the role `new_role` (`None`: remove it),
    /// where `current` is the target's role now (`None`: not yet a member).
    pub fn check_role_change(
        self,
        current: Option<Role>,
        new_role: Option<Role>,
    ) -> Result<(), RuleViolation> {
        if !self.can_manage() {
            return Err(RuleViolation::Forbidden(
                "only the organization's owners and admins may manage its members".into(),
            ));
        }
        let touches_owner = current == Some(Role::Owner) || new_role == Some(Role::Owner);
        let is_owner = matches!(self, Self::PlatformAdmin | Self::Member(Role::Owner));
        if touches_owner && !is_owner {
            return Err(RuleViolation::OnlyOwnersTouchOwners);
        }
        Ok(())
    }
}

/// Checks that taking the owner role from one of `owner_count` owners leaves at least one.
pub fn check_keeps_an_owner(
    owner_count: u64,
    current: Role,
    new_role: Option<Role>,
) -> Result<(), RuleViolation> {
    if current == Role::Owner && new_role != Some(Role::Owner) && owner_count <= 1 {
        return Err(RuleViolation::LastOwner);
    }
    Ok(())
}

/// Checks that an organization with `member_count` members may take one more under
/// `user_quota`.
pub fn check_room_for_member(member_count: u64, user_quota: u32) -> Result<(), RuleViolation> {
    if member_count >= u64::from(user_quota) {
        return Err(RuleViolation::UserQuotaReached { quota: user_quota });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_owner_cannot_leave_or_be_demoted() {
        assert_eq!(
            check_keeps_an_owner(1, Role::Owner, None),
            Err(RuleViolation::LastOwner)
        );
        assert_eq!(
            check_keeps_an_owner(1, Role::Owner, Some(Role::Admin)),
            Err(RuleViolation::LastOwner)
        );
        assert!(check_keeps_an_owner(1, Role::Owner, Some(Role::Owner)).is_ok());
        assert!(check_keeps_an_owner(2, Role::Owner, None).is_ok());
        assert!(check_keeps_an_owner(1, Role::Admin, None).is_ok());
    }

    #[test]
    fn members_never_exceed_the_user_quota() {
        assert!(check_room_for_member(2, 3).is_ok());
        assert_eq!(
            check_room_for_member(3, 3),
            Err(RuleViolation::UserQuotaReached { quota: 3 })
        );
        assert!(check_room_for_member(0, 0).is_err());
    }

    #[test]
    fn only_owners_touch_owners() {
        let admin = Access::Member(Role::Admin);
        assert!(admin.check_role_change(None, Some(Role::Member)).is_ok());
        assert!(
            admin
                .check_role_change(Some(Role::Member), Some(Role::Admin))
                .is_ok()
        );
        assert_eq!(
            admin.check_role_change(None, Some(Role::Owner)),
            Err(RuleViolation::OnlyOwnersTouchOwners)
        );
        assert_eq!(
            admin.check_role_change(Some(Role::Owner), None),
            Err(RuleViolation::OnlyOwnersTouchOwners)
        );
        assert!(
            Access::Member(Role::Owner)
                .check_role_change(Some(Role::Owner), None)
                .is_ok()
        );
        assert!(
            Access::PlatformAdmin
                .check_role_change(None, Some(Role::Owner))
                .is_ok()
        );
        assert!(
            Access::Member(Role::Member)
                .check_role_change(None, Some(Role::Member))
                .is_err()
        );
    }

    #[test]
    fn commercial_fields_are_the_platform_admins() {
        let owner = Access::Member(Role::Owner);
        assert!(owner.may_change(OrganizationField::Name));
        assert!(!owner.may_change(OrganizationField::Plan));
        assert!(!owner.may_change(OrganizationField::UserQuota));
        assert!(!Access::Member(Role::Member).may_change(OrganizationField::Name));
        assert!(Access::PlatformAdmin.may_change(OrganizationField::Plan));
        assert_eq!(
            owner.forbidden_fields([OrganizationField::Name, OrganizationField::AccountType]),
            [OrganizationField::AccountType]
        );
    }
}
