//! What every request handler shares.

use tenantry_domain::{KeyHash, TierTable};
use tenantry_storage::Store;

/// The application's shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// The account tiers' defaults (credits and rate limits).
    pub tiers: TierTable,
    /// The hash of the configured platform admin token, if one is configured.
    pub admin_token: Option<KeyHash>,
    /// The URL this server is reached at, for links and for organizations without their
    /// own `api_url`.
    pub public_url: Option<String>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            tiers: TierTable::default(),
            admin_token: None,
            public_url: None,
        }
    }
}
