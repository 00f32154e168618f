//! Choosing among a model's deployments: weighted draws, and power of two
//! choices on each deployment's load — an EWMA of its attempt latency that
//! decays toward zero while it is not used (so a deployment once slow is
//! tried again), times its requests in flight.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::config::Balancer;

/// Weight of a new latency sample in the average.
const ALPHA: f64 = 0.3;
/// Time constant of the decay of an unused deployment's average.
const DECAY: Duration = Duration::from_secs(10);
/// The latency a failed attempt counts as, at least: failing fast is not
/// being fast.
pub const FAILURE_PENALTY: Duration = Duration::from_millis(250);

/// A deployment's load, updated lock-free by every attempt.
#[derive(Debug)]
pub struct Load {
    epoch: Instant,
    /// EWMA latency in microseconds, as `f64` bits.
    ewma_us: AtomicU64,
    /// When the average was last updated, in microseconds since `epoch`.
    updated_us: AtomicU64,
    in_flight: AtomicU32,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            ewma_us: AtomicU64::new(0f64.to_bits()),
            updated_us: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
        }
    }
}

impl Load {
    fn micros_since_epoch(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// The average latency as of `now`, decayed for the time it was not updated.
    pub fn latency_us(&self, now: Instant) -> f64 {
        let ewma = f64::from_bits(self.ewma_us.load(Ordering::Relaxed));
        let idle = self
            .micros_since_epoch(now)
            .saturating_sub(self.updated_us.load(Ordering::Relaxed));
        ewma * (-(idle as f64) / DECAY.as_micros() as f64).exp()
    }

    /// Adds one attempt's latency. Racing updates may lose a sample, which
    /// an average can afford.
    pub fn observe(&self, latency: Duration, now: Instant) {
        let sample = latency.as_micros() as f64;
        let current = self.latency_us(now);
        let next = if current == 0.0 {
            sample
        } else {
            current + ALPHA * (sample - current)
        };
        self.ewma_us.store(next.to_bits(), Ordering::Relaxed);
        self.updated_us
            .store(self.micros_since_epoch(now), Ordering::Relaxed);
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished(&self) {
        // Never below zero, even if a guard were dropped twice.
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Lower is better: latency × (in flight + 1) ÷ weight. A deployment
    /// never measured scores by its in-flight count alone (1 µs each).
    pub fn score(&self, weight: u32, now: Instant) -> f64 {
        let latency = self.latency_us(now).max(1.0);
        latency * f64::from(self.in_flight() + 1) / f64::from(weight.max(1))
    }
}

/// What the chooser needs to know of a candidate.
pub trait Candidate {
    fn weight(&self) -> u32;
    fn load(&self) -> &Load;
}

/// Picks one of `candidates` (indices into it); `None` when empty.
pub fn choose<C: Candidate>(
    candidates: &[C],
    balancer: Balancer,
    now: Instant,
    rng: &mut impl Rng,
) -> Option<usize> {
    match candidates.len() {
        0 => return None,
        1 => return Some(0),
        _ => {}
    }
    let first = weighted(candidates, None, rng);
    if balancer == Balancer::Weighted {
        return Some(first);
    }
    let second = weighted(candidates, Some(first), rng);
    let score = |i: usize| candidates[i].load().score(candidates[i].weight(), now);
    Some(if score(second) < score(first) {
        second
    } else {
        first
    })
}

/// A draw by weight, leaving out `except`.
fn weighted<C: Candidate>(candidates: &[C], except: Option<usize>, rng: &mut impl Rng) -> usize {
    let weight = |i: usize| {
        if Some(i) == except {
            0
        } else {
            u64::from(candidates[i].weight().max(1))
        }
    };
    let total: u64 = (0..candidates.len()).map(weight).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for i in 0..candidates.len() {
        let w = weight(i);
        if pick < w {
            return i;
        }
        pick -= w;
    }
    candidates.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    struct Fake(u32, Load);

    impl Candidate for Fake {
        fn weight(&self) -> u32 {
            self.0
        }
        fn load(&self) -> &Load {
            &self.1
        }
    }

    #[test]
    fn weighted_draws_follow_the_weights() {
        let c = [Fake(3, Load::default()), Fake(1, Load::default())];
        let mut rng = StdRng::seed_from_u64(1);
        let now = Instant::now();
        let n = 40_000;
        let first = (0..n)
            .filter(|_| choose(&c, Balancer::Weighted, now, &mut rng) == Some(0))
            .count();
        let share = first as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.02, "{share}");
    }

    #[test]
    fn p2c_prefers_the_faster_and_the_less_busy() {
        let now = Instant::now();
        let c = [Fake(1, Load::default()), Fake(1, Load::default())];
        c[0].1.observe(Duration::from_millis(200), now);
        c[1].1.observe(Duration::from_millis(20), now);
        let mut rng = StdRng::seed_from_u64(2);
        let picks: Vec<_> = (0..100)
            .filter_map(|_| choose(&c, Balancer::P2c, now, &mut rng))
            .collect();
        assert!(
            picks.iter().all(|&i| i == 1),
            "two candidates: the fast one"
        );
        for _ in 0..20 {
            c[1].1.started();
        }
        assert_eq!(choose(&c, Balancer::P2c, now, &mut rng), Some(0));
        for _ in 0..25 {
            c[1].1.finished();
        }
        assert_eq!(c[1].1.in_flight(), 0);
    }

    #[test]
    fn an_unused_average_decays_so_a_slow_deployment_is_tried_again() {
        let load = Load::default();
        let t = Instant::now();
        load.observe(Duration::from_millis(100), t);
        let fresh = load.latency_us(t);
        assert!((fresh - 100_000.0).abs() < 1.0);
        let later = load.latency_us(t + DECAY * 3);
        assert!(later < fresh * 0.06, "{later}");
        load.observe(Duration::from_millis(10), t);
        assert!(load.latency_us(t) < fresh);
    }
}
