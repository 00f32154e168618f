//! The L1 exact cache: a byte-bounded moka cache in process, backed — when
//! Redis is configured — by a shared Redis tier, so an answer filled on one
//! node is a hit on every node. TTLs are fixed at write time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::notification::RemovalCause;
use moka::sync::Cache;

use super::entry::{CachedResponse, now_ms};
use super::key::CacheKey;
use super::purge::{PurgeScope, Purges};
use crate::metrics::Metrics;
use crate::shared::{Shared, Write};

/// Which tier answered a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Memory,
    Redis,
}

pub enum Lookup {
    Hit(Arc<CachedResponse>, Tier),
    Miss,
}

impl Lookup {
    /// The entry of a hit.
    pub fn hit(self) -> Option<Arc<CachedResponse>> {
        match self {
            Self::Hit(entry, _) => Some(entry),
            Self::Miss => None,
        }
    }
}

/// Expires each entry at its own write-time TTL.
struct ByEntry;

impl Expiry<CacheKey, Arc<CachedResponse>> for ByEntry {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Arc<CachedResponse>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(value.remaining(now_ms()).unwrap_or(Duration::ZERO))
    }

    fn expire_after_update(
        &self,
        _key: &CacheKey,
        value: &Arc<CachedResponse>,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.remaining(now_ms()).unwrap_or(Duration::ZERO))
    }
}

pub struct L1 {
    memory: Cache<CacheKey, Arc<CachedResponse>>,
    shared: Option<Shared>,
    purges: Arc<Purges>,
    metrics: Arc<Metrics>,
}

impl L1 {
    pub fn new(
        max_bytes: u64,
        shared: Option<Shared>,
        purges: Arc<Purges>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let evicted = Arc::clone(&metrics);
        let memory = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_key, value: &Arc<CachedResponse>| value.weight())
            .expire_after(ByEntry)
            .eviction_listener(move |_key, _value, cause| {
                if cause == RemovalCause::Size {
                    evicted.cache_eviction("l1");
                }
            })
            .build();
        Self {
            memory,
            shared,
            purges,
            metrics,
        }
    }

    fn redis_key(shared: &Shared, key: &CacheKey) -> String {
        shared.key(&format!("l1:{}", key.hex()))
    }

    /// Memory first, then Redis (filling memory on a Redis hit). A Redis
    /// failure is a miss; so is an entry of `scope` purged since it was stored.
    pub async fn lookup(&self, key: &CacheKey, scope: &str) -> Lookup {
        let now = now_ms();
        let cut = self.purges.cut(scope);
        let live = |e: &CachedResponse| e.remaining(now).is_some() && e.stored_at_ms > cut;
        if let Some(entry) = self.memory.get(key) {
            if live(&entry) {
                self.metrics.cache_lookup("l1_memory", "hit");
                return Lookup::Hit(entry, Tier::Memory);
            }
            self.memory.invalidate(key);
        }
        self.metrics.cache_lookup("l1_memory", "miss");
        let Some(shared) = &self.shared else {
            return Lookup::Miss;
        };
        let found = match shared.get("l1_get", &Self::redis_key(shared, key)).await {
            Ok(found) => found,
            Err(_) => {
                self.metrics.cache_lookup("l1_redis", "error");
                return Lookup::Miss;
            }
        };
        let entry = found
            .and_then(|bytes| CachedResponse::decode(&bytes))
            .filter(|e| live(e));
        match entry {
            Some(entry) => {
                self.metrics.cache_lookup("l1_redis", "hit");
                let entry = Arc::new(entry);
                self.memory.insert(*key, Arc::clone(&entry));
                Lookup::Hit(entry, Tier::Redis)
            }
            None => {
                self.metrics.cache_lookup("l1_redis", "miss");
                Lookup::Miss
            }
        }
    }

    /// Stores an answer in memory now (a request that follows finds it) and,
    /// when configured, in Redis with the same expiry, through the outbox
    /// (so a Redis outage delays the write instead of losing it).
    pub fn fill(&self, key: CacheKey, entry: Arc<CachedResponse>) {
        if entry.remaining(now_ms()).is_none() {
            return;
        }
        self.memory.insert(key, Arc::clone(&entry));
        if let Some(shared) = &self.shared {
            shared.send_later(vec![Write::Set {
                op: "l1_set",
                key: Self::redis_key(shared, &key),
                value: entry.encode().into(),
                expires_at_ms: entry.expires_at_ms,
            }]);
        }
    }

    /// Applies a purge to the memory tier: everything at once for a purge of
    /// all scopes; one scope's entries are dropped as they are looked up
    /// (their keys are hashes, and look-ups check the purge marks).
    pub fn purge(&self, scope: &PurgeScope) {
        if *scope == PurgeScope::All {
            self.memory.invalidate_all();
        }
    }

    /// Entry count and weighed bytes of the memory tier, after pending evictions.
    pub fn usage(&self) -> (u64, u64) {
        self.memory.run_pending_tasks();
        (self.memory.entry_count(), self.memory.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::Usage;
    use bytes::Bytes;

    fn entry(size: usize, ttl: Duration) -> Arc<CachedResponse> {
        Arc::new(CachedResponse::new(
            Bytes::from(vec![b'x'; size]),
            ttl,
            Usage::default(),
        ))
    }

    fn l1(budget: u64) -> L1 {
        L1::new(budget, None, Arc::default(), Arc::new(Metrics::new()))
    }

    fn key(i: u32) -> CacheKey {
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&i.to_le_bytes());
        CacheKey(k)
    }

    #[tokio::test]
    async fn a_filled_entry_is_found_in_memory() {
        let l1 = l1(1 << 20);
        assert!(matches!(l1.lookup(&key(1), "s").await, Lookup::Miss));
        l1.fill(key(1), entry(10, Duration::from_secs(60)));
        assert!(matches!(
            l1.lookup(&key(1), "s").await,
            Lookup::Hit(_, Tier::Memory)
        ));
    }

    #[tokio::test]
    async fn the_byte_budget_holds_when_inserting_past_it() {
        let budget = 64 * 1024;
        let l1 = l1(budget);
        for i in 0..200 {
            l1.fill(key(i), entry(1024, Duration::from_secs(60)));
        }
        let (entries, bytes) = l1.usage();
        assert!(bytes <= budget, "{bytes} > {budget}");
        assert!(entries < 200 && entries > 0, "{entries}");
    }

    #[tokio::test]
    async fn an_expired_entry_is_never_returned() {
        let l1 = l1(1 << 20);
        let dead = Arc::new(CachedResponse {
            body: Bytes::from_static(b"{}"),
            expires_at_ms: now_ms().saturating_sub(1),
            stored_at_ms: 0,
            usage: Usage::default(),
        });
        l1.memory.insert(key(7), dead);
        assert!(matches!(l1.lookup(&key(7), "s").await, Lookup::Miss));
    }
}
