//! Configuration: defaults, then an optional `tenantry.toml`, then `TENANTRY_*` environment
//! variables, each overriding the one before.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use tenantry_domain::{AccountType, HttpUrl, TierTable};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Pretty,
    /// One JSON object per event.
    Json,
}

/// What is logged of each request (see [`tenantry_http::trace::AccessLog`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogSetting {
    /// One short line per request.
    #[default]
    Compact,
    /// The request's span with all its fields, as it closes.
    Full,
    /// Only refused (4xx), failed (5xx) and slow requests.
    Off,
}

impl From<AccessLogSetting> for tenantry_http::trace::AccessLog {
    fn from(setting: AccessLogSetting) -> Self {
        match setting {
            AccessLogSetting::Compact => Self::Compact,
            AccessLogSetting::Full => Self::Full,
            AccessLogSetting::Off => Self::Off,
        }
    }
}

/// Per-category rate limits of a tier, as configured.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub metadata: Option<u32>,
    pub data: Option<u32>,
    pub search: Option<u32>,
    pub upload: Option<u32>,
    pub compute: Option<u32>,
}

/// A tier's configured defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSettings {
    pub monthly_credits: Option<u64>,
    #[serde(default)]
    pub rate_limits: RateLimitSettings,
}

/// Every setting of the server. Secrets (the admin token, and the database and Redis URLs,
/// which may carry passwords) are [`SecretString`]s: `Debug` prints them redacted, so a
/// logged or printed `Settings` shows none of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://path` or `postgres://…`.
    pub database_url: SecretString,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where Prometheus metrics are served (`GET /metrics`); not served when unset.
    pub metrics_listen: Option<SocketAddr>,
    /// The platform admin token; generated on first start when not set.
    pub admin_token: Option<SecretString>,
    /// Redis, for rate limits shared by several instances.
    pub redis_url: Option<SecretString>,
    /// Requests per minute of a key, for requests that name no organization.
    pub key_rate_limit: u32,
    /// How long an instance remembers which caller an API key stands for; 0 looks every
    /// key up on every request.
    pub key_cache_ms: u64,
    /// The URL clients reach this server at.
    pub public_url: Option<String>,
    /// A tracing filter, such as `info,sqlx=warn`.
    pub log: String,
    pub log_format: LogFormat,
    /// What is logged of each request.
    pub access_log: AccessLogSetting,
    /// HTTP worker threads; one per core when not set.
    pub workers: Option<usize>,
    /// The database pool's size; when not set, the store's default for the database
    /// ([`tenantry_storage::SQLITE_POOL_SIZE`], [`tenantry_storage::POSTGRES_POOL_SIZE`]).
    pub database_max_connections: Option<u32>,
    pub database_connect_timeout_ms: u64,
    pub database_acquire_timeout_ms: u64,
    /// On SQLite, how many MiB of the database file are read through a shared memory map.
    pub database_sqlite_mmap_mb: u64,
    /// How long a request body may take to arrive, from its first byte to its last.
    pub body_timeout_ms: u64,
    /// How many days the audit log keeps an event.
    pub event_retention_days: u64,
    /// Whether webhook endpoints may be on loopback, private, link-local or unique-local
    /// addresses.
    pub webhook_allow_private: bool,
    /// Overrides of the account tiers' defaults, by tier name.
    #[serde(default)]
    pub tiers: BTreeMap<String, TierSettings>,
}

/// The most `database_sqlite_mmap_mb` may be: SQLite maps at most 2 GiB less 64 KiB.
const SQLITE_MMAP_MB_MAX: u64 = 2_047;

