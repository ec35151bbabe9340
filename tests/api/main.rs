//! Tenantry's integration tests: real HTTP against the real app, a fresh SQLite file per
//! test.

mod api_keys;
mod errors;
mod members;
mod openapi;
mod organizations;
mod users;
