//! The forwarding loop: lease a key, send, classify, back off, retry — until an
//! answer, the attempt limit, or the deadline. Nothing is retried once a stream
//! has been handed to the client: a 200 stream ends the loop.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use tokio::time::{Instant, sleep, timeout_at};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::budget::RetryBudget;
use super::exchange::{UpstreamBody, UpstreamError, UpstreamRequest, UpstreamResponse};
use super::headers::client_response_headers;
use super::pool::Lease;
use super::retry::{RetryPolicy, is_retryable, retry_after};
use super::route::Upstream;
use crate::config::RetryConfig;
use crate::metrics::Metrics;

/// A failed attempt, kept to decide the wait and the final error.
enum Failure {
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    Timeout,
    Transport(String),
    /// The provider refused the key (401/403); it is quarantined and the
    /// next attempt, at once, uses another.
    KeyRejected(StatusCode),
}

impl Failure {
    /// A `Retry-After` that applies to the whole upstream (a 429's is per key
    /// and already enforced by the key pool).
    fn upstream_wide_retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status {
                status,
                retry_after,
            } if *status != StatusCode::TOO_MANY_REQUESTS => *retry_after,
            _ => None,
        }
    }

    fn into_error(self, upstream: &Upstream, attempts: u32) -> UpstreamError {
        let upstream = upstream.name.clone();
        match self {
            Self::Status {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after,
            } => UpstreamError::RateLimited {
                upstream,
                attempts,
                retry_after,
            },
            Self::Status { status, .. } => UpstreamError::Unavailable {
                upstream,
                attempts,
                last: format!("status {status}"),
            },
            Self::Timeout => UpstreamError::Timeout { upstream, attempts },
            Self::Transport(last) => UpstreamError::Unavailable {
                upstream,
                attempts,
                last,
            },
            Self::KeyRejected(status) => UpstreamError::Unavailable {
                upstream,
                attempts,
                last: format!("status {status}: the provider refused the pool's keys"),
            },
        }
    }
}

/// Sends requests upstream with the retry policy, within the retry budget.
pub struct Forwarder {
    http: reqwest::Client,
    policy: RetryPolicy,
    budget: RetryBudget,
    metrics: Arc<Metrics>,
}

