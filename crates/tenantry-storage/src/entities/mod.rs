//! SeaORM entities: the tables as this version of the code reads them. They never leave the
//! storage crate.

#![allow(
    unreachable_pub,
    reason = "the entity macros generate public items inside this private module"
)]

pub(crate) mod api_keys;
pub(crate) mod events;
pub(crate) mod idempotency_keys;
pub(crate) mod memberships;
pub(crate) mod organizations;
pub(crate) mod usage_entries;
pub(crate) mod users;
pub(crate) mod webhook_deliveries;
pub(crate) mod webhook_endpoints;
pub(crate) mod workspaces;
