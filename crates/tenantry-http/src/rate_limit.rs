//! Rate limits: requests per minute, per organization and category (or per calling key),
//! counted with a sliding window.
//!
//! Time is cut into one-minute windows since the Unix epoch, and a key keeps a counter for
//! the current window and the one before. A request at `elapsed` seconds into the current
//! window sees an estimate of the last sixty seconds' requests: the previous window's count
//! weighted by the part of it still inside those sixty seconds, plus the current count. It
//! is allowed, and counted, while the estimate stays within the limit; a refused request is
//! not counted. So a burst at the end of one window leaves almost nothing for the start of
//! the next, unlike fixed windows, which let twice the limit through across a minute's end.
//! One check is one step under a lock locally, and one Lua script (one round trip) in Redis,
//! which several instances share. If Redis cannot be reached, the process counts locally
//! and says so in its logs and in `/readyz`, rather than refusing or waving traffic through.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The length of a window, in seconds.
pub const WINDOW_SECONDS: u64 = 60;
/// Beyond this many counters, those of past windows are dropped.
const LOCAL_COUNTERS_SOFT_MAX: usize = 100_000;

/// Where the time comes from (a fixed clock in tests).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    pub remaining: u32,
    /// When the current window ends, in seconds since the Unix epoch.
    pub reset: u64,
    pub allowed: bool,
    /// Seconds until a request would be allowed again (when this one was refused).
    pub retry_after: u64,
}

/// The two counters a check reads: the current window's (after counting this request, if
/// it was allowed) and the previous window's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    current: u64,
    previous: u64,
    allowed: bool,
}

/// Whether one more request fits: the previous count weighted by the share of the previous
/// window still inside the last sixty seconds, plus the current count and this request,
/// within the limit. In integers: `previous * (W - elapsed) + (current + 1) * W <= limit * W`.
fn fits(limit: u32, current: u64, previous: u64, elapsed: u64) -> bool {
    let window = u128::from(WINDOW_SECONDS);
    let weight = window - u128::from(elapsed.min(WINDOW_SECONDS));
    u128::from(previous) * weight + (u128::from(current) + 1) * window <= u128::from(limit) * window
}

impl RateStatus {
    fn new(limit: u32, counts: Counts, now: u64) -> Self {
        let window_start = now / WINDOW_SECONDS * WINDOW_SECONDS;
        let elapsed = now - window_start;
        let reset = window_start + WINDOW_SECONDS;
        let window = u128::from(WINDOW_SECONDS);
        let weight = window - u128::from(elapsed);
        // The estimate after this request, rounded up.
        let used =
            (u128::from(counts.previous) * weight).div_ceil(window) + u128::from(counts.current);
        let remaining = u128::from(limit).saturating_sub(used);
        Self {
            limit,
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset,
            allowed: counts.allowed,
            retry_after: if counts.allowed {
                0
            } else {
                retry_after(limit, counts, elapsed)
            },
        }
    }
}

/// Seconds until one more request fits, as the previous window's weight fades (and, once
/// the current window is full, as it becomes the previous one).
fn retry_after(limit: u32, counts: Counts, elapsed: u64) -> u64 {
    let w = WINDOW_SECONDS;
    // Later in this window: the first second at which it fits.
    if let Some(at) = (elapsed + 1..w).find(|&e| fits(limit, counts.current, counts.previous, e)) {
        return at - elapsed;
    }
    // In the next window, where this window's count is the previous one.
    (0..=w)
        .find(|&e| fits(limit, 0, counts.current, e))
        .map_or(2 * w - elapsed, |e| w - elapsed + e)
        .max(1)
}

/// Counters in this process.
#[derive(Debug, Default)]
struct LocalCounters {
    counters: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// Key → (window, count in it, count in the window before).
    by_key: HashMap<String, (u64, u64, u64)>,
    /// The size at which the next sweep of past windows runs (0: the soft maximum). After a
    /// sweep it is twice what the sweep left, so that when most counters are live each new
    /// key does not pay for a walk over all of them: sweeps stay amortized O(1) per key, and
    /// memory within twice the live counters.
    sweep_at: usize,
}

