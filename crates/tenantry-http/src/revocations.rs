//! Following the revocations other instances announce, so that a revoked key stops working
//! everywhere at once rather than when each instance's memory of it expires.

use std::sync::Arc;
use std::time::Duration;

use tenantry_storage::{Heard, Revocation, Store};

use crate::key_cache::KeyCache;

/// How long to wait before listening again after the database could not be reached.
const RETRY: Duration = Duration::from_secs(1);

/// Forgets in `keys` whatever any instance sharing `store`'s database revokes, for as long
/// as it runs. On SQLite it returns at once: nothing else announces there. Whenever the
/// listening connection is lost, everything is forgotten, since announcements may have been
/// missed meanwhile; until it is back, the cache's lifetime bounds what could be missed.
pub async fn follow(store: Store, keys: Arc<KeyCache>) {
    let mut reported = false;
    loop {
        let mut listener = match store.listen_for_revocations().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(error) => {
                if !reported {
                    tracing::warn!(%error, "cannot listen for key revocations; retrying, and other instances' revocations take effect when cached keys expire");
                    reported = true;
                }
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if reported {
            tracing::info!("listening for key revocations again");
            reported = false;
        }
        // Whatever was announced before this listener started is no longer known to be
        // applied.
        keys.forget_all();
        loop {
            match listener.next().await {
                Ok(Heard::Revoked(Revocation::Key(id))) => keys.forget_key(id),
                Ok(Heard::Revoked(Revocation::All) | Heard::Reconnected) => keys.forget_all(),
                Err(error) => {
                    tracing::warn!(%error, "lost the key revocation listener; listening again");
                    keys.forget_all();
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
        }
    }
}
