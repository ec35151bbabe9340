//! Tenantry's integration tests: real HTTP against the real app, a fresh SQLite file per
//! test.

mod api_keys;
mod contract;
mod dependencies;
mod entitlements;
mod errors;
mod events;
mod fields;
mod hardening;
mod instances;
mod members;
mod metering;
mod metrics;
mod one_statement;
mod openapi;
mod organizations;
mod rate_limits;
mod readme;
mod resilience;
mod serve;
mod usage;
mod users;
mod v1_by_id;
mod v1_current;
mod webhooks;
mod workspaces;