impl LocalCounters {
    /// Counts one request for `key` at `elapsed` seconds into `window` if it fits `limit`.
    fn hit(&self, key: &str, window: u64, elapsed: u64, limit: u32) -> Counts {
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Counters { by_key, sweep_at } = &mut *counters;
        if by_key.len() >= (*sweep_at).max(LOCAL_COUNTERS_SOFT_MAX) && !by_key.contains_key(key) {
            // A counter of the window before still weighs on this one.
            by_key.retain(|_, (w, _, _)| *w + 1 >= window);
            *sweep_at = by_key.len() * 2;
        }
        let entry = by_key.entry(key.to_owned()).or_insert((window, 0, 0));
        if entry.0 != window {
            let previous = if entry.0 + 1 == window { entry.1 } else { 0 };
            *entry = (window, 0, previous);
        }
        let allowed = fits(limit, entry.1, entry.2, elapsed);
        if allowed {
            entry.1 += 1;
        }
        Counts {
            current: entry.1,
            previous: entry.2,
            allowed,
        }
    }
}

/// Counters in Redis: one atomic script per check. The connection is made on first use
/// and made again after Redis comes back; until then every check fails over to the local
/// counters.
struct RedisCounters {
    client: redis::Client,
    connection: Mutex<Option<redis::aio::ConnectionManager>>,
    /// When connecting last failed (0: never), so that an unreachable Redis is not
    /// tried on every request.
    last_failure: AtomicU64,
    script: redis::Script,
    prefix: String,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// One check in Redis: KEYS are the current and the previous window's counters; ARGV the
/// limit, the previous window's weight (seconds of it still inside the last minute), the
/// window's length and the counters' lifetime. Counts the request only if it fits, as the
/// local counters do, and answers `{current, previous, allowed}`.
const CHECK: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local weight = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
if previous * weight + (current + 1) * window > limit * window then
  return {current, previous, 0}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return {current, previous, 1}
";

/// How long to wait between attempts to reach an unreachable Redis, in seconds.
const RECONNECT_SECONDS: u64 = 5;

impl RedisCounters {
    async fn connection(&self, now: u64) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let existing = self
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(connection) = existing {
            return Ok(connection);
        }
        let failed = self.last_failure.load(Ordering::Relaxed);
        if failed != 0 && now.saturating_sub(failed) < RECONNECT_SECONDS {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis is unreachable",
            )));
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let connection = match self.client.get_connection_manager_with_config(config).await {
            Ok(connection) => connection,
            Err(error) => {
                self.last_failure.store(now.max(1), Ordering::Relaxed);
                return Err(error);
            }
        };
        *self.connection.lock().unwrap_or_else(|p| p.into_inner()) = Some(connection.clone());
        Ok(connection)
    }

    async fn hit(
        &self,
        key: &str,
        window: u64,
        elapsed: u64,
        limit: u32,
        now: u64,
    ) -> redis::RedisResult<Counts> {
        let mut connection = self.connection(now).await?;
        let (current, previous, allowed): (u64, u64, u8) = self
            .script
            .key(format!("{}{key}:{window}", self.prefix))
            .key(format!("{}{key}:{}", self.prefix, window.saturating_sub(1)))
            .arg(limit)
            .arg(WINDOW_SECONDS - elapsed)
            .arg(WINDOW_SECONDS)
            // The counter is read as the previous one through the next window.
            .arg(WINDOW_SECONDS * 3)
            .invoke_async(&mut connection)
            .await?;
        Ok(Counts {
            current,
            previous,
            allowed: allowed == 1,
        })
    }
}

/// Counts requests against their limits.
#[derive(Debug)]
pub struct RateLimiter {
    local: LocalCounters,
    redis: Option<RedisCounters>,
    redis_down: AtomicBool,
    clock: Arc<dyn Clock>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::local(Arc::new(SystemClock))
    }
}

