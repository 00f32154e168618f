//! The retry budget: retries across all requests stay within a share of the
//! traffic (`ratio` of the requests of the last 10 s) plus a small floor per
//! second, as linkerd's budget does — so a failing provider sees a bounded
//! amplification, not every request times `max_attempts`. A request that is
//! itself a client's retry (`x-stainless-retry-count` > 0) spends from the
//! same budget and is not retried again by the gateway.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

const SLOTS: usize = 10;
const SLOT: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Default)]
struct Slot {
    second: u64,
    requests: u64,
    retries: u64,
}

pub struct RetryBudget {
    ratio: f64,
    floor_per_sec: f64,
    epoch: Instant,
    slots: Mutex<[Slot; SLOTS]>,
}

impl RetryBudget {
    pub fn new(ratio: f64, floor_per_sec: f64) -> Self {
        Self {
            ratio,
            floor_per_sec,
            epoch: Instant::now(),
            slots: Mutex::new([Slot::default(); SLOTS]),
        }
    }

    fn with_slots<T>(&self, f: impl FnOnce(&mut [Slot; SLOTS], u64) -> T) -> T {
        let second = Instant::now().duration_since(self.epoch).as_secs() / SLOT.as_secs();
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = &mut slots[second as usize % SLOTS];
        if slot.second != second {
            *slot = Slot {
                second,
                ..Slot::default()
            };
        }
        f(&mut slots, second)
    }

    /// A request's first attempt: a deposit, or — for a client's retry — a
    /// withdrawal that is always made.
    pub fn started(&self, client_retry: bool) {
        self.with_slots(|slots, second| {
            let slot = &mut slots[second as usize % SLOTS];
            if client_retry {
                slot.retries += 1;
            } else {
                slot.requests += 1;
            }
        });
    }

    /// Whether one more gateway retry fits the budget (and takes it if so).
    pub fn try_retry(&self) -> bool {
        self.with_slots(|slots, second| {
            let live = slots
                .iter()
                .filter(|s| second.saturating_sub(s.second) < SLOTS as u64);
            let (requests, retries) =
                live.fold((0, 0), |(q, r), s| (q + s.requests, r + s.retries));
            let allowed = self.ratio * requests as f64 + self.floor_per_sec * SLOTS as f64;
            if (retries as f64) < allowed {
                slots[second as usize % SLOTS].retries += 1;
                true
            } else {
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_stay_within_the_share_of_traffic_plus_the_floor() {
        let budget = RetryBudget::new(0.2, 0.1);
        for _ in 0..100 {
            budget.started(false);
        }
        // 20 % of 100 requests, plus 0.1/s over 10 s.
        let granted = (0..100).filter(|_| budget.try_retry()).count();
        assert_eq!(granted, 21);
        // Ten seconds on, the window has moved past them.
        tokio::time::advance(Duration::from_secs(11)).await;
        let granted = (0..100).filter(|_| budget.try_retry()).count();
        assert_eq!(granted, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn client_retries_spend_from_the_same_budget() {
        let budget = RetryBudget::new(0.2, 0.0);
        for _ in 0..10 {
            budget.started(false);
        }
        budget.started(true);
        budget.started(true);
        assert!(!budget.try_retry(), "2 client retries used the 20 % of 10");
    }
}
