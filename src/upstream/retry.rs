//! Retry policy: which outcomes are retried, exponential backoff with full jitter,
//! and `Retry-After` parsing (delta-seconds or HTTP date, capped).
//!
//! Written here rather than taken from `backon`/`backoff`: those add jitter on top
//! of the step (`[d, 2d]`), while full jitter draws from `[0, d]`, and the wait
//! has to be merged with `Retry-After` and the pool's key cool-downs anyway.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, StatusCode, header};
use rand::Rng;

use crate::config::RetryConfig;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_retry_after: Duration,
    pub deadline: Duration,
    pub attempt_timeout: Duration,
    pub key_quarantine: Duration,
}

impl RetryPolicy {
    pub fn from_config(c: &RetryConfig) -> Self {
        Self {
            max_attempts: c.max_attempts.max(1),
            base_delay: Duration::from_millis(c.base_delay_ms),
            max_delay: Duration::from_millis(c.max_delay_ms),
            max_retry_after: Duration::from_secs(c.max_retry_after_secs),
            deadline: Duration::from_secs(c.deadline_secs),
            attempt_timeout: Duration::from_secs(c.attempt_timeout_secs),
            key_quarantine: Duration::from_secs(c.key_quarantine_secs),
        }
    }

    /// The capped exponential step before retry number `retry` (1-based).
    pub fn step(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(20);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Full jitter: uniform in `[0, step]`.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let step = self.step(retry);
        if step.is_zero() {
            return step;
        }
        Duration::from_nanos(rng.random_range(0..=step.as_nanos() as u64))
    }

    /// The wait before the next attempt: the jittered backoff, but never shorter
    /// than an upstream-wide `Retry-After` (capped by `max_retry_after`).
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let backoff = self.backoff(retry, rng);
        match retry_after {
            Some(ra) => backoff.max(ra.min(self.max_retry_after)),
            None => backoff,
        }
    }
}

/// Upstream statuses worth another attempt.
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` as a duration from `now`: delta-seconds or an HTTP date.
/// Dates in the past mean "now"; garbage means "not given".
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(1e9)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy() -> RetryPolicy {
        RetryPolicy::from_config(&RetryConfig {
            base_delay_ms: 100,
            max_delay_ms: 1_000,
            max_retry_after_secs: 10,
            ..RetryConfig::default()
        })
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, value.parse().unwrap());
        h
    }

    #[test]
    fn steps_double_and_are_capped() {
        let p = policy();
        let steps: Vec<_> = (1..=6).map(|n| p.step(n).as_millis()).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.step(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_step_and_spreads() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        let draws: Vec<_> = (0..500).map(|_| p.backoff(3, &mut rng)).collect();
        assert!(draws.iter().all(|d| *d <= Duration::from_millis(400)));
        assert!(draws.iter().any(|d| *d < Duration::from_millis(100)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(300)));
    }

    #[test]
    fn retry_after_sets_a_floor_that_is_capped() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(1);
        let wait = p.wait(1, Some(Duration::from_secs(3)), &mut rng);
        assert_eq!(wait, Duration::from_secs(3));
        let wait = p.wait(1, Some(Duration::from_secs(3600)), &mut rng);
        assert_eq!(wait, Duration::from_secs(10));
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("0.5"), now),
            Some(Duration::from_millis(500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&later), now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&earlier), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn sleeping_for_the_wait_takes_exactly_the_retry_after() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(3);
        let ra = retry_after(&headers("2"), SystemTime::now());
        let wait = p.wait(1, ra, &mut rng);
        let start = tokio::time::Instant::now();
        tokio::time::sleep(wait).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn only_throttling_and_server_errors_are_retryable() {
        for code in [429, 500, 502, 503, 504] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 413, 422, 501] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }
}