impl RateLimiter {
    /// Counters in this process.
    pub fn local(clock: Arc<dyn Clock>) -> Self {
        Self {
            local: LocalCounters::default(),
            redis: None,
            redis_down: AtomicBool::new(false),
            clock,
        }
    }

    /// Counters in Redis at `url`, shared by every instance that uses it; keys start with
    /// `prefix`. Only the URL is checked here: Redis is reached on first use, and an
    /// unreachable one is reported then.
    pub fn redis(
        url: &str,
        prefix: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            local: LocalCounters::default(),
            redis: Some(RedisCounters {
                client,
                connection: Mutex::new(None),
                last_failure: AtomicU64::new(0),
                script: redis::Script::new(CHECK),
                prefix: prefix.to_owned(),
            }),
            redis_down: AtomicBool::new(false),
            clock,
        })
    }

    /// Counts one request against `limit` for `key`, if it fits.
    pub async fn hit(&self, key: &str, limit: u32) -> RateStatus {
        let now = self.clock.now();
        let window = now / WINDOW_SECONDS;
        let elapsed = now % WINDOW_SECONDS;
        let counts = match &self.redis {
            None => self.local.hit(key, window, elapsed, limit),
            Some(redis) => match redis.hit(key, window, elapsed, limit, now).await {
                Ok(counts) => {
                    if self.redis_down.swap(false, Ordering::Relaxed) {
                        tracing::warn!("Redis answers again: rate limits are shared again");
                    }
                    counts
                }
                Err(error) => {
                    if !self.redis_down.swap(true, Ordering::Relaxed) {
                        tracing::warn!(%error, "Redis is unreachable: counting rate limits in this process until it is back");
                    }
                    self.local.hit(key, window, elapsed, limit)
                }
            },
        };
        RateStatus::new(limit, counts, now)
    }

    /// Where the counters live now: `local`, `redis`, or `local (redis unreachable)`.
    pub fn mode(&self) -> &'static str {
        match (&self.redis, self.redis_down.load(Ordering::Relaxed)) {
            (None, _) => "local",
            (Some(_), false) => "redis",
            (Some(_), true) => "local (redis unreachable)",
        }
    }
}

