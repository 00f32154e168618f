//! A pool of provider API keys: round-robin over keys that are not cooling down.
//! A key that got 429 rests for its `Retry-After` (or a doubling cool-down), so
//! the retry — and later requests — go to another key.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::HeaderValue;
use tokio::time::Instant;

use crate::config::Secret;

/// What the pool offers for the next attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// Use the key at this index.
    Key(usize),
    /// The upstream takes no key.
    Anonymous,
    /// Every key is cooling down; the first is free again after this wait.
    Wait(Duration),
}

struct Slot {
    header: HeaderValue,
    /// Milliseconds since `epoch` until which the key rests.
    rest_until_ms: AtomicU64,
    strikes: AtomicU32,
}

pub struct KeyPool {
    slots: Vec<Slot>,
    next: AtomicUsize,
    epoch: Instant,
    base_cooldown: Duration,
    max_cooldown: Duration,
}

impl KeyPool {
    /// Keys that cannot form an HTTP header are skipped (validated at start-up).
    pub fn new(keys: &[Secret], base_cooldown: Duration, max_cooldown: Duration) -> Self {
        let slots = keys
            .iter()
            .filter_map(|k| HeaderValue::try_from(format!("Bearer {}", k.expose())).ok())
            .map(|mut header| {
                header.set_sensitive(true);
                Slot {
                    header,
                    rest_until_ms: AtomicU64::new(0),
                    strikes: AtomicU32::new(0),
                }
            })
            .collect();
        Self {
            slots,
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
            base_cooldown,
            max_cooldown,
        }
    }

    fn now_ms(&self) -> u64 {
        Instant::now().duration_since(self.epoch).as_millis() as u64
    }

    /// The next key in turn that is not resting.
    pub fn lease(&self) -> Lease {
        let n = self.slots.len();
        if n == 0 {
            return Lease::Anonymous;
        }
        let now = self.now_ms();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut soonest = u64::MAX;
        for i in 0..n {
            let index = (start + i) % n;
            let until = self.slots[index].rest_until_ms.load(Ordering::Acquire);
            if until <= now {
                return Lease::Key(index);
            }
            soonest = soonest.min(until);
        }
        Lease::Wait(Duration::from_millis(soonest.saturating_sub(now)))
    }

    /// The `Authorization` header value of a leased key.
    pub fn header(&self, index: usize) -> Option<&HeaderValue> {
        self.slots.get(index).map(|s| &s.header)
    }

    /// Rests a key after a 429: for `retry_after` if given, else a cool-down that
    /// doubles with each consecutive strike.
    pub fn cool_down(&self, index: usize, retry_after: Option<Duration>) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        let strikes = slot.strikes.fetch_add(1, Ordering::AcqRel).min(16);
        let rest = retry_after.unwrap_or_else(|| {
            self.base_cooldown
                .saturating_mul(1 << strikes)
                .min(self.max_cooldown)
        });
        let until = self.now_ms() + rest.as_millis() as u64;
        slot.rest_until_ms.fetch_max(until, Ordering::AcqRel);
    }

    /// Leaves out a key the provider refused (401/403) for `rest`, unless it
    /// is the only usable key (then the refusal is the provider's answer and
    /// goes to the client). Whether the key was quarantined.
    pub fn quarantine(&self, index: usize, rest: Duration) -> bool {
        let now = self.now_ms();
        let others = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, s)| *i != index && s.rest_until_ms.load(Ordering::Acquire) <= now)
            .count();
        let Some(slot) = self.slots.get(index).filter(|_| others > 0) else {
            return false;
        };
        let until = now + rest.as_millis() as u64;
        slot.rest_until_ms.fetch_max(until, Ordering::AcqRel);
        true
    }

    /// A success clears the key's strikes.
    pub fn succeeded(&self, index: usize) {
        if let Some(slot) = self.slots.get(index) {
            slot.strikes.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_key_is_left_out_unless_it_is_the_last_one() {
        let keys = [Secret::new("a"), Secret::new("b")];
        let pool = KeyPool::new(&keys, Duration::from_secs(1), Duration::from_secs(10));
        assert!(pool.quarantine(0, Duration::from_secs(600)));
        for _ in 0..4 {
            assert_eq!(pool.lease(), Lease::Key(1));
        }
        assert!(
            !pool.quarantine(1, Duration::from_secs(600)),
            "the last usable key"
        );
        assert_eq!(pool.lease(), Lease::Key(1));
    }

    fn pool(n: usize) -> KeyPool {
        let keys: Vec<_> = (0..n).map(|i| Secret::new(format!("k{i}"))).collect();
        KeyPool::new(&keys, Duration::from_secs(1), Duration::from_secs(60))
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_used_round_robin() {
        let pool = pool(3);
        let got: Vec<_> = (0..6).map(|_| pool.lease()).collect();
        let want: Vec<_> = [0, 1, 2, 0, 1, 2].into_iter().map(Lease::Key).collect();
        assert_eq!(got, want);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cooling_key_is_skipped_until_its_retry_after_passes() {
        let pool = pool(2);
        pool.cool_down(0, Some(Duration::from_secs(5)));
        for _ in 0..4 {
            assert_eq!(pool.lease(), Lease::Key(1));
        }
        tokio::time::advance(Duration::from_millis(4_999)).await;
        assert_eq!(pool.lease(), Lease::Key(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        let leases: Vec<_> = (0..2).map(|_| pool.lease()).collect();
        assert!(leases.contains(&Lease::Key(0)));
    }

    #[tokio::test(start_paused = true)]
    async fn when_all_keys_rest_the_pool_says_how_long_to_wait() {
        let pool = pool(2);
        pool.cool_down(0, Some(Duration::from_secs(3)));
        pool.cool_down(1, Some(Duration::from_secs(7)));
        assert_eq!(pool.lease(), Lease::Wait(Duration::from_secs(3)));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(pool.lease(), Lease::Key(0));
    }

    #[tokio::test(start_paused = true)]
    async fn cool_down_without_retry_after_doubles_per_strike_and_resets_on_success() {
        let pool = pool(1);
        pool.cool_down(0, None);
        assert_eq!(pool.lease(), Lease::Wait(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        pool.cool_down(0, None);
        assert_eq!(pool.lease(), Lease::Wait(Duration::from_secs(2)));
        tokio::time::advance(Duration::from_secs(2)).await;
        pool.succeeded(0);
        pool.cool_down(0, None);
        assert_eq!(pool.lease(), Lease::Wait(Duration::from_secs(1)));
    }

    #[test]
    fn an_upstream_without_keys_is_anonymous() {
        let pool = KeyPool::new(&[], Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(pool.lease(), Lease::Anonymous);
    }
}