impl Forwarder {
    pub fn new(config: &RetryConfig, metrics: Arc<Metrics>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            policy: RetryPolicy::from_config(config),
            budget: RetryBudget::new(config.budget_ratio, config.budget_min_per_sec),
            metrics,
        })
    }

    /// Forwards `request` to `upstream`, retrying throttling, 5xx, connection
    /// errors and timeouts with backoff, within the total deadline.
    pub async fn send(
        &self,
        upstream: &Upstream,
        request: &UpstreamRequest,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let deadline = Instant::now() + self.policy.deadline;
        let mut attempts = 0;
        let client_retry = request.client_retry();
        self.budget.started(client_retry);
        let max_attempts = if client_retry {
            1
        } else {
            self.policy.max_attempts
        };
        loop {
            let lease = match self.lease(upstream, deadline).await {
                Ok(lease) => lease,
                Err(wait) => {
                    return Err(UpstreamError::RateLimited {
                        upstream: upstream.name.clone(),
                        attempts,
                        retry_after: Some(wait),
                    });
                }
            };
            attempts += 1;
            let span = crate::stage_span!(
                "upstream.attempt",
                otel.kind = "client",
                otel.status_code = Empty,
                gateway.upstream = %upstream.name,
                gateway.retry.attempt = attempts,
                http.response.status_code = Empty,
                gateway.outcome = Empty,
            );
            let attempt = self.attempt(upstream, lease, request, deadline);
            let failure = match attempt.instrument(span).await {
                Ok(mut response) => {
                    response.attempts = attempts;
                    return Ok(response);
                }
                Err(failure) => failure,
            };
            // Moving off a refused key is not a retry of the request: it
            // spends no budget, and a client's retry may do it too.
            let more = match failure {
                Failure::KeyRejected(_) => attempts < self.policy.max_attempts,
                _ if attempts >= max_attempts => false,
                _ => {
                    let granted = self.budget.try_retry();
                    if !granted {
                        self.metrics.upstream_retry_refused(&upstream.name);
                    }
                    granted
                }
            };
            if !more {
                return Err(failure.into_error(upstream, attempts));
            }
            let wait = match failure {
                Failure::KeyRejected(_) => Duration::ZERO,
                _ => self.policy.wait(
                    attempts,
                    failure.upstream_wide_retry_after(),
                    &mut rand::rng(),
                ),
            };
            if Instant::now() + wait >= deadline {
                return Err(failure.into_error(upstream, attempts));
            }
            self.metrics.upstream_retry(&upstream.name);
            sleep(wait).await;
        }
    }

    /// A key to use, waiting for a resting key when all rest — unless that wait
    /// would pass the deadline (then `Err(wait)`).
    async fn lease(
        &self,
        upstream: &Upstream,
        deadline: Instant,
    ) -> Result<Option<usize>, Duration> {
        loop {
            match upstream.pool.lease() {
                Lease::Key(index) => return Ok(Some(index)),
                Lease::Anonymous => return Ok(None),
                Lease::Wait(wait) => {
                    if Instant::now() + wait >= deadline {
                        return Err(wait);
                    }
                    sleep(wait).await;
                }
            }
        }
    }

    /// One attempt, bounded by the attempt timeout and the deadline.
    async fn attempt(
        &self,
        upstream: &Upstream,
        lease: Option<usize>,
        request: &UpstreamRequest,
        deadline: Instant,
    ) -> Result<UpstreamResponse, Failure> {
        let started = Instant::now();
        let limit = deadline.min(started + self.policy.attempt_timeout);
        let result = timeout_at(limit, self.exchange(upstream, lease, request)).await;
        let elapsed = started.elapsed();
        let record = |outcome: &str| {
            let span = Span::current();
            span.record("gateway.outcome", outcome);
            if !matches!(outcome.parse::<u16>(), Ok(status) if status < 400) {
                span.record("otel.status_code", "error");
            }
            self.metrics
                .upstream_attempt(&upstream.name, outcome, elapsed)
        };
        let response = match result {
            Err(_) => {
                record("timeout");
                return Err(Failure::Timeout);
            }
            Ok(Err(e)) if e.is_timeout() => {
                record("timeout");
                return Err(Failure::Timeout);
            }
            Ok(Err(e)) => {
                record("error");
                return Err(Failure::Transport(describe(&e)));
            }
            Ok(Ok(response)) => response,
        };
        record(response.status.as_str());
        Span::current().record("http.response.status_code", response.status.as_u16());
        let refused = matches!(response.status.as_u16(), 401 | 403);
        if let Some(index) = lease.filter(|_| refused)
            && upstream.pool.quarantine(index, self.policy.key_quarantine)
        {
            self.metrics.upstream_key_quarantined(&upstream.name);
            tracing::warn!(
                upstream = %upstream.name,
                key = index,
                status = response.status.as_u16(),
                "the provider refused a pool key: quarantined, retrying with another"
            );
            return Err(Failure::KeyRejected(response.status));
        }
        if is_retryable(response.status) {
            let wait = retry_after(&response.headers, SystemTime::now())
                .map(|d| d.min(self.policy.max_retry_after));
            if let (StatusCode::TOO_MANY_REQUESTS, Some(index)) = (response.status, lease) {
                upstream.pool.cool_down(index, wait);
            }
            return Err(Failure::Status {
                status: response.status,
                retry_after: wait,
            });
        }
        if let Some(index) = lease {
            upstream.pool.succeeded(index);
        }
        Ok(response)
    }

    /// Sends once; reads the whole body unless it is a 200 stream.
    async fn exchange(
        &self,
        upstream: &Upstream,
        lease: Option<usize>,
        request: &UpstreamRequest,
    ) -> Result<UpstreamResponse, reqwest::Error> {
        let mut headers = request.headers.clone();
        // The attempt's own span is the upstream's parent when traces are on;
        // otherwise the client's traceparent passes through unchanged.
        if let Some(parent) = crate::telemetry::traceparent(&Span::current())
            .and_then(|tp| HeaderValue::from_str(&tp).ok())
        {
            headers.insert(HeaderName::from_static("traceparent"), parent);
        }
        let mut builder = self
            .http
            .request(request.method.clone(), upstream.url(&request.path))
            .headers(headers)
            .body(request.body.clone());
        if let Some(key) = lease.and_then(|i| upstream.pool.header(i)) {
            builder = builder.header(header::AUTHORIZATION, key.clone());
        }
        let response = builder.send().await?;
        let status = response.status();
        let headers: HeaderMap = client_response_headers(response.headers());
        let body = if request.stream && status == StatusCode::OK {
            UpstreamBody::Stream(response)
        } else {
            UpstreamBody::Full(response.bytes().await?)
        };
        Ok(UpstreamResponse {
            status,
            headers,
            body,
            attempts: 0,
        })
    }
}

/// A short reason for logs and error bodies; reqwest's messages name no secrets.
fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection failed".into()
    } else if e.is_body() || e.is_decode() {
        "response body was cut".into()
    } else {
        "request failed".into()
    }
}
