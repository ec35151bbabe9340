//! Housekeeping that runs inside every `tenantry serve`.

use std::time::Duration;

use tenantry_storage::Store;

/// How long the answer to an idempotent request is kept: longer than a billing cycle, so a
/// usage call retried late in a cycle is still recognized.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(40 * 24 * 60 * 60);

/// How often the housekeeping runs.
const EVERY: Duration = Duration::from_secs(60 * 60);

/// Rows deleted per statement.
const BATCH: u64 = 1_000;

/// Prunes kept idempotent answers older than [`IDEMPOTENCY_RETENTION`], now and every hour,
/// for as long as it runs. Several instances may run it at once: each deletes what is there.
pub async fn run(store: Store) {
    loop {
        let before = time::OffsetDateTime::now_utc() - IDEMPOTENCY_RETENTION;
        match store.prune_idempotency_keys(before, BATCH).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "pruned idempotency keys older than 40 days"),
            Err(error) => tracing::warn!(%error, "could not prune idempotency keys; will retry"),
        }
        tokio::time::sleep(EVERY).await;
    }
}
