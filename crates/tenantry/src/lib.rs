//! The Tenantry server: configuration, telemetry and the `serve` command.

mod log_writer;
pub mod settings;
pub mod telemetry;
pub mod transfer;

use std::net::TcpListener;

use secrecy::ExposeSecret as _;
use std::sync::Arc;
use std::time::Duration;
use tenantry_domain::{Actor, ApiKey, ApiKeyId, ApiKeyScope, ApiKeySecret, KeyHash, TextLine};

use tenantry_http::key_cache::KeyCache;
use tenantry_http::rate_limit::{RateLimiter, SystemClock};
use tenantry_http::{AppState, ServerOptions};
use tenantry_storage::{Store, StoreOptions};

pub use settings::{LogFormat, Settings};

/// Something that stops the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error("{0}")]
    Store(#[from] tenantry_storage::StoreError),
    #[error("could not listen on {address}: {cause}")]
    Listen {
        address: std::net::SocketAddr,
        cause: std::io::Error,
    },
    #[error("invalid Redis URL: {0}")]
    Redis(String),
    #[error("could not make the admin token: {0}")]
    Token(String),
}

/// A server ready to run: its address, and what it prints once on first start.
#[allow(missing_debug_implementations, reason = "actix's Server has no Debug")]
pub struct Prepared {
    pub server: actix_web::dev::Server,
    pub address: std::net::SocketAddr,
    /// Where metrics are served, when they are.
    pub metrics_address: Option<std::net::SocketAddr>,
    /// A platform admin token made on this start, to show the operator once.
    pub generated_admin_token: Option<String>,
}

