//! What every request handler shares.

use std::sync::Arc;
use std::time::Duration;

use tenantry_domain::{KeyHash, TierTable};
use tenantry_storage::Store;

use crate::key_cache::KeyCache;
use crate::known_orgs::KnownOrganizations;
use crate::rate_limit::RateLimiter;

/// Requests per minute of a key for requests that name no organization, by default.
pub const DEFAULT_KEY_RATE_LIMIT: u32 = 600;

/// How long an instance remembers which caller a key stands for, by default. A revocation
/// on the same instance forgets at once; other instances sharing the database forget
/// within this time.
pub const DEFAULT_KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// How long a request body may take to arrive, by default.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Counts requests against their rate limits.
    pub limiter: Arc<RateLimiter>,
    /// Requests per minute of a key, for requests that name no organization.
    pub key_rate_limit: u32,
    /// Which caller a key hash stands for, remembered briefly.
    pub keys: Arc<KeyCache>,
    /// Organizations as this process last wrote them, for the next change to apply to.
    pub known: Arc<KnownOrganizations>,
    /// How long a request body may take to arrive, from its first byte to its last.
    pub body_timeout: Duration,
    /// How webhooks are sent, and where they may go.
    pub webhooks: WebhookOptions,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            tiers: TierTable::default(),
            admin_token: None,
            public_url: None,
            limiter: Arc::new(RateLimiter::default()),
            key_rate_limit: DEFAULT_KEY_RATE_LIMIT,
            keys: Arc::new(KeyCache::new(DEFAULT_KEY_CACHE_TTL)),
            known: Arc::default(),
            body_timeout: DEFAULT_BODY_TIMEOUT,
            webhooks: WebhookOptions::default(),
        }
    }
}

/// How the worker sends.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Whether endpoints may be on loopback, private, link-local or unique-local
    /// addresses (refused by default).
    pub allow_private: bool,
    /// How long an endpoint has to answer.
    pub timeout: Duration,
    /// How often the worker looks for work when it did not find a full batch.
    pub idle_poll: Duration,
    /// How many deliveries are in flight at once.
    pub concurrency: usize,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout: Duration::from_secs(10),
            idle_poll: Duration::from_millis(200),
            concurrency: 64,
        }
    }
}
