//! GCRA, the algorithm of `lua/ratelimit.lua`, in process: the fallback while
//! Redis is unavailable. Written here rather than taken from `governor`
//! because the fallback must answer exactly like the script — the same
//! remaining/reset figures for the response headers, and token reconciliation
//! (refunds), which `governor` has no way to express — and because it runs on
//! tokio's clock, so tests can pause time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::time::Instant;

/// One limit's parameters: `interval_us` per unit, a burst of `burst` units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub interval_us: f64,
    pub burst: f64,
}

impl Rate {
    /// `per_minute` units a minute with a burst of `burst` units.
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        Self {
            interval_us: 60_000_000.0 / f64::from(per_minute.max(1)),
            burst: f64::from(burst.max(1)),
        }
    }
}

/// The state of one limit after a decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub remaining: u64,
    pub reset_us: u64,
}

/// Outcome of `take` over several limits (all-or-nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    /// Index of the limit that refused (the one needing the longest wait).
    pub denied: Option<usize>,
    pub retry_after_us: u64,
    pub standings: Vec<Standing>,
}

/// Keyed theoretical arrival times, in µs since `epoch`.
pub struct LocalGcra {
    epoch: Instant,
    tats: Mutex<HashMap<String, f64>>,
}

impl Default for LocalGcra {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            tats: Mutex::new(HashMap::new()),
        }
    }
}

impl LocalGcra {
    fn now_us(&self) -> f64 {
        self.epoch.elapsed().as_micros() as f64
    }

    /// Charges `cost` units to every limit, or to none if any would overflow.
    pub fn take(&self, limits: &[(String, Rate, f64)]) -> Verdict {
        let now = self.now_us();
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        let current: Vec<f64> = limits
            .iter()
            .map(|(key, _, _)| tats.get(key).copied().unwrap_or(now).max(now))
            .collect();
        let mut verdict = Verdict {
            allowed: true,
            denied: None,
            retry_after_us: 0,
            standings: Vec::with_capacity(limits.len()),
        };
        for (i, (_, rate, cost)) in limits.iter().enumerate() {
            let over = current[i] + cost * rate.interval_us - now - rate.burst * rate.interval_us;
            if over > 0.0 {
                verdict.allowed = false;
                if over.ceil() as u64 > verdict.retry_after_us || verdict.denied.is_none() {
                    verdict.retry_after_us = over.ceil() as u64;
                    verdict.denied = Some(i);
                }
            }
        }
        for (i, (key, rate, cost)) in limits.iter().enumerate() {
            let mut tat = current[i];
            if verdict.allowed {
                tat += cost * rate.interval_us;
                tats.insert(key.clone(), tat);
            }
            verdict.standings.push(standing(tat, now, *rate));
        }
        verdict
    }

    /// Applies signed corrections without a decision; a TAT never falls below now.
    pub fn adjust(&self, limits: &[(String, Rate, f64)]) {
        let now = self.now_us();
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, rate, amount) in limits {
            let tat = tats.get(key).copied().unwrap_or(now).max(now);
            tats.insert(key.clone(), (tat + amount * rate.interval_us).max(now));
        }
    }
}

fn standing(tat: f64, now: f64, rate: Rate) -> Standing {
    let remaining = ((rate.burst * rate.interval_us - (tat - now)) / rate.interval_us).floor();
    Standing {
        remaining: remaining.max(0.0) as u64,
        reset_us: (tat - now).max(0.0).ceil() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn one(rate: Rate, cost: f64) -> Vec<(String, Rate, f64)> {
        vec![("k".into(), rate, cost)]
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_admitted_whole_and_the_next_refused_for_one_interval() {
        let gcra = LocalGcra::default();
        let rate = Rate::per_minute(60, 5); // one a second, burst 5
        for i in 0..5 {
            let v = gcra.take(&one(rate, 1.0));
            assert!(v.allowed, "request {i}");
            assert_eq!(v.standings[0].remaining, 4 - i);
        }
        let refused = gcra.take(&one(rate, 1.0));
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_us, 1_000_000);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!gcra.take(&one(rate, 1.0)).allowed);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(gcra.take(&one(rate, 1.0)).allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_charges_no_limit() {
        let gcra = LocalGcra::default();
        let small = Rate::per_minute(60, 1);
        let large = Rate::per_minute(60, 10);
        let both = |cost| {
            vec![
                ("a".to_string(), large, cost),
                ("b".to_string(), small, cost),
            ]
        };
        assert!(gcra.take(&both(1.0)).allowed);
        let refused = gcra.take(&both(1.0));
        assert!(!refused.allowed);
        assert_eq!(refused.denied, Some(1));
        assert_eq!(
            refused.standings[0].remaining, 9,
            "the large limit was not charged"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refunds_give_capacity_back_but_never_below_empty() {
        let gcra = LocalGcra::default();
        let rate = Rate::per_minute(600, 100);
        assert!(gcra.take(&one(rate, 80.0)).allowed);
        assert!(!gcra.take(&one(rate, 30.0)).allowed);
        gcra.adjust(&one(rate, -70.0));
        assert!(gcra.take(&one(rate, 30.0)).allowed);
        gcra.adjust(&one(rate, -1_000.0));
        assert_eq!(gcra.take(&one(rate, 0.0)).standings[0].remaining, 100);
    }

    #[test]
    fn rates_convert_from_per_minute() {
        let rate = Rate::per_minute(120, 7);
        assert_eq!(rate.interval_us, 500_000.0);
        assert_eq!(rate.burst, 7.0);
    }
}
