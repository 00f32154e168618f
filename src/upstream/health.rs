//! Passive health of one deployment: a circuit breaker. Closed, it counts
//! failed attempts (in a row, and as a share of a sliding window); past
//! either bound it opens (the deployment is ejected) for a back-off that
//! doubles per ejection in a row. When the back-off ends it is half-open:
//! one request goes through as the probe, its success closes the breaker,
//! its failure opens it again for longer.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::BreakerConfig;

/// A breaker's state as metrics and logs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Closed,
    Open,
    HalfOpen,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// The `gateway_upstream_health` gauge: 1 healthy, 0.5 probing, 0 ejected.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Closed => 1.0,
            Self::HalfOpen => 0.5,
            Self::Open => 0.0,
        }
    }
}

/// A change of phase caused by an outcome or by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub to: Phase,
    /// For `Open`: how long the deployment stays out.
    pub for_: Duration,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// Open: until when. Half-open: when the probe was let through, if it was.
    at: Option<Instant>,
    consecutive: u32,
    /// Ejections in a row without a closing success.
    ejections: u32,
    window_start: Instant,
    window_ok: u32,
    window_failed: u32,
}

#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    /// A half-open probe not answered after this long is taken as lost.
    probe_timeout: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(config: &BreakerConfig, probe_timeout: Duration) -> Self {
        Self {
            config: config.clone(),
            probe_timeout,
            state: Mutex::new(State {
                phase: Phase::Closed,
                at: None,
                consecutive: 0,
                ejections: 0,
                window_start: Instant::now(),
                window_ok: 0,
                window_failed: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The phase now, after time has moved an open breaker to half-open.
    pub fn phase(&self, now: Instant) -> Phase {
        let mut s = self.lock();
        Self::tick(&mut s, now);
        s.phase
    }

    fn tick(s: &mut State, now: Instant) {
        if s.phase == Phase::Open && s.at.is_some_and(|until| now >= until) {
            s.phase = Phase::HalfOpen;
            s.at = None;
        }
    }

    /// Whether a request may be sent now (without taking the probe slot).
    pub fn available(&self, now: Instant) -> bool {
        let mut s = self.lock();
        Self::tick(&mut s, now);
        match s.phase {
            Phase::Closed => true,
            Phase::Open => false,
            Phase::HalfOpen => self.probe_free(&s, now),
        }
    }

    fn probe_free(&self, s: &State, now: Instant) -> bool {
        s.at.is_none_or(|sent| now.duration_since(sent) >= self.probe_timeout)
    }

    /// Takes the right to send one request: always when closed, once per
    /// half-open period (the probe), never when open.
    pub fn admit(&self, now: Instant) -> bool {
        let mut s = self.lock();
        Self::tick(&mut s, now);
        match s.phase {
            Phase::Closed => true,
            Phase::Open => false,
            Phase::HalfOpen => {
                let free = self.probe_free(&s, now);
                if free {
                    s.at = Some(now);
                }
                free
            }
        }
    }

    /// Records an attempt's outcome; returns the transition it caused.
    pub fn record(&self, ok: bool, now: Instant) -> Option<Transition> {
        let mut s = self.lock();
        Self::tick(&mut s, now);
        let window = Duration::from_secs(self.config.window_secs);
        if now.duration_since(s.window_start) >= window {
            s.window_start = now;
            s.window_ok = 0;
            s.window_failed = 0;
        }
        if ok {
            s.window_ok = s.window_ok.saturating_add(1);
            s.consecutive = 0;
            if s.phase == Phase::Closed {
                return None;
            }
            // A success while half-open (the probe) or open (an active
            // probe, or an attempt sent before the ejection) closes it.
            s.phase = Phase::Closed;
            s.at = None;
            s.ejections = 0;
            s.window_start = now;
            s.window_ok = 0;
            s.window_failed = 0;
            return Some(Transition {
                to: Phase::Closed,
                for_: Duration::ZERO,
            });
        }
        s.window_failed = s.window_failed.saturating_add(1);
        s.consecutive = s.consecutive.saturating_add(1);
        let eject = match s.phase {
            Phase::Open => false,
            Phase::HalfOpen => true,
            Phase::Closed => {
                let total = s.window_ok + s.window_failed;
                s.consecutive >= self.config.consecutive_failures
                    || (total >= self.config.min_requests
                        && f64::from(s.window_failed)
                            >= self.config.failure_ratio * f64::from(total))
            }
        };
        if !eject {
            return None;
        }
        let base = Duration::from_secs(self.config.eject_secs);
        let max = Duration::from_secs(self.config.max_eject_secs);
        let factor = 2u32.saturating_pow(s.ejections.min(16));
        let for_ = base.saturating_mul(factor).min(max);
        s.ejections = s.ejections.saturating_add(1);
        s.phase = Phase::Open;
        s.at = Some(now + for_);
        s.consecutive = 0;
        s.window_start = now;
        s.window_ok = 0;
        s.window_failed = 0;
        Some(Transition {
            to: Phase::Open,
            for_,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        let config = BreakerConfig {
            consecutive_failures: 3,
            failure_ratio: 0.5,
            min_requests: 10,
            window_secs: 10,
            eject_secs: 5,
            max_eject_secs: 12,
        };
        Breaker::new(&config, Duration::from_secs(30))
    }

    #[test]
    fn failures_in_a_row_eject_and_a_half_open_probe_readmits() {
        let b = breaker();
        let t = Instant::now();
        assert_eq!(b.record(false, t), None);
        assert_eq!(b.record(false, t), None);
        let open = b.record(false, t).expect("third failure ejects");
        assert_eq!(open.to, Phase::Open);
        assert_eq!(open.for_, Duration::from_secs(5));
        assert!(!b.available(t + Duration::from_secs(4)));
        let later = t + Duration::from_secs(5);
        assert_eq!(b.phase(later), Phase::HalfOpen);
        assert!(b.admit(later), "the probe goes through");
        assert!(!b.admit(later), "only one probe at a time");
        let closed = b.record(true, later).expect("the probe's success closes");
        assert_eq!(closed.to, Phase::Closed);
        assert!(b.admit(later) && b.admit(later));
    }

    #[test]
    fn a_failed_probe_doubles_the_ejection_up_to_the_cap() {
        let b = breaker();
        let mut t = Instant::now();
        for _ in 0..3 {
            b.record(false, t);
        }
        let mut lengths = Vec::new();
        for _ in 0..3 {
            t += Duration::from_secs(60);
            assert!(b.admit(t));
            lengths.push(b.record(false, t).expect("the failed probe ejects").for_);
        }
        let secs: Vec<u64> = lengths.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [10, 12, 12]);
    }

    #[test]
    fn a_high_failure_ratio_ejects_even_without_a_run_of_failures() {
        let b = breaker();
        let t = Instant::now();
        let mut ejected = None;
        for i in 0..20 {
            if let Some(tr) = b.record(i % 2 == 0, t) {
                ejected = Some((i, tr.to));
                break;
            }
        }
        assert_eq!(ejected, Some((9, Phase::Open)), "5 of 10 failed");
    }

    #[test]
    fn a_lost_probe_frees_the_slot_after_its_timeout() {
        let config = BreakerConfig {
            consecutive_failures: 1,
            ..BreakerConfig::default()
        };
        let b = Breaker::new(&config, Duration::from_secs(2));
        let t = Instant::now();
        b.record(false, t);
        let half = t + Duration::from_secs(config.eject_secs);
        assert!(b.admit(half));
        assert!(!b.available(half + Duration::from_secs(1)));
        assert!(b.available(half + Duration::from_secs(2)));
    }
}