/// The environment variables that are settings. Only these are read, so other
/// `TENANTRY_*` variables (a test suite's, say) are not mistaken for misspelt settings.
const ENVIRONMENT: [&str; 19] = [
    "DATABASE_URL",
    "LISTEN",
    "ADMIN_TOKEN",
    "REDIS_URL",
    "KEY_RATE_LIMIT",
    "KEY_CACHE_MS",
    "PUBLIC_URL",
    "LOG",
    "LOG_FORMAT",
    "ACCESS_LOG",
    "WORKERS",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_CONNECT_TIMEOUT_MS",
    "DATABASE_ACQUIRE_TIMEOUT_MS",
    "DATABASE_SQLITE_MMAP_MB",
    "BODY_TIMEOUT_MS",
    "EVENT_RETENTION_DAYS",
    "WEBHOOK_ALLOW_PRIVATE",
    "METRICS_LISTEN",
];

fn environment() -> std::collections::HashMap<String, String> {
    ENVIRONMENT
        .iter()
        .filter_map(|key| {
            let name = format!("TENANTRY_{key}");
            std::env::var(&name).ok().map(|value| (name, value))
        })
        .collect()
}

/// Configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error("invalid configuration: {0}")]
    Value(String),
}

/// The configuration file to read: the one named (by `--config` or `TENANTRY_CONFIG`),
/// which must exist, or else `tenantry.toml` in the working directory if there is one.
pub fn config_file(named: Option<std::path::PathBuf>) -> Result<std::path::PathBuf, SettingsError> {
    match named {
        Some(path) if !path.is_file() => Err(SettingsError::Value(format!(
            "the configuration file {} does not exist (named by --config or TENANTRY_CONFIG)",
            path.display()
        ))),
        Some(path) => Ok(path),
        None => Ok(std::path::PathBuf::from("tenantry.toml")),
    }
}

