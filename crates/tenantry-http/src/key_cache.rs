//! A short-lived memory of which caller an API key hash stands for, so that a busy key is not
//! looked up in the database on every request.
//!
//! What it may never do is let a revoked key in. A revocation (or the deletion of a user or
//! an organization, whose keys go with them) on this instance forgets at once; a lookup that
//! was already under way when that happened does not write its answer back (a generation
//! counter tells). Another instance sharing a PostgreSQL database hears of it at once
//! ([`crate::revocations::follow`]); the entry's lifetime bounds what an instance that
//! cannot listen might miss, and zero turns the cache off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tenantry_domain::{ApiKeyId, KeyHash};

use crate::caller::Caller;

/// How many keys are remembered at most; beyond it, expired entries are dropped first and,
/// if none have expired, everything is.
const CAPACITY: usize = 10_000;

/// Key hash to caller, each for at most `ttl`.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

/// Where a lookup started, to tell whether a revocation happened since.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl KeyCache {
    /// A cache whose entries live `ttl`; `Duration::ZERO` remembers nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The caller this hash stood for, if remembered and not expired; otherwise the
    /// generation to hand back to [`KeyCache::remember`] after looking it up.
    pub fn get(&self, hash: &KeyHash) -> Result<Caller, Generation> {
        // Read the generation first: a revocation after this point makes `remember` a no-op.
        let generation = Generation(self.generation.load(Ordering::Acquire));
        if self.ttl.is_zero() {
            return Err(generation);
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(hash.as_str()) {
            Some((caller, at)) if at.elapsed() < self.ttl => Ok(*caller),
            _ => Err(generation),
        }
    }

    /// Remembers what a lookup that started at `generation` found, unless something was
    /// revoked since it started.
    pub fn remember(&self, hash: &KeyHash, caller: Caller, generation: Generation) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock that `forget_*` take after bumping it.
        if self.generation.load(Ordering::Acquire) != generation.0 {
            return;
        }
        if entries.len() >= CAPACITY {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(hash.as_str().to_owned(), (caller, Instant::now()));
    }

    /// Forgets the key with this id: it was revoked.
    pub fn forget_key(&self, id: ApiKeyId) {
        let mut entries = self.lock_for_forgetting();
        entries.retain(|_, (caller, _)| caller.key_id() != Some(id));
    }

    /// Forgets every key: a user or an organization, and so their keys, went away.
    pub fn forget_all(&self) {
        self.lock_for_forgetting().clear();
    }

    fn lock_for_forgetting(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Caller, Instant)>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenantry_domain::UserId;

    fn user_caller() -> Caller {
        Caller::User {
            user_id: UserId::generate(),
            key_id: ApiKeyId::generate(),
        }
    }

    #[test]
    fn remembers_a_caller_until_its_key_is_forgotten() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let hash = KeyHash::of("some key");
        let caller = user_caller();
        let generation = cache.get(&hash).expect_err("nothing is remembered yet");
        cache.remember(&hash, caller, generation);
        assert_eq!(cache.get(&hash).ok(), Some(caller));
        cache.forget_key(ApiKeyId::generate());
        assert_eq!(
            cache.get(&hash).ok(),
            Some(caller),
            "another key was revoked"
        );
        cache.forget_key(caller.key_id().expect("a user key has an id"));
        assert!(cache.get(&hash).is_err());
    }

    #[test]
    fn a_lookup_under_way_during_a_revocation_is_not_remembered() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let hash = KeyHash::of("some key");
        let generation = cache.get(&hash).expect_err("nothing is remembered yet");
        cache.forget_all();
        cache.remember(&hash, user_caller(), generation);
        assert!(cache.get(&hash).is_err());
    }

    #[test]
    fn entries_expire_and_zero_remembers_nothing() {
        let hash = KeyHash::of("some key");
        for ttl in [Duration::ZERO, Duration::from_nanos(1)] {
            let cache = KeyCache::new(ttl);
            let generation = cache.get(&hash).expect_err("nothing is remembered yet");
            cache.remember(&hash, user_caller(), generation);
            std::thread::sleep(Duration::from_millis(1));
            assert!(cache.get(&hash).is_err(), "ttl {ttl:?}");
        }
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = KeyCache::new(Duration::from_secs(60));
        for i in 0..=CAPACITY {
            let hash = KeyHash::of(&format!("key {i}"));
            let generation = cache.get(&hash).expect_err("new key");
            cache.remember(&hash, user_caller(), generation);
        }
        let entries = cache.entries.lock().expect("not poisoned");
        assert!(entries.len() <= CAPACITY);
    }
}
