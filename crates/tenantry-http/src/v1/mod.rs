//! The two documented `/v1/organizations` APIs (snake_case): the current-organization API
//! and the organization-by-id API.

mod by_id;
mod current;

pub use by_id::{OrganizationById, PatchedOrganizationRequest};
pub use current::{BaseRateLimits, OrganizationModel, OrganizationUpdate, OrganizationUser};

/// Registers the `/v1` operations.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(current::get_current_organization)
        .service(current::update_current_organization)
        .service(by_id::get_organization_by_id)
        .service(by_id::update_organization_by_id);
}