/// Opens the database (applying migrations), sets up the platform admin token and binds
/// the listener.
pub async fn prepare(settings: &Settings) -> Result<Prepared, StartError> {
    settings.check()?;
    let store = Store::connect(&store_options(settings)).await?;
    tracing::info!(database = %settings.database_url_redacted(), backend = store.backend(), "database ready");

    let mut generated_admin_token = None;
    let admin_token = match &settings.admin_token {
        Some(token) => {
            // A configured token replaces a generated or rotated one, which stops working.
            for id in store.admin_keys_named(&ADMIN_TOKEN_KEYS).await? {
                let now = tenantry_http::common::now();
                match store
                    .revoke_api_key(id, Actor::PlatformAdmin(None), now)
                    .await
                {
                    Ok(()) => {
                        tracing::warn!(key = %id, "revoked the stored admin token: TENANTRY_ADMIN_TOKEN is configured and replaces it")
                    }
                    // Another instance starting beside this one revoked it first.
                    Err(tenantry_storage::StoreError::NotFound) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            Some(KeyHash::of(token.expose_secret()))
        }
        None => {
            if !store.has_admin_key().await? {
                generated_admin_token = Some(bootstrap_admin_key(&store).await?);
            }
            None
        }
    };
    let limiter = match &settings.redis_url {
        None => RateLimiter::default(),
        Some(url) => RateLimiter::redis(url.expose_secret(), "tenantry:rl:", Arc::new(SystemClock))
            .map_err(|e| StartError::Redis(e.to_string()))?,
    };
    tracing::info!(counters = limiter.mode(), "rate limits ready");
    let state = AppState {
        store,
        tiers: settings.tier_table(),
        admin_token,
        public_url: settings.public_url.clone(),
        limiter: Arc::new(limiter),
        key_rate_limit: settings.key_rate_limit,
        keys: Arc::new(KeyCache::new(Duration::from_millis(settings.key_cache_ms))),
        known: Arc::default(),
        body_timeout: settings.body_timeout(),
        webhooks: tenantry_http::webhooks::WebhookOptions {
            allow_private: settings.webhook_allow_private,
            ..Default::default()
        },
    };
    tokio::spawn(tenantry_http::revocations::follow(
        state.store.clone(),
        state.keys.clone(),
    ));
    tokio::spawn(tenantry_http::webhooks::run(
        state.store.clone(),
        state.webhooks.clone(),
    ));
    tokio::spawn(tenantry_http::maintenance::run(
        state.store.clone(),
        settings.event_retention(),
    ));
    tokio::spawn(tenantry_http::maintenance::checkpoints(state.store.clone()));
    let listen_error = |cause| StartError::Listen {
        address: settings.listen,
        cause,
    };
    let listener = TcpListener::bind(settings.listen).map_err(listen_error)?;
    let address = listener.local_addr().map_err(listen_error)?;
    let mut options = ServerOptions::default();
    if let Some(workers) = settings.workers {
        options.workers = workers.max(1);
    }
    let metrics_address = match settings.metrics_listen {
        None => None,
        Some(at) => {
            let metrics_error = |cause| StartError::Listen { address: at, cause };
            let listener = TcpListener::bind(at).map_err(metrics_error)?;
            let bound = listener.local_addr().map_err(metrics_error)?;
            let metrics = tenantry_http::metrics_listener::server(state.clone(), listener)
                .map_err(metrics_error)?;
            tokio::spawn(metrics);
            Some(bound)
        }
    };
    let server = tenantry_http::server(state, listener, &options).map_err(listen_error)?;
    Ok(Prepared {
        server,
        address,
        metrics_address,
        generated_admin_token,
    })
}

/// The name of the admin key made on a first start without a configured token.
pub const GENERATED_ADMIN_KEY: &str = "platform admin (generated on first start)";
/// The name of the admin key `tenantry admin-token rotate` makes.
pub const ROTATED_ADMIN_KEY: &str = "platform admin (rotated)";
/// The stored keys that are "the admin token" (other admin keys, made through the API,
/// are left alone).
const ADMIN_TOKEN_KEYS: [&str; 2] = [GENERATED_ADMIN_KEY, ROTATED_ADMIN_KEY];

/// How the store connects, from the settings.
pub fn store_options(settings: &Settings) -> StoreOptions {
    let mut options = StoreOptions::new(settings.database_url());
    if let Some(size) = settings.database_max_connections {
        options.max_connections = size;
    }
    options.connect_timeout = settings.connect_timeout();
    options.acquire_timeout = settings.acquire_timeout();
    options.sqlite_mmap_size = settings.database_sqlite_mmap_mb * 1024 * 1024;
    options
}

/// `tenantry admin-token rotate`: makes a new platform admin token and revokes the stored
/// one it replaces (on PostgreSQL, running instances forget it at once; on SQLite within
/// `TENANTRY_KEY_CACHE_MS`). Answers the new token, to show once. A token configured by
/// `TENANTRY_ADMIN_TOKEN` is changed there instead: that is refused.
pub async fn rotate_admin_token(settings: &Settings) -> Result<String, StartError> {
    if settings.admin_token.is_some() {
        return Err(StartError::Token(
            "the admin token is configured (TENANTRY_ADMIN_TOKEN or admin_token in the configuration file): change it there and restart".into(),
        ));
    }
    settings.check()?;
    let store = Store::connect(&store_options(settings)).await?;
    let previous = store.admin_keys_named(&ADMIN_TOKEN_KEYS).await?;
    let token = make_admin_key(&store, ROTATED_ADMIN_KEY).await?;
    for id in previous {
        let now = tenantry_http::common::now();
        match store
            .revoke_api_key(id, Actor::PlatformAdmin(None), now)
            .await
        {
            // Revoked meanwhile (a start with a configured token): gone either way.
            Ok(()) | Err(tenantry_storage::StoreError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
    }
    store.close().await?;
    Ok(token)
}

/// Makes and stores a platform admin key, returning it in clear to show once.
async fn bootstrap_admin_key(store: &Store) -> Result<String, StartError> {
    make_admin_key(store, GENERATED_ADMIN_KEY).await
}

async fn make_admin_key(store: &Store, name: &str) -> Result<String, StartError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StartError::Token(e.to_string()))?;
    let secret = ApiKeySecret::from_random_bytes(bytes);
    let key = ApiKey {
        id: ApiKeyId::generate(),
        name: TextLine::api_key_name(name).map_err(|e| StartError::Token(e.to_string()))?,
        prefix: secret.prefix(),
        scope: ApiKeyScope::PlatformAdmin,
        created_at: tenantry_http::common::now(),
        revoked_at: None,
    };
    // Tenantry itself makes it: the platform admin acting through no key yet.
    store
        .create_api_key(&key, &secret.hash(), Actor::PlatformAdmin(None))
        .await?;
    Ok(secret.expose().to_owned())
}
