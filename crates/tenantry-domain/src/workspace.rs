//! Workspaces: named spaces inside an organization.

use time::OffsetDateTime;

use crate::error::RuleViolation;
use crate::ids::WorkspaceId;
use crate::values::TextLine;

/// A workspace of an organization. Its name is unique within the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Its public id.
    pub id: WorkspaceId,
    /// Its name, unique within the organization.
    pub name: TextLine,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

impl Workspace {
    /// A new workspace with a new id.
    pub fn new(name: TextLine, now: OffsetDateTime) -> Self {
        Self {
            id: WorkspaceId::generate(),
            name,
            created_at: now,
        }
    }
}

/// Checks that an organization with `count` workspaces may have one more under `quota`.
/// Lowering the quota below the count removes nothing; it only blocks additions.
///
/// ```
/// use tenantry_domain::{RuleViolation, check_room_for_workspace};
///
/// assert!(check_room_for_workspace(9, 10).is_ok());
/// assert_eq!(
///     check_room_for_workspace(10, 10),
///     Err(RuleViolation::WorkspaceQuotaReached { quota: 10 })
/// );
/// ```
pub fn check_room_for_workspace(count: u64, quota: u32) -> Result<(), RuleViolation> {
    if count >= u64::from(quota) {
        return Err(RuleViolation::WorkspaceQuotaReached { quota });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_never_exceed_the_quota() {
        assert!(check_room_for_workspace(9, 10).is_ok());
        assert_eq!(
            check_room_for_workspace(10, 10),
            Err(RuleViolation::WorkspaceQuotaReached { quota: 10 })
        );
        assert!(
            check_room_for_workspace(12, 10).is_err(),
            "a lowered quota blocks additions"
        );
    }
}