/// Names each setting in a configuration error as its environment variable: "for key
/// `database_max_connections`" becomes "for TENANTRY_DATABASE_MAX_CONNECTIONS".
fn name_settings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("key `") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "key `".len()..];
        match after.find('`') {
            Some(end) => {
                out.push_str("TENANTRY_");
                out.push_str(&after[..end].replace('.', "__").to_ascii_uppercase());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.lines().next().unwrap_or_default().to_owned()
}

impl Settings {
    /// Loads the settings from `file` (when it exists) and the environment.
    pub fn load(file: &Path) -> Result<Self, SettingsError> {
        let settings: Settings = config::Config::builder()
            .set_default("database_url", "sqlite://tenantry.db")?
            .set_default("listen", "127.0.0.1:8080")?
            .set_default("log", "info,sqlx=warn,sea_orm=warn")?
            .set_default("log_format", "pretty")?
            .set_default("access_log", "compact")?
            .set_default("key_rate_limit", 600)?
            .set_default(
                "key_cache_ms",
                tenantry_http::state::DEFAULT_KEY_CACHE_TTL.as_millis() as u64,
            )?
            .set_default("database_connect_timeout_ms", 5_000)?
            .set_default("database_acquire_timeout_ms", 2_000)?
            .set_default("database_sqlite_mmap_mb", 0)?
            .set_default(
                "body_timeout_ms",
                tenantry_http::state::DEFAULT_BODY_TIMEOUT.as_millis() as u64,
            )?
            .set_default("webhook_allow_private", false)?
            .set_default(
                "event_retention_days",
                tenantry_http::maintenance::DEFAULT_EVENT_RETENTION_DAYS,
            )?
            .add_source(
                config::File::from(file)
                    .format(config::FileFormat::Toml)
                    .required(false),
            )
            .add_source(
                config::Environment::with_prefix("TENANTRY")
                    .try_parsing(true)
                    .source(Some(environment())),
            )
            .build()
            .and_then(config::Config::try_deserialize::<Settings>)
            .map_err(|e| SettingsError::Value(name_settings(&e.to_string())))?;
        settings.check()?;
        Ok(settings)
    }

    /// Checks every value that its type alone does not bound; the error names the setting
    /// as its environment variable and says what it takes.
    pub fn check(&self) -> Result<(), SettingsError> {
        let invalid = |name: &str, rule: &str| {
            SettingsError::Value(format!("TENANTRY_{} {rule}", name.to_ascii_uppercase()))
        };
        let url = self.database_url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if let Some(token) = &self.admin_token
            && token.expose_secret().chars().count() < 16
        {
            return Err(invalid("admin_token", "must be at least 16 characters"));
        }
        if let Some(token) = &self.admin_token
            && token
                .expose_secret()
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "admin_token",
                "must not contain spaces or control characters",
            ));
        }
        if let Some(redis) = &self.redis_url
            && !(redis.expose_secret().starts_with("redis://")
                || redis.expose_secret().starts_with("rediss://")
                || redis.expose_secret().starts_with("redis+unix://")
                || redis.expose_secret().starts_with("unix://"))
        {
            return Err(invalid(
                "redis_url",
                "must start with redis:// or rediss://",
            ));
        }
        if let Some(public) = &self.public_url
            && HttpUrl::parse(public.as_str()).is_err()
        {
            return Err(invalid(
                "public_url",
                "must be an absolute http or https URL",
            ));
        }
        let ranges: [(&str, u64, u64, u64); 9] = [
            (
                "key_rate_limit",
                u64::from(self.key_rate_limit),
                1,
                u64::from(u32::MAX),
            ),
            ("key_cache_ms", self.key_cache_ms, 0, 3_600_000),
            (
                "database_max_connections",
                self.database_max_connections.map_or(1, u64::from),
                1,
                10_000,
            ),
            (
                "database_connect_timeout_ms",
                self.database_connect_timeout_ms,
                1,
                3_600_000,
            ),
            (
                "database_acquire_timeout_ms",
                self.database_acquire_timeout_ms,
                1,
                3_600_000,
            ),
            // More would be mapped less, quietly.
            (
                "database_sqlite_mmap_mb",
                self.database_sqlite_mmap_mb,
                0,
                SQLITE_MMAP_MB_MAX,
            ),
            ("body_timeout_ms", self.body_timeout_ms, 1, 3_600_000),
            ("event_retention_days", self.event_retention_days, 1, 36_500),
            ("workers", self.workers.map_or(1, |w| w as u64), 1, 1_024),
        ];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(invalid(name, &format!("must be from {min} to {max}")));
            }
        }
        // Said rather than quietly ignored: it would do nothing on PostgreSQL.
        if self.database_sqlite_mmap_mb > 0 && !url.starts_with("sqlite:") {
            return Err(invalid(
                "database_sqlite_mmap_mb",
                "applies to a SQLite database only: set it to 0 for PostgreSQL",
            ));
        }
        for (name, tier) in &self.tiers {
            AccountType::parse(name)
                .map_err(|e| SettingsError::Value(format!("tiers.{name}: the tier name {e}")))?;
            if tier
                .monthly_credits
                .is_some_and(|c| c > tenantry_domain::limits::CREDITS_MAX as u64)
            {
                return Err(SettingsError::Value(format!(
                    "tiers.{name}.monthly_credits must be at most {}",
                    tenantry_domain::limits::CREDITS_MAX
                )));
            }
            let limits = &tier.rate_limits;
            for (category, limit) in [
                ("metadata", limits.metadata),
                ("data", limits.data),
                ("search", limits.search),
                ("upload", limits.upload),
                ("compute", limits.compute),
            ] {
                if limit.is_some_and(|l| l > tenantry_domain::limits::RATE_LIMIT_MAX) {
                    return Err(SettingsError::Value(format!(
                        "tiers.{name}.rate_limits.{category} must be at most {}",
                        tenantry_domain::limits::RATE_LIMIT_MAX
                    )));
                }
            }
        }
        Ok(())
    }

    /// The database URL with SQLite's create-if-missing mode.
    pub fn database_url(&self) -> String {
        let url = self.database_url.expose_secret();
        if url.starts_with("sqlite:") && !url.contains("mode=") {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}mode=rwc")
        } else {
            url.to_owned()
        }
    }

    /// The database URL without its password, for logs.
    pub fn database_url_redacted(&self) -> String {
        let url = self.database_url.expose_secret();
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let credentials = &url[scheme + 3..at];
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
            }
            _ => url.to_owned(),
        }
    }

    /// How long the audit log keeps an event.
    pub fn event_retention(&self) -> Duration {
        Duration::from_secs(self.event_retention_days * 24 * 60 * 60)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.database_connect_timeout_ms)
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database_acquire_timeout_ms)
    }

    /// The tier table: the built-in defaults with the configured overrides.
    pub fn tier_table(&self) -> TierTable {
        let mut table = TierTable::default();
        for (name, tier) in &self.tiers {
            let Ok(account_type) = AccountType::parse(name) else {
                continue;
            };
            let defaults = table.get_mut(account_type);
            if let Some(credits) = tier.monthly_credits {
                defaults.monthly_credits = Some(credits);
            }
            let limits = &tier.rate_limits;
            let rates = &mut defaults.rate_limits;
            rates.metadata = limits.metadata.unwrap_or(rates.metadata);
            rates.data = limits.data.unwrap_or(rates.data);
            rates.search = limits.search.unwrap_or(rates.search);
            rates.upload = limits.upload.unwrap_or(rates.upload);
            rates.compute = limits.compute.unwrap_or(rates.compute);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        let mut settings = Settings::load(Path::new("/nonexistent.toml")).unwrap();
        settings.database_url = "postgres://app:s3cret@db:5432/tenantry".into();
        assert_eq!(
            settings.database_url_redacted(),
            "postgres://app:***@db:5432/tenantry"
        );
        settings.database_url = "sqlite://tenantry.db".into();
        assert_eq!(settings.database_url(), "sqlite://tenantry.db?mode=rwc");
    }

    /// Unset, the pool's size is the store's default for the database; set, it is what
    /// was set, on either.
    #[test]
    fn the_pool_size_is_the_stores_default_unless_set() {
        let mut settings = Settings::load(Path::new("/nonexistent.toml")).unwrap();
        for (url, default) in [
            ("sqlite://tenantry.db", tenantry_storage::SQLITE_POOL_SIZE),
            (
                "postgres://app@db:5432/tenantry",
                tenantry_storage::POSTGRES_POOL_SIZE,
            ),
        ] {
            settings.database_url = url.into();
            settings.database_max_connections = None;
            assert_eq!(crate::store_options(&settings).max_connections, default);
            settings.database_max_connections = Some(3);
            assert_eq!(crate::store_options(&settings).max_connections, 3);
        }
    }

    /// An answer reports a tier's limits as they are: above the highest an override may set,
    /// they would break the document's bound, so the configuration refuses them.
    #[test]
    fn a_tier_rate_limit_is_at_most_the_highest_an_override_may_set() {
        let mut settings = Settings::load(Path::new("/nonexistent.toml")).unwrap();
        let mut tier = TierSettings::default();
        tier.rate_limits.search = Some(tenantry_domain::limits::RATE_LIMIT_MAX);
        settings.tiers.insert("pro".into(), tier.clone());
        settings.check().unwrap();
        tier.rate_limits.search = Some(tenantry_domain::limits::RATE_LIMIT_MAX + 1);
        settings.tiers.insert("pro".into(), tier);
        let error = settings.check().unwrap_err().to_string();
        assert!(error.contains("tiers.pro.rate_limits.search"), "{error}");
    }

    #[test]
    fn a_named_configuration_file_must_exist() {
        let error = config_file(Some("/nonexistent/tenantry.toml".into()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/tenantry.toml") && error.contains("does not exist"));
        assert_eq!(config_file(None).unwrap(), Path::new("tenantry.toml"));
        let dir = std::env::temp_dir();
        let file = dir.join(format!("tenantry-config-{}.toml", std::process::id()));
        std::fs::write(&file, "").unwrap();
        assert_eq!(config_file(Some(file.clone())).unwrap(), file);
        std::fs::remove_file(&file).unwrap();
    }

    /// A setting missing from [`ENVIRONMENT`] would be read from the file only, its
    /// `TENANTRY_*` variable silently ignored.
    #[test]
    fn every_setting_but_the_tier_tables_has_its_environment_variable() {
        let settings = Settings::load(Path::new("/nonexistent.toml")).unwrap();
        let printed = format!("{settings:#?}");
        let fields: Vec<String> = printed
            .lines()
            .filter_map(|line| line.strip_prefix("    "))
            .filter(|line| !line.starts_with(' '))
            .filter_map(|line| line.split_once(':').map(|(name, _)| name.to_uppercase()))
            .filter(|name| name != "TIERS")
            .collect();
        assert!(fields.len() >= 18, "{fields:?}");
        for field in fields {
            assert!(
                ENVIRONMENT.contains(&field.as_str()),
                "TENANTRY_{field} is not read"
            );
        }
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let mut settings = Settings::load(Path::new("/nonexistent.toml")).unwrap();
        settings.database_url = "postgres://app:pg-s3cret-pw@db:5432/tenantry".into();
        settings.admin_token = Some("admin-s3cret-token-0123456789".into());
        settings.redis_url = Some("redis://:redis-s3cret-pw@cache:6379/".into());
        let printed = format!("{settings:?} {settings:#?}");
        for secret in ["pg-s3cret-pw", "admin-s3cret-token", "redis-s3cret-pw"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("REDACTED"), "{printed}");
    }

    #[test]
    fn each_out_of_range_setting_is_named() {
        let base = Settings::load(Path::new("/nonexistent.toml")).unwrap();
        type Change = fn(&mut Settings);
        let cases: [(Change, &str); 12] = [
            (
                |s| s.database_max_connections = Some(0),
                "TENANTRY_DATABASE_MAX_CONNECTIONS",
            ),
            (
                |s| s.database_connect_timeout_ms = 0,
                "TENANTRY_DATABASE_CONNECT_TIMEOUT_MS",
            ),
            (
                |s| s.database_acquire_timeout_ms = 0,
                "TENANTRY_DATABASE_ACQUIRE_TIMEOUT_MS",
            ),
            (|s| s.body_timeout_ms = 0, "TENANTRY_BODY_TIMEOUT_MS"),
            (
                |s| s.database_sqlite_mmap_mb = SQLITE_MMAP_MB_MAX + 1,
                "TENANTRY_DATABASE_SQLITE_MMAP_MB",
            ),
            (
                |s| {
                    s.database_sqlite_mmap_mb = 64;
                    s.database_url = "postgres://h/db".into();
                },
                "TENANTRY_DATABASE_SQLITE_MMAP_MB",
            ),
            (
                |s| s.event_retention_days = 0,
                "TENANTRY_EVENT_RETENTION_DAYS",
            ),
            (|s| s.workers = Some(0), "TENANTRY_WORKERS"),
            (|s| s.key_rate_limit = 0, "TENANTRY_KEY_RATE_LIMIT"),
            (
                |s| s.public_url = Some("ftp://x".into()),
                "TENANTRY_PUBLIC_URL",
            ),
            (
                |s| s.redis_url = Some("http://x".into()),
                "TENANTRY_REDIS_URL",
            ),
            (
                |s| s.database_url = "mysql://x".into(),
                "TENANTRY_DATABASE_URL",
            ),
        ];
        for (change, name) in cases {
            let mut settings = base.clone();
            change(&mut settings);
            let error = settings.check().expect_err(name).to_string();
            assert!(error.contains(name), "{error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
        // The map itself is taken on SQLite, the default database.
        let mut mapped = base.clone();
        mapped.database_sqlite_mmap_mb = 64;
        mapped.check().unwrap();
    }
}
