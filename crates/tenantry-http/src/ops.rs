//! Operations on organizations that every surface shares: reading, authorizing and writing
//! a change.

use tenantry_domain::{
    Access, Actor, Organization, OrganizationChanges, OrganizationField, OrganizationId,
};
use tenantry_storage::StoreError;

use crate::common::now;
use crate::error::{ApiError, FieldError};
use crate::extract::IfMatch;
use crate::state::AppState;

/// The organization, or a 404 naming it.
pub(crate) async fn read_organization(
    state: &AppState,
    id: OrganizationId,
) -> Result<Organization, ApiError> {
    state
        .store
        .organization(id)
        .await
        .map_err(organization_not_found)
}

pub(crate) fn organization_not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("the organization"),
        other => other.into(),
    }
}

/// Writes `changes` (only a read when there are none), applying them only to a version
/// `If-Match` names when it names any (else 412). `known` is the organization as this
/// request read it, if it did: the write then need not read it again.
pub(crate) async fn apply_changes(
    state: &AppState,
    id: OrganizationId,
    access: Access,
    by: Actor,
    changes: &OrganizationChanges,
    if_match: &IfMatch,
    known: Option<&Organization>,
) -> Result<Organization, ApiError> {
    if changes.is_empty() {
        let org = match known {
            Some(org) => org.clone(),
            None => read_organization(state, id).await?,
        };
        if_match.version_for(org.version)?;
        return Ok(org);
    }
    // One named version is checked by the conditional write itself; a list needs the
    // current version to pick from.
    let expected_version = match if_match.single() {
        Some(version) => Some(version),
        None if if_match.is_conditional() => match known {
            Some(org) => if_match.version_for(org.version)?,
            None => {
                let org = read_organization(state, id).await?;
                if_match.version_for(org.version)?
            }
        },
        None => None,
    };
    // Only the platform admin changes an inactive organization (and may activate it).
    state
        .store
        .update_organization_if(
            id,
            changes,
            expected_version,
            !access.is_platform_admin(),
            by,
            now(),
            known,
        )
        .await
        .map_err(organization_not_found)
}

/// Refuses to let an inactive organization grow (members, workspaces, keys) unless the
/// platform admin asks.
pub(crate) async fn require_active(
    state: &AppState,
    id: OrganizationId,
    access: Access,
) -> Result<(), ApiError> {
    if access.is_platform_admin() {
        return Ok(());
    }
    if read_organization(state, id).await?.is_active {
        Ok(())
    } else {
        Err(tenantry_domain::RuleViolation::OrganizationInactive.into())
    }
}

/// Refuses a change that names fields the caller may not write, naming each one in the
/// surface's own spelling (403).
pub(crate) fn authorize_changes(
    access: Access,
    changes: &OrganizationChanges,
    name_of: impl Fn(OrganizationField) -> String,
) -> Result<(), ApiError> {
    let fields = changes.fields();
    if !access.can_manage() && !fields.is_empty() {
        return Err(ApiError::Forbidden {
            detail: "only the organization's owners and admins may change it".into(),
            fields: fields
                .into_iter()
                .map(|f| FieldError::new(name_of(f), "members may not change this field"))
                .collect(),
        });
    }
    let forbidden = access.forbidden_fields(fields);
    if forbidden.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = forbidden.iter().map(|f| name_of(*f)).collect();
    Err(ApiError::Forbidden {
        detail: format!("only the platform admin may change {}", names.join(", ")),
        fields: names
            .into_iter()
            .map(|name| FieldError::new(name, "only the platform admin may change this field"))
            .collect(),
    })
}