/// Checks that Redis at `url` answers a `PING` within `timeout` (for `tenantry check`).
pub async fn check_redis(url: &str, timeout: std::time::Duration) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| format!("the Redis URL is invalid: {e}"))?;
    let ping = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(timeout, ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct FixedClock(AtomicU64);

    impl Clock for FixedClock {
        fn now(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[actix_web::test]
    async fn a_window_allows_its_limit_and_refused_requests_are_not_counted() {
        let clock = Arc::new(FixedClock(AtomicU64::new(6_000 + 15)));
        let limiter = RateLimiter::local(clock.clone());
        for expected_remaining in (0..3).rev() {
            let status = limiter.hit("k", 3).await;
            assert!(status.allowed);
            assert_eq!(status.remaining, expected_remaining);
            assert_eq!(status.reset, 6_060);
        }
        for _ in 0..5 {
            let refused = limiter.hit("k", 3).await;
            assert!(!refused.allowed);
            assert_eq!(refused.remaining, 0);
        }
        assert!(
            limiter.hit("other", 3).await.allowed,
            "keys are counted apart"
        );
        // Two windows later nothing of this one weighs.
        clock.0.store(6_120, Ordering::Relaxed);
        for _ in 0..3 {
            assert!(limiter.hit("k", 3).await.allowed);
        }
        assert_eq!(limiter.mode(), "local");
    }

    #[actix_web::test]
    async fn a_burst_across_a_minutes_end_gets_no_more_than_the_limit() {
        // The whole limit at the last second of one window...
        let clock = Arc::new(FixedClock(AtomicU64::new(6_000 + 59)));
        let limiter = RateLimiter::local(clock.clone());
        let limit = 60;
        for _ in 0..limit {
            assert!(limiter.hit("k", limit).await.allowed);
        }
        let refused = limiter.hit("k", limit).await;
        assert!(!refused.allowed);
        // ...leaves nothing at the very start of the next (fixed windows gave 60 more), one
        // request a second later, and the allowance comes back as the last minute slides
        // past the burst.
        clock.0.store(6_060, Ordering::Relaxed);
        assert!(!limiter.hit("k", limit).await.allowed);
        clock.0.store(6_061, Ordering::Relaxed);
        let mut allowed = 0;
        while limiter.hit("k", limit).await.allowed {
            allowed += 1;
        }
        assert_eq!(allowed, 1, "59/60 of the burst still weighs");
        let refused = limiter.hit("k", limit).await;
        assert_eq!(refused.retry_after, 1);
        clock.0.store(6_090, Ordering::Relaxed);
        let mut allowed = 0;
        while limiter.hit("k", limit).await.allowed {
            allowed += 1;
        }
        assert_eq!(allowed, 29, "half a minute on, half the burst has slid out");
        // Over any sixty seconds, never more than the limit plus the rounding of one.
        clock.0.store(6_119, Ordering::Relaxed);
        let mut allowed = 0;
        while limiter.hit("k", limit).await.allowed {
            allowed += 1;
        }
        assert!(allowed <= 29, "{allowed}");
    }

    #[test]
    fn retry_after_is_when_one_more_request_fits() {
        let full = Counts {
            current: 10,
            previous: 0,
            allowed: false,
        };
        // Full with nothing before: in the next window this one weighs until 6 s in.
        assert_eq!(retry_after(10, full, 30), 36);
        let fading = Counts {
            current: 0,
            previous: 10,
            allowed: false,
        };
        // Only the previous window weighs: 10 * (60 - e) / 60 <= 9 from e = 6.
        assert_eq!(retry_after(10, fading, 1), 5);
        let status = RateStatus::new(10, full, 6_000 + 30);
        assert_eq!(status.remaining, 0);
        assert_eq!(status.reset, 6_060);
        assert_eq!(status.retry_after, 36);
    }

    #[test]
    fn local_counters_keep_only_live_windows_once_they_are_many() {
        let counters = LocalCounters::default();
        for i in 0..LOCAL_COUNTERS_SOFT_MAX {
            counters.hit(&format!("org:{i}"), 1, 0, 100);
        }
        counters.hit("org:late", 3, 0, 100);
        let kept = counters.counters.lock().unwrap().by_key.len();
        assert_eq!(kept, 1, "memory stays bounded however many keys passed");
    }

    #[test]
    fn local_counters_do_not_sweep_live_counters_on_every_new_key() {
        let counters = LocalCounters::default();
        let live = LOCAL_COUNTERS_SOFT_MAX + 10;
        for i in 0..live {
            counters.hit(&format!("org:{i}"), 1, 0, 100);
        }
        // The sweep at the soft maximum found every counter live: the next one waits until
        // there are twice as many, and nothing live was dropped.
        let state = counters.counters.lock().unwrap();
        assert_eq!(state.by_key.len(), live);
        assert_eq!(state.sweep_at, LOCAL_COUNTERS_SOFT_MAX * 2);
        drop(state);
        for i in 0..live {
            assert_eq!(
                counters.hit(&format!("org:{i}"), 1, 0, 100).current,
                2,
                "org:{i} kept its count"
            );
        }
        // Two windows later the old ones are swept once the map reaches the new threshold.
        for i in 0..LOCAL_COUNTERS_SOFT_MAX * 2 - live {
            counters.hit(&format!("next:{i}"), 3, 0, 100);
        }
        counters.hit("next:last", 3, 0, 100);
        let state = counters.counters.lock().unwrap();
        assert_eq!(state.by_key.len(), LOCAL_COUNTERS_SOFT_MAX * 2 - live + 1);
        assert!(state.by_key.keys().all(|k| k.starts_with("next:")));
    }
}
