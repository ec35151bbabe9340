//! The organization management API (camelCase): organizations, members, users and API keys.

mod api_keys;
mod entitlements;
mod events;
mod ledger;
mod members;
mod organizations;
mod usage;
mod users;
mod views;
mod webhooks;
mod workspaces;

pub use entitlements::{
    CountedQuota, CreditsView, EntitlementsView, QuotaLimit, QuotasView, RateLimitsView,
};
pub use events::{AllEventsQuery, ChangeView, EventTypeValue, EventView, EventsQuery};
pub use ledger::{
    ActorView, CycleQuery, EntriesQuery, RefundRequest, RefundView, UsageByCategory,
    UsageEntryView, UsageSummaryView,
};
pub use usage::{RecordUsageRequest, UsageCategory, UsageView};
pub use views::*;
pub use webhooks::{
    CreateWebhookEndpointRequest, CreatedWebhookEndpointView, DeliveryStatusValue,
    UpdateWebhookEndpointRequest, WebhookDeliveryView, WebhookEndpointView, WebhookSecretView,
};
pub use workspaces::{CreateWorkspaceRequest, WorkspaceView};

/// Registers the management API's operations.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    // actix-web tries routes in the order they are registered, and each pattern with an id in
    // it is a regular expression to run: the organization's hot paths (its detail, its
    // entitlements, its usage) come first, so that a request about an organization is not
    // first tried against a dozen other patterns.
    //
    // A collection's `/list` path also matches the item routes after it (`{organization_id}`
    // = "list"): each list comes before its items, with a catch-all right after it that
    // answers other methods with 405.
    let unrouted = || actix_web::web::route().to(crate::unrouted);
    cfg.service(organizations::create_organization)
        .service(organizations::list_organizations)
        .route("/organization/list", unrouted())
        .service(organizations::get_organization)
        .service(entitlements::get_entitlements)
        .service(usage::create_usage)
        .service(organizations::update_organization)
        .service(organizations::delete_organization)
        .service(ledger::get_usage)
        .service(ledger::list_usage_entries)
        .service(ledger::create_usage_refund)
        .service(organizations::set_max_overages)
        .service(organizations::get_organization_logo)
        .service(events::list_organization_events)
        .service(members::list_members)
        .route("/organization/{organization_id}/member/list", unrouted())
        .service(members::add_member)
        .service(members::update_member)
        .service(members::remove_member)
        .service(workspaces::list_workspaces)
        .route("/organization/{organization_id}/workspace/list", unrouted())
        .service(workspaces::create_workspace)
        .service(workspaces::delete_workspace)
        .service(events::list_events)
        .service(users::create_user)
        .service(users::get_current_user)
        .service(api_keys::list_api_keys)
        .route("/api-key/list", unrouted())
        .service(api_keys::create_api_key)
        .service(api_keys::delete_api_key)
        .service(webhooks::create_webhook_endpoint)
        .service(webhooks::list_webhook_endpoints)
        .route("/webhook-endpoint/list", unrouted())
        .service(webhooks::get_webhook_endpoint)
        .service(webhooks::update_webhook_endpoint)
        .service(webhooks::delete_webhook_endpoint)
        .service(webhooks::create_webhook_endpoint_secret)
        .service(webhooks::list_webhook_deliveries)
        .service(webhooks::create_webhook_delivery_retry);
}
