//! Housekeeping that runs inside every `tenantry serve`.

use std::time::Duration;

use tenantry_storage::Store;

/// How long the answer to an idempotent request is kept: longer than a billing cycle, so a
/// usage call retried late in a cycle is still recognized.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(40 * 24 * 60 * 60);

/// How many days the audit log keeps an event unless configured otherwise.
pub const DEFAULT_EVENT_RETENTION_DAYS: u64 = 365;

/// How often the housekeeping runs.
const EVERY: Duration = Duration::from_secs(60 * 60);

/// Rows deleted per statement.
const BATCH: u64 = 1_000;

/// Now and every hour, for as long as it runs: prunes kept idempotent answers older than
/// [`IDEMPOTENCY_RETENTION`] and events older than `event_retention`, in batches. Several
/// instances may run it at once: each deletes what is there.
pub async fn run(store: Store, event_retention: Duration) {
    loop {
        prune(&store, event_retention).await;
        tokio::time::sleep(EVERY).await;
    }
}

/// How often the SQLite WAL is checkpointed in the background.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// For as long as it runs: checkpoints the SQLite WAL every 250 ms
/// ([`Store::checkpoint`]), so that no request's write does it while the others wait for
/// their turn. Nothing on PostgreSQL.
pub async fn checkpoints(store: Store) {
    if store.backend() != "sqlite" {
        return;
    }
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if let Err(error) = store.checkpoint().await {
            tracing::warn!(%error, "could not checkpoint the WAL; will retry");
        }
    }
}

/// One round of pruning.
pub async fn prune(store: &Store, event_retention: Duration) {
    let now = time::OffsetDateTime::now_utc();
    match store
        .prune_idempotency_keys(now - IDEMPOTENCY_RETENTION, BATCH)
        .await
    {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "pruned idempotency keys older than 40 days"),
        Err(error) => tracing::warn!(%error, "could not prune idempotency keys; will retry"),
    }
    match store.prune_events(now - event_retention, BATCH).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(
            removed,
            days = event_retention.as_secs() / 86_400,
            "pruned events past their retention"
        ),
        Err(error) => tracing::warn!(%error, "could not prune events; will retry"),
    }
}
